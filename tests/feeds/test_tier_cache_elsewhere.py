"""Tables fetched from a venue pointed elsewhere (the emulator, a testnet) never land in the user's
real tier cache: every command would then stand on them."""

from __future__ import annotations

from adlwatch.feeds.tiers import default_cache_dir


def test_an_overridden_rest_url_gets_its_own_cache_folder() -> None:
    real = default_cache_dir({})
    assert real.name == "tiers"
    emulator = {"ADLWATCH_BINANCE_REST_URL": "http://127.0.0.1:40001/binance"}
    other = {"ADLWATCH_BINANCE_REST_URL": "http://127.0.0.1:40002/binance"}
    assert default_cache_dir(emulator) != real and real not in default_cache_dir(emulator).parents
    assert default_cache_dir(emulator) == default_cache_dir(dict(emulator))
    assert default_cache_dir(other) != default_cache_dir(emulator)
    assert default_cache_dir({"ADLWATCH_BINANCE_WS_URL": "ws://127.0.0.1:1"}) == real  # sockets read no tables
