"""Raw-frame recordings (DESIGN.md "Raw-frame recording"): write them, read them, replay them.

One JSON object per line, keys in this order: ``{"recv_ns": int, "venue": str, "frame": str}``,
plus ``"rest": "<path>"`` when the frame is a REST response body. ``frame`` is the exact text the
venue sent. Replay runs each frame through the venue's own parser, so ``tail --from`` shows what the
live feed would have shown. Two optional keys make that exact where a parser's answer depends on
more than the frame:

- ``"conn": int`` on the frames of a venue whose feed ran on more than one socket: the session that
  read the frame (a number unique in the recording process; a reconnect is a new session). A live
  parser belongs to one session and keeps its state (OKX: the contracts its socket subscribed, so
  the ``liquidation-orders`` push every socket receives becomes events on one of them only); replay
  keeps one parser per session as well. Frames without it share one parser per venue.
- ``"symbols": [str]`` on a REST body that answers for more contracts than the feed holds (a poll
  with ``RestPoll.symbols``: Binance's ``symbolAdlRisk`` rates every symbol): the contracts the live
  parser kept, so the replay keeps the same ones.

Older readers skip both keys (unknown keys are ignored), and recordings without them replay as before.
"""

from __future__ import annotations

import gc
import gzip
import inspect
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import Event, FeedStatus
from adlwatch.feeds.files import GZIP_MAGIC
from adlwatch.feeds.venue import POOL_MEMBERS_TAG, RestPoll
from adlwatch.feeds.wire import data_kinds, without

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MB = 1024 * 1024
DEFAULT_MAX_LINE_MB = 64
DEFAULT_MAX_LINE_BYTES = DEFAULT_MAX_LINE_MB * MB  # a reader's bound on one line (DESIGN.md "Raw-frame recording")


class RecordingError(InputError):
    """A recording that cannot be read (``tail --from``, replay): names the file and line; CLI exit 2."""

    def __init__(self, path: str | os.PathLike, line: int | None, detail: str):
        super().__init__(detail, file=str(path), line=line)
        self.path = str(path)
        self.detail = detail


class _Line(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    recv_ns: int
    venue: str
    frame: str
    rest: str | None = None
    conn: int | None = None  # the live session that read a websocket frame (several sockets only)
    symbols: list[str] | None = None  # the contracts a venue-wide REST answer was kept to


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Line)


def encode_line(recv_ns: int, venue: str, frame: str, rest: str | None = None, *, conn: int | None = None,
                symbols: list[str] | None = None) -> bytes:
    return _encoder.encode(_Line(recv_ns=recv_ns, venue=venue, frame=frame, rest=rest, conn=conn,
                                 symbols=symbols)) + b"\n"


TAP_KEYWORDS = ("conn", "symbols")


def tap_keywords(tap: Callable[..., object] | None) -> frozenset[str]:
    """Which of ``TAP_KEYWORDS`` a frame tap takes (``Recorder.write`` takes both; a plain
    ``(venue, frame, recv_ns)`` callable none): the feeds hand them only to a tap that takes them."""
    if tap is None:
        return frozenset()
    try:
        parameters = inspect.signature(tap).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return frozenset(TAP_KEYWORDS)
    return frozenset(p.name for p in parameters if p.name in TAP_KEYWORDS
                     and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))


class Recorder:
    """Appends raw frames to ``path``; past ``max_bytes`` the file rotates to ``path.1``, ``path.2``…

    ``path`` is always the newest part; higher numbers are older (like logrotate). ``write`` has the
    frame-tap signature of ``FeedClient(on_frame=...)`` and ``RestPoller(on_frame=...)``.
    Every line is flushed as written, so a crash loses at most the line being written.
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_files: int | None = None):
        self.path = Path(path)
        self.max_bytes = max(1, int(max_bytes))
        self.max_files = max_files  # rotated parts to keep; None keeps all
        self.frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = open(self.path, "ab")
        self._size = self._file.tell()

    def write(self, venue: str, frame: str, recv_ns: int, rest: str | None = None, *, conn: int | None = None,
              symbols: list[str] | None = None) -> None:
        if self._file is None:
            raise ValueError("recorder is closed")
        line = encode_line(recv_ns, venue, frame, rest, conn=conn, symbols=symbols)
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)
        self.frames += 1

    __call__ = write

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        existing = rotated_parts(self.path)
        if self.max_files is not None:
            for part in existing[self.max_files - 1 :] if self.max_files > 0 else existing:
                part.unlink(missing_ok=True)
            existing = existing[: max(self.max_files - 1, 0)]
        for part in reversed(existing):
            number = int(part.name.rsplit(".", 1)[1])
            part.rename(self.path.with_name(f"{self.path.name}.{number + 1}"))
        if self.max_files == 0:
            self.path.unlink(missing_ok=True)
        else:
            self.path.rename(self.path.with_name(self.path.name + ".1"))
        self._file = open(self.path, "ab")
        self._size = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rotated_parts(path: str | os.PathLike) -> list[Path]:
    """``path.1``, ``path.2``… that exist, newest first."""
    path = Path(path)
    parts = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            parts.append((int(suffix), candidate))
    return [p for _, p in sorted(parts)]


def recording_parts(path: str | os.PathLike) -> list[Path]:
    """Every part of a rotated recording, oldest first (``path.N`` … ``path.1``, ``path``)."""
    path = Path(path)
    return list(reversed(rotated_parts(path))) + ([path] if path.exists() else [])


_CHUNK_BYTES = 1 << 18  # read and decode a recording this much at a time


def read_recording(path: str | os.PathLike, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                   ) -> Iterator[tuple[int, str, str, str | None]]:
    """``(recv_ns, venue, frame, rest_path_or_None)`` for each line of one recording file (plain or
    gzip), streamed.

    Blank lines are skipped, and so is a cut-off last line (no newline: a recorder killed mid-write).
    Any other bad line raises ``RecordingError`` naming the file and line, and so does a line longer
    than ``max_line_bytes`` (it is never held whole: a gzip "bomb" stops there, not at the memory's end).
    """
    for chunk in _line_chunks(path, max_line_bytes=max_line_bytes):
        for line in chunk:
            yield line.recv_ns, line.venue, line.frame, line.rest


def too_long(path: str | os.PathLike, line: int, max_line_bytes: int) -> RecordingError:
    """The error of a line over the reader's bound (``--max-line-mb``)."""
    limit = f"{max_line_bytes / MB:g} MB" if max_line_bytes >= MB // 16 else f"{max_line_bytes} bytes"
    return RecordingError(path, line, f"line longer than {limit}: not read (a damaged or hostile recording? "
                                      "--max-line-mb raises the bound)")


_READ_MAX = 1 << 22  # at most this much per read: a long line grows the buffer, not a second copy of it


def _line_chunks(path: str | os.PathLike, progress: Callable[[float], object] | None = None, *,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[list[_Line]]:
    """The decoded lines of one recording file, a chunk at a time (see ``read_recording``).

    One buffer, refilled in place: a fresh quarter-megabyte for every chunk would be handed back to
    the system and faulted in again each time (a good part of reading a big recording).
    ``progress``, when given, hears the share of the file read (0…1, of the compressed bytes for gzip)
    after every chunk. A line longer than ``max_line_bytes`` (newline not counted) raises
    ``RecordingError``: the buffer grows to that bound and no further.
    """
    max_line_bytes = max(1, int(max_line_bytes))
    raw: IO[bytes] | None = None
    try:
        raw = open(path, "rb")
        size = os.fstat(raw.fileno()).st_size
        gzipped = raw.read(2) == GZIP_MAGIC  # a gzip-compressed recording reads the same way
        raw.seek(0)
    except OSError as exc:
        if raw is not None:
            raw.close()
        raise RecordingError(path, None, f"cannot read recording ({exc.strerror or exc})") from None
    file: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    try:
        with raw, file:
            lines_before = 0
            buf = bytearray(min(_CHUNK_BYTES, max_line_bytes + 1))  # a full buffer without a newline: too long
            view = memoryview(buf)
            filled = 0  # bytes of buf holding data; they start with the carried part of a line
            while True:
                if filled == len(buf):  # a line longer than the buffer: a bigger one, up to the bound
                    if filled > max_line_bytes:
                        raise too_long(path, lines_before + 1, max_line_bytes)  # buf holds no newline
                    view.release()
                    buf = buf + bytearray(min(len(buf), max_line_bytes + 1 - len(buf)))
                    view = memoryview(buf)
                read = file.readinto(view[filled: filled + _READ_MAX])
                if not read:  # the end: what is left has no newline
                    if filled:
                        yield _decode_one_by_one(path, [bytes(buf[:filled])], lines_before, cut_off_allowed=True)
                    return
                # the carried part holds no newline: look in what was just read
                end = buf.rfind(b"\n", filled, filled + read) + 1
                filled += read
                if end == 0:
                    continue
                lines = buf.count(b"\n", 0, end)
                yield _decode_chunk(path, view[:end], lines, buf.count(_LINE_BREAK, 0, end), lines_before)
                if progress is not None:
                    progress(min(1.0, raw.tell() / size) if size else 1.0)
                lines_before += lines
                carried = filled - end
                buf[:carried] = bytes(view[end:filled])  # a copy: the two ranges may overlap
                filled = carried
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordingError(path, None, f"cannot read recording ({exc})") from None


_LINE_BREAK = b'}\n{"recv_ns":'  # between two lines as encode_line writes them


def _decode_chunk(path: str | os.PathLike, chunk: memoryview, lines: int, breaks: int,
                  lines_before: int) -> list[_Line]:
    """Every line of ``chunk`` (whole lines, each ending in a newline; ``breaks``: how many times
    ``_LINE_BREAK`` occurs in it).

    One decode for the whole chunk when it provably holds one object per line: every line but the
    first starts as ``encode_line`` starts a line, right after a line that ends with ``}`` (so no
    line is blank, and every line starts a new object: ``}`` then ``{`` is valid JSON only between
    two objects), and the decoder finds as many objects as there are lines. Anything else goes line
    by line.
    """
    if breaks == lines - 1:
        try:
            decoded = _decoder.decode_lines(chunk)
        except (msgspec.DecodeError, ValueError):
            decoded = None
        if decoded is not None and len(decoded) == lines:
            return decoded
    return _decode_one_by_one(path, bytes(chunk).split(b"\n")[:-1], lines_before, cut_off_allowed=False)


def _decode_one_by_one(path: str | os.PathLike, raw_lines: list[bytes], lines_before: int,
                       cut_off_allowed: bool) -> list[_Line]:
    """The lines one by one: blank ones skipped, a bad one raised with its number, except that the
    file's last line, when it has no newline, is dropped (``cut_off_allowed``)."""
    out: list[_Line] = []
    for number, raw in enumerate(raw_lines, start=lines_before + 1):
        if not raw.strip():
            continue
        try:
            out.append(_decoder.decode(raw))
        except (msgspec.DecodeError, ValueError) as exc:
            if cut_off_allowed:  # only the last line can lack a newline: the write was cut off
                return out
            raise RecordingError(path, number, f"not a raw-frame line ({exc})") from None
    return out


class _Replayer:
    """Each venue's adapter, and the live parsers of a recording: one per venue, and one per live
    session for the frames that name theirs (``conn``), as the live connections had.

    ``parsers`` holds the bound ``parse`` of each venue's parser (key: the venue) and of each
    session's (key: (venue, conn)): the per-frame call of a whole recording."""

    def __init__(self, symbols: list[str] | None, skip: frozenset[str] = frozenset()) -> None:
        self.symbols = symbols or []
        self.skip = skip
        self.adapters: dict[str, object] = {}
        self.parsers: dict[str | tuple[str, int], Callable[[str, int], list[Event]]] = {}

    def events(self, recv_ns: int, venue: str, frame: str, rest: str | None, conn: int | None = None,
               symbols: list[str] | None = None) -> list[Event]:
        """The events of one recorded frame or REST body (an unknown venue: one error, then nothing)."""
        from adlwatch.feeds.registry import (
            get_adapter,  # the adapters load lazily: replay needs only the venues used
        )

        if venue not in self.adapters:
            try:
                self.adapters[venue] = get_adapter(venue)
            except Exception as exc:
                self.adapters[venue] = None
                return [FeedStatus(venue=venue, symbol="", ts=None, recv_ns=recv_ns, state="error",
                                   detail=f"unknown venue in recording: {exc}")]
            self.parsers[venue] = self.adapters[venue].new_parser(self.skip).parse
        adapter = self.adapters[venue]
        if adapter is None:
            return []
        if rest is None:
            key = venue if conn is None else (venue, conn)
            parse = self.parsers.get(key)
            if parse is None:  # a session's first frame: a fresh parser, as its socket had
                parse = self.parsers[key] = adapter.new_parser(self.skip).parse
            return _safe(parse, venue, recv_ns, frame, recv_ns)
        kept = symbols if symbols is not None else self.symbols
        return without(_parse_rest(adapter, rest, frame, recv_ns, kept), data_kinds(self.skip))


def replay_events(path: str | os.PathLike, *, symbols: list[str] | None = None,
                  skip: frozenset[str] = frozenset(), max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Event]:
    """Events from a recording through each venue's live parser; every event keeps its frame's recv_ns.

    ``symbols``, when given, lets REST bodies be matched to the adapter's exact poll (Hyperliquid
    posts several bodies to one path) and filters events to those symbols. ``skip``: event kinds
    not to build; ``max_line_bytes``: ``read_recording``'s bound.
    """
    replayer = _Replayer(symbols, skip)
    wanted = {s.upper() for s in symbols} if symbols else None
    for chunk in _line_chunks(path, max_line_bytes=max_line_bytes):
        for line in chunk:
            for event in replayer.events(line.recv_ns, line.venue, line.frame, line.rest, line.conn, line.symbols):
                if wanted is None or isinstance(event, FeedStatus) or event.symbol.upper() in wanted:
                    yield event


def recording_events(path: str | os.PathLike, skip: frozenset[str] = frozenset(),
                     progress: Callable[[float], object] | None = None, *,
                     max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Event]:
    """``list(replay_events(path))``, built a chunk of lines at a time: a day of frames is millions of
    events, and a generator step per event is a good part of loading them.

    ``skip``: event kinds not to build (``VenueAdapter.new_parser``); status events always come.
    ``progress``: as ``_line_chunks``'s, for a reader who waits; ``max_line_bytes``: its bound."""
    replayer = _Replayer(None, skip)
    parse_of = replayer.parsers.get
    out: list[Event] = []
    extend = out.extend
    collecting = gc.isenabled()
    gc.disable()  # millions of new objects, no cycles among them: no collections while they pile up
    try:
        for chunk in _line_chunks(path, progress, max_line_bytes=max_line_bytes):
            for line in chunk:
                conn = line.conn
                parse = parse_of(line.venue if conn is None else (line.venue, conn))
                if parse is not None and line.rest is None:  # a websocket frame of a parser seen before
                    try:
                        extend(parse(line.frame, line.recv_ns))
                    except Exception as exc:  # parsers promise not to raise; _safe's answer if one does
                        extend(_raised(line.venue, line.recv_ns, exc))
                else:
                    extend(replayer.events(line.recv_ns, line.venue, line.frame, line.rest, conn, line.symbols))
    finally:
        if collecting:
            gc.enable()
    return out


def _parse_rest(adapter, rest: str, body: str, recv_ns: int, symbols: list[str]) -> list[Event]:
    path, _, tag = rest.partition("?")
    if tag == POOL_MEMBERS_TAG:  # an insurance pool member's poll, parsed as the live poller did (feeds/rest.py)
        poll = RestPoll(path=path, symbols=tuple(symbols), pool_members=True)
        return _safe(adapter.parse_rest, adapter.name, recv_ns, poll, body, recv_ns, list(symbols) or None)
    try:
        candidates = [p for p in adapter.rest_polls(symbols) if p.path == path]
    except Exception:
        candidates = []
    if not candidates:
        candidates = [RestPoll(path=path)]
    events: list[Event] = []
    for poll in candidates:
        events = _safe(adapter.parse_rest, adapter.name, recv_ns, poll, body, recv_ns)
        if events and not all(isinstance(e, FeedStatus) and e.state == "error" for e in events):
            return events
    return events


def _safe(call, venue: str, recv_ns: int, *args) -> list[Event]:
    try:
        return call(*args)
    except Exception as exc:
        return _raised(venue, recv_ns, exc)


def _raised(venue: str, recv_ns: int, exc: Exception) -> list[Event]:
    return [FeedStatus(venue=venue, symbol="", ts=None, recv_ns=recv_ns, state="error",
                       detail=f"parser raised {exc!r}")]
