"""A replay yields exactly the events the live run saw, where a parser's answer depends on more than
the frame: OKX's liquidation stream on a feed of two sockets (every socket receives every swap's
liquidation; each live parser keeps its own socket's contracts), and Binance's venue-wide
``symbolAdlRisk`` answer (the live poller keeps the feed's contracts). Recordings are made against
the loopback emulator."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from adlwatch.engine.events import MONITOR_SKIPS, AdlRisk, Liquidation
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.recorder import Recorder, encode_line, recording_events, replay_events, tap_keywords
from adlwatch.feeds.replay import load_replay
from adlwatch.feeds.venues.binance import emulator as binance_emulator
from tests.feeds.conftest import FAST as FEED_FAST
from tests.feeds.live_helpers import run_until

MARKER = 0.77  # the size of the liquidations that end a burst, one per socket


CAP = 2  # contracts per socket: OKX's 200 in the product; two here, so the emulator serves it quickly


def two_sockets() -> list[str]:
    """BTC-USDT-SWAP and SOL-USDT-SWAP on the first socket, ETH-USDT-SWAP on the second."""
    return ["BTC-USDT-SWAP", "SOL-USDT-SWAP", "ETH-USDT-SWAP"]


@pytest.fixture
def small_cap(monkeypatch):
    """The live source's OKX adapter with a cap of ``CAP`` contracts per socket (the feed splits
    exactly as it does past 200)."""
    from adlwatch.feeds import live

    real = live.get_adapter
    monkeypatch.setattr(live, "get_adapter", lambda venue: replace(real(venue), max_streams_per_connection=CAP)
                        if venue == "okx" else real(venue))


async def record_okx_burst(emulator, path) -> list[Liquidation]:
    """A live run of two OKX sockets, recorded: two long liquidations of BTC, one short of ETH, then a
    marker on each socket's contract; the liquidations the monitor's source emitted."""
    symbols = two_sockets()
    tasks: list[asyncio.Task] = []
    marked: set[str] = set()
    flowing: set[str] = set()

    async def burst() -> None:
        await emulator.liquidations("okx", "BTC-USDT-SWAP", "long", count=2, size=0.2, price=60_000.0)
        await emulator.liquidations("okx", "ETH-USDT-SWAP", "short", count=1, size=0.3, price=3_000.0)
        for symbol in ("BTC-USDT-SWAP", "ETH-USDT-SWAP"):
            await emulator.liquidations("okx", symbol, "long", count=1, size=MARKER, price=1_000.0)

    def wanted(event) -> bool:
        if event.kind == "mark_price" and event.symbol in ("BTC-USDT-SWAP", "ETH-USDT-SWAP"):
            flowing.add(event.symbol)
            if len(flowing) == 2 and not tasks:  # both sockets subscribed and flowing
                tasks.append(asyncio.get_running_loop().create_task(burst()))
        if isinstance(event, Liquidation) and event.size == pytest.approx(MARKER):
            marked.add(event.symbol)
        return len(marked) == 2  # each socket's events are in order: all before its marker are in

    with Recorder(path) as recorder:
        source = LiveSource({"okx": symbols}, ws_urls={"okx": emulator.ws_url("okx")},
                            rest_urls={"okx": emulator.rest_url("okx")}, client_options={**FEED_FAST, "on_frame": recorder.write})
        seen = await run_until(source, wanted)
        await asyncio.gather(*tasks)
        assert [len(c) for c in source.clients[0].chunks] == [CAP, 1]
    return [e for e in seen if isinstance(e, Liquidation)]


async def test_okx_liquidations_on_two_sockets_reach_the_monitor_once_live_and_in_replay(emulator, tmp_path,
                                                                                       small_cap):
    path = tmp_path / "okx.jsonl"
    live = await record_okx_burst(emulator, path)
    wanted = [e for e in live if e.size != pytest.approx(MARKER)]
    assert sorted((e.symbol, e.side) for e in wanted) == [
        ("BTC-USDT-SWAP", "long"), ("BTC-USDT-SWAP", "long"), ("ETH-USDT-SWAP", "short")]
    assert len(live) == 5  # and each marker once
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    pushes = [line for line in lines if '"liquidation-orders"' in line["frame"] and '"data"' in line["frame"]]
    assert len(pushes) == 2 * 5  # every socket received every liquidation...
    assert len({line["conn"] for line in pushes}) == 2  # ...and the recording says which socket it was
    replayed = [e for e in load_replay(path, skip=MONITOR_SKIPS).events if isinstance(e, Liquidation)]
    assert sorted(replayed, key=lambda e: (e.recv_ns, e.symbol)) == sorted(live, key=lambda e: (e.recv_ns, e.symbol))
    tailed = [e for e in replay_events(path) if isinstance(e, Liquidation)]  # tail --from: the same path
    assert len(tailed) == 5
    chosen = [e for e in load_replay(path, venue="okx", symbol="ETH-USDT-SWAP").events if isinstance(e, Liquidation)]
    assert [(e.side, e.size) for e in chosen] == [("short", pytest.approx(0.3)), ("long", pytest.approx(MARKER))]


async def test_binance_adl_risk_replays_only_the_contracts_the_live_poll_kept(emulator, tmp_path):
    binance_emulator.set_adl_risk(emulator, "BTCUSDT", "high")
    path = tmp_path / "binance.jsonl"
    with Recorder(path) as recorder:
        source = LiveSource({"binance": ["BTCUSDT", "ETHUSDT"]}, ws_urls={"binance": emulator.ws_url("binance")},
                            rest_urls={"binance": emulator.rest_url("binance")},
                            client_options={**FEED_FAST, "on_frame": recorder.write})
        seen = await run_until(source, lambda e: isinstance(e, AdlRisk) and e.symbol == "ETHUSDT")
    live = sorted((e for e in seen if isinstance(e, AdlRisk)), key=lambda e: e.symbol)
    assert [(e.symbol) for e in live] == ["BTCUSDT", "ETHUSDT"] and live[0].rating == "high"
    (body,) = [line for line in map(json.loads, path.read_text().splitlines())
               if line.get("rest") == "/fapi/v1/symbolAdlRisk"]
    assert len(json.loads(body["frame"])) > 100 and body["symbols"] == ["BTCUSDT", "ETHUSDT"]
    replayed = sorted((e for e in recording_events(path) if isinstance(e, AdlRisk)), key=lambda e: e.symbol)
    assert replayed == live
    assert [e for e in replay_events(path) if isinstance(e, AdlRisk)] == [
        e for e in seen if isinstance(e, AdlRisk)]


def test_a_line_names_its_session_and_kept_contracts_only_when_given():
    plain = encode_line(5, "okx", "{}")
    assert json.loads(plain) == {"recv_ns": 5, "venue": "okx", "frame": "{}"}  # unchanged for one socket
    tagged = json.loads(encode_line(5, "okx", "{}", conn=3))
    assert tagged["conn"] == 3
    rest = json.loads(encode_line(5, "binance", "[]", "/fapi/v1/symbolAdlRisk", symbols=["BTCUSDT"]))
    assert (rest["rest"], rest["symbols"]) == ("/fapi/v1/symbolAdlRisk", ["BTCUSDT"])


def test_the_feeds_hand_session_and_contracts_only_to_a_tap_that_takes_them(tmp_path):
    with Recorder(tmp_path / "r.jsonl") as recorder:
        assert tap_keywords(recorder.write) == {"conn", "symbols"}
    assert tap_keywords(lambda venue, text, recv_ns: None) == set()
    assert tap_keywords(lambda venue, text, recv_ns, rest=None: None) == set()
    assert tap_keywords(lambda *args, **kwargs: None) == {"conn", "symbols"}
    assert tap_keywords(None) == set()


def test_okx_frames_of_two_sessions_are_parsed_apart(tmp_path):
    """Written by hand: each session acknowledged one contract and received both liquidations; each
    liquidation comes out once. Without the session tags one parser would have kept both twice."""

    def ack(inst: str) -> str:
        return json.dumps({"event": "subscribe", "arg": {"channel": "mark-price", "instId": inst}, "connId": "a"})

    def push(inst: str) -> str:
        return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
            {"details": [{"bkLoss": "0", "bkPx": "60000", "ccy": "", "posSide": "long", "side": "sell", "sz": "10",
                          "ts": "1700000000000"}], "instFamily": inst[:-5], "instId": inst, "instType": "SWAP",
             "uly": inst[:-5]}]})

    lines = [encode_line(1, "okx", ack("BTC-USDT-SWAP"), conn=1), encode_line(2, "okx", ack("ETH-USDT-SWAP"), conn=2)]
    for n, inst in enumerate(("BTC-USDT-SWAP", "ETH-USDT-SWAP"), start=3):
        lines += [encode_line(n, "okx", push(inst), conn=1), encode_line(n, "okx", push(inst), conn=2)]
    path = tmp_path / "two.jsonl"
    path.write_bytes(b"".join(lines))
    for events in (recording_events(path), list(replay_events(path))):
        assert [e.symbol for e in events if isinstance(e, Liquidation)] == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    untagged = tmp_path / "one.jsonl"
    untagged.write_bytes(b"".join(encode_line(json.loads(x)["recv_ns"], "okx", json.loads(x)["frame"]) for x in lines))
    assert len([e for e in recording_events(untagged) if isinstance(e, Liquidation)]) == 4  # one parser: no telling
