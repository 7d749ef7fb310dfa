"""fakex's public wire: one socket, ``{"op":"sub","args":[symbols]}``, a JSON ping every 20 s, and
mark frames ``{"ch":"mark","s":"BTC-FX","p":"65000.5","t":1700000000000}``."""

from __future__ import annotations

import json
from dataclasses import dataclass

import msgspec

from adlwatch.engine.events import Event, MarkPrice
from adlwatch.feeds.venue import AdapterBase, Heartbeat, RestPoll
from adlwatch.feeds.wire import error_status, ms, price, snippet, without

VENUE = "fakex"
PING_MESSAGE = '{"op":"ping"}'
_decoder = msgspec.json.Decoder()


class FakexParser:
    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self.skip = skip

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        try:
            doc = _decoder.decode(frame)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [error_status(VENUE, f"not JSON: {snippet(frame)}", recv_ns)]
        if not isinstance(doc, dict) or doc.get("ch") != "mark":
            return []  # acks and pongs carry no data
        symbol, mark = doc.get("s"), price(doc.get("p"))
        if not isinstance(symbol, str) or not symbol or mark is None:
            return [error_status(VENUE, f"bad mark frame: {snippet(frame)}", recv_ns)]
        return without([MarkPrice(venue=VENUE, symbol=symbol, ts=ms(doc.get("t")), recv_ns=recv_ns, price=mark)],
                       self.skip)


@dataclass(frozen=True)
class FakexAdapter(AdapterBase):
    name: str = VENUE
    ws_url: str = "wss://stream.fakex.invalid"
    rest_url: str = "https://api.fakex.invalid"
    heartbeat: Heartbeat = Heartbeat(interval_s=20.0, message=PING_MESSAGE, stale_after_s=4.0)
    max_streams_per_connection: int = 50

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        return base_url.rstrip("/") + "/ws"

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        return [json.dumps({"op": "sub", "args": symbols})]

    def new_parser(self, skip: frozenset[str] = frozenset()) -> FakexParser:
        return FakexParser(skip)

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        return []

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        return []


ADAPTER = FakexAdapter()
