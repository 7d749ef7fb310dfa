"""One integration test per emulator fault: the client never crashes, says what happened within 3 s,
reconnects with backoff and resubscribes."""

import asyncio
import json
import socket

import httpx
import pytest

from adlwatch.engine.events import FeedStatus, MarkPrice
from adlwatch.feeds.queue import CoalescingQueue
from adlwatch.feeds.registry import get_adapter
from adlwatch.feeds.rest import FeedError, RestPoller, fetch_marks


async def test_dropped_connection_is_reported_and_resubscribed(kit):
    async with kit.run("bybit") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        first = kit.emu.live("bybit")[0]
        start = len(feed.events)
        assert kit.emu.drop("bybit") == 1
        [lost] = await feed.wait_for(kit.status("disconnected"), after=start, timeout=3.0)
        assert "reconnecting in" in lost.detail
        second = await kit.emu.wait_connected("bybit", count=2, timeout=3.0)
        assert second is not first
        assert second.received[0] == first.received[0]  # the same subscription again
        await feed.wait_for(kit.kind("mark_price"), after=len(feed.events), timeout=3.0)
        assert feed.client.connects == 2


async def test_repeated_drops_back_off_with_a_growing_capped_ceiling(kit):
    async with kit.run("binance") as feed:
        for n in range(1, 5):
            conn = await kit.emu.wait_connected("binance", count=n, timeout=3.0)
            await kit.emu.wait_until(lambda c=conn: c.data_frames_sent > 0, timeout=3.0)
            kit.emu.drop("binance")
        await kit.emu.wait_connected("binance", count=5, timeout=3.0)
        delays = list(feed.client.stats[0].reconnect_delays)
        assert len(delays) == 4
        # never healthy for healthy_after_s, so the ceiling doubles each time (0.05 → 0.4 cap)
        for n, delay in enumerate(delays):
            assert 0.0 <= delay <= min(0.4, 0.05 * 2**n)


async def test_backoff_resets_after_a_healthy_connection(kit):
    async with kit.run("binance", healthy_after_s=0.2) as feed:
        for n in range(1, 5):
            conn = await kit.emu.wait_connected("binance", count=n, timeout=3.0)
            # healthy: data for longer than healthy_after_s (6 pushes at 50 ms)
            await kit.emu.wait_until(lambda c=conn: c.data_frames_sent >= 6, timeout=3.0)
            kit.emu.drop("binance")
        await kit.emu.wait_connected("binance", count=5, timeout=3.0)
        delays = list(feed.client.stats[0].reconnect_delays)
        assert len(delays) == 4 and all(d <= 0.05 for d in delays)  # the ceiling never grew


async def test_half_open_socket_goes_stale_then_is_aborted_and_replaced(kit):
    async with kit.run("okx") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        start = len(feed.events)
        assert kit.emu.half_open("okx") == 1
        await feed.wait_for(kit.status("stale", "BTC-USDT-SWAP"), after=start, timeout=3.0)
        [lost] = await feed.wait_for(kit.status("disconnected"), after=start, timeout=3.0)
        assert "silent socket" in lost.detail
        second = await kit.emu.wait_connected("okx", count=2, timeout=3.0)
        assert json.loads(second.received[0])["op"] == "subscribe"
        [back] = await feed.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)
        assert back.price > 0


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_garbage_frame_becomes_one_error_and_the_stream_goes_on(kit, venue):
    async with kit.run(venue) as feed:
        await feed.wait_for(kit.kind("mark_price"))
        start = len(feed.events)
        assert await kit.emu.send_garbage(venue) == 1
        [error] = await feed.wait_for(kit.status("error"), after=start)
        assert error.venue == venue
        await feed.wait_for(kit.kind("mark_price"), after=feed.events.index(error) + 1)
        assert feed.client.connects == 1


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_truncated_frame_becomes_an_error_and_the_stream_goes_on(kit, venue):
    async with kit.run(venue) as feed:
        await feed.wait_for(kit.kind("mark_price"))
        start = len(feed.events)
        assert await kit.emu.send_truncated(venue) == 1
        [error] = await feed.wait_for(kit.status("error"), after=start)
        await feed.wait_for(kit.kind("mark_price"), after=feed.events.index(error) + 1)
        assert feed.client.connects == 1


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_unknown_extra_fields_are_ignored(kit, venue):
    kit.emu.set_extra_fields(True)
    async with kit.run(venue) as feed:
        marks = await feed.wait_for(kit.kind("mark_price"), count=5)
        assert "emulatorUnknownField" in kit.emu.live(venue)[0].sent[-1]
        assert all(m.price > 0 for m in marks)
        assert not feed.statuses("error")


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4000])
async def test_server_close_with_any_code_reconnects_and_never_exits(kit, code):
    # Hyperliquid closes with 1000 "periodically and without announcement" (research §4.4).
    async with kit.run("hyperliquid") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        start = len(feed.events)
        assert await kit.emu.close("hyperliquid", code, "bye") == 1
        [lost] = await feed.wait_for(kit.status("disconnected"), after=start, timeout=3.0)
        assert f"code {code}" in lost.detail
        await kit.emu.wait_connected("hyperliquid", count=2, timeout=3.0)
        await feed.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)


async def test_okx_notice_64008_reconnects_before_the_venue_cuts(kit):
    async with kit.run("okx") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        first = kit.emu.live("okx")[0]
        start = len(feed.events)
        assert await kit.emu.notice("okx") == 1
        [lost] = await feed.wait_for(kit.status("disconnected"), after=start, timeout=3.0)
        assert "notice" in lost.detail and lost.detail.endswith("reconnecting now")
        await kit.emu.wait_connected("okx", count=2, timeout=3.0)
        await asyncio.wait_for(first.closed.wait(), 3.0)  # we closed it; the emulator never did
        assert first.ws.close_code == 1000
        await feed.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)
        assert not feed.client.stats[0].reconnect_delays  # no backoff for a planned reconnect


async def test_burst_larger_than_the_consumer_is_coalesced_to_the_latest_mark(kit):
    queue = CoalescingQueue(maxsize=32)
    client = kit.client("binance", ["BTCUSDT", "ETHUSDT"], queue=queue)
    run = asyncio.create_task(client.run())  # nobody consumes: the slowest possible engine
    try:
        conn = await kit.emu.wait_connected("binance")
        kit.emu.pause()
        sent = await kit.emu.burst("binance", 1500)
        assert sent == 3000
        total = conn.frames_sent
        await kit.emu.wait_until(lambda: client.stats[0].frames >= total, timeout=10.0)
        assert len(queue) <= 32
        assert queue.coalesced > 8000  # 3 events per frame, almost all replaced
        assert queue.dropped == 0  # coalescing alone kept it bounded: nothing lost that matters
        latest = {}
        for text in conn.sent:
            data = json.loads(text)["data"]
            latest[data["s"]] = float(data["p"])
        marks = {}
        while len(queue):
            event = queue.get_nowait()
            if isinstance(event, MarkPrice):
                marks[event.symbol] = event.price
        assert marks == latest
    finally:
        client.stop()
        await asyncio.wait_for(run, 5.0)


async def test_control_endpoint_injects_faults_over_http(kit):
    async with kit.run("binance") as feed:
        await feed.wait_for(kit.kind("mark_price"))
        async with httpx.AsyncClient(trust_env=False) as http:
            reply = await http.post(kit.emu.control_url + "/fault", json={"fault": "drop", "venue": "binance"})
            assert reply.json() == {"fault": "drop", "affected": 1}
            await kit.emu.wait_connected("binance", count=2, timeout=3.0)
            stats = (await http.get(kit.emu.control_url + "/stats")).json()
            assert [c["open"] for c in stats["connections"]] == [False, True]
            assert stats["connections"][0]["frames_sent"] > 0
            bad = await http.post(kit.emu.control_url + "/fault", json={"fault": "nope"})
            assert bad.status_code == 400


async def test_control_endpoint_outage_refuses_sockets_and_rest_until_restored(kit):
    async with kit.run("okx", backoff_max_s=0.1) as feed:
        await feed.wait_for(kit.kind("mark_price"))
        async with httpx.AsyncClient(trust_env=False) as http:
            reply = await http.post(kit.emu.control_url + "/fault", json={"fault": "outage", "venue": "okx"})
            assert reply.json() == {"fault": "outage", "affected": 1}
            refused = await feed.wait_for(lambda e: isinstance(e, FeedStatus) and "503" in e.detail, timeout=3.0)
            assert refused[0].state == "disconnected"
            assert (await http.get(kit.emu.rest_url("okx") + "/api/v5/public/mark-price")).status_code == 503
            assert (await http.get(kit.emu.rest_url("binance") + "/fapi/v1/premiumIndex")).status_code != 503
            start = len(feed.events)
            await http.post(kit.emu.control_url + "/fault", json={"fault": "restore", "venue": "okx"})
            await feed.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)


async def test_pause_of_one_venue_leaves_the_others_pushing(kit):
    async with kit.run("okx") as okx, kit.run("bybit") as bybit:
        await okx.wait_for(kit.kind("mark_price"))
        await bybit.wait_for(kit.kind("mark_price"))
        kit.emu.pause("okx")
        await okx.wait_for(kit.status("stale"), timeout=3.0)
        start = len(bybit.events)
        await bybit.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)
        kit.emu.resume("okx")
        start = len(okx.events)
        await okx.wait_for(kit.kind("mark_price"), after=start, timeout=3.0)


# ---------------------------------------------------------------------------------------------- REST


def _poller(kit, venue, sink, **kw):
    adapter = get_adapter(venue)
    symbol = kit.SYMBOLS[venue][0]
    return RestPoller(adapter, [symbol], sink, base_url=kit.emu.rest_url(venue),
                      polls=[adapter.mark_price_poll(symbol)], backoff_initial_s=0.05, interval_scale=0.001,
                      **kw)


async def _collect_until(poller, events, predicate, timeout=3.0):
    changed = asyncio.Event()
    task = asyncio.create_task(poller.run())
    original = poller.emit

    def sink(event):
        original(event)
        changed.set()

    poller.emit = sink
    try:
        async def wait():
            while not predicate(events):
                changed.clear()
                await changed.wait()
        await asyncio.wait_for(wait(), timeout)
    finally:
        poller.stop()
        await asyncio.wait_for(task, 3.0)


@pytest.mark.parametrize("status_code", [429, 418])
async def test_rest_rate_limit_honours_retry_after_then_recovers(kit, status_code):
    events = []
    kit.emu.rest_fault(status_code, retry_after=0.3, venue="binance")
    poller = _poller(kit, "binance", events.append)
    await _collect_until(poller, events, lambda ev: any(isinstance(e, MarkPrice) for e in ev))
    errors = [e for e in events if isinstance(e, FeedStatus) and e.state == "error"]
    assert len(errors) == 1 and f"HTTP {status_code}" in errors[0].detail
    assert poller.waits[0] >= 0.3  # never sooner than the venue asked
    assert any(isinstance(e, FeedStatus) and "recovered" in e.detail for e in events)
    assert kit.emu.rest_requests[0] == ("binance", "/fapi/v1/premiumIndex", status_code)


async def test_rest_server_errors_back_off_and_become_status_events(kit):
    events = []
    kit.emu.rest_fault(503, count=3, venue="okx")
    poller = _poller(kit, "okx", events.append)
    await _collect_until(poller, events, lambda ev: any(isinstance(e, MarkPrice) for e in ev))
    errors = [e for e in events if isinstance(e, FeedStatus) and e.state == "error"]
    assert len(errors) == 3 and all("HTTP 503" in e.detail for e in errors)
    assert len(poller.waits) == 3 and all(w > 0 for w in poller.waits)
    assert [s for _, _, s in kit.emu.rest_requests[:4]] == [503, 503, 503, 200]


async def test_rest_bodies_go_to_the_tap_with_their_path(kit):
    events, frames = [], []
    poller = _poller(kit, "hyperliquid", events.append,
                     on_frame=lambda venue, text, recv_ns, rest=None: frames.append((venue, rest, text)))
    await _collect_until(poller, events, lambda ev: any(isinstance(e, MarkPrice) for e in ev))
    assert frames[0][:2] == ("hyperliquid", "/info")
    assert json.loads(frames[0][2])[0]["universe"]
    assert {e.symbol for e in events if isinstance(e, MarkPrice)} == {"BTC"}  # filtered to ours


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_fetch_marks_reads_the_venue_mark_price_endpoint(kit, venue):
    symbol = kit.SYMBOLS[venue][0]
    marks = await fetch_marks(venue, [symbol], base_url=kit.emu.rest_url(venue))
    assert set(marks) == {symbol}
    assert marks[symbol] == pytest.approx(kit.emu.prices.current(venue, symbol), rel=1e-4)


async def test_fetch_marks_names_the_venue_when_unreachable_or_failing(kit):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FeedError) as unreachable:
        await fetch_marks("okx", ["BTC-USDT-SWAP"], base_url=f"http://127.0.0.1:{port}", timeout=1.0)
    assert unreachable.value.venue == "okx" and str(unreachable.value).startswith("okx: cannot reach")
    kit.emu.rest_fault(500, venue="bybit")
    with pytest.raises(FeedError, match="bybit: .*HTTP 500"):
        await fetch_marks("bybit", ["BTCUSDT"], base_url=kit.emu.rest_url("bybit"))


async def test_the_feed_tests_cannot_reach_a_real_venue():
    # the autouse guard in conftest.py: a default URL slipping into a test fails instead of going out
    with pytest.raises(FeedError, match="test guard"):
        await fetch_marks("okx", ["BTC-USDT-SWAP"], timeout=1.0)
