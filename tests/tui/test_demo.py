"""The bundled demo, replayed headless through the same engine path as live."""

from __future__ import annotations

from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds.replay import ReplaySource
from adlwatch.tui.cli import demo_path
from adlwatch.tui.demo import load_demo
from tests import portfolio_files


def test_headless_demo_replay_reaches_the_end_with_the_expected_liquidation_crossing():
    data = load_demo()
    engine = RiskEngine(portfolio_files.load(demo_path("demo_portfolio.toml")))
    source = ReplaySource(data, playing=False)
    distance: dict[str, list[float]] = {}
    adl: dict[str, list[float]] = {}
    t = data.start_ms
    while not source.finished:
        t += 30_000
        source.advance_to(t, engine.apply)
        for p in engine.snapshot().positions:
            if p.distance_pct is not None:
                distance.setdefault(p.symbol, []).append(p.distance_pct)
            if p.adl_score is not None:
                adl.setdefault(p.symbol, []).append(p.adl_score)
    assert source.emitted == len(data.events)
    # The isolated AVAX long and the cross BTCUSDT long start safe and cross their liquidation prices.
    for symbol in ("AVAXUSD_PERP", "BTCUSDT"):
        assert distance[symbol][0] > 0 and min(distance[symbol]) < 0, symbol
    # The profitable AAVE short (the side ADL would hit) climbs the ADL ranking during the crash.
    assert max(adl["AAVEUSD_PERP"]) > 10 * adl["AAVEUSD_PERP"][0]
    # The short side is never near liquidation.
    assert min(distance["AAVEUSD_PERP"]) > 20 and min(distance["BTCUSD_PERP"]) > 20
