import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import decode_event
from adlwatch.feeds.recorder import Recorder
from adlwatch.feeds.tail import format_event, run_tail

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {
    "mark_price": {"price"},
    "index_price": {"price"},
    "funding_rate": {"rate", "next_funding_ts"},
    "open_interest": {"open_interest", "open_interest_usd"},
    "insurance_fund": {"symbols", "asset", "balance"},
    "adl_alert": {"state", "detail"},
    "status": {"state", "detail"},
    # issue 15's events in the contract (engine/events.py)
    "liquidation": {"side", "price", "size", "notional_usd"},
    "adl_risk": {"rating"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_contract_line(line: str) -> dict:
    obj = json.loads(line)
    assert list(obj)[:5] == ["type", "venue", "symbol", "ts", "recv_ns"]
    assert set(obj) == {"type", "venue", "symbol", "ts", "recv_ns"} | FIELDS[obj["type"]]
    assert isinstance(obj["recv_ns"], int) and obj["recv_ns"] > 0
    if obj["type"] in ("mark_price", "index_price"):
        assert isinstance(obj["price"], float) and obj["price"] > 0
    if obj["type"] == "status":
        assert obj["state"] in ("connected", "subscribed", "stale", "disconnected", "error")
    decode_event(line)  # and it is one of our events
    return obj


async def test_live_tail_json_prints_contract_shaped_lines(kit):
    out = io.StringIO()
    code = await run_tail("binance", ["BTCUSDT"], as_json=True, ws_url=kit.emu.ws_url("binance"),
                          rest_url=kit.emu.rest_url("binance"), out=out, max_events=30)
    assert code == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 30
    objs = [check_contract_line(line) for line in lines]
    assert [o["state"] for o in objs[:2]] == ["connected", "subscribed"]
    types = {o["type"] for o in objs}
    assert {"mark_price", "index_price", "funding_rate"} <= types
    assert all(o["venue"] == "binance" and o["symbol"] in ("BTCUSDT", "") for o in objs)


async def test_tail_from_a_recording_prints_the_same_events_as_live(kit, tmp_path):
    path = tmp_path / "raw.jsonl"
    live = io.StringIO()
    with Recorder(path) as recorder:
        await run_tail("bybit", ["BTCUSDT"], as_json=True, ws_url=kit.emu.ws_url("bybit"),
                       rest_url=kit.emu.rest_url("bybit"), out=live, max_events=40, on_frame=recorder.write)
    replay = io.StringIO()
    assert await run_tail("bybit", ["BTCUSDT"], from_path=path, as_json=True, out=replay) == 0
    live_data = [line for line in live.getvalue().splitlines() if '"type":"status"' not in line]
    replayed = replay.getvalue().splitlines()
    for line in replayed:
        check_contract_line(line)
    assert len(live_data) >= 20
    # every live event, recv_ns included, comes out of the recording exactly
    assert set(live_data) <= set(replayed)
    # and the marks come out in the order they arrived
    live_marks = [line for line in live_data if '"type":"mark_price"' in line]
    replay_marks = [line for line in replayed if line in set(live_marks)]
    assert replay_marks == live_marks


async def test_table_form_is_one_readable_line_per_event(kit):
    out = io.StringIO()
    await run_tail("okx", ["BTC-USDT-SWAP"], ws_url=kit.emu.ws_url("okx"), rest_url=kit.emu.rest_url("okx"),
                   out=out, max_events=8)
    lines = out.getvalue().splitlines()
    assert len(lines) == 8
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3}  okx\s+BTC-USDT-SWAP\s+status\s+CONNECTED", lines[0])
    marks = [line for line in lines if " mark_price " in line]
    assert marks and re.search(r"mark_price\s+[\d,]+\.\d+$", marks[0])


def test_format_event_covers_every_event_type():
    lines = [
        '{"type":"funding_rate","venue":"binance","symbol":"BTCUSDT","ts":1700000000000,"recv_ns":1,"rate":0.0001,"next_funding_ts":1700003600000}',
        '{"type":"open_interest","venue":"okx","symbol":"BTC-USDT-SWAP","ts":null,"recv_ns":1,"open_interest":12.5,"open_interest_usd":null}',
        '{"type":"insurance_fund","venue":"bybit","symbol":"BTCUSDT","ts":null,"recv_ns":1,"symbols":["BTCUSDT","ETHUSDT"],"asset":"USDT","balance":1000.5}',
        '{"type":"adl_alert","venue":"bybit","symbol":"BTCUSDT","ts":1,"recv_ns":1,"state":"warning","detail":{"pr":-0.2}}',
    ]
    text = [format_event(decode_event(line)) for line in lines]
    assert "+0.0100%" in text[0] and "next 23:13" in text[0] and text[0].startswith("22:13:20.000")
    assert "12.5" in text[1] and "$" not in text[1]
    assert "1,000.50 USDT" in text[2] and "BTCUSDT,ETHUSDT" in text[2]
    assert "warning" in text[3]
    assert all("\n" not in t for t in text)


async def test_tail_without_network_prints_status_lines_and_keeps_retrying():
    port = free_port()
    out = io.StringIO()
    code = await run_tail("hyperliquid", ["BTC"], as_json=True, ws_url=f"ws://127.0.0.1:{port}/ws",
                          rest_url=f"http://127.0.0.1:{port}", out=out, max_events=6,
                          client_options={"backoff_initial_s": 0.02, "backoff_max_s": 0.05})
    assert code == 0
    objs = [check_contract_line(line) for line in out.getvalue().splitlines()]
    assert len(objs) == 6 and all(o["type"] == "status" for o in objs)
    assert any("connect failed" in o["detail"] and "retrying" in o["detail"] for o in objs)


async def test_tail_from_a_missing_or_broken_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read recording"):
        await run_tail("binance", [], from_path=tmp_path / "nope.jsonl", out=io.StringIO())
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\nworld\n")
    with pytest.raises(InputError) as error:
        await run_tail("binance", [], from_path=bad, out=io.StringIO())
    assert str(error.value).startswith(f"{bad}:1: ")


async def test_tail_from_a_recording_filters_venue_and_symbols(tmp_path):
    path = tmp_path / "raw.jsonl"
    frame = ('{{"stream":"{s}@markPrice@1s","data":{{"e":"markPriceUpdate","E":1700000000000,"s":"{S}",'
             '"p":"1.5","i":"1.4","P":"1.5","r":"0.0001","T":1700003600000}}}}')
    with Recorder(path) as recorder:
        recorder.write("binance", frame.format(s="btcusdt", S="BTCUSDT"), 1)
        recorder.write("binance", frame.format(s="ethusdt", S="ETHUSDT"), 2)
        recorder.write("okx", "pong", 3)
    out = io.StringIO()
    await run_tail("binance", ["ETHUSDT"], from_path=str(path), as_json=True, out=out)
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(o["type"], o["symbol"], o["recv_ns"]) for o in objs] == [
        ("mark_price", "ETHUSDT", 2), ("index_price", "ETHUSDT", 2), ("funding_rate", "ETHUSDT", 2)]


def _spawn(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


async def _readline(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    return await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout)


async def test_ctrl_c_stops_the_tail_command_cleanly_with_exit_0():
    port = free_port()
    proc = _spawn(["-m", "adlwatch.tui.cli", "tail", "binance", "BTCUSDT", "--json",
                   "--ws-url", f"ws://127.0.0.1:{port}", "--rest-url", f"http://127.0.0.1:{port}"])
    try:
        # it is up, retrying quietly: status lines go to stderr in the table form (stdout: events only)
        first = await asyncio.wait_for(asyncio.to_thread(proc.stderr.readline), 10.0)
        assert re.search(r"binance\s+BTCUSDT\s+status\s+", first)
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(asyncio.to_thread(proc.wait), 10.0)
        stderr = proc.stderr.read()
        assert code == 0
        assert "Traceback" not in stderr and proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_emulator_runs_standalone_and_serves_a_tail(tmp_path):
    proc = _spawn(["-m", "adlwatch.feeds.emulator", "--port", "0", "--interval", "0.05"])
    try:
        lines = [await _readline(proc) for _ in range(5)]
        found = [re.match(r"(\w+) ws=(\S+) rest=(\S+)", line).groups() for line in lines[:4]]
        urls = {venue: (ws, rest) for venue, ws, rest in found}
        assert set(urls) == {"binance", "bybit", "okx", "hyperliquid"}
        assert lines[4].startswith("control http://127.0.0.1:")
        out = io.StringIO()
        await run_tail("okx", ["BTC-USDT-SWAP"], as_json=True, ws_url=urls["okx"][0], rest_url=urls["okx"][1],
                       out=out, max_events=5, client_options={"close_timeout_s": 0.5})
        assert any('"type":"mark_price"' in line for line in out.getvalue().splitlines())
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(asyncio.to_thread(proc.wait), 10.0) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_tail_without_symbols_needs_an_all_market_stream():
    out = io.StringIO()
    assert await run_tail("okx", [], as_json=True, out=out) == 2
    [line] = out.getvalue().splitlines()
    assert check_contract_line(line)["state"] == "error" and "name at least one symbol" in line


async def test_binance_without_symbols_opens_the_all_market_stream(kit):
    out = io.StringIO()
    await run_tail("binance", [], as_json=True, ws_url=kit.emu.ws_url("binance"),
                   rest_url=kit.emu.rest_url("binance"), out=out, max_events=2)
    assert "!markPrice@arr@1s" in kit.emu.of("binance")[0].path
    assert [json.loads(line)["state"] for line in out.getvalue().splitlines()] == ["connected", "subscribed"]


def test_the_table_form_words_every_kind_of_event():
    from adlwatch.engine.events import AdlRisk, ForcedClose
    from adlwatch.feeds.tail import format_event

    risk = format_event(AdlRisk(venue="binance", symbol="BTCUSDT", ts=1_700_000_000_000, rating="high"))
    assert risk.endswith("venue ADL risk high") and "adl_risk" in risk
    close = format_event(ForcedClose(venue="okx", symbol="BTC-USDT-SWAP", ts=1_700_000_000_000, account="main",
                                     side="long", cause="adl", price=59_000.0, size=0.2, remaining=0.3,
                                     detail="fills subType 128"))
    assert "main: long ADL  0.2 @ 59,000.0, 0.3 left  fills subType 128" in close
