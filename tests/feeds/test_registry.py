"""The venue registry: every adapter reachable by name and shaped like the VenueAdapter protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from adlwatch.engine.events import FeedStatus
from adlwatch.feeds.registry import ADAPTERS, get_adapter
from adlwatch.feeds.venue import Heartbeat, RestPoll, VenueAdapter


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


def test_the_registry_is_the_venues_folder():
    """Each folder of feeds/venues/ is a venue, found without a list anywhere (a fifth is a new folder)."""
    from adlwatch.feeds import registry, venues

    folder = Path(venues.__file__).parent
    packages = {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    assert set(registry.venue_names()) == packages == set(ADAPTERS)
    for name in packages:
        assert registry.get_venue(name).name == name and registry.find(name) is registry.get_venue(name)


@pytest.mark.parametrize("name", ["binance", "bybit", "okx", "hyperliquid"])
def test_adapter_has_every_member_the_protocol_declares(name):
    """Callers use only declared members, so every adapter must have all of them (no probing)."""
    declared = set(VenueAdapter.__annotations__) | {
        m for m, v in vars(VenueAdapter).items() if callable(v) and not m.startswith("_")}
    adapter = get_adapter(name)
    assert {"connection_groups", "is_reconnect_notice", "mark_price_poll", "parse_rest"} <= declared
    assert [m for m in sorted(declared) if not hasattr(adapter, m)] == []
    assert adapter.connection_groups([]) == [] and adapter.is_reconnect_notice("{}") is False
