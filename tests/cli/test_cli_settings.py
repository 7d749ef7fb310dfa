"""The command line honours its own settings (issue 14 item 16): the global ``--portfolio`` for every
command, a new ``--portfolio`` file offered the first-run choice, ``ADLWATCH_<VENUE>_WS_URL`` /
``_REST_URL`` in ``tail`` and ``record``, status lines on stderr and throttled, and the emulator's
port in use as one line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adlwatch.engine.events import FeedStatus
from adlwatch.feeds import portfolio_store
from adlwatch.feeds.emulator import Emulator
from adlwatch.feeds.recorder import read_recording
from adlwatch.feeds.tail import StatusLines, run_record, run_tail
from adlwatch.tui import cli
from tests import portfolio_files
from tests.portfolio_files import BINANCE_BTC_LONG

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = BINANCE_BTC_LONG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_default_portfolio(monkeypatch, tmp_path):
    missing = tmp_path / "config" / "portfolio.toml"
    monkeypatch.setattr(portfolio_store, "default_path", lambda: missing)
    return missing


# --- the global --portfolio ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["check"], ["watch"], ["replay", "x.jsonl"],
                                     ["simulate", "--venue", "binance", "--symbol", "BTCUSDT"]])
def test_the_global_portfolio_reaches_every_command_and_the_commands_own_wins(command):
    parser = cli.build_parser()
    assert parser.parse_args(["--portfolio", "global.toml", *command]).portfolio == Path("global.toml")
    assert parser.parse_args([*command, "--portfolio", "own.toml"]).portfolio == Path("own.toml")
    assert parser.parse_args(["--portfolio", "global.toml", *command, "--portfolio", "own.toml"]).portfolio \
        == Path("own.toml")
    assert parser.parse_args(command).portfolio is None


def test_check_reads_the_file_given_before_the_command(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(PORTFOLIO)
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"))  # no default file
    done = subprocess.run([sys.executable, "-m", "adlwatch.tui.cli", "--portfolio", str(path), "check", "--offline",
                           "--json", "--mark", "BTCUSDT=60000"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert (row["symbol"], row["size"], row["mark_price"]) == ("BTCUSDT", 0.5, 60000.0)


# --- a new --portfolio file: the first-run choice ------------------------------------------------------

def test_a_missing_portfolio_named_on_the_command_line_gets_the_first_run_choice(tmp_path, monkeypatch):
    from adlwatch.tui.screens import welcome

    asked: list[str] = []

    def ask(path: str) -> str:
        asked.append(path)
        return "quit"

    monkeypatch.setattr(welcome.WelcomeApp, "ask", staticmethod(ask))
    new = tmp_path / "new" / "NEW.toml"
    assert cli.main(["--portfolio", str(new)]) == 0
    assert asked == [str(new)] and not new.exists()


def test_creating_the_example_at_the_named_path_writes_there_and_opens_the_monitor(tmp_path, monkeypatch):
    from adlwatch.feeds import live
    from adlwatch.tui import app, catalogue
    from adlwatch.tui.screens import welcome

    monkeypatch.setattr(welcome.WelcomeApp, "ask", staticmethod(lambda path: "create"))
    opened: list[Path] = []

    class Monitor:  # the screen itself is the TUI tests' business
        def __init__(self, portfolio, source, *, portfolio_path=None, **kwargs):
            opened.append(portfolio_path)

        def run(self) -> None:
            pass

    monkeypatch.setattr(app, "AdlwatchApp", Monitor)
    monkeypatch.setattr(catalogue, "startup_catalogue", lambda path, **kw: catalogue.user_catalogue())
    monkeypatch.setattr(live.LiveSource, "for_portfolio", classmethod(lambda cls, portfolio: None))
    new = tmp_path / "NEW.toml"
    assert cli.main(["--portfolio", str(new)]) == 0
    assert new.exists() and portfolio_files.load(new).accounts
    assert opened == [new]


def test_a_folder_named_as_the_portfolio_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["--portfolio", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- ADLWATCH_<VENUE>_WS_URL / _REST_URL in tail and record ---------------------------------------------

async def test_tail_and_record_follow_the_environments_urls(tmp_path, monkeypatch):
    emu = Emulator(seed=3, interval_s=0.05)
    await emu.start()
    try:
        monkeypatch.setenv("ADLWATCH_OKX_WS_URL", emu.ws_url("okx"))
        monkeypatch.setenv("ADLWATCH_OKX_REST_URL", emu.rest_url("okx"))
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.wait_for(run_tail("okx", ["BTC-USDT-SWAP"], as_json=True, out=out, status_out=err,
                                               max_events=3), 20.0)
        assert code == 0
        assert all(json.loads(line)["type"] != "status" for line in out.getvalue().splitlines())
        assert emu.of("okx")  # the emulator served it

        path = tmp_path / "raw.jsonl"
        await run_record("okx", ["BTC-USDT-SWAP"], out_path=str(path), duration_s=1.0, status_out=io.StringIO())
        frames = [frame for _, venue, frame, rest in read_recording(path) if venue == "okx" and rest is None]
        assert any('"mark-price"' in frame for frame in frames)
    finally:
        await emu.stop()


# --- status lines: their own stream, throttled --------------------------------------------------------

def _status(state: str, symbol: str = "BTCUSDT", venue: str = "binance") -> FeedStatus:
    return FeedStatus(venue=venue, symbol=symbol, ts=None, recv_ns=1, state=state, detail="x")


def test_status_lines_print_each_change_and_a_repeated_state_at_most_once_a_second():
    now = [0.0]
    err = io.StringIO()
    lines = StatusLines(err, clock=lambda: now[0])
    printed = []
    for t, state, symbol in [(0.0, "connected", "BTCUSDT"), (0.1, "subscribed", "BTCUSDT"),
                             (0.2, "error", "BTCUSDT"), (0.3, "error", "BTCUSDT"), (0.9, "error", "BTCUSDT"),
                             (1.25, "error", "BTCUSDT"), (1.3, "error", "ETHUSDT"), (1.4, "disconnected", "BTCUSDT"),
                             (1.5, "error", "BTCUSDT")]:
        now[0] = t
        printed.append(lines.write(_status(state, symbol)))
    assert printed == [True, True, True, False, False, True, True, True, True]
    assert len(err.getvalue().splitlines()) == 7 and " status " in err.getvalue()


async def test_tail_status_lines_go_to_their_stream_and_a_retry_loop_does_not_flood_it():
    port = free_port()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run_tail("hyperliquid", ["BTC"], as_json=True, ws_url=f"ws://127.0.0.1:{port}/ws",
                                        rest_url=f"http://127.0.0.1:{port}", out=out, status_out=err,
                                        client_options={"backoff_initial_s": 0.01, "backoff_max_s": 0.02}), 0.8)
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert 1 <= len(lines) <= 3 and all(" status " in line for line in lines)


async def test_record_status_lines_are_throttled(tmp_path):
    port = free_port()
    err = io.StringIO()
    code = await run_record("hyperliquid", ["BTC"], out_path=str(tmp_path / "raw.jsonl"),
                            ws_url=f"ws://127.0.0.1:{port}/ws", rest_url=f"http://127.0.0.1:{port}", duration_s=0.8,
                            status_out=err, client_options={"backoff_initial_s": 0.01, "backoff_max_s": 0.02})
    assert code == 0
    assert 1 <= len(err.getvalue().splitlines()) <= 3


def test_record_from_the_command_line_prints_nothing_on_stdout(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), ADLWATCH_HYPERLIQUID_WS_URL=f"ws://127.0.0.1:{port}/ws",
               ADLWATCH_HYPERLIQUID_REST_URL=f"http://127.0.0.1:{port}")
    done = subprocess.run([sys.executable, "-m", "adlwatch.tui.cli", "record", "hyperliquid", "BTC", "-o",
                           str(tmp_path / "raw.jsonl"), "--duration", "1"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout == ""
    assert " status " in done.stderr and "ConnectionRefused" in done.stderr  # the environment's (closed) port
    assert "Traceback" not in done.stderr


# --- the emulator on a port in use ---------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--port", "--rest-port"])
def test_the_emulator_on_a_port_in_use_says_so_in_one_line(flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-m", "adlwatch.feeds.emulator", flag, str(port)],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "cannot listen" in done.stderr and str(port) in done.stderr
