"""A modelled counterparty population for one contract: arrays, not objects.

Nobody outside an exchange sees its positions, so the ADL quantile and the cascade run against a
population we model, sized to the contract's open interest and drawn from stated distributions:

* sizes: log-normal (a few whales, many small accounts), scaled so each side sums to the open
  interest (one side, base units; contracts for inverse);
* entries: log-normal around the mark (positions opened over the past weeks);
* leverage: log-normal per side with a stated median, correlated (−0.5) with size so that bigger
  accounts run lower leverage, clipped to the venue's maximum; or, with
  ``calibration="hyperliquid-2025-10-10"``, the side that profits drawn from the real leverage of
  the 19,337 accounts Hyperliquid deleveraged on 10 Oct 2025 (median 0.43x: ADL reached large,
  low-leverage winners);
* margin: isolated-equivalent, entry value / leverage; a draw the venue would already have
  liquidated at the mark gets a margin buffer of 2–15 % of its value instead (survivorship).

Deterministic for a seed. Every assumption is a field of ``PopulationParams`` and is printed with
any estimate made from the population (``describe``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

import numpy as np

from adlwatch.engine.adl import AdlInputs, lights_for_share
from adlwatch.engine.instruments import Instrument
from adlwatch.engine.venues import rules_for

CALIBRATIONS = ("parametric", "hyperliquid-2025-10-10")


@dataclass(frozen=True, slots=True)
class PopulationParams:
    positions_per_side: int = 20_000
    size_sigma: float = 1.6  # log-normal sigma of position sizes
    entry_sigma: float = 0.04  # log-normal sigma of entry / mark
    entry_drift: float = 0.0  # mean log(entry / mark): > 0 puts the average long under water
    long_leverage_median: float = 8.0
    short_leverage_median: float = 8.0
    leverage_sigma: float = 0.7
    calibration: str = "parametric"
    winning_side: int = -1  # the side given the calibrated leverage (a crash: the shorts win)
    # Correlation of log size with the leverage draw: bigger accounts run lower leverage (an
    # assumption; on 10 Oct 2025 Hyperliquid's largest ADL'd BTC position was $193M at 0.66x).
    size_leverage_correlation: float = -0.5
    seed: int = 7


@dataclass(frozen=True, eq=False)  # identity: arrays are not hashable, and a draw is one object
class Population:
    instrument: Instrument
    mark_price: float  # the mark the population was drawn at
    side: np.ndarray  # +1 long, −1 short
    size: np.ndarray  # base units (linear) or contracts (inverse)
    entry: np.ndarray
    leverage: np.ndarray
    margin: np.ndarray  # isolated margin without uPnL, settlement asset
    params: PopulationParams = field(default_factory=PopulationParams)

    def __len__(self) -> int:
        return len(self.side)

    def describe(self) -> str:
        p = self.params
        lev = {s: float(np.median(self.leverage[self.side == s])) for s in (1, -1) if np.any(self.side == s)}
        return (
            f"modelled population of {self.instrument.venue} {self.instrument.symbol}: {p.positions_per_side:,} positions a side "
            f"sized to the open interest (log-normal sizes, sigma {p.size_sigma}); entries log-normal around the mark "
            f"(sigma {p.entry_sigma:.0%}); median leverage long {lev.get(1, 0):.2f}x, short {lev.get(-1, 0):.2f}x "
            f"({p.calibration}); isolated-equivalent margin; seed {p.seed}. An estimate, not the venue's book."
        )


@cache
def _calibration_quantiles(name: str) -> np.ndarray:
    if name != "hyperliquid-2025-10-10":
        raise ValueError(f"unknown calibration {name!r}; known: {', '.join(CALIBRATIONS)}")
    path = resources.files("adlwatch.engine") / "data" / "calibration" / "hyperliquid_2025_10_10_adl_winners.json"
    return np.asarray(json.loads(path.read_text(encoding="utf-8"))["quantiles"], dtype=float)


def build_population(
    instrument: Instrument, mark_price: float, open_interest: float, params: PopulationParams | None = None
) -> Population:
    """Both sides of one contract, each summing to ``open_interest`` (base units, one side)."""
    params = params or PopulationParams()
    if params.calibration not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {params.calibration!r}; known: {', '.join(CALIBRATIONS)}")
    rng = np.random.default_rng(params.seed)
    n = params.positions_per_side
    max_lev = max((t.max_leverage for t in instrument.tiers), default=100.0)
    # Open interest in the unit of position size: contracts for inverse contracts.
    per_side = open_interest * mark_price / instrument.contract_size if instrument.inverse else open_interest
    sides, sizes, entries, leverages = [], [], [], []
    for sign, median in ((1, params.long_leverage_median), (-1, params.short_leverage_median)):
        z_size = rng.normal(0.0, 1.0, n)
        raw = np.exp(params.size_sigma * z_size)
        sizes.append(raw * (per_side / raw.sum()))
        entries.append(mark_price * np.exp(params.entry_drift * sign + rng.normal(0.0, params.entry_sigma, n)))
        rho = params.size_leverage_correlation
        z_lev = rho * z_size + math.sqrt(1.0 - rho * rho) * rng.normal(0.0, 1.0, n)
        if params.calibration != "parametric" and sign == params.winning_side:
            quantiles = _calibration_quantiles(params.calibration)
            u = 0.5 * (1.0 + _erf(z_lev / math.sqrt(2.0)))
            lev = np.interp(u, np.linspace(0.0, 1.0, len(quantiles)), quantiles)
        else:
            lev = median * np.exp(params.leverage_sigma * z_lev)
        leverages.append(np.clip(lev, 0.05, max_lev))
        sides.append(np.full(n, sign, dtype=np.int8))
    side = np.concatenate(sides)
    size = np.concatenate(sizes)
    entry = np.concatenate(entries)
    leverage = np.concatenate(leverages)
    margin = _value(instrument, size, entry) / leverage
    # Survivorship: a position the venue would already have liquidated at this mark cannot be in
    # the book: such a draw gets margin for a buffer of 2–15 % of its value above its requirement
    # (spread, so that survivors do not pile up at the liquidation boundary).
    pnl = unrealized_pnl(instrument, side, size, entry, mark_price)
    value_now = _value(instrument, size, mark_price)
    requirement = maintenance_margin(instrument, size, value_now, rules_for(instrument.venue))
    buffer = value_now * rng.uniform(0.02, 0.15, len(side))
    margin = np.where(margin + pnl < requirement, requirement - pnl + buffer, margin)
    leverage = _value(instrument, size, entry) / margin
    return Population(instrument, mark_price, side, size, entry, leverage, margin, params)


_erf = np.vectorize(math.erf, otypes=[float])


def _value(instrument: Instrument, size: np.ndarray, price: np.ndarray | float) -> np.ndarray:
    k = size * instrument.contract_size
    return k / price if instrument.inverse else k * price


def unrealized_pnl(instrument: Instrument, side: np.ndarray, size: np.ndarray, entry: np.ndarray, mark: float | np.ndarray) -> np.ndarray:
    k = size * instrument.contract_size
    if instrument.inverse:
        return side * k * (1.0 / entry - 1.0 / mark)
    return side * k * (mark - entry)


def maintenance_margin(instrument: Instrument, size: np.ndarray, value_at_mark: np.ndarray, venue_rules) -> np.ndarray:
    """The venue's requirement (value basis as its rules say) for isolated-equivalent positions."""
    rules = venue_rules.RULES
    floors = np.array([t.floor for t in instrument.tiers])
    mmr = np.array([t.mmr for t in instrument.tiers])
    amount = np.array([t.maint_amount for t in instrument.tiers])
    basis = size if instrument.tier_basis == "size" else value_at_mark
    tier = np.clip(np.searchsorted(floors, basis, side="right") - 1, 0, len(floors) - 1)
    requirement = value_at_mark * mmr[tier] - amount[tier]
    if rules.fee in ("mark", "close_at_bankruptcy"):
        requirement = requirement + value_at_mark * instrument.taker_fee
    return requirement


def adl_inputs(pop: Population, mark: float, mask: np.ndarray | None = None) -> AdlInputs:
    """The ADL formula inputs of the population's positions at ``mark`` (isolated-equivalent)."""
    sel = slice(None) if mask is None else mask
    inst = pop.instrument
    side, size, entry, margin = pop.side[sel], pop.size[sel], pop.entry[sel], pop.margin[sel]
    pnl = unrealized_pnl(inst, side, size, entry, mark)
    notional = _value(inst, size, mark)
    balance = margin + pnl
    mm = maintenance_margin(inst, size, notional, rules_for(inst.venue))
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(balance > 0, notional / balance, np.inf)
    return AdlInputs(
        sign=side,
        mark_price=np.full(len(side), mark),
        entry_price=entry,
        unrealized_pnl=pnl,
        notional=notional,
        entry_value=_value(inst, size, entry),
        position_margin=margin,
        wallet_balance=margin,
        margin_balance=balance,
        maintenance_margin=mm,
        effective_leverage=eff,
    )


def scores(pop: Population, mark: float, mask: np.ndarray | None = None) -> np.ndarray:
    """The venue's own ADL ranking score of every (selected) position at ``mark``."""
    return rules_for(pop.instrument.venue).adl_scores(adl_inputs(pop, mark, mask))


# --- the estimate the snapshot carries ---------------------------------------------------------

# A 1 % grid of marks (kept for callers; the estimate now ranks each book once, at the mark it was
# drawn at, and moves it with the market: see quantile_estimate).
MARK_GRID = 0.01



# With no open interest known, the population is sized so the position is 0.01 % of it.
NOMINAL_SHARE = 1e-4


def grid_mark(mark: float) -> float:
    return math.exp(round(math.log(mark) / MARK_GRID) * MARK_GRID)


def _oi_bucket(open_interest: float) -> float:
    """Open interest to two significant figures (a population is not redrawn for every wiggle)."""
    if open_interest <= 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(open_interest)))
    return round(open_interest, digits)


_POPULATIONS: dict[tuple, Population] = {}
POPULATIONS_KEPT = 16  # ~0.4 MB each: the books being ranked now (each is dropped once ranked)
_RANKINGS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
# ~80 kB per (contract, side): every contract of a large portfolio keeps its ranking (a bound below
# the number of contracts held would evict each one just before it is asked for again, rebuilding a
# book per position per snapshot).
RANKINGS_KEPT = 512


def _bounded_put(memo: dict, key: tuple, value, kept: int):
    if len(memo) >= kept:
        memo.pop(next(iter(memo)))  # the oldest entry
    memo[key] = value
    return value


def cached_population(instrument: Instrument, anchor: float, open_interest: float, params: PopulationParams) -> Population:
    """A memo of ``build_population`` (a pure function of its arguments), bounded in size."""
    key = (instrument.venue, instrument.symbol, instrument.tiers, instrument.contract_size, anchor, open_interest, params)
    pop = _POPULATIONS.get(key)
    if pop is None:
        pop = _bounded_put(_POPULATIONS, key, build_population(instrument, anchor, open_interest, params),
                           POPULATIONS_KEPT)
    return pop


def _side_ranking(pop: Population, sign: int, mark: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores of one side in ascending order, and the size at or above each (for the quantile)."""
    same = pop.side == sign
    s = scores(pop, mark, same)
    order = np.argsort(s, kind="stable")
    ascending = s[order]
    size_at_or_above = np.cumsum(pop.size[same][order][::-1])[::-1]
    return ascending, size_at_or_above


def side_ranking(instrument: Instrument, sign: int, anchor: float, open_interest: float,
                 params: PopulationParams) -> tuple[np.ndarray, np.ndarray]:
    """``_side_ranking`` of the population drawn at ``anchor`` with ``open_interest`` (bucketed by the
    caller), ranked at ``anchor``: a memo of the ranking itself, kept for every contract held."""
    key = (instrument.venue, instrument.symbol, instrument.tiers, instrument.contract_size, anchor,
           open_interest, params, sign)
    ranking = _RANKINGS.get(key)
    if ranking is None:
        pop = cached_population(instrument, anchor, open_interest, params)
        ranking = _bounded_put(_RANKINGS, key, _side_ranking(pop, sign, anchor), RANKINGS_KEPT)
    return ranking


def quantile_estimate(
    instrument: Instrument,
    sign: int,
    score: float,
    size: float,
    mark: float,
    anchor: float,
    open_interest: float | None,
    params: PopulationParams | None = None,
) -> int:
    """1–5 lights: where ``score`` (the position's, at ``mark``) falls among the same side of the
    modelled population drawn at ``anchor`` and moved with the market to ``mark`` (estimate)."""
    params = params or DEFAULT_ESTIMATE_PARAMS
    if open_interest is None or open_interest <= 0:
        base_units = size * instrument.contract_size / anchor if instrument.inverse else size
        open_interest = base_units / NOMINAL_SHARE
    # The book moves with the market: ranked as it stood where it was drawn, i.e. re-marked at the
    # current mark with every position's PnL % and leverage kept (the venues' scores are ratios of
    # PnL, margin and notional, so scaling every price by mark ÷ anchor leaves them as they were,
    # up to tier steps). A book marked far from where it was drawn would have every winner's PnL grow
    # with the move (at a fixed population), ranking a rising score lower and lower (issue 14 item 5);
    # here a higher score never gives fewer lights, and one ranking per contract serves every mark.
    ascending, size_at_or_above = side_ranking(instrument, sign, anchor, _oi_bucket(open_interest), params)
    first = int(np.searchsorted(ascending, score, side="left"))  # scores >= ours start here
    ahead = float(size_at_or_above[first]) if first < len(ascending) else 0.0
    total = (float(size_at_or_above[0]) if len(ascending) else 0.0) + size
    return lights_for_share(ahead, size, total)


DEFAULT_ESTIMATE_PARAMS = PopulationParams(positions_per_side=5_000)


def with_positions(
    pop: Population, side: Sequence[int], size: Sequence[float], entry: Sequence[float], margin: Sequence[float]
) -> tuple[Population, list[int]]:
    """The population with the given positions added (the user's, to follow through a cascade)."""
    n = len(pop)
    extra = len(side)
    leverage = _value(pop.instrument, np.asarray(size, float), np.asarray(entry, float)) / np.asarray(margin, float)
    grown = replace(
        pop,
        side=np.concatenate([pop.side, np.asarray(side, dtype=np.int8)]),
        size=np.concatenate([pop.size, np.asarray(size, float)]),
        entry=np.concatenate([pop.entry, np.asarray(entry, float)]),
        leverage=np.concatenate([pop.leverage, leverage]),
        margin=np.concatenate([pop.margin, np.asarray(margin, float)]),
    )
    return grown, list(range(n, n + extra))
