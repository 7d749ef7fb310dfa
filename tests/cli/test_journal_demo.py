"""Issue 15's acceptance for the journal: a demo run's journal reads back with pandas into the figures
the screen showed (the states the app pushed down to its widgets)."""

from __future__ import annotations

import asyncio
import math

import pandas as pd

from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds import portfolio_store
from adlwatch.feeds.journal import Journal
from adlwatch.feeds.replay import ReplaySource
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.cli import DEMO_START_MS, demo_path
from adlwatch.tui.demo import DEMO_NOTE, load_demo

RUN_MS = 60_000  # a minute of the demo's clock


class Shown(Journal):
    """The journal, keeping each state that became a row set (what the screen showed then)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.states = []
        self._second = None

    def record(self, state, now_s) -> None:
        if state.now_ms // 1000 != self._second:
            self._second = state.now_ms // 1000
            self.states.append(state)
        super().record(state, now_s)


def _same(read, shown) -> bool:
    if shown is None or (isinstance(shown, float) and math.isnan(shown)):
        return pd.isna(read)
    return read == shown


async def test_the_journal_of_a_demo_minute_reads_back_into_the_figures_the_screen_showed(tmp_path):
    portfolio = portfolio_store.load(demo_path("demo_portfolio.toml"), default_catalogue())
    source = ReplaySource(load_demo(), speed=10.0, playing=False)  # 10x: a refresh (10 Hz) a demo second
    journal = Shown(tmp_path)
    app = AdlwatchApp(portfolio, source, note=DEMO_NOTE, start_ms=DEMO_START_MS, journal=journal)
    async with app.run_test(size=(160, 50)) as pilot:

        async def a_minute_played() -> None:
            while source.position_ms < DEMO_START_MS + RUN_MS:
                await pilot.pause(0.05)

        await asyncio.wait_for(a_minute_played(), 60)
    journal.close()
    states = [s for s in journal.states if s.now_ms >= DEMO_START_MS]
    assert len(states) >= 20
    positions = pd.concat([pd.read_parquet(day / "positions") for day in sorted(tmp_path.iterdir())])
    contracts = pd.concat([pd.read_parquet(day / "contracts") for day in sorted(tmp_path.iterdir())])
    checked = 0
    for state in states:
        at = pd.Timestamp(int(state.now_ms), unit="ms", tz="UTC")  # whole ms: a replay position may not be
        rows = positions[positions.time == at].to_dict("records")
        assert len(rows) == len(state.live.positions)
        for row, p in zip(rows, state.live.positions, strict=True):
            assert (row["venue"], row["symbol"], row["side"]) == (p.venue, p.symbol, str(p.side))
            for column in ("mark_price", "liquidation_price", "distance_pct", "distance_price", "adl_quantile",
                           "roe_pct", "closed"):
                assert _same(row[column], getattr(p, column)), (column, row[column], getattr(p, column))
            checked += 1
        rows = contracts[contracts.time == at].to_dict("records")
        by_key = {(r["venue"], r["symbol"]): r for r in rows}
        for c in state.live.contracts:
            row = by_key[(c.venue, c.symbol)]
            for column in ("mark_price", "fund_balance_usd", "open_interest", "fund_to_oi"):
                assert _same(row[column], getattr(c, column)), column
    assert checked >= 20 * 4
    assert positions["mark_price"].notna().any() and contracts["fund_to_oi"].notna().any()
