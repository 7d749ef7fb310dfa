"""What a venue declares: the adapter protocol (feeds/venues/<venue>/market.py) and ``Venue``.

An adapter describes a venue's public wire: where to connect, what to send, how to keep the socket
alive, which REST bodies to poll, and a parser from one frame's text to events. The connection
manager, the recorder, ``adlwatch tail --from`` and replay all use the same parser.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adlwatch.engine.events import Event, InsuranceFund


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """How a venue wants the client to keep a quiet socket alive."""

    interval_s: float  # send ``message`` after this long without sending
    message: str | None  # text to send (None: rely on websocket ping frames)
    # A subscribed symbol with no data for longer than this is reported stale
    # (the venue's push cadence plus 3 s).
    stale_after_s: float
    # Liveness: once a socket has delivered nothing for ``quiet_after_s`` (about the stream's cadence),
    # a websocket ping goes out; no pong (nor any frame) within ``pong_timeout_s`` means a dead socket:
    # its symbols are reported stale at once and it is reconnected.
    quiet_after_s: float = 1.0
    pong_timeout_s: float = 1.5


@dataclass(frozen=True, slots=True)
class RestPoll:
    """One public REST request to repeat: open interest, insurance fund, tiers, mark price."""

    path: str  # e.g. "/fapi/v1/openInterest"
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    json_body: dict[str, Any] | None = None  # Hyperliquid's POST /info
    interval_s: float = 60.0
    # The symbols the poll was made for, where the answer covers more (Bybit's insurance pools of a
    # coin, Hyperliquid's every market): ``parse_rest`` keeps only theirs (empty: keep all).
    symbols: tuple[str, ...] = ()
    # Which of the venue's hosts serves ``path``: "rest" is the base in use; another name is resolved
    # by the adapter's ``rest_base`` (Binance: "coinm", its COIN-M host).
    host: str = "rest"
    # A poll of an insurance pool's members (``member_polls``), made only for the pool's fund/OI: its
    # answer gives those members' open interest (in USD where the venue can), never marks or rows.
    pool_members: bool = False


# How a pool-member poll's body is tagged in a recording (``rest="<path>?pool_members"``), so that
# replay parses it as the live poller did.
POOL_MEMBERS_TAG = "pool_members"


class FrameParser(Protocol):
    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        """One frame in, events out. Never raises: a bad frame gives one FeedStatus('error')."""
        ...


class VenueAdapter(Protocol):
    """What callers use of a venue's public wire. ``AdapterBase`` gives the optional members' defaults."""

    name: str  # the venue's name, as in the registry
    ws_url: str  # default public websocket base URL (overridable: emulator, testnets)
    rest_url: str  # default REST base URL (overridable)
    heartbeat: Heartbeat
    max_streams_per_connection: int
    # Event kinds that arrive on streams of their own beside a contract's mark stream (liquidations,
    # ADL signals, funds, OKX's funding and open-interest channels): they never show that the mark
    # stream is alive, so they never reset a contract's stale clock.
    side_stream_kinds: frozenset[str]

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        """The URL to open for these symbols (Binance puts its streams in the URL)."""
        ...

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        """Text frames to send after connecting (empty when the streams are in the URL)."""
        ...

    def new_parser(self, skip: frozenset[str] = frozenset()) -> FrameParser:
        """A parser for one connection (Bybit's keeps ticker snapshots to merge deltas into).

        ``skip``: kinds of data event the consumer has no use for (the monitor: ``index_price``,
        ``funding_rate``); they are not built, which is most of a parser's cost. The frame is checked
        as fully as without ``skip``, and status events always come through: ``parse(frame)`` with a
        skip equals ``parse(frame)`` without it, less the skipped kinds, except that a frame whose
        events are all of skipped kinds keeps them (a Bybit delta with only a new index price): a
        connection marks a contract stale when no event names it, and this one is alive.
        """
        ...

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        """Public REST requests that complement the socket (OI where not pushed, insurance funds)."""
        ...

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        """Events from one REST response body, for ``symbols`` where given (else the poll's). Never raises."""
        ...

    def connection_groups(self, symbols: list[str]) -> list[list[str]]:
        """Symbols split into one list per connection."""
        ...

    def is_reconnect_notice(self, frame: str | bytes) -> bool:
        """True when the frame announces that the venue will cut the socket soon."""
        ...

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        """Text frames that drop these symbols from an open connection (empty: not supported)."""
        ...

    def mark_price_poll(self, symbol: str) -> RestPoll | None:
        """The REST request for one symbol's mark price (None: the venue has none of its own)."""
        ...

    def funding_polls(self, symbols: list[str]) -> list[RestPoll]:
        """REST requests for the funding rate where the mark's answer does not carry it (OKX); empty
        for most (``adlwatch check`` reads funding from the mark's body)."""
        ...

    def alternate_ws_urls(self, url: str) -> list[str]:
        """Other URLs to try when ``url`` cannot be opened (OKX: the other port); empty for most."""
        ...

    def rest_base(self, base_url: str, host: str) -> str:
        """The base URL a poll of ``host`` (``RestPoll.host``) is sent to, given the base in use."""
        ...

    def member_polls(self, fund: InsuranceFund, held: Sequence[str]) -> list[RestPoll]:
        """Polls of the open interest of ``fund``'s pool members that ``held`` (the polled symbols) does
        not cover, so that the pool's fund/OI is over all of them; empty where a pool backs one contract."""
        ...


def is_reconnect_notice(frame: str | bytes) -> bool:
    """OKX announces a service upgrade with event ``notice`` code 64008 before cutting the socket.

    The default every adapter inherits (a cheap text test); a venue with its own notice overrides it."""
    if isinstance(frame, bytes):
        return b'"64008"' in frame and b'"notice"' in frame
    return '"64008"' in frame and '"notice"' in frame


def chunk_symbols(symbols: Sequence[str], per_connection: int) -> list[list[str]]:
    size = max(1, int(per_connection))
    return [list(symbols[i : i + size]) for i in range(0, len(symbols), size)]


SIDE_STREAM_KINDS = frozenset({"liquidation", "adl_alert", "adl_risk", "forced_close", "insurance_fund",
                               "account_state"})


class AdapterBase:
    """Default implementations of the protocol's optional members; a venue's adapter subclasses it
    and overrides what its wire needs (every member a caller uses is declared, none is probed)."""

    max_streams_per_connection: int = 200
    side_stream_kinds: frozenset[str] = SIDE_STREAM_KINDS

    def connection_groups(self, symbols: list[str]) -> list[list[str]]:
        """Symbols split into one list per connection (Bybit: by category, then by the stream cap)."""
        return chunk_symbols(symbols, self.max_streams_per_connection)

    def is_reconnect_notice(self, frame: str | bytes) -> bool:
        """True when the venue says it will soon cut this socket (reconnect now, without backoff)."""
        return is_reconnect_notice(frame)

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        return []

    def mark_price_poll(self, symbol: str) -> RestPoll | None:
        """The one REST request that gives ``symbol``'s mark (``adlwatch check``); None: use every poll."""
        return None

    def funding_polls(self, symbols: list[str]) -> list[RestPoll]:
        return []

    def alternate_ws_urls(self, url: str) -> list[str]:
        return []

    def rest_base(self, base_url: str, host: str) -> str:
        """One host serves every poll: the base in use."""
        return base_url

    def member_polls(self, fund: InsuranceFund, held: Sequence[str]) -> list[RestPoll]:
        """None: the venue's pools back one contract each, or it has no other way to their OI."""
        return []


def lazy(module: str, name: str) -> Callable[[], Any]:
    """A loader of ``module.name``, imported on its first call (discovering every venue stays cheap)."""

    def load() -> Any:
        return getattr(importlib.import_module(module), name)

    load.__qualname__ = f"lazy({module}.{name})"
    return load


@dataclass(frozen=True)
class Venue:
    """Everything the rest of feeds/ looks a venue up for, declared once as ``VENUE`` in its package
    ``feeds/venues/<name>/__init__.py``. The heavier parts load on first use.
    """

    name: str
    adapter: VenueAdapter  # the public wire (its ``rest_url`` / ``ws_url`` are the venue's one copy)
    tardis_exchanges: tuple[str, ...] = ()  # Tardis.dev exchange ids of this venue's recordings
    # API-key parts a followed account of this venue needs (``key``, ``secret``[, ``passphrase``]);
    # empty: followed by public address, or not at all.
    key_parts: tuple[str, ...] = ()
    # The parts below are loaders (``lazy(module, name)``): () -> the part, imported on first use.
    # The tier-metadata source (feeds/tier_rows.py ``TierSource``); None: no public tier endpoint.
    tiers: Callable[[], Any] | None = None
    # The keyed follower's ``VenueRules`` (feeds/accounts/signed.py); None: no API-key follower.
    signed_rules: Callable[[], Any] | None = None
    # Another kind of follower: () -> (account, *, rest_url, ws_url, env, **options) -> ``AccountFollower``.
    follower: Callable[[], Callable[..., Any]] | None = None
    # The emulator personality (feeds/emulator_base.py ``Personality``); None: not emulated.
    emulator: Callable[[], Any] | None = None

    @property
    def rest_url(self) -> str:
        return self.adapter.rest_url

    @property
    def ws_url(self) -> str:
        return self.adapter.ws_url
