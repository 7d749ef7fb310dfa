"""What the socket client, the REST poller, the tier refresh and the followers share about reaching a
venue: where (``url_override``), how to retry (``Backoff``, ``retry_after_s``), the HTTP client, and
the recorder's tap. A low module: it imports nothing of feeds/.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

# on_frame(venue, frame_text, recv_ns, rest=None): the recorder's tap (Recorder.write fits).
FrameTap = Callable[..., None]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def url_override(venue: str, kind: str) -> str | None:
    """``ADLWATCH_<VENUE>_WS_URL`` / ``ADLWATCH_<VENUE>_REST_URL``: the emulator, or a testnet."""
    return os.environ.get(f"ADLWATCH_{venue.upper()}_{kind}_URL")


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def describe_error(exc: BaseException | None) -> str:
    """``Type: message`` of a connection failure, for a status line."""
    if exc is None:
        return "unknown error"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Backoff:
    """Capped exponential backoff with jitter: delay n is uniform in [floor·c, c], c = min(cap, base·2ⁿ).

    ``floor`` 0 is full jitter. A floor above 0 bounds how often a long outage is retried (at most one
    attempt per ``floor·cap``) while the cap bounds how late a venue that came back is noticed.
    """

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0,
                 rng: random.Random | None = None, floor: float = 0.0):
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.floor = min(max(floor, 0.0), 1.0)
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        return min(self.max_s, self.initial_s * self.factor ** min(self.attempt, 64))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        delay = self._rng.uniform(self.floor * ceiling, ceiling)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def make_http_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": "adlwatch (read-only market data)"},
        trust_env=not is_loopback(base_url),
    )


def retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from these venues; fall back to our own backoff
    return max(0.0, seconds) if math.isfinite(seconds) else None
