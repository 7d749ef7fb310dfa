"""The venues' published worked examples (exchanges.md §7), each within one tick."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine import adl
from adlwatch.engine.accounts import compute_account
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import AccountState, ImportedPosition
from adlwatch.engine.instruments import build_tiers, default_catalogue
from adlwatch.engine.margin import isolated_initial_margin, maintenance_margin, solve_price
from adlwatch.engine.portfolio import Account, Portfolio, imported_account
from adlwatch.engine.venues import binance, bybit, hyperliquid
from tests.engine.factories import account, instrument, leg, position

INF = math.inf


# --- Binance: https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 ----------


def test_b1_binance_cross_lp1_general_formula():
    # WB − TMM1 + UPNL1 is the margin that does not move with contract 1.
    inst = instrument("binance", "ETHUSDT").with_override(0.10, 135_365.00)
    constant = 1_535_443.01 - 71_200.81144 + (-56_354.57)
    lp = solve_price(binance.RULES, [leg(inst, +1, 3_683.979, 1_456.84)], constant, "liquidation", 1_456.84)
    assert lp == pytest.approx(1_153.2565, abs=0.01)


def test_b2_binance_maintenance_amount_recurrence():
    tiers = build_tiers(
        [
            dict(floor=0, cap=50_000, mmr=0.004, max_leverage=125),
            dict(floor=50_000, cap=250_000, mmr=0.005, max_leverage=100),
            dict(floor=250_000, cap=1_000_000, mmr=0.01, max_leverage=50),
        ],
        "B2",
    )
    assert tiers[1].maint_amount == pytest.approx(50.0)
    assert tiers[2].maint_amount == pytest.approx(1_300.0)
    inst = instrument(tiers=[(t.floor, t.cap, t.mmr, t.max_leverage) for t in tiers])
    # A 500,000 USDT position: 500,000 × 1 % − 1,300.
    assert maintenance_margin(binance.RULES, leg(inst, +1, 10.0, 50_000.0), 50_000.0) == pytest.approx(3_700.0)


@pytest.mark.parametrize(("side", "expected"), [(+1, 75_903.61), (-1, 92_031.87)])
def test_b3_binance_isolated_simplified(side, expected):
    inst = instrument("binance", "BTCUSDT", tiers=[(0, INF, 0.004, 125)], tick_size=0.1)
    lp = solve_price(binance.RULES, [leg(inst, side, 1.0, 84_000.0)], 8_400.0, "liquidation", 84_000.0)
    assert lp == pytest.approx(expected, abs=0.1)


def test_b4_binance_leverage_pnl():
    # uPnL 40.2, wallet 4.27, margin ratio 13.42 % (dev.binance.vision thread 17801).
    x = adl.AdlInputs(
        sign=1,
        mark_price=1.0,
        entry_price=1.0,
        unrealized_pnl=40.2,
        notional=1.0,
        entry_value=1.0,
        position_margin=4.27,
        wallet_balance=4.27,
        margin_balance=1.0,
        maintenance_margin=0.1342,
        effective_leverage=1.0,
    )
    assert binance.adl_score(x) == pytest.approx(40.2 / 4.27 * 0.1342, rel=1e-12)
    assert binance.adl_score(x) == pytest.approx(1.2634, abs=5e-5)


def test_b4_losing_position_scores_zero_on_binance():
    x = adl.AdlInputs(1, 1.0, 1.0, -5.0, 1.0, 1.0, 4.0, 4.0, 1.0, 0.1, 3.0)
    assert binance.adl_score(x) == 0.0


# --- Bybit ---------------------------------------------------------------------------------------
# https://www.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract (Y1-Y4) states
# its examples without a fee. Bybit's unified account reserves the estimated fee to close in the
# initial margin as well as in the maintenance margin (IM = value / leverage + fee to close,
# MM = value × MMR − deduction + fee to close; kbybit.com "Liquidation Price Calculation under
# Isolated Mode (Unified Trading Account)", exchanges.md §2.2), so with the margin Bybit reserves
# the fee cancels out of the liquidation price: each example is run with fee 0 and with the taker
# fee bybit.toml ships.

SHIPPED_TAKER = default_catalogue().find("bybit", "BTCUSDT").taker_fee
TAKERS = pytest.mark.parametrize("taker", [0.0, SHIPPED_TAKER], ids=["no-fee", "shipped-fee"])


def bybit_linear(mmr=0.005, taker=0.0):
    return instrument("bybit", "BTCUSDT", tiers=[(0, INF, mmr, 100)], taker_fee=taker, tick_size=0.1)


def isolated_prices(rules, inst, side, size, entry, margin):
    legs = [leg(inst, side, size, entry)]
    bp = solve_price(rules, legs, margin, "bankruptcy", entry)
    lp = solve_price(rules, legs, margin, "liquidation", entry, bp)
    return lp, bp


def reserved(inst, side, size, entry, leverage):
    """What Bybit reserves for the position: value / leverage + the fee to close."""
    return isolated_initial_margin(bybit.RULES, leg(inst, side, size, entry), leverage)


def test_y0_bybit_reserves_the_fee_to_close_at_the_bankruptcy_price():
    # Fee to close = quantity × bankruptcy price × taker; long bankruptcy = entry × (1 − 1/leverage).
    inst = bybit_linear(taker=0.00055)
    assert reserved(inst, +1, 1.0, 20_000.0, 50) == pytest.approx(400.0 + 19_600.0 * 0.00055)
    assert reserved(inst, -1, 1.0, 20_000.0, 50) == pytest.approx(400.0 + 20_400.0 * 0.00055)
    # Other venues reserve value / leverage.
    assert isolated_initial_margin(binance.RULES, leg(inst, +1, 1.0, 20_000.0), 50) == pytest.approx(400.0)


@TAKERS
def test_y1_bybit_isolated_long(taker):
    inst = bybit_linear(taker=taker)
    lp, bp = isolated_prices(bybit.RULES, inst, +1, 1.0, 20_000.0, reserved(inst, +1, 1.0, 20_000.0, 50))
    assert maintenance_margin(bybit.RULES, leg(inst, +1, 1.0, 20_000.0), 20_000.0, bp) == pytest.approx(100.0 + 19_600.0 * taker)
    assert lp == pytest.approx(19_700.0, abs=0.1)
    assert bp == pytest.approx(19_600.0, abs=0.1)


def test_y1_bybit_isolated_long_through_the_shipped_catalogue():
    # The portfolio file names no isolated_margin: the default is what Bybit reserves, fee included.
    data = {"account": [{"venue": "bybit", "wallet_balance": 0.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 1.0, "entry_price": 20_000.0, "leverage": 50,
         "margin_mode": "isolated"}]}]}
    portfolio = Portfolio.from_data(data, default_catalogue())
    [pos] = portfolio.accounts[0].positions
    assert pos.instrument.taker_fee == SHIPPED_TAKER > 0
    assert pos.isolated_margin == pytest.approx(400.0 + 19_600.0 * SHIPPED_TAKER)
    _, (risk,) = compute_account(0, portfolio.accounts[0], {("bybit", "BTCUSDT"): 20_000.0})
    assert risk.liquidation_price == pytest.approx(19_700.0, abs=0.01)
    assert risk.bankruptcy_price == pytest.approx(19_600.0, abs=0.01)
    # A margin the file (or the venue's positionIM) gives is taken as is.
    data["account"][0]["position"][0]["isolated_margin"] = 400.0
    given = Portfolio.from_data(data, default_catalogue()).accounts[0]
    assert given.positions[0].isolated_margin == 400.0


def test_a_followed_bybit_account_keeps_the_margin_it_reports_and_defaults_to_what_bybit_reserves():
    # positionBalance/positionIM, when the venue gives one, is taken as is; without one the position
    # holds what Bybit reserves (fee to close included), as in a portfolio file.
    account = Account(venue="bybit", wallet_balance=0.0, settle="USDT", key_name="ro")
    def imported(margin):
        state = AccountState(venue="bybit", symbol="ro", ts=1, settle="USDT", wallet_balance=0.0, positions=[
            ImportedPosition(symbol="BTCUSDT", side="long", size=1.0, entry_price=20_000.0, leverage=50,
                             margin_mode="isolated", isolated_margin=margin)])
        return imported_account(account, state, default_catalogue()).positions[0].isolated_margin
    assert imported(405.0) == 405.0
    assert imported(None) == pytest.approx(400.0 + 19_600.0 * SHIPPED_TAKER)


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([+1, -1]),
    kind=st.sampled_from(["linear", "inverse"]),
    entry=st.floats(0.01, 1e6),
    size=st.floats(1e-3, 1e4),
    leverage=st.floats(2.0, 100.0),
    mmr=st.floats(0.001, 0.0049),
    taker=st.floats(0.0, 0.002),
)
def test_with_what_bybit_reserves_the_fee_cancels_out_of_both_prices(side, kind, entry, size, leverage, mmr, taker):
    # Liquidation: the fee is in IM and MM alike; bankruptcy: where value / leverage is spent.
    def prices(fee):
        inst = instrument("bybit", "X", kind=kind, tiers=[(0, INF, mmr, 200)], taker_fee=fee)
        return isolated_prices(bybit.RULES, inst, side, size, entry, reserved(inst, side, size, entry, leverage))
    lp, bp = prices(taker)
    lp0, bp0 = prices(0.0)
    assert lp == pytest.approx(lp0, rel=1e-9)
    assert bp == pytest.approx(bp0, rel=1e-9)
    u = (1 / entry if kind == "inverse" else entry) * (1 - (-side if kind == "inverse" else side) / leverage)
    assert bp == pytest.approx(1 / u if kind == "inverse" else u, rel=1e-9)


@TAKERS
def test_y2_bybit_isolated_short_with_added_margin(taker):
    # Page: 20,000 + 300 + 3,000 = 23,300 (no fee). With a fee, the added margin also moves the
    # bankruptcy price, and so the fee to close in the MM: it counts as ExtraMargin ÷ (1 + taker), the
    # term of Bybit's fee-inclusive UTA formula (its inverse form is the one stored, exchanges.md §2.2;
    # the USDT form is UNCONFIRMED).
    inst = bybit_linear(taker=taker)
    lp, _ = isolated_prices(bybit.RULES, inst, -1, 1.0, 20_000.0, reserved(inst, -1, 1.0, 20_000.0, 50) + 3_000.0)
    assert lp == pytest.approx(20_000.0 + 300.0 + 3_000.0 / (1 + taker), abs=0.01)
    if taker == 0.0:
        assert lp == pytest.approx(23_300.0, abs=0.1)


@TAKERS
def test_y3_bybit_isolated_long_after_funding_paid(taker):
    # Page: 19,900 (no fee); with a fee the 200 taken out counts as 200 ÷ (1 − taker) (the long twin of Y2).
    inst = bybit_linear(taker=taker)
    lp, _ = isolated_prices(bybit.RULES, inst, +1, 1.0, 20_000.0, reserved(inst, +1, 1.0, 20_000.0, 50) - 200.0)
    assert lp == pytest.approx(19_700.0 + 200.0 / (1 - taker), abs=0.01)
    if taker == 0.0:
        assert lp == pytest.approx(19_900.0, abs=0.1)


@TAKERS
@pytest.mark.parametrize(
    ("side", "entry", "leverage", "expected"), [(+1, 10_000.0, 50, 9_850.0), (-1, 8_000.0, 40, 8_160.0)]
)
def test_y4_bybit_legacy_isolated(taker, side, entry, leverage, expected):
    inst = bybit_linear(taker=taker)
    lp, _ = isolated_prices(bybit.RULES, inst, side, 1.0, entry, reserved(inst, side, 1.0, entry, leverage))
    assert lp == pytest.approx(expected, abs=0.1)


@TAKERS
def test_y5_bybit_isolated_bankruptcy_price(taker):
    inst = bybit_linear(taker=taker)
    _, bp = isolated_prices(bybit.RULES, inst, +1, 1.0, 10_000.0, reserved(inst, +1, 1.0, 10_000.0, 50))
    assert bp == pytest.approx(9_800.0, abs=0.1)


@TAKERS
def test_y6_bybit_inverse_bankruptcy_price(taker):
    inst = instrument("bybit", "BTCUSD", kind="inverse", tiers=[(0, INF, 0.005, 100)], tick_size=0.5, taker_fee=taker)
    margin = reserved(inst, +1, 5_000.0, 7_890.08, 50)
    assert margin == pytest.approx(5_000 / 7_890.08 / 50 + 5_000 / (7_890.08 * 50 / 51) * taker)
    _, bp = isolated_prices(bybit.RULES, inst, +1, 5_000.0, 7_890.08, margin)
    assert bp == pytest.approx(7_890.08 * 50 / 51, rel=1e-9)
    assert bp == pytest.approx(7_735.50, abs=0.5)


def test_y7_bybit_inverse_cross_with_fee_to_close():
    # https://help.bybit.com/hc/en-us/articles/360039261334: balance 0.5 BTC, long 10,000 @ 8,000.
    inst = instrument("bybit", "BTCUSD", kind="inverse", tiers=[(0, INF, 0.005, 100)], taker_fee=0.00075, tick_size=0.5)
    pos = position(inst, Side.LONG, 10_000.0, 8_000.0, 100, MarginMode.CROSS)
    _, (risk,) = compute_account(0, account("bybit", 0.5, [pos]), {("bybit", "BTCUSD"): 8_000.0})
    assert risk.bankruptcy_price == pytest.approx(1.00075 * 10_000 / (10_000 / 8_000 + 0.5), abs=0.01)
    assert risk.bankruptcy_price == pytest.approx(5_718.57, abs=0.01)
    assert risk.liquidation_price == pytest.approx(5_739.50, abs=0.5)  # published; one tick


def test_y8_bybit_tiered_maintenance_margin():
    tiers = [(0, 1_000, 0.02, 50), (1_000, 2_000, 0.025, 40), (2_000, 3_000, 0.03, 33), (3_000, 4_000, 0.035, 28), (4_000, 5_000, 0.04, 25)]
    inst = instrument("bybit", "XYZUSDT", tiers=tiers)
    assert inst.tiers[3].maint_amount == pytest.approx(30.0)
    assert maintenance_margin(bybit.RULES, leg(inst, +1, 100.0, 35.0), 35.0) == pytest.approx(92.5)


# --- Hyperliquid: docs trading/liquidations.md + info-endpoint clearinghouseState example ---------


def test_h1_hyperliquid_isolated_long_matches_published_liquidation_px():
    inst = instrument("hyperliquid", "ETH", tiers=[(0, INF, 1 / 100, 50)], settle="USDC")
    # rawUsd + positionValue = 4.967826 is the isolated account value at the mark (uPnL included);
    # the margin without uPnL is that less 0.0335 × (2985.9 − 2986.3).
    mark = 100.02765 / 0.0335
    margin = 4.967826 - 0.0335 * (mark - 2_986.3)
    lp = solve_price(hyperliquid.RULES, [leg(inst, +1, 0.0335, 2_986.3)], margin, "liquidation", mark)
    assert lp == pytest.approx(2_866.26936529, abs=1e-3)
    # The docs' own form: price − side × margin_available / size / (1 − l × side).
    docs_form = mark - (4.967826 - 100.02765 * 0.01) / 0.0335 / (1 - 0.01)
    assert lp == pytest.approx(docs_form, rel=1e-12)


def test_h2_hyperliquid_tier_mmr_and_deduction():
    tiers = build_tiers(
        [dict(floor=0, cap=3_000_000, mmr=1 / 20, max_leverage=10), dict(floor=3_000_000, cap=INF, mmr=1 / 10, max_leverage=5)],
        "H2",
    )
    assert tiers[0].mmr == pytest.approx(0.05)
    assert tiers[1].mmr == pytest.approx(0.10)
    assert tiers[1].maint_amount == pytest.approx(150_000.0)


# --- BitMEX quintile example: https://testnet.bitmex.com/app/autoDeleveragingExamples -------------


def test_x1_bitmex_quantity_weighted_quintiles():
    accounts = [1, 2, 3, 4, 5, 6]
    qty = [10, 10, 20, 30, 20, 10]
    rank = [3, 6, 1, 4, 5, 2]  # higher = more leveraged PnL
    lights = adl.quintile_lights(rank, qty)
    percentile = {a: (6 - light) * 20 for a, light in zip(accounts, lights, strict=True)}
    assert percentile == {2: 20, 5: 40, 4: 60, 1: 80, 6: 80, 3: 100}
    assert lights[1] == 5 and lights[2] == 1  # all lights lit at the front of the queue


def test_x1_one_position_rule_agrees_with_the_quintiles():
    qty = [10, 10, 20, 30, 20, 10]
    rank = [3, 6, 1, 4, 5, 2]
    lights = adl.quintile_lights(rank, qty)
    for i, (score, q) in enumerate(zip(rank, qty, strict=True)):
        ahead = sum(qq for s, qq in zip(rank, qty, strict=True) if s > score)
        assert adl.lights_for_share(ahead, q, sum(qty)) == lights[i]
