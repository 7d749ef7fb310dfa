"""fakex's engine rules (``adlwatch.engine.venues.register`` takes this module): a plain linear venue,
maintenance margin at the mark without a fee, ADL by the BitMEX ranking at the mark."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from adlwatch.engine.adl import AdlInputs, bitmex_ranking, bitmex_ranking_vector
from adlwatch.engine.margin import MarginRules

RULES = MarginRules(venue="fakex", mm_basis="mark", fee="none")
TITLE = "FakeX"
DISPLAY_CODE = "FKX"
SETTLE_DEFAULT = "USDT"
FOLLOW_BY = "key_name"
ADL_FORMULA = "fakex_pnl_x_leverage"
ADL_PRICE = "mark price"
ADL_PRICE_STAND_IN = "mark"

# Its instrument table, in the bundled tables' shape (engine/data/instruments/<venue>.toml).
INSTRUMENTS = """
[venue]
name = "fakex"
taker_fee = 0.0

[[instrument]]
symbol = "BTC-FX"
kind = "linear"
base = "BTC"
quote = "USDT"
settle = "USDT"
contract_size = 1.0
tick_size = 0.1
tier_basis = "notional"
source = "test"
as_of = "2026-01-01"
verified = true

[[instrument.tier]]
floor = 0.0
cap = 1000000000.0
mmr = 0.01
max_leverage = 50.0
"""


def adl_price(mark: float, previous_mark: float, liquidated_bankruptcy: Callable[[], float | None]) -> float:
    return mark


def adl_score(x: AdlInputs) -> float:
    return bitmex_ranking(x)


def adl_scores(x: AdlInputs) -> np.ndarray:
    return bitmex_ranking_vector(x)
