"""The venue registry: every adapter reachable by name and shaped like the VenueAdapter protocol."""

from __future__ import annotations

import pytest

from adlwatch.engine.events import FeedStatus
from adlwatch.feeds.registry import ADAPTERS, get_adapter
from adlwatch.feeds.venue import Heartbeat, RestPoll


def test_four_venues_by_name():
    assert set(ADAPTERS) == {"binance", "bybit", "okx", "hyperliquid"}
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name and get_adapter(name) is adapter
    assert get_adapter(" OKX ") is ADAPTERS["okx"]


def test_unknown_venue_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown venue 'kraken'; known venues: binance, bybit, hyperliquid, okx"):
        get_adapter("kraken")


@pytest.mark.parametrize("name", ["binance", "bybit", "okx", "hyperliquid"])
def test_adapter_satisfies_the_protocol(name):
    adapter = get_adapter(name)
    symbol = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP", "hyperliquid": "BTC"}[name]
    assert isinstance(adapter.heartbeat, Heartbeat) and adapter.heartbeat.stale_after_s > 0
    assert adapter.max_streams_per_connection > 0
    assert adapter.ws_url.startswith("wss://") and adapter.rest_url.startswith("https://")
    assert adapter.connection_url(adapter.ws_url, [symbol]).startswith("wss://")
    assert all(isinstance(m, str) for m in adapter.subscribe_messages([symbol]))
    polls = adapter.rest_polls([symbol])
    assert polls and all(isinstance(p, RestPoll) and p.interval_s >= 10 for p in polls)
    parser = adapter.new_parser()
    (status,) = parser.parse("{", 77)
    assert isinstance(status, FeedStatus) and status.state == "error" and status.venue == name
    for poll in polls:
        (status,) = adapter.parse_rest(poll, "<html>502</html>", 78)
        assert isinstance(status, FeedStatus) and status.state == "error" and status.recv_ns == 78
