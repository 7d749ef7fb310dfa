"""Normalized feed events: the only thing that crosses from feeds/ into the engine.

Every event is a small frozen msgspec Struct. Encoded with ``encode_event`` it is exactly one
line of the ``adlwatch tail --json`` contract in DESIGN.md (``type`` first, then ``venue, symbol,
ts, recv_ns`` and the type's own fields).

The engine never imports this module: it dispatches on the class-level ``kind`` string, so the
engine stays free of I/O types.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class Event(msgspec.Struct, frozen=True, tag_field="type", kw_only=True):
    venue: str
    symbol: str
    ts: int | None  # exchange time, ms since epoch; None where the frame carries none
    recv_ns: int = 0  # local receive time of the frame this event came from

    kind: ClassVar[str] = "event"


class MarkPrice(Event, frozen=True, tag="mark_price", kw_only=True):
    price: float
    kind: ClassVar[str] = "mark_price"


class IndexPrice(Event, frozen=True, tag="index_price", kw_only=True):
    price: float
    kind: ClassVar[str] = "index_price"


class FundingRate(Event, frozen=True, tag="funding_rate", kw_only=True):
    rate: float
    next_funding_ts: int | None = None
    kind: ClassVar[str] = "funding_rate"


class OpenInterest(Event, frozen=True, tag="open_interest", kw_only=True):
    open_interest: float  # one side, base units
    open_interest_usd: float | None = None
    kind: ClassVar[str] = "open_interest"


class InsuranceFund(Event, frozen=True, tag="insurance_fund", kw_only=True):
    symbols: list[str]  # contracts the pool backs; ``symbol`` is the first
    asset: str
    balance: float
    kind: ClassVar[str] = "insurance_fund"


class AdlAlert(Event, frozen=True, tag="adl_alert", kw_only=True):
    state: str  # normal | warning | adl
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    kind: ClassVar[str] = "adl_alert"


class FeedStatus(Event, frozen=True, tag="status", kw_only=True):
    state: str  # connected | subscribed | stale | disconnected | error
    detail: str = ""
    kind: ClassVar[str] = "status"


AnyEvent = MarkPrice | IndexPrice | FundingRate | OpenInterest | InsuranceFund | AdlAlert | FeedStatus

STATUS_STATES = ("connected", "subscribed", "stale", "disconnected", "error")
ADL_STATES = ("normal", "warning", "adl")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """One ``tail --json`` line (without the newline)."""
    return _encoder.encode(event)


def decode_event(line: bytes | str) -> Event:
    return _decoder.decode(line)
