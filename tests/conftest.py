"""Every test's user cache folder is a fresh temporary one (``XDG_CACHE_HOME``, inherited by the
commands tests run as subprocesses): a command that refreshes the tier cache in the background, or
reads it, never touches the developer's own cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_user_cache(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
    monkeypatch.setenv("ADLWATCH_LOG_DIR", str(tmp_path_factory.mktemp("user-log")))  # the log file (feeds/logs.py)
