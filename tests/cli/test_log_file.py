"""Issue 16, logs: every command logs to a rotating file in the user log folder, at ``--log-level``,
and never to the terminal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from adlwatch.feeds import logs
from adlwatch.tui.cli import build_parser
from tests.cli.test_check_cli import ADLWATCH
from tests.cli.test_watch_cli import CLOSED, NEAR

ROOT = Path(__file__).resolve().parents[2]


def test_the_log_folder_is_the_platforms_user_log_folder_unless_moved(monkeypatch, tmp_path):
    monkeypatch.delenv(logs.LOG_DIR_ENV, raising=False)
    assert logs.log_folder() == Path(platformdirs.user_log_dir("adlwatch"))
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "elsewhere"))
    assert logs.log_folder() == tmp_path / "elsewhere"


def test_the_log_file_rotates_past_its_size_and_keeps_its_backups(tmp_path):
    log_file = logs.configure("DEBUG", tmp_path, max_bytes=2_000, backups=2)
    assert log_file is not None
    try:
        for k in range(200):
            logging.getLogger("adlwatch.test").debug("record %d %s", k, "x" * 40)
    finally:
        log_file.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["adlwatch.log", "adlwatch.log.1", "adlwatch.log.2"]
    assert all((tmp_path / name).stat().st_size <= 2_000 for name in names)
    assert "record 199 " in (tmp_path / "adlwatch.log").read_text()
    assert logging.getLogger().handlers.count(log_file.handler) == 0  # close() took it off again


def test_the_level_decides_what_is_written(tmp_path):
    log_file = logs.configure("warning", tmp_path)
    try:
        logging.getLogger("adlwatch.test").info("an info line")
        logging.getLogger("adlwatch.test").warning("a warning line")
    finally:
        log_file.close()
    text = (tmp_path / "adlwatch.log").read_text()
    assert "a warning line" in text and "an info line" not in text


def test_logging_prints_nothing_on_the_terminal(tmp_path):
    """What the monitor's screen would be spoiled by: a record at any level, a warning, with no other
    handler than ours (a fresh interpreter: pytest's own capture handlers out of the way)."""
    code = ("import logging, warnings; from pathlib import Path; from adlwatch.feeds import logs; "
            f"logs.configure('DEBUG', Path({str(tmp_path)!r})); "
            "logging.getLogger('adlwatch.feeds').error('an error line'); warnings.warn('a warning'); "
            "logging.getLogger('httpx').debug('a debug line')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = (tmp_path / "adlwatch.log").read_text()
    assert "an error line" in text and "a warning" in text and "a debug line" in text


def test_a_monitor_run_leaves_its_log_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(NEAR)
    folder = tmp_path / "log"
    env = {**os.environ, logs.LOG_DIR_ENV: str(folder)}
    for venue in ("binance", "bybit", "okx", "hyperliquid"):
        env[f"ADLWATCH_{venue.upper()}_WS_URL"] = f"ws://{CLOSED}"
        env[f"ADLWATCH_{venue.upper()}_REST_URL"] = f"http://{CLOSED}"
    result = subprocess.run([ADLWATCH, "--log-level", "debug", "watch", "--portfolio", str(path), "--duration", "0.5"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1  # the venue was never reached
    assert len(result.stderr.splitlines()) == 1  # watch's own line: the log said nothing on the terminal
    text = (folder / "adlwatch.log").read_text()
    assert "INFO adlwatch: adlwatch " in text and ": watch" in text
    assert " DEBUG " in text and "binance: cannot reach the venue" in text


def test_log_level_is_taken_before_or_after_the_command_and_checked():
    parser = build_parser()
    assert parser.parse_args(["--log-level", "debug", "check"]).log_level == "DEBUG"
    assert parser.parse_args(["check", "--log-level", "error"]).log_level == "ERROR"
    assert parser.parse_args(["demo"]).log_level == "INFO"
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--log-level", "loud", "check"])
    assert exit_.value.code == 2


def test_help_says_where_the_log_file_is(tmp_path):
    env = {**os.environ, logs.LOG_DIR_ENV: str(tmp_path / "logs"), "COLUMNS": "400"}  # no path broken in two
    result = subprocess.run([ADLWATCH, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0
    assert f"Log file: {tmp_path / 'logs' / 'adlwatch.log'}" in " ".join(result.stdout.split())


def test_every_request_is_logged_at_debug_only(tmp_path):
    before = logging.getLogger("httpx").level
    for level, expected in (("INFO", False), ("DEBUG", True)):
        log_file = logs.configure(level, tmp_path / level)
        try:
            logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:9/x")
        finally:
            log_file.close()
        assert ("HTTP Request: GET" in (tmp_path / level / "adlwatch.log").read_text()) is expected
    assert logging.getLogger("httpx").level == before  # close() put it back
