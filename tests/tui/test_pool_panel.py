"""A shared insurance pool on screen: the fund/OI panel shows a ratio over part of the pool's open
interest as an upper bound ("≤" and how many members' OI is known), no row for a pool member the
portfolio does not hold, and ``i`` says it in words (with the assets left out of the fund)."""

from __future__ import annotations

from adlwatch.engine.events import InsuranceFund, OpenInterest
from adlwatch.engine.snapshot import ContractRisk
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets.panels import FundsPanel, fund_ratio_text, fund_words
from tests.portfolio_files import parse
from tests.tui.test_app import started
from tests.tui.test_issue15_screen import PORTFOLIO, T_MS, Clock, marks, panel_text

POOL = ["BNBUSDT", "BTCUSDT", "BTCUSDT_250627", "ETHBTC", "ETHUSDT"]


def pool_events(*extra):
    return marks(
        InsuranceFund(venue="binance", symbol="BNBUSDT", ts=T_MS, symbols=POOL, asset="USDT", balance=6_100_000.0),
        InsuranceFund(venue="binance", symbol="BNBUSDT", ts=T_MS, symbols=POOL, asset="BNFCR", balance=1_000.0),
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=T_MS, open_interest=1_000.0, open_interest_usd=61_000_000.0),
        *extra,
    )


def contract(**changes) -> ContractRisk:
    base = dict(venue="binance", symbol="BTCUSDT", mark_price=1.0, open_interest=1.0, open_interest_usd=1.0,
                fund_balance_usd=6.1e6, fund_to_oi=0.1, fund_members=5, fund_members_with_oi=5)
    return ContractRisk(**{**base, **changes})


def test_a_partial_ratio_reads_as_an_upper_bound_with_the_count_known():
    assert fund_ratio_text(contract()) == "10.000%"
    assert fund_ratio_text(contract(fund_members_with_oi=1, fund_to_oi_partial=True)) == "≤10.000% 1/5"
    assert fund_ratio_text(contract(fund_to_oi=None)) == "--"
    words = fund_words(contract(fund_members_with_oi=1, fund_to_oi_partial=True, fund_unvalued_assets=("BNFCR",)))
    assert "at most 10.000%" in words and "only 1 of the 5" in words and "upper bound" in words
    assert "BNFCR" in words
    assert "shared by the 5 contracts of its pool" in fund_words(contract())
    assert "over the open interest of every one of them" in fund_words(contract())


async def test_the_panel_shows_the_upper_bound_and_no_rows_for_members_not_held_and_i_says_why():
    app = AdlwatchApp(parse(PORTFOLIO), pool_events(), clock=Clock(T_MS / 1000))
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        text = panel_text(app, FundsPanel)
        line = next(line for line in text.splitlines() if "BTCUSDT" in line and "_" not in line)
        # 6.1M over BTCUSDT's 61M alone: 10 %, at most (one of the pool's five contracts' OI known).
        assert "≤10.000% 1/5" in line and "6.10M" in line
        for member in ("BNBUSDT", "ETHBTC", "ETHUSDT", "BTCUSDT_250627"):
            assert member not in text
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "AdlScreen"
        words = str(app.screen.query_one("#adl-fund").render())
        assert "at most 10.000%" in words and "only 1 of the 5" in words and "BNFCR" in words


async def test_with_every_members_open_interest_the_panel_shows_the_pools_ratio():
    others = [OpenInterest(venue="binance", symbol=s, ts=T_MS, open_interest=1.0, open_interest_usd=usd)
              for s, usd in (("BNBUSDT", 10e6), ("BTCUSDT_250627", 20e6), ("ETHBTC", 1e6), ("ETHUSDT", 30e6))]
    app = AdlwatchApp(parse(PORTFOLIO), pool_events(*others), clock=Clock(T_MS / 1000))
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        text = panel_text(app, FundsPanel)
        line = next(line for line in text.splitlines() if "BTCUSDT" in line and "_" not in line)
        # 6.1M ÷ (61 + 10 + 20 + 1 + 30 = 122M) = 5 %, the pool's own figure.
        assert "5.000%" in line and "≤" not in line
        assert "ETHUSDT" not in text
