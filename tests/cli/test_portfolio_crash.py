"""Issue 14 item 8, the kill test: a process killed (SIGKILL) at any point of ``save()`` leaves a
complete portfolio file, the old one or the new one, and the next load leaves no temp file.

Each trial forks a child that saves in a loop (two portfolios in turn) and tells the parent over a
pipe when its first save starts; the parent kills it after a random number of microseconds. The
random point comes from the delay, never from a sleep used to synchronise.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from adlwatch.engine.portfolio import with_wallet
from adlwatch.feeds import portfolio_store
from tests import portfolio_files
from tests.cli.test_portfolio_store import COMMENTED

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork and SIGKILL")

TRIALS = 200
BUDGET_S = 60.0  # a guard against a hang; it takes ~15 s


def _child(path: Path, ready: int) -> None:
    """Save forever, alternating two wallets (never returns: the parent kills it)."""
    try:
        portfolio = portfolio_files.load(path)
        wallets = (111.0, 222.0)
        os.write(ready, b"r")
        n = 0
        while True:
            portfolio = with_wallet(portfolio, 0, wallets[n % 2])
            portfolio_store.save(portfolio, path)
            n += 1
    finally:
        os._exit(1)  # a failed save ends the child before the kill: the parent sees the status


def _spin(microseconds: int) -> None:
    end = time.perf_counter_ns() + microseconds * 1000
    while time.perf_counter_ns() < end:
        pass


def test_sigkill_at_random_points_of_save_never_loses_the_file(tmp_path: Path):
    path = tmp_path / "portfolio.toml"
    path.write_text(COMMENTED)
    original = portfolio_files.load(path)
    rng = random.Random(14)
    started = time.monotonic()
    seen_wallets = set()
    for trial in range(TRIALS):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            _child(path, write_end)
        os.close(write_end)
        try:
            assert os.read(read_end, 1) == b"r", f"trial {trial}: the child did not start"
        finally:
            os.close(read_end)
        _spin(rng.randrange(0, 20_000))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"trial {trial}: child ended on its own"

        assert path.exists(), f"trial {trial}: no portfolio file"
        loaded = portfolio_files.load(path)  # complete: old or new, it parses and validates
        assert len(loaded.accounts) == len(original.accounts)
        seen_wallets.add(loaded.accounts[0].wallet_balance)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == [], f"trial {trial}: temp files after load: {leftovers}"
        assert "# My book." in path.read_text(), f"trial {trial}: the comments went"
        assert time.monotonic() - started < BUDGET_S, f"too slow: {trial} trials in {BUDGET_S} s"
    # The kills landed at different points: both the old and the new text were seen.
    assert len(seen_wallets) >= 2
