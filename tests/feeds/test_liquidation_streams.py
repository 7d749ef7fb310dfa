"""Issue 15 item 2: the venues' public liquidation streams, parsed into ``Liquidation`` events.

Frames are the venues' documented examples (appended at the end of tests/feeds/frames/*.json "ws"):
- Binance ``<symbol>@forceOrder``:
  https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams
- Bybit ``allLiquidation.<symbol>``: https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
- OKX ``liquidation-orders``: https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel
The live feed does not subscribe to these streams yet.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import FeedStatus, Liquidation, MarkPrice, decode_event, encode_event
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds.registry import ADAPTERS
from adlwatch.feeds.tail import run_tail
from adlwatch.feeds.venues.okx.market import OkxParser

FRAMES = {v: json.loads((Path(__file__).parent / "frames" / f"{v}.json").read_text())["ws"]
          for v in ("binance", "bybit", "okx")}


def _liq(frame_kind: str) -> str:
    return next(f for f in reversed(FRAMES[frame_kind[0]]) if frame_kind[1] in f)


BINANCE = _liq(("binance", "forceOrder"))
BYBIT = _liq(("bybit", "allLiquidation"))
OKX_DOC = _liq(("okx", "IOST-USDT-SWAP"))
OKX_BTC = next(f for f in FRAMES["okx"] if "liquidation-orders" in f and "BTC-USDT-SWAP" in f)


def _only(events) -> Liquidation:
    assert len(events) == 1, events
    assert isinstance(events[0], Liquidation)
    return events[0]


def test_binance_force_order_sell_is_a_long_liquidated():
    e = _only(ADAPTERS["binance"].new_parser().parse(BINANCE, 7))
    assert (e.venue, e.symbol, e.ts, e.recv_ns) == ("binance", "BTCUSDT", 1568014460893, 7)
    assert e.side == "long" and e.price == 9910.0 and e.size == 0.014
    assert e.notional_usd == pytest.approx(9910 * 0.014)
    buy = BINANCE.replace('"S":"SELL"', '"S":"BUY"')
    assert _only(ADAPTERS["binance"].new_parser().parse(buy, 7)).side == "short"
    bare = json.dumps(json.loads(BINANCE)["data"])  # a single-stream connection sends the payload bare
    assert _only(ADAPTERS["binance"].parse(bare, 7)).price == 9910.0


def test_bybit_all_liquidation_buy_is_a_long_liquidated():
    e = _only(ADAPTERS["bybit"].new_parser().parse(BYBIT, 7))
    assert (e.symbol, e.ts, e.side, e.price, e.size) == ("ROSEUSDT", 1739502302929, "short", 0.04499, 20000.0)
    assert e.notional_usd == pytest.approx(20000 * 0.04499)
    buy = BYBIT.replace('"S":"Sell"', '"S":"Buy"')
    assert _only(ADAPTERS["bybit"].new_parser().parse(buy, 7)).side == "long"
    inverse = BYBIT.replace("ROSEUSDT", "BTCUSD").replace('"p":"0.04499"', '"p":"100000"')
    e = _only(ADAPTERS["bybit"].new_parser().parse(inverse, 7))
    assert e.notional_usd == 20000.0 and e.size == pytest.approx(0.2)  # v in 1-USD contracts (UNCONFIRMED)


def test_okx_liquidation_orders_sizes_in_coin_from_ct_val():
    # the documented example: posSide short is the liquidated position; IOST is not in the catalogue
    assert ADAPTERS["okx"].new_parser().parse(OKX_DOC, 7) == []
    e = _only(OkxParser(contract_values={"IOST-USDT-SWAP": 1000.0}).parse(OKX_DOC, 7))
    assert (e.symbol, e.ts, e.side, e.price) == ("IOST-USDT-SWAP", 1692266434010, "short", 0.007831)
    assert e.size == 13 * 1000.0 and e.notional_usd == pytest.approx(13000 * 0.007831)
    # net mode on a catalogue contract (ctVal 0.01 BTC): side sell closes a long
    e = _only(ADAPTERS["okx"].new_parser().parse(OKX_BTC, 7))
    assert e.side == "long" and e.size == pytest.approx(0.25) and e.notional_usd == pytest.approx(0.25 * 90000.5)
    inverse = OKX_BTC.replace("BTC-USDT-SWAP", "BTC-USD-SWAP")  # ctVal 100 USD
    e = _only(ADAPTERS["okx"].new_parser().parse(inverse, 7))
    assert e.notional_usd == 2500.0 and e.size == pytest.approx(2500 / 90000.5)


@pytest.mark.parametrize("frame,venue", [
    (BINANCE.replace('"S":"SELL"', '"S":"HOLD"'), "binance"),
    (BINANCE.replace('"ap":"9910"', '"ap":"x"').replace('"p":"9910"', '"p":"-1"'), "binance"),
    (BINANCE.replace('"q":"0.014"', '"q":true').replace('"z":"0.014"', '"z":null'), "binance"),
    (BYBIT.replace('"S":"Sell"', '"S":"sideways"'), "bybit"),
    (BYBIT.replace('"v":"20000"', '"v":"nan"'), "bybit"),
    (BYBIT.replace('[{', '["x",{').replace("}]", "}]"), "bybit"),
    (OKX_BTC.replace('"bkPx":"90000.5"', '"bkPx":"0"'), "okx"),
    (OKX_BTC.replace('"posSide":"net","side":"sell"', '"posSide":"net","side":"?"'), "okx"),
    (OKX_BTC.replace('"details":[', '"details":{"a":[').replace("}],\"instFamily", "}]},\"instFamily"), "okx"),
])
def test_a_malformed_liquidation_yields_one_error_status(frame, venue):
    events = ADAPTERS[venue].new_parser().parse(frame, 3)
    errors = [e for e in events if isinstance(e, FeedStatus)]
    assert len(errors) == 1 and errors[0].state == "error"
    assert all(isinstance(e, (FeedStatus, Liquidation)) for e in events)


@settings(max_examples=150, deadline=None)
@given(venue=st.sampled_from(["binance", "bybit", "okx"]),
       value=st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                       st.none(), st.booleans()),
       field=st.integers(0, 10))
def test_liquidation_fields_of_any_value_never_raise_nor_emit_bad_numbers(venue, value, field):
    frame = {"binance": BINANCE, "bybit": BYBIT, "okx": OKX_BTC}[venue]
    doc = json.loads(frame)
    target = {"binance": lambda: doc["data"]["o"], "bybit": lambda: doc["data"][0],
              "okx": lambda: doc["data"][0]["details"][0]}[venue]()
    keys = list(target)
    target[keys[field % len(keys)]] = value
    for event in ADAPTERS[venue].new_parser().parse(json.dumps(doc), 5):
        if isinstance(event, Liquidation):
            assert event.side in ("long", "short") and event.symbol
            for x in (event.price, event.size, event.notional_usd):
                assert math.isfinite(x) and x > 0
        else:
            assert isinstance(event, FeedStatus) and event.state == "error"


def test_liquidation_line_is_the_tail_contract_and_the_engine_ignores_it():
    e = _only(ADAPTERS["binance"].parse(BINANCE, 7))
    obj = json.loads(encode_event(e))
    assert list(obj) == ["type", "venue", "symbol", "ts", "recv_ns", "side", "price", "size", "notional_usd"]
    assert obj["type"] == "liquidation" and decode_event(encode_event(e)) == e
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "wallet_balance": 1000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10}]}]},
        default_catalogue())
    engine = RiskEngine(portfolio)
    assert engine.apply(e) is False
    assert engine.apply_many([e, MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=1.0)]) == 1
    monitor = Monitor(portfolio, replay=True)
    mark = MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=60_000.0)
    monitor.apply(mark)
    before = monitor.live()
    monitor.apply(e)
    monitor.apply_many([e, e])
    assert monitor.live().positions == before.positions and len(before.positions) == 1


@pytest.mark.parametrize("venue,frame", [("binance", BINANCE), ("bybit", BYBIT), ("okx", OKX_BTC)])
async def test_tail_from_a_recording_prints_liquidation_lines(tmp_path, venue, frame):
    rec = tmp_path / "rec.jsonl"
    rec.write_text(json.dumps({"recv_ns": 1_700_000_000_000_000_000, "venue": venue, "frame": frame}) + "\n")
    out = io.StringIO()
    assert await run_tail(venue, [], from_path=rec, as_json=True, out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    liquidations = [o for o in lines if o["type"] == "liquidation"]
    assert len(liquidations) == 1
    assert liquidations[0]["recv_ns"] == 1_700_000_000_000_000_000
    assert set(liquidations[0]) == {"type", "venue", "symbol", "ts", "recv_ns", "side", "price", "size",
                                    "notional_usd"}


def test_tail_table_form_words_a_liquidation():
    from adlwatch.feeds.tail import format_event

    line = format_event(Liquidation(venue="binance", symbol="BTCUSDT", ts=1_700_000_000_000, side="long",
                                    price=60_000.5, size=0.25, notional_usd=15_000.1))
    assert line.endswith("liquidation    long liquidated  0.25 @ 60,000.5  ($15,000)")
