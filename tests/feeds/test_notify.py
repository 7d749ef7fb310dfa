"""Alerts outside the screen: the bell, and a desktop notification through a fake ``notify-send``."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import threading

import pytest

from adlwatch.engine.alerts import Alert
from adlwatch.feeds.notify import Notifier, desktop_command, notify_desktop


def fake_tool(folder, name: str, body: str) -> None:
    script = folder / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def recording_notify_send(tmp_path, monkeypatch):
    """A ``notify-send`` alone on PATH that writes its arguments, one per line, to a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "args.txt"
    fake_tool(bin_dir, "notify-send", f'for arg in "$@"; do printf "%s\\n" "$arg"; done > "{record}"\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    return record


def alert(state: str = "fired") -> Alert:
    return Alert(state=state, rule="liquidation_distance", venue="binance", symbol="BTCUSDT", side="long",
                 value=2.5, threshold=3.0, message='binance BTCUSDT long: 2.50% from liquidation; "quoted" $HOME',
                 estimate=False, ts_ms=0)


async def test_desktop_notification_runs_notify_send_with_title_and_message(recording_notify_send):
    task = notify_desktop("adlwatch: alert", "BTC 2.5% from liquidation", platform="linux")
    assert isinstance(task, asyncio.Task)
    assert await asyncio.wait_for(task, 10.0) == 0
    assert recording_notify_send.read_text().splitlines() == [
        "--app-name=adlwatch", "--urgency=critical", "--", "adlwatch: alert", "BTC 2.5% from liquidation"]


async def test_notifier_rings_the_bell_and_passes_the_message_untouched(recording_notify_send):
    terminal = io.StringIO()
    task = Notifier(stream=terminal, platform="linux").deliver(alert())
    await asyncio.wait_for(task, 10.0)
    assert terminal.getvalue() == "\a"
    assert recording_notify_send.read_text().splitlines()[-2:] == [
        "adlwatch: liquidation distance ALERT", 'binance BTCUSDT long: 2.50% from liquidation; "quoted" $HOME']


async def test_a_cleared_alert_notifies_quietly_without_the_bell(recording_notify_send):
    terminal = io.StringIO()
    await asyncio.wait_for(Notifier(stream=terminal, platform="linux").deliver(alert("cleared")), 10.0)
    assert terminal.getvalue() == ""
    assert "--urgency=normal" in recording_notify_send.read_text().splitlines()


async def test_a_hanging_tool_never_blocks_the_loop_and_is_killed_after_the_timeout(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tool(bin_dir, "notify-send", "exec sleep 60\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin{os.pathsep}/usr/bin")
    task = notify_desktop("t", "b", platform="linux", timeout_s=0.2)
    assert not task.done()  # the caller got control back at once
    ticks = 0
    while not task.done() and ticks < 10_000:  # the loop keeps running other work meanwhile
        ticks += 1
        await asyncio.wait([task], timeout=0.01)
    assert task.done() and task.result() is None and ticks > 1


async def test_no_tool_means_no_notification_and_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert notify_desktop("t", "b", platform="linux") is None
    assert notify_desktop("t", "b", platform="win32") is None
    terminal = io.StringIO()
    assert Notifier(stream=terminal, platform="linux").deliver(alert()) is None
    assert terminal.getvalue() == "\a"


async def test_a_tool_that_cannot_start_never_raises():
    task = notify_desktop("t", "b", platform="linux", which=lambda name: "/nonexistent/notify-send")
    assert await asyncio.wait_for(task, 10.0) is None


def test_outside_an_event_loop_the_notification_runs_in_a_thread(recording_notify_send):
    thread = notify_desktop("title", "body", platform="linux", urgent=False)
    assert isinstance(thread, threading.Thread)
    thread.join(10.0)
    assert not thread.is_alive()
    assert recording_notify_send.read_text().splitlines()[-3:] == ["--", "title", "body"]


def test_macos_passes_the_texts_as_arguments_not_inside_the_script():
    command = desktop_command('say "hi"', "it's $5", platform="darwin", which=lambda name: f"/usr/bin/{name}")
    assert command[0] == "/usr/bin/osascript" and command[-2:] == ['say "hi"', "it's $5"]
    assert all('"hi"' not in part and "$5" not in part for part in command[:-2])
    assert desktop_command("t", "b", platform="darwin", which=lambda name: None) is None


def test_bell_and_desktop_switches_turn_delivery_off(recording_notify_send):
    terminal = io.StringIO()
    assert Notifier(bell=False, desktop=False, stream=terminal, platform="linux").deliver(alert()) is None
    assert terminal.getvalue() == "" and not recording_notify_send.exists()
