"""Issue 14, items 3–5: the cascade agrees with the table, positions past liquidation are liquidated,
and the ADL estimate moves with the market."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio

DEMO = Path(__file__).resolve().parents[2] / "tui" / "data" / "demo_portfolio.toml"
T0_MS = 1_760_128_000_000


def demo_monitor() -> Monitor:
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    return Monitor(Portfolio.from_data(data, default_catalogue()), replay=True)


def mark(venue: str, symbol: str, price: float, ts_ms: int = T0_MS) -> MarkPrice:
    return MarkPrice(venue=venue, symbol=symbol, ts=ts_ms, price=price)


def _row(monitor: Monitor, account: int, index: int):
    return next(p for p in monitor.shown().positions if (p.account, p.index) == (account, index))


# --- item 3: the cascade's liquidation is the table's ---------------------------------------------


@pytest.mark.parametrize("btc_mark", [121_000.0, 118_500.0])
def test_cascade_liquidates_the_cross_long_at_the_tables_price(btc_mark: float) -> None:
    """Demo, BTCUSDT cross long: the cascade liquidates it at the table's liquidation price (the
    account's solver, cross, tiers, fees), reached at the first step whose price is at or below it.
    Resolution: one step of the path (10 steps of the shock: 1 % of the mark each here)."""
    monitor = demo_monitor()
    monitor.apply(mark("binance", "BTCUSDT", btc_mark))
    table = _row(monitor, 0, 0)
    assert table.liquidation_price is not None
    start = monitor.cascade_start(0, 0)
    result = start.run(-10.0, "queue")
    fate = result.fates[0]
    assert fate.state == "liquidated"
    assert fate.price == pytest.approx(table.liquidation_price, rel=1e-12)
    step = result.steps[fate.step]
    liquidating = next(r for r in step.rounds if r.liquidated)
    assert liquidating.price <= table.liquidation_price
    before = result.steps[fate.step - 1].end_price if fate.step > 0 else start.mark
    assert before > table.liquidation_price


def test_cascade_keeps_a_position_the_table_says_is_safe() -> None:
    """A shock that does not reach the table's liquidation price leaves the position safe."""
    monitor = demo_monitor()
    monitor.apply(mark("binance", "BTCUSDT", 121_000.0))
    table = _row(monitor, 0, 0)
    shock = (table.liquidation_price / 121_000.0 - 1.0) * 100 + 1.0  # stops 1 % short of it
    fate = monitor.cascade_start(0, 0).run(shock, "queue").fates[0]
    assert fate.state == "safe"


# --- item 5: the ADL estimate moves with the market -------------------------------------------------


def _lights(monitor: Monitor, account: int, index: int) -> tuple[float, int]:
    row = _row(monitor, account, index)
    assert row.adl_score is not None and row.adl_quantile is not None
    return row.adl_score, row.adl_quantile


# The demo's shorts: BTCUSD_PERP (COIN-M BTC, account 1) and AAVEUSD_PERP (account 3), from the
# session's first mark (near their entries) down the crash.
SHORTS = [(1, "BTCUSD_PERP", 121_500.0), (3, "AAVEUSD_PERP", 262.0)]


@pytest.mark.parametrize(("account", "symbol", "first"), SHORTS)
def test_demo_shorts_lights_rise_with_their_score_down_the_crash(account: int, symbol: str, first: float) -> None:
    """The demo's case: the shorts' ADL scores rise as the market falls; their lights must not fall."""
    monitor = demo_monitor()
    seen = []
    for drop in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6):
        monitor.apply(mark("binance", symbol, first * (1.0 - drop)))
        seen.append(_lights(monitor, account, 0))
    for (score_a, lights_a), (score_b, lights_b) in zip(seen, seen[1:], strict=False):
        assert score_b >= score_a
        assert lights_b >= lights_a, seen


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    case=st.sampled_from(SHORTS),
    a=st.floats(min_value=0.0, max_value=0.7),
    b=st.floats(min_value=0.0, max_value=0.7),
    first_at=st.floats(min_value=0.0, max_value=0.7),
)
def test_a_rising_score_never_lowers_the_lights(case, a: float, b: float, first_at: float) -> None:
    """Everything else fixed (the portfolio, the open interest, the session's first mark), a position
    whose score is higher at one mark than at another never shows fewer lights there."""
    account, symbol, entry = case
    figures = []
    for drop in (a, b):
        monitor = demo_monitor()
        monitor.apply(mark("binance", symbol, entry * (1.0 - first_at)))  # where the session began
        monitor.apply(mark("binance", symbol, entry * (1.0 - drop)))
        figures.append(_lights(monitor, account, 0))
    (score_a, lights_a), (score_b, lights_b) = sorted(figures)
    if score_b > score_a:
        assert lights_b >= lights_a, figures


# --- item 4: positions past liquidation are liquidated -------------------------------------------

from adlwatch.engine.monitor import closed_label  # noqa: E402
from adlwatch.engine.shocks import shock  # noqa: E402

AVAX = (2, 0)  # the demo's isolated AVAX long: 1,000 contracts of 10 USD from 26.80, 8x
BTC = (0, 0)  # the demo's cross BTCUSDT long (alone in its account)


def test_an_isolated_position_is_liquidated_at_its_price_with_the_time_and_its_margin_lost() -> None:
    monitor = demo_monitor()
    monitor.apply(mark("binance", "AVAXUSD_PERP", 26.5, T0_MS))
    before = _row(monitor, *AVAX)
    assert before.closed is None and before.distance_pct > 0
    liquidation = before.liquidation_price
    monitor.apply(mark("binance", "AVAXUSD_PERP", 20.0, T0_MS + 60_000))
    monitor.apply(mark("binance", "AVAXUSD_PERP", 6.61, T0_MS + 120_000))  # the demo's low
    row = _row(monitor, *AVAX)
    assert row.closed == "liquidated" and row.closed_at_ms == T0_MS + 60_000
    assert row.closed_price == row.mark_price == liquidation
    assert row.distance_pct is None  # never "−267.60 %"
    margin = monitor.portfolio.accounts[2].positions[0].isolated_margin
    assert row.unrealized_pnl == pytest.approx(-margin)  # no uPnL larger than its margin
    assert closed_label(row) == "LIQUIDATED 20:27:40"  # T0 + 1 min, UTC
    assert [c.index for c in monitor.closed] == [0]
    # The state the screen draws carries it; a seek back (restart) restores the position.
    assert _row_of(monitor.state(T0_MS / 1000 + 120).live, AVAX).closed == "liquidated"
    monitor.restart()
    monitor.apply(mark("binance", "AVAXUSD_PERP", 26.5, T0_MS))
    assert _row(monitor, *AVAX).closed is None and not monitor.closed


def _row_of(snapshot, key):
    return next(p for p in snapshot.positions if (p.account, p.index) == key)


def test_a_mark_that_jumps_over_the_price_still_liquidates_there() -> None:
    monitor = demo_monitor()
    monitor.apply(mark("binance", "AVAXUSD_PERP", 6.61))  # first seen already past it
    row = _row(monitor, *AVAX)
    assert row.closed == "liquidated" and row.mark_price == row.liquidation_price


def test_a_cross_liquidation_takes_the_loss_from_the_wallet_and_re_solves_the_account() -> None:
    """A cross account with two positions: the liquidated one's loss at its price leaves the wallet,
    the other is re-solved without it; the other accounts are untouched."""
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    data["account"][0]["position"].append(
        {"symbol": "ETHUSDT", "side": "short", "size": 1.0, "entry_price": 4_000.0, "leverage": 10,
         "margin_mode": "cross"})
    monitor = Monitor(Portfolio.from_data(data, default_catalogue()), replay=True)
    monitor.apply_many([mark("binance", "ETHUSDT", 4_000.0), mark("binance", "BTCUSDT", 121_000.0)])
    liquidation = _row(monitor, 0, 0).liquidation_price
    eth_before = _row(monitor, 0, 1)
    monitor.apply(mark("binance", "BTCUSDT", liquidation * 0.99, T0_MS + 1_000))
    btc, eth = _row(monitor, 0, 0), _row(monitor, 0, 1)
    assert btc.closed == "liquidated" and btc.closed_price == liquidation
    loss = 0.8 * (liquidation - 121_000.0)
    assert btc.unrealized_pnl == pytest.approx(loss)
    account = monitor.live().accounts[0]
    assert account.wallet_balance == pytest.approx(8_000.0 + loss)
    assert eth.closed is None and eth.liquidation_price != eth_before.liquidation_price
    assert (eth.account, eth.index) == (0, 1)  # the user's indices are kept


def test_a_what_if_past_the_price_shows_liquidated_and_live_is_untouched() -> None:
    monitor = demo_monitor()
    monitor.apply(mark("binance", "AVAXUSD_PERP", 26.5))
    monitor.add_shock(shock(-50, venue="binance", symbol="AVAXUSD_PERP"))
    row = _row_of(monitor.shown(), AVAX)
    assert row.closed == "liquidated" and row.closed_at_ms is None and closed_label(row) == "LIQUIDATED (what-if)"
    assert row.mark_price == row.liquidation_price and row.distance_pct is None
    assert _row_of(monitor.live(), AVAX).closed is None
    assert _row_of(monitor.state(T0_MS / 1000).snapshot, AVAX).closed == "liquidated"


# --- item 4: a followed account's position ADL'd -----------------------------------------------------

from adlwatch.engine.events import AccountState, AdlAlert, ImportedPosition  # noqa: E402

ADDRESS = "0x" + "cd" * 20


def _followed(lights: int | None, short: bool = True) -> AccountState:
    positions = [ImportedPosition(symbol="BTC", side="long", size=0.1, entry_price=100_000.0, leverage=5,
                                  margin_mode="cross", adl_lights=1)]
    if short:
        positions.append(ImportedPosition(symbol="ETH", side="short", size=2.0, entry_price=4_000.0, leverage=10,
                                          margin_mode="cross", adl_lights=lights))
    return AccountState(venue="hyperliquid", symbol=ADDRESS, ts=T0_MS, settle="USDC", wallet_balance=5_000.0,
                        positions=positions)


def _followed_monitor() -> Monitor:
    portfolio = Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS}]}, default_catalogue())
    monitor = Monitor(portfolio, replay=True)
    monitor.apply_many([mark("hyperliquid", "BTC", 101_000.0), mark("hyperliquid", "ETH", 3_000.0)])
    return monitor


def test_a_followed_position_gone_from_the_front_of_the_queue_reads_adl() -> None:
    monitor = _followed_monitor()
    monitor.apply(_followed(5))
    later = msgspec_replace(_followed(None, short=False), ts=T0_MS + 5_000)
    monitor.apply(later)
    rows = monitor.live().positions
    assert [(p.symbol, p.closed) for p in rows] == [("BTC", None), ("ETH", "adl")]
    adl = rows[1]
    assert adl.closed_at_ms == T0_MS + 5_000 and adl.closed_price == 3_000.0 and adl.index == 1
    assert closed_label(adl) == "ADL 20:26:45"
    monitor.restart()
    assert all(p.closed is None for p in monitor.live().positions)


def test_a_followed_position_closed_otherwise_just_goes() -> None:
    monitor = _followed_monitor()
    monitor.apply(_followed(2))
    monitor.apply(_followed(None, short=False))
    assert [p.symbol for p in monitor.live().positions] == ["BTC"]


def test_the_venues_adl_alert_marks_a_vanished_position_adl() -> None:
    monitor = _followed_monitor()
    monitor.apply(_followed(2))
    monitor.apply(AdlAlert(venue="hyperliquid", symbol="ETH", ts=T0_MS, state="adl"), T0_MS / 1000)
    monitor.apply(_followed(None, short=False))
    assert [(p.symbol, p.closed) for p in monitor.live().positions] == [("BTC", None), ("ETH", "adl")]


def msgspec_replace(state, **changes):
    import msgspec

    return msgspec.structs.replace(state, **changes)


def test_a_what_if_liquidation_re_solves_the_cross_account() -> None:
    """What-if: the shocked BTCUSDT long of a cross account with an ETHUSDT short is liquidated at its
    price; the short is re-solved with the loss gone from the wallet; live is untouched."""
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    data["account"][0]["position"].append(
        {"symbol": "ETHUSDT", "side": "short", "size": 1.0, "entry_price": 4_000.0, "leverage": 10,
         "margin_mode": "cross"})
    monitor = Monitor(Portfolio.from_data(data, default_catalogue()), replay=True)
    monitor.apply_many([mark("binance", "ETHUSDT", 4_000.0), mark("binance", "BTCUSDT", 121_000.0)])
    live_btc = _row_of(monitor.live(), (0, 0))
    monitor.add_shock(shock(-15, venue="binance", symbol="BTCUSDT"))
    shown = monitor.shown()
    btc, eth = _row_of(shown, (0, 0)), _row_of(shown, (0, 1))
    assert btc.closed == "liquidated" and btc.closed_at_ms is None
    liquidation = btc.closed_price
    assert btc.mark_price == liquidation and liquidation > 121_000.0 * 0.85
    assert btc.unrealized_pnl == pytest.approx(0.8 * (liquidation - 121_000.0))
    assert shown.accounts[0].wallet_balance == pytest.approx(8_000.0 + btc.unrealized_pnl)
    assert eth.closed is None and eth.mark_price == 4_000.0 and eth.distance_pct is not None
    assert eth.liquidation_price != _row_of(monitor.live(), (0, 1)).liquidation_price
    assert _row_of(monitor.live(), (0, 0)) == live_btc and not monitor.closed
