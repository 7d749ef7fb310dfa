"""Raw-frame recordings (DESIGN.md "Raw-frame recording"): write them, read them, replay them.

One JSON object per line, keys in this order: ``{"recv_ns": int, "venue": str, "frame": str}``,
plus ``"rest": "<path>"`` when the frame is a REST response body. ``frame`` is the exact text the
venue sent. Replay runs each frame through the venue's own parser (a fresh parser per venue, as a
live connection has), so ``tail --from`` shows what the live feed would have shown.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from engine.errors import InputError
from feeds.events import Event, FeedStatus
from feeds.venue import RestPoll

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class RecordingError(InputError):
    """A recording that cannot be read (``tail --from``, replay): names the file and line; CLI exit 2."""

    def __init__(self, path: str | os.PathLike, line: int | None, detail: str):
        super().__init__(detail, file=str(path), line=line)
        self.path = str(path)
        self.detail = detail


class _Line(msgspec.Struct, kw_only=True, omit_defaults=True):
    recv_ns: int
    venue: str
    frame: str
    rest: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Line)


def encode_line(recv_ns: int, venue: str, frame: str, rest: str | None = None) -> bytes:
    return _encoder.encode(_Line(recv_ns=recv_ns, venue=venue, frame=frame, rest=rest)) + b"\n"


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

    def write(self, venue: str, frame: str, recv_ns: int, rest: str | None = None) -> None:
        if self._file is None:
            raise ValueError("recorder is closed")
        line = encode_line(recv_ns, venue, frame, rest)
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


def read_recording(path: str | os.PathLike) -> Iterator[tuple[int, str, str, str | None]]:
    """``(recv_ns, venue, frame, rest_path_or_None)`` for each line of one recording file (plain or
    gzip), streamed.

    Blank lines are skipped, and so is a cut-off last line (no newline: a recorder killed mid-write).
    Any other bad line raises ``RecordingError`` naming the file and line.
    """
    try:
        file = open(path, "rb")
        if file.read(2) == b"\x1f\x8b":  # a gzip-compressed recording reads the same way
            file.close()
            file = gzip.open(path, "rb")
        else:
            file.seek(0)
    except OSError as exc:
        raise RecordingError(path, None, f"cannot read recording ({exc.strerror or exc})") from None
    try:
        with file:
            for number, raw in enumerate(file, start=1):
                if not raw.strip():
                    continue
                try:
                    line = _decoder.decode(raw)
                except (msgspec.DecodeError, ValueError) as exc:
                    if not raw.endswith(b"\n"):  # only the last line can lack one: the write was cut off
                        return
                    raise RecordingError(path, number, f"not a raw-frame line ({exc})") from None
                yield line.recv_ns, line.venue, line.frame, line.rest
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordingError(path, None, f"cannot read recording ({exc})") from None


def replay_events(path: str | os.PathLike, *, symbols: list[str] | None = None) -> Iterator[Event]:
    """Events from a recording through each venue's live parser; every event keeps its frame's recv_ns.

    ``symbols``, when given, lets REST bodies be matched to the adapter's exact poll (Hyperliquid
    posts several bodies to one path) and filters events to those symbols.
    """
    from feeds.registry import get_adapter  # the adapters load lazily: replay needs only the venues used

    adapters: dict[str, object] = {}
    parsers: dict[str, object] = {}
    wanted = {s.upper() for s in symbols} if symbols else None
    for recv_ns, venue, frame, rest in read_recording(path):
        if venue not in adapters:
            try:
                adapters[venue] = get_adapter(venue)
            except Exception as exc:
                yield FeedStatus(venue=venue, symbol="", ts=None, recv_ns=recv_ns, state="error",
                                 detail=f"unknown venue in recording: {exc}")
                adapters[venue] = None
            else:
                parsers[venue] = adapters[venue].new_parser()
        adapter = adapters[venue]
        if adapter is None:
            continue
        if rest is None:
            events = _safe(parsers[venue].parse, venue, recv_ns, frame, recv_ns)
        else:
            events = _parse_rest(adapter, rest, frame, recv_ns, symbols or [])
        for event in events:
            if wanted is None or isinstance(event, FeedStatus) or event.symbol.upper() in wanted:
                yield event


def _parse_rest(adapter, rest: str, body: str, recv_ns: int, symbols: list[str]) -> list[Event]:
    path = rest.split("?", 1)[0]
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
        return [FeedStatus(venue=venue, symbol="", ts=None, recv_ns=recv_ns, state="error",
                           detail=f"parser raised {exc!r}")]
