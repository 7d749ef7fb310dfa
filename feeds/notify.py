"""Alerts outside the screen: the terminal bell and a desktop notification where the platform has one.

Delivery never blocks the caller's event loop and never raises: the desktop tool (``notify-send`` on
Linux, ``osascript`` on macOS, found on PATH) runs as a fire-and-forget subprocess killed after a
timeout; with no tool there is no notification, and nothing else happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

log = logging.getLogger(__name__)

APP_NAME = "adlwatch"
TIMEOUT_S = 5.0

# osascript gets the texts as arguments, never spliced into the script: no quoting to get wrong.
_APPLESCRIPT = ("on run argv", "display notification (item 2 of argv) with title (item 1 of argv)", "end run")


def ring_bell(stream: TextIO) -> None:
    """The terminal bell: BEL on ``stream`` (the terminal, not a pipe a consumer parses)."""
    with contextlib.suppress(Exception):
        stream.write("\a")
        stream.flush()


def desktop_command(
    title: str, body: str, *, urgent: bool = True, platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | None:
    """The command that shows a desktop notification on this platform, or None where there is none."""
    if platform == "darwin":
        tool = which("osascript")
        if tool is None:
            return None
        return [tool, *[arg for line in _APPLESCRIPT for arg in ("-e", line)], title, body]
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        tool = which("notify-send")
        if tool is None:
            return None
        return [tool, f"--app-name={APP_NAME}", f"--urgency={'critical' if urgent else 'normal'}", "--", title, body]
    return None


def notify_desktop(title: str, body: str, *, urgent: bool = True, timeout_s: float = TIMEOUT_S,
                   **lookup: Any) -> asyncio.Task | threading.Thread | None:
    """Show a desktop notification, fire-and-forget; None when the platform has no tool.

    Inside a running event loop the tool runs as an asyncio subprocess in a task (returned, so a
    caller may await it); outside one, in a daemon thread. Either way the caller never waits.
    """
    try:
        command = desktop_command(title, body, urgent=urgent, **lookup)
        if command is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            thread = threading.Thread(target=_run_blocking, args=(command, timeout_s), name="adlwatch-notify",
                                      daemon=True)
            thread.start()
            return thread
        task = loop.create_task(_run_async(command, timeout_s), name="adlwatch-notify")
        _pending.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(_pending.discard)
        return task
    except Exception as exc:  # a notification must never take the monitor down
        log.debug("desktop notification failed: %s", exc)
        return None


_pending: set[asyncio.Task] = set()


async def _run_async(command: list[str], timeout_s: float) -> int | None:
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except (OSError, ValueError) as exc:
        log.debug("desktop notification failed to start: %s", exc)
        return None
    try:
        return await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return None
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise


def _run_blocking(command: list[str], timeout_s: float) -> None:
    try:
        subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout_s, check=False)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        log.debug("desktop notification failed: %s", exc)


class Notifier:
    """Delivers each alert as a bell and/or a desktop notification (the ``[alerts]`` ``bell`` and
    ``desktop`` switches)."""

    def __init__(self, *, bell: bool = True, desktop: bool = True, stream: TextIO | None = None,
                 timeout_s: float = TIMEOUT_S, **lookup: Any) -> None:
        self.bell = bell
        self.desktop = desktop
        self.stream = stream if stream is not None else sys.__stdout__
        self.timeout_s = timeout_s
        self._lookup = lookup

    def deliver(self, alert: Any) -> asyncio.Task | threading.Thread | None:
        """One ``engine.alerts.Alert``: a fired one rings and notifies urgently, a cleared one quietly."""
        fired = alert.state == "fired"
        if self.bell and fired and self.stream is not None:
            ring_bell(self.stream)
        if not self.desktop:
            return None
        title = f"adlwatch: {alert.rule.replace('_', ' ')} {'ALERT' if fired else 'cleared'}"
        return notify_desktop(title, alert.message, urgent=fired, timeout_s=self.timeout_s, **self._lookup)
