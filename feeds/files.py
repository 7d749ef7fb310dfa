"""Files written and read in one careful way: the atomic write (portfolio store, tier cache, Binance
Vision downloads) and the plain/gzip/zip opener (recordings)."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

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


def write_atomic(path: str | os.PathLike, data: str | bytes, *, backup: str | os.PathLike | None = None,
                 prefix: str | None = None, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never a part:
    a temp file beside it, fsync, rename (the old file renamed to ``backup`` first, if given), and
    an fsync of the folder. The temp file never outlives a failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix if prefix is not None else f".{path.name}.", suffix=suffix,
                                    dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w",
                       **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        if backup is not None and path.exists():
            os.replace(path, backup)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


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
