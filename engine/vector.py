"""Vectorised twins of ``engine.margin.solve_price`` for isolated positions (numpy).

For an isolated position of one contract, with ``N`` its value at the liquidation price and the
requirement ``MM(N) = N × (mmr + fee) − amount`` continuous across tiers, the liquidation
condition is one increasing piecewise-linear equation in ``N``:

    longs of linear / shorts of inverse contracts:   N − MM(N) = k·u_entry − margin
    shorts of linear / longs of inverse contracts:   N + MM(N) = k·u_entry + margin

so the tier is a ``searchsorted`` of the right-hand side among the left-hand side's values at
the tier floors, and the root is closed form. Tested against the scalar solver.
"""

from __future__ import annotations

import numpy as np

from adlwatch.engine.instruments import Instrument
from adlwatch.engine.margin import MarginRules


def _tier_arrays(inst: Instrument) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    floors = np.array([t.floor for t in inst.tiers], dtype=float)
    mmr = np.array([t.mmr for t in inst.tiers], dtype=float)
    amount = np.array([t.maint_amount for t in inst.tiers], dtype=float)
    return floors, mmr, amount


def _direction(inst: Instrument, sign: np.ndarray) -> np.ndarray:
    return -sign if inst.inverse else sign


def _u_entry(inst: Instrument, entry: np.ndarray) -> np.ndarray:
    return 1.0 / entry if inst.inverse else entry


def _from_u(inst: Instrument, u: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        price = 1.0 / u if inst.inverse else u
    return np.where(u > 0, price, np.nan)


def isolated_bankruptcy_prices(
    rules: MarginRules, inst: Instrument, sign: np.ndarray, size: np.ndarray, entry: np.ndarray, margin: np.ndarray
) -> np.ndarray:
    """Bankruptcy prices (NaN where no positive price bankrupts the position)."""
    d = _direction(inst, sign)
    k = size * inst.contract_size
    fee = inst.taker_fee if rules.fee == "close_at_bankruptcy" else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (d * k * _u_entry(inst, entry) - margin) / (k * (d - fee))
    return _from_u(inst, u)


def isolated_liquidation_prices(
    rules: MarginRules, inst: Instrument, sign: np.ndarray, size: np.ndarray, entry: np.ndarray, margin: np.ndarray
) -> np.ndarray:
    """Liquidation prices of isolated positions in one contract (NaN where none is positive).

    ``sign`` is +1/−1 per position, ``size`` in base units (linear) or contracts (inverse),
    ``margin`` the isolated margin without uPnL.
    """
    sign = np.asarray(sign, dtype=float)
    size = np.asarray(size, dtype=float)
    entry = np.asarray(entry, dtype=float)
    margin = np.asarray(margin, dtype=float)
    floors, mmr, amount = _tier_arrays(inst)
    d = _direction(inst, sign)
    k = size * inst.contract_size if inst.contract_size != 1.0 else size
    entry_value = k * _u_entry(inst, entry)

    if rules.mm_basis == "entry":
        basis = size if inst.tier_basis == "size" else entry_value
        tier = np.searchsorted(floors, basis, side="right") - 1
        requirement = entry_value * mmr[tier] - amount[tier]
        if rules.fee == "close_at_bankruptcy":
            # Fee to close at the bankruptcy price; with no positive bankruptcy price the scalar
            # solver charges it at the liquidation price itself, and so does this.
            fee = inst.taker_fee
            u_bp = (d * entry_value - margin) / (k * (d - fee))
            at_bp = _u_entry(inst, entry) + (requirement + k * u_bp * fee - margin) / (d * k)
            at_lp = (d * entry_value + requirement - margin) / (k * (d - fee))
            return _from_u(inst, np.where(u_bp > 0, at_bp, at_lp))
        u = _u_entry(inst, entry) + (requirement - margin) / (d * k)
        return _from_u(inst, u)

    fee = inst.taker_fee if rules.fee == "mark" else 0.0
    rate = mmr + fee
    # c: right-hand side; longs of linear (d = +1) solve N − MM(N) = c, the others N + MM(N) = c.
    if inst.tier_basis == "size":
        c = entry_value - d * margin
        tier = np.searchsorted(floors, size, side="right") - 1
        r = rate[tier]
        a = amount[tier]
        value_at_liquidation = np.where(d > 0, (c - a) / (1.0 - r), (c + a) / (1.0 + r))
        no_root = value_at_liquidation <= 0
    else:
        x = np.multiply(d, entry_value, out=entry_value)  # = d × c (d² = 1)
        x -= margin
        value_at_liquidation = np.interp(x, *_inverse_table(floors, rate, amount, x))
        # A d = +1 position with c <= 0 (margin >= its value) has no positive root.
        no_root = (x <= 0) & (d > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.divide(value_at_liquidation, k, out=value_at_liquidation)
    u[no_root] = np.nan
    if inst.inverse:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / u
    return u


def _inverse_table(floors, rate, amount, x):
    """Knots of the inverse of both sides' equations on one axis, for one ``np.interp``.

    ``g(N) = N − MM(N)`` (d = +1) and ``h(N) = N + MM(N)`` are increasing and piecewise linear with
    kinks at the tier floors, and both are 0 at N = 0. With ``x = d × c`` the d = +1 positions sit on
    x ≥ 0, inverted through g, and the others on x < 0, inverted through −h mirrored: one table,
    continuous at 0, no offset to cost precision.
    """
    # Knots beyond every root, so the outer pieces extrapolate instead of clamping. np.interp
    # measures from an interval's left knot: on the right (g) any far knot is exact, so take a huge
    # one; on the left (h, mirrored) the far knot is the reference, so keep it near the data.
    reach_left = -float(x.min()) if x.size else 0.0
    far_right = max(1e250, floors[-1] * 2.0)
    far_left = max(floors[-1] * 2.0, (reach_left + abs(amount[-1])) / (1.0 + rate[-1]) * 2.0 + 1.0)
    last_rate, last_amount = rate[-1], amount[-1]
    g = np.append(floors * (1.0 - rate) + amount, far_right * (1.0 - last_rate) + last_amount)
    h = np.append(floors * (1.0 + rate) - amount, far_left * (1.0 + last_rate) - last_amount)
    knots_x = np.concatenate([-h[::-1], g[1:]])
    knots_y = np.concatenate([np.append(floors, far_left)[::-1], np.append(floors, far_right)[1:]])
    return knots_x, knots_y
