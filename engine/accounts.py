"""One account's figures at given marks: each position's margin, liquidation and bankruptcy prices,
distance and ADL score, and the account's cross totals.

``AccountModel`` builds an account's static parts once (legs, cross groups, price solvers, isolated
prices); ``compute(marks)`` gives the figures. The engine keeps one model per account and recomputes
only those whose contracts moved; hedges recompute an account with one leg closed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from msgspec.structs import replace as replace_struct

from adlwatch.engine import adl
from adlwatch.engine.enums import Side
from adlwatch.engine.instruments import Instrument
from adlwatch.engine.margin import Leg, PriceSolver, maintenance_margin, unrealized_pnl, value
from adlwatch.engine.portfolio import Account, Position
from adlwatch.engine.snapshot import AccountRisk, MarkKey, PositionRisk, as_of_ms
from adlwatch.engine.venues import rules_for


def position_leg(position: Position) -> Leg:
    """A position as the margin solver sees it."""
    return Leg(position.instrument, position.side.sign, position.size, position.entry_price)


def usd_notional(instrument: Instrument, size: float, price: float) -> float:
    """The USD value of ``size`` (the position's units) at ``price``: an inverse contract's face value
    (contracts × face, whatever the price), a linear one's quote value (USDT/USDC taken as USD)."""
    k = size * instrument.contract_size
    return k if instrument.inverse else k * price


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def break_even_price(side: Side, entry_price: float, taker_fee: float) -> float:
    """The price at which closing the position pays back the taker fees to open and to close it.

    Linear (value = size × price): a long's uPnL ``size × (P − E)`` equals the fees
    ``f × size × (E + P)`` at ``P = E × (1 + f) ÷ (1 − f)``; a short's ``size × (E − P)`` at
    ``P = E × (1 − f) ÷ (1 + f)``. Inverse (value = n × face ÷ price, in coin): a long's uPnL
    ``n × face × (1/E − 1/P)`` equals ``f × n × face × (1/E + 1/P)`` when ``(1 − f)/E = (1 + f)/P``,
    the same ``P = E × (1 + f) ÷ (1 − f)``; a short's likewise ``E × (1 − f) ÷ (1 + f)``. So one
    form serves both kinds (the fees are charged on the value in the settlement asset at each price).
    """
    f = taker_fee
    if side is Side.LONG:
        return entry_price * (1.0 + f) / (1.0 - f)
    return entry_price * (1.0 - f) / (1.0 + f)


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
        self.legs = [position_leg(p) for p in account.positions]
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
                side=p.side,
                size=p.size,
                entry_price=p.entry_price,
                margin_mode=p.margin_mode,
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
                venue_break_even_price=p.reported.break_even_price if p.reported else None,
                funding_pnl=p.reported.funding_pnl if p.reported else None,
                take_profit=p.reported.take_profit if p.reported else None,
                stop_loss=p.reported.stop_loss if p.reported else None,
                **tier_provenance(p),
                break_even_price=break_even_price(p.side, p.entry_price, p.instrument.taker_fee),
            )
            for i, p in enumerate(account.positions)
        ]
        # Each position's row without a mark: compute copies it with the figures of the moment (a copy
        # of a built row costs a fraction of building one from keyword arguments).
        self.blank_rows = [PositionRisk(**static, mark_price=None, **_EMPTY) for static in self.static]
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

        # The direction that liquidates a cross account is where its margin surplus (balance less every
        # requirement, fee terms as the solver counts them) falls: a cross position's distance is
        # positive while that surplus is, whichever side the position is on (hedge mode: both legs
        # share the account's liquidation price, and the net exposure decides which way it lies).
        cross_surplus: float | None = None
        if cross_complete and cross_groups:
            cross_surplus = account_balance - account.unmodelled_maintenance - sum(
                maintenance_margin(rules, legs[i], pos_marks[i], cross_prices[symbol][1])
                for symbol, idxs in cross_groups.items()
                for i in idxs
            )
        # Per contract: the sign of the net cushion to its bankruptcy price (positive when reaching it
        # loses money), so a hedge-mode leg's leverage is measured the way the account goes bankrupt.
        cross_net_sign: dict[str, float] = {}
        if cross_complete:
            for symbol, idxs in cross_groups.items():
                bankruptcy = cross_prices[symbol][1]
                if bankruptcy is not None:
                    mark = pos_marks[idxs[0]]
                    net = sum(legs[i].direction * (value(legs[i], mark) - value(legs[i], bankruptcy)) for i in idxs)
                    cross_net_sign[symbol] = math.copysign(1.0, net) if net != 0 else 0.0

        risks: list[PositionRisk] = []
        for i, p in enumerate(account.positions):
            mark = pos_marks[i]
            leg = legs[i]
            if mark is None or (not p.isolated and not cross_complete):
                risks.append(replace_struct(self.blank_rows[i], mark_price=mark, adl_alternatives={}))
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
            # A hedge-mode leg takes the contract's net sign: its own move to bankruptcy may be a gain.
            if p.isolated or bankruptcy is None:
                cushion = margin_balance
            else:
                cushion = cross_net_sign[p.symbol] * abs(notional - value(leg, bankruptcy))
            effective_leverage = notional / cushion if cushion != 0 else math.inf
            if liquidation is not None:
                if p.isolated or cross_surplus is None:
                    distance_price = (mark - liquidation) if p.side is Side.LONG else (liquidation - mark)
                else:
                    distance_price = math.copysign(abs(liquidation - mark), cross_surplus)
                distance_pct = distance_price / mark * 100.0
            else:
                distance_price = distance_pct = None
            inputs = adl.AdlInputs(
                sign=leg.sign,
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
            # The panel: ROE over the initial margin (isolated: the isolated margin; cross: entry value
            # ÷ leverage); the margin shown is the isolated margin balance or the cross initial margin.
            if p.isolated:
                initial = p.isolated_margin if p.isolated_margin is not None else self.initial_margins[i]
                panel_margin = margin_balance
            else:
                initial = panel_margin = self.initial_margins[i]
            notional_usd = usd_notional(leg.instrument, leg.size, mark)
            pnl_usd = pnl * mark if leg.instrument.inverse else pnl  # a coin-settled uPnL is in coin
            risks.append(
                replace_struct(
                    self.blank_rows[i],
                    liquidation_diff_pct=diff_pct,
                    disagreement=disagreement,
                    mark_price=mark,
                    roe_pct=pnl / initial * 100.0 if initial > 0 else None,
                    notional_usd=notional_usd,
                    unrealized_pnl_usd=pnl_usd,
                    position_margin=panel_margin,
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


def tier_provenance(position: Position) -> dict:
    """Where a position's tiers come from (``PositionRisk.tiers_*``): the table's date and source; no
    date for the portfolio's ``mmr`` override or the account's own brackets (read from the venue now)."""
    inst = position.instrument
    current = position.mmr is not None or (position.reported is not None and position.reported.brackets_from_account)
    as_of = None if current else (inst.as_of or "undated")
    return dict(
        tiers_as_of=as_of,
        tiers_source=inst.source or None,
        tiers_verified=inst.verified,
        tiers_as_of_ms=None if as_of is None else as_of_ms(as_of),
    )


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
    if rules_for(account.venue).RULES.fee != "none":
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
