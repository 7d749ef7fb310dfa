"""The portfolio store with the bundled tables, for tests.

The product always names the catalogue a portfolio is read against (``portfolio_files.load(path,
catalogue)``: the user's refreshed tables travel with the portfolio, and nothing falls back to the
bundled ones by itself). Most tests mean the bundled tables: these say so once.
"""

from __future__ import annotations

import os

from adlwatch.engine.instruments import Catalogue, default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds import portfolio_store


def parse(text: str, filename: str = "<portfolio>", catalogue: Catalogue | None = None) -> Portfolio:
    return portfolio_store.parse(text, filename, catalogue if catalogue is not None else default_catalogue())


def load(path: str | os.PathLike, catalogue: Catalogue | None = None) -> Portfolio:
    return portfolio_store.load(path, catalogue if catalogue is not None else default_catalogue())


# The Binance cross account most tests start from (a BTCUSDT long), and the isolated ETHUSDT short
# several add to it: each test's portfolio text is built from these, then its own accounts.
BINANCE_BTC_LONG = """\
[[account]]
venue = "binance"
wallet_balance = 10000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.5
entry_price = 60000.0
leverage = 10
margin_mode = "cross"
"""
ETH_ISOLATED_SHORT = """\

[[account.position]]
symbol = "ETHUSDT"
side = "short"
size = 4.0
entry_price = 3000.0
leverage = 5
margin_mode = "isolated"
isolated_margin = 2500.0
"""
