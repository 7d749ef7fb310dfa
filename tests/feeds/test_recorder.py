import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import FeedStatus, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.feeds.queue import CoalescingQueue
from adlwatch.feeds.recorder import (
    Recorder,
    RecordingError,
    encode_line,
    read_recording,
    recording_parts,
    replay_events,
)
from adlwatch.feeds.tail import run_record


def test_lines_are_exactly_the_design_format(tmp_path):
    path = tmp_path / "raw.jsonl"
    with Recorder(path) as recorder:
        recorder.write("binance", '{"stream":"btcusdt@markPrice@1s"}', 123)
        recorder.write("binance", '{"openInterest":"1.5"}', 456, rest="/fapi/v1/openInterest")
    assert path.read_bytes() == (
        b'{"recv_ns":123,"venue":"binance","frame":"{\\"stream\\":\\"btcusdt@markPrice@1s\\"}"}\n'
        b'{"recv_ns":456,"venue":"binance","frame":"{\\"openInterest\\":\\"1.5\\"}","rest":"/fapi/v1/openInterest"}\n'
    )
    assert list(read_recording(path)) == [
        (123, "binance", '{"stream":"btcusdt@markPrice@1s"}', None),
        (456, "binance", '{"openInterest":"1.5"}', "/fapi/v1/openInterest"),
    ]


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path):
    path = tmp_path / "raw.jsonl"
    recorder = Recorder(path)
    try:
        recorder.write("okx", "pong", 1)
        assert path.read_text() == '{"recv_ns":1,"venue":"okx","frame":"pong"}\n'
    finally:
        recorder.close()


def test_recording_rotates_by_size_and_parts_read_back_in_order(tmp_path):
    path = tmp_path / "raw.jsonl"
    frames = [json.dumps({"n": i, "pad": "x" * 40}) for i in range(60)]
    with Recorder(path, max_bytes=500) as recorder:
        for i, frame in enumerate(frames):
            recorder(  # the recorder is itself a frame tap
                "bybit", frame, i)
    parts = recording_parts(path)
    assert parts[-1] == path and parts[0].name.startswith("raw.jsonl.")
    assert len(parts) > 5
    assert all(part.stat().st_size <= 500 for part in parts)
    replayed = [frame for part in parts for _, _, frame, _ in read_recording(part)]
    assert replayed == frames


def test_rotation_can_keep_a_limited_number_of_parts(tmp_path):
    path = tmp_path / "raw.jsonl"
    with Recorder(path, max_bytes=200, max_files=2) as recorder:
        for i in range(50):
            recorder.write("okx", f'{{"i":{i}}}' + " " * 50, i)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.jsonl", "raw.jsonl.1", "raw.jsonl.2"]
    last = [ns for part in recording_parts(path) for ns, *_ in read_recording(part)]
    assert last == sorted(last) and last[-1] == 49


def test_a_cut_off_last_line_is_skipped_but_a_bad_line_inside_is_an_error(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text('{"recv_ns":1,"venue":"okx","frame":"pong"}\n{"recv_ns":2,"venue":"ok')
    assert [ns for ns, *_ in read_recording(path)] == [1]
    path.write_text('{"recv_ns":1,"venue":"okx","frame":"pong"}\nnot json\n{"recv_ns":3,"venue":"okx","frame":"x"}\n')
    with pytest.raises(RecordingError) as error:
        list(read_recording(path))
    assert error.value.line == 2 and str(path) in str(error.value)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["binance", "okx"]), st.text(), st.integers(0, 2**63 - 1),
                          st.one_of(st.none(), st.just("/info"))), max_size=20))
def test_any_frame_text_round_trips_exactly(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("rt") / "raw.jsonl"
    with Recorder(path) as recorder:
        for venue, frame, recv_ns, rest in lines:
            recorder.write(venue, frame, recv_ns, rest=rest)
    assert list(read_recording(path)) == [(ns, v, f, r) for v, f, ns, r in lines]


def test_replay_uses_one_parser_per_venue_and_keeps_recv_ns(tmp_path):
    path = tmp_path / "raw.jsonl"
    snapshot = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1700000000000,
                "data": {"symbol": "BTCUSDT", "markPrice": "60000.5", "indexPrice": "60001",
                         "fundingRate": "0.0001", "nextFundingTime": "1700003600000",
                         "openInterest": "10", "openInterestValue": "600005"}}
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1700000000100,
             "data": {"symbol": "BTCUSDT", "markPrice": "60010"}}
    binance = {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 1700000000050,
               "s": "BTCUSDT", "p": "59990.1", "i": "59991", "P": "59990", "r": "0.0001", "T": 1700003600000}}
    with Recorder(path) as recorder:
        recorder.write("bybit", json.dumps(snapshot), 11)
        recorder.write("binance", json.dumps(binance), 22)  # another venue in between
        recorder.write("bybit", json.dumps(delta), 33)
        recorder.write("binance", '{"openInterest":"123.5","symbol":"BTCUSDT","time":1700000000000}', 44,
                       rest="/fapi/v1/openInterest")
    events = list(replay_events(path))
    marks = [(e.venue, e.price, e.recv_ns) for e in events if isinstance(e, MarkPrice)]
    assert marks == [("bybit", 60000.5, 11), ("binance", 59990.1, 22), ("bybit", 60010.0, 33)]
    [oi] = [e for e in events if isinstance(e, OpenInterest) and e.venue == "binance"]
    assert (oi.open_interest, oi.recv_ns) == (123.5, 44)
    assert not [e for e in events if isinstance(e, FeedStatus)]


def test_replay_matches_a_rest_body_to_the_right_poll_on_a_shared_path(tmp_path):
    path = tmp_path / "raw.jsonl"
    vault = {"portfolio": [["day", {"accountValueHistory": [[1700000000000, "380000000.5"]]}]]}
    with Recorder(path) as recorder:
        recorder.write("hyperliquid", json.dumps(vault), 5, rest="/info")
    [event] = list(replay_events(path))
    assert isinstance(event, InsuranceFund) and event.balance == 380000000.5 and event.recv_ns == 5


async def test_recording_through_an_outage_holds_every_frame_sent_while_connected(kit, tmp_path):
    path = tmp_path / "raw.jsonl"
    with Recorder(path) as recorder:
        async with kit.run("binance", ["BTCUSDT", "ETHUSDT"], on_frame=recorder.write) as feed:
            first = await kit.emu.wait_connected("binance")
            await kit.emu.wait_until(lambda: first.data_frames_sent >= 10)
            kit.emu.drop("binance")
            await feed.wait_for(kit.status("disconnected"))
            second = await kit.emu.wait_connected("binance", count=2, timeout=3.0)
            await kit.emu.wait_until(lambda: second.data_frames_sent >= 10)
            kit.emu.pause()
            sent = [text for conn in kit.emu.of("binance") for text in conn.sent]
            if recorder.frames < len(sent):  # the last frames may still be in flight
                await feed.wait_for(lambda e: recorder.frames >= len(sent), timeout=3.0)
    recorded = [frame for _, venue, frame, _ in read_recording(path) if venue == "binance"]
    assert len(recorded) == len(sent) == first.frames_sent + second.frames_sent
    assert recorded == sent


async def test_run_record_writes_socket_frames_and_rest_bodies(kit, tmp_path):
    path = tmp_path / "rec.jsonl"
    code = await run_record("okx", ["BTC-USDT-SWAP"], out_path=str(path), ws_url=kit.emu.ws_url("okx"),
                            rest_url=kit.emu.rest_url("okx"), duration_s=0.6, status_out=None)
    assert code == 0
    lines = list(read_recording(path))
    rest_paths = {rest for _, _, _, rest in lines if rest}
    assert {"/api/v5/public/mark-price", "/api/v5/public/open-interest"} <= rest_paths
    ws_frames = [frame for _, _, frame, rest in lines if rest is None]
    assert any('"channel":"mark-price"' in f for f in ws_frames)
    assert ws_frames == kit.emu.of("okx")[0].sent[: len(ws_frames)]


async def test_emulator_serves_a_recording_in_the_live_protocol(kit, tmp_path):
    # record a live bybit session, then serve that recording to a new client: same frames, same events
    path = tmp_path / "raw.jsonl"
    with Recorder(path) as recorder:
        async with kit.run("bybit", on_frame=recorder.write) as feed:
            await feed.wait_for(kit.kind("mark_price"), count=8)
    recorded = [frame for _, _, frame, _ in read_recording(path)]

    from adlwatch.feeds.emulator import Emulator

    replayed = []
    # Every mark, none coalesced: frames read together would otherwise replace each other in the queue.
    keep_all = CoalescingQueue(coalesce_kinds=frozenset())
    # No ping of its own while the recording plays: its pong would be a frame the recording lacks.
    quiet = kit.fast_heartbeat("bybit", interval_s=60.0, stale_after_s=5.0)
    async with Emulator(interval_s=0.01, recording=str(path)) as emu:
        kit.emu = emu
        async with kit.run("bybit", on_frame=lambda venue, text, recv_ns: replayed.append(text),
                           queue=keep_all, heartbeat=quiet) as feed:
            await emu.wait_until(lambda: emu.of("bybit") and emu.of("bybit")[0].frames_sent
                                 >= len(recorded) + 1, timeout=5.0)  # + its own subscribe ack
            await feed.wait_for(lambda e: len(replayed) >= len(recorded) + 1, timeout=3.0)
    assert replayed[1:] == recorded
    marks = [e.price for e in feed.events if isinstance(e, MarkPrice)]
    assert marks == [e.price for e in replay_events(path) if isinstance(e, MarkPrice)]


# --- reading a recording a chunk at a time is reading it line by line ---------------------------------

def _line_by_line(path) -> list[tuple]:
    """The format's definition, one line and one decode at a time: blank lines skipped, a cut-off
    last line dropped, a bad line raised (here: returned as ("error", its number))."""
    import msgspec

    from adlwatch.feeds.recorder import _decoder

    out = []
    raw_lines = path.read_bytes().split(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            line = _decoder.decode(raw)
        except (msgspec.DecodeError, ValueError):
            if number == len(raw_lines):  # no newline after it: cut off
                return out
            return out + [("error", number)]
        out.append((line.recv_ns, line.venue, line.frame, line.rest))
    return out


_recorded = st.builds(lambda ns, venue, frame, rest: encode_line(ns, venue, frame, rest)[:-1].decode(),
                      st.integers(0, 2**63), st.sampled_from(["okx", "bybit"]), st.text(max_size=30),
                      st.sampled_from([None, "/info"]))
_good_lines = st.one_of(_recorded, _recorded, st.builds(lambda ns, frame: json.dumps(
    {"venue": "okx", "recv_ns": ns, "frame": frame, "extra": [1]}), st.integers(0, 9), st.text(max_size=5)))
# Lines that must not pass as one object each, alone or together (a blank line beside a line of two
# objects, an object carried on to the next line beside one of two, ...).
_odd_lines = st.sampled_from([
    "", "   ", "\r", "not json", "[1]", '{"recv_ns":1,', '{"recv_ns":1,"venue":"okx"}',
    '{"recv_ns":1,"venue":"okx","frame":"a"}{"recv_ns":2,"venue":"okx","frame":"b"}',
    '{"recv_ns":1,"venue":"okx","frame":"a"} {"recv_ns":2,"venue":"okx","frame":"b"}',
    '{"recv_ns":1,"venue":"okx","frame":"a","z":', '{"recv_ns":2,"venue":"okx","frame":"b"}}',
    '{"recv_ns":1,"venue":"okx","frame":"a","z":{"q":1}', ',"y":2}', '{"recv_ns":3,"venue":"okx","frame":"c"',
    '}', '{"recv_ns":4,"venue":"okx","frame":"d"}  ',
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_good_lines, _good_lines, _odd_lines), max_size=14), newline_at_end=st.booleans(),
       crlf=st.booleans(), chunk=st.integers(1, 200))
def test_chunked_reading_is_line_by_line_reading(tmp_path_factory, monkeypatch, lines, newline_at_end, crlf, chunk):
    from adlwatch.feeds import recorder

    monkeypatch.setattr(recorder, "_CHUNK_BYTES", chunk)
    path = tmp_path_factory.mktemp("chunks") / "raw.jsonl"
    end = "\r\n" if crlf else "\n"
    path.write_bytes((end.join(lines) + (end if newline_at_end and lines else "")).encode())
    expected = _line_by_line(path)
    if expected and expected[-1][0] == "error":
        with pytest.raises(RecordingError) as error:
            list(read_recording(path))
        assert error.value.line == expected[-1][1]
    else:
        assert list(read_recording(path)) == expected


_DOUBLE = '{"recv_ns":8,"venue":"okx","frame":"a"}{"recv_ns":9,"venue":"okx","frame":"b"}'


@pytest.mark.parametrize("odd, bad_line", [
    (["", _DOUBLE], 3),  # a blank line makes up for the extra object of a line of two
    (['{"recv_ns":1,"venue":"okx","frame":"a","z":', '{"recv_ns":2,"venue":"okx","frame":"b"}}', _DOUBLE], 2),
    (['{"recv_ns":1,"venue":"okx","frame":"a","z":{"q":1}', ',"y":2}', _DOUBLE], 2),
    (["   ", _DOUBLE], 3),
])
def test_lines_that_only_add_up_to_one_object_each_are_still_bad_lines(tmp_path, odd, bad_line):
    path = tmp_path / "raw.jsonl"
    good = encode_line(1, "okx", "pong")
    path.write_bytes(good + b"\n".join(line.encode() for line in odd) + b"\n" + good)
    with pytest.raises(RecordingError) as error:
        list(read_recording(path))
    assert error.value.line == bad_line


def test_a_line_longer_than_a_chunk_and_a_gzip_file_read_whole(tmp_path, monkeypatch):
    from adlwatch.feeds import recorder

    monkeypatch.setattr(recorder, "_CHUNK_BYTES", 16)
    path = tmp_path / "raw.jsonl.gz"
    frames = ["x" * 200, "y", "z" * 50]
    with gzip.open(path, "wb") as out:
        for i, frame in enumerate(frames):
            out.write(json.dumps({"recv_ns": i, "venue": "okx", "frame": frame}).encode() + b"\n")
    assert [frame for _, _, frame, _ in read_recording(path)] == frames


def test_recording_events_are_replay_events_listed(tmp_path):
    from adlwatch.feeds.recorder import recording_events

    path = tmp_path / "raw.jsonl"
    frames = json.loads((Path(__file__).parent / "frames" / "bybit.json").read_text())["ws"]
    with Recorder(path) as recorder:
        for i, frame in enumerate(frames * 3):
            recorder.write("bybit", frame, i)
        recorder.write("nowhere", "{}", 99)  # an unknown venue: one error, then nothing
        recorder.write("nowhere", "{}", 100)
        recorder.write("binance", '{"openInterest":"1.5","symbol":"BTCUSDT","time":1}', 101,
                       rest="/fapi/v1/openInterest")
        recorder.write("binance", "garbage", 102)
    events = recording_events(path)
    assert events == list(replay_events(path))
    assert sum(isinstance(e, FeedStatus) and "unknown venue" in e.detail for e in events) == 1
    assert any(isinstance(e, OpenInterest) and e.venue == "binance" for e in events)
