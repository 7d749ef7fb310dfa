"""``adlwatch replay FILE``: each of the three formats opens the monitor on its events; anything else is
one line on stderr and exit 2 (the screen itself is tested in tests/tui)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adlwatch.engine.events import MONITOR_SKIPS
from adlwatch.feeds.replay import load_replay
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.cli import main

FIXTURES = Path(__file__).parents[1] / "feeds" / "fixtures"


@pytest.fixture
def opened(monkeypatch, tmp_path):
    """The app ``adlwatch replay`` would run, captured instead of run (no portfolio file)."""
    from adlwatch.feeds import portfolio_store

    monkeypatch.setattr(portfolio_store, "default_path", lambda: tmp_path / "portfolio.toml")
    apps: list[AdlwatchApp] = []
    monkeypatch.setattr(AdlwatchApp, "run", lambda self, *a, **k: apps.append(self))
    return apps


@pytest.mark.parametrize(("name", "kind"), [
    ("raw_recording.jsonl", "raw"),
    ("tardis_derivative_ticker.csv", "tardis"),
    ("BTCUSDT-1m-2025-10-10.csv", "binance_klines"),
    ("BTCUSDT-1m-2021-03-01.csv", "binance_klines"),  # an older file without the header row
])
def test_each_format_opens_the_monitor_on_its_events(opened, name, kind):
    path = FIXTURES / name
    assert main(["replay", str(path), "--speed", "10"]) == 0
    [app] = opened
    source = app.source
    assert (source.data.format, source.speed, source.playing) == (kind, 10.0, False)
    # The monitor's events: the file's, less the kinds it never reads.
    assert source.data.events == load_replay(path, skip=MONITOR_SKIPS).events and source.data.events
    assert not any(e.kind in MONITOR_SKIPS for e in source.data.events)
    assert "no portfolio" in app.note


def test_any_other_file_is_one_line_naming_it_and_exit_2(opened, tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Tardis" in err
    assert opened == []
