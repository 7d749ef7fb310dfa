"""Issue 16, the command line: what tail, watch and simulate say when there is nothing, or too
little, to work with (exit codes and the words)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess

import pytest

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.events import FeedStatus
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.recorder import Recorder
from adlwatch.tui.watch import Watch
from tests.cli.test_check_cli import ADLWATCH
from tests.cli.test_watch_cli import CLOSED, FAR, ScriptedSource

MARK_FRAME = ('{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1700000000000,"s":"BTCUSDT",'
              '"p":"60000.5","i":"60000.1","P":"60000.5","r":"0.0001","T":1700003600000}}')


def adlwatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ADLWATCH, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


# -- tail --from a recording without the venue's frames ----------------------------------------------


def test_tail_of_a_venue_the_recording_does_not_hold_says_which_venues_it_holds_and_exits_2(tmp_path):
    path = tmp_path / "binance.jsonl"
    with Recorder(path) as recorder:
        recorder.write("binance", MARK_FRAME, 1)
        recorder.write("bybit", '{"op":"pong"}', 2)
    result = adlwatch("tail", "okx", "--from", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"adlwatch: {path}: no okx frames in this recording: it holds frames of binance, bybit\n"
    # the venue it holds prints its events as before
    result = adlwatch("tail", "binance", "--from", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == ["mark_price", "index_price",
                                                                                 "funding_rate"]


def test_tail_of_symbols_the_recording_does_not_hold_names_those_it_holds(tmp_path):
    path = tmp_path / "binance.jsonl"
    with Recorder(path) as recorder:
        recorder.write("binance", MARK_FRAME, 1)
    result = adlwatch("tail", "binance", "ETHUSDT", "SOLUSDT", "--from", str(path))
    assert result.returncode == 2
    assert result.stderr == (f"adlwatch: {path}: no binance events of ETHUSDT, SOLUSDT in this recording: "
                             "it holds binance events of BTCUSDT\n")
    assert adlwatch("tail", "binance", "btcusdt", "--from", str(path)).returncode == 0


def test_tail_of_a_venue_whose_frames_hold_no_event_is_quiet_and_exits_0(tmp_path):
    path = tmp_path / "pongs.jsonl"
    with Recorder(path) as recorder:
        recorder.write("okx", "pong", 1)
    result = adlwatch("tail", "okx", "--from", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = adlwatch("tail", "okx", "BTC-USDT-SWAP", "--from", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_tail_of_an_empty_recording_says_it_holds_no_frames(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = adlwatch("tail", "okx", "--from", str(path))
    assert result.returncode == 2
    assert result.stderr == f"adlwatch: {path}: no okx frames in this recording: it holds no frames\n"


# -- watch with every venue down -----------------------------------------------------------------------


def _down(venue: str) -> FeedStatus:
    return FeedStatus(venue=venue, symbol="", ts=None, state="error", detail=f"connect failed: {CLOSED} refused")


async def test_watch_names_the_rest_while_a_venue_remains_and_says_when_none_does():
    portfolio = Portfolio.from_data(__import__("tomllib").loads(FAR), default_catalogue())
    err = io.StringIO()
    watch = Watch(portfolio, AlertRules(), out=io.StringIO(), err=err, clock=lambda: 1000.0)
    code = await asyncio.wait_for(watch.run(ScriptedSource([_down("binance"), _down("hyperliquid")], watch)), 30)
    assert err.getvalue().splitlines() == [
        f"adlwatch watch: binance: cannot reach the venue (connect failed: {CLOSED} refused); "
        "watching the rest (hyperliquid)",
        f"adlwatch watch: hyperliquid: cannot reach the venue (connect failed: {CLOSED} refused); "
        "nothing left to watch: retrying until a venue answers (Ctrl-C stops)",
    ]
    assert code == 1


async def test_watch_of_one_venue_that_is_down_never_says_watching_the_rest(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(FAR.split("[[account]]\nvenue = \"hyperliquid\"")[0])
    env = {f"ADLWATCH_{v.upper()}_{kind}_URL": f"{scheme}://{CLOSED}" for v in ("binance", "hyperliquid")
           for kind, scheme in (("WS", "ws"), ("REST", "http"))}
    result = await asyncio.to_thread(adlwatch, "watch", "--portfolio", str(path), "--duration", "0.5", env=env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("adlwatch watch: binance: cannot reach the venue (")
    assert line.endswith("nothing left to watch: retrying until a venue answers (Ctrl-C stops)")
    assert "watching the rest" not in line


# -- simulate's words ----------------------------------------------------------------------------------

FLAGS = ["--venue", "binance", "--symbol", "BTCUSDT", "--mark", "110000", "--open-interest", "90000",
         "--positions", "3000", "--offline"]


def test_simulate_says_open_interest_with_its_unit_and_dollars_and_no_scientific_notation():
    result = adlwatch("simulate", *FLAGS, "--shock", "-25", "--fund", "1e4")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "open interest 90.00k BTC (9.90B USD) a side" in first
    assert not re.search(r"\de[+-]\d", result.stdout)


def test_simulate_says_when_the_first_adl_came_in_the_rounds_tables_numbers():
    result = adlwatch("simulate", *FLAGS, "--shock", "-25", "--fund", "1e4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["step", "rnd"])
    rounds = []  # (step, round, liquidated, ADL USD) as the table shows them
    for line in lines[header + 1:]:
        cells = line.split()
        if not cells:
            break
        rounds.append((int(cells[0]), int(cells[1]), int(cells[3].replace(",", "")), cells[7]))
    first_adl = next(i for i, r in enumerate(rounds) if r[3] != "0")
    step, rnd, in_round, _ = rounds[first_adl]
    through = sum(r[2] for r in rounds[:first_adl + 1])
    assert in_round > 0
    summary = next(line for line in lines if line.startswith("first liquidations"))
    assert summary.endswith(f"first ADL at step {step} round {rnd}, after {through:,} liquidations "
                            f"({in_round:,} in that round)")
    assert "0 liquidations" not in result.stdout
    data = json.loads(adlwatch("simulate", *FLAGS, "--shock", "-25", "--fund", "1e4", "--json").stdout)
    assert data["liquidations_through_first_adl"] == through


def test_simulate_offline_names_each_missing_input_and_its_flag():
    result = adlwatch("simulate", "--venue", "binance", "--symbol", "BTCUSDT", "--shock", "-15", "--offline",
                      "--mark", "110000")
    assert result.returncode == 2
    assert result.stderr == ("adlwatch: simulate: --offline: nothing is fetched: give the open interest "
                             "(--open-interest BTC) and the insurance fund (--fund USD)\n")


@pytest.mark.parametrize(("given", "named"), [
    ([], "the mark (--mark PRICE), the open interest (--open-interest BTC) and the insurance fund (--fund USD)"),
    (["--fund", "1e9"], "the mark (--mark PRICE) and the open interest (--open-interest BTC)"),
])
def test_simulate_without_network_names_each_input_it_could_not_fetch_and_its_flag(given, named):
    env = {"ADLWATCH_BINANCE_REST_URL": f"http://{CLOSED}"}
    result = adlwatch("simulate", "--venue", "binance", "--symbol", "BTCUSDT", "--shock", "-15", *given, env=env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("adlwatch: simulate: could not fetch them (binance: cannot reach ")
    assert line.endswith(f"): give {named}")
    assert "Traceback" not in result.stderr
