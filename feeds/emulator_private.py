"""The private (signed) read endpoints of the keyed venues (Binance, Bybit, OKX) on the loopback emulator.

``install_private(emulator, accounts)`` registers one REST hook on a running ``Emulator``: the
endpoints listed in ``PRIVATE_PATHS`` answer for test accounts (``EmuAccount``: key, secret,
passphrase, permissions, positions, balance) in each venue's documented JSON shape, after a real
signature check. A missing header, an unknown key, a wrong signature or a stale timestamp is refused
with the venue's own error body (each venue's personality, feeds/venues/<venue>/emulator.py, checks
and renders its own; the sources are in feeds/venues/<venue>/account.py):

- Binance: HTTP 401 ``{"code": -2014|-2015, "msg": …}``; HTTP 400 ``-1102`` (no signature),
  ``-1021`` (timestamp outside recvWindow, or more than 1 s ahead), ``-1022`` (bad signature).
- Bybit: ``{"retCode": 10003|10004|10002, "retMsg": …}``, HTTP 401 for a key or signature refusal.
  The 10004 message echoes the signed text, key included, as Bybit's own "error sign!" does.
- OKX: HTTP 401 ``{"code": "50103"…"50113", "msg": …}``; a timestamp older than 30 s is 50102.

The HTTP statuses of Bybit's refusals are the emulator's choice (Bybit documents the codes only).
Other paths fall through to the public emulator. Every request under the keyed venues is logged in
``requests`` (method, path, status), so tests can prove what was (never) sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adlwatch.feeds import registry
from adlwatch.feeds.emulator_base import COMPACT, Answer, EmuAccount, EmuPosition, HttpFaults, Personality

__all__ = ["PRIVATE_PATHS", "EmuAccount", "EmuPosition", "PrivateEndpoints", "PrivateRequest", "install_private"]


def _keyed() -> dict[str, Personality]:
    """The personalities that serve signed endpoints, by venue."""
    out: dict[str, Personality] = {}
    for name, venue in registry.venues().items():
        own = venue.emulator() if venue.emulator is not None else None
        if own is not None and own.private_paths:
            out[name] = own
    return out


class _PrivatePaths(Mapping[str, frozenset[str]]):
    """Every venue's served private paths (its personality's ``private_paths``), asked on use."""

    def __getitem__(self, venue: str) -> frozenset[str]:
        return _keyed()[venue].private_paths

    def __iter__(self) -> Iterator[str]:
        return iter(_keyed())

    def __len__(self) -> int:
        return len(_keyed())


PRIVATE_PATHS: Mapping[str, frozenset[str]] = _PrivatePaths()


@dataclass
class PrivateRequest:
    venue: str
    method: str
    path: str
    query: str
    status: int | None  # None: not a private path, left to the public emulator


class PrivateEndpoints:
    """The hook itself: accounts by (venue, key), the request log, and injected faults."""

    def __init__(self, accounts: Iterable[EmuAccount] = (), clock: Callable[[], float] = time.time):
        self.accounts: dict[tuple[str, str], EmuAccount] = {}
        self.requests: list[PrivateRequest] = []
        self.clock = clock
        self._faults = HttpFaults()
        self._bodies: dict[tuple[str, str], str] = {}
        for account in accounts:
            self.add(account)

    def add(self, account: EmuAccount) -> EmuAccount:
        self.accounts[(account.venue, account.key)] = account
        return account

    def fail_next(self, status: int, *, count: int = 1, retry_after: float | None = None,
                  venue: str | None = None) -> None:
        """Answer the next ``count`` private requests with ``status`` (429 with Retry-After, 5xx)."""
        self._faults.add(status, count=count, retry_after=retry_after, venue=venue)

    def serve_body(self, venue: str, path: str, text: str | None) -> None:
        """Answer ``path`` with this exact text once signed (None: back to the real rendering)."""
        if text is None:
            self._bodies.pop((venue, path), None)
        else:
            self._bodies[(venue, path)] = text

    def private(self, venue: str | None = None) -> list[PrivateRequest]:
        return [r for r in self.requests if r.status is not None and (venue is None or r.venue == venue)]

    async def __call__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer | None:
        url = urlsplit(target)
        venue, _, rest = url.path.strip("/").partition("/")
        own = _keyed().get(venue)
        if own is None:
            return None
        path = "/" + rest
        request = PrivateRequest(venue, method, path, url.query, None)
        self.requests.append(request)
        if path not in own.private_paths or method != "GET":
            return None
        answer = self._answer(own, venue, path, url.query, headers)
        request.status = answer[0]
        return answer

    def _answer(self, own: Personality, venue: str, path: str, query: str, headers: dict[str, str]) -> Answer:
        fault = self._faults.take(venue)
        if fault is not None:
            return fault
        now_ms = int(self.clock() * 1000)
        account, refusal = own.check_signature(self.accounts, path, query, headers, now_ms)
        if refusal is not None:
            return refusal
        assert account is not None
        if (venue, path) in self._bodies:
            return 200, self._bodies[(venue, path)], {}
        return 200, json.dumps(own.private_body(account, path, dict(parse_qsl(query)), now_ms), **COMPACT), {}


def install_private(emulator: Any, accounts: Iterable[EmuAccount] = (),
                    clock: Callable[[], float] = time.time) -> PrivateEndpoints:
    """Serve these accounts' private endpoints from ``emulator`` (before its public routes)."""
    endpoints = PrivateEndpoints(accounts, clock)
    emulator.rest_hooks.insert(0, endpoints)
    return endpoints
