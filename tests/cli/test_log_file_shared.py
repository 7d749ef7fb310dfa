"""The one log file shared by two adlwatch processes (the monitor and a ``watch``): logging at once
across many rollovers, every line is found exactly once, whole, in its process's order, and no file
grows past its size."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

from adlwatch.feeds import logs

ROOT = Path(__file__).resolve().parents[2]
LINES = 800
MAX_BYTES = 8_000
BACKUPS = 40  # room for every line of both writers when files are filled (about 2 x 800 x 125 bytes)

WRITER = """
import logging, sys
from pathlib import Path
from adlwatch.feeds import logs
log_file = logs.configure("DEBUG", Path(sys.argv[1]), max_bytes=int(sys.argv[3]), backups=int(sys.argv[4]))
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # both writers start together
log = logging.getLogger("adlwatch.test")
for k in range(int(sys.argv[5])):
    log.info("writer %s line %05d %s", sys.argv[2], k, "x" * 40)
log_file.close()
"""

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO adlwatch\.test: writer (\w) line (\d{5}) x{40}$")


def test_two_processes_share_the_log_file_across_rollovers_without_losing_a_line(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), tag, str(MAX_BYTES), str(BACKUPS),
                                 str(LINES)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
               for tag in ("a", "b")]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        writer.stdin.close()
        assert writer.wait(timeout=120) == 0
        writer.stdout.close()
    parts = sorted((p for p in tmp_path.iterdir()), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    assert parts[-1].name == logs.LOG_NAME and len(parts) > 10  # many rollovers happened
    assert all(p.name == logs.LOG_NAME or re.fullmatch(r"adlwatch\.log\.\d+", p.name) for p in parts)
    assert all(p.stat().st_size <= MAX_BYTES for p in parts)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for part in parts:  # oldest first
        for line in part.read_text().splitlines():
            match = LINE.match(line)
            assert match, f"mangled line in {part.name}: {line!r}"
            seen[match.group(1)].append(int(match.group(2)))
    assert seen == {"a": list(range(LINES)), "b": list(range(LINES))}  # each once, in its writer's order


def test_a_handler_follows_a_rollover_made_by_another(tmp_path):
    """Two handlers on one file in one process stand for two processes: the second writes into the new
    file after the first rotated, never into the file renamed away."""
    first = logs.SharedRotatingFileHandler(tmp_path / logs.LOG_NAME, 200, 3)
    second = logs.SharedRotatingFileHandler(tmp_path / logs.LOG_NAME, 200, 3)
    try:
        record = logging.LogRecord("adlwatch.test", logging.INFO, __file__, 1, "%s", ("y" * 150,), None)
        first.emit(record)  # 151 bytes in adlwatch.log
        first.emit(record)  # would pass 200: rotated first
        second.emit(logging.LogRecord("adlwatch.test", logging.INFO, __file__, 1, "after", (), None))
    finally:
        first.close()
        second.close()
    assert (tmp_path / "adlwatch.log.1").read_text() == "y" * 150 + "\n"
    assert (tmp_path / "adlwatch.log").read_text() == "y" * 150 + "\n" + "after\n"
