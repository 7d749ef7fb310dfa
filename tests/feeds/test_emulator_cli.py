"""``python -m adlwatch.feeds.emulator`` prints shell lines that point adlwatch at it: pasted, they
make every command use the emulator (the README's emulator section)."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys

import pytest

from adlwatch.engine.events import MarkPrice
from adlwatch.feeds.live import LiveSource


def _started_emulator() -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "adlwatch.feeds.emulator", "--interval", "0.05"],
                            stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    exports = 0
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        exports += line.startswith("export ")
        if exports == 2 * sum(" ws=" in seen for seen in lines):
            break
    return proc, lines


def test_the_printed_exports_point_every_venue_at_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    proc, lines = _started_emulator()
    try:
        exports = [line for line in lines if line.startswith("export ")]
        assert any("chosen afresh" in line and "--port" in line for line in lines)
        values = {}
        for line in exports:
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0]
        venues = [line.split()[0] for line in lines if " ws=" in line]
        assert venues and set(values) == {f"ADLWATCH_{v.upper()}_{k}_URL" for v in venues for k in ("WS", "REST")}
        for line in lines:
            if " ws=" in line:
                venue, ws, rest = line.split()
                assert values[f"ADLWATCH_{venue.upper()}_WS_URL"] == ws.removeprefix("ws=")
                assert values[f"ADLWATCH_{venue.upper()}_REST_URL"] == rest.removeprefix("rest=")
        for name, value in values.items():
            monkeypatch.setenv(name, value)

        async def first_mark() -> MarkPrice:
            got: asyncio.Future = asyncio.get_running_loop().create_future()

            def emit(event) -> None:
                if isinstance(event, MarkPrice) and not got.done():
                    got.set_result(event)

            source = LiveSource({"binance": ["BTCUSDT"]})  # no URL given: the environment's
            task = asyncio.create_task(source.run(emit))
            try:
                return await asyncio.wait_for(got, timeout=20)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        mark = asyncio.run(first_mark())
        assert mark.venue == "binance" and mark.symbol == "BTCUSDT" and mark.price > 0
        assert os.environ["ADLWATCH_BINANCE_WS_URL"].startswith("ws://127.0.0.1:")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
