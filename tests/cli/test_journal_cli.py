"""``adlwatch watch --journal`` (and the portfolio file's ``[journal] folder``): the states it watched,
in Parquet files pandas reads."""

from __future__ import annotations

import asyncio
import io
import itertools

import pandas as pd

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.journal import Journal
from adlwatch.tui.watch import Watch
from tests.cli.test_watch_cli import (  # noqa: F401  (emulator: the fixture)
    NEAR,
    TIMEOUT_S,
    ScriptedSource,
    WatchProcess,
    emulator,
    venue_env,
)

T0_S = 1_760_140_800.0  # 2025-10-11 00:00:00 UTC


async def test_watch_writes_its_states_to_the_journal_once_a_second(tmp_path):
    portfolio = Portfolio.from_data(__import__("tomllib").loads(NEAR), default_catalogue())
    ticks = itertools.count()
    clock = lambda: T0_S + 0.4 * next(ticks)  # noqa: E731 - the loop reads it twice a round
    journal = Journal(tmp_path)
    watch = Watch(portfolio, AlertRules(), out=io.StringIO(), err=io.StringIO(), clock=clock, journal=journal)
    marks = [MarkPrice(venue="binance", symbol="BTCUSDT", ts=int(T0_S * 1000), price=63000.0)]
    await asyncio.wait_for(watch.run(ScriptedSource(marks, watch)), TIMEOUT_S)
    journal.close()
    positions = pd.read_parquet(tmp_path / "2025-10-11" / "positions")
    assert list(positions["mark_price"].dropna()) == [63000.0]
    assert positions["time"].is_unique  # one row set a second, however often the loop evaluates
    row = positions.dropna(subset=["mark_price"]).iloc[0]
    assert (row["venue"], row["symbol"], row["side"]) == ("binance", "BTCUSDT", "long")
    assert row["liquidation_price"] == watch.monitor.live().positions[0].liquidation_price


async def test_watch_takes_the_journal_folder_from_the_portfolio_file(tmp_path, emulator):  # noqa: F811
    path = tmp_path / "p.toml"
    path.write_text('[journal]\nfolder = "nights"\n' + NEAR)
    watch = await WatchProcess.start(venue_env(emulator), "--portfolio", str(path), "--json", "--snapshots", "0.2")
    try:
        first = await watch.line_where(lambda doc: doc["type"] == "snapshot" and doc["positions"][0]["mark_price"])
        # a second later on watch's clock: a state with the mark is in the journal (written at the end)
        await watch.line_where(lambda doc: doc["type"] == "snapshot" and doc["ts"] >= first["ts"] + 1000)
        code, err = await watch.interrupt()
    finally:
        if watch.proc.returncode is None:
            watch.proc.kill()
            await watch.proc.wait()
    assert code == 0, err
    (day,) = (tmp_path / "nights").iterdir()
    positions = pd.read_parquet(day / "positions")
    assert (positions["mark_price"].dropna() == 65000.0).all() and positions["mark_price"].notna().any()
    assert set(positions["symbol"]) == {"BTCUSDT"}
