"""The offline demo: the bundled recording of 10 Oct 2025 and the demo portfolio."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from adlwatch.engine.events import MONITOR_SKIPS, MarkPrice
from adlwatch.feeds.demo_build import MODELLED_SYMBOL
from adlwatch.feeds.demo_build import VENUE as RECORDED_VENUE
from adlwatch.feeds.replay import ReplayData, load_replay

# The only perp mark price of the crash we bundle is Binance COIN-M BTCUSD_PERP's; the demo lets it
# drive the demo's other BTC contracts too, and says so on screen.
BTC_MARK_ALIASES = (("binance", "BTCUSDT"), ("hyperliquid", "BTC"))
# The modelled figures lead: the replay bar shows the note's start at 160 columns.
DEMO_NOTE = ("BTCUSDT fund/OI modelled; demo, 10 Oct 2025: BTCUSD_PERP mark (also drives BTCUSDT, HL BTC); "
             "alts are last-trade prices")
# No recording of the night's insurance fund or open interest exists: the recording carries them for
# these contracts as the cascade model moves them between the documented figures (feeds/demo_build.py,
# PROVENANCE.md). Wherever the screen shows their fund, open interest or fund/OI, it says MODELLED_TAG.
MODELLED_FUND_OI: frozenset[tuple[str, str]] = frozenset({(RECORDED_VENUE, MODELLED_SYMBOL)})
MODELLED_TAG = "modelled"


def data_path(name: str) -> Path:
    return Path(str(resources.files("adlwatch.tui") / "data" / name))


def load_demo() -> ReplayData:
    data = load_replay(data_path("demo_recording.jsonl.gz"), skip=MONITOR_SKIPS)
    events = list(data.events)
    for e in data.events:
        if isinstance(e, MarkPrice) and e.venue == "binance" and e.symbol == "BTCUSD_PERP":
            for venue, symbol in BTC_MARK_ALIASES:
                events.append(MarkPrice(venue=venue, symbol=symbol, ts=e.ts, recv_ns=e.recv_ns, price=e.price))
    return ReplayData.from_events(events, format="demo", path=str(data_path("demo_recording.jsonl.gz")))
