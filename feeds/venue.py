"""The one small protocol every venue adapter implements (feeds/<venue>.py).

An adapter describes a venue's public wire: where to connect, what to send, how to keep the socket
alive, which REST bodies to poll, and a parser from one frame's text to events. The connection
manager, the recorder, ``adlwatch tail --from`` and replay all use the same parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from adlwatch.engine.events import Event


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """How a venue wants the client to keep a quiet socket alive."""

    interval_s: float  # send ``message`` after this long without sending
    message: str | None  # text to send (None: rely on websocket ping frames)
    # A subscribed symbol with no data for longer than this is reported stale
    # (the venue's push cadence plus 3 s).
    stale_after_s: float


@dataclass(frozen=True, slots=True)
class RestPoll:
    """One public REST request to repeat: open interest, insurance fund, tiers, mark price."""

    path: str  # e.g. "/fapi/v1/openInterest"
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    json_body: dict[str, Any] | None = None  # Hyperliquid's POST /info
    interval_s: float = 60.0


class FrameParser(Protocol):
    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        """One frame in, events out. Never raises: a bad frame gives one FeedStatus('error')."""
        ...


class VenueAdapter(Protocol):
    name: str  # binance | bybit | okx | hyperliquid
    ws_url: str  # default public websocket base URL (overridable: emulator, testnets)
    rest_url: str  # default REST base URL (overridable)
    heartbeat: Heartbeat
    max_streams_per_connection: int

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

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0) -> list[Event]:
        """Events from one REST response body. Never raises."""
        ...
