"""Shared pieces of the tier-metadata fetchers (feeds/venues/<venue>/tiers.py) and of feeds/tiers.py.

A venue's ``tiers.py`` declares a ``TierSource``: how to fetch its public tier tables into rows of
the bundled tables' shape (floor, cap, mmr, max_leverage), what its cache file's notes say, and its
tier basis when the bundle does not know the contract. The parsers raise only ``ValueError``
naming the venue and what was wrong.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from adlwatch.engine.instruments import Catalogue, Instrument, build_tiers
from adlwatch.feeds.transport import Backoff, retry_after_s

Row = dict[str, float]
# What a fetch returns: {symbol: (rows, source URL, as_of ISO time)}
Fetched = dict[str, tuple[list[Row], str, str]]


@dataclass(frozen=True)
class TierSource:
    """A venue's public tier tables. ``fetch(fetcher, base_url, symbols, catalogue, errors)`` returns
    what it could fetch and appends one line per symbol it could not; ``skip`` instead says why the
    refresh leaves this venue to its bundled tables."""

    fetch: Callable[[Fetcher, str, Sequence[str], Catalogue, list[str]], Awaitable[Fetched]] | None = None
    # Every perpetual the venue lists, specification and tiers, as engine Instruments (with source,
    # as_of, verified, status): ``fetch_universe(fetcher, base_url, errors)``. Paginates as the venue
    # does; one line in ``errors`` per contract or page it could not read (the rest still returned).
    fetch_universe: Callable[[Fetcher, str, list[str]], Awaitable[list[Instrument]]] | None = None
    # One contract on demand (a symbol no table knows, before it is refused): ``lookup(fetcher,
    # base_url, symbol, errors)``; None where the venue's endpoints cannot ask for one alone.
    lookup: Callable[[Fetcher, str, str, list[str]], Awaitable[Instrument | None]] | None = None
    notes: str = ""  # the cache file's ``[venue] notes``: what was fetched and how it was converted
    default_basis: str = "notional"  # tier basis of a cached contract the bundle does not know
    skip: str = ""


def load_json(body: Any, venue: str) -> Any:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{venue}: body is not UTF-8 ({err.reason})") from None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except RecursionError:
            raise ValueError(f"{venue}: body nests too deeply") from None
        except ValueError as err:
            raise ValueError(f"{venue}: body is not JSON ({err})") from None
    return body  # already decoded


def number(value: Any, venue: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{venue}: {what} is not a number: {value!r:.60}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{venue}: {what} is not a number: {value!r:.60}") from None
    if not math.isfinite(x):
        raise ValueError(f"{venue}: {what} is not finite: {value!r:.60}")
    return x


def tidy(x: float) -> float:
    """Drop binary noise from a product such as 3 × 0.1 (12 significant digits are plenty)."""
    return float(f"{x:.12g}")


def checked(venue: str, symbol: str, rows: list[Row]) -> list[Row]:
    """The rows, once ``build_tiers`` accepts them (floors chain, rates in (0, 1))."""
    if not rows:
        raise ValueError(f"{venue}: {symbol} has no tiers")
    for i, row in enumerate(rows):
        if not row["cap"] > row["floor"]:
            raise ValueError(f"{venue}: {symbol} tier {i + 1}: cap {row['cap']} not above floor {row['floor']}")
        if not row["max_leverage"] > 0:
            raise ValueError(f"{venue}: {symbol} tier {i + 1}: max leverage {row['max_leverage']} not positive")
    try:
        build_tiers(rows, f"{venue}:{symbol}")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{venue}: {err}") from None
    return rows


def chain(venue: str, symbol: str, caps_rates: list[tuple[float, float, float]]) -> list[Row]:
    """Rows from (cap, mmr, max_leverage) sorted by cap: each floor is the previous cap."""
    rows: list[Row] = []
    floor = 0.0
    for cap, mmr, lever in caps_rates:
        rows.append({"floor": floor, "cap": cap, "mmr": mmr, "max_leverage": lever})
        floor = cap
    return checked(venue, symbol, rows)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fetcher:
    """Sequential requests to one venue, a small gap apart, retrying 429/418/5xx a few times."""

    def __init__(self, client: httpx.AsyncClient, *, retries: int, gap_s: float,
                 backoff_initial_s: float, rng: random.Random):
        self.client = client
        self.retries = retries
        self.gap_s = gap_s
        self.backoff = Backoff(backoff_initial_s, max(backoff_initial_s, 30.0), rng=rng)
        self._sent = False

    async def fetch(self, method: str, url: str, json_body: Any = None) -> str:
        """The body text; raises ``ValueError`` with a one-line reason when there is none."""
        self.backoff.reset()
        for attempt in range(self.retries + 1):
            if self._sent and self.gap_s > 0:
                await asyncio.sleep(self.gap_s)  # stay far below the venue's per-IP limits
            self._sent = True
            try:
                response = await self.client.request(method, url, json=json_body)
            except httpx.HTTPError as exc:
                reason = f"cannot reach {url} ({type(exc).__name__}: {exc})"
                retry_wait = None
            else:
                status = response.status_code
                if status < 400:
                    return response.text
                reason = f"{url} answered HTTP {status}"
                if status not in (418, 429) and status < 500:
                    raise ValueError(reason)
                retry_wait = retry_after_s(response)
            if attempt == self.retries:
                raise ValueError(reason)
            await asyncio.sleep(max(self.backoff.next_delay(), retry_wait or 0.0))
        raise AssertionError("unreachable")


    async def get_paced(self, address: str, *, min_gap_s: float, rate_limited: Callable[[str], bool],
                        retries: int = 3) -> str:
        """GET with at least ``min_gap_s`` between requests (the venue's own pace; a fetcher without a
        gap, as in tests against the emulator, is not slowed), retrying an answer whose body says the
        venue's rate limit was hit (some gateways say it with HTTP 200) after the backoff."""
        for attempt in range(retries + 1):
            if 0 < self.gap_s < min_gap_s:
                await asyncio.sleep(min_gap_s - self.gap_s)
            text = await self.fetch("GET", address)
            if attempt == retries or not rate_limited(text):
                return text
            await asyncio.sleep(self.backoff.next_delay())
        raise AssertionError("unreachable")

def url(base: str, path: str, params: Mapping[str, str] | None = None) -> str:
    url = base.rstrip("/") + path
    return url + ("?" + urlencode(params) if params else "")


def bundled(catalogue: Catalogue, venue: str, symbol: str) -> Instrument | None:
    try:
        return catalogue.get(venue, symbol)
    except Exception:
        return None
