"""The liquidation cascade, vectorised over a population (numpy).

Each step of a price path, repeated in rounds until no new position is liquidated:

1. positions whose margin balance is below the venue's maintenance requirement are liquidated;
2. they execute at the mark moved by a linear price-impact model (``impact_per_usd`` × the notional
   sold or bought; the average fill is half-way through that move);
3. what a liquidated position leaves at the execution price goes to the insurance fund; what it is
   short of (the bankruptcy gap, ``|bankruptcy − execution| × size``) is drawn from the fund;
4. what the fund cannot cover is taken from the other side's profitable positions by an ADL policy:
   the venue's queue (by its own ranking score), wealth pro-rata, or the risk-based leverage
   water-filling of Campbell, Hey, Moallemi and Nutz (arXiv:2603.15963);
5. liquidation (and ADL, by ``adl_impact_share``) volume moves the mark by a share
   (``permanent_impact_share``) of its execution impact; repeat.

Money is conserved in every round: the bankrupt positions' losses equal the fund draw plus the ADL
haircuts plus any residual that the winners' profits could not cover (reported as ``unresolved``).
Haircuts follow Chitra (arXiv:2512.01112): only PnL can be seized (capacity ``w = PnL⁺``), a
position is closed in the proportion of its PnL taken, and its principal is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from adlwatch.engine.population import Population, maintenance_margin, unrealized_pnl
from adlwatch.engine.venues import rules_for

POLICIES = ("queue", "pro-rata", "water-filling")


# --- ADL allocation: who gives up how much of a budget --------------------------------------------


@dataclass(frozen=True)
class Allocation:
    seized: np.ndarray  # PnL taken from each candidate (≤ its capacity)
    haircut: np.ndarray  # seized ÷ capacity (0 where capacity is 0)
    unresolved: float  # budget the candidates' capacity could not cover


def _haircut(seized: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(capacity > 0, seized / capacity, 0.0)


def allocate_queue(budget: float, capacity: np.ndarray, order: np.ndarray) -> Allocation:
    """Seize whole capacities in ``order`` (front of the queue first) until the budget is met."""
    capacity = np.asarray(capacity, dtype=float)
    seized = np.zeros_like(capacity)
    ordered = capacity[order]
    before = np.cumsum(ordered) - ordered  # taken ahead of each
    take = np.clip(budget - before, 0.0, ordered)
    seized[order] = take
    return Allocation(seized, _haircut(seized, capacity), max(0.0, budget - float(take.sum())))


def allocate_pro_rata(budget: float, capacity: np.ndarray) -> Allocation:
    """The same haircut ``h = budget / Σ capacity`` for every winner (capped at 100 %)."""
    capacity = np.asarray(capacity, dtype=float)
    total = float(capacity.sum())
    h = min(1.0, budget / total) if total > 0 else 0.0
    seized = capacity * h
    return Allocation(seized, np.where(capacity > 0, h, 0.0), max(0.0, budget - float(seized.sum())))


def allocate_water_filling(budget: float, capacity: np.ndarray, leverage: np.ndarray) -> Allocation:
    """Drain leverage from the top: close ``1 − L/ℓ`` of every position levered above a cutoff ``L``.

    ``L`` is found by bisection so the PnL taken meets the budget. The most levered lose most; at or
    below the cutoff nobody is touched (Campbell et al.'s leverage-draining optimum, applied to
    closing fractions).
    """
    capacity = np.asarray(capacity, dtype=float)
    leverage = np.asarray(leverage, dtype=float)
    total = float(capacity.sum())
    if total <= 0 or budget <= 0:
        return Allocation(np.zeros_like(capacity), np.zeros_like(capacity), max(0.0, budget))
    if budget >= total:
        return Allocation(capacity.copy(), np.where(capacity > 0, 1.0, 0.0), budget - total)
    lev = np.where(np.isfinite(leverage) & (leverage > 0), leverage, np.nanmax(leverage[np.isfinite(leverage)], initial=1.0))
    lo, hi = 0.0, float(lev.max())

    def taken(cut: float) -> np.ndarray:
        return capacity * np.clip(1.0 - cut / lev, 0.0, 1.0)

    for _ in range(100):  # bisection to machine precision on the cutoff
        mid = 0.5 * (lo + hi)
        if taken(mid).sum() > budget:
            lo = mid
        else:
            hi = mid
    seized = taken(hi)
    # Spread the last cent of rounding over those already cut, so the budget is met exactly.
    short = budget - float(seized.sum())
    if short > 0:
        room = capacity - seized
        cut = seized > 0
        if room[cut].sum() > 0:
            seized[cut] += room[cut] * (short / float(room[cut].sum()))
    return Allocation(seized, _haircut(seized, capacity), max(0.0, budget - float(seized.sum())))


# --- the cascade ---------------------------------------------------------------------------------


# Binance USDⓈ-M BTCUSDT book depth on 10 Oct 2025 at 20:40 UTC (shared/data bookDepth file): $571M of
# bids and $521M of asks within 5 % of the price, i.e. about $110M per 1 %. The sensitivity band of
# `adlwatch simulate` runs half and twice this slope.
DEFAULT_DEPTH_USD_PER_PCT = 110_000_000


@dataclass(frozen=True)
class CascadeParams:
    fund_usd: float
    policy: str = "queue"
    # Fractional price move per USD of net liquidation flow: 1 % per DEFAULT_DEPTH_USD.
    impact_per_usd: float = 0.01 / 110_000_000
    adl_impact_share: float = 0.5  # ADL volume moves the price by this share of market flow (assumption)
    # The share of a liquidation's execution impact that stays in the mark: books refill between
    # rounds, so most of a sweep is transient (assumption; the sensitivity band varies the slope).
    permanent_impact_share: float = 0.1
    max_rounds: int = 50


@dataclass(frozen=True)
class Round:
    price: float
    liquidated: int
    liquidated_notional_usd: float
    gap_usd: float  # bankruptcy gap of this round's liquidations
    surplus_usd: float  # what liquidations left above bankruptcy, paid into the fund
    fund_draw_usd: float
    adl_notional_usd: float
    haircut_pnl_usd: float
    haircut_equity_usd: float
    unresolved_usd: float
    fund_after_usd: float


@dataclass(frozen=True)
class Step:
    target_price: float
    start_price: float
    end_price: float
    rounds: tuple[Round, ...]
    converged: bool

    def total(self, name: str) -> float:
        return float(sum(getattr(r, name) for r in self.rounds))


@dataclass(frozen=True)
class Fate:
    index: int  # position index in the population
    state: str  # safe | liquidated | adl
    step: int | None = None
    price: float | None = None
    haircut: float = 0.0  # share of the position's PnL taken by ADL


@dataclass(frozen=True)
class CascadeResult:
    steps: tuple[Step, ...]
    fund_start_usd: float
    fund_end_usd: float
    policy: str
    fates: tuple[Fate, ...] = ()
    first_liquidation: tuple[int, int] | None = None  # (step, round)
    first_adl: tuple[int, int] | None = None
    liquidations_before_first_adl: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Per population position: liquidated during the run; total share of its PnL taken by ADL.
    liquidated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    adl_share: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def total(self, name: str) -> float:
        return float(sum(s.total(name) for s in self.steps))

    @property
    def fund_drawdown_usd(self) -> float:
        return self.fund_start_usd - min([self.fund_start_usd, *(r.fund_after_usd for s in self.steps for r in s.rounds)])


def _usd(amount: np.ndarray | float, price: float, inverse: bool):
    """Settlement-asset amounts in USD (the coin × price for inverse contracts)."""
    return amount * price if inverse else amount


def _policy_order(pop: Population, candidates: np.ndarray, mark: float) -> np.ndarray:
    """Indices of ``candidates`` from the front of the venue's queue (highest score first)."""
    from adlwatch.engine.population import scores

    mask = np.zeros(len(pop), dtype=bool)
    mask[candidates] = True
    s = scores(pop, mark, mask)
    return np.argsort(-s, kind="stable")


def run_cascade(
    pop: Population,
    path: Sequence[float],
    params: CascadeParams,
    watch: Sequence[int] = (),
    progress: Callable[[int, int], None] | None = None,
    triggers: Mapping[int, float] | None = None,
) -> CascadeResult:
    """Run the price ``path`` (marks, in order) through the population; ``watch`` positions get a fate.

    ``progress(done, total)`` is called after each step (for a progress bar on long runs).
    ``triggers``: population index → the mark at which that position is liquidated (the user's
    positions: the liquidation price the table shows, from the account's own solver, cross included;
    ±inf: never), reached from the population's mark in whichever direction it lies. Those positions are liquidated when the price reaches it instead of by the
    population's isolated rule, and their fate's price is that liquidation price.
    """
    if params.policy not in POLICIES:
        raise ValueError(f"unknown policy {params.policy!r}; known: {', '.join(POLICIES)}")
    inst = pop.instrument
    inverse = inst.inverse
    venue_rules = rules_for(inst.venue)
    side = pop.side.astype(float)
    size = pop.size.copy()  # ADL closes fractions of positions
    entry = pop.entry
    margin = pop.margin.copy()
    open_ = np.ones(len(pop), dtype=bool)
    liquidated_any = np.zeros(len(pop), dtype=bool)
    adl_share = np.zeros(len(pop))
    fund = float(params.fund_usd)
    alpha = params.impact_per_usd
    impact = 1.0  # cumulative permanent impact factor on the path's prices
    fates = {int(i): Fate(int(i), "safe") for i in watch}
    # Positions with their own liquidation price: where the price must reach (NaN: the isolated rule).
    trigger = np.full(len(pop), np.nan)
    for i, at in (triggers or {}).items():
        trigger[int(i)] = at
    own = ~np.isnan(trigger)
    # Reached from where the run starts: a hedged leg's account may be liquidated on either side.
    upward = trigger > pop.mark_price
    steps = []
    first_liq = first_adl = None
    liq_before_adl = 0
    previous_mark = float(path[0]) if len(path) else pop.mark_price

    for k, target in enumerate(path):
        price = float(target) * impact
        start_price = price
        rounds = []
        converged = False
        for r in range(params.max_rounds):
            value = size * inst.contract_size / price if inverse else size * inst.contract_size * price
            balance = margin + unrealized_pnl(inst, side, size, entry, price)
            requirement = maintenance_margin(inst, size, value, venue_rules)
            reached = np.where(upward, price >= trigger, price <= trigger)
            liq = open_ & np.where(own, reached, balance < requirement) & (size > 0)
            if not liq.any():
                converged = True
                break
            if first_liq is None:
                first_liq = (k, r)
            long_liq = liq & (side > 0)
            short_liq = liq & (side < 0)
            sold_usd = float(_usd(value[long_liq], price, inverse).sum())
            bought_usd = float(_usd(value[short_liq], price, inverse).sum())
            exec_long = price * (1.0 - 0.5 * alpha * sold_usd)
            exec_short = price * (1.0 + 0.5 * alpha * bought_usd)
            exec_price = np.where(side > 0, exec_long, exec_short)
            equity_exec = margin + unrealized_pnl(inst, side, size, entry, exec_price)
            equity_usd = np.where(inverse, equity_exec * exec_price, equity_exec)
            surplus = float(np.maximum(equity_usd[liq], 0.0).sum())
            gaps = np.maximum(-equity_usd, 0.0) * liq
            gap = float(gaps.sum())
            fund += surplus
            draw = min(fund, gap)
            fund -= draw
            # The residual of each side's bankruptcies is taken from the other side's winners.
            adl_notional = haircut_pnl = haircut_equity = unresolved = 0.0
            open_[liq] = False
            liquidated_any |= liq
            if gap - draw > 1e-9:
                residual_total = gap - draw
                gap_long, gap_short = float(gaps[long_liq].sum()), float(gaps[short_liq].sum())
                for bankrupt_side, side_gap in ((1, gap_long), (-1, gap_short)):
                    if side_gap <= 0:
                        continue
                    budget = residual_total * side_gap / gap
                    pnl_usd = _usd(unrealized_pnl(inst, side, size, entry, price), price, inverse)
                    candidates = np.flatnonzero(open_ & (side == -bankrupt_side) & (pnl_usd > 0))
                    capacity = pnl_usd[candidates]
                    if params.policy == "queue":
                        alloc = allocate_queue(budget, capacity, _policy_order(pop_view(pop, size, margin), candidates, price))
                    elif params.policy == "pro-rata":
                        alloc = allocate_pro_rata(budget, capacity)
                    else:
                        equity = _usd(margin[candidates], price, inverse) + capacity
                        lev = _usd(value[candidates], price, inverse) / np.maximum(equity, 1e-12)
                        alloc = allocate_water_filling(budget, capacity, lev)
                    hit = alloc.haircut > 0
                    idx = candidates[hit]
                    h = alloc.haircut[hit]
                    adl_notional += float((_usd(value[idx], price, inverse) * h).sum())
                    haircut_pnl += float(alloc.seized.sum())
                    haircut_equity += float(((_usd(margin[idx], price, inverse) + capacity[hit]) * h).sum())
                    unresolved += alloc.unresolved
                    # Close the haircut share of each hit position; its principal is returned.
                    adl_share[idx] = 1.0 - (1.0 - adl_share[idx]) * (1.0 - h)
                    size[idx] *= 1.0 - h
                    margin[idx] *= 1.0 - h
                    open_[idx[h >= 1.0 - 1e-12]] = False
                    liquidated = partial(liquidated_bankruptcy, inst, entry, side, pop.size, pop.margin,
                                         liq & (side == bankrupt_side))
                    adl_price = venue_rules.adl_price(price, previous_mark, liquidated)
                    for i, hi in zip(idx, h, strict=True):
                        if int(i) in fates and fates[int(i)].state != "liquidated":
                            fates[int(i)] = Fate(int(i), "adl", k, adl_price, float(hi))
                if first_adl is None and adl_notional > 0:
                    first_adl = (k, r)
            if first_adl is None:
                liq_before_adl += int(liq.sum())
            for i in np.flatnonzero(liq):
                if int(i) in fates:
                    at = float(trigger[i]) if own[i] else float(exec_price[i])
                    fates[int(i)] = Fate(int(i), "liquidated", k, at)
            rounds.append(
                Round(
                    price=price,
                    liquidated=int(liq.sum()),
                    liquidated_notional_usd=sold_usd + bought_usd,
                    gap_usd=gap,
                    surplus_usd=surplus,
                    fund_draw_usd=draw,
                    adl_notional_usd=adl_notional,
                    haircut_pnl_usd=haircut_pnl,
                    haircut_equity_usd=haircut_equity,
                    unresolved_usd=unresolved,
                    fund_after_usd=fund,
                )
            )
            # Liquidation flow (and a share of ADL volume, in the bankrupt side's direction) moves the price.
            adl_flow = params.adl_impact_share * adl_notional * (1 if bought_usd > sold_usd else -1)
            move = params.permanent_impact_share * alpha * (bought_usd - sold_usd + adl_flow)
            # A linear book is a small-order model: one round moves the price by at most 25 %.
            factor = min(1.25, max(0.75, 1.0 + move))
            impact *= factor
            previous_mark = price
            price *= factor
        steps.append(Step(float(target), start_price, price, tuple(rounds), converged))
        previous_mark = price
        if progress is not None:
            progress(k + 1, len(path))
    return CascadeResult(
        steps=tuple(steps),
        fund_start_usd=float(params.fund_usd),
        fund_end_usd=fund,
        policy=params.policy,
        fates=tuple(fates[i] for i in sorted(fates)),
        first_liquidation=first_liq,
        first_adl=first_adl,
        liquidations_before_first_adl=liq_before_adl if first_adl is not None else int(
            sum(r.liquidated for s in steps for r in s.rounds)
        ),
        liquidated=liquidated_any,
        adl_share=adl_share,
    )


def pop_view(pop: Population, size: np.ndarray, margin: np.ndarray) -> Population:
    """The population with its current (partly deleveraged) sizes and margins, for scoring."""
    from dataclasses import replace

    return replace(pop, size=size, margin=margin)


def liquidated_bankruptcy(inst, entry, side, size, margin, sel) -> float | None:
    """The size-weighted bankruptcy price of the liquidated orders ``sel`` (where Binance and Bybit
    close ADL'd positions, exchanges.md §0.3); None when they hold nothing."""
    k = size[sel] * inst.contract_size
    if k.sum() <= 0:
        return None
    if inst.inverse:
        with np.errstate(divide="ignore"):
            bankruptcy = 1.0 / (1.0 / entry[sel] + side[sel] * margin[sel] / k)
    else:
        bankruptcy = entry[sel] - side[sel] * margin[sel] / k
    bankruptcy = np.where(np.isfinite(bankruptcy) & (bankruptcy > 0), bankruptcy, 0.0)
    return float(np.average(bankruptcy, weights=k))


def shock_path(mark: float, pct: float, steps: int = 1) -> list[float]:
    """A straight path from the mark to ``mark × (1 + pct/100)`` in ``steps`` equal moves."""
    return [mark * (1.0 + pct / 100.0 * (i + 1) / steps) for i in range(steps)]


def cascade_for_positions(
    instrument,
    mark: float,
    open_interest: float | None,
    fund_usd: float,
    shock_pct: float,
    policy: str,
    positions: Sequence = (),
    steps: int = 10,
    positions_per_side: int = 10_000,
    liquidation_prices: Sequence[float | None] | None = None,
    bankruptcy_prices: Sequence[float | None] | None = None,
) -> CascadeResult:
    """A shock of one contract from ``mark``, with the given portfolio positions followed (``fates``
    in their order). Unknown open interest: the population is sized as in the ADL estimate.

    ``liquidation_prices`` / ``bankruptcy_prices`` (one per position, None: none): the figures the
    table shows for them (engine/accounts.py: cross at the account's level, tiers, fees), so that the
    cascade liquidates the user's positions where the table says (the other marks held where they
    are) and draws the fund from the same bankruptcy price. Without them, a position is taken as
    isolated with its own margin (cross: notional ÷ leverage), an approximation."""
    from adlwatch.engine.population import NOMINAL_SHARE, PopulationParams, build_population, with_positions

    if open_interest is None or open_interest <= 0:
        held = sum(p.size * instrument.contract_size / mark if instrument.inverse else p.size for p in positions) or 1.0
        open_interest = held / NOMINAL_SHARE
    pop = build_population(instrument, mark, open_interest, PopulationParams(positions_per_side=positions_per_side))
    watch: list[int] = []
    if positions:
        margins = [p.isolated_margin if p.isolated else p.initial_margin() for p in positions]
        triggers: dict[int, float] = {}
        if liquidation_prices is not None:
            bankruptcy = list(bankruptcy_prices) if bankruptcy_prices is not None else [None] * len(positions)
            for j, p in enumerate(positions):
                lp, bp = liquidation_prices[j], bankruptcy[j]
                triggers[j] = lp if lp is not None and lp > 0 else (-np.inf if p.side.sign > 0 else np.inf)
                own = _margin_to_bankruptcy(instrument, p.side.sign, p.size, p.entry_price, bp)
                if own is not None:
                    margins[j] = own
        pop, watch = with_positions(pop, [p.side.sign for p in positions], [p.size for p in positions],
                                    [p.entry_price for p in positions], margins)
        triggers = {watch[j]: at for j, at in triggers.items()}
    else:
        triggers = {}
    return run_cascade(pop, shock_path(mark, shock_pct, steps), CascadeParams(fund_usd=fund_usd, policy=policy), watch,
                       triggers=triggers)


def _margin_to_bankruptcy(instrument, sign: int, size: float, entry: float, bankruptcy: float | None) -> float | None:
    """The margin that a position of ``size`` from ``entry`` loses exactly at ``bankruptcy`` (None
    when there is no such positive margin)."""
    if bankruptcy is None or not bankruptcy > 0:
        return None
    k = size * instrument.contract_size
    margin = sign * k * (1.0 / bankruptcy - 1.0 / entry) if instrument.inverse else sign * k * (entry - bankruptcy)
    return margin if margin > 0 else None


# --- many shocks at once: the liquidation ladder ------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    shock_pct: float
    end_price: float
    rounds: int
    liquidated: int
    liquidated_notional_usd: float
    gap_usd: float
    fund_end_usd: float
    needed_adl_usd: float  # what the fund could not cover: the ADL budget the shock calls for


def sweep_shocks(pop: Population, shocks_pct: Sequence[float], params: CascadeParams) -> list[SweepPoint]:
    """One-step shocks of a linear contract, each run to its fixed point, for many shock sizes at once.

    The twin of ``run_cascade`` for a single-step path with ``adl_impact_share = 0`` (tested equal):
    isolated liquidation prices do not depend on the mark, so positions are sorted by them once and
    every round of every shock touches only the positions it liquidates (prefix slices), never the
    whole population. ADL is reported as the budget needed, not allocated.
    """
    from adlwatch.engine.margin import MarginRules
    from adlwatch.engine.vector import isolated_liquidation_prices

    inst = pop.instrument
    if inst.inverse:
        raise ValueError("sweep_shocks covers linear contracts; run_cascade covers inverse ones")
    venue_rules = rules_for(inst.venue).RULES
    # The population's requirement is on the value at the mark, the taker fee included where the venue has one.
    rules = MarginRules(inst.venue, "mark", "none" if venue_rules.fee == "none" else "mark")
    side = pop.side
    lp = isolated_liquidation_prices(rules, inst, side.astype(float), pop.size, pop.entry, pop.margin)
    lp = np.where(np.isnan(lp), -np.inf, lp)  # no liquidation price: sorts last on both books, never reached
    books = {}
    for sign in (1, -1):
        idx = np.flatnonzero(side == sign)
        # Longs go at or below their price (take the highest first), shorts at or above (lowest first).
        key = -lp[idx] if sign > 0 else np.where(np.isfinite(lp[idx]), lp[idx], np.inf)
        order = idx[np.argsort(key, kind="stable")]
        q = pop.size[order] * inst.contract_size
        books[sign] = (
            np.sort(key),  # ascending search key
            q,
            pop.margin[order] - sign * q * pop.entry[order],  # equity = a + sign·q·price
            np.concatenate([[0.0], np.cumsum(q)]),
        )
    alpha = params.impact_per_usd
    out = []
    for pct in shocks_pct:
        price = pop.mark_price * (1.0 + pct / 100.0)
        fund = float(params.fund_usd)
        done = {1: 0, -1: 0}
        liquidated = 0
        notional = gap_total = needed = 0.0
        rounds = 0
        for _ in range(params.max_rounds):
            counts = {
                1: int(np.searchsorted(books[1][0], -price, side="right")),
                -1: int(np.searchsorted(books[-1][0], price, side="right")),
            }
            if counts[1] == done[1] and counts[-1] == done[-1]:
                break
            rounds += 1
            flows = {s: price * (books[s][3][counts[s]] - books[s][3][done[s]]) for s in (1, -1)}
            surplus = gap = 0.0
            for sign in (1, -1):
                lo, hi = done[sign], counts[sign]
                if hi <= lo:
                    continue
                execution = price * (1.0 - sign * 0.5 * alpha * flows[sign])
                _, q, a, _ = books[sign]
                equity = a[lo:hi] + sign * q[lo:hi] * execution
                surplus += float(equity[equity > 0].sum())
                gap += float(-equity[equity < 0].sum())
                liquidated += hi - lo
            fund += surplus
            draw = min(fund, gap)
            fund -= draw
            needed += gap - draw
            gap_total += gap
            notional += flows[1] + flows[-1]
            done = counts
            move = params.permanent_impact_share * alpha * (flows[-1] - flows[1])
            price *= min(1.25, max(0.75, 1.0 + move))
        out.append(SweepPoint(float(pct), price, rounds, liquidated, notional, gap_total, fund, needed))
    return out


def adl_hit_profile(pop: Population, result: CascadeResult) -> dict[str, float]:
    """Who ADL reached: the notional-weighted median leverage of the positions it closed (at the
    population's draw), the share of ADL notional from positions under 1x, and how many were hit."""
    hit = result.adl_share > 0
    if not hit.any():
        return {"positions_hit": 0, "median_leverage": float("nan"), "share_under_1x": float("nan")}
    weight = result.adl_share[hit] * pop.size[hit] * pop.entry[hit]
    lev = pop.leverage[hit]
    order = np.argsort(lev)
    cumulative = np.cumsum(weight[order])
    median = float(lev[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    return {
        "positions_hit": int(hit.sum()),
        "median_leverage": median,
        "share_under_1x": float(weight[lev < 1.0].sum() / weight.sum()),
    }
