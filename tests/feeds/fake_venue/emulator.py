"""fakex on the loopback emulator: answers ``sub`` and ``ping``, pushes one mark frame per tick."""

from __future__ import annotations

from typing import Any

from adlwatch.feeds.emulator_base import EmuConnection, Personality, dumps


class FakexPersonality(Personality):
    ws_path = "/ws"

    def coin_of(self, symbol: str) -> str:
        return symbol.split("-")[0]

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("op") == "ping":
            await conn.send(dumps({"op": "pong"}))
        elif doc.get("op") == "sub":
            await conn.send(dumps({"op": "subscribed", "args": doc.get("args", [])}))
            emulator.add_symbols(conn, [s for s in doc.get("args", []) if isinstance(s, str)])

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        return [{"ch": "mark", "s": symbol, "p": f"{price:.2f}", "t": now_ms}]


PERSONALITY = FakexPersonality()
