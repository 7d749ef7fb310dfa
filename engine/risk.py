"""The risk engine: portfolio + market state in, immutable ``RiskSnapshot`` out.

``compute_snapshot(inputs)`` is the pure, full computation. ``RiskEngine`` keeps the same state
incrementally: ``apply(event)`` records a mark, open interest or insurance-fund balance and marks
dirty only the accounts that hold that contract; ``snapshot()`` recomputes just those and reuses
the rest. Both give identical snapshots (a property test holds them to it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec

from adlwatch.engine import adl
from adlwatch.engine.instruments import Catalogue, default_catalogue
from adlwatch.engine.margin import Leg, PriceSolver, maintenance_margin, unrealized_pnl, value
from adlwatch.engine.portfolio import Account, Portfolio, Position, with_account_states
from adlwatch.engine.venues import rules_for

MarkKey = tuple[str, str]  # (venue, symbol)

STABLE_ASSETS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE"})


class PositionRisk(msgspec.Struct, frozen=True, kw_only=True):
    account: int
    index: int
    venue: str
    symbol: str
    side: str
    size: float
    entry_price: float
    mark_price: float | None
    margin_mode: str
    leverage: float
    kind: str
    settle: str
    isolated_margin: float | None
    notional: float | None
    unrealized_pnl: float | None
    margin_balance: float | None
    maintenance_margin: float | None
    effective_leverage: float | None
    liquidation_price: float | None
    bankruptcy_price: float | None
    distance_pct: float | None
    distance_price: float | None
    adl_score: float | None
    adl_formula: str
    adl_quantile: int | None = None
    adl_alternatives: dict[str, float | None] = msgspec.field(default_factory=dict)
    hedge: str | None = None
    alert_below_pct: float | None = None  # the position's (or its account's) own threshold
    # Imported positions: the venue's own figures beside ours, and why they may differ.
    imported: bool = False
    venue_liquidation_price: float | None = None
    venue_adl_lights: int | None = None
    venue_adl_raw: str | None = None
    liquidation_diff_pct: float | None = None  # (ours − venue's) ÷ venue's, in %
    disagreement: str | None = None  # set when the figures differ beyond 0.1 % (or one ADL light)


class AccountRisk(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    venue: str
    settle: str
    wallet_balance: float
    unrealized_pnl: float | None  # cross positions only
    margin_balance: float | None  # wallet + cross uPnL
    maintenance_margin: float | None  # cross positions only
    margin_ratio: float | None  # maintenance margin ÷ margin balance; liquidation at 1
    positions: int
    cross_positions: int
    source: str = "manual"  # manual | address 0x…  | api key 'label'
    awaiting_venue: bool = False  # a followed account the venue has not reported yet
    reported_margin_balance: float | None = None  # the venue's own figure (followed accounts)
    warnings: tuple[str, ...] = ()


class ContractRisk(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str
    mark_price: float | None
    open_interest: float | None  # one side, base units
    open_interest_usd: float | None
    fund_balance_usd: float | None
    fund_symbols: tuple[str, ...] = ()
    fund_to_oi: float | None = None


class ShockSpec(msgspec.Struct, frozen=True):
    pct: float
    venue: str | None = None
    symbol: str | None = None


class RiskSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    positions: tuple[PositionRisk, ...]
    accounts: tuple[AccountRisk, ...]
    contracts: tuple[ContractRisk, ...]
    shocks: tuple[ShockSpec, ...] = ()
    # engine.hedges.HedgeRisk of each hedge group, by name: in the engine's live snapshots (a what-if
    # carries none). Typed loosely: engine.hedges builds on this module.
    hedges: tuple[Any, ...] = ()

    @property
    def hypothetical(self) -> bool:
        return bool(self.shocks)


@dataclass(frozen=True, slots=True)
class FundBalance:
    venue: str
    symbols: tuple[str, ...]
    asset: str
    balance: float


@dataclass(frozen=True, slots=True)
class EngineInputs:
    """Everything a snapshot is computed from; immutable, so a what-if can't touch live state."""

    portfolio: Portfolio
    marks: Mapping[MarkKey, float] = field(default_factory=lambda: MappingProxyType({}))
    open_interest: Mapping[MarkKey, tuple[float, float | None]] = field(default_factory=lambda: MappingProxyType({}))
    funds: Mapping[tuple[str, tuple[str, ...], str], FundBalance] = field(
        default_factory=lambda: MappingProxyType({})
    )
    catalogue: Catalogue | None = None
    # The mark each contract's modelled population was drawn at (the first one seen); with none,
    # the current mark. None disables the ADL quantile estimate.
    anchors: Mapping[MarkKey, float] | None = field(default_factory=lambda: MappingProxyType({}))


def with_quantiles(positions: tuple[PositionRisk, ...], inputs: EngineInputs) -> tuple[PositionRisk, ...]:
    """Each position's estimated ADL quantile (1–5) against the modelled population of its contract."""
    if inputs.anchors is None:
        return positions
    from adlwatch.engine.population import quantile_estimate

    out = []
    for p in positions:
        if p.adl_score is None or p.mark_price is None:
            out.append(p)
            continue
        key = (p.venue, p.symbol)
        instrument = inputs.portfolio.accounts[p.account].positions[p.index].instrument
        oi = inputs.open_interest.get(key)
        quantile = quantile_estimate(
            instrument,
            1 if p.side == "long" else -1,
            p.adl_score,
            p.size,
            p.mark_price,
            inputs.anchors.get(key, p.mark_price),
            oi[0] if oi else None,
        )
        out.append(msgspec.structs.replace(p, adl_quantile=quantile, disagreement=_lights_disagreement(p, quantile)))
    return tuple(out)


def _lights_disagreement(p: PositionRisk, quantile: int | None) -> str | None:
    """The liquidation disagreement, and the ADL lights' where ours and the venue's are over one apart."""
    if p.venue_adl_lights is None or quantile is None or abs(p.venue_adl_lights - quantile) <= 1:
        return p.disagreement
    lights = (f"ADL lights: the venue shows {p.venue_adl_lights}, adlwatch estimates {quantile} (the estimate "
              "ranks against a modelled population; the venue ranks its real book)")
    return f"{p.disagreement}; {lights}" if p.disagreement else lights


def _leg(position: Position) -> Leg:
    return Leg(position.instrument, int(position.side), position.size, position.entry_price)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class AccountModel:
    """One account's static parts, built once: legs, cross groups, solvers, isolated prices.

    Isolated liquidation and bankruptcy prices do not depend on the mark (one position, monotone
    margin), so they are solved once; a cross contract's price depends on the other contracts'
    marks only through one constant, so its solver's pieces are built once too.
    """

    def __init__(self, index: int, account: Account) -> None:
        self.index = index
        self.account = account
        self.venue_rules = rules_for(account.venue)
        rules = self.venue_rules.RULES
        self.rules = rules
        self.legs = [_leg(p) for p in account.positions]
        self.keys = [(p.venue, p.symbol) for p in account.positions]
        self.cross_groups: dict[str, list[int]] = {}
        for i, p in enumerate(account.positions):
            if not p.isolated:
                self.cross_groups.setdefault(p.symbol, []).append(i)
        self.solvers: dict[str, tuple[PriceSolver, PriceSolver]] = {
            symbol: (
                PriceSolver(rules, [self.legs[i] for i in idxs], "liquidation"),
                PriceSolver(rules, [self.legs[i] for i in idxs], "bankruptcy"),
            )
            for symbol, idxs in self.cross_groups.items()
        }
        self.isolated_prices: dict[int, tuple[float | None, float | None]] = {}
        for i, p in enumerate(account.positions):
            if p.isolated:
                margin = p.isolated_margin or 0.0
                bankruptcy = PriceSolver(rules, [self.legs[i]], "bankruptcy").solve(margin, p.entry_price)
                liquidation = PriceSolver(rules, [self.legs[i]], "liquidation").solve(margin, p.entry_price, bankruptcy)
                self.isolated_prices[i] = (liquidation, bankruptcy)
        self.static = [
            dict(
                account=index,
                index=i,
                venue=p.venue,
                symbol=p.symbol,
                side=p.side.label,
                size=p.size,
                entry_price=p.entry_price,
                margin_mode=p.margin_mode.value,
                leverage=p.leverage,
                kind=p.instrument.kind,
                settle=p.instrument.settle,
                isolated_margin=p.isolated_margin,
                adl_formula=self.venue_rules.ADL_FORMULA,
                hedge=p.hedge,
                alert_below_pct=p.alert_below_pct if p.alert_below_pct is not None else account.alert_below_pct,
                imported=p.reported is not None,
                venue_liquidation_price=p.reported.liquidation_price if p.reported else None,
                venue_adl_lights=p.reported.adl_lights if p.reported else None,
                venue_adl_raw=p.reported.adl_raw if p.reported else None,
            )
            for i, p in enumerate(account.positions)
        ]
        self.entry_values = [p.entry_value() for p in account.positions]
        self.initial_margins = [p.initial_margin() for p in account.positions]

    def compute(self, marks: Mapping[MarkKey, float]) -> tuple[AccountRisk, tuple[PositionRisk, ...]]:
        """Every figure of the account at these marks."""
        account = self.account
        rules = self.rules
        legs = self.legs
        pos_marks = [marks.get(key) for key in self.keys]
        cross_groups = self.cross_groups
        cross_complete = all(pos_marks[i] is not None for idxs in cross_groups.values() for i in idxs)

        group_pnl: dict[str, float] = {}
        group_req: dict[str, float] = {}
        cross_prices: dict[str, tuple[float | None, float | None]] = {}
        if cross_complete:
            for symbol, idxs in cross_groups.items():
                mark = pos_marks[idxs[0]]
                group_pnl[symbol] = sum(unrealized_pnl(legs[i], mark) for i in idxs)
                group_req[symbol] = sum(maintenance_margin(rules, legs[i], mark) for i in idxs)
            total_pnl = sum(group_pnl.values())
            # A followed account's cross positions adlwatch cannot model still hold margin: their uPnL
            # and maintenance at the venue's last report stay in the account as constants.
            total_pnl = total_pnl + account.unmodelled_pnl
            total_req = sum(group_req.values()) + account.unmodelled_maintenance
            account_balance = account.wallet_balance + total_pnl
            account_mm = total_req
            # Prices per cross contract (shared by a hedge-mode long and short).
            for symbol, (liq_solver, bankr_solver) in self.solvers.items():
                mark = pos_marks[cross_groups[symbol][0]]
                others_pnl = total_pnl - group_pnl[symbol]
                others_req = total_req - group_req[symbol]
                bankruptcy = bankr_solver.solve(account.wallet_balance + others_pnl, mark)
                liquidation = liq_solver.solve(account.wallet_balance + others_pnl - others_req, mark, bankruptcy)
                cross_prices[symbol] = (liquidation, bankruptcy)
        else:
            total_pnl = total_req = account_balance = account_mm = None

        risks: list[PositionRisk] = []
        for i, p in enumerate(account.positions):
            mark = pos_marks[i]
            leg = legs[i]
            if mark is None or (not p.isolated and not cross_complete):
                risks.append(PositionRisk(**self.static[i], mark_price=mark, **_EMPTY))
                continue
            pnl = unrealized_pnl(leg, mark)
            notional = value(leg, mark)
            if p.isolated:
                liquidation, bankruptcy = self.isolated_prices[i]
                margin = p.isolated_margin or 0.0
                margin_balance = margin + pnl
                mm = maintenance_margin(rules, leg, mark, bankruptcy)
                wallet = margin
                adl_mm = mm
                position_margin = margin
            else:
                liquidation, bankruptcy = cross_prices[p.symbol]
                margin_balance = account_balance
                mm = maintenance_margin(rules, leg, mark, bankruptcy)
                wallet = account.wallet_balance
                adl_mm = account_mm
                position_margin = self.initial_margins[i]
            # Effective leverage = value ÷ the margin standing between the mark and bankruptcy (BitMEX's
            # |mark value| / (mark value − bankrupt value)): the position's margin balance if isolated,
            # its share of the account's cushion (signed distance to the shared bankruptcy price) if cross.
            if p.isolated or bankruptcy is None:
                cushion = margin_balance
            else:
                cushion = leg.direction * (notional - value(leg, bankruptcy))
            effective_leverage = notional / cushion if cushion != 0 else math.inf
            if liquidation is not None:
                distance_price = (mark - liquidation) if p.side > 0 else (liquidation - mark)
                distance_pct = distance_price / mark * 100.0
            else:
                distance_price = distance_pct = None
            inputs = adl.AdlInputs(
                sign=int(p.side),
                mark_price=mark,
                entry_price=p.entry_price,
                unrealized_pnl=pnl,
                notional=notional,
                entry_value=self.entry_values[i],
                position_margin=position_margin,
                wallet_balance=wallet,
                margin_balance=margin_balance,
                maintenance_margin=adl_mm,
                effective_leverage=effective_leverage,
            )
            diff_pct, disagreement = compare_with_venue(p, account, liquidation, mark)
            risks.append(
                PositionRisk(
                    **self.static[i],
                    liquidation_diff_pct=diff_pct,
                    disagreement=disagreement,
                    mark_price=mark,
                    notional=notional,
                    unrealized_pnl=pnl,
                    margin_balance=margin_balance,
                    maintenance_margin=mm,
                    # Undefined (None) once no margin stands between the mark and bankruptcy.
                    effective_leverage=effective_leverage if 0 < effective_leverage < math.inf else None,
                    liquidation_price=liquidation,
                    bankruptcy_price=bankruptcy,
                    distance_pct=distance_pct,
                    distance_price=distance_price,
                    adl_score=_finite(self.venue_rules.adl_score(inputs)),
                    adl_alternatives={
                        adl.BITMEX: _finite(adl.bitmex_ranking(inputs)),
                        adl.UPNL_OVER_MARGIN: _finite(adl.upnl_over_margin(inputs)),
                    },
                )
            )

        margin_ratio = None
        if account_balance is not None and cross_groups:
            margin_ratio = account_mm / account_balance if account_balance > 0 else None
        account_risk = AccountRisk(
            index=self.index,
            venue=account.venue,
            settle=account.settle,
            wallet_balance=account.wallet_balance,
            unrealized_pnl=total_pnl,
            margin_balance=account_balance,
            maintenance_margin=account_mm,
            margin_ratio=margin_ratio,
            positions=len(account.positions),
            cross_positions=sum(len(idxs) for idxs in cross_groups.values()),
            source=account.source,
            awaiting_venue=account.followed and not account.imported,
            reported_margin_balance=account.reported_value,
            warnings=account.warnings,
        )
        return account_risk, tuple(risks)


DISAGREE_PCT = 0.1  # a liquidation price further than this from the venue's is highlighted


def compare_with_venue(
    position: Position, account: Account, liquidation: float | None, mark: float
) -> tuple[float | None, str | None]:
    """Our liquidation price against the venue's: the difference in %, and, beyond 0.1 %, the
    likeliest reasons, most specific first."""
    report = position.reported
    if report is None or report.liquidation_price is None:
        return None, None
    venue_liq = report.liquidation_price
    if liquidation is None:
        return None, "the venue reports a liquidation price; adlwatch finds none (no positive price liquidates)"
    diff_pct = (liquidation - venue_liq) / venue_liq * 100.0
    if abs(diff_pct) <= DISAGREE_PCT:
        return diff_pct, None
    reasons = []
    if report.mark_price is not None and abs(report.mark_price - mark) / mark > 0.0005:
        reasons.append(f"the venue reported at mark {report.mark_price:,.6g}, the feed now says {mark:,.6g}")
    inst = position.instrument
    if not inst.verified and not report.brackets_from_account:
        reasons.append(f"tier table unverified ({inst.source or 'no source'}{', ' + inst.as_of if inst.as_of else ''})")
    if account.venue in ("bybit", "okx"):
        reasons.append(f"fee term: {account.venue} counts a fee to close in the maintenance margin")
    if position.isolated:
        reasons.append("funding accrued moves isolated margin between reports")
    else:
        reasons.append("cross: the venue also counts open orders and other assets of the account")
    return diff_pct, "; ".join(reasons)


_EMPTY = dict(
    notional=None,
    unrealized_pnl=None,
    margin_balance=None,
    maintenance_margin=None,
    effective_leverage=None,
    liquidation_price=None,
    bankruptcy_price=None,
    distance_pct=None,
    distance_price=None,
    adl_score=None,
)


def compute_account(index: int, account: Account, marks: Mapping[MarkKey, float]) -> tuple[AccountRisk, tuple[PositionRisk, ...]]:
    """Every figure of one account at these marks (built from scratch)."""
    return AccountModel(index, account).compute(marks)


def fund_usd(fund: FundBalance, marks: Mapping[MarkKey, float], catalogue: Catalogue) -> float | None:
    """A pool's balance in USD: stablecoins at par, a coin at the mark of a contract on it."""
    if fund.asset.upper() in STABLE_ASSETS:
        return fund.balance
    for symbol in fund.symbols:
        mark = marks.get((fund.venue, symbol))
        try:
            inst = catalogue.get(fund.venue, symbol)
        except Exception:
            continue
        if mark is not None and inst.base == fund.asset:
            return fund.balance * mark
    return None


def fund_to_oi(fund_balance_usd: float | None, oi_usd: list[float | None]) -> float | None:
    """Insurance fund balance (USD) ÷ open-interest notional (USD) of the contracts the pool backs."""
    known = [x for x in oi_usd if x is not None]
    if fund_balance_usd is None or not known or sum(known) <= 0:
        return None
    return fund_balance_usd / sum(known)


def compute_contracts(inputs: EngineInputs) -> tuple[ContractRisk, ...]:
    catalogue = inputs.catalogue or default_catalogue()
    keys: set[MarkKey] = set(inputs.portfolio.symbols()) | set(inputs.marks) | set(inputs.open_interest)
    pools: dict[tuple[str, tuple[str, ...]], list[FundBalance]] = {}
    for fund in inputs.funds.values():
        pools.setdefault((fund.venue, fund.symbols), []).append(fund)
        keys.update((fund.venue, s) for s in fund.symbols if s != "*")

    def oi_usd(key: MarkKey) -> float | None:
        oi = inputs.open_interest.get(key)
        if oi is None:
            return None
        if oi[1] is not None:
            return oi[1]
        mark = inputs.marks.get(key)
        return oi[0] * mark if mark is not None else None

    pool_of: dict[MarkKey, tuple[tuple[str, ...], float | None, float | None]] = {}
    for (venue, symbols), funds in pools.items():
        usd_parts = [fund_usd(f, inputs.marks, catalogue) for f in funds]
        balance = None if any(u is None for u in usd_parts) else sum(usd_parts)
        members = [s for s in symbols if s != "*"] or [s for v, s in keys if v == venue]
        ratio = fund_to_oi(balance, [oi_usd((venue, s)) for s in members])
        for s in members:
            pool_of[(venue, s)] = (symbols, balance, ratio)

    out = []
    for key in sorted(keys):
        oi = inputs.open_interest.get(key)
        symbols, balance, ratio = pool_of.get(key, ((), None, None))
        out.append(
            ContractRisk(
                venue=key[0],
                symbol=key[1],
                mark_price=inputs.marks.get(key),
                open_interest=oi[0] if oi else None,
                open_interest_usd=oi_usd(key),
                fund_balance_usd=balance,
                fund_symbols=symbols,
                fund_to_oi=ratio,
            )
        )
    return tuple(out)


def compute_snapshot(inputs: EngineInputs, shocks: tuple[ShockSpec, ...] = ()) -> RiskSnapshot:
    """The full, non-incremental computation (the reference the engine is tested against)."""
    accounts = []
    positions: list[PositionRisk] = []
    for i, account in enumerate(inputs.portfolio.accounts):
        account_risk, risks = compute_account(i, account, inputs.marks)
        accounts.append(account_risk)
        positions.extend(risks)
    return RiskSnapshot(
        positions=with_quantiles(tuple(positions), inputs),
        accounts=tuple(accounts),
        contracts=compute_contracts(inputs),
        shocks=shocks,
    )


class RiskEngine:
    """Incremental engine: feed it events, ask it for snapshots at the UI's pace."""

    def __init__(self, portfolio: Portfolio, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue or default_catalogue()
        self._marks: dict[MarkKey, float] = {}
        self._open_interest: dict[MarkKey, tuple[float, float | None]] = {}
        self._funds: dict[tuple[str, tuple[str, ...], str], FundBalance] = {}
        self._anchors: dict[MarkKey, float] = {}
        self._account_states: dict[tuple[str, str], Any] = {}  # followed accounts' last venue report
        self._snapshot: RiskSnapshot | None = None
        self.set_portfolio(portfolio)

    # -- state ---------------------------------------------------------------------------------
    def set_portfolio(self, portfolio: Portfolio, keep: list[int] | None = None) -> None:
        """Swap in a portfolio (an edit, or a followed account's new report); followed accounts keep
        the venue's last report. ``keep``: only these accounts changed (the rest keep their models)."""
        portfolio = self._with_states(portfolio)
        if keep is not None and len(portfolio.accounts) == len(self._models):
            self._portfolio = portfolio
            self._rebuild_holders()
            for i in keep:
                self._models[i] = AccountModel(i, portfolio.accounts[i])
                self._account_cache[i] = None
                self._dirty.add(i)
            self._contracts = None
            self._snapshot = None
            return
        self._portfolio = portfolio
        self._rebuild_holders()
        self._models = [AccountModel(i, a) for i, a in enumerate(portfolio.accounts)]
        self._account_cache: list[tuple[AccountRisk, tuple[PositionRisk, ...]] | None] = [None] * len(
            portfolio.accounts
        )
        self._dirty: set[int] = set(range(len(portfolio.accounts)))
        self._contracts: tuple[ContractRisk, ...] | None = None
        self._snapshot = None

    def _rebuild_holders(self) -> None:
        self._holders: dict[MarkKey, list[int]] = {}
        for i, account in enumerate(self._portfolio.accounts):
            for p in account.positions:
                holders = self._holders.setdefault((p.venue, p.symbol), [])
                if i not in holders:
                    holders.append(i)

    @property
    def portfolio(self) -> Portfolio:
        """The portfolio as computed: followed accounts hold what their venue last reported."""
        return self._portfolio

    def set_mark(self, venue: str, symbol: str, price: float) -> None:
        key = (venue, symbol)
        if self._marks.get(key) == price:
            return
        self._marks[key] = price
        self._anchors.setdefault(key, price)
        holders = self._holders.get(key)
        if holders:
            self._dirty.update(holders)
        self._contracts = None
        self._snapshot = None

    def set_open_interest(self, venue: str, symbol: str, open_interest: float, open_interest_usd: float | None) -> None:
        self._open_interest[(venue, symbol)] = (open_interest, open_interest_usd)
        self._contracts = None
        self._snapshot = None

    def set_insurance_fund(self, venue: str, symbols: list[str] | tuple[str, ...], asset: str, balance: float) -> None:
        key_symbols = tuple(symbols)
        self._funds[(venue, key_symbols, asset)] = FundBalance(venue, key_symbols, asset, balance)
        self._contracts = None
        self._snapshot = None

    def apply(self, event: Any) -> bool:
        """Take one normalized feed event (duck-typed on its ``kind``); True if it changed state."""
        kind = getattr(event, "kind", None)
        if kind == "mark_price":
            self.set_mark(event.venue, event.symbol, event.price)
        elif kind == "open_interest":
            self.set_open_interest(event.venue, event.symbol, event.open_interest, event.open_interest_usd)
        elif kind == "insurance_fund":
            self.set_insurance_fund(event.venue, event.symbols, event.asset, event.balance)
        elif kind == "account_state":
            return self.set_account_state(event)
        else:
            return False
        return True

    def apply_many(self, events: Iterable[Any]) -> int:
        """Take many events in order, leaving exactly the state ``apply`` would one by one.

        Returns how many of them ``apply`` would have returned True for (every mark, open interest
        and insurance-fund event, and each account report that matched an account). Cheaper per mark
        for replay: a mark only updates the dicts; its holders are dirtied once, at the end.
        """
        marks, anchors = self._marks, self._anchors
        moved: set[MarkKey] = set()
        mark_of, add_moved = marks.get, moved.add  # bound once: this loop runs millions of times
        applied = 0
        try:
            for event in events:
                kind = getattr(event, "kind", None)
                if kind == "mark_price":
                    applied += 1
                    key = (event.venue, event.symbol)
                    price = event.price
                    old = mark_of(key)
                    if old == price:  # as set_mark: an unchanged mark dirties nothing
                        continue
                    marks[key] = price
                    if old is None:  # a contract's first mark (set_mark keeps marks and anchors together)
                        anchors.setdefault(key, price)
                    add_moved(key)
                elif kind == "open_interest":  # as apply, without its second dispatch on kind
                    applied += 1
                    self.set_open_interest(event.venue, event.symbol, event.open_interest, event.open_interest_usd)
                elif kind == "insurance_fund":
                    applied += self.apply(event)
                elif kind == "account_state":
                    self._dirty_holders(moved)  # before the report rebuilds holders and models
                    applied += self.apply(event)
        finally:
            # Even if an event raises, the marks already taken get their bookkeeping, as with apply.
            self._dirty_holders(moved)
        return applied

    def _dirty_holders(self, moved: set[MarkKey]) -> None:
        """``set_mark``'s bookkeeping for a batch of moved marks; empties ``moved``."""
        if not moved:
            return
        for key in moved:
            holders = self._holders.get(key)
            if holders:
                self._dirty.update(holders)
        moved.clear()
        self._contracts = None
        self._snapshot = None

    def set_account_state(self, state: Any) -> bool:
        """A followed account's balance and positions, as the venue reports them (``AccountState``).

        Kept by (venue, reference) so that an edit of the portfolio file keeps what the venue said.
        """
        key = (state.venue, state.symbol)
        self._account_states[key] = state
        matched = [i for i, a in enumerate(self._portfolio.accounts) if (a.venue, a.ref) == key]
        if not matched:
            return False
        self.set_portfolio(self._portfolio, keep=matched)
        return True

    def _with_states(self, portfolio: Portfolio) -> Portfolio:
        return with_account_states(portfolio, self._account_states, self._catalogue)

    def _quantile_inputs(self) -> EngineInputs:
        # Only what the estimate reads: no copies of marks or funds per snapshot.
        return EngineInputs(portfolio=self._portfolio, open_interest=self._open_interest, anchors=self._anchors,
                            catalogue=self._catalogue)

    def inputs(self) -> EngineInputs:
        return EngineInputs(
            portfolio=self._portfolio,
            marks=MappingProxyType(dict(self._marks)),
            open_interest=MappingProxyType(dict(self._open_interest)),
            funds=MappingProxyType(dict(self._funds)),
            catalogue=self._catalogue,
            anchors=MappingProxyType(dict(self._anchors)),
        )

    # -- output --------------------------------------------------------------------------------
    def snapshot(self) -> RiskSnapshot:
        if self._snapshot is not None:
            return self._snapshot
        for i in sorted(self._dirty):
            self._account_cache[i] = self._models[i].compute(self._marks)
        self._dirty.clear()
        if self._contracts is None:
            self._contracts = compute_contracts(self.inputs())
        accounts = tuple(entry[0] for entry in self._account_cache if entry is not None)
        positions = tuple(risk for entry in self._account_cache if entry is not None for risk in entry[1])
        positions = with_quantiles(positions, self._quantile_inputs())
        snapshot = RiskSnapshot(positions=positions, accounts=accounts, contracts=self._contracts)
        if any(p.hedge is not None for p in positions):
            from adlwatch.engine.hedges import hedge_risks  # it imports this module

            snapshot = msgspec.structs.replace(snapshot, hedges=hedge_risks(self._portfolio, snapshot))
        self._snapshot = snapshot
        return snapshot


def quantile_what_ifs(inputs: EngineInputs, account: int, index: int) -> list[tuple[str, int | None]]:
    """What would move a position's estimated ADL quantile: more margin, a smaller size, profit taken.

    Each line recomputes the whole snapshot with the portfolio changed (adding margin lowers the
    rank, Binance's and Hyperliquid's formulas divide by it).
    """
    from dataclasses import replace as dc_replace

    from adlwatch.engine.portfolio import with_isolated_margin_change, with_position, with_wallet

    portfolio = inputs.portfolio
    position = portfolio.accounts[account].positions[index]
    acct = portfolio.accounts[account]
    base = compute_snapshot(inputs)
    risk = next(p for p in base.positions if p.account == account and p.index == index)
    out: list[tuple[str, int | None]] = [("now", risk.adl_quantile)]
    data = position.to_data()

    def quantile(changed: Portfolio) -> int | None:
        snap = compute_snapshot(dc_replace(inputs, portfolio=changed))
        return next(p.adl_quantile for p in snap.positions if p.account == account and p.index == index)

    settle = position.instrument.settle
    margin = position.isolated_margin if position.isolated else acct.wallet_balance
    for share in (0.25, 1.0):
        amount = margin * share if margin else position.initial_margin() * share
        if position.isolated:
            changed = with_isolated_margin_change(portfolio, account, index, amount)
        else:
            changed = with_wallet(portfolio, account, acct.wallet_balance + amount)
        out.append((f"add {amount:,.6g} {settle} margin", quantile(changed)))
    for cut in (0.25, 0.5):
        smaller = {**data, "size": position.size * (1 - cut)}
        if position.isolated:
            smaller["isolated_margin"] = (position.isolated_margin or 0.0) * (1 - cut)
        out.append((f"reduce size by {cut:.0%}", quantile(with_position(portfolio, account, index, smaller))))
    if risk.unrealized_pnl and risk.unrealized_pnl > 0 and risk.mark_price:
        # Take half the profit: close half at the mark; the realised PnL joins the margin it belongs to.
        half = {**data, "size": position.size / 2}
        realised = risk.unrealized_pnl / 2
        if position.isolated:
            half["isolated_margin"] = (position.isolated_margin or 0.0) / 2
            changed = with_position(portfolio, account, index, half)
        else:
            changed = with_wallet(with_position(portfolio, account, index, half), account, acct.wallet_balance + realised)
        out.append(("take 50% profit", quantile(changed)))
    return out
