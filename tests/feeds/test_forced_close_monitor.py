"""Issue 15's acceptance through the product's monitor, for the keyed venues not covered by their own
files (Bybit: test_bybit_issue15.py; Hyperliquid: test_hyperliquid_issue15.py): against the
emulator, a followed position the venue liquidates, one it auto-deleverages and one the user closes
give exactly the first two critical alerts, with the right classification, price and size."""

from __future__ import annotations

import time

import pytest

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import RULE_FORCED_CLOSE
from adlwatch.engine.events import AccountState, ForcedClose
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.emulator_private import EmuPosition
from tests.feeds.private_fixtures import private  # noqa: F401 (a fixture)

QUIET = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                   stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)

# venue: (the third position the user closes, the liquidated one, the ADL'd one with the size taken)
CASES = {
    "binance": (EmuPosition("XRPUSDT", "long", 1_000.0, 0.6, 0.61, 5.0, adl=1, maint_margin=3.0),
                ("ETHUSDT", 3_610.5), ("BTCUSDT", 58_000.0, 0.2)),
    "okx": (EmuPosition("SOL-USDT-SWAP", "long", 10.0, 150.0, 152.0, 5.0, adl=1, maint_margin=7.6),
            ("ETH-USDT-SWAP", 3_700.0), ("BTC-USDT-SWAP", 59_000.0, 0.2)),
}


@pytest.mark.parametrize("venue", sorted(CASES))
async def test_exactly_the_liquidation_and_the_adl_alert_through_the_monitor(private, venue):  # noqa: F811
    own, (liq_symbol, liq_price), (adl_symbol, adl_price, adl_size) = CASES[venue]
    monitor = Monitor(Portfolio.from_data({"account": [{"venue": venue, "key_name": "main"}]}, default_catalogue()),
                      rules=QUIET)
    held = private.account(venue)
    held.positions.append(own)
    before = {p.symbol: p.size for p in held.held()}
    async with private.run(private.follower(venue), lambda e: monitor.apply(e, time.time())) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == len(before))
        held.close(liq_symbol, "liquidation", liq_price)
        held.close(adl_symbol, "adl", adl_price, size=adl_size)
        held.close(own.symbol, "user", own.mark_price)
        await running.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
    alerts = [a for a in monitor.evaluate(time.time()) if a.rule == RULE_FORCED_CLOSE]
    told = sorted((a.symbol, a.value, a.price, round(a.size, 9), round(a.remaining, 9)) for a in alerts)
    assert told == sorted([(liq_symbol, "liquidation", liq_price, round(before[liq_symbol], 9), 0.0),
                           (adl_symbol, "adl", adl_price, adl_size, round(before[adl_symbol] - adl_size, 9))])
    assert all(a.critical and a.state == "fired" for a in alerts)
    assert not [a for a in alerts if a.symbol == own.symbol]
