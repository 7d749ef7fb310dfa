"""Replay: recorded market data as the same events a live feed yields, on a controllable clock.

Three recording formats (DESIGN.md "Other entry points"; their traps in research/data_sources.md §3):

- ``raw``: our raw-frame JSONL (``{"recv_ns", "venue", "frame"}``), plain or gzip. Every frame goes
  through its venue's live parser, so replay shows exactly what the live feed would have shown.
- ``tardis``: a Tardis.dev ``derivative_ticker`` CSV (timestamps in µs). Each row gives a MarkPrice,
  IndexPrice, FundingRate and OpenInterest, each only where its column is non-empty. Open interest is
  passed on in the unit Tardis reports for that venue (base units for Binance/Bybit, contracts for OKX).
  A Hyperliquid row's funding, which Tardis gives no time, settles at the next whole hour after the
  row's local time, as the live parser says of a frame received then.
- ``binance_klines``: a Binance Vision ``markPriceKlines`` CSV, with or without the header row (older
  futures files and spot files lack it); times in ms, or µs in newer files, told apart by magnitude.
  One MarkPrice per kline, stamped at its ``close_time`` with the close: the close is not known before
  the minute ends, so a replay never looks ahead.

CSV files may also be gzip-compressed or a one-file zip (as Binance Vision ships them); the format is
told by content, never by the file name. Any other file, and any bad row, raises ``InputError`` naming
the file (and the line).

``ReplaySource`` plays a ``ReplayData`` on a replay clock: play, pause, speed 1…1000 or ``math.inf``,
seek. ``advance_to`` drives it synchronously (headless replay, tests); ``run`` paces it on the event
loop's clock.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import functools
import io
import math
import operator
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import Event, FeedStatus, FundingRate, IndexPrice, MarkPrice, OpenInterest
from adlwatch.feeds import registry
from adlwatch.feeds.files import GZIP_MAGIC, ZIP_MAGIC, open_any
from adlwatch.feeds.recorder import DEFAULT_MAX_LINE_BYTES, too_long
from adlwatch.feeds.venues.binance.market import VENUE as KLINES_VENUE  # markPriceKlines are Binance's
from adlwatch.feeds.venues.hyperliquid.market import VENUE as HOURLY_VENUE
from adlwatch.feeds.venues.hyperliquid.market import next_funding_times_ms
from adlwatch.feeds.wire import data_kinds

RAW = "raw"
TARDIS = "tardis"
BINANCE_KLINES = "binance_klines"
FORMATS = (RAW, TARDIS, BINANCE_KLINES)

TARDIS_COLUMNS = (
    "exchange", "symbol", "timestamp", "local_timestamp", "funding_timestamp", "funding_rate",
    "predicted_funding_rate", "open_interest", "last_price", "index_price", "mark_price",
)
KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)



def tardis_venues() -> dict[str, str]:
    """Tardis exchange ids -> our venue names: each venue declares its own (``Venue.tardis_exchanges``)."""
    return {exchange: name for name, venue in registry.venues().items() for exchange in venue.tardis_exchanges}


EXPECTED = (
    "expected a raw-frame recording (JSON lines {\"recv_ns\", \"venue\", \"frame\"}, optionally .gz), "
    "a Tardis derivative_ticker CSV (header " + ",".join(TARDIS_COLUMNS) + ") or a Binance "
    "markPriceKlines CSV (12 columns open_time,…,close_time,…,ignore; header row optional)"
)

_SNIFF_BYTES = 1 << 20  # enough for the first line of any recording we read
_MAX_CSV_BYTES = 2 << 30
_CSV_READ = 1 << 22  # a CSV is read this much at a time, its line lengths checked on the way

# Epoch times by magnitude: for any date after 1973 a µs stamp is >= 1e14 and a ms stamp is < 1e14
# until the year 5138; ns stamps are >= 1e17.
_US_FROM = 10**14
_NS_FROM = 10**17


# --- time of an event -------------------------------------------------------------------------------

def event_time_ms(event: Event) -> int:
    """Replay time: the exchange time ``ts`` when the event has one, else its receive time."""
    return event.ts if event.ts is not None else event.recv_ns // 1_000_000


# --- reading bytes ----------------------------------------------------------------------------------

def _err(path: str | os.PathLike, reason: str, **kw) -> InputError:
    return InputError(reason, file=str(path), **kw)


def _open_head(path: str | os.PathLike) -> tuple[str, bytes]:
    """``(container, first bytes of the content)``; container is ``plain``, ``gzip`` or ``zip``."""
    try:
        with open_any(path, functools.partial(_zip_member, path)) as (container, file):
            return container, _read_head(file)
    except InputError:
        raise
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError,
            RuntimeError, NotImplementedError) as exc:
        raise _err(path, f"cannot read file ({_describe(exc)})") from None


def _read_head(file) -> bytes:
    head = file.read(64 * 1024)
    if b"\n" not in head:  # a long first line (a big frame): read on to its end, within reason
        more = file.readline(_SNIFF_BYTES) if hasattr(file, "readline") else b""
        head += more
    return head


def _zip_member(path, zf: zipfile.ZipFile) -> str:
    names = [n for n in zf.namelist() if not n.endswith("/")]
    if len(names) != 1:
        raise _err(path, f"zip holds {len(names)} files; expected exactly one CSV")
    return names[0]


def _read_all(path: str | os.PathLike, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> bytes:
    """The whole (decompressed) content of a CSV recording; a line longer than ``max_line_bytes`` is
    refused as soon as the reading passes the bound (never read whole)."""
    max_line_bytes = max(1, int(max_line_bytes))
    parts: list[bytes] = []
    total = 0
    run = 0  # bytes since the last newline
    try:
        with open_any(path, functools.partial(_zip_member, path)) as (_container, file):
            size = min(_CSV_READ, max_line_bytes + 1)  # a line inside one read is within the bound
            while chunk := file.read(size):
                total += len(chunk)
                if total > _MAX_CSV_BYTES:
                    raise _err(path, "file larger than 2 GiB uncompressed; split it by day")
                last = chunk.rfind(b"\n")
                if last < 0:
                    run += len(chunk)
                elif run + chunk.find(b"\n") > max_line_bytes:
                    raise too_long(path, sum(p.count(b"\n") for p in parts) + 1, max_line_bytes)
                else:
                    run = len(chunk) - last - 1
                if run > max_line_bytes:
                    raise too_long(path, sum(p.count(b"\n") for p in parts) + chunk.count(b"\n") + 1,
                                   max_line_bytes)
                parts.append(chunk)
    except InputError:
        raise
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError,
            RuntimeError, NotImplementedError) as exc:
        raise _err(path, f"cannot read file ({_describe(exc)})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _describe(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _first_line(head: bytes) -> str | None:
    for raw in head.split(b"\n"):
        if raw.strip():
            try:
                return raw.decode("utf-8").lstrip("\ufeff").strip()
            except UnicodeDecodeError:
                return None
    return None


# --- format detection -------------------------------------------------------------------------------

class _RawLine(msgspec.Struct):
    recv_ns: int
    venue: str
    frame: str
    rest: str | None = None


_raw_line_decoder = msgspec.json.Decoder(_RawLine)


def _is_int_text(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 20


def _sniff(line: str | None) -> str | None:
    if not line:
        return None
    if line.startswith("{"):
        try:
            _raw_line_decoder.decode(line)
        except (msgspec.DecodeError, ValueError):
            return None
        return RAW
    fields = [f.strip().strip('"') for f in line.split(",")]
    if tuple(fields) == TARDIS_COLUMNS:
        return TARDIS
    if tuple(fields) == KLINE_COLUMNS:
        return BINANCE_KLINES
    if len(fields) == len(KLINE_COLUMNS) and _is_int_text(fields[0]) and _is_int_text(fields[6]):
        return BINANCE_KLINES
    return None


def detect_format(path: str | os.PathLike) -> str:
    """``"raw"``, ``"tardis"`` or ``"binance_klines"``, from the file's first line (the name is not used).

    Anything else raises ``InputError`` naming the file and the formats expected.
    """
    _, head = _open_head(path)
    line = _first_line(head)
    kind = _sniff(line)
    if kind is None:
        if not head.strip():
            raise _err(path, "empty file; " + EXPECTED)
        shown = (line[:60] + "…") if line and len(line) > 60 else line
        what = f"first line {shown!r} is not recognised" if line else "not UTF-8 text"
        raise _err(path, f"{what}; {EXPECTED}")
    return kind


# --- loaded replay ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ReplayData:
    """A loaded recording: its events sorted by replay time (``event_time_ms``; ties keep file order)."""

    events: list[Event]
    start_ms: int
    end_ms: int
    format: str
    path: str = ""
    times_ms: list[int] = field(default_factory=list, repr=False)  # event_time_ms of each event

    @functools.cached_property
    def symbols(self) -> set[tuple[str, str]]:
        """(venue, symbol) of every data event (status events excluded); worked out when first asked
        (a headless replay never asks)."""
        # One pass in C over the events; the handful of distinct keys is filtered afterwards.
        return {(venue, symbol) for kind, venue, symbol in set(map(_STREAM_KEY, self.events))
                if kind != "status" and symbol}

    @classmethod
    def from_events(cls, events: Iterable[Event], *, format: str, path: str = "") -> ReplayData:
        """Sorts (stably) and summarises; raises ``InputError`` when there is nothing to replay."""
        return cls._from_list(list(events), format=format, path=path)

    @classmethod
    def _from_list(cls, events: list[Event], *, format: str, path: str = "") -> ReplayData:
        """``from_events`` for a list nobody else holds (a day's recording is millions of events)."""
        if not events:
            raise InputError("no events to replay", file=path or None)
        times = _replay_times(events)
        order = _stable_order(times)
        if order is not None:
            events = [events[i] for i in order]
            times = [times[i] for i in order]
        return cls(events=events, start_ms=times[0], end_ms=times[-1], format=format, path=path, times_ms=times)


_STREAM_KEY = operator.attrgetter("kind", "venue", "symbol")
_TS = operator.attrgetter("ts")
_RECV_NS = operator.attrgetter("recv_ns")


def _replay_times(events: list[Event]) -> list[int]:
    """``event_time_ms`` of every event (millions in a day's recording: no Python step per event
    where C can take it)."""
    times = list(map(_TS, events))
    if None not in times:
        return times
    # Some events carry no exchange time (Hyperliquid's): their receive time. (A list comprehension
    # beats numpy here: converting millions of Python ints to an array and back costs more.)
    return [t if t is not None else r // 1_000_000 for t, r in zip(times, map(_RECV_NS, events), strict=True)]


def _stable_order(times: list[int]) -> list[int] | None:
    """The stable sorting permutation of ``times``, or None when they are already in order."""
    try:
        array = np.asarray(times, dtype=np.int64)
    except OverflowError:  # a time beyond int64: Python's own (stable) sort
        if all(a <= b for a, b in zip(times, times[1:], strict=False)):
            return None
        return sorted(range(len(times)), key=times.__getitem__)
    if bool((array[1:] >= array[:-1]).all()):
        return None
    return np.argsort(array, kind="stable").tolist()


def load_replay(path: str | os.PathLike, *, venue: str | None = None, symbol: str | None = None,
                skip: frozenset[str] = frozenset(), progress: Callable[[float], object] | None = None,
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> ReplayData:
    """Every event of a recording, sorted by replay time.

    ``venue`` and ``symbol`` keep only those events (feed status events of raw recordings are kept:
    they report bad frames). For Binance klines the venue is ``binance`` and ``symbol`` names the
    contract; without it the symbol comes from the file name (``BTCUSDT-1m-2025-10-10.csv``).
    ``skip``: event kinds not to load (the monitor passes ``MONITOR_SKIPS``). Raw frames are still
    checked in full, status events always come, and a raw frame with nothing but skipped kinds keeps
    them (``VenueAdapter.new_parser``). ``progress`` hears the share of a raw recording read so far
    (0…1; CSV files are read in one go and say nothing). ``max_line_bytes``: a longer line is refused
    (``InputError`` with its number) before it is read whole (``adlwatch replay --max-line-mb``).
    Raises ``InputError`` for an unreadable file, a bad row (with its line) or nothing to replay.
    """
    kind = detect_format(path)
    skip = data_kinds(skip)
    if kind == RAW:
        events = _load_raw(path, venue, symbol, skip, progress, max_line_bytes)
    elif kind == TARDIS:
        events = [e for e in _load_tardis(path, venue, symbol, max_line_bytes) if e.kind not in skip]
    else:
        events = [e for e in _load_klines(path, venue, symbol, max_line_bytes) if e.kind not in skip]
    try:
        return ReplayData._from_list(events, format=kind, path=str(path))
    except InputError:
        wanted = " for " + ":".join(x for x in (venue, symbol) if x) if (venue or symbol) else ""
        raise _err(path, f"no events to replay{wanted}") from None


# --- raw-frame recordings ---------------------------------------------------------------------------

def _is_gzip(path) -> bool:
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise _err(path, f"cannot read file ({_describe(exc)})") from None
    if magic == ZIP_MAGIC:
        raise _err(path, "a raw-frame recording inside a zip: unzip it (or gzip it) first")
    return magic[:2] == GZIP_MAGIC


def _load_raw(path, venue: str | None, symbol: str | None, skip: frozenset[str],
              progress: Callable[[float], object] | None = None,
              max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Event]:
    from adlwatch.feeds import recorder

    _is_gzip(path)  # refuses a zip with a clear message; plain and gzip both read below
    if not venue and not symbol:
        return recorder.recording_events(path, skip, progress, max_line_bytes=max_line_bytes)
    stream = recorder.replay_events(path, symbols=[symbol] if symbol else None, skip=skip,
                                    max_line_bytes=max_line_bytes)
    wanted_venue = venue.lower() if venue else None
    wanted_symbol = symbol.upper() if symbol else None
    out = []
    for event in stream:
        if wanted_venue and event.venue.lower() != wanted_venue:
            continue
        if wanted_symbol and not isinstance(event, FeedStatus) and event.symbol.upper() != wanted_symbol:
            continue
        out.append(event)
    return out


# --- CSV: a fast columnar path, and a line-by-line path that finds the bad line -----------------------

def read_csv_text(path: str | os.PathLike) -> str:
    """The whole text of a CSV recording (plain, gzip or one-file zip); ``InputError`` naming the file."""
    return _csv_text(path, _read_all(path))


def _csv_text(path, data: bytes) -> str:
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _err(path, "not UTF-8 text", line=line) from None


_EMPTY_INT = np.iinfo(np.int64).min  # stands for an empty optional integer cell


def _columns(text: str, names: tuple[str, ...], skip_header: bool, types: dict[str, str],
             optional: tuple[str, ...] = ()) -> dict[str, np.ndarray] | None:
    """Typed numpy columns via pyarrow's CSV reader; None when any cell does not convert.

    ``types`` maps a column to ``str``, ``int`` (int64) or ``float`` (float64; must be finite).
    Empty cells are allowed only in ``optional`` columns: NaN for floats, ``_EMPTY_INT`` for ints.
    Columns not in ``types`` are not converted (and not returned).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    arrow_types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=list(names), skip_rows=1 if skip_header else 0),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: arrow_types[t] for n, t in types.items()},
                include_columns=list(types), null_values=[""], strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except (pa.ArrowException, ValueError, OverflowError):
        return None
    out: dict[str, np.ndarray] = {}
    for name, kind in types.items():
        column = table.column(name)
        if column.null_count and name not in optional:
            return None
        if kind == "str":
            out[name] = np.asarray(column.to_pylist(), dtype=object)
        elif kind == "int":
            out[name] = pc.fill_null(column, _EMPTY_INT).to_numpy()
        else:
            values = pc.fill_null(column, math.nan).to_numpy()
            if np.isinf(values).any() or (np.isnan(values).sum() != column.null_count):
                return None
            out[name] = values
    return out


def _scan(path, text: str, names: tuple[str, ...], skip_header: bool, check_row: Callable[[dict], None]):
    """Reference validator: raises ``InputError`` at the first bad line (or returns when all are good)."""
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _err(path, f"unreadable CSV ({exc})", line=reader.line_num or None) from None
        number = reader.line_num
        if skip_header and number == 1:
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(names):
            raise _err(path, f"{len(row)} columns, expected {len(names)} ({','.join(names)})", line=number)
        try:
            check_row(dict(zip(names, row, strict=True)))
        except InputError as exc:
            raise exc.with_file(str(path), number) from None


def _number(row: dict, name: str, *, kind=float, optional=False, positive=False, nonnegative=False):
    text = row[name].strip()
    if not text:
        if optional:
            return None
        raise InputError("missing value", field=name, value=text)
    try:
        if kind is int:
            if not (_is_int_text(text.lstrip("-")) and text.count("-") <= 1 and not text.endswith("-")):
                raise ValueError
            value = int(text)
        else:
            value = float(text)
    except (ValueError, OverflowError):
        raise InputError("not a number" if kind is float else "not an integer", field=name,
                         value=text) from None
    if kind is float and not math.isfinite(value):
        raise InputError("not a finite number", field=name, value=text)
    if positive and not value > 0:
        raise InputError("must be positive", field=name, value=text)
    if nonnegative and value < 0:
        raise InputError("must not be negative", field=name, value=text)
    return value


def _fail(path, text, names, skip_header, check_row, detail: str) -> InputError:
    """The error for a CSV the fast path rejected: the reference scan names the line."""
    _scan(path, text, names, skip_header, check_row)
    return _err(path, detail)


# --- Tardis derivative_ticker ------------------------------------------------------------------------

def _tardis_check(row: dict) -> None:
    exchange = row["exchange"].strip()
    known = tardis_venues()
    if exchange not in known:
        raise InputError(f"unknown Tardis exchange; known: {', '.join(known)}", field="exchange",
                         value=exchange)
    if not row["symbol"].strip():
        raise InputError("missing value", field="symbol", value="")
    _number(row, "timestamp", kind=int, positive=True)
    _number(row, "local_timestamp", kind=int, optional=True, positive=True)
    _number(row, "funding_timestamp", kind=int, optional=True, positive=True)
    _number(row, "funding_rate", optional=True)
    _number(row, "predicted_funding_rate", optional=True)
    _number(row, "open_interest", optional=True, nonnegative=True)
    _number(row, "last_price", optional=True, positive=True)
    _number(row, "index_price", optional=True, positive=True)
    _number(row, "mark_price", optional=True, positive=True)


def _load_tardis(path, venue: str | None, symbol: str | None,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Event]:
    text = _csv_text(path, _read_all(path, max_line_bytes))
    names = TARDIS_COLUMNS

    def fail(detail: str) -> InputError:
        return _fail(path, text, names, True, _tardis_check, detail)

    floats = ("funding_rate", "predicted_funding_rate", "open_interest", "last_price", "index_price",
              "mark_price")
    types = {"exchange": "str", "symbol": "str", "timestamp": "int", "local_timestamp": "int",
             "funding_timestamp": "int", **{n: "float" for n in floats}}
    cols = _columns(text, names, True, types, optional=("local_timestamp", "funding_timestamp") + floats)
    if cols is None:
        raise fail("not a readable Tardis derivative_ticker CSV")
    exchange = cols["exchange"]
    symbols = cols["symbol"]
    ts, local, funding_ts = cols["timestamp"], cols["local_timestamp"], cols["funding_timestamp"]
    rate, oi, last, index, mark = (cols[n] for n in ("funding_rate", "open_interest", "last_price",
                                                     "index_price", "mark_price"))
    our_venue = tardis_venues()
    known = np.isin(exchange, list(our_venue))
    if (not known.all() or (symbols == "").any() or (ts <= 0).any()
            or ((local <= 0) & (local != _EMPTY_INT)).any()
            or ((funding_ts <= 0) & (funding_ts != _EMPTY_INT)).any() or (oi < 0).any()
            or (last <= 0).any() or (index <= 0).any() or (mark <= 0).any()):
        raise fail("bad value in Tardis CSV")

    venues = np.array([our_venue.get(x, x) for x in exchange.tolist()], dtype=object)
    keep = np.ones(len(ts), dtype=bool)
    if venue:
        keep &= venues == venue.lower()
    if symbol:
        keep &= np.array([x.upper() == symbol.upper() for x in symbols.tolist()], dtype=bool)
    ts_ms = np.where(ts >= _NS_FROM, ts // 1_000_000, np.where(ts >= _US_FROM, ts // 1_000, ts))
    recv_ns = np.where(local == _EMPTY_INT, ts_ms * 1_000_000,
                       np.where(local >= _NS_FROM, local,
                                np.where(local >= _US_FROM, local * 1_000, local * 1_000_000)))
    next_ts = np.where(funding_ts == _EMPTY_INT, -1, np.where(funding_ts >= _NS_FROM, funding_ts // 1_000_000,
                                                    np.where(funding_ts >= _US_FROM, funding_ts // 1_000,
                                                             funding_ts)))
    # Hyperliquid rows come without funding_timestamp; it funds every hour on the hour, so the next
    # funding is the one the live parser gives a frame received then (the row's local time).
    hourly = (venues == HOURLY_VENUE) & (funding_ts == _EMPTY_INT)
    if hourly.any():
        next_ts = np.where(hourly, next_funding_times_ms(recv_ns), next_ts)
    out: list[Event] = []
    append = out.append
    rows = zip(venues[keep].tolist(), symbols[keep].tolist(), ts_ms[keep].tolist(), recv_ns[keep].tolist(),
               mark[keep].tolist(), index[keep].tolist(), rate[keep].tolist(), next_ts[keep].tolist(),
               oi[keep].tolist(), strict=True)
    for v, s, t, r, m, i, f, n, o in rows:
        if m == m:  # not NaN: the column was non-empty
            append(MarkPrice(venue=v, symbol=s, ts=t, recv_ns=r, price=m))
        if i == i:
            append(IndexPrice(venue=v, symbol=s, ts=t, recv_ns=r, price=i))
        if f == f:
            append(FundingRate(venue=v, symbol=s, ts=t, recv_ns=r, rate=f, next_funding_ts=n if n > 0 else None))
        if o == o:
            append(OpenInterest(venue=v, symbol=s, ts=t, recv_ns=r, open_interest=o, open_interest_usd=None))
    return out


# --- Binance Vision markPriceKlines --------------------------------------------------------------------

_KLINE_NAME = re.compile(r"^([A-Za-z0-9]+(?:_[A-Za-z0-9]+)?)-(\d+[smhdwM]o?)-")


def kline_symbol_from_name(path: str | os.PathLike) -> str | None:
    """``BTCUSD_PERP`` from ``…/BTCUSD_PERP-1m-2025-10-10.csv`` (Binance Vision's naming), else None."""
    match = _KLINE_NAME.match(Path(path).name)
    return match.group(1).upper() if match else None


def _kline_check(row: dict) -> None:
    open_time = _number(row, "open_time", kind=int, positive=True)
    close_time = _number(row, "close_time", kind=int, positive=True)
    if close_time < open_time:
        raise InputError("close_time before open_time", field="close_time", value=row["close_time"].strip())
    for name in ("open", "high", "low", "close"):
        _number(row, name, positive=True)
    for name in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
        _number(row, name, nonnegative=True)
    _number(row, "count", nonnegative=True)


def _load_klines(path, venue: str | None, symbol: str | None,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Event]:
    if venue and venue.lower() != KLINES_VENUE:
        raise _err(path, "a Binance klines file holds only venue binance", field="venue", value=venue)
    name = symbol.strip().upper() if symbol and symbol.strip() else kline_symbol_from_name(path)
    if not name:
        raise _err(path, "cannot tell the symbol from the file name (expected SYMBOL-INTERVAL-DATE.csv); "
                         "give the symbol explicitly")
    text = _csv_text(path, _read_all(path, max_line_bytes))
    names = KLINE_COLUMNS
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    header = tuple(f.strip().strip('"') for f in first.split(",")) == KLINE_COLUMNS

    def fail(detail: str) -> InputError:
        return _fail(path, text, names, header, _kline_check, detail)

    types = {"open_time": "int", "close_time": "int",
             **{n: "float" for n in names if n not in ("open_time", "close_time", "ignore")}}
    cols = _columns(text, names, header, types)
    if cols is None:
        raise fail("not a readable Binance klines CSV")
    open_time, close_time = cols["open_time"], cols["close_time"]
    prices = [cols[n] for n in ("open", "high", "low", "close")]
    others = [cols[n] for n in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume",
                                "count")]
    if ((open_time <= 0).any() or (close_time < open_time).any() or any((c <= 0).any() for c in prices)
            or any((c < 0).any() for c in others)):
        raise fail("bad value in Binance klines CSV")
    close_ms = np.where(close_time >= _NS_FROM, close_time // 1_000_000,
                        np.where(close_time >= _US_FROM, close_time // 1_000, close_time))
    return [MarkPrice(venue=KLINES_VENUE, symbol=name, ts=t, recv_ns=t * 1_000_000, price=p)
            for t, p in zip(close_ms.tolist(), prices[3].tolist(), strict=True)]


# --- the replay clock ---------------------------------------------------------------------------------

MIN_SPEED = 1.0
MAX_SPEED = 1000.0
_EMIT_CHUNK = 2000  # events emitted between two yields to the event loop in run()


def check_speed(speed: float) -> float:
    """A valid replay speed (1…1000, or ``math.inf`` for as fast as possible), else ``InputError``."""
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise InputError("not a number", field="speed", value=speed) from None
    if value == math.inf or MIN_SPEED <= value <= MAX_SPEED:
        return value
    raise InputError(f"speed must be {MIN_SPEED:g}…{MAX_SPEED:g} or inf", field="speed", value=speed)


class ReplaySource:
    """Plays a ``ReplayData`` on a replay clock, emitting each event once, in order.

    The clock reads ``position_ms`` (replay time). While ``run`` drives it and it is playing, it
    advances ``speed`` replay ms per wall ms (at ``math.inf`` it jumps from event to event); paused,
    or without ``run``, it stands still and only ``advance_to`` / ``seek`` move it. An event is due
    when its replay time is ≤ the position. It starts at the first event's time.

    Seeking: ``seek(t_ms)`` moves the clock to ``t_ms`` and emits nothing. Events at or before ``t_ms``
    count as delivered; ``run`` / ``advance_to`` go on with the events after it. A consumer's state
    therefore no longer matches the clock after a seek (after a seek *back* it even reflects the
    future): the rule is to reset that state and apply ``events_until(t_ms)`` — every event from the
    start of the recording up to ``t_ms``, in order, i.e. replaying from the start — or, for state
    that keeps only the latest value per stream (marks, funding, OI), ``latest_until(t_ms)``.
    ``seeks`` counts the seeks so a consumer can notice one it did not make.

    Control methods (``play``, ``pause``, ``toggle``, ``set_speed``, ``seek``) are called from the
    event loop's thread (use ``loop.call_soon_threadsafe`` from elsewhere); a running ``run`` wakes on
    them at once.
    """

    def __init__(self, data: ReplayData, *, speed: float = 1.0, playing: bool = True,
                 clock: Callable[[], float] | None = None):
        self.data = data
        self._events = data.events
        self._times = data.times_ms or [event_time_ms(e) for e in data.events]
        self._next = 0  # index of the next event to emit
        self._speed = check_speed(speed)
        self._playing = playing
        self._clock = clock or time.monotonic  # the default loop clock is time.monotonic too
        self._own_clock = clock is not None
        self._anchor_ms: float = float(data.start_ms)  # replay position at the anchor instant
        self._anchor_wall: float = self._clock()  # wall-clock seconds at the anchor instant
        self._wake: asyncio.Event | None = None
        self._running = False  # the clock follows wall time only while run() drives it
        self.seeks = 0

    # --- state ---------------------------------------------------------------------------------------
    @property
    def start_ms(self) -> int:
        return self.data.start_ms

    @property
    def end_ms(self) -> int:
        return self.data.end_ms

    @property
    def label(self) -> str:
        name = os.path.basename(self.data.path) if self.data.path else "recording"
        return f"replay: {name} ({self.data.format})"

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def finished(self) -> bool:
        return self._next >= len(self._events)

    @property
    def emitted(self) -> int:
        """How many events have been delivered (or skipped by a seek)."""
        return self._next

    @property
    def position_ms(self) -> float:
        return self._position()

    @property
    def progress(self) -> float:
        """0 at the first event, 1 at the last."""
        span = self.data.end_ms - self.data.start_ms
        if span <= 0:
            return 1.0 if self.finished else 0.0
        return min(1.0, max(0.0, (self._position() - self.data.start_ms) / span))

    def _position(self) -> float:
        if not (self._playing and self._running) or self._speed == math.inf:
            return self._anchor_ms
        elapsed_ms = (self._clock() - self._anchor_wall) * 1000.0
        return min(float(self.data.end_ms), self._anchor_ms + elapsed_ms * self._speed)

    def _reanchor(self, position_ms: float) -> None:
        self._anchor_ms = min(float(self.data.end_ms), max(float(self.data.start_ms), position_ms))
        self._anchor_wall = self._clock()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # --- control -------------------------------------------------------------------------------------
    def play(self) -> None:
        if not self._playing:
            self._reanchor(self._anchor_ms)
            self._playing = True
        self._poke()

    def pause(self) -> None:
        if self._playing:
            self._reanchor(self._position())
            self._playing = False
        self._poke()

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def set_speed(self, speed: float) -> None:
        value = check_speed(speed)
        self._reanchor(self._position())
        self._speed = value
        self._poke()

    def seek(self, t_ms: float) -> None:
        """Move the clock to ``t_ms`` (clamped to the recording); see the class docstring for state."""
        self._reanchor(float(t_ms))
        self._next = bisect.bisect_right(self._times, t_ms)
        self.seeks += 1
        self._poke()

    def events_until(self, t_ms: float) -> list[Event]:
        """Every event with replay time ≤ ``t_ms``, from the start, in order: rebuild state after a seek."""
        return self._events[: bisect.bisect_right(self._times, t_ms)]

    def latest_until(self, t_ms: float) -> list[Event]:
        """The last event of each (type, venue, symbol) up to ``t_ms``, in replay order."""
        latest: dict[tuple[str, str, str], int] = {}
        for i, event in enumerate(self.events_until(t_ms)):
            latest[(event.kind, event.venue, event.symbol)] = i
        return [self._events[i] for i in sorted(latest.values())]

    # --- driving -------------------------------------------------------------------------------------
    def advance_to(self, t_ms: float, emit: Callable[[Event], object]) -> int:
        """Emit, synchronously, every not-yet-emitted event with replay time ≤ ``t_ms``; returns how many.

        The clock moves to ``t_ms`` (never backwards: use ``seek`` for that).
        """
        if t_ms > self._position():
            self._reanchor(float(t_ms))
        stop = bisect.bisect_right(self._times, t_ms)
        events = self._events
        count = 0
        while self._next < stop:  # self._next, not a local: emit may seek
            event = events[self._next]
            self._next += 1  # before emit: an event is delivered at most once, even if emit raises
            emit(event)
            count += 1
        return count

    def take_until(self, t_ms: float) -> list[Event]:
        """``advance_to`` for a consumer that takes the events as one batch (``RiskEngine.apply_many``):
        every not-yet-emitted event with replay time ≤ ``t_ms``, in order, now counted as delivered.

        A headless replay to the end is ``engine.apply_many(source.take_until(source.end_ms))``.
        """
        if t_ms > self._position():
            self._reanchor(float(t_ms))
        start, stop = self._next, max(self._next, bisect.bisect_right(self._times, t_ms))
        self._next = stop
        return self._events[start:stop]

    async def run(self, emit: Callable[[Event], object]) -> None:
        """Emit events as the clock reaches them, until the last one; stays alive while paused.

        Never blocks the loop: it waits on an ``asyncio.Event`` (set by every control call) with a
        timeout until the next event is due, and yields to the loop between chunks of events.
        """
        loop = asyncio.get_running_loop()
        if not self._own_clock:
            self._clock = loop.time
        if self._running:
            raise RuntimeError("ReplaySource.run is already running")
        self._wake = wake = asyncio.Event()
        self._reanchor(self._anchor_ms)  # the clock starts now, where it stood
        self._running = True
        try:
            while not self.finished:
                wake.clear()
                if not self._playing:
                    await wake.wait()
                    continue
                if self._emit_due(emit):
                    await asyncio.sleep(0)  # a long catch-up: let the loop breathe, then go on
                    continue
                if self.finished or self._speed == math.inf:
                    continue
                due_in_s = (self._times[self._next] - self._position()) / self._speed / 1000.0
                try:
                    await asyncio.wait_for(wake.wait(), timeout=max(0.0, due_in_s))
                except TimeoutError:
                    pass
        finally:
            self._reanchor(self._position())  # the clock stops where it is
            self._running = False
            self._wake = None

    def _emit_due(self, emit: Callable[[Event], object]) -> bool:
        """Emit due events, at most one chunk; True when more may be due right away."""
        seeks = self.seeks
        inf = self._speed == math.inf
        stop = len(self._events) if inf else bisect.bisect_right(self._times, self._position())
        stop = min(stop, self._next + _EMIT_CHUNK)
        while self._next < stop:
            event = self._events[self._next]
            self._next += 1
            if inf:
                self._anchor_ms = float(self._times[self._next - 1])
            emit(event)
            # a control call made by emit itself takes effect before the next event
            if not self._playing or self.seeks != seeks or (self._speed == math.inf) != inf:
                return False
        return self._next == stop and not self.finished and (
            inf or self._times[self._next] <= self._position())
