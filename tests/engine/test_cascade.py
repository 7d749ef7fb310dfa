"""The cascade: Chitra's toy example exactly, and the invariants of money and sides."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.cascade import (
    CascadeParams,
    allocate_pro_rata,
    allocate_queue,
    allocate_water_filling,
    run_cascade,
    shock_path,
    sweep_shocks,
)
from adlwatch.engine.population import PopulationParams, build_population
from tests.engine.factories import instrument

INF = math.inf

# Chitra, "Autodeleveraging: Impossibilities and Optimization", §"Numerical example" (adl_literature.md §0).
EQUITY = np.array([10.0, 5.0, 1.0, -3.0, -12.0])
CAPACITY = np.array([8.0, 4.0, 0.5, 0.0, 0.0])  # w = PnL⁺
BUDGET = 0.5 * 15.0  # θ·D with θ = ½, D = 15


def test_chitra_toy_queue():
    alloc = allocate_queue(BUDGET, CAPACITY, order=np.array([1, 0, 2, 3, 4]))  # σ = (2, 1, 3, …)
    assert alloc.seized == pytest.approx([3.5, 4.0, 0.0, 0.0, 0.0])
    assert alloc.haircut == pytest.approx([0.4375, 1.0, 0.0, 0.0, 0.0])
    assert EQUITY - alloc.seized == pytest.approx([6.5, 1.0, 1.0, -3.0, -12.0])
    assert alloc.unresolved == 0.0


def test_chitra_toy_wealth_pro_rata():
    alloc = allocate_pro_rata(BUDGET, CAPACITY)
    assert alloc.haircut[:3] == pytest.approx([0.6, 0.6, 0.6])
    assert alloc.seized == pytest.approx([4.8, 2.4, 0.3, 0.0, 0.0])
    assert EQUITY - alloc.seized == pytest.approx([5.2, 2.6, 0.7, -3.0, -12.0])


def test_water_filling_drains_the_most_levered_first_and_meets_the_budget():
    leverage = np.array([2.0, 10.0, 1.0, 1.0, 1.0])
    small = allocate_water_filling(3.0, CAPACITY, leverage)  # cutoff 2.5x: only the 10x account
    assert small.seized.sum() == pytest.approx(3.0)
    assert small.haircut[1] == pytest.approx(0.75) and small.haircut[0] == 0.0
    large = allocate_water_filling(6.0, CAPACITY, leverage)  # cutoff 6/4.4x: the 2x account too, not the 1x
    assert large.seized.sum() == pytest.approx(6.0)
    assert large.haircut[1] > large.haircut[0] > large.haircut[2] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30), st.floats(0, 2e7), st.sampled_from(["queue", "pro", "water"]))
def test_allocations_never_take_more_than_capacity_and_account_for_the_budget(caps, budget, policy):
    capacity = np.array(caps)
    if policy == "queue":
        alloc = allocate_queue(budget, capacity, np.argsort(-capacity))
    elif policy == "pro":
        alloc = allocate_pro_rata(budget, capacity)
    else:
        alloc = allocate_water_filling(budget, capacity, np.linspace(1, 20, len(capacity)))
    assert np.all(alloc.seized <= capacity * (1 + 1e-9) + 1e-9)
    assert alloc.seized.sum() + alloc.unresolved == pytest.approx(budget, rel=1e-9, abs=1e-6)


def population(seed=3, n=2_000, inverse=False):
    if inverse:
        inst = instrument("binance", "BTCUSD_PERP", kind="inverse", tiers=[(0, 50, 0.004, 125), (50, INF, 0.01, 50)], contract_size=100.0)
    else:
        inst = instrument("binance", "BTCUSDT", tiers=[(0, 50_000, 0.004, 125), (50_000, 600_000, 0.005, 100), (600_000, INF, 0.01, 50)])
    return build_population(inst, 100_000.0, 5_000.0, PopulationParams(positions_per_side=n, seed=seed))


def test_population_is_sized_to_open_interest_and_solvent_at_its_mark():
    pop = population()
    assert pop.size[pop.side > 0].sum() == pytest.approx(5_000.0)
    assert pop.size[pop.side < 0].sum() == pytest.approx(5_000.0)
    # Nothing in the book is already past liquidation: a zero move liquidates nobody.
    result = run_cascade(pop, [100_000.0], CascadeParams(fund_usd=1e9))
    assert result.total("liquidated") == 0
    # Deterministic for a seed.
    again = population()
    assert np.array_equal(again.size, pop.size) and np.array_equal(again.leverage, pop.leverage)


@settings(max_examples=25, deadline=None)
@given(st.floats(-40, -2), st.floats(0, 5e8), st.sampled_from(["queue", "pro-rata", "water-filling"]), st.integers(0, 5),
       st.booleans())
def test_money_is_conserved_in_every_round_and_adl_only_hits_the_other_side(pct, fund, policy, seed, inverse):
    pop = population(seed, n=1_000, inverse=inverse)
    result = run_cascade(pop, shock_path(100_000.0, pct, 4), CascadeParams(fund_usd=fund, policy=policy))
    fund_now = fund
    for step in result.steps:
        for r in step.rounds:
            # Bankrupt losses = fund draw + ADL haircuts + what nobody could cover.
            assert r.gap_usd == pytest.approx(r.fund_draw_usd + r.haircut_pnl_usd + r.unresolved_usd, rel=1e-9, abs=1e-6)
            assert r.fund_after_usd == pytest.approx(fund_now + r.surplus_usd - r.fund_draw_usd, rel=1e-9, abs=1e-6)
            assert r.fund_after_usd >= -1e-6
            fund_now = r.fund_after_usd
    # A fall bankrupts longs: ADL never touches a long.
    assert not np.any(result.adl_share[pop.side > 0] > 0)


@settings(max_examples=20, deadline=None)
@given(st.floats(-40, -2), st.integers(0, 5))
def test_a_fund_larger_than_every_gap_means_no_adl(pct, seed):
    pop = population(seed, n=1_000)
    result = run_cascade(pop, shock_path(100_000.0, pct, 3), CascadeParams(fund_usd=1e12))
    assert result.total("adl_notional_usd") == 0.0 and result.first_adl is None
    assert not np.any(result.adl_share > 0)


@settings(max_examples=20, deadline=None)
@given(st.floats(-30, -1), st.floats(0.5, 20), st.integers(0, 5))
def test_a_larger_shock_never_liquidates_less(pct, extra, seed):
    pop = population(seed, n=1_000)
    params = CascadeParams(fund_usd=1e8)
    small = run_cascade(pop, [100_000.0 * (1 + pct / 100)], params)
    large = run_cascade(pop, [100_000.0 * (1 + (pct - extra) / 100)], params)
    assert large.liquidated.sum() >= small.liquidated.sum()
    assert np.all(large.liquidated[small.liquidated])


def test_a_rise_bankrupts_shorts_and_deleverages_profitable_longs():
    pop = population(1)
    result = run_cascade(pop, shock_path(100_000.0, 35, 6), CascadeParams(fund_usd=0.0))
    assert result.total("adl_notional_usd") > 0
    assert not np.any(result.adl_share[pop.side < 0] > 0)
    assert np.any(result.adl_share[pop.side > 0] > 0)


def test_first_adl_comes_after_the_first_liquidations_when_the_fund_absorbs_early_gaps():
    pop = population(2, n=5_000)
    result = run_cascade(pop, shock_path(100_000.0, -25, 25), CascadeParams(fund_usd=1e5))
    assert result.first_liquidation is not None and result.first_adl is not None
    assert result.first_adl > result.first_liquidation
    assert result.liquidations_before_first_adl > 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-60, 60), min_size=1, max_size=5), st.integers(0, 9), st.sampled_from(["binance", "okx", "hyperliquid"]))
def test_the_shock_sweep_equals_the_cascade_for_one_step_paths(shocks, seed, venue):
    inst = instrument(venue, "BTCUSDT", tiers=[(0, 50_000, 0.004, 125), (50_000, 600_000, 0.005, 100), (600_000, INF, 0.01, 50)],
                      taker_fee=0.0005 if venue == "okx" else 0.0)
    pop = build_population(inst, 100_000.0, 5_000.0, PopulationParams(positions_per_side=800, seed=seed))
    params = CascadeParams(fund_usd=3e6, adl_impact_share=0.0)
    for pct, point in zip(shocks, sweep_shocks(pop, shocks, params), strict=True):
        full = run_cascade(pop, [100_000.0 * (1 + pct / 100)], params)
        assert point.liquidated == int(full.liquidated.sum())
        assert point.liquidated_notional_usd == pytest.approx(full.total("liquidated_notional_usd"), rel=1e-9, abs=1e-6)
        assert point.gap_usd == pytest.approx(full.total("gap_usd"), rel=1e-9, abs=1e-6)
        assert point.needed_adl_usd == pytest.approx(full.total("haircut_pnl_usd") + full.total("unresolved_usd"), rel=1e-9, abs=1e-6)
        assert point.end_price == pytest.approx(full.steps[0].end_price, rel=1e-12)
