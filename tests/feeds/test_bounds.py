"""Recordings are bounded (issue 14 item 14): a line over the reader's bound is refused, exit 2 and one
line, before it is read whole; a gzip "bomb" (a small file expanding to one huge line) never takes the
memory. The bombs are made here by streaming: one small gzip member, compressed once, written again
and again (a gzip file may hold many members; readers join them), never the whole text in memory.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.errors import InputError
from adlwatch.feeds import recorder
from adlwatch.feeds.recorder import RecordingError, encode_line, read_recording
from adlwatch.feeds.replay import load_replay

ROOT = Path(__file__).resolve().parents[2]
GOOD = encode_line(1_700_000_000_000_000_000, "okx",
                   '{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
                   '"markPx":"91234.5","ts":"1700000000000"}]}')
MB = 1024 * 1024
RSS_LIMIT_MB = 300


def write_bomb(path: Path, huge_mb: int, *, first: bytes = GOOD, close_line: bool = False) -> None:
    """``first``, then one line of ``huge_mb`` MB of frame text (ending in a newline when
    ``close_line``), gzip-compressed; the file stays around a megabyte."""
    block = gzip.compress(b"a" * MB, compresslevel=9)  # one member: 1 MB of text in ~1 KB
    with open(path, "wb") as out:
        out.write(gzip.compress(first + b'{"recv_ns":2,"venue":"okx","frame":"'))
        for _ in range(huge_mb):
            out.write(block)
        if close_line:
            out.write(gzip.compress(b'"}\n'))


def _child_max_rss_mb(args: list[str], timeout: float = 120.0) -> tuple[int, str, str, float]:
    """Run ``python -m adlwatch.tui.cli ARGS`` from a fresh parent, so that its max RSS
    (``getrusage(RUSAGE_CHILDREN)``) is that child's alone: (exit code, stdout, stderr, MB)."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'adlwatch.tui.cli', *sys.argv[1:]], capture_output=True,\n"
        f"                   text=True, stdin=subprocess.DEVNULL, timeout={timeout!r})\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([p.returncode, p.stdout, p.stderr, rss]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="dumb")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout + 30)
    assert done.returncode == 0, done.stderr[-2000:]
    code, out, err, rss_kb = json.loads(done.stdout)
    return code, out, err, rss_kb / 1024  # ru_maxrss is in KB on Linux


@pytest.mark.parametrize("command", [["tail", "okx", "--from"], ["replay"]])
def test_a_gzip_bomb_is_refused_in_one_line_without_taking_the_memory(tmp_path, command):
    bomb = tmp_path / "bomb.jsonl.gz"
    write_bomb(bomb, 1024)  # 1 GB of one line, no newline: the "exit 0, no message" case
    assert bomb.stat().st_size < 4 * MB
    code, out, err, rss_mb = _child_max_rss_mb([*command, str(bomb)])
    assert rss_mb < RSS_LIMIT_MB, f"child max RSS {rss_mb:.0f} MB"
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{bomb}:2: " in err and "line longer than 64 MB" in err and "--max-line-mb" in err
    assert "Traceback" not in out  # (tail has printed the first line's event by then)


def test_the_bound_is_a_flag(tmp_path):
    path = tmp_path / "big.jsonl.gz"
    write_bomb(path, 3, close_line=True)  # a well-formed 3 MB line
    code, out, err, _ = _child_max_rss_mb(["tail", "okx", "--from", str(path), "--json", "--max-line-mb", "2"])
    assert code == 2 and "line longer than 2 MB" in err and len(err.strip().splitlines()) == 1
    code, out, err, _ = _child_max_rss_mb(["tail", "okx", "--from", str(path), "--json", "--max-line-mb", "4"])
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["type"] == "mark_price"  # the first line's event
    code, _, err, _ = _child_max_rss_mb(["tail", "okx", "--from", str(path), "--max-line-mb", "0"])
    assert code == 2 and "--max-line-mb" in err and len(err.strip().splitlines()) == 1


def test_a_long_line_after_good_ones_is_refused_by_every_reader(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_bytes(GOOD * 3 + encode_line(5, "okx", "x" * 5000) + GOOD)
    with pytest.raises(RecordingError) as error:
        list(read_recording(path, max_line_bytes=1000))
    assert error.value.line == 4 and "line longer than 1000 bytes" in str(error.value)
    with pytest.raises(InputError, match=r":4: line longer than 1000 bytes"):
        load_replay(path, max_line_bytes=1000)
    with pytest.raises(InputError, match=r":4: line longer than 1000 bytes"):
        load_replay(path, venue="okx", max_line_bytes=1000)
    assert len(load_replay(path).events) == 5  # within the default bound: all read (the "x…" frame: an error)


def test_a_csv_line_over_the_bound_is_refused_before_it_is_read_whole(tmp_path):
    from adlwatch.feeds.replay import TARDIS_COLUMNS

    path = tmp_path / "derivative_ticker.csv.gz"
    row = "binance-futures,BTCUSDT,1700000000000000,1700000000000100,,,,,,,60000.5\n"
    block = gzip.compress(b"9" * MB)
    with open(path, "wb") as out:
        out.write(gzip.compress((",".join(TARDIS_COLUMNS) + "\n" + row + "binance-futures,BTCUSDT,").encode()))
        for _ in range(8):
            out.write(block)
    with pytest.raises(InputError, match=r":3: line longer than 4 MB"):
        load_replay(path, max_line_bytes=4 * MB)
    with pytest.raises(InputError) as error:  # within 64 MB the line is read, and is a bad row
        load_replay(path)
    assert "line longer" not in str(error.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(0, 300), min_size=1, max_size=8), bound=st.integers(60, 400),
       chunk=st.integers(1, 200), newline_at_end=st.booleans())
def test_the_bound_holds_exactly_whatever_the_chunking(tmp_path_factory, monkeypatch, lengths, bound, chunk,
                                                       newline_at_end):
    """A line of at most ``bound`` bytes reads; the first longer one is an error with its number."""
    monkeypatch.setattr(recorder, "_CHUNK_BYTES", chunk)
    lines = [encode_line(i, "okx", "y" * n)[:-1] for i, n in enumerate(lengths)]
    path = tmp_path_factory.mktemp("bound") / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
    too_long = [i for i, line in enumerate(lines) if len(line) > bound]
    if too_long:
        with pytest.raises(RecordingError) as error:
            list(read_recording(path, max_line_bytes=bound))
        assert error.value.line == too_long[0] + 1
    else:
        assert [ns for ns, *_ in read_recording(path, max_line_bytes=bound)] == list(range(len(lines)))


def test_tail_from_a_bomb_through_run_tail_is_a_recording_error(tmp_path):
    import asyncio

    from adlwatch.feeds.tail import run_tail

    bomb = tmp_path / "bomb.jsonl.gz"
    write_bomb(bomb, 8)
    out = io.StringIO()
    with pytest.raises(RecordingError, match="line longer than 4 MB"):
        asyncio.run(run_tail("okx", [], from_path=bomb, out=out, max_line_bytes=4 * MB))


def test_a_truncated_gzip_recording_is_one_line_and_exit_2(tmp_path):
    whole = gzip.compress(GOOD * 50)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    code, out, err, _ = _child_max_rss_mb(["tail", "okx", "--from", str(path), "--json"])
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot read recording" in err and str(path) in err
