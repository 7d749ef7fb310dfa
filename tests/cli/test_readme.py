"""The README's worked example runs and prints exactly what the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from tests.cli.test_check_cli import ADLWATCH

ROOT = Path(__file__).resolve().parents[2]


def test_readme_check_example_prints_what_the_readme_shows():
    text = (ROOT / "README.md").read_text()
    command = re.search(r"```sh\n(adlwatch check [^\n]+)\n```", text).group(1)
    shown = re.search(r"prints\n\n```\n(.*?)```", text, re.S).group(1)
    args = shlex.split(command)[1:]
    result = subprocess.run([ADLWATCH, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def test_readme_names_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
