"""The README read top to bottom as a new user (issue 16): every `adlwatch` command in its code
blocks either runs as written (the ones that need no network: exit 0, in a fresh user folder) or,
where it is a synopsis or needs a venue, names only options its command's --help knows."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_check_cli import ADLWATCH

ROOT = Path(__file__).resolve().parents[2]
# A synopsis, not a command: an optional part ([…]), a repeat (…) or a placeholder word.
PLACEHOLDERS = {"FILE", "F", "X", "VENUE", "SYMBOL", "PCT", "SECONDS", "PRICE", "DIR", "S"}


def is_synopsis(words: list[str]) -> bool:
    return any(w.startswith("[") or "…" in w or w in PLACEHOLDERS for w in words)
NEEDS_NO_NETWORK = ("--offline", "--check")
SCREEN = {("adlwatch",), ("adlwatch", "demo")}  # the monitor itself: a terminal, not a test's pipe


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of each fenced code block."""
    blocks: list[tuple[str, str]] = []
    info: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("```"):
            if info is None:
                info, body = line.strip("`").strip(), []
            else:
                blocks.append((info, "\n".join(body)))
                info = None
        elif info is not None:
            body.append(line)
    return blocks


def readme_commands() -> list[str]:
    commands = []
    for info, body in fenced_blocks((ROOT / "README.md").read_text()):
        if info not in ("", "sh", "bash"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].split(" # ")[0].strip()
            if re.match(r"adlwatch(\s|$)", command):
                commands.append(" ".join(command.split()))
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_the_commands_a_user_reads() -> None:
    assert len(COMMANDS) >= 12
    assert any(c.startswith("adlwatch demo --check") for c in COMMANDS)


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    env = {k: v for k, v in env.items() if not (k.startswith("ADLWATCH_") and k.endswith("_URL"))}
    return subprocess.run([ADLWATCH, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_runs_or_names_only_known_options(command: str, tmp_path: Path) -> None:
    words = shlex.split(command)
    runnable = not is_synopsis(words)
    if runnable and tuple(words) not in SCREEN and any(flag in words for flag in NEEDS_NO_NETWORK):
        result = run(words[1:], tmp_path)
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        assert result.stdout.strip(), command
        return
    sub = [w for w in words[1:2] if not w.startswith("-")]
    help_text = run([*sub, "--help"], tmp_path)
    assert help_text.returncode == 0, f"{command}: {help_text.stderr}"
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command):
        assert flag in help_text.stdout, f"{command}: {flag} is not an option of `adlwatch {' '.join(sub)}`"


def _in_a_terminal(args: list[str], tmp_path: Path, shows: bytes, timeout_s: float = 90.0) -> int:
    """Run ``adlwatch args`` on a pseudo-terminal (120x40), wait until the screen shows ``shows``,
    press q, and return the exit code."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen([ADLWATCH, *args], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env,
                            start_new_session=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout_s
    try:
        while shows not in seen and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert shows in seen, f"{args}: the screen never showed {shows!r}"
        os.write(master, b"q")
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("args", "shows"), [([], b"No portfolio file yet"), (["demo"], b"REPLAY")])
def test_the_screen_commands_open_and_quit_with_q(args: list[str], shows: bytes, tmp_path: Path) -> None:
    assert ("adlwatch", *args) in {tuple(shlex.split(c)) for c in COMMANDS}
    assert _in_a_terminal(args, tmp_path, shows) == 0
