"""Running a live source in a test: until the event a test waits for, collecting what came."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def run_until(source: Any, wanted: Callable[[Any], bool], timeout_s: float = 5.0) -> list[Any]:
    """Run ``source`` (anything with ``async run(emit)``) until an event satisfies ``wanted``; every
    event emitted so far, in order. The source is cancelled afterwards, as the monitor's exit does;
    ``TimeoutError`` if the event never came."""
    seen: list[Any] = []
    arrived = asyncio.Event()

    def emit(event: Any) -> None:
        seen.append(event)
        if wanted(event):
            arrived.set()

    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(arrived.wait(), timeout_s)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return seen


def mark_of(symbol: str) -> Callable[[Any], bool]:
    """``wanted`` for ``run_until``: a mark price of ``symbol``."""
    return lambda event: event.kind == "mark_price" and event.symbol == symbol
