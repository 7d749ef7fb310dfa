"""Replay formats (raw, Tardis derivative_ticker, Binance klines) and the replay clock.

Nothing here sleeps for timing: asynchronous tests hand off through asyncio.Event and bound every
wait with asyncio.wait_for.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import FeedStatus, FundingRate, IndexPrice, MarkPrice, OpenInterest
from adlwatch.feeds.replay import (
    KLINE_COLUMNS,
    TARDIS_COLUMNS,
    ReplayData,
    ReplaySource,
    detect_format,
    event_time_ms,
    kline_symbol_from_name,
    load_replay,
)

FIXTURES = Path(__file__).parent / "fixtures"
TARDIS = FIXTURES / "tardis_derivative_ticker.csv"
KLINES_HEADER = FIXTURES / "BTCUSDT-1m-2025-10-10.csv"
KLINES_NO_HEADER = FIXTURES / "BTCUSDT-1m-2021-03-01.csv"
KLINES_US = FIXTURES / "BTCUSDT-1m-2025-01-01.csv"
RAW = FIXTURES / "raw_recording.jsonl"


def mark(venue, symbol, ts, recv_ns, price):
    return MarkPrice(venue=venue, symbol=symbol, ts=ts, recv_ns=recv_ns, price=price)


# --- detection ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "kind"), [
    (RAW, "raw"), (TARDIS, "tardis"), (KLINES_HEADER, "binance_klines"),
    (KLINES_NO_HEADER, "binance_klines"), (KLINES_US, "binance_klines"),
])
def test_each_format_is_detected_from_content(path, kind):
    assert detect_format(path) == kind


def test_format_is_told_by_content_not_name(tmp_path):
    disguised = tmp_path / "recording.csv"
    shutil.copy(RAW, disguised)
    assert detect_format(disguised) == "raw"
    gz = tmp_path / "anything.bin"
    gz.write_bytes(gzip.compress(TARDIS.read_bytes()))
    assert detect_format(gz) == "tardis"


@pytest.mark.parametrize("content", [
    b"hello world\n",
    b"",
    b"\n\n  \n",
    b"\xff\xfe\x00garbage",
    b"ts_ms,price,low,high,n_trades,qty\n1760128800697,259.35,259.35,259.35,6,91\n",  # our derived 1 s series
    b'{"not": "a raw line"}\n',
    b"1,2,3\n",
])
def test_anything_else_is_an_input_error_naming_the_file(tmp_path, content):
    path = tmp_path / "mystery.dat"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        detect_format(path)
    assert err.value.file == str(path)
    assert "mystery.dat" in str(err.value)
    assert "expected" in str(err.value)
    with pytest.raises(InputError):
        load_replay(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        load_replay(tmp_path / "nope.jsonl")
    assert "nope.jsonl" in str(err.value)


# --- Tardis derivative_ticker -------------------------------------------------------------------------

def test_tardis_rows_become_mark_index_funding_and_oi_where_non_empty():
    data = load_replay(TARDIS)
    assert data.format == "tardis"
    # µs -> ms for ts, µs -> ns for recv_ns; sorted by exchange time (the OKX row is earliest)
    b1 = dict(venue="binance", symbol="BTCUSDT", ts=1760131200000, recv_ns=1760131200012345000)
    by = dict(venue="bybit", symbol="BTCUSDT", ts=1760131200500, recv_ns=1760131200600000000)
    b2 = dict(venue="binance", symbol="BTCUSDT", ts=1760131201000, recv_ns=1760131201003000000)
    hl = dict(venue="hyperliquid", symbol="BTC", ts=1760131202000, recv_ns=1760131202050000000)
    assert data.events == [
        MarkPrice(venue="okx", symbol="BTC-USDT-SWAP", ts=1760131199000, recv_ns=1760131199100000000,
                  price=104499.9),
        MarkPrice(**b1, price=104505.3),
        IndexPrice(**b1, price=104510.2),
        FundingRate(**b1, rate=0.0001, next_funding_ts=1760140800000),
        OpenInterest(**b1, open_interest=95000.5, open_interest_usd=None),
        MarkPrice(**by, price=104485.0),
        IndexPrice(**by, price=104490.0),
        FundingRate(**by, rate=-0.00005, next_funding_ts=1760140800000),
        OpenInterest(**by, open_interest=51000.0),
        MarkPrice(**b2, price=104401.25),  # empty open_interest: no OpenInterest event
        IndexPrice(**b2, price=104410.5),
        FundingRate(**b2, rate=0.0001, next_funding_ts=1760140800000),
        MarkPrice(**hl, price=104310.0),
        IndexPrice(**hl, price=104300.0),
        # no funding_timestamp for Hyperliquid: the next whole hour after the row's local time
        FundingRate(**hl, rate=0.0000125, next_funding_ts=1760133600000),
        OpenInterest(**hl, open_interest=2500.5),
    ]
    assert data.start_ms == 1760131199000 and data.end_ms == 1760131202000
    assert data.symbols == {("okx", "BTC-USDT-SWAP"), ("binance", "BTCUSDT"), ("bybit", "BTCUSDT"),
                            ("hyperliquid", "BTC")}


def test_tardis_venue_and_symbol_filters():
    only_binance = load_replay(TARDIS, venue="binance")
    assert {e.venue for e in only_binance.events} == {"binance"} and len(only_binance.events) == 7
    both = load_replay(TARDIS, venue="bybit", symbol="btcusdt")
    assert {(e.venue, e.symbol) for e in both.events} == {("bybit", "BTCUSDT")}
    with pytest.raises(InputError, match="no events"):
        load_replay(TARDIS, venue="okx", symbol="BTCUSDT")


def test_tardis_exchange_names_map_to_our_venues(tmp_path):
    header = ",".join(TARDIS_COLUMNS)
    rows = [f"{ex},X,1760131200000000,,,,,,,,1.5" for ex in
            ("binance-futures", "binance-delivery", "bybit", "okex-swap", "okx-swap", "hyperliquid")]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    assert [e.venue for e in load_replay(path).events] == ["binance", "binance", "bybit", "okx", "okx",
                                                           "hyperliquid"]
    # no local_timestamp: the receive time falls back to the exchange time
    assert load_replay(path).events[0].recv_ns == 1760131200000 * 1_000_000


@pytest.mark.parametrize(("line3", "field"), [
    ("bybit,BTCUSDT,1760131200500000,1760131200600000,,,,,,,abc", "mark_price"),
    ("bybit,BTCUSDT,1760131200500000,1760131200600000,,,,,,,-5", "mark_price"),
    ("deribit,BTC-PERPETUAL,1760131200500000,1760131200600000,,,,,,,100", "exchange"),
    ("bybit,BTCUSDT,soon,1760131200600000,,,,,,,100", "timestamp"),
    ("bybit,BTCUSDT,1760131200500000,1760131200600000,,,,-1,,,100", "open_interest"),
])
def test_a_bad_tardis_row_names_file_line_and_field(tmp_path, line3, field):
    lines = TARDIS.read_text().splitlines()
    lines[2] = line3
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_replay(path)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 3, field)


def test_a_tardis_row_with_too_many_columns_names_its_line(tmp_path):
    lines = TARDIS.read_text().splitlines()
    lines[4] += ",extra"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_replay(path)
    assert err.value.line == 5 and "columns" in str(err.value)


# --- Binance klines ------------------------------------------------------------------------------------

def test_klines_with_header_give_one_mark_per_row_at_close_time():
    data = load_replay(KLINES_HEADER)
    assert data.format == "binance_klines"
    assert data.events == [
        mark("binance", "BTCUSDT", 1760126459999, 1760126459999000000, 116684.13914728),
        mark("binance", "BTCUSDT", 1760126519999, 1760126519999000000, 116704.43422894),
        mark("binance", "BTCUSDT", 1760126579999, 1760126579999000000, 116655.5),
    ]


def test_klines_without_header_read_the_same_way():
    assert load_replay(KLINES_NO_HEADER).events == [
        mark("binance", "BTCUSDT", 1614556859999, 1614556859999000000, 45180.3),
        mark("binance", "BTCUSDT", 1614556919999, 1614556919999000000, 45060.9),
        mark("binance", "BTCUSDT", 1614556979999, 1614556979999000000, 45099.99),
    ]


def test_microsecond_klines_are_converted_to_ms():
    assert load_replay(KLINES_US).events == [
        mark("binance", "BTCUSDT", 1735689659999, 1735689659999000000, 93610.93),
        mark("binance", "BTCUSDT", 1735689719999, 1735689719999000000, 93648.01),
    ]


def test_kline_symbol_comes_from_the_name_or_the_argument(tmp_path):
    assert kline_symbol_from_name("x/BTCUSD_PERP-1m-2025-10-10.csv") == "BTCUSD_PERP"
    assert kline_symbol_from_name("BTCUSDT-1m-2025-10-10.zip") == "BTCUSDT"
    assert kline_symbol_from_name("prices.csv") is None
    coinm = tmp_path / "BTCUSD_PERP-1m-2025-10-10.csv"
    shutil.copy(KLINES_HEADER, coinm)
    assert load_replay(coinm).symbols == {("binance", "BTCUSD_PERP")}
    assert load_replay(coinm, symbol="ethusdt").symbols == {("binance", "ETHUSDT")}
    anonymous = tmp_path / "prices.csv"
    shutil.copy(KLINES_HEADER, anonymous)
    with pytest.raises(InputError, match="symbol"):
        load_replay(anonymous)
    assert load_replay(anonymous, symbol="BTCUSDT").symbols == {("binance", "BTCUSDT")}
    with pytest.raises(InputError, match="binance"):
        load_replay(coinm, venue="okx")


def test_klines_inside_a_binance_vision_zip(tmp_path):
    path = tmp_path / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(KLINES_HEADER, "BTCUSDT-1m-2025-10-10.csv")
    assert load_replay(path).events == load_replay(KLINES_HEADER).events


def test_a_bad_kline_row_names_its_line(tmp_path):
    lines = KLINES_HEADER.read_text().splitlines()
    lines[2] = lines[2].replace("116704.43422894,0,", "oops,0,", 1)
    path = tmp_path / "BTCUSDT-1m-2025-10-10.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_replay(path)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 3, "close")


def test_loading_is_fast(tmp_path):
    # Rough guard against a pathological slowdown; typical is ~1M events/s (target >= 300k/s).
    path = tmp_path / "BTCUSDT-1m-2020-01-01.csv"
    rows = [",".join(KLINE_COLUMNS)]
    rows += [f"{t},1.5,2.5,1.0,{2 + k % 7},0,{t + 59_999},0,60,0,0,0"
             for k, t in enumerate(range(1_577_836_800_000, 1_577_836_800_000 + 200_000 * 60_000, 60_000))]
    path.write_text("\n".join(rows) + "\n")
    load_replay(KLINES_HEADER)  # warm the imports
    started = time.perf_counter()
    data = load_replay(path)
    rate = len(data.events) / (time.perf_counter() - started)
    assert len(data.events) == 200_000
    assert rate > 100_000


# --- raw-frame recordings -----------------------------------------------------------------------------

RAW_EVENTS = [  # the recording's frames through the Binance parser, sorted by exchange time
    mark("binance", "BTCUSDT", 1562305379000, 1562305379500000000, 11790.0),
    IndexPrice(venue="binance", symbol="BTCUSDT", ts=1562305379000, recv_ns=1562305379500000000, price=11780.0),
    FundingRate(venue="binance", symbol="BTCUSDT", ts=1562305379000, recv_ns=1562305379500000000, rate=0.00038,
                next_funding_ts=1562306400000),
    mark("binance", "BTCUSDT", 1562305380000, 1562305380100000000, 11794.15),
    IndexPrice(venue="binance", symbol="BTCUSDT", ts=1562305380000, recv_ns=1562305380100000000,
               price=11784.62659091),
    FundingRate(venue="binance", symbol="BTCUSDT", ts=1562305380000, recv_ns=1562305380100000000,
                rate=0.00038167, next_funding_ts=1562306400000),
    mark("binance", "ETHUSDT", 1562305381000, 1562305381200000000, 300.5),
    IndexPrice(venue="binance", symbol="ETHUSDT", ts=1562305381000, recv_ns=1562305381200000000, price=300.1),
    FundingRate(venue="binance", symbol="ETHUSDT", ts=1562305381000, recv_ns=1562305381200000000, rate=0.0001,
                next_funding_ts=1562306400000),
    # the malformed frame: a status event at its receive time (it has no exchange time)
    FeedStatus(venue="binance", symbol="", ts=None, recv_ns=1562305381500000000, state="error",
               detail="not JSON: {not json"),
    OpenInterest(venue="binance", symbol="BTCUSDT", ts=1562305381900, recv_ns=1562305382000000000,
                 open_interest=10659.509),
]


def test_raw_recording_replays_through_the_venue_parser():
    data = load_replay(RAW)
    assert data.format == "raw"
    assert data.events == RAW_EVENTS
    assert (data.start_ms, data.end_ms) == (1562305379000, 1562305381900)
    assert data.symbols == {("binance", "BTCUSDT"), ("binance", "ETHUSDT")}
    assert [event_time_ms(e) for e in data.events] == data.times_ms


def test_gzip_raw_recording_gives_the_same_events(tmp_path):
    path = tmp_path / "raw.jsonl.gz"
    path.write_bytes(gzip.compress(RAW.read_bytes()))
    assert detect_format(path) == "raw"
    assert load_replay(path).events == RAW_EVENTS
    assert load_replay(path, symbol="ETHUSDT").events == load_replay(RAW, symbol="ETHUSDT").events


@pytest.mark.parametrize("gz", [False, True])
def test_progress_counts_up_to_the_whole_file_and_changes_nothing(tmp_path, monkeypatch, gz):
    """A reader who waits hears the share read after every chunk: rising, ending at 1, and the events
    are those of a load without it (plain and gzip, where the share is of the compressed bytes)."""
    from adlwatch.feeds import recorder

    monkeypatch.setattr(recorder, "_CHUNK_BYTES", 512)  # several chunks from the small fixture
    path = tmp_path / ("raw.jsonl.gz" if gz else "raw.jsonl")
    path.write_bytes(gzip.compress(RAW.read_bytes()) if gz else RAW.read_bytes())
    shares: list[float] = []
    data = load_replay(path, progress=shares.append)
    assert data.events == RAW_EVENTS
    assert shares and shares == sorted(shares) and shares[-1] == 1.0
    if not gz:  # gzip reads its compressed input ahead in big blocks: a small file is "read" at once
        assert len(shares) >= 2 and 0.0 < shares[0] < 1.0


def test_raw_symbol_filter_keeps_status_events():
    events = load_replay(RAW, symbol="ethusdt").events
    assert {e.symbol for e in events if not isinstance(e, FeedStatus)} == {"ETHUSDT"}
    assert any(isinstance(e, FeedStatus) for e in events)


def test_a_bad_line_in_a_gzip_recording_names_file_and_line(tmp_path):
    path = tmp_path / "raw.jsonl.gz"
    path.write_bytes(gzip.compress(RAW.read_bytes() + b"this is not json\n"))
    with pytest.raises(InputError) as err:
        load_replay(path)
    assert (err.value.file, err.value.line) == (str(path), 7)


# --- hypothesis: arbitrary bytes ------------------------------------------------------------------------

PREFIXES = [b"", (",".join(TARDIS_COLUMNS) + "\n").encode(), (",".join(KLINE_COLUMNS) + "\n").encode(),
            b"1614556800000,1,1,1,1,0,1614556859999,0,60,0,0,0\n", RAW.read_bytes().splitlines(True)[0]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=400), gz=st.booleans())
def test_arbitrary_bytes_never_raise_anything_but_input_error(prefix, body, gz):
    content = prefix + body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "BTCUSDT-1m-2025-10-10.csv"
        path.write_bytes(gzip.compress(content) if gz else content)
        try:
            data = load_replay(path)
        except InputError as err:
            assert err.file == str(path)
        else:
            assert data.events and data.start_ms <= data.end_ms


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from(["", "0", "-1", "1.5", "1760131200000000", "nan", "inf", "x",
                                               "binance-futures", "BTCUSDT", " 7", "1e3"]),
                              min_size=10, max_size=12), max_size=5))
def test_csv_like_cells_never_raise_anything_but_input_error(rows):
    for header in (TARDIS_COLUMNS, KLINE_COLUMNS):
        text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "BTCUSDT-1m-2025-10-10.csv"
            path.write_text(text)
            try:
                load_replay(path)
            except InputError:
                pass


# --- ReplaySource -------------------------------------------------------------------------------------

def ticks(n: int = 10, step_ms: int = 1000, start_ms: int = 1_000_000) -> ReplayData:
    events = [mark("binance", "BTCUSDT" if i % 2 == 0 else "ETHUSDT", start_ms + i * step_ms, 0, 100.0 + i)
              for i in range(n)]
    return ReplayData.from_events(events, format="raw")


def test_advance_to_emits_in_order_exactly_once():
    data = ticks(10)
    source = ReplaySource(data)
    got = []
    assert source.advance_to(data.start_ms + 2500, got.append) == 3
    assert source.advance_to(data.start_ms + 2500, got.append) == 0  # nothing twice
    assert source.advance_to(data.start_ms + 1000, got.append) == 0  # never backwards
    assert source.position_ms == data.start_ms + 2500
    assert not source.finished
    assert source.advance_to(data.end_ms + 10_000, got.append) == 7
    assert got == data.events
    assert source.finished and source.progress == 1.0


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(-2000, 12_000), max_size=6), seek=st.one_of(st.none(), st.integers(0, 10_000)))
def test_take_until_delivers_what_advance_to_would(cuts, seek):
    """The batch form moves the same cursor and the same clock, and yields the same events in order."""
    data = ticks(10)
    one, batch = ReplaySource(data), ReplaySource(data)
    for i, cut in enumerate(cuts):
        if seek is not None and i == 1:
            one.seek(data.start_ms + seek)
            batch.seek(data.start_ms + seek)
        got: list = []
        one.advance_to(data.start_ms + cut, got.append)
        assert batch.take_until(data.start_ms + cut) == got
        assert (batch.emitted, batch.position_ms, batch.finished) == (one.emitted, one.position_ms, one.finished)
    assert batch.take_until(data.end_ms) == data.events[one.emitted:] and batch.finished


def test_events_with_equal_times_keep_file_order():
    events = [mark("binance", s, 5, 0, 1.0) for s in ("A", "B", "C")] + [mark("binance", "Z", 1, 0, 1.0)]
    data = ReplayData.from_events(events, format="raw")
    assert [e.symbol for e in data.events] == ["Z", "A", "B", "C"]


async def test_speed_inf_drains_everything_immediately():
    data = ticks(5000, step_ms=3_600_000)  # ~208 days of replay time
    source = ReplaySource(data, speed=math.inf)
    got = []
    await asyncio.wait_for(source.run(got.append), 5.0)
    assert got == data.events
    assert source.finished and source.position_ms == data.end_ms


async def test_pause_stops_run_emitting_and_play_resumes():
    data = ticks(20)
    source = ReplaySource(data, speed=math.inf)
    got = []
    paused = asyncio.Event()

    def emit(event):
        got.append(event)
        if len(got) == 5:
            source.pause()
            paused.set()

    task = asyncio.create_task(source.run(emit))
    await asyncio.wait_for(paused.wait(), 5.0)
    for _ in range(20):  # give run every chance to (wrongly) go on
        await asyncio.sleep(0)
    assert len(got) == 5 and not source.playing
    assert not task.done()  # alive while paused
    source.play()
    await asyncio.wait_for(task, 5.0)
    assert got == data.events


async def test_a_control_change_wakes_a_waiting_run_at_once():
    data = ticks(3, step_ms=3_600_000)  # an hour between events: at speed 1 run would wait an hour
    source = ReplaySource(data, speed=1)
    got = []
    first = asyncio.Event()

    def emit(event):
        got.append(event)
        first.set()

    task = asyncio.create_task(source.run(emit))
    await asyncio.wait_for(first.wait(), 5.0)
    assert len(got) == 1
    source.set_speed(math.inf)
    await asyncio.wait_for(task, 5.0)
    assert got == data.events


async def test_run_stays_alive_while_paused_and_seek_then_play_skips():
    data = ticks(10)
    source = ReplaySource(data, speed=math.inf, playing=False)
    got = []
    task = asyncio.create_task(source.run(got.append))
    for _ in range(10):
        await asyncio.sleep(0)
    assert got == [] and not task.done()
    source.seek(data.start_ms + 6000)
    source.play()
    await asyncio.wait_for(task, 5.0)
    assert got == data.events[7:]


async def test_clock_runs_at_speed_under_run_and_stands_still_when_paused():
    now = [100.0]
    data = ticks(10, step_ms=3_600_000)  # an hour apart: run waits between events
    span = data.end_ms - data.start_ms
    source = ReplaySource(data, speed=10, clock=lambda: now[0])
    first = asyncio.Event()
    task = asyncio.create_task(source.run(lambda e: first.set()))
    await asyncio.wait_for(first.wait(), 5.0)
    now[0] += 0.5  # 0.5 s at 10x = 5 s of replay
    assert source.position_ms == data.start_ms + 5000
    assert source.progress == pytest.approx(5000 / span)
    source.pause()
    now[0] += 100
    assert source.position_ms == data.start_ms + 5000
    source.toggle()
    source.set_speed(100)
    now[0] += 0.01
    assert source.position_ms == pytest.approx(data.start_ms + 6000)
    now[0] += 1e9
    assert source.position_ms == data.end_ms  # clamped at the end
    source.set_speed(math.inf)
    await asyncio.wait_for(task, 5.0)
    assert source.finished


def test_without_run_the_clock_moves_only_by_advance_to_and_seek():
    data = ticks(10)
    source = ReplaySource(data, speed=1000)
    assert source.position_ms == data.start_ms and source.progress == 0.0
    source.advance_to(data.start_ms + 4500, lambda e: None)
    assert source.position_ms == data.start_ms + 4500 and source.progress == pytest.approx(0.5)


def test_speed_must_be_1_to_1000_or_inf():
    source = ReplaySource(ticks(2))
    for bad in (0, 0.5, 1001, -1, math.nan, "fast"):
        with pytest.raises(InputError):
            source.set_speed(bad)
    source.set_speed(1000)
    source.set_speed(math.inf)
    assert source.speed == math.inf


def test_seek_forward_skips_the_events_in_between():
    data = ticks(10)
    source = ReplaySource(data)
    got = []
    source.advance_to(data.start_ms + 1000, got.append)
    source.seek(data.start_ms + 6000)
    assert source.position_ms == data.start_ms + 6000
    source.advance_to(data.end_ms, got.append)
    assert got == data.events[:2] + data.events[7:]


def test_seek_back_then_events_until_rebuilds_the_same_state():
    data = ticks(10)

    def apply(state, event):
        state[event.symbol] = event.price

    live: dict[str, float] = {}
    source = ReplaySource(data)
    source.advance_to(data.end_ms, lambda e: apply(live, e))
    target = data.start_ms + 4500
    source.seek(target)
    assert source.seeks == 1 and not source.finished

    rebuilt: dict[str, float] = {}  # the rule: reset, then apply events_until
    for event in source.events_until(target):
        apply(rebuilt, event)
    fresh: dict[str, float] = {}
    ReplaySource(data).advance_to(target, lambda e: apply(fresh, e))
    assert rebuilt == fresh == {"BTCUSDT": 104.0, "ETHUSDT": 103.0}
    assert source.latest_until(target) == [data.events[3], data.events[4]]

    source.advance_to(data.end_ms, lambda e: apply(rebuilt, e))  # then it goes on from there
    assert rebuilt == live


def test_seek_clamps_to_the_recording():
    data = ticks(5)
    source = ReplaySource(data)
    source.seek(0)
    assert source.position_ms == data.start_ms and source.emitted == 0
    source.seek(data.end_ms + 1e9)
    assert source.position_ms == data.end_ms and source.finished


# --- loading at scale: the same events, times and order as the plain definition -----------------------

_replay_events = st.lists(st.builds(
    lambda kind, symbol, ts, recv_ns: (
        FeedStatus(venue="okx", symbol=symbol, ts=ts, recv_ns=recv_ns, state="error", detail="x") if kind
        else mark("bybit", symbol, ts, recv_ns, 1.0)),
    st.booleans(), st.sampled_from(["A", "B", ""]), st.one_of(st.none(), st.integers(1, 2**63 + 5)),
    st.integers(0, 2**64)), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(_replay_events)
def test_replay_data_is_the_stable_sort_by_replay_time(events):
    data = ReplayData.from_events(events, format="raw")
    order = sorted(range(len(events)), key=lambda i: event_time_ms(events[i]))  # sorted() is stable
    assert data.events == [events[i] for i in order]
    assert all(a is events[i] for a, i in zip(data.events, order, strict=True))
    assert data.times_ms == [event_time_ms(e) for e in data.events]
    assert (data.start_ms, data.end_ms) == (data.times_ms[0], data.times_ms[-1])
    assert data.symbols == {(e.venue, e.symbol) for e in events if not isinstance(e, FeedStatus) and e.symbol}


def test_advance_to_counts_an_event_whose_emit_raised_as_delivered():
    data = ticks(5)
    source = ReplaySource(data)
    got = []

    def emit(event):
        got.append(event)
        if len(got) == 2:
            raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError):
        source.advance_to(data.end_ms, emit)
    assert source.emitted == 2
    assert source.advance_to(data.end_ms, got.append) == 3
    assert got == data.events
