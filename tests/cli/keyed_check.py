"""``adlwatch check`` on a portfolio that follows a venue key, run against the emulator: the key in the
environment, the venue's REST URL at the emulator and the log file at DEBUG (as the CLI configures
it). Every run asserts that no part of the key reaches the output or the log, and that check leaves
the portfolio file as it was."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from adlwatch.tui.check import run_check
from tests.feeds.private_fixtures import SECRETS, env_for


async def check_keyed(tmp_path: Path, monkeypatch, emulator, venue: str, text: str, marks: list[str],
                      as_json: bool, env: dict[str, str] | None = None,
                      logged_read: str = "HTTP Request: GET") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``check`` on ``text``; ``logged_read`` must appear in the log (the
    signed reads were made and logged)."""
    from adlwatch.feeds import logs

    path = tmp_path / "p.toml"
    path.write_text(text)
    for name, value in (env or env_for(venue)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(f"ADLWATCH_{venue.upper()}_REST_URL", emulator.rest_url(venue))
    out, err = io.StringIO(), io.StringIO()
    log_file = logs.configure("DEBUG", tmp_path / "log")
    assert log_file is not None
    try:
        code = await asyncio.to_thread(run_check, path, marks, None, False, as_json, None, out=out, err=err)
    finally:
        log_file.close()
    logged = "".join(f.read_text(errors="replace") for f in (tmp_path / "log").glob("adlwatch.log*"))
    assert logged_read in logged
    for secret in SECRETS[venue][:2]:
        assert secret not in out.getvalue() + err.getvalue() + logged
    assert path.read_text() == text  # check never writes the file
    return code, out.getvalue(), err.getvalue()
