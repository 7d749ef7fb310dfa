"""The log file: every command's log records go to a rotating file in the platform's user log folder
(``platformdirs.user_log_dir("adlwatch")``; ``ADLWATCH_LOG_DIR`` moves it), and nowhere else.

Nothing is printed to the terminal by logging (the screen owns it while the monitor runs): the file
handler is the root logger's only handler, so Python's last-resort stderr handler never speaks.
A key never reaches a record: ``Credentials`` and ``Secret`` print without their value and the
signed follower redacts bodies (tests/feeds/test_key_secrecy.py reads this file too).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
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
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8", delay=False)
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
