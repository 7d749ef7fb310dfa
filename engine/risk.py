"""The risk engine: portfolio + market state in, immutable ``RiskSnapshot`` out.

``compute_snapshot(inputs)`` is the pure, full computation. ``RiskEngine`` keeps the same state
incrementally: ``apply(event)`` records a mark, open interest or insurance-fund balance and marks
dirty only the accounts that hold that contract; ``snapshot()`` recomputes just those and reuses
the rest. A funding rate or a venue's ADL rating is shown, never solved: it dirties no account, the
next snapshot only copies it onto the rows. A what-if (``set_shocks``) is kept the same way beside the live figures (its full twin is
``engine.shocks.apply_shocks``). Both paths build their snapshot with ``build_snapshot`` and give
identical snapshots (a property test holds them to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from types import MappingProxyType

import msgspec

from adlwatch.engine import events as event_types
from adlwatch.engine.accounts import AccountModel, compute_account
from adlwatch.engine.events import AccountState, Event
from adlwatch.engine.hedges import hedge_risks
from adlwatch.engine.instruments import Catalogue
from adlwatch.engine.population import quantile_estimate
from adlwatch.engine.portfolio import (
    Portfolio,
    with_account_states,
)
from adlwatch.engine.snapshot import (
    AccountRisk,
    ContractRisk,
    MarkKey,
    PositionRisk,
    RiskSnapshot,
    ShockSpec,
    shocked_marks,
    shocked_price,
)

STABLE_ASSETS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE"})


@dataclass(frozen=True, slots=True)
class FundBalance:
    venue: str
    symbols: tuple[str, ...]
    asset: str
    balance: float


@dataclass(frozen=True, slots=True)
class EngineInputs:
    """Everything a snapshot is computed from; immutable, so a what-if can't touch live state.

    The contracts and tier tables are the portfolio's own (``portfolio.catalogue``)."""

    portfolio: Portfolio
    marks: Mapping[MarkKey, float] = field(default_factory=lambda: MappingProxyType({}))
    open_interest: Mapping[MarkKey, tuple[float, float | None]] = field(default_factory=lambda: MappingProxyType({}))
    funds: Mapping[tuple[str, tuple[str, ...], str], FundBalance] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The mark each contract's modelled population was drawn at (the first one seen); with none,
    # the current mark. None disables the ADL quantile estimate.
    anchors: Mapping[MarkKey, float] | None = field(default_factory=lambda: MappingProxyType({}))
    # Display-only figures (no risk figure reads them): each contract's latest funding (rate per
    # period as a fraction, next funding time in ms or None) and the venue's public ADL rating
    # (low | medium | high, its time in ms or None).
    funding: Mapping[MarkKey, tuple[float, int | None]] = field(default_factory=lambda: MappingProxyType({}))
    venue_adl_risk: Mapping[MarkKey, tuple[str, int | None]] = field(default_factory=lambda: MappingProxyType({}))


# A set of marks' rows as ``with_market_figures`` last gave them, in order: the account's row, its
# contract's open interest, funding and anchor then (the engine's own objects), and the row given.
MarketRows = list[tuple[PositionRisk, object, object, object, PositionRisk]]


def with_market_figures(positions: tuple[PositionRisk, ...], inputs: EngineInputs,
                        memo: MarketRows | None = None) -> tuple[PositionRisk, ...]:
    """Each position's estimated ADL quantile (1–5) against the modelled population of its contract,
    and its contract's latest funding (display only); one copy of a row for both.

    With ``memo`` (the engine's, one per set of marks): a row that is the very object it was at the
    last call (its account not recomputed), its contract's open interest, funding and anchor the
    same objects (the engine replaces them when they change), gets the same row back: not estimated
    again, and the same object (the alert rules then read it from their book)."""
    anchors, funding = inputs.anchors, inputs.funding
    if anchors is None and not funding:
        return positions
    out = []
    open_interest = inputs.open_interest
    remembered = len(memo) if memo is not None else 0
    for j, p in enumerate(positions):
        key = (p.venue, p.symbol)
        known = funding.get(key)
        oi = open_interest.get(key)
        anchor = anchors.get(key) if anchors is not None else None
        if j < remembered:
            seen = memo[j]
            if seen[0] is p and seen[1] is oi and seen[2] is known and seen[3] is anchor:
                out.append(seen[4])
                continue
        changes: dict = {}
        if known is not None and (p.funding_rate, p.next_funding_ms) != known:
            changes["funding_rate"], changes["next_funding_ms"] = known
        if anchors is not None and p.adl_score is not None and p.mark_price is not None:
            instrument = inputs.portfolio.accounts[p.account].positions[p.index].instrument
            quantile = quantile_estimate(
                instrument,
                p.side.sign,
                p.adl_score,
                p.size,
                p.mark_price,
                anchor if anchor is not None else p.mark_price,
                oi[0] if oi else None,
            )
            changes["adl_quantile"] = quantile
            changes["disagreement"] = _lights_disagreement(p, quantile)
        row = msgspec.structs.replace(p, **changes) if changes else p
        if memo is not None:
            if j < remembered:
                memo[j] = (p, oi, known, anchor, row)
            else:
                memo.append((p, oi, known, anchor, row))
        out.append(row)
    return tuple(out)


def _lights_disagreement(p: PositionRisk, quantile: int | None) -> str | None:
    """The liquidation disagreement, and the ADL lights' where ours and the venue's are over one apart."""
    if p.venue_adl_lights is None or quantile is None or abs(p.venue_adl_lights - quantile) <= 1:
        return p.disagreement
    lights = (f"ADL lights: the venue shows {p.venue_adl_lights}, adlwatch estimates {quantile} (the estimate "
              "ranks against a modelled population; the venue ranks its real book)")
    return f"{p.disagreement}; {lights}" if p.disagreement else lights



def fund_usd(fund: FundBalance, marks: Mapping[MarkKey, float], catalogue: Catalogue) -> float | None:
    """A pool's balance in USD: stablecoins at par, a coin at the mark of a contract on it; None when
    no known mark values it (Binance's BNFCR, or BTC before any BTC contract is marked)."""
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
    """Insurance fund balance (USD) ÷ open-interest notional (USD) of the pool's members whose open
    interest is known. With some unknown this is an upper bound of the pool's ratio (the denominator
    misses their OI): ``pool_fund_to_oi`` says whether it is."""
    known = [x for x in oi_usd if x is not None]
    if fund_balance_usd is None or not known or sum(known) <= 0:
        return None
    return fund_balance_usd / sum(known)


class PoolFigures(msgspec.Struct, frozen=True):
    """One insurance pool: its USD balance over the assets a mark values (the others named in
    ``unvalued_assets``, left out of the balance), its members, how many have a known OI, the ratio."""

    symbols: tuple[str, ...]
    balance_usd: float | None
    unvalued_assets: tuple[str, ...]
    members: int
    members_with_oi: int
    ratio: float | None

    @property
    def partial(self) -> bool:
        """The ratio leaves out some members' OI: an upper bound, never the pool's own figure."""
        return self.ratio is not None and self.members_with_oi < self.members


def pool_fund_to_oi(funds: Sequence[FundBalance], members: Sequence[str],
                    marks: Mapping[MarkKey, float], catalogue: Catalogue,
                    oi_usd: Mapping[str, float | None]) -> PoolFigures:
    """The figures of one pool (``funds``: its balance in each asset) over ``members``' open interest
    in USD (``oi_usd``: a member absent or None has no known OI)."""
    valued = 0.0
    any_valued = False
    unvalued: list[str] = []
    for f in funds:
        usd = fund_usd(f, marks, catalogue)
        if usd is None:
            unvalued.append(f.asset)
        else:
            valued += usd
            any_valued = True
    balance = valued if any_valued else None
    known = [oi_usd.get(s) for s in members]
    return PoolFigures(symbols=funds[0].symbols if funds else tuple(members), balance_usd=balance,
                       unvalued_assets=tuple(sorted(set(unvalued))), members=len(members),
                       members_with_oi=sum(1 for x in known if x is not None),
                       ratio=fund_to_oi(balance, known))


def compute_contracts(inputs: EngineInputs) -> tuple[ContractRisk, ...]:
    """One row per contract the portfolio holds or the feed marks (and per contract with an open
    interest that backs no known pool); a pool member is no row of its own: its open interest only
    enters its pool's ratio."""
    catalogue = inputs.portfolio.catalogue
    pools: dict[tuple[str, tuple[str, ...]], list[FundBalance]] = {}
    pool_members: set[MarkKey] = set()
    for fund in inputs.funds.values():
        pools.setdefault((fund.venue, fund.symbols), []).append(fund)
        pool_members.update((fund.venue, s) for s in fund.symbols if s != "*")
    keys: set[MarkKey] = set(inputs.portfolio.symbols()) | set(inputs.marks)
    keys.update(k for k in inputs.open_interest if k not in pool_members)

    def oi_usd(key: MarkKey) -> float | None:
        oi = inputs.open_interest.get(key)
        if oi is None:
            return None
        if oi[1] is not None:
            return oi[1]
        mark = inputs.marks.get(key)
        return oi[0] * mark if mark is not None else None

    pool_of: dict[MarkKey, PoolFigures] = {}
    for (venue, symbols), funds in pools.items():
        members = [s for s in symbols if s != "*"] or sorted(s for v, s in keys if v == venue)
        figures = pool_fund_to_oi(funds, members, inputs.marks, catalogue,
                                  {s: oi_usd((venue, s)) for s in members})
        for s in members:
            pool_of[(venue, s)] = figures

    out = []
    no_funding, no_rating = (None, None), (None, None)
    for key in sorted(keys):
        oi = inputs.open_interest.get(key)
        pool = pool_of.get(key)
        rate, next_ms = inputs.funding.get(key, no_funding)
        rating, rating_ms = inputs.venue_adl_risk.get(key, no_rating)
        out.append(
            ContractRisk(
                venue=key[0],
                symbol=key[1],
                mark_price=inputs.marks.get(key),
                open_interest=oi[0] if oi else None,
                open_interest_usd=oi_usd(key),
                fund_balance_usd=pool.balance_usd if pool else None,
                fund_symbols=pool.symbols if pool else (),
                fund_to_oi=pool.ratio if pool else None,
                funding_rate=rate,
                next_funding_ms=next_ms,
                venue_adl_risk=rating,
                venue_adl_risk_ms=rating_ms,
                fund_members=pool.members if pool else 0,
                fund_members_with_oi=pool.members_with_oi if pool else 0,
                fund_to_oi_partial=pool.partial if pool else False,
                fund_unvalued_assets=pool.unvalued_assets if pool else (),
            )
        )
    return tuple(out)


AccountFigures = tuple[AccountRisk, tuple[PositionRisk, ...]]


def build_snapshot(
    inputs: EngineInputs,
    figures: Iterable[AccountFigures],
    contracts: tuple[ContractRisk, ...],
    shocks: tuple[ShockSpec, ...] = (),
    memo: MarketRows | None = None,
) -> RiskSnapshot:
    """The one snapshot builder: each account's figures (at the snapshot's marks, shocked or live),
    the contracts, the ADL quantile estimates and the hedge groups computed from the same figures
    (``memo``: see ``with_market_figures``)."""
    figures = list(figures)
    accounts = tuple(account for account, _ in figures)
    positions = with_market_figures(tuple(risk for _, risks in figures for risk in risks), inputs, memo)
    snapshot = RiskSnapshot(positions=positions, accounts=accounts, contracts=contracts, shocks=shocks)
    if any(p.hedge is not None for p in positions):
        snapshot = msgspec.structs.replace(snapshot, hedges=hedge_risks(inputs.portfolio, snapshot))
    return snapshot


def compute_snapshot(inputs: EngineInputs, shocks: tuple[ShockSpec, ...] = ()) -> RiskSnapshot:
    """The full, non-incremental computation (the reference the engine is tested against).

    ``inputs.marks`` are used as given: ``shocks`` only labels the snapshot (``shocks.apply_shocks``
    moves the marks first)."""
    figures = (compute_account(i, account, inputs.marks) for i, account in enumerate(inputs.portfolio.accounts))
    return build_snapshot(inputs, figures, compute_contracts(inputs), shocks)


class _Figures:
    """One set of marks (the live ones, or a what-if's) and what the engine has computed at them."""

    __slots__ = ("marks", "accounts", "dirty", "contracts", "snapshot", "rows")

    def __init__(self, marks: dict[MarkKey, float], n_accounts: int) -> None:
        self.marks = marks
        self.accounts: list[AccountFigures | None] = [None] * n_accounts
        self.dirty: set[int] = set(range(n_accounts))
        self.contracts: tuple[ContractRisk, ...] | None = None
        self.snapshot: RiskSnapshot | None = None
        self.rows: MarketRows = []  # the rows with their market figures: an account not recomputed keeps them

    def changed(self, accounts: Iterable[int]) -> None:
        self.dirty.update(accounts)
        self.contracts = None
        self.snapshot = None


class RiskEngine:
    """Incremental engine: feed it events, ask it for snapshots at the UI's pace.

    A what-if: ``set_shocks(shocks)`` keeps a second set of figures at the shocked marks, updated as
    incrementally as the live ones (a mark recomputes only the accounts that hold it, in both);
    ``snapshot()`` is then the hypothetical snapshot and ``live_snapshot()`` the live one.
    """

    def __init__(self, portfolio: Portfolio) -> None:
        self._marks: dict[MarkKey, float] = {}
        self._open_interest: dict[MarkKey, tuple[float, float | None]] = {}
        self._funds: dict[tuple[str, tuple[str, ...], str], FundBalance] = {}
        self._anchors: dict[MarkKey, float] = {}
        self._funding: dict[MarkKey, tuple[float, int | None]] = {}
        self._venue_adl_risk: dict[MarkKey, tuple[str, int | None]] = {}
        self._account_states: dict[tuple[str, str], AccountState] = {}  # followed accounts' last venue report
        self._shocks: tuple[ShockSpec, ...] = ()
        self._what_if: _Figures | None = None
        self.set_portfolio(portfolio)

    # -- state ---------------------------------------------------------------------------------
    def set_portfolio(self, portfolio: Portfolio, keep: list[int] | None = None) -> None:
        """Swap in a portfolio (an edit, or a followed account's new report); followed accounts keep
        the venue's last report. ``keep``: only these accounts changed (the rest keep their models)."""
        portfolio = with_account_states(portfolio, self._account_states)
        if keep is not None and len(portfolio.accounts) == len(self._models):
            self._portfolio = portfolio
            self._rebuild_holders()
            for i in keep:
                self._models[i] = AccountModel(i, portfolio.accounts[i])
            for figures in self._all_figures():
                for i in keep:
                    figures.accounts[i] = None
                figures.changed(keep)
            return
        self._portfolio = portfolio
        self._rebuild_holders()
        self._models = [AccountModel(i, a) for i, a in enumerate(portfolio.accounts)]
        self._live = _Figures(self._marks, len(portfolio.accounts))
        if self._what_if is not None:
            self._what_if = _Figures(shocked_marks(self._marks, self._shocks), len(portfolio.accounts))

    def _all_figures(self) -> tuple[_Figures, ...]:
        return (self._live,) if self._what_if is None else (self._live, self._what_if)

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

    @property
    def catalogue(self) -> Catalogue:
        return self._portfolio.catalogue

    @property
    def shocks(self) -> tuple[ShockSpec, ...]:
        return self._shocks

    def set_shocks(self, shocks: Sequence[ShockSpec]) -> None:
        """Start (or change, or with ``()`` end) a what-if: the marks moved by ``shocks``, in order."""
        shocks = tuple(shocks)
        if shocks == self._shocks:
            return
        self._shocks = shocks
        self._what_if = _Figures(shocked_marks(self._marks, shocks), len(self._models)) if shocks else None

    def set_mark(self, venue: str, symbol: str, price: float) -> None:
        key = (venue, symbol)
        if self._marks.get(key) == price:
            return
        self._marks[key] = price
        self._anchors.setdefault(key, price)
        holders = self._holders.get(key, ())
        live = self._live  # inlined ``changed``: this runs for every mark
        if holders:
            live.dirty.update(holders)
        live.contracts = live.snapshot = None
        if self._what_if is not None:
            self._what_if.marks[key] = shocked_price(price, self._shocks, venue, symbol)
            self._what_if.changed(holders)

    def set_open_interest(self, venue: str, symbol: str, open_interest: float, open_interest_usd: float | None) -> None:
        figure = (open_interest, open_interest_usd)
        if self._open_interest.get((venue, symbol)) == figure:
            return  # as a mark: an unchanged figure dirties nothing (the rows keep theirs)
        self._open_interest[(venue, symbol)] = figure
        self._live.changed(())
        if self._what_if is not None:
            self._what_if.changed(())

    def set_insurance_fund(self, venue: str, symbols: list[str] | tuple[str, ...], asset: str, balance: float) -> None:
        key_symbols = tuple(symbols)
        self._funds[(venue, key_symbols, asset)] = FundBalance(venue, key_symbols, asset, balance)
        self._live.changed(())
        if self._what_if is not None:
            self._what_if.changed(())

    def set_funding(self, venue: str, symbol: str, rate: float, next_funding_ms: int | None) -> None:
        """A contract's funding rate and next funding time: shown on its rows, dirtying no account."""
        funding = (rate, next_funding_ms)
        if self._funding.get((venue, symbol)) == funding:
            return  # Binance repeats it in every mark frame: an unchanged one costs one lookup
        self._funding[(venue, symbol)] = funding
        self._display_changed()

    def set_venue_adl_risk(self, venue: str, symbol: str, rating: str, ts_ms: int | None) -> None:
        """A venue's public ADL rating of a contract (Binance symbolAdlRisk), shown beside ours."""
        self._venue_adl_risk[(venue, symbol)] = (rating, ts_ms)
        self._display_changed()

    def _display_changed(self) -> None:
        """A shown-only figure moved: the next snapshot copies it, no account is recomputed."""
        for figures in self._all_figures():
            figures.contracts = figures.snapshot = None

    def apply(self, event: Event) -> bool:
        """Take one normalized feed event; True if it changed what the risk figures are computed from
        (a funding rate or a venue's ADL rating is kept for the rows and contracts, but reads False:
        display only).

        Dispatch is on the event's class (``adlwatch.engine.events``); the events are final classes,
        so the match compares ``type(event)`` with each, which costs a fraction of a class pattern's
        isinstance machinery on a path that runs for every frame."""
        # On the class itself (value patterns): several times cheaper per event than class patterns.
        match type(event):
            case event_types.MarkPrice:
                self.set_mark(event.venue, event.symbol, event.price)
            case event_types.FundingRate:  # second: Binance sends one with every mark
                key, funding = (event.venue, event.symbol), (event.rate, event.next_funding_ts)
                if self._funding.get(key) != funding:  # set_funding, inlined
                    self._funding[key] = funding
                    self._display_changed()
                return False
            case event_types.OpenInterest:
                self.set_open_interest(event.venue, event.symbol, event.open_interest, event.open_interest_usd)
            case event_types.InsuranceFund:
                self.set_insurance_fund(event.venue, event.symbols, event.asset, event.balance)
            case event_types.AccountState:
                return self.set_account_state(event)
            case event_types.AdlRisk:
                self.set_venue_adl_risk(event.venue, event.symbol, event.rating, event.ts)
                return False
            case _:
                return False
        return True

    def apply_many(self, events: Iterable[Event]) -> int:
        """Take many events in order, leaving exactly the state ``apply`` would one by one.

        Returns how many of them ``apply`` would have returned True for (every mark, open interest
        and insurance-fund event, and each account report that matched an account). Cheaper per mark for replay: a mark only updates the dicts; its holders are dirtied
        once, at the end; a funding event only updates its dict.
        """
        marks, anchors, funding = self._marks, self._anchors, self._funding
        moved: set[MarkKey] = set()
        mark_of, add_moved, funding_of = marks.get, moved.add, funding.get  # bound once: this loop runs millions of times
        funding_moved = False
        applied = 0
        try:
            for event in events:
                match type(event):  # as in apply
                    case event_types.MarkPrice:
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
                    case event_types.FundingRate:  # as in apply
                        key = (event.venue, event.symbol)
                        rate = (event.rate, event.next_funding_ts)
                        if funding_of(key) != rate:
                            funding[key] = rate
                            funding_moved = True
                    case event_types.OpenInterest:
                        applied += 1
                        self.set_open_interest(event.venue, event.symbol, event.open_interest, event.open_interest_usd)
                    case event_types.InsuranceFund:
                        applied += 1
                        self.set_insurance_fund(event.venue, event.symbols, event.asset, event.balance)
                    case event_types.AccountState:
                        self._dirty_holders(moved)  # before the report rebuilds holders and models
                        applied += self.set_account_state(event)
                    case event_types.AdlRisk:
                        self.set_venue_adl_risk(event.venue, event.symbol, event.rating, event.ts)
        finally:
            # Even if an event raises, the marks already taken get their bookkeeping, as with apply.
            self._dirty_holders(moved)
            if funding_moved:
                self._display_changed()
        return applied

    def _dirty_holders(self, moved: set[MarkKey]) -> None:
        """``set_mark``'s bookkeeping for a batch of moved marks; empties ``moved``."""
        if not moved:
            return
        holders_of = self._holders.get
        dirty = [i for key in moved for i in holders_of(key, ())]
        self._live.changed(dirty)
        what_if = self._what_if
        if what_if is not None:
            for key in moved:
                what_if.marks[key] = shocked_price(self._marks[key], self._shocks, *key)
            what_if.changed(dirty)
        moved.clear()

    def set_account_state(self, state: AccountState) -> bool:
        """A followed account's balance and positions, as the venue reports them.

        Kept by (venue, reference) so that an edit of the portfolio file keeps what the venue said.
        """
        key = (state.venue, state.symbol)
        self._account_states[key] = state
        matched = [i for i, a in enumerate(self._portfolio.accounts) if (a.venue, a.ref) == key]
        if not matched:
            return False
        self.set_portfolio(self._portfolio, keep=matched)
        return True

    def _quantile_inputs(self) -> EngineInputs:
        # Only what the estimate and the rows' funding read: no copies of marks or funds per snapshot.
        return EngineInputs(portfolio=self._portfolio, open_interest=self._open_interest, anchors=self._anchors,
                            funding=self._funding)

    def inputs(self) -> EngineInputs:
        """The live inputs, copied (a what-if's shocks are not in them)."""
        return EngineInputs(
            portfolio=self._portfolio,
            marks=MappingProxyType(dict(self._marks)),
            open_interest=MappingProxyType(dict(self._open_interest)),
            funds=MappingProxyType(dict(self._funds)),
            anchors=MappingProxyType(dict(self._anchors)),
            funding=MappingProxyType(dict(self._funding)),
            venue_adl_risk=MappingProxyType(dict(self._venue_adl_risk)),
        )

    # -- output --------------------------------------------------------------------------------
    def snapshot(self) -> RiskSnapshot:
        """The snapshot to show: the what-if's while shocks are set, else the live one."""
        if self._what_if is not None:
            return self._build(self._what_if, self._shocks)
        return self._build(self._live, ())

    def live_snapshot(self) -> RiskSnapshot:
        """The live snapshot, whatever what-if is on (alerts read this one)."""
        return self._build(self._live, ())

    def _build(self, figures: _Figures, shocks: tuple[ShockSpec, ...]) -> RiskSnapshot:
        if figures.snapshot is not None:
            return figures.snapshot
        models, accounts = self._models, figures.accounts
        for i in sorted(figures.dirty):
            accounts[i] = models[i].compute(figures.marks)
        figures.dirty.clear()
        if figures.contracts is None:
            figures.contracts = compute_contracts(EngineInputs(
                portfolio=self._portfolio, marks=figures.marks, open_interest=self._open_interest, funds=self._funds,
                funding=self._funding, venue_adl_risk=self._venue_adl_risk))
        computed = [entry for entry in accounts if entry is not None]
        figures.snapshot = build_snapshot(self._quantile_inputs(), computed, figures.contracts, shocks, figures.rows)
        return figures.snapshot


def quantile_what_ifs(inputs: EngineInputs, account: int, index: int) -> list[tuple[str, int | None]]:
    """What would move a position's estimated ADL quantile: more margin, a smaller size, profit taken.

    Each line recomputes the whole snapshot with the portfolio changed (adding margin lowers the
    rank, Binance's and Hyperliquid's formulas divide by it). The changes are made on the values
    themselves, not through the file's data: a followed account's positions (the venue's, with the
    account's own brackets) are changed the same way as a manual one's.
    """
    portfolio = inputs.portfolio
    acct = portfolio.accounts[account]
    position = acct.positions[index]
    base = compute_snapshot(inputs)
    risk = next(p for p in base.positions if p.account == account and p.index == index)
    out: list[tuple[str, int | None]] = [("now", risk.adl_quantile)]

    def quantile(changed: Portfolio) -> int | None:
        snap = compute_snapshot(dc_replace(inputs, portfolio=changed))
        return next(p.adl_quantile for p in snap.positions if p.account == account and p.index == index)

    def edited(*, wallet: float | None = None, size_share: float = 1.0, margin_add: float = 0.0) -> Portfolio:
        """The portfolio with this position's size scaled (its isolated margin with it, plus
        ``margin_add``) and the account's wallet set."""
        changed = position
        if size_share != 1.0 or margin_add:
            isolated = ((position.isolated_margin or 0.0) * size_share + margin_add) if position.isolated else None
            changed = dc_replace(position, size=position.size * size_share,
                                 isolated_margin=isolated if position.isolated else position.isolated_margin)
        positions = (*acct.positions[:index], changed, *acct.positions[index + 1:])
        new = dc_replace(acct, positions=positions, wallet_balance=acct.wallet_balance if wallet is None else wallet)
        return dc_replace(portfolio, accounts=(*portfolio.accounts[:account], new, *portfolio.accounts[account + 1:]))

    settle = position.instrument.settle
    margin = position.isolated_margin if position.isolated else acct.wallet_balance
    for share in (0.25, 1.0):
        amount = margin * share if margin else position.initial_margin() * share
        changed = edited(margin_add=amount) if position.isolated else edited(wallet=acct.wallet_balance + amount)
        out.append((f"add {amount:,.6g} {settle} margin", quantile(changed)))
    for cut in (0.25, 0.5):
        out.append((f"reduce size by {cut:.0%}", quantile(edited(size_share=1 - cut))))
    if risk.unrealized_pnl and risk.unrealized_pnl > 0 and risk.mark_price:
        # Take half the profit: close half at the mark; the realised PnL joins the margin it belongs to.
        realised = risk.unrealized_pnl / 2
        changed = edited(size_share=0.5) if position.isolated else edited(
            size_share=0.5, wallet=acct.wallet_balance + realised)
        out.append(("take 50% profit", quantile(changed)))
    return out
