"""The log file: every command's log records go to a rotating file in the platform's user log folder
(``platformdirs.user_log_dir("adlwatch")``; ``ADLWATCH_LOG_DIR`` moves it), and nowhere else.

Several adlwatch processes share the one file (the monitor and a ``watch`` beside it). The stdlib
``RotatingFileHandler`` rotates by its own process's view of the file: another process keeps
writing into the file just renamed away, then rotates again at once, so files are renamed twice as
often, mostly empty, and lines fall off the end of the backups or land behind another process's
rotation. ``SharedRotatingFileHandler`` instead writes each record with one ``write`` on a file
opened ``O_APPEND`` (whole lines, never interleaved), and checks and rotates under an advisory lock
(``fcntl.flock``) that every adlwatch process takes on the log folder: holding it, a process
follows a rotation another made (its file is no longer the one at the path: reopen), re-reads the
size of the file at the path, and only then rotates. One file rather than one per process keeps the
one name the help and the README give; the lock is on the folder, not a lock file beside the logs,
so the folder holds the log and its backups only. Where ``fcntl`` does not exist (Windows) the
stdlib handler is used: one process at a time there.

Nothing is printed to the terminal by logging (the screen owns it while the monitor runs): the file
handler is the root logger's only handler, so Python's last-resort stderr handler never speaks.
A key never reaches a record: ``Credentials`` and ``Secret`` print without their value and the
signed follower redacts bodies (tests/feeds/test_key_secrecy.py reads this file too).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "adlwatch"
LOG_DIR_ENV = "ADLWATCH_LOG_DIR"
LOG_NAME = "adlwatch.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3  # adlwatch.log.1 … .3 beside it: at most 20 MB in all
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# Libraries that log every request at INFO (a live monitor polls several times a second): their lines
# come at DEBUG only, where one asks for every request.
CHATTY = ("httpx",)


def log_folder() -> Path:
    moved = os.environ.get(LOG_DIR_ENV, "").strip()
    return Path(os.path.expanduser(moved)) if moved else Path(platformdirs.user_log_dir(APP_NAME))


try:
    import fcntl
except ImportError:  # Windows: no advisory locks of this kind
    fcntl = None  # type: ignore[assignment]


class SharedRotatingFileHandler(logging.Handler):
    """``path`` rotated past ``max_bytes`` into ``path.1`` … ``path.<backups>`` (the oldest dropped),
    safely shared by several processes (the module's docstring says how)."""

    def __init__(self, path: str | os.PathLike, max_bytes: int, backups: int):
        super().__init__()
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._folder_fd = os.open(self.path.parent, os.O_RDONLY)  # the lock's handle
        try:
            self._fd = self._open()
        except OSError:
            os.close(self._folder_fd)
            raise

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._folder_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._folder_fd, fcntl.LOCK_UN)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            with self._locked():
                self._follow()
                size = os.fstat(self._fd).st_size
                if self.backups > 0 and size and size + len(data) > self.max_bytes:
                    self._rotate()
                view = memoryview(data)
                while view:  # one write for a line (a short write on a regular file: only a full disk)
                    view = view[os.write(self._fd, view):]
        except Exception:  # noqa: BLE001 - logging's own rule: a log failure never stops the program
            self.handleError(record)

    def _follow(self) -> None:
        """Reopen when the file at ``path`` is not ours any more (another process rotated it)."""
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            at_path = None
        mine = os.fstat(self._fd)
        if at_path is None or (at_path.st_ino, at_path.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(self._fd)
            self._fd = self._open()

    def _rotate(self) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        os.close(self._fd)
        self._fd = self._open()

    def close(self) -> None:
        with self.lock or contextlib.nullcontext():
            for name in ("_fd", "_folder_fd"):
                fd = getattr(self, name, None)
                if fd is not None:
                    os.close(fd)
                    setattr(self, name, None)
        super().close()


def file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """The rotating handler of ``path``: shared by processes where ``fcntl`` exists."""
    if fcntl is None:
        return logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                    encoding="utf-8", delay=False)
    return SharedRotatingFileHandler(path, max_bytes, backups)


@dataclass
class LogFile:
    """The installed handler (``close`` takes it off the root logger again) and its file."""

    path: Path
    handler: logging.Handler
    previous_level: int
    previous_chatty: tuple[int, ...] = ()

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.previous_level)
        for name, level in zip(CHATTY, self.previous_chatty, strict=False):
            logging.getLogger(name).setLevel(level)
        self.handler.close()


def configure(level: str = "INFO", folder: Path | None = None, *, max_bytes: int = MAX_BYTES,
              backups: int = BACKUPS) -> LogFile | None:
    """Send the root logger's records at ``level`` and above to ``folder``/adlwatch.log (default:
    ``log_folder()``), rotated past ``max_bytes``. A folder that cannot be written is one line on
    stderr and no log (the command runs on); None then."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}; known: {', '.join(LEVELS)}")
    folder = folder if folder is not None else log_folder()
    path = folder / LOG_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = file_handler(path, max_bytes, backups)
    except OSError as error:
        print(f"adlwatch: no log file ({path}: {error.strerror or error})", file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    chatty = tuple(logging.getLogger(name).level for name in CHATTY)
    if level != "DEBUG":
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return LogFile(path, handler, previous, chatty)
