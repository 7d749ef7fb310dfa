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


def test_upper_bounds_stand_until_the_whole_pool_is_known_and_never_mix_with_it() -> None:
    """A shared pool's ratio over part of its members' open interest (an upper bound) is kept while
    nothing better is known; the first ratio over the whole pool starts the history again (no false
    fall on the sparkline), and a later upper bound (a member's OI briefly missing) is not mixed in."""
    history = History()
    t0 = 1_760_000_000_000 - 1_760_000_000_000 % FUND_SAMPLE_MS
    history.add_fund_ratio(KEY, 0.20, t0, partial=True)
    history.add_fund_ratio(KEY, 0.21, t0 + FUND_SAMPLE_MS, partial=True)
    assert history.funds()[KEY] == (0.20, 0.21)
    history.add_fund_ratio(KEY, 0.08, t0 + 2 * FUND_SAMPLE_MS)  # every member's OI known now
    assert history.funds()[KEY] == (0.08,)
    history.add_fund_ratio(KEY, 0.19, t0 + 3 * FUND_SAMPLE_MS, partial=True)
    history.add_fund_ratio(KEY, 0.081, t0 + 4 * FUND_SAMPLE_MS)
    assert history.funds()[KEY] == (0.08, 0.081)
    history.add_fund_ratio(KEY, 0.2, t0, partial=True)  # a seek back: upper bounds again until the pool is known
    assert history.funds()[KEY] == (0.2,)
