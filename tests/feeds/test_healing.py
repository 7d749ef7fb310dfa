"""Feeds heal in seconds (issue 14 items 11-13): OKX on either port, a dead socket stale within 3 s,
backoff that comes back down and a venue on screen within 5 s of its return.

Timing: nothing sleeps to synchronise; every wait is on an event with a bounded timeout. The 60 s
outage runs on a compressed scale ``K``: the client's backoff (its shipped initial delay and cap, read
from a default client) and the outage are both multiplied by ``K``, so the same cap and the same
doubling are exercised, and "back within 5 s" becomes "back within 5·K s". The fixed costs that do not
scale (loopback connect, the emulator's 50 ms push) only make the compressed bound harder to meet.
"""

import asyncio
import dataclasses
import random
import socket

import pytest

from adlwatch.engine.events import FeedStatus, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.connection import FeedClient
from adlwatch.feeds.registry import get_adapter
from adlwatch.feeds.rest import RestPoller
from adlwatch.feeds.transport import Backoff
from adlwatch.feeds.venues.okx.market import WS_URL, WS_URL_443
from adlwatch.tui.widgets.panels import feed_endpoint

VENUES = ("binance", "bybit", "okx", "hyperliquid")
SYMBOLS = {"binance": ["BTCUSDT"], "bybit": ["BTCUSDT"], "okx": ["BTC-USDT-SWAP"], "hyperliquid": ["BTC"]}


def refused_url(path: str = "/okx/ws/v5/public") -> str:
    with socket.socket() as sock:  # a port nobody listens on: the connect is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}{path}"


def port_of(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0]


# ---------------------------------------------------------------- item 11: OKX on port 8443 or 443

def test_okx_public_socket_has_the_other_port_as_alternate():
    okx = get_adapter("okx")
    assert okx.alternate_ws_urls(WS_URL) == [WS_URL_443]
    assert okx.alternate_ws_urls(WS_URL_443) == [WS_URL]
    assert okx.alternate_ws_urls("ws://127.0.0.1:9/okx/ws/v5/public") == []  # the emulator: as given
    client = FeedClient(okx, ["BTC-USDT-SWAP"])
    assert client.ws_urls == [WS_URL, WS_URL_443]
    assert client.endpoint == "ws.okx.com:8443"
    assert FeedClient(get_adapter("binance"), ["BTCUSDT"]).ws_urls == [get_adapter("binance").ws_url]


async def test_a_refused_okx_port_falls_over_to_the_other_and_the_status_says_which(kit):
    good = kit.emu.ws_url("okx")
    bad = refused_url()
    client = FeedClient(get_adapter("okx"), ["BTC-USDT-SWAP"], ws_urls=[bad, good], rng=random.Random(1))
    async with kit.Collector(client) as feed:
        await feed.wait_for(kit.kind("mark_price", "BTC-USDT-SWAP"), timeout=3.0)
        [failed] = feed.statuses("disconnected")[:1]
        assert f"connect failed on {port_of(bad)}" in failed.detail
        assert f"trying {port_of(good)} now" in failed.detail
        [subscribed] = feed.statuses("subscribed")[:1]
        assert subscribed.detail.endswith(f"via {port_of(good)}")
        assert client.endpoint == port_of(good)
        assert client.stats[0].reconnect_delays == type(client.stats[0].reconnect_delays)()  # no backoff wait
        # the feeds panel: the venue's state keeps naming the URL in use while marks flow
        monitor = Monitor(Portfolio.from_data({}, default_catalogue()))
        for event in feed.events:
            monitor.apply(event, now_s=event.recv_ns / 1e9)
        [okx] = [f for f in monitor.feed_states(now_ms=0) if f.venue == "okx"]
        assert feed_endpoint(okx.detail) == port_of(good)


async def test_when_both_ports_refuse_the_client_backs_off_and_names_both(kit):
    first, second = refused_url(), refused_url("/x")
    client = FeedClient(get_adapter("okx"), ["BTC-USDT-SWAP"], ws_urls=[first, second],
                        backoff_initial_s=0.02, backoff_max_s=0.05, rng=random.Random(2))
    async with kit.Collector(client) as feed:
        failures = await feed.wait_for(kit.status("disconnected"), count=4, timeout=3.0)
        assert "trying" in failures[0].detail and "retrying on" in failures[1].detail
        assert {port_of(first), port_of(second)} <= {d for e in failures for d in e.detail.split() if ":" in d}
        assert client.stats[0].connects == 0 and len(client.stats[0].reconnect_delays) >= 1


# ---------------------------------------------------------------- item 12: a dead socket is stale within 3 s

@pytest.mark.parametrize("venue", VENUES)
async def test_a_stalled_venue_is_reported_stale_within_3_s_by_liveness(kit, venue):
    # The shipped adapter and timers (no test overrides): OKX's data clock alone would wait 13 s.
    client = FeedClient(get_adapter(venue), SYMBOLS[venue], ws_url=kit.emu.ws_url(venue), rng=random.Random(3))
    [symbol] = SYMBOLS[venue]
    async with kit.Collector(client) as feed:
        await feed.wait_for(kit.kind("mark_price", symbol), timeout=3.0)
        await feed.wait_for(kit.kind("mark_price", symbol), after=len(feed.events), timeout=3.0)
        loop = asyncio.get_running_loop()
        start, paused_at = len(feed.events), loop.time()
        kit.emu.pause(venue, silent=True)  # an 8 s pause: nothing pushed, nothing read, no pong
        [stale] = await feed.wait_for(kit.status("stale", symbol), after=start, timeout=3.0)
        assert loop.time() - paused_at <= 3.0
        assert stale.venue == venue
        kit.emu.resume(venue)
        await feed.wait_for(kit.kind("mark_price", symbol), after=len(feed.events), timeout=5.0)


async def test_a_stalled_venue_stays_stale_across_reconnects_until_data_comes(kit):
    client = FeedClient(get_adapter("okx"), ["BTC-USDT-SWAP"], ws_url=kit.emu.ws_url("okx"), rng=random.Random(7))
    async with kit.Collector(client) as feed:
        await feed.wait_for(kit.kind("mark_price"), timeout=3.0)
        start = len(feed.events)
        kit.emu.pause("okx", silent=True)  # the venue takes new sockets and sends nothing on them
        await feed.wait_for(kit.status("stale"), after=start, timeout=3.0)
        [again] = await feed.wait_for(kit.status("subscribed"), after=start, timeout=5.0)
        statuses = [e for e in feed.events[feed.events.index(again):] if isinstance(e, FeedStatus)]
        # the status right after a reconnect's "subscribed" says it is still stale: never green without data
        await feed.wait_for(lambda e: isinstance(e, FeedStatus) and e.state == "stale"
                            and "since the reconnect" in e.detail, after=start, timeout=1.0)
        assert statuses[0] is again
        kit.emu.resume("okx")
        [resumed] = await feed.wait_for(lambda e: isinstance(e, FeedStatus) and e.detail == "data resumed",
                                        after=start, timeout=5.0)
        assert resumed.state == "subscribed"


async def test_a_quiet_socket_that_answers_pings_stays_up(kit):
    # Data withheld but the venue alive (a quiet market): pings are answered, nothing is torn down.
    heartbeat = dataclasses.replace(get_adapter("okx").heartbeat, stale_after_s=2.5)
    client = kit.client("okx", heartbeat=heartbeat, silence_timeout_s=30.0)
    async with kit.Collector(client) as feed:
        conn = await kit.emu.wait_connected("okx")
        await feed.wait_for(kit.kind("mark_price"), timeout=3.0)
        kit.emu.pause("okx")
        # Pings go out after 0.5 s of quiet and are answered: by the data clock's 2.5 s, a dead socket
        # would have been torn down at about 2 s. Only the data clock speaks.
        [stale] = await feed.wait_for(kit.status("stale"), timeout=4.0)
        assert stale.detail.startswith("no data for")
        assert conn.open and client.connects == 1
        assert not [e for e in feed.events if isinstance(e, FeedStatus) and "silent socket" in e.detail]
        kit.emu.resume()


# ---------------------------------------------------------------- item 13: backoff that comes back down

def test_shipped_caps_websocket_about_seconds_and_rest_a_minute():
    client = FeedClient(get_adapter("binance"), ["BTCUSDT"])
    assert client.backoff_max_s <= 10.0 and client.backoff_max_s + 1.5 <= 5.0  # + connect and first push
    assert client.healthy_after_s == 0.0  # any data resets
    poller = RestPoller(get_adapter("binance"), ["BTCUSDT"], lambda e: None)
    assert poller.backoff_max_s == 60.0


def test_backoff_floor_keeps_delays_in_the_upper_part_of_the_ceiling():
    backoff = Backoff(initial_s=0.5, max_s=3.5, rng=random.Random(4), floor=0.6)
    for _ in range(50):
        ceiling = backoff.ceiling()
        assert 0.6 * ceiling <= backoff.next_delay() <= ceiling <= 3.5
    backoff.reset()
    assert backoff.ceiling() == 0.5


async def test_a_session_that_delivers_data_resets_the_backoff(kit):
    # Shipped reset rule, short initial delay: each drop after data waits no more than the first delay.
    client = FeedClient(get_adapter("binance"), ["BTCUSDT"], ws_url=kit.emu.ws_url("binance"),
                        backoff_initial_s=0.05, rng=random.Random(5))
    async with kit.Collector(client) as feed:
        for n in range(1, 6):
            await kit.emu.wait_connected("binance", count=n, timeout=3.0)
            await feed.wait_for(kit.kind("mark_price"), after=len(feed.events), timeout=3.0)
            kit.emu.drop("binance")
        await kit.emu.wait_connected("binance", count=6, timeout=3.0)
        delays = list(client.stats[0].reconnect_delays)
        assert len(delays) == 5 and all(d <= 0.05 for d in delays)


# The outage test at the shipped scale (a real 60 s outage, the shipped backoff) and compressed
# (delays, cap, outage and the 5 s bound all ×0.25: the loopback connect and the push interval do not
# scale, so the compressed bound is the stricter one).
@pytest.mark.parametrize("K", [pytest.param(1.0, id="shipped-60s"), pytest.param(0.25, id="compressed")])
async def test_after_a_60_s_outage_every_venue_is_back_within_5_s_of_the_return(kit, K):
    shipped = FeedClient(get_adapter("binance"), ["BTCUSDT"])
    clients = {venue: FeedClient(get_adapter(venue), SYMBOLS[venue], ws_url=kit.emu.ws_url(venue),
                                 backoff_initial_s=shipped.backoff_initial_s * K,
                                 backoff_max_s=shipped.backoff_max_s * K, read_batch_s=0.0,
                                 rng=random.Random(6))
               for venue in VENUES}
    feeds = [kit.Collector(c) for c in clients.values()]
    loop = asyncio.get_running_loop()
    for feed in feeds:
        await feed.__aenter__()
    try:
        for feed, venue in zip(feeds, VENUES, strict=True):
            await feed.wait_for(kit.kind("mark_price", SYMBOLS[venue][0]), timeout=3.0)
        kit.emu.outage()
        down_at = loop.time()
        for feed in feeds:
            await feed.wait_for(kit.status("disconnected"), timeout=3.0)
        # the outage lasts 60·K s; every client keeps trying (refused at the handshake) meanwhile
        marks_before = [len(f.events) for f in feeds]
        ended = asyncio.Event()
        loop.call_at(down_at + 60 * K, ended.set)
        await asyncio.wait_for(ended.wait(), 60 * K + 1.0)
        assert all(not [e for e in f.events[n:] if isinstance(e, MarkPrice)] for f, n in zip(feeds, marks_before,
                                                                                               strict=True))
        assert all(c.stats[0].connect_failures >= 3 for c in clients.values())
        kit.emu.restore()
        back_at = loop.time()
        starts = [len(f.events) for f in feeds]
        for feed, venue, start in zip(feeds, VENUES, starts, strict=True):
            await feed.wait_for(kit.kind("mark_price", SYMBOLS[venue][0]), after=start,
                                timeout=max(0.05, back_at + 5 * K - loop.time()))
        assert loop.time() - back_at <= 5 * K
        for client in clients.values():
            assert max(client.stats[0].reconnect_delays) <= shipped.backoff_max_s * K
    finally:
        for feed in feeds:
            await feed.__aexit__(None, None, None)
