"""A Tardis ``derivative_ticker`` replay of Hyperliquid carries the next funding time the live parser
gives: Hyperliquid funds every hour on the hour (UTC), "the funding rate on Hyperliquid is paid every
hour" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding), and Tardis's rows of it have
no ``funding_timestamp``."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import FundingRate
from adlwatch.feeds.replay import TARDIS_COLUMNS, load_replay
from adlwatch.feeds.venues.hyperliquid.market import HyperliquidParser, next_funding_ms

HEADER = ",".join(TARDIS_COLUMNS)


def hyperliquid_row(ts_us: int, local_us: int | str, funding_us: int | str = "", rate: str = "0.0000125") -> str:
    return f"hyperliquid,BTC,{ts_us},{local_us},{funding_us},{rate},,2500.5,,104300,104310"


def live_funding(recv_ns: int) -> FundingRate:
    """What the live parser makes of an activeAssetCtx frame received at ``recv_ns``."""
    frame = json.dumps({"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {
        "funding": "0.0000125", "openInterest": "2500.5", "oraclePx": "104300", "markPx": "104310"}}})
    (funding,) = [e for e in HyperliquidParser().parse(frame, recv_ns) if isinstance(e, FundingRate)]
    return funding


def test_a_row_just_before_and_just_after_the_hour(tmp_path):
    path = tmp_path / "hl.csv"
    # 2025-10-10 21:59:59.999 and 22:00:00.000 UTC (local times), exchange times a little earlier
    path.write_text("\n".join([HEADER, hyperliquid_row(1760133599990000, 1760133599999000),
                               hyperliquid_row(1760133599995000, 1760133600000000)]) + "\n")
    before, after = [e.next_funding_ts for e in load_replay(path).events if isinstance(e, FundingRate)]
    assert before == 1760133600000  # 22:00, the payment a frame received at 21:59:59.999 announces
    assert after == 1760137200000  # 23:00: received on the hour, the next one is an hour on


def test_a_given_funding_timestamp_is_kept(tmp_path):
    path = tmp_path / "hl.csv"
    path.write_text("\n".join([HEADER, hyperliquid_row(1760131202000000, 1760131202050000, 1760140800000000)]) + "\n")
    (funding,) = [e for e in load_replay(path).events if isinstance(e, FundingRate)]
    assert funding.next_funding_ts == 1760140800000


@settings(max_examples=60, deadline=None)
@given(local_us=st.integers(1_600_000_000_000_000, 2_200_000_000_000_000), lag_us=st.integers(0, 5_000_000),
       no_local=st.booleans())
def test_every_hyperliquid_row_carries_the_live_parsers_next_funding(tmp_path_factory, local_us, lag_us, no_local):
    """Replay and live agree for any receive time (the row's local time; its exchange time without one)."""
    path = tmp_path_factory.mktemp("hl") / "hl.csv"
    ts_us = local_us - lag_us
    path.write_text("\n".join([HEADER, hyperliquid_row(ts_us, "" if no_local else local_us)]) + "\n")
    (replayed,) = [e for e in load_replay(path).events if isinstance(e, FundingRate)]
    live = live_funding(replayed.recv_ns)
    assert replayed.next_funding_ts == live.next_funding_ts == next_funding_ms(replayed.recv_ns)
    assert replayed.next_funding_ts % 3_600_000 == 0
    assert 0 < replayed.next_funding_ts - replayed.recv_ns // 1_000_000 <= 3_600_000
