"""FeedClient against the loopback emulator: subscribe, keep alive, stale watchdog, backoff, rotation."""

import asyncio
import dataclasses
import random
import socket

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from adlwatch.engine.events import FeedStatus, MarkPrice
from adlwatch.feeds.connection import _EARLY_LIMIT, FeedClient, FeedConnection
from adlwatch.feeds.registry import get_adapter
from adlwatch.feeds.transport import Backoff
from adlwatch.feeds.venue import chunk_symbols, is_reconnect_notice


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling_and_resets():
    backoff = Backoff(initial_s=0.5, max_s=30.0, rng=random.Random(3))
    ceilings = []
    for _ in range(12):
        ceilings.append(backoff.ceiling())
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceilings[-1]
    assert ceilings[:4] == [0.5, 1.0, 2.0, 4.0]
    assert ceilings[-1] == 30.0
    backoff.reset()
    assert backoff.ceiling() == 0.5


def test_full_jitter_spreads_delays_over_the_whole_range():
    backoff = Backoff(initial_s=1.0, max_s=1.0, rng=random.Random(5))
    delays = [backoff.next_delay() for _ in range(200)]
    assert min(delays) < 0.1 and max(delays) > 0.9


def test_symbols_are_split_by_the_stream_cap():
    assert chunk_symbols(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert chunk_symbols(["a"], 0) == [["a"]]


def test_okx_reconnect_notice_is_recognised():
    assert is_reconnect_notice('{"event":"notice","code":"64008","msg":"upgrade","connId":"x"}')
    assert not is_reconnect_notice('{"arg":{"channel":"mark-price"},"data":[{"markPx":"64008"}]}')


async def test_binance_streams_are_in_the_url_and_marks_flow(kit):
    async with kit.run("binance", ["BTCUSDT", "ETHUSDT"]) as feed:
        await feed.wait_for(kit.kind("mark_price", "BTCUSDT"))
        await feed.wait_for(kit.kind("mark_price", "ETHUSDT"))
        conn = kit.emu.live("binance")[0]
        assert "/binance/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s" in conn.path
        assert [e.state for e in feed.events if isinstance(e, FeedStatus)][:4] == \
            ["connected", "connected", "subscribed", "subscribed"]


async def test_more_symbols_than_the_cap_open_several_connections(kit):
    # four streams: two symbols (Binance opens a mark and a liquidation stream for each)
    adapter = dataclasses.replace(get_adapter("binance"), max_streams_per_connection=4)
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
    client = kit.client("binance", symbols, adapter=adapter)
    async with kit.Collector(client) as feed:
        for symbol in symbols:
            await feed.wait_for(kit.kind("mark_price", symbol))
        assert sorted(c.symbols for c in kit.emu.live("binance")) == sorted(
            [["BTCUSDT", "ETHUSDT"], ["SOLUSDT", "XRPUSDT"], ["DOGEUSDT"]])


@pytest.mark.parametrize("venue, expected", [
    ("okx", "ping"),
    ("bybit", '{"req_id":"ping","op":"ping"}'),
    ("hyperliquid", '{"method":"ping"}'),
])
async def test_heartbeat_message_is_sent_when_nothing_was_sent_for_the_interval(kit, venue, expected):
    async with kit.run(venue, heartbeat=kit.fast_heartbeat(venue, interval_s=0.15, stale_after_s=2.0)) as feed:
        conn = await kit.emu.wait_connected(venue)
        await kit.emu.wait_until(lambda: conn.received.count(expected) >= 2, timeout=3.0)
        # the venue's pong is not data and not an error
        assert not feed.statuses("error")
        assert conn.received[0] != expected  # the subscription went first


async def test_a_symbol_without_data_goes_stale_within_3_s_and_recovers(kit):
    async with kit.run("binance", ["BTCUSDT", "ETHUSDT"]) as feed:
        await feed.wait_for(kit.kind("mark_price", "ETHUSDT"))
        kit.emu.mute("binance", "ETHUSDT")
        start = len(feed.events)
        [stale] = await feed.wait_for(kit.status("stale"), after=start, timeout=3.0)
        assert stale.symbol == "ETHUSDT"
        assert "no data" in stale.detail
        kit.emu.unmute("binance", "ETHUSDT")
        [back] = await feed.wait_for(lambda e: isinstance(e, FeedStatus) and e.symbol == "ETHUSDT"
                                     and e.state == "subscribed", after=start, timeout=3.0)
        assert back.detail == "data resumed"
        # the busy symbol never went stale and its socket was not torn down
        assert not feed.statuses("stale", "BTCUSDT")
        assert feed.client.connects == 1


async def test_a_subscription_that_never_delivers_is_reported_stale(kit):
    # Binance's unrouted legacy URL accepts the socket and sends nothing (research §0.1).
    kit.emu.mute("binance", "BTCUSDT")
    async with kit.run("binance", silence_timeout_s=30.0) as feed:
        [stale] = await feed.wait_for(kit.status("stale", "BTCUSDT"), timeout=3.0)
        assert stale.venue == "binance"


async def test_connection_refused_is_retried_with_backoff_and_reported(kit):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = FeedClient(get_adapter("okx"), ["BTC-USDT-SWAP"], ws_url=f"ws://127.0.0.1:{port}/ws/v5/public",
                        backoff_initial_s=0.02, backoff_max_s=0.1, rng=random.Random(2))
    async with kit.Collector(client) as feed:
        failures = await feed.wait_for(kit.status("disconnected"), count=4, timeout=3.0)
        assert all("connect failed" in e.detail and "retrying in" in e.detail for e in failures)
        stats = client.stats[0]
        assert stats.connect_failures >= 4 and stats.connects == 0
        ceilings = [min(0.1, 0.02 * 2**n) for n in range(len(stats.reconnect_delays))]
        assert all(0 <= d <= c for d, c in zip(stats.reconnect_delays, ceilings, strict=True))


async def test_planned_rotation_reconnects_at_once_and_resubscribes(kit):
    async with kit.run("bybit", rotate_after_s=0.3) as feed:
        second = await kit.emu.wait_connected("bybit", count=2, timeout=3.0)
        await kit.emu.wait_until(lambda: second.data_frames_sent > 0, timeout=3.0)
        assert second.received[0].startswith('{"req_id":"subscribe')
        first = kit.emu.of("bybit")[0]
        assert first.closed.is_set()
        assert feed.client.stats[0].last_reason.startswith("planned rotation")
        rotation = [e for e in feed.statuses("disconnected") if "planned rotation" in e.detail]
        assert rotation and rotation[0].detail.endswith("reconnecting now")


async def test_every_frame_goes_to_the_tap_before_parsing(kit):
    seen = []
    async with kit.run("okx", on_frame=lambda venue, text, recv_ns: seen.append((venue, text, recv_ns))) as feed:
        marks = await feed.wait_for(kit.kind("mark_price"), count=3)
    sent = kit.emu.of("okx")[0].sent
    texts = [t for _, t, _ in seen]
    assert len(texts) >= 4
    assert texts == sent[: len(texts)]  # acks included, byte for byte, in order
    assert all(v == "okx" and ns > 0 for v, _, ns in seen)
    assert {m.recv_ns for m in marks} <= {ns for _, _, ns in seen}


async def test_a_failing_tap_is_reported_once_and_never_stops_the_feed(kit):
    def broken(venue, text, recv_ns):
        raise OSError("disk full")

    async with kit.run("hyperliquid", on_frame=broken) as feed:
        await feed.wait_for(kit.kind("mark_price"), count=5)
        errors = [e for e in feed.statuses("error") if "recorder" in e.detail]
        assert len(errors) == 1 and "disk full" in errors[0].detail


async def test_stop_ends_run_and_closes_the_event_stream(kit):
    client = kit.client("binance")
    task = asyncio.create_task(client.run())
    first = await asyncio.wait_for(anext(client.events()), 3.0)
    assert isinstance(first, FeedStatus)
    client.stop()
    await asyncio.wait_for(task, 3.0)
    rest = [e async for e in client.events()]
    assert all(isinstance(e, (FeedStatus, MarkPrice)) or e.kind in ("index_price", "funding_rate") for e in rest)
    assert client.queue.closed


# --- FeedConnection: messages handed over as they are read, reading held in batches -------------------

async def test_a_fragmented_message_arrives_whole(kit):
    async with kit.run("binance") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        server = kit.emu.live("binance")[0].ws
        text = ('{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1760000000000,"s":"BTCUSDT",'
                '"p":"12345.5","i":"12345.0","P":"12345.6","r":"0.0001","T":1760003600000}}')
        await server.send([text[:30], text[30:70], text[70:]])  # three websocket frames, one message
        [mark] = await feed.wait_for(lambda e: isinstance(e, MarkPrice) and e.price == 12345.5)
        assert mark.ts == 1760000000000
        assert not feed.statuses("error")


async def test_a_bug_while_handling_a_frame_is_reported_and_the_slot_reconnects(kit, monkeypatch):
    client = kit.client("okx")
    original = client._handle_events
    calls = []

    def fails_once(events, session, now=None):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("handler bug")
        original(events, session, now)

    monkeypatch.setattr(client, "_handle_events", fails_once)
    async with kit.Collector(client) as feed:
        [error] = await feed.wait_for(lambda e: isinstance(e, FeedStatus) and "handler bug" in e.detail)
        assert error.state == "error" and "retrying in" in error.detail
        await kit.emu.wait_connected("okx", count=2, timeout=3.0)
        before = len(feed.events)
        await feed.wait_for(kit.kind("mark_price"), after=before)


class _Transport:
    """Just enough of an asyncio transport for a FeedConnection fed by hand."""

    def __init__(self) -> None:
        self.reading = True
        self.written = b""
        self.pauses = 0

    def write(self, data) -> None:
        self.written += bytes(data)

    def writelines(self, chunks) -> None:
        for chunk in chunks:
            self.write(chunk)

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def set_write_buffer_limits(self, *args, **kwargs) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name, default=None):
        return default

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def _open_connection():
    connection = FeedConnection(ClientProtocol(parse_uri("ws://127.0.0.1:1/"), state=State.OPEN))
    connection.response = object()  # the opening handshake is behind us
    transport = _Transport()
    connection.connection_made(transport)
    return connection, transport


def _server_frame(opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=False)


async def test_messages_read_before_anyone_listens_wait_and_go_first_in_order():
    connection, transport = _open_connection()
    connection.data_received(_server_frame(Opcode.TEXT, b"one") + _server_frame(Opcode.TEXT, b"two"))
    reads = []
    connection.deliver(reads.append)
    connection.data_received(_server_frame(Opcode.TEXT, b"three") + _server_frame(Opcode.BINARY, b"four"))
    connection.data_received(_server_frame(Opcode.TEXT, b"five"))
    assert reads == [["one", "two"], ["three", "four"], ["five"]]  # the messages of each read, in one call
    assert transport.pauses == 0  # without hold_s every read is taken as it comes


async def test_too_many_messages_before_anyone_listens_pause_reading_until_delivery():
    connection, transport = _open_connection()
    connection.data_received(b"".join(_server_frame(Opcode.TEXT, str(i).encode()) for i in range(_EARLY_LIMIT)))
    assert not transport.reading
    got = []
    connection.deliver(got.extend)
    assert got == [str(i) for i in range(_EARLY_LIMIT)] and transport.reading


async def test_fragments_join_and_bad_utf8_reaches_the_parser_instead_of_closing():
    connection, transport = _open_connection()
    got = []
    connection.deliver(got.extend)
    connection.data_received(_server_frame(Opcode.TEXT, b'{"a":', fin=False) + _server_frame(Opcode.CONT, b"1", fin=False)
                             + _server_frame(Opcode.CONT, b"}", fin=True) + _server_frame(Opcode.TEXT, b"\xffok"))
    assert got == ['{"a":1}', "\ufffdok"]
    assert connection.protocol.state.name == "OPEN"


async def test_control_frames_are_still_answered_between_data_frames():
    connection, transport = _open_connection()
    got = []
    connection.deliver(got.extend)
    connection.data_received(_server_frame(Opcode.TEXT, b"a") + _server_frame(Opcode.PING, b"hb")
                             + _server_frame(Opcode.TEXT, b"b"))
    assert got == ["a", "b"]
    # the pong went out: one final PONG frame, masked as a client's are, with the ping's 2 bytes
    assert transport.written[0] == 0x80 | Opcode.PONG.value and transport.written[1] == 0x80 | 2


async def test_a_held_socket_is_read_again_on_the_shared_grid():
    loop = asyncio.get_running_loop()
    first, first_transport = _open_connection()
    second, second_transport = _open_connection()
    hold_s = 0.05
    for connection in (first, second):
        connection.deliver(lambda texts: None, hold_s)
    started = loop.time()
    first.data_received(_server_frame(Opcode.TEXT, b"x"))
    second.data_received(_server_frame(Opcode.TEXT, b"y"))
    assert not first_transport.reading and not second_transport.reading
    while not (first_transport.reading and second_transport.reading):
        assert loop.time() - started < 1.0, "a held socket was never resumed"
        await asyncio.sleep(0.005)
    # both resumed together, at the first grid tick after the reads: never later than one hold
    assert loop.time() - started <= hold_s + 0.5
    first.data_received(_server_frame(Opcode.TEXT, b"z"))
    assert not first_transport.reading and first_transport.pauses == 2


@pytest.mark.parametrize("venue, symbol", [("binance", "ETHUSDT"), ("bybit", "ETHUSDT"),
                                           ("okx", "ETH-USDT-SWAP")])
async def test_liquidations_alone_never_keep_a_silent_mark_stream_fresh(kit, venue, symbol):
    """A contract whose mark stream stopped is stale even while its venue still pushes liquidations
    of it (they come on a stream of their own)."""
    async with kit.run(venue, ["BTCUSDT" if venue != "okx" else "BTC-USDT-SWAP", symbol]) as feed:
        await feed.wait_for(kit.kind("mark_price", symbol))
        kit.emu.mute(venue, symbol)
        start = len(feed.events)
        stop = asyncio.Event()

        async def liquidate() -> None:
            while not stop.is_set():
                await kit.emu.liquidations(venue, symbol, "long", size=0.5)
                await asyncio.sleep(0.1)

        pusher = asyncio.create_task(liquidate())
        try:
            await feed.wait_for(kit.kind("liquidation", symbol), after=start, timeout=5.0)
            [stale] = await feed.wait_for(kit.status("stale", symbol), after=start, timeout=20.0)
            assert "no data" in stale.detail
        finally:
            stop.set()
            await pusher
