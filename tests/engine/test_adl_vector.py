"""Each venue's vectorised ADL score equals its scalar formula, element by element."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine import adl
from adlwatch.engine.venues import VENUE_RULES

finite = st.floats(-1e6, 1e6)
positive = st.floats(1e-3, 1e6)
leverage = st.one_of(st.floats(-5, 200), st.just(math.inf))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VENUE_RULES)),
       st.lists(st.tuples(st.sampled_from([1, -1]), positive, positive, finite, positive, positive, finite, finite,
                          finite, finite, leverage), min_size=1, max_size=20))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # extreme draws overflow to inf in both twins
def test_vector_scores_equal_the_scalar_formula(venue, rows):
    rules = VENUE_RULES[venue]
    cols = list(zip(*rows, strict=True))
    vector = adl.AdlInputs(*(np.array(c, dtype=float) for c in cols))
    got = rules.adl_scores(vector)
    for i, row in enumerate(rows):
        want = rules.adl_score(adl.AdlInputs(*row))
        if math.isinf(want):
            assert got[i] == want
        else:
            assert got[i] == pytest.approx(want, rel=1e-12, abs=1e-12, nan_ok=True)
    assert np.array_equal(adl.bitmex_ranking_vector(vector) >= 0, np.array([adl.bitmex_ranking(adl.AdlInputs(*r)) >= 0 for r in rows]))
