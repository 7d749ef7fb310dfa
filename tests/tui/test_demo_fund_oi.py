"""Issue 15 item 5: the demo carries BTCUSDT's insurance fund and open interest (modelled between the
night's documented figures), so the monitor shows the fund, the open interest, their ratio and its
history, at the times PROVENANCE.md and the README name."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import InsuranceFund, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.population import PopulationParams
from adlwatch.feeds import demo_build
from adlwatch.feeds.replay import ReplaySource
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.binance.market import ADAPTER, INSURANCE_PATH, OPEN_INTEREST_PATH
from adlwatch.tui.cli import demo_path
from adlwatch.tui.demo import DEMO_NOTE, MODELLED_FUND_OI, MODELLED_TAG, load_demo
from tests import portfolio_files

PROVENANCE = Path(demo_path("PROVENANCE.md"))
BTCUSDT = ("binance", "BTCUSDT")


def utc_ms(text: str) -> int:
    """``HH:MM`` or ``HH:MM:SS`` on 10 Oct 2025 (UTC); a ``:SS`` time means its last millisecond,
    the moment a 1-minute mark kline closes (``demo --check``'s moments)."""
    parts = [int(p) for p in text.split(":")]
    at = dt.datetime(2025, 10, 10, parts[0], parts[1], parts[2] if len(parts) > 2 else 0, tzinfo=dt.UTC)
    return int(at.timestamp() * 1000) + (999 if len(parts) > 2 else 0)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def replay(demo, times_ms: list[int]):
    """The monitor the screen draws, its state at each time (in order)."""
    monitor = Monitor(portfolio_files.load(demo_path("demo_portfolio.toml")), replay=True)
    source = ReplaySource(demo, playing=False)
    states = []
    for t in times_ms:
        monitor.apply_many(source.take_until(t))
        states.append(monitor.state(t / 1000))
    return states


def contract(state, key=BTCUSDT):
    return next(c for c in state.live.contracts if (c.venue, c.symbol) == key)


def provenance_rows() -> list[list[str]]:
    """The rows of PROVENANCE.md's table of what the monitor shows (time, mark, fund, OI, ratio)."""
    text = PROVENANCE.read_text(encoding="utf-8")
    table = text.split("What the monitor shows")[1].split("\n\n")[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return [r for r in rows if re.match(r"\d\d:\d\d", r[0])]


def test_the_monitor_shows_the_figures_provenance_names_at_its_times(demo):
    rows = provenance_rows()
    assert len(rows) >= 4
    states = replay(demo, [utc_ms(r[0].split()[0]) for r in rows])
    for row, state in zip(rows, states, strict=True):
        c = contract(state)
        when, mark, fund, oi, ratio = row
        assert f"{c.mark_price:,.2f}".rstrip("0").rstrip(".") == mark.rstrip("0").rstrip("."), when
        assert f"${c.fund_balance_usd / 1e9:.3f}B" == fund, when
        assert oi == f"{c.open_interest:,.3f} BTC = ${c.open_interest_usd / 1e9:.2f}B", when
        assert f"{c.fund_to_oi * 100:.3f} %" == ratio, when
        # The ratio is the fund over the open interest valued at BTCUSDT's mark.
        assert c.fund_to_oi == pytest.approx(c.fund_balance_usd / (c.open_interest * c.mark_price), rel=1e-12)


def test_the_path_starts_and_ends_at_the_documented_figures(demo):
    first_mark = utc_ms("20:30:59")  # the first BTC mark: the figures' start is valued there
    start, end = replay(demo, [first_mark, demo_build.FIGURES_END_MS])
    assert contract(start).fund_balance_usd == demo_build.FUND_START_USD == 1.23e9
    assert contract(start).open_interest_usd == pytest.approx(demo_build.OPEN_INTEREST_START_USD, rel=1e-8)
    assert demo_build.OPEN_INTEREST_START_USD == 16e9
    assert contract(end).fund_balance_usd == demo_build.FUND_END_USD == 1.04e9
    assert contract(end).open_interest_usd == pytest.approx(demo_build.OPEN_INTEREST_END_USD, rel=1e-8)
    assert demo_build.OPEN_INTEREST_END_USD == 12e9
    assert contract(start).fund_to_oi == pytest.approx(1.23 / 16, rel=1e-8)
    assert contract(end).fund_to_oi == pytest.approx(1.04 / 12, rel=1e-8)


def test_the_fund_and_open_interest_fall_during_the_crash_not_before(demo):
    before, during, after = replay(demo, [utc_ms("21:10"), utc_ms("21:15"), utc_ms("21:25")])
    assert contract(before).fund_balance_usd > 1.229e9 and contract(before).open_interest > 135_000
    assert contract(before).fund_balance_usd <= 1.23e9  # drawn only, never topped up
    assert contract(during).fund_balance_usd < contract(before).fund_balance_usd
    assert contract(during).open_interest < contract(before).open_interest
    assert contract(after).fund_balance_usd == pytest.approx(1.04e9)
    assert contract(after).open_interest < contract(during).open_interest


def test_the_fund_ratio_history_grows_while_the_demo_plays(demo):
    minutes = [utc_ms("20:40") + 60_000 * k for k in range(51)]  # 20:40 to 21:30, as the screen ticks
    states = replay(demo, minutes)
    lengths = [len(s.fund_history.get(BTCUSDT, ())) for s in states]
    assert lengths[0] >= 1
    assert all(b >= a for a, b in zip(lengths, lengths[1:], strict=False))
    assert lengths[-1] >= lengths[0] + 45  # a new ratio with (nearly) every minute's mark
    history = states[-1].fund_history[BTCUSDT]
    assert max(history) == pytest.approx(max(contract(s).fund_to_oi for s in states))
    assert max(history) > 0.09 > 0.077 > min(history)


def test_only_the_modelled_contracts_carry_fund_and_open_interest_and_the_note_says_so(demo):
    figures = [e for e in demo.events if isinstance(e, (OpenInterest, InsuranceFund))]
    assert {(e.venue, e.symbol) for e in figures} == set(MODELLED_FUND_OI) == {BTCUSDT}
    assert len([e for e in figures if isinstance(e, OpenInterest)]) == len(demo_build.figure_times()) == 24
    assert MODELLED_TAG in DEMO_NOTE and "BTCUSDT" in DEMO_NOTE
    (state,) = replay(demo, [utc_ms("21:15")])
    shown = {(c.venue, c.symbol) for c in state.live.contracts
             if c.fund_balance_usd is not None or c.open_interest_usd is not None}
    assert shown == set(MODELLED_FUND_OI)


def test_provenance_names_every_source_and_says_what_is_modelled():
    text = PROVENANCE.read_text(encoding="utf-8")
    for source in (
        "https://www.binance.bh/en/square/post/30856400292745",  # the fund, $1.23B -> $1.04B
        "https://firememecoins.com/?p=29894",  # the second report of the fund
        "https://www.brief.news/bitcoin-maxi/2025/10/15/bitcoin-futures-crash",  # BTC futures OI $16B -> $12B
        "https://backend.decentralised.news/?p=36283",  # Binance keeps no fund history
        "market-data/rest-api/Open-Interest", "Insurance-Fund-Balance",  # the bodies' formats
        "adl_literature.md", "data_sources.md", "exchanges.md",
        "aaronwu2017/TheGlory", "929fd9c3", "bookDepth",  # the marks and the depth the model uses
        "engine/population.py", "engine/cascade.py", "feeds/demo_build.py",
    ):
        assert source in text, source
    for figure in ("$1.23B", "$1.04B", "$16B", "$12B"):
        assert figure in text, figure
    assert "MODELLED" in text and "UNCONFIRMED" in text


def test_the_builder_bodies_parse_back_through_the_live_binance_parser():
    oi = ADAPTER.parse_rest(RestPoll(path=OPEN_INTEREST_PATH),
                            demo_build.open_interest_body("BTCUSDT", 1760130900000, 131483.94712))
    assert oi == [OpenInterest(venue="binance", symbol="BTCUSDT", ts=1760130900000, open_interest=131483.947)]
    fund = ADAPTER.parse_rest(RestPoll(path=INSURANCE_PATH),
                              demo_build.insurance_body(["BTCUSDT"], "USDT", 1760130900000, 1224058474.4149))
    assert fund == [InsuranceFund(venue="binance", symbol="BTCUSDT", ts=1760130900000, symbols=["BTCUSDT"],
                                  asset="USDT", balance=1224058474.41)]


@settings(max_examples=40, deadline=None)
@given(
    start=st.floats(100.0, 200_000.0),
    drop=st.floats(0.2, 0.35),
    steps=st.integers(1, 3),
    end=st.floats(0.8, 1.05),  # above 0.75 of the start: $16B -> $12B is fewer coins
    seed=st.integers(0, 2**31),
)
def test_the_modelled_path_is_scaled_to_the_documented_ends_for_any_crash(start, drop, steps, end, seed):
    prices = [start] + [start * (1 - drop * (k + 1) / steps) for k in range(steps)] + [start * end]
    marks = [(60_000 * (i + 1), p) for i, p in enumerate(prices)]
    times = [0] + [t for t, _ in marks]  # one before the first mark: the start figures
    instrument = default_catalogue().get("binance", "BTCUSDT")
    try:
        points = demo_build.modelled_fund_oi(marks, times, instrument,
                                             population=PopulationParams(positions_per_side=300, seed=seed))
    except ValueError:
        assume(False)  # the model liquidated nobody past bankruptcy: no drawdown to scale (rare)
    assert [p.ts_ms for p in points] == times
    assert points[0].fund_usd == pytest.approx(1.23e9, rel=1e-12)
    assert points[0].open_interest * start == pytest.approx(16e9, rel=1e-12)
    assert points[-1].fund_usd == pytest.approx(1.04e9, rel=1e-12)
    assert points[-1].open_interest * prices[-1] == pytest.approx(12e9, rel=1e-12)
    units = [p.open_interest for p in points]
    assert all(b <= a + 1e-9 * a for a, b in zip(units, units[1:], strict=False))  # positions only close
    funds = [p.fund_usd for p in points]
    assert all(b <= a for a, b in zip(funds, funds[1:], strict=False))  # the fund is only drawn
    assert all(math.isfinite(f) and 1.04e9 * (1 - 1e-12) <= f <= 1.23e9 for f in funds)


def test_a_path_that_liquidates_nobody_is_refused():
    instrument = default_catalogue().get("binance", "BTCUSDT")
    flat = [(60_000 * i, 100_000.0) for i in range(1, 6)]
    with pytest.raises(ValueError, match="no path to scale"):
        demo_build.modelled_fund_oi(flat, [0, 300_000], instrument,
                                    population=PopulationParams(positions_per_side=300))
