"""The numpy liquidation prices equal the scalar solver's, position by position."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.margin import Leg, solve_price
from adlwatch.engine.vector import isolated_bankruptcy_prices, isolated_liquidation_prices
from adlwatch.engine.venues import VENUE_RULES
from tests.engine.test_properties import make_instrument


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(VENUE_RULES)),
    st.sampled_from(["linear", "inverse"]),
    st.lists(
        st.tuples(
            st.sampled_from([1, -1]),
            st.floats(min_value=100.0, max_value=5e6),
            st.floats(min_value=1.0, max_value=2e5),
            st.floats(min_value=0.005, max_value=1.5),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_vectorised_prices_equal_the_scalar_solver(venue, kind, rows):
    rules = VENUE_RULES[venue].RULES
    inst = make_instrument(venue, kind)
    sign = np.array([r[0] for r in rows], dtype=float)
    entry = np.array([r[2] for r in rows])
    size = np.array([r[1] / r[2] if kind == "linear" else r[1] / 100.0 for r in rows])
    entry_value = size * inst.contract_size * (entry if kind == "linear" else 1 / entry)
    margin = entry_value * np.array([r[3] for r in rows])
    lp = isolated_liquidation_prices(rules, inst, sign, size, entry, margin)
    bp = isolated_bankruptcy_prices(rules, inst, sign, size, entry, margin)
    for i in range(len(rows)):
        legs = [Leg(inst, int(sign[i]), float(size[i]), float(entry[i]))]
        want_bp = solve_price(rules, legs, float(margin[i]), "bankruptcy", float(entry[i]))
        want_lp = solve_price(rules, legs, float(margin[i]), "liquidation", float(entry[i]), want_bp)
        for got, want in ((lp[i], want_lp), (bp[i], want_bp)):
            if want is None:
                assert math.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-9)
