"""Followers of Binance, Bybit and OKX accounts by read-only API key: polling, signing, safety.

Each keyed venue's ``feeds/venues/<venue>/account.py`` holds that venue's signing rule, its read
endpoints, its error codes and the mapping of its JSON to an ``AccountState`` (its ``RULES``). This
module holds what they share:

- ``READ_PATHS``, the complete list of endpoints adlwatch may call with a key, and ``send_read``, the
  one function that sends a keyed request. It refuses any method but GET and any path not listed,
  so no code path can place, amend or cancel an order or move funds (tests prove the refusal).
- ``SignedFollower``: a poll every ``interval_s`` (5 s) after the previous one finished; capped,
  jittered backoff on 429/418/5xx and network errors (honouring ``Retry-After``); a rejected key
  (401/403 or the venue's own code) is one ``FeedStatus`` line ("binance key 'main' rejected: …")
  and a slow retry; a key that can trade or withdraw is a loud warning every time the account is
  reported. Nothing raises out of ``fetch`` or ``run`` for a venue problem.

Keys come from feeds/keys.py. Their values never reach a status line, a log record or an exception
text (every detail passes ``redact``), and private bodies are never sent to the raw-frame recorder.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import msgspec

from adlwatch.engine.events import AccountState, Event, FeedStatus, ForcedClose
from adlwatch.feeds import registry
from adlwatch.feeds.accounts.follower import ClosesWatch, same_account_state
from adlwatch.feeds.keys import Credentials, MissingCredentials, Secret, load_credentials
from adlwatch.feeds.transport import Backoff, make_http_client, retry_after_s

log = logging.getLogger(__name__)

class _ReadPaths(Mapping[str, frozenset[str]]):
    """Every endpoint a key is ever sent to, by venue: each venue's ``account.py`` declares its own
    ``READ_PATHS`` (read, USER_DATA / GET endpoints; nothing else). Asked of the registry on use, so a
    venue registered later is covered."""

    def _paths(self) -> dict[str, frozenset[str]]:
        return {name: venue.signed_rules().read_paths for name, venue in registry.venues().items()
                if venue.signed_rules is not None}

    def __getitem__(self, venue: str) -> frozenset[str]:
        return self._paths()[venue]

    def __iter__(self):
        return iter(self._paths())

    def __len__(self) -> int:
        return len(self._paths())


READ_PATHS: Mapping[str, frozenset[str]] = _ReadPaths()

DANGEROUS_PERMISSIONS = ("trade", "withdraw")
_RATE_STATUSES = {418, 429}


class RefusedRequest(Exception):
    """A keyed request that is not a GET of a listed read endpoint: never sent."""


def refuse_unless_read(venue: str, method: str, path: str) -> None:
    if method != "GET":
        raise RefusedRequest(f"{venue}: adlwatch only reads; refused {method} {path}")
    if path not in READ_PATHS.get(venue, frozenset()):
        raise RefusedRequest(f"{venue}: {path} is not one of the read endpoints adlwatch may call")


async def send_read(client: httpx.AsyncClient, venue: str, method: str, base_url: str, path: str,
                    query: str, headers: Mapping[str, str]) -> httpx.Response:
    """The only function that sends a keyed request: a GET of a listed read endpoint, or nothing."""
    refuse_unless_read(venue, method, path)
    if "#" in query:
        raise RefusedRequest(f"{venue}: refused a query with a fragment")
    url = base_url.rstrip("/") + path + (f"?{query}" if query else "")
    return await client.get(url, headers=dict(headers))


# ---------------------------------------------------------------------------- shared values


@dataclass(frozen=True)
class Read:
    """One signed read of a round."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    # rest | spot (Binance keeps key permissions on its spot API host) | another name the venue's
    # ``VenueRules.host_url`` resolves (Binance COIN-M's dapi host)
    host: str = "rest"
    optional: bool = False  # the key's permissions: a failure is a warning, not a failed round
    unread: str = "permissions unknown"  # the warning's words when an optional read fails
    # A heavy read (Binance's income history, weight 30) is sent at most every ``every_s`` seconds;
    # the rounds in between hand ``account_state`` its last answer. 0: every round.
    every_s: float = 0.0


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | rejected | clock | rate | server | network | body | error
    detail: str
    retry_after_s: float | None = None


def classify(code: object, detail: str, rejected: Mapping | frozenset, clock: frozenset | Mapping,
             rate: frozenset | Mapping) -> Problem:
    """A venue error code sorted by what the follower does next (each venue lists its own codes)."""
    if code in rejected:
        return Problem("rejected", detail)
    if code in clock:
        return Problem("clock", f"{detail}: check the system clock")
    if code in rate:
        return Problem("rate", detail)
    return Problem("error", detail)


@dataclass(frozen=True)
class MapContext:
    ref: str  # the key label: AccountState.symbol
    settle: str
    recv_ns: int
    contract_values: Mapping[str, float] = field(default_factory=dict)  # OKX ctVal by instId
    # The settlement assets the key's other portfolio entries follow: their positions are shown there.
    followed_elsewhere: frozenset[str] = frozenset()


def elsewhere_warnings(held: Mapping[str, list[str]], context: MapContext) -> list[str]:
    """One line per settlement asset (other than ``context.settle``) the key holds positions in that no
    entry of the portfolio follows: ``held`` maps the asset to the symbols. An asset another entry
    follows says nothing: its positions are shown under that entry."""
    return [f"{', '.join(sorted(set(symbols)))}: settle in {asset}, another account of the key "
            f"(follow it with settle = \"{asset}\")"
            for asset, symbols in sorted(held.items()) if asset not in context.followed_elsewhere]


@dataclass(frozen=True)
class VenueRules:
    """What one venue module hands to the follower."""

    venue: str
    rest_url: str
    reads: Callable[[str], tuple[Read, ...]]  # settle asset -> the reads of one round
    sign: Callable[[Credentials, Read, float, int], tuple[str, dict[str, str]]]  # -> (query, headers)
    problem: Callable[[int, str], Problem | None]  # the venue's own error codes, or None
    account_state: Callable[[Mapping[str, str], MapContext], AccountState]  # raises BodyError
    spot_rest_url: str | None = None
    # Every path ``reads`` may ask for: the only endpoints a key of this venue is ever sent to.
    read_paths: frozenset[str] = frozenset()
    # () -> the catalogue's contract values by symbol, where the wire counts contracts (OKX ctVal).
    contract_values: Callable[[], dict[str, float]] | None = None
    # "You were liquidated / ADL'd": the reads of the venue's own closing records for positions that
    # shrank or went, given as (symbol, side, since_ms) (``ClosesWatch.pending``), and the mapping of
    # their bodies (each with its read) to ``ForcedClose`` events: liquidations and ADL fills only,
    # never the user's own trades. None: the venue's records are not read.
    record_reads: Callable[[list[tuple[str, str, int]]], tuple[Read, ...]] | None = None
    forced_closes: Callable[[list[tuple[Read, str]], MapContext], list[ForcedClose]] | None = None
    # (host name, the follower's REST base) -> the base URL of a ``Read.host`` other than rest/spot
    # (Binance: "coinm" -> dapi.binance.com, or the same base when it is overridden: the emulator).
    host_url: Callable[[str, str], str] | None = None
    # (a record read, its answer) -> the read of the next page, or None once the read's window is
    # covered (OKX's fills: 100 a page); at most ``record_pages`` further pages are read in a round.
    next_page: Callable[[Read, str], Read | None] | None = None
    record_pages: int = 0


class BodyError(ValueError):
    """A venue body adlwatch cannot read. The message names fields, never their values."""


# ---------------------------------------------------------------------------- signing helpers


def hmac_sha256(secret: Secret, message: str) -> bytes:
    return hmac.new(secret.reveal().encode(), message.encode(), hashlib.sha256).digest()


def hmac_hex(secret: Secret, message: str) -> str:
    return hmac_sha256(secret, message).hex()


def hmac_base64(secret: Secret, message: str) -> str:
    return base64.b64encode(hmac_sha256(secret, message)).decode()


def redact(text: str, credentials: Credentials | None, limit: int = 240) -> str:
    """``text`` without any part of the key (the venue may echo it, e.g. Bybit's sign errors)."""
    if credentials is not None:
        for secret in (credentials.key, credentials.secret, credentials.passphrase):
            value = secret.reveal() if secret is not None else ""
            if len(value) >= 4:
                text = text.replace(value, "…")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- body helpers


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        raise BodyError(f"{what}: not JSON") from None


def as_list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise BodyError(f"{what}: expected a list")
    return value


def as_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise BodyError(f"{what}: expected an object")
    return value


def number(row: Mapping[str, Any], name: str, what: str, *, optional: bool = False) -> float | None:
    """A finite number from a JSON number or numeric string; "" or absent is None when optional."""
    value = row.get(name)
    if optional and (value is None or value == ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BodyError(f"{what}.{name}: not a number")
    try:
        result = float(value)
    except (ValueError, OverflowError):
        raise BodyError(f"{what}.{name}: not a number") from None
    if not math.isfinite(result):
        raise BodyError(f"{what}.{name}: not finite")
    return result


def required(row: Mapping[str, Any], name: str, what: str) -> float:
    value = number(row, name, what)
    assert value is not None  # number() without optional never returns None
    return value


def string(row: Mapping[str, Any], name: str, what: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise BodyError(f"{what}.{name}: not a string")
    return value


def integer(row: Mapping[str, Any], name: str, what: str, *, optional: bool = False) -> int | None:
    value = number(row, name, what, optional=optional)
    if value is None:
        return None
    if value != int(value):
        raise BodyError(f"{what}.{name}: not an integer")
    return int(value)


def positive_or_none(value: float | None) -> float | None:
    """Venues send 0 (or "") where a price does not exist."""
    return value if value is not None and value > 0 else None


def danger_warning(label: str, permissions: list[str]) -> str | None:
    risky = [p for p in DANGEROUS_PERMISSIONS if p in permissions]
    if not risky:
        return None
    return (f"WARNING: {label} can {' and '.join(risky)}. adlwatch only reads: "
            "replace it with a read-only key")


# ---------------------------------------------------------------------------- the follower


def rules_for(venue: str) -> VenueRules:
    """The keyed follower's rules of ``venue`` (its ``account.py``); ValueError for a venue without."""
    loader = registry.get_venue(venue).signed_rules
    if loader is None:
        raise ValueError(f"no API-key follower for {venue!r}")
    return loader()


@dataclass(frozen=True)
class _Outcome:
    state: AccountState | None = None
    problem: Problem | None = None
    closes: tuple[ForcedClose, ...] = ()


class _ReadFailed(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.detail)
        self.problem = problem


class SignedFollower:
    """Follows one account of Binance, Bybit or OKX through a read-only API key (the
    ``AccountFollower`` protocol of feeds/accounts/__init__.py)."""

    def __init__(
        self,
        venue: str,
        ref: str,
        *,
        key_name: str | None = None,
        followed_elsewhere: frozenset[str] = frozenset(),
        rest_url: str | None = None,
        spot_rest_url: str | None = None,
        env: Mapping[str, str] | None = None,
        keyring: Any = None,
        settle: str = "USDT",
        interval_s: float = 5.0,
        timeout_s: float = 5.0,
        recv_window_ms: int = 5000,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        rejected_retry_s: float = 300.0,
        contract_values: Mapping[str, float] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.rules = rules_for(venue)
        self.venue = venue
        self.ref = ref  # the account's reference (AccountState.symbol)
        self.key_name = key_name or ref  # whose key: the label the credentials are loaded by
        self.followed_elsewhere = followed_elsewhere  # settlement assets the key's other entries follow
        self.label = f"{venue} key '{ref}'"
        self.rest_url = rest_url or self.rules.rest_url
        # An overridden REST URL (the emulator, a testnet) serves the permissions endpoint too.
        self.spot_rest_url = spot_rest_url or (rest_url if rest_url else self.rules.spot_rest_url) or self.rest_url
        self.settle = settle
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.recv_window_ms = recv_window_ms
        self.rejected_retry_s = rejected_retry_s
        self.contract_values = dict(contract_values) if contract_values is not None else _contract_values(self.rules)
        self._env = env
        self._keyring = keyring
        self._client = client
        self._clock = clock
        self._rng = rng or random.Random()
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng=self._rng)
        self._credentials: Credentials | None = None
        self._reload = False
        self._stop = asyncio.Event()
        self._last_problem: str | None = None
        self._last_state: AccountState | None = None
        self._reported = False
        self._closes = ClosesWatch()
        self._kept: dict[Read, tuple[float, str]] = {}  # the last answer of each read with ``every_s``
        self.rounds = 0
        self.waits: list[float] = []  # every delay chosen after a failure (for tests)

    def __repr__(self) -> str:
        return f"SignedFollower({self.label})"

    def stop(self) -> None:
        self._stop.set()

    async def fetch(self) -> list[Event]:
        """One REST round: the ``AccountState`` (and a warning for a trading key), or one
        ``FeedStatus`` saying why not. Never raises."""
        outcome = await self._with_client(self._round)
        if outcome.state is not None:
            return [*self._state_events(outcome.state), *outcome.closes]
        assert outcome.problem is not None
        return [self._status("error", self._problem_line(outcome.problem))]

    async def run(self, emit: Callable[[Event], None]) -> None:
        """Poll until ``stop()``: each changed state is emitted; a problem once per kind until it clears."""
        client = self._client or make_http_client(self.rest_url, self.timeout_s)
        try:
            while not self._stop.is_set():
                outcome = await self._round(client)
                wait = self._next_wait(outcome.problem)
                for event in self._run_events(outcome, wait):
                    emit(event)
                await self._sleep(wait)
        finally:
            if self._client is None:
                await client.aclose()

    # ------------------------------------------------------------------ one round

    async def _with_client(self, job: Callable[[httpx.AsyncClient], Any]) -> Any:
        if self._client is not None:
            return await job(self._client)
        async with make_http_client(self.rest_url, self.timeout_s) as client:
            return await job(client)

    async def _round(self, client: httpx.AsyncClient) -> _Outcome:
        self.rounds += 1
        try:
            return await self._read_account(client)
        except Exception as exc:  # a bug or a surprise must not stop the monitor
            detail = redact(f"unexpected {type(exc).__name__}: {exc}", self._credentials)
            log.warning("%s: %s", self.label, detail)
            return _Outcome(problem=Problem("error", detail))

    async def _read_account(self, client: httpx.AsyncClient) -> _Outcome:
        try:
            credentials = self._load_credentials()
        except MissingCredentials as missing:
            return _Outcome(problem=Problem("missing", str(missing)))
        bodies: dict[str, str] = {}
        warnings: list[str] = []
        now = self._clock()
        for read in self.rules.reads(self.settle):
            kept = self._kept.get(read)
            if kept is not None and now - kept[0] < read.every_s:
                bodies[read.path] = kept[1]
                continue
            try:
                bodies[read.path] = await self._read(client, credentials, read)
            except _ReadFailed as failed:
                if not read.optional:
                    # a rejected key is read again (environment, keyring) before the next try
                    self._reload = failed.problem.kind == "rejected"
                    return _Outcome(problem=failed.problem)
                warnings.append(f"{self.label}: {read.unread} ({failed.problem.detail})")
                continue
            if read.every_s > 0:
                self._kept[read] = (now, bodies[read.path])
        context = MapContext(self.ref, self.settle, time.time_ns(), self.contract_values, self.followed_elsewhere)
        try:
            state = self.rules.account_state(bodies, context)
        except BodyError as error:
            return _Outcome(problem=Problem("body", redact(f"unreadable account data: {error}", credentials)))
        closes = await self._forced_closes(client, credentials, state, context)
        return _Outcome(state=self._with_warnings(state, warnings), closes=tuple(closes))

    async def _forced_closes(self, client: httpx.AsyncClient, credentials: Credentials, state: AccountState,
                             context: MapContext) -> list[ForcedClose]:
        """The venue's liquidation / ADL records of the positions that shrank or went since the last
        round (read only then). A failed or unreadable read is a log line: the next round asks again."""
        self._closes.observe(state, int(self._clock() * 1000))
        pending = self._closes.pending()
        if not pending or self.rules.record_reads is None or self.rules.forced_closes is None:
            return []
        pairs: list[tuple[Read, str]] = []
        pages_left = self.rules.record_pages
        for first in self.rules.record_reads(pending):
            read: Read | None = first
            while read is not None:
                try:
                    text = await self._read(client, credentials, read)
                except _ReadFailed as failed:
                    log.warning("%s: closing records unread (%s)", self.label, failed.problem.detail)
                    return []
                pairs.append((read, text))
                read = self.rules.next_page(read, text) if self.rules.next_page is not None else None
                if read is not None and pages_left <= 0:
                    log.warning("%s: closing records beyond %d further pages unread this round",
                                self.label, self.rules.record_pages)
                    read = None
                pages_left -= read is not None
        try:
            closes = self.rules.forced_closes(pairs, context)
        except BodyError as error:
            log.warning("%s: %s", self.label, redact(f"unreadable closing records: {error}", credentials))
            return []
        return self._closes.report(closes, state)

    async def _read(self, client: httpx.AsyncClient, credentials: Credentials, read: Read) -> str:
        query, headers = self.rules.sign(credentials, read, self._clock(), self.recv_window_ms)
        base = self._base(read.host)
        try:
            response = await send_read(client, self.venue, "GET", base, read.path, query, headers)
        except httpx.HTTPError as exc:
            detail = f"{read.path} unreachable ({type(exc).__name__}: {exc})"
            raise _ReadFailed(Problem("network", redact(detail, credentials))) from None
        problem = self.rules.problem(response.status_code, response.text) or _http_problem(response, read)
        if problem is not None:
            retry_after = retry_after_s(response) if problem.kind in ("rate", "server") else None
            raise _ReadFailed(replace(problem, detail=redact(problem.detail, credentials),
                                      retry_after_s=retry_after))
        return response.text

    def _base(self, host: str) -> str:
        if host == "rest":
            return self.rest_url
        if host == "spot":
            return self.spot_rest_url
        if self.rules.host_url is None:
            raise ValueError(f"{self.venue}: no URL for the read host {host!r}")
        return self.rules.host_url(host, self.rest_url)

    def _load_credentials(self) -> Credentials:
        if self._credentials is None or self._reload:
            self._reload = False
            self._credentials = load_credentials(self.venue, self.key_name, env=self._env, keyring=self._keyring)
        return self._credentials

    def _with_warnings(self, state: AccountState, warnings: list[str]) -> AccountState:
        danger = danger_warning(self.label, state.permissions)
        loud = [danger] if danger else []
        return msgspec.structs.replace(state, warnings=[*loud, *state.warnings, *warnings])

    # ------------------------------------------------------------------ events and timing

    def _state_events(self, state: AccountState) -> list[Event]:
        events: list[Event] = [state]
        danger = danger_warning(self.label, state.permissions)
        if danger:
            events.append(self._status("error", danger))
        return events

    def _run_events(self, outcome: _Outcome, wait: float) -> list[Event]:
        if outcome.problem is not None:
            if outcome.problem.kind == self._last_problem:
                return []  # the same kind of problem again: already on screen
            self._last_problem = outcome.problem.kind
            line = self._problem_line(outcome.problem)
            return [self._status("error", f"{line}; retrying in {_seconds(wait)}")]
        assert outcome.state is not None
        events: list[Event] = []
        if self._last_problem is not None or not self._reported:
            count = len(outcome.state.positions)
            again = " again" if self._reported else ""
            events.append(self._status("connected", f"{self.label}: following{again}, {count} position(s)"))
        self._last_problem = None
        self._reported = True
        if self._last_state is None or not same_account_state(self._last_state, outcome.state):
            events.extend(self._state_events(outcome.state))
        events.extend(outcome.closes)
        self._last_state = outcome.state
        return events

    def _problem_line(self, problem: Problem) -> str:
        if problem.kind == "missing":
            return problem.detail
        if problem.kind == "rejected":
            return f"{self.label} rejected: {problem.detail}"
        return f"{self.label}: {problem.detail}"

    def _next_wait(self, problem: Problem | None) -> float:
        if problem is None:
            self._backoff.reset()
            return self.interval_s
        if problem.kind in ("missing", "rejected"):
            wait = self.rejected_retry_s
        else:
            wait = max(self._backoff.next_delay(), problem.retry_after_s or 0.0, 0.05)
        self.waits.append(wait)
        return wait

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _status(self, state: str, detail: str) -> FeedStatus:
        return FeedStatus(venue=self.venue, symbol=f"account:{self.ref}", ts=None, recv_ns=time.time_ns(),
                          state=state, detail=redact(detail, self._credentials, limit=400))


def _http_problem(response: httpx.Response, read: Read) -> Problem | None:
    status = response.status_code
    if status < 400:
        return None
    if status in _RATE_STATUSES:
        return Problem("rate", f"rate limited on {read.path} (HTTP {status})")
    if status >= 500:
        return Problem("server", f"server error on {read.path} (HTTP {status})")
    if status in (401, 403):
        return Problem("rejected", f"HTTP {status} on {read.path}")
    return Problem("error", f"HTTP {status} on {read.path}")


def _seconds(wait: float) -> str:
    return f"{wait:.0f} s" if wait >= 10 else f"{wait:.1f} s"




def _contract_values(rules: VenueRules) -> dict[str, float]:
    return rules.contract_values() if rules.contract_values is not None else {}


def signed_follower(venue: str, key_name: str, *, ref: str | None = None, settle: str | None = None,
                    followed_elsewhere: frozenset[str] = frozenset(), rest_url: str | None = None,
                    env: Mapping[str, str] | None = None, **options: Any) -> SignedFollower:
    """The follower of one ``[[account]] venue = … key_name = … [settle = …]`` entry: ``ref`` is the
    account's reference (``Account.ref``: the label, or ``label:SETTLE``), the key is ``key_name``'s.

    Options that only another follower kind takes (``followers_for`` hands the same ones to all)
    are left out here.
    """
    accepted = inspect.signature(SignedFollower.__init__).parameters
    own = {name: value for name, value in options.items()
           if name in accepted and name not in ("venue", "ref", "key_name", "settle", "followed_elsewhere")}
    if settle is not None:
        own["settle"] = settle
    return SignedFollower(venue, ref or key_name, key_name=key_name, followed_elsewhere=followed_elsewhere,
                          rest_url=rest_url, env=env, **own)
