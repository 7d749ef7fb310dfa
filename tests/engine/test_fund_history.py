"""The fund/OI history is sampled on the monitor's clock, not on how often the screen asks."""

from __future__ import annotations

from adlwatch.engine.monitor import FUND_SAMPLE_MS, History

KEY = ("binance", "BTCUSDT")


def test_a_point_per_period_whatever_the_calls_and_a_seek_back_starts_again() -> None:
    history = History()
    t0 = 1_760_000_000_000 - 1_760_000_000_000 % FUND_SAMPLE_MS
    for i in range(50):  # a fast screen: fifty asks within one period
        history.add_fund_ratio(KEY, 0.08 + i * 1e-5, t0 + i * 100)
    assert history.funds()[KEY] == (0.08 + 49 * 1e-5,)  # one point: the period's latest
    history.add_fund_ratio(KEY, 0.09, t0 + FUND_SAMPLE_MS)
    history.add_fund_ratio(KEY, 0.091, t0 + 2 * FUND_SAMPLE_MS + 5)
    assert history.funds()[KEY] == (0.08 + 49 * 1e-5, 0.09, 0.091)
    history.add_fund_ratio(KEY, 0.07, t0)  # a replay seeks back
    assert history.funds()[KEY] == (0.07,)
