import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AdlAlert, FeedStatus, MarkPrice, OpenInterest
from adlwatch.feeds.queue import CoalescingQueue, QueueClosed


def mark(symbol: str, price: float, venue: str = "binance") -> MarkPrice:
    return MarkPrice(venue=venue, symbol=symbol, ts=1, recv_ns=1, price=price)


def status(detail: str, symbol: str = "BTCUSDT") -> FeedStatus:
    return FeedStatus(venue="binance", symbol=symbol, ts=None, state="error", detail=detail)


def drain(queue: CoalescingQueue) -> list:
    out = []
    while len(queue):
        out.append(queue.get_nowait())
    return out


def test_marks_for_one_symbol_coalesce_to_the_latest_while_the_consumer_is_behind():
    queue = CoalescingQueue()
    for i in range(1000):
        queue.put_nowait(mark("BTCUSDT", 60000.0 + i))
        queue.put_nowait(mark("ETHUSDT", 3000.0 + i))
    assert len(queue) == 2
    got = drain(queue)
    assert [(e.symbol, e.price) for e in got] == [("BTCUSDT", 60999.0), ("ETHUSDT", 3999.0)]
    assert queue.coalesced == 2 * 999
    assert queue.dropped == 0


def test_same_symbol_on_two_venues_is_kept_apart():
    queue = CoalescingQueue()
    queue.put_nowait(mark("BTC", 1.0, venue="hyperliquid"))
    queue.put_nowait(mark("BTC", 2.0, venue="okx"))
    assert sorted(e.venue for e in drain(queue)) == ["hyperliquid", "okx"]


def test_a_mark_taken_by_the_consumer_is_not_replaced_by_the_next_one():
    queue = CoalescingQueue()
    queue.put_nowait(mark("BTCUSDT", 1.0))
    assert queue.get_nowait().price == 1.0
    queue.put_nowait(mark("BTCUSDT", 2.0))
    assert queue.get_nowait().price == 2.0
    assert queue.coalesced == 0


def test_status_and_adl_events_keep_their_order_and_are_never_coalesced():
    queue = CoalescingQueue()
    queue.put_nowait(status("a"))
    queue.put_nowait(AdlAlert(venue="bybit", symbol="BTCUSDT", ts=1, state="warning"))
    queue.put_nowait(status("b"))
    queue.put_nowait(status("c"))
    got = drain(queue)
    assert [e.detail if e.kind == "status" else e.kind for e in got] == ["a", "adl_alert", "b", "c"]


def test_the_buffer_is_bounded_and_drops_the_oldest():
    queue = CoalescingQueue(maxsize=10)
    for i in range(100):
        queue.put_nowait(status(str(i)))
    assert len(queue) == 10
    assert queue.dropped == 90
    assert [e.detail for e in drain(queue)] == [str(i) for i in range(90, 100)]


def test_many_symbols_beyond_the_bound_stay_bounded():
    queue = CoalescingQueue(maxsize=5)
    for i in range(50):
        queue.put_nowait(mark(f"S{i}", float(i + 1)))
    assert len(queue) == 5
    assert [e.symbol for e in drain(queue)] == [f"S{i}" for i in range(45, 50)]


async def test_get_waits_for_a_put_and_close_ends_iteration_after_draining():
    queue = CoalescingQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # let the getter start waiting (ordering, not timing)
    assert not waiter.done()
    queue.put_nowait(mark("BTCUSDT", 5.0))
    assert (await asyncio.wait_for(waiter, 1.0)).price == 5.0

    queue.put_nowait(OpenInterest(venue="okx", symbol="BTC-USDT-SWAP", ts=1, open_interest=1.0))
    queue.close()
    got = [e async for e in queue]
    assert [e.kind for e in got] == ["open_interest"]
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(queue.get(), 1.0)
    queue.put_nowait(mark("BTCUSDT", 6.0))  # ignored after close
    assert len(queue) == 0


_events = st.one_of(
    st.builds(lambda s, p: mark(s, p), st.sampled_from(["A", "B", "C"]), st.floats(1, 1e6)),
    st.builds(lambda d: status(d), st.text(max_size=3)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_events, max_size=200), st.integers(min_value=1, max_value=20))
def test_queue_never_exceeds_its_bound_and_without_drops_delivers_each_symbols_last_mark(events, maxsize):
    queue = CoalescingQueue(maxsize=maxsize)
    for event in events:
        queue.put_nowait(event)
        assert len(queue) <= maxsize
    got = drain(queue)
    assert len(got) + queue.dropped + queue.coalesced == len(events)
    if queue.dropped == 0:
        last = {e.symbol: e.price for e in events if isinstance(e, MarkPrice)}
        assert {e.symbol: e.price for e in got if isinstance(e, MarkPrice)} == last
        assert [e for e in got if isinstance(e, FeedStatus)] == [e for e in events if isinstance(e, FeedStatus)]


def test_a_followed_accounts_states_coalesce_per_account():
    from adlwatch.engine.events import AccountState

    queue = CoalescingQueue()

    def state(ref: str, wallet: float) -> AccountState:
        return AccountState(venue="hyperliquid", symbol=ref, ts=None, settle="USDC", wallet_balance=wallet)

    for wallet in (1.0, 2.0, 3.0):
        queue.put_nowait(state("0xaa", wallet))
    queue.put_nowait(state("0xbb", 9.0))
    got = [queue.get_nowait(), queue.get_nowait()]
    assert [(e.symbol, e.wallet_balance) for e in got] == [("0xaa", 3.0), ("0xbb", 9.0)]
    assert len(queue) == 0 and queue.coalesced == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_events, max_size=6), max_size=40), st.integers(min_value=1, max_value=20),
       st.sampled_from([frozenset(), frozenset({"status"})]))
def test_put_all_is_put_nowait_of_each_event_in_turn(frames, maxsize, ignore):
    one_by_one = CoalescingQueue(maxsize=maxsize, ignore_kinds=ignore)
    together = CoalescingQueue(maxsize=maxsize, ignore_kinds=ignore)
    for events in frames:
        for event in events:
            one_by_one.put_nowait(event)
        together.put_all(events)
    assert (together.coalesced, together.dropped) == (one_by_one.coalesced, one_by_one.dropped)
    assert drain(together) == drain(one_by_one)


async def test_put_all_of_nothing_new_does_not_wake_the_consumer():
    queue = CoalescingQueue(ignore_kinds=frozenset({"status"}))
    queue.put_all([status("ignored")])
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(queue.get(), 0.05)
    queue.put_all([mark("BTCUSDT", 1.0)])
    assert (await asyncio.wait_for(queue.get(), 1.0)).price == 1.0
