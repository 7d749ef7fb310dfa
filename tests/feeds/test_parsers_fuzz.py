"""Parsers never raise and never emit a bad number, whatever arrives.

Inputs: arbitrary text and bytes, arbitrary JSON, and real frames (tests/feeds/frames/*.json, the
venues' documented examples) mutated by dropping keys, swapping values for random JSON, poisoning
numbers ("nan", "-1", "0", "1e999", ...) and truncating the text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    ADL_STATES,
    STATUS_STATES,
    AdlAlert,
    Event,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
    decode_event,
    encode_event,
)
from adlwatch.feeds.registry import ADAPTERS
from adlwatch.feeds.venue import RestPoll

FRAMES = {venue: json.loads((Path(__file__).parent / "frames" / f"{venue}.json").read_text())
          for venue in ADAPTERS}
VENUES = sorted(ADAPTERS)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
poison = st.sampled_from(["nan", "NaN", "-1", "0", "0.0", "-0", "inf", "-inf", "1e999", "", " ", "1,5", "0x10",
                          -1, 0, 1e308, -1e-300, True, None, [], {}, "１２３"])


def check(venue: str, events: Any, recv_ns: int) -> None:
    """The invariants every parser output must hold."""
    assert isinstance(events, list)
    errors = 0
    for event in events:
        assert isinstance(event, Event)
        assert event.venue == venue and isinstance(event.symbol, str)
        assert event.recv_ns == recv_ns
        assert event.ts is None or (type(event.ts) is int and event.ts > 0)
        assert isinstance(event, FeedStatus) or event.symbol  # data always names its contract
        if isinstance(event, (MarkPrice, IndexPrice)):
            assert type(event.price) is float and math.isfinite(event.price) and event.price > 0
        elif isinstance(event, FundingRate):
            assert type(event.rate) is float and math.isfinite(event.rate)
            assert event.next_funding_ts is None or event.next_funding_ts > 0
        elif isinstance(event, OpenInterest):
            assert math.isfinite(event.open_interest) and event.open_interest >= 0
            usd = event.open_interest_usd
            assert usd is None or (math.isfinite(usd) and usd >= 0)
        elif isinstance(event, InsuranceFund):
            assert math.isfinite(event.balance) and event.asset
            assert event.symbols and event.symbol == event.symbols[0] and all(event.symbols)
        elif isinstance(event, AdlAlert):
            assert event.state in ADL_STATES and isinstance(event.detail, dict)
        elif isinstance(event, FeedStatus):
            assert event.state in STATUS_STATES
            errors += event.state == "error"
        # every event is one valid `tail --json` line and survives the round trip
        assert decode_event(encode_event(event)) == event
    assert errors <= 1


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """One structural mutation at a random place in a JSON document (copied)."""
    doc = json.loads(json.dumps(doc))
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return data.draw(json_values)
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["drop", "swap", "poison"]))
    if action == "drop":
        del parent[path[-1]]
    elif action == "swap":
        parent[path[-1]] = data.draw(json_values)
    else:
        parent[path[-1]] = data.draw(poison)
    return doc


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _poison_numbers(doc: Any, data: st.DataObject) -> Any:
    """Replace some of the numbers (and numeric strings) anywhere in the document with poison."""
    if isinstance(doc, dict):
        return {k: _poison_numbers(v, data) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_poison_numbers(v, data) for v in doc]
    if _is_numeric(doc) and data.draw(st.integers(0, 3)) == 0:
        return data.draw(poison)
    return doc


@st.composite
def mutated_text(draw, texts: list[str]) -> str:
    text = draw(st.sampled_from(texts))
    data = draw(st.data())
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if doc is not None and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            doc = _mutate(doc, data)
        text = json.dumps(doc)
    elif doc is not None and draw(st.booleans()):
        text = json.dumps(_poison_numbers(doc, data))
    if draw(st.integers(0, 3)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


@pytest.mark.parametrize("venue", VENUES)
@FUZZ
@given(frame=st.one_of(st.text(), st.binary()), recv_ns=st.integers(0, 2**62))
def test_arbitrary_text_and_bytes_never_raise(venue, frame, recv_ns):
    events = ADAPTERS[venue].new_parser().parse(frame, recv_ns)
    check(venue, events, recv_ns)
    if frame not in ("pong", b"pong"):  # OKX's heartbeat reply is plain text
        # random input is never data: either nothing (an ack-like frame) or exactly one error
        assert all(isinstance(e, FeedStatus) for e in events) or events


@pytest.mark.parametrize("venue", VENUES)
@FUZZ
@given(doc=json_values, recv_ns=st.integers(0, 2**62))
def test_arbitrary_json_never_raises(venue, doc, recv_ns):
    check(venue, ADAPTERS[venue].new_parser().parse(json.dumps(doc), recv_ns), recv_ns)


@pytest.mark.parametrize("venue", VENUES)
@FUZZ
@given(data=st.data(), recv_ns=st.integers(0, 2**62), as_bytes=st.booleans())
def test_mutated_real_frames_never_raise_or_emit_bad_prices(venue, data, recv_ns, as_bytes):
    parser = ADAPTERS[venue].new_parser()  # one parser for a run: Bybit's merges deltas across frames
    frames = data.draw(st.lists(mutated_text(FRAMES[venue]["ws"]), min_size=1, max_size=4))
    for frame in frames:
        check(venue, parser.parse(frame.encode() if as_bytes else frame, recv_ns), recv_ns)


@pytest.mark.parametrize("venue", VENUES)
@FUZZ
@given(data=st.data(), recv_ns=st.integers(0, 2**62))
def test_mutated_rest_bodies_never_raise_or_emit_bad_prices(venue, data, recv_ns):
    adapter = ADAPTERS[venue]
    sample = data.draw(st.sampled_from(FRAMES[venue]["rest"]))
    poll = RestPoll(path=sample["path"], params=sample.get("params", {}), method=sample.get("method", "GET"),
                    json_body=sample.get("json_body"))
    body = data.draw(mutated_text([sample["body"]]))
    check(venue, adapter.parse_rest(poll, body, recv_ns), recv_ns)


@pytest.mark.parametrize("venue", VENUES)
def test_unmutated_real_frames_are_all_clean(venue):
    """The fixtures themselves parse without any error status (so the fuzz starts from good data)."""
    adapter = ADAPTERS[venue]
    parser = adapter.new_parser()
    data_events = 0
    for frame in FRAMES[venue]["ws"]:
        events = parser.parse(frame, 1)
        check(venue, events, 1)
        if '"event":"error"' not in frame:  # OKX's documented error reply is meant to become one
            assert not any(isinstance(e, FeedStatus) and e.state == "error" for e in events), frame
        data_events += sum(not isinstance(e, FeedStatus) for e in events)
    for sample in FRAMES[venue]["rest"]:
        poll = RestPoll(path=sample["path"], params=sample.get("params", {}), method=sample.get("method", "GET"),
                        json_body=sample.get("json_body"))
        events = adapter.parse_rest(poll, sample["body"], 2)
        check(venue, events, 2)
        assert events and not any(isinstance(e, FeedStatus) for e in events), sample["path"]
    assert data_events > 0


# --- typed fast paths: exactly the events of the general path ---------------------------------------

def _emulator_frames(venue: str, ticks: int = 6, extra_fields: bool = False) -> list[str]:
    """What the loopback emulator pushes for two symbols, snapshot first where the venue has one."""
    from adlwatch.feeds.emulator import EmuConnection, Emulator

    emulator = Emulator(seed=3, keep_frames=False)
    emulator.set_extra_fields(extra_fields)
    conn = EmuConnection(id=1, venue=venue, path="/", ws=None, keep_frames=False)
    conn.symbols = {"binance": ["BTCUSDT", "ETHUSDT"], "bybit": ["BTCUSDT", "ETHUSDT"],
                    "okx": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"], "hyperliquid": ["BTC", "ETH"]}[venue]
    return [frame for _ in range(ticks) for frame in emulator._data_frames(conn)]


SAMPLES = {venue: FRAMES[venue]["ws"] + _emulator_frames(venue) + _emulator_frames(venue, 2, extra_fields=True)
           for venue in VENUES}


def _general_path(venue: str):
    """``parse`` of a fresh parser with its typed fast path bypassed: the field-by-field path alone,
    behind the same never-raise guard."""
    from adlwatch.feeds.venues.binance import market as binance
    from adlwatch.feeds.wire import error_status, snippet

    parser = ADAPTERS[venue].new_parser()
    careful = binance._careful if venue == "binance" else parser._careful

    def parse(frame, recv_ns):
        try:
            return careful(frame, recv_ns)
        except Exception as exc:  # noqa: BLE001 - as the parsers' own guard
            return [error_status(venue, f"parser failure {type(exc).__name__}: {snippet(frame)}", recv_ns)]

    return parser, parse


@pytest.mark.parametrize("venue", VENUES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), recv_ns=st.integers(0, 2**62), as_bytes=st.booleans())
def test_fast_paths_give_exactly_the_events_of_the_general_path(venue, data, recv_ns, as_bytes):
    samples = SAMPLES[venue]
    frames = data.draw(st.lists(st.one_of(st.sampled_from(samples), mutated_text(samples)), min_size=1, max_size=8))
    fast = ADAPTERS[venue].new_parser()
    general_state, general = _general_path(venue)
    for frame in frames:
        wire = frame.encode() if as_bytes else frame
        assert fast.parse(wire, recv_ns) == general(wire, recv_ns), frame
    if venue == "bybit":  # the merged tickers a later delta completes from are the same too
        assert fast.tickers == general_state.tickers


@pytest.mark.parametrize("venue", VENUES)
def test_the_emulator_frames_take_the_fast_path(venue, monkeypatch):
    """The equality above is not vacuous: the mark frames a firehose is made of never reach the general
    path (OKX open interest, every fifth tick, has no fast path)."""
    parser = ADAPTERS[venue].new_parser()
    if venue == "binance":
        from adlwatch.feeds.venues.binance import market as binance

        monkeypatch.setattr(binance, "_careful", lambda *a: pytest.fail("general path taken"))
    else:
        monkeypatch.setattr(parser, "_careful", lambda *a: pytest.fail("general path taken"))
    for frame in _emulator_frames(venue):
        if '"open-interest"' in frame:
            continue
        events = parser.parse(frame, 9)
        assert events and not any(isinstance(e, FeedStatus) for e in events)


# --- skip: the kinds a consumer does not want are not built, and nothing else changes -----------------

SKIPS = [frozenset({"index_price", "funding_rate"}), frozenset({"index_price"}), frozenset({"funding_rate"}),
         frozenset({"mark_price"}), frozenset({"open_interest", "funding_rate"}), frozenset({"status"})]


@pytest.mark.parametrize("venue", VENUES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), recv_ns=st.integers(0, 2**62), skip=st.sampled_from(SKIPS))
def test_a_parser_with_skip_gives_the_same_events_less_the_skipped_kinds(venue, data, recv_ns, skip):
    samples = SAMPLES[venue]
    frames = data.draw(st.lists(st.one_of(st.sampled_from(samples), mutated_text(samples)), min_size=1, max_size=8))
    full, lean = ADAPTERS[venue].new_parser(), ADAPTERS[venue].new_parser(skip)
    for frame in frames:
        every = full.parse(frame, recv_ns)
        expected = [e for e in every if e.kind not in skip or e.kind == "status"] or every  # a sign of life
        assert lean.parse(frame, recv_ns) == expected, frame
    if venue == "bybit":  # skipping changes nothing a later delta is completed from
        assert lean.tickers == full.tickers


def test_a_bybit_delta_with_only_skipped_fields_still_names_its_contract():
    """The live connection's stale clock runs per contract, on events: a delta that changed only the
    index price keeps its events under the monitor's skip, so a quiet mark is not taken for a dead feed."""
    from adlwatch.engine.events import MONITOR_SKIPS

    lean = ADAPTERS["bybit"].new_parser(MONITOR_SKIPS)
    snapshot = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1, "cs": 1,
                "data": {"symbol": "BTCUSDT", "markPrice": "60000.0", "indexPrice": "59990.0", "fundingRate": "0.0001",
                         "nextFundingTime": "1700000000000"}}
    # the monitor wants funding (issue 15); only the index is skipped
    assert [e.kind for e in lean.parse(json.dumps(snapshot), 1)] == ["mark_price", "funding_rate"]
    index_only = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 2, "cs": 2,
                  "data": {"symbol": "BTCUSDT", "indexPrice": "59995.0"}}
    [event] = lean.parse(json.dumps(index_only), 2)
    assert (event.kind, event.symbol, event.price) == ("index_price", "BTCUSDT", 59995.0)
    nothing = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 3, "cs": 3,
               "data": {"symbol": "BTCUSDT", "turnover24h": "1.0"}}
    assert lean.parse(json.dumps(nothing), 3) == []  # as without skip: no data field changed


@pytest.mark.parametrize("venue", VENUES)
def test_the_monitor_skip_drops_what_the_full_parser_builds(venue):
    """Not vacuous: the emulator's frames do carry index prices or funding rates (all venues but OKX,
    whose mark channel has neither), and the monitor's parser builds none of them."""
    from adlwatch.engine.events import MONITOR_SKIPS

    full, lean = ADAPTERS[venue].new_parser(), ADAPTERS[venue].new_parser(MONITOR_SKIPS)
    frames = _emulator_frames(venue)
    built = {e.kind for f in frames for e in full.parse(f, 1)}
    kept = {e.kind for f in frames for e in lean.parse(f, 1)}
    assert "mark_price" in kept and not kept & MONITOR_SKIPS
    assert venue == "okx" or built & MONITOR_SKIPS
