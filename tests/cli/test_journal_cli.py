"""``adlwatch watch --journal`` (and the portfolio file's ``[journal] folder``): the states it watched,
in Parquet files pandas reads."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess

import pandas as pd
import pytest

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.journal import Journal
from adlwatch.tui.cli import build_parser
from adlwatch.tui.watch import Watch
from tests.cli.test_check_cli import ADLWATCH
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


def test_saving_the_portfolio_keeps_its_journal_folder_and_comment(tmp_path):
    from adlwatch.engine.portfolio import with_wallet
    from adlwatch.feeds import portfolio_store

    path = tmp_path / "p.toml"
    text = ('# my book\n[journal]\nfolder = "~/adlwatch-journal"  # last night, every night\n\n'
            '[[account]]\nvenue = "binance"\nwallet_balance = 100.0\n')
    path.write_text(text)
    portfolio = portfolio_store.load(path, default_catalogue())
    assert portfolio.journal == "~/adlwatch-journal"
    portfolio_store.save(with_wallet(portfolio, 0, 250.0), path)
    assert path.read_text() == text.replace("100.0", "250.0")
    fresh = tmp_path / "fresh.toml"
    portfolio_store.save(portfolio, fresh)  # a new file, written whole
    assert portfolio_store.load(fresh, default_catalogue()).journal == "~/adlwatch-journal"


@pytest.mark.parametrize(("table", "expected"), [
    ('[journal]\nfolder = 3\n', "journal.folder = 3: must be a folder name (a non-empty string)"),
    ('[journal]\nfolder = ""\n', "journal.folder = '': must be a folder name (a non-empty string)"),
    ('[journal]\nfoldr = "x"\n', "journal.foldr = 'x': unknown key; allowed: folder"),
    ('journal = "x"\n', "journal = 'x': must be a table"),
])
def test_a_bad_journal_key_names_the_file_line_field_and_value(tmp_path, table, expected):
    from adlwatch.engine.errors import InputError
    from adlwatch.feeds import portfolio_store

    path = tmp_path / "p.toml"
    path.write_text(table)
    with pytest.raises(InputError) as error:
        portfolio_store.load(path, default_catalogue())
    assert str(error.value).startswith(str(path)) and str(error.value).endswith(expected)


def test_journal_is_taken_by_the_monitor_commands():
    parser = build_parser()
    assert parser.parse_args(["--journal", "j"]).journal == "j"
    assert parser.parse_args(["demo", "--journal", "j"]).journal == "j"
    assert parser.parse_args(["--journal", "j", "replay", "f.jsonl"]).journal == "j"
    assert parser.parse_args(["watch", "--journal", "j"]).journal == "j"
    assert parser.parse_args(["demo"]).journal is None


def test_a_journal_folder_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = subprocess.run([ADLWATCH, "demo", "--check", "--journal", str(a_file)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"adlwatch: --journal = '{a_file}': is a file, not a folder for the journal\n"
    assert result.stdout == ""
