"""OKX "you were liquidated / ADL'd" on a busy account: the fills since a shrink are read page after
page (100 a page, ``after`` = the last billId) until the window is covered, within a cap per round
and inside the venue's rate limit (60 requests per 2 s).

https://www.okx.com/docs-v5/en/#order-book-trading-trade-get-transaction-details-last-3-days
(``after``: records earlier than the requested billId; ``limit`` at most 100, the default).
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AccountState, ForcedClose
from adlwatch.feeds.accounts.signed import MapContext, Read
from adlwatch.feeds.emulator_base import EmuPosition
from adlwatch.feeds.venues.okx import account as okx
from adlwatch.feeds.venues.okx import emulator as okx_emulator
from adlwatch.feeds.venues.okx.emulator import private_body_of
from tests.feeds import private_fixtures
from tests.feeds.private_fixtures import okx_account

private = private_fixtures.private

FIRST = Read(okx.FILLS, (("instType", "SWAP"), ("instId", "BTC-USDT-SWAP"), ("begin", "1000"), ("limit", "100")))


def page(*bill_ids: int, ts: int = 5_000) -> str:
    rows = [{"instId": "BTC-USDT-SWAP", "subType": "1", "billId": str(b), "ts": str(ts)} for b in bill_ids]
    return json.dumps({"code": "0", "msg": "", "data": rows})


def test_a_full_page_asks_for_the_fills_before_its_last_bill():
    following = okx.next_page(FIRST, page(*range(900, 800, -1)))
    assert following is not None and following.path == okx.FILLS
    assert dict(following.params) == {**dict(FIRST.params), "after": "801"}
    again = okx.next_page(following, page(*range(800, 700, -1)))
    assert again is not None and dict(again.params)["after"] == "701"  # the cursor moves, never repeats


def test_a_short_page_or_an_unreadable_one_ends_the_reading():
    assert okx.next_page(FIRST, page(*range(900, 850, -1))) is None  # fewer than 100: window covered
    assert okx.next_page(FIRST, page()) is None
    assert okx.next_page(FIRST, "not json") is None
    assert okx.next_page(FIRST, json.dumps({"code": "50011", "msg": "Too Many Requests", "data": []})) is None
    assert okx.next_page(FIRST, page(*range(900, 800, -1), ts=999)) is None  # older than begin: covered


@settings(max_examples=40, deadline=None)
@given(users_before=st.integers(0, 260), users_after=st.integers(0, 260), limit=st.sampled_from([1, 7, 100]))
def test_paging_the_emulated_fills_yields_every_fill_once_newest_first(users_before, users_after, limit):
    """Walking the emulator's pages with ``next_page`` covers the window exactly: every fill once,
    in the venue's order, and the forced one among them wherever it falls."""
    account = okx_account(positions=[EmuPosition("BTC-USDT-SWAP", "long", 10.0, 60_000.0, 60_000.0, 10.0)])
    for i in range(users_before):
        account.close("BTC-USDT-SWAP", "user", 60_000.0, size=0.01, now_ms=2_000 + i)
    account.close("BTC-USDT-SWAP", "liquidation", 45_000.0, size=0.5, now_ms=3_000)
    for i in range(users_after):
        account.close("BTC-USDT-SWAP", "user", 60_000.0, size=0.01, now_ms=4_000 + i)
    read: Read | None = Read(okx.FILLS, (("instType", "SWAP"), ("instId", "BTC-USDT-SWAP"), ("begin", "1000"),
                                         ("limit", str(limit))))
    seen: list[str] = []
    pairs = []
    while read is not None:
        text = json.dumps(private_body_of(account, okx.FILLS, dict(read.params), 10_000))
        pairs.append((read, text))
        seen.extend(row["billId"] for row in json.loads(text)["data"])
        read = okx.next_page(read, text)
    assert len(seen) == len(set(seen)) == users_before + 1 + users_after
    assert seen == sorted(seen, key=int, reverse=True)
    (close,) = okx.forced_closes(pairs, MapContext("main", "USDT", 5, {"BTC-USDT-SWAP": 0.01}))
    assert (close.cause, close.price, close.ts) == ("liquidation", 45_000.0, 3_000)


def fills_queries(private) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.query)) for r in private.endpoints.private("okx") if r.path == okx.FILLS]


@pytest.fixture
def rate_limited(monkeypatch):
    """The emulator enforces the endpoint's 60 requests per 2 s; every refusal is counted."""
    monkeypatch.setattr(okx_emulator, "FILLS_RATE", (60, 2.0))
    monkeypatch.setattr(okx_emulator, "_FILLS_SENT", {})
    refused: list[bool] = []
    real = okx_emulator.fills_limited

    def counted(account, now_s):
        limited = real(account, now_s)
        if limited:
            refused.append(True)
        return limited

    monkeypatch.setattr(okx_emulator, "fills_limited", counted)
    return refused


async def test_a_liquidation_behind_250_of_the_users_own_fills_is_found_on_page_three(private, rate_limited):
    """The acceptance test: the liquidation fill is the oldest of 251 since the shrink, so the first
    page (the 100 newest) holds none of it; the follower reads on to page 3 and reports it once."""
    held = private.account("okx")
    held.positions = [EmuPosition("BTC-USDT-SWAP", "long", 0.5, 60_000.0, 46_000.0, 10.0, liquidation_price=45_100.0)]
    follower = private.follower("okx")
    (state, *_) = await follower.fetch()
    assert isinstance(state, AccountState)
    held.close("BTC-USDT-SWAP", "liquidation", 45_050.5, size=0.2)
    for _ in range(250):  # the user trades the rest down in small pieces right after
        held.close("BTC-USDT-SWAP", "user", 46_000.0, size=0.0004)
    events = await follower.fetch()
    (close,) = [e for e in events if isinstance(e, ForcedClose)]
    assert (close.symbol, close.side, close.cause, close.price) == ("BTC-USDT-SWAP", "long", "liquidation", 45_050.5)
    assert close.size == pytest.approx(0.2) and close.remaining == pytest.approx(0.2)
    queries = fills_queries(private)
    assert [q.get("after") for q in queries][0] is None and len(queries) == 3  # pages 1, 2 and 3, no more
    assert len({q.get("after") for q in queries}) == 3 and all(q["instId"] == "BTC-USDT-SWAP" for q in queries)
    assert not rate_limited
    assert not [e for e in await follower.fetch() if isinstance(e, ForcedClose)]  # reported once


async def test_a_liquidation_in_300_pieces_is_reported_piece_by_piece_across_pages(private, rate_limited):
    held = private.account("okx")
    held.positions = [EmuPosition("BTC-USDT-SWAP", "long", 0.6, 60_000.0, 46_000.0, 10.0)]
    follower = private.follower("okx")
    await follower.fetch()
    start_ms = int(time.time() * 1000)
    for i in range(300):  # one piece a millisecond (ClosesWatch tells pieces apart by time, price, size)
        held.close("BTC-USDT-SWAP", "liquidation", 45_050.5, size=0.002, now_ms=start_ms + i)
    closes = [e for e in await follower.fetch() if isinstance(e, ForcedClose)]
    assert len(fills_queries(private)) == 4  # 100 + 100 + 100 + an empty last page
    assert len(closes) == 300 and sum(c.size for c in closes) == pytest.approx(0.6)
    assert [c.ts for c in closes] == sorted(c.ts for c in closes) and closes[-1].remaining == 0.0
    assert not rate_limited


async def test_pages_stop_at_the_cap_of_a_round_inside_the_rate_limit(private, rate_limited, caplog):
    held = private.account("okx")
    held.positions = [EmuPosition("BTC-USDT-SWAP", "long", 1.0, 60_000.0, 46_000.0, 10.0)]
    follower = private.follower("okx")
    await follower.fetch()
    held.close("BTC-USDT-SWAP", "liquidation", 45_050.5, size=0.2)
    for _ in range(100 * (okx.FILLS_PAGES + 2)):
        held.close("BTC-USDT-SWAP", "user", 46_000.0, size=0.0001)
    with caplog.at_level(logging.WARNING, logger="adlwatch.feeds.accounts.signed"):
        events = await follower.fetch()
    assert not [e for e in events if isinstance(e, ForcedClose)]  # beyond the cap: not this round
    assert len(fills_queries(private)) == 1 + okx.FILLS_PAGES
    assert any("further pages unread" in r.getMessage() for r in caplog.records)
    assert not rate_limited and 3 + 1 + okx.FILLS_PAGES <= okx_emulator.FILLS_RATE[0]
