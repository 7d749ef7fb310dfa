"""Files written and read in one careful way: the atomic write (portfolio store, tier cache, Binance
Vision downloads) and the plain/gzip/zip opener (recordings)."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lock(fd: int) -> bool:
    """An exclusive lock on an open file, without waiting: False when a live process holds it."""
    if fcntl is None:  # pragma: no cover - Windows: no advisory locks, age decides (see clean_stale)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def write_atomic(path: str | os.PathLike, data: str | bytes, *, backup: str | os.PathLike | None = None,
                 prefix: str | None = None, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never a part,
    and ``path`` never stops existing: a temp file beside it (locked while in flight, the old
    file's mode), fsync; the old file hard-linked (or copied) to ``backup`` if given; then
    ``os.replace`` of the temp file over ``path`` and an fsync of the folder. The temp file never
    outlives a failure; one left by a killed process is removed by ``clean_stale``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix if prefix is not None else f".{path.name}.", suffix=suffix,
                                    dir=path.parent)
    tmp = Path(tmp_name)
    backup_tmp = tmp.with_name(tmp.name[: -len(suffix)] + ".bak" + suffix) if suffix else tmp.with_name(tmp.name + ".bak")
    try:
        _lock(fd)  # tells clean_stale in another process that this temp file is in flight
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = None  # a new file keeps mkstemp's 0600
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        raw = data if isinstance(data, bytes) else data.encode("utf-8")
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        if backup is not None and path.exists():
            # The live file is never removed or renamed away: the backup is a second name for it
            # (or a copy), put in place by a rename of its own.
            try:
                os.link(path, backup_tmp)
            except OSError:
                shutil.copy2(path, backup_tmp)
            os.replace(backup_tmp, backup)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        backup_tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    fsync_dir(path.parent)


STALE_AGE_S = 3600.0  # without advisory locks (Windows), a temp file this old is surely orphaned


def clean_stale(path: str | os.PathLike, *, prefix: str | None = None, suffix: str = ".tmp") -> list[Path]:
    """Remove the temp files ``write_atomic`` left beside ``path`` when its process was killed
    (never one a live writer holds locked). Returns what was removed; errors are ignored."""
    path = Path(path)
    start = prefix if prefix is not None else f".{path.name}."
    removed: list[Path] = []
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(start) and p.name.endswith(suffix)]
    except OSError:
        return removed
    bak_end = ".bak" + suffix
    mains = [p for p in candidates if not p.name.endswith(bak_end)]
    in_flight: set[str] = set()
    for candidate in mains:
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            if fcntl is None:
                free = time.time() - os.fstat(fd).st_mtime > STALE_AGE_S
            else:
                free = _lock(fd)
            if not free:
                in_flight.add(candidate.name[: -len(suffix)] if suffix else candidate.name)
                continue
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
        except OSError:
            pass
        finally:
            os.close(fd)
    for candidate in candidates:
        if candidate.name.endswith(bak_end) and candidate.name[: -len(bak_end)] not in in_flight:
            try:
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def open_any(path: str | os.PathLike, zip_member: Callable[[zipfile.ZipFile], str]) -> Iterator[tuple[str, IO[bytes]]]:
    """``(container, binary stream of the content)`` of a plain, gzip or one-member zip file, told
    by its first bytes (never its name). ``zip_member`` picks the member (and may refuse)."""
    with open(path, "rb") as file:
        magic = file.read(4)
        file.seek(0)
        if magic[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=file) as gz:
                yield "gzip", gz
        elif magic == ZIP_MAGIC:
            with zipfile.ZipFile(file) as zf, zf.open(zip_member(zf)) as member:
                yield "zip", member
        else:
            yield "plain", file
