"""Cross-venue hedges: positions tagged with the same ``hedge`` name, seen as one group.

Per group: the legs, the net exposure (base units and signed USD notional at the marks), and for each
leg the question a hedger fears: if the venue auto-deleveraged this leg now, what exposure is left,
and how far from liquidation are the legs that remain once the ADL'd leg's PnL is realised into its
own account. Pure: a portfolio and the snapshot computed from it in, frozen ``HedgeRisk`` values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import msgspec

from adlwatch.engine.accounts import compute_account, position_leg
from adlwatch.engine.margin import unrealized_pnl
from adlwatch.engine.portfolio import Portfolio, Position
from adlwatch.engine.snapshot import HedgeLeg, HedgeRisk, LegDeleveraged, MarkKey, PositionRisk, RiskSnapshot
from adlwatch.engine.venues import rules_for


def hedge_risks(portfolio: Portfolio, snapshot: RiskSnapshot) -> tuple[HedgeRisk, ...]:
    """Every hedge group of the portfolio, by name. ``snapshot`` must be computed from ``portfolio``
    (the engine's, so that followed accounts hold what their venue reported)."""
    groups: dict[str, list[PositionRisk]] = {}
    for risk in snapshot.positions:
        if risk.hedge is not None:
            groups.setdefault(risk.hedge, []).append(risk)
    marks = marks_of(snapshot)
    return tuple(_hedge(name, groups[name], portfolio, marks) for name in sorted(groups))


def marks_of(snapshot: RiskSnapshot) -> dict[MarkKey, float]:
    marks = {(c.venue, c.symbol): c.mark_price for c in snapshot.contracts if c.mark_price is not None}
    marks.update({(p.venue, p.symbol): p.mark_price for p in snapshot.positions if p.mark_price is not None})
    return marks


def _hedge(name: str, risks: list[PositionRisk], portfolio: Portfolio, marks: Mapping[MarkKey, float]) -> HedgeRisk:
    legs = tuple(hedge_leg(r, _position(portfolio, r)) for r in risks)
    base_asset, net_base, net_usd = net_exposure(legs)
    return HedgeRisk(
        name=name,
        legs=legs,
        base_asset=base_asset,
        net_base_units=net_base,
        net_notional_usd=net_usd,
        if_deleveraged=tuple(deleveraged(leg, legs, portfolio, marks) for leg in legs),
    )


def _position(portfolio: Portfolio, risk: PositionRisk) -> Position:
    return portfolio.accounts[risk.account].positions[risk.index]


def hedge_leg(risk: PositionRisk, position: Position) -> HedgeLeg:
    """A position as a hedge leg: its signed exposure in coin and in USD at the mark."""
    inst = position.instrument
    sign = position.side.sign
    mark = risk.mark_price
    if inst.inverse:
        face_usd = position.size * inst.contract_size
        base_units = sign * face_usd / mark if mark else None
        notional_usd = sign * face_usd
    else:
        base_units = sign * position.size * inst.contract_size
        notional_usd = base_units * mark if mark is not None else None  # quoted in a USD stablecoin
    return HedgeLeg(
        account=risk.account,
        index=risk.index,
        venue=risk.venue,
        symbol=risk.symbol,
        side=risk.side,
        base_asset=inst.base,
        base_units=base_units,
        notional_usd=notional_usd,
        mark_price=mark,
        liquidation_price=risk.liquidation_price,
        distance_pct=risk.distance_pct,
    )


def net_exposure(legs: tuple[HedgeLeg, ...]) -> tuple[str | None, float | None, float | None]:
    """(coin, net base units, net USD notional); the base net only when every leg holds one coin."""
    coins = {leg.base_asset for leg in legs}
    base_asset = coins.pop() if len(coins) == 1 else None
    base = [leg.base_units for leg in legs]
    usd = [leg.notional_usd for leg in legs]
    net_base = sum(base) if base_asset is not None and None not in base else None
    net_usd = sum(usd) if None not in usd else None
    return base_asset, net_base, net_usd


def adl_price(leg: HedgeLeg) -> float | None:
    """The price the leg's venue would deleverage it at now, by the venue's own ADL price rule.

    Only the marks are known here: the previous mark is the last one seen, and the bankruptcy price of
    the liquidated (counterparty's) order, which Binance and Bybit close at, is known to nobody outside
    the venue; it lies at about the mark when ADL runs, so the mark stands in (the leg's own bankruptcy
    price would be wrong: ADL only takes winners).
    """
    mark = leg.mark_price
    if mark is None:
        return None
    return rules_for(leg.venue).adl_price(mark, mark, _unknown)


def _unknown() -> None:
    return None


def deleveraged(
    leg: HedgeLeg, legs: tuple[HedgeLeg, ...], portfolio: Portfolio, marks: Mapping[MarkKey, float]
) -> LegDeleveraged:
    """``leg`` closed at its venue's ADL price: its PnL realised into its own account, and the other
    legs' figures after that (an account that held it is recomputed; the others keep theirs)."""
    account = portfolio.accounts[leg.account]
    position = account.positions[leg.index]
    price = adl_price(leg)
    others = tuple(x for x in legs if (x.account, x.index) != (leg.account, leg.index))
    realised = None
    if price is not None:
        realised = unrealized_pnl(position_leg(position), price)
        if any(x.account == leg.account for x in others):
            others = _after_removal(leg, others, portfolio, realised, marks)
    _, residual_base, residual_usd = net_exposure(others)
    return LegDeleveraged(
        leg=leg,
        adl_price=price,
        adl_price_basis=rules_for(leg.venue).ADL_PRICE_STAND_IN,
        realised_pnl=realised,
        residual_base_units=residual_base,
        residual_notional_usd=residual_usd,
        residual=others,
    )


def _after_removal(
    leg: HedgeLeg, others: tuple[HedgeLeg, ...], portfolio: Portfolio, realised: float, marks: Mapping[MarkKey, float]
) -> tuple[HedgeLeg, ...]:
    """The legs that share ``leg``'s account, recomputed with it closed; the rest unchanged."""
    account = portfolio.accounts[leg.account]
    position = account.positions[leg.index]
    # Closing returns the PnL to the wallet, and an isolated position's own margin with it.
    released = realised + ((position.isolated_margin or 0.0) if position.isolated else 0.0)
    remaining = tuple(p for i, p in enumerate(account.positions) if i != leg.index)
    after = replace(account, positions=remaining, wallet_balance=account.wallet_balance + released)
    _, risks = compute_account(leg.account, after, marks)
    out = []
    for other in others:
        if other.account != leg.account:
            out.append(other)
            continue
        # Closing the leg shifted the later positions down by one; the leg keeps its portfolio index.
        risk = risks[other.index - 1 if other.index > leg.index else other.index]
        out.append(hedge_leg(msgspec.structs.replace(risk, index=other.index), account.positions[other.index]))
    return tuple(out)
