"""``adlwatch simulate``: a liquidation cascade on a modelled population, round by round.

The maths is engine.cascade's; this module gathers the inputs (flags, or the venue's public REST
endpoints), runs the cascade with the stated impact slope and with half and twice that slope (the
sensitivity band), and prints a table or JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from adlwatch.engine.cascade import (
    DEFAULT_DEPTH_USD_PER_PCT,
    POLICIES,
    CascadeParams,
    CascadeResult,
    adl_hit_profile,
    run_cascade,
    shock_path,
)
from adlwatch.engine.errors import InputError
from adlwatch.engine.population import CALIBRATIONS, PopulationParams, build_population, with_positions
from adlwatch.tui import format as fmt

STABLE = ("USD", "USDT", "USDC")


# What simulate needs, the flag that gives each, and how it is said in a line.
INPUTS = (("mark", "--mark PRICE", "the mark"), ("open_interest", "--open-interest {base}", "the open interest"),
          ("fund", "--fund USD", "the insurance fund"))


def market_inputs(venue: str, symbol: str, *, offline: bool, problems: list[str] | None = None) -> dict[str, float]:
    """Mark, open interest (base units) and insurance fund (USD) from the venue's public REST API.
    What went wrong fetching them is added to ``problems`` (one line each)."""
    if offline:
        return {}
    from adlwatch.feeds.rest import FeedError, fetch_once
    from adlwatch.feeds.transport import url_override

    try:
        events = asyncio.run(fetch_once(venue, [symbol], base_url=url_override(venue, "REST")))
    except FeedError as error:
        if problems is not None:
            problems.append(str(error))
        return {}
    found: dict[str, float] = {}
    fund = 0.0
    for e in events:
        if e.kind == "mark_price" and e.symbol == symbol:
            found["mark"] = e.price
        elif e.kind == "open_interest" and e.symbol == symbol:
            found["open_interest"] = e.open_interest
        elif e.kind == "insurance_fund" and (symbol in e.symbols or "*" in e.symbols) and e.asset.upper() in STABLE:
            fund += e.balance
    if fund > 0:
        found["fund"] = fund
    return found


def load_path(path: Path, venue: str, symbol: str) -> list[float]:
    """Marks of the contract from a recording (any format ``adlwatch replay`` reads)."""
    from adlwatch.feeds.replay import load_replay

    data = load_replay(path, skip=frozenset({"index_price", "funding_rate", "open_interest"}))
    if venue == "*":  # --path-symbol: another contract's marks drive this one
        venue = next((e.venue for e in data.events if e.kind == "mark_price" and e.symbol == symbol), "")
    marks = [e.price for e in data.events if e.kind == "mark_price" and e.symbol == symbol and e.venue == venue]
    if not marks:
        marks = [e.price for e in data.events if e.kind == "mark_price" and e.symbol == symbol]
    if not marks:
        raise InputError(f"no mark price of {symbol} in the recording", file=str(path), field="--path", value=str(path))
    return marks


def run_simulate(args: Any, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from adlwatch.tui import catalogue as tables

    if args.policy not in POLICIES:
        raise InputError(f"unknown policy; known: {', '.join(POLICIES)}", field="--policy", value=args.policy)
    started = time.monotonic()
    # The cached tables at once (the contract looked up first when no table knows it, online); the venue's
    # tables refreshed meanwhile when over a day old, and used if they land within REFRESH_WAIT_S.
    catalogue = tables.startup_catalogue(None, offline=args.offline, extra=[(args.venue, args.symbol)], err=err,
                                         every_venue=True)  # the user's portfolio may hold any venue
    instrument = catalogue.get(args.venue, args.symbol)
    refresh = tables.BackgroundRefresh.start([args.venue], offline=args.offline)
    if not instrument.tiers:
        raise InputError(f"no tier table for {args.venue} {args.symbol}: the population's margin rule is unknown",
                         field="--symbol", value=args.symbol)
    recorded = load_path(args.path, "*" if args.path_symbol else args.venue, args.path_symbol or args.symbol) if args.path else None
    start_mark = recorded[0] if recorded else args.mark
    problems: list[str] = []
    known = (market_inputs(args.venue, args.symbol, offline=args.offline, problems=problems)
             if None in (start_mark, args.open_interest, args.fund) else {})
    landed = refresh.wait(tables.REFRESH_WAIT_S - (time.monotonic() - started)) if refresh is not None else None
    if landed is not None and landed.catalogue.find(args.venue, args.symbol) is not None:
        catalogue = landed.catalogue
        instrument = catalogue.get(args.venue, args.symbol)
    mark = start_mark or known.get("mark")
    open_interest = args.open_interest or known.get("open_interest")
    fund = args.fund if args.fund is not None else known.get("fund")
    missing_inputs({"mark": mark, "open_interest": open_interest, "fund": fund}, args, instrument.base, problems)
    if recorded is not None:
        path = recorded
    elif args.shock is not None:
        if args.shock <= -100:
            raise InputError("must be above -100", field="--shock", value=args.shock)
        path = shock_path(mark, args.shock, args.steps)
    else:
        raise InputError("give --shock PCT or --path FILE", field="--shock", has_value=False)

    params = PopulationParams(positions_per_side=args.positions, seed=args.seed, calibration=args.calibration)
    pop = build_population(instrument, mark, open_interest, params)
    pop, watch, labels = _with_user_positions(pop, args, catalogue)
    slope = 0.01 / args.depth
    show_progress = not args.json and err.isatty() and len(path) * args.positions > 2_000_000

    def progress(done: int, total: int) -> None:
        if show_progress:
            bar = "█" * (30 * done // total) + "░" * (30 - 30 * done // total)
            print(f"\r  {bar} {done}/{total} steps", end="" if done < total else "\n", file=err, flush=True)

    main = run_cascade(pop, path, CascadeParams(fund_usd=fund, policy=args.policy, impact_per_usd=slope), watch, progress)
    band = {
        name: run_cascade(pop, path, CascadeParams(fund_usd=fund, policy=args.policy, impact_per_usd=slope * factor))
        for name, factor in (("half_slope", 0.5), ("double_slope", 2.0))
    }
    if args.json:
        print(json.dumps(_as_json(args, instrument, mark, open_interest, fund, pop, main, band, labels), indent=2), file=out)
    else:
        print(_as_table(args, mark, open_interest, fund, pop, main, band, labels, instrument.base), file=out)
    return 0


def missing_inputs(values: dict[str, float | None], args: Any, base: str, problems: list[str]) -> None:
    """An ``InputError`` naming each input that is still unknown, the flag that gives it, and why it
    is unknown (offline, the venue unreachable, or not published by it)."""
    missing = [(flag.format(base=base), words) for name, flag, words in INPUTS if values[name] is None]
    if not missing:
        return
    named = [f"{words} ({flag})" for flag, words in missing]
    wanted = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    if args.offline:
        why = "--offline: nothing is fetched"
    elif problems:
        why = f"could not fetch {'it' if len(named) == 1 else 'them'} ({'; '.join(problems)})"
    else:
        why = f"{args.venue} publishes no such figure for {args.symbol}" if len(missing) == 1 else (
            f"{args.venue} publishes none of these for {args.symbol}")
    raise InputError(f"{why}: give {wanted}", field="simulate", has_value=False)


def first_adl_words(result: CascadeResult) -> str:
    """When the first ADL came, in the rounds table's words: its step and round, and how many
    positions had been liquidated by then (that round's included: its bankruptcies are what the ADL
    covered)."""
    through = liquidations_through_first_adl(result)
    if result.first_adl is None or through is None:
        return "no ADL"
    k, r = result.first_adl
    that_round = result.steps[k].rounds[r].liquidated
    return f"first ADL at step {k + 1} round {r + 1}, after {through:,} liquidations ({that_round:,} in that round)"


def liquidations_through_first_adl(result: CascadeResult) -> int | None:
    """Positions liquidated up to the first ADL, the round of the ADL included (None: no ADL)."""
    if result.first_adl is None:
        return None
    k, r = result.first_adl
    return (sum(rnd.liquidated for step in result.steps[:k] for rnd in step.rounds)
            + sum(rnd.liquidated for rnd in result.steps[k].rounds[: r + 1]))


def _with_user_positions(pop, args, catalogue):
    """The user's positions on this contract (from the portfolio file, when there is one) join the run."""
    from adlwatch.feeds import portfolio_store

    path = args.portfolio or portfolio_store.default_path()
    if args.portfolio is None and not path.exists():
        return pop, [], []
    portfolio = portfolio_store.load(path, catalogue)
    rows = [
        p for a in portfolio.accounts for p in a.positions if p.venue == args.venue and p.symbol == args.symbol
    ]
    if not rows:
        return pop, [], []
    # Isolated margin as it is; a cross position counts with its initial margin (an approximation).
    margins = [p.isolated_margin if p.isolated else p.initial_margin() for p in rows]
    pop, watch = with_positions(pop, [p.side.sign for p in rows], [p.size for p in rows], [p.entry_price for p in rows], margins)
    labels = [f"{p.side.label} {p.size:g} @ {p.entry_price:g} ({p.margin_mode.value})" for p in rows]
    return pop, watch, labels


def _totals(result: CascadeResult) -> dict[str, float]:
    return {
        "liquidated_notional_usd": result.total("liquidated_notional_usd"),
        "bankruptcy_gap_usd": result.total("gap_usd"),
        "fund_draw_usd": result.total("fund_draw_usd"),
        "fund_end_usd": result.fund_end_usd,
        "fund_drawdown_usd": result.fund_drawdown_usd,
        "adl_notional_usd": result.total("adl_notional_usd"),
        "haircut_pnl_usd": result.total("haircut_pnl_usd"),
        "haircut_equity_usd": result.total("haircut_equity_usd"),
        "needed_budget_usd": result.total("haircut_pnl_usd") + result.total("unresolved_usd"),
        "unresolved_usd": result.total("unresolved_usd"),
        "end_price": result.steps[-1].end_price if result.steps else float("nan"),
    }


def _as_json(args, instrument, mark, oi, fund, pop, main, band, labels) -> dict:
    return {
        "venue": args.venue,
        "symbol": args.symbol,
        "policy": args.policy,
        "mark_price": mark,
        "open_interest": oi,
        "fund_start_usd": fund,
        "impact_per_usd": 0.01 / args.depth,
        "population": pop.describe(),
        "steps": [
            {
                "target_price": s.target_price,
                "start_price": s.start_price,
                "end_price": s.end_price,
                "converged": s.converged,
                "rounds": [asdict(r) for r in s.rounds],
            }
            for s in main.steps
        ],
        "totals": _totals(main),
        "first_liquidation": main.first_liquidation,
        "first_adl": main.first_adl,
        "liquidations_before_first_adl": main.liquidations_before_first_adl,
        "liquidations_through_first_adl": liquidations_through_first_adl(main),  # its round's included
        "sensitivity": {name: _totals(r) for name, r in band.items()},
        "adl_reached": adl_hit_profile(pop, main),
        "positions": [
            {"position": label, "fate": f.state, "step": f.step, "price": f.price, "adl_share": f.haircut}
            for label, f in zip(labels, main.fates, strict=True)
        ],
    }


def open_interest_words(oi: float, base: str, mark: float) -> str:
    """``90.00k BTC (9.90B USD)``: compact, with its unit and its dollar value at the mark."""
    amount = fmt.usd(oi) if abs(oi) >= 1000 else fmt.amount(oi)
    return f"{amount} {base} ({fmt.usd(oi * mark)} USD)"


def _as_table(args, mark, oi, fund, pop, main, band, labels, base: str = "") -> str:
    lines = [
        f"adlwatch simulate: {args.venue} {args.symbol}, policy {args.policy}, mark {fmt.price(mark)}, "
        f"open interest {open_interest_words(oi, base, mark)} a side, insurance fund {fmt.usd(fund)} USD, "
        f"impact 1% per {fmt.usd(args.depth)} USD",
        pop.describe(),
        "",
    ]
    header = ("step", "rnd", "price", "liq.", "liq. USD", "gap USD", "fund USD", "ADL USD", "haircut PnL", "unresolved")
    rows = []
    for k, step in enumerate(main.steps):
        for r_i, r in enumerate(step.rounds):
            rows.append((str(k + 1), str(r_i + 1), fmt.price(r.price), f"{r.liquidated:,}", fmt.usd(r.liquidated_notional_usd),
                         fmt.usd(r.gap_usd), fmt.usd(r.fund_after_usd), fmt.usd(r.adl_notional_usd), fmt.usd(r.haircut_pnl_usd),
                         fmt.usd(r.unresolved_usd)))
        if not step.rounds:
            rows.append((str(k + 1), "-", fmt.price(step.start_price), "0", "", "", "", "", "", ""))
        if not step.converged:
            rows.append((str(k + 1), "!", "no fixed point within the round limit", "", "", "", "", "", "", ""))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    t = _totals(main)
    lines += [
        "",
        f"liquidated {fmt.usd(t['liquidated_notional_usd'])} USD; bankruptcy gap {fmt.usd(t['bankruptcy_gap_usd'])}; "
        f"fund {fmt.usd(fund)} -> {fmt.usd(t['fund_end_usd'])} (drawdown {fmt.usd(t['fund_drawdown_usd'])})",
        f"ADL {fmt.usd(t['adl_notional_usd'])} USD closed; haircuts {fmt.usd(t['haircut_pnl_usd'])} of PnL, "
        f"{fmt.usd(t['haircut_equity_usd'])} of equity; needed budget {fmt.usd(t['needed_budget_usd'])}; "
        f"unresolved {fmt.usd(t['unresolved_usd'])}",
    ]
    if main.first_liquidation is not None:
        k, r = main.first_liquidation
        lines.append(f"first liquidations at step {k + 1} round {r + 1} ({main.steps[k].rounds[r].liquidated:,} positions); "
                     f"{first_adl_words(main)}")
    reached = adl_hit_profile(pop, main)
    if reached["positions_hit"]:
        lines.append(f"ADL reached {reached['positions_hit']:,} positions: notional-weighted median leverage "
                     f"{reached['median_leverage']:.2f}x, {reached['share_under_1x']:.0%} of ADL notional under 1x")
    lines.append("sensitivity (impact slope x0.5 / x2): liquidated "
                 + " / ".join(fmt.usd(_totals(band[n])["liquidated_notional_usd"]) for n in ("half_slope", "double_slope"))
                 + ", ADL " + " / ".join(fmt.usd(_totals(band[n])["adl_notional_usd"]) for n in ("half_slope", "double_slope")))
    for label, fate in zip(labels, main.fates, strict=True):
        if fate.state == "liquidated":
            what = f"LIQUIDATED at step {fate.step + 1}, around {fmt.price(fate.price)}"
        elif fate.state == "adl":
            what = f"ADL'd at step {fate.step + 1} ({fate.haircut:.0%} of its PnL) at {fmt.price(fate.price)}"
        else:
            what = "safe"
        lines.append(f"your {label}: {what}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    from adlwatch.feeds.registry import venue_names

    parser.add_argument("--venue", required=True, choices=venue_names())
    parser.add_argument("--symbol", required=True)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--shock", type=float, metavar="PCT", help="a straight move of PCT percent (-15 = a 15%% fall)")
    group.add_argument("--path", type=Path, metavar="FILE", help="the contract's marks from a recording")
    parser.add_argument("--path-symbol", metavar="SYMBOL", help="with --path: take the marks of this contract instead")
    parser.add_argument("--steps", type=int, default=20, help="steps of a --shock path (default 20)")
    parser.add_argument("--fund", type=float, metavar="USD", help="insurance fund (default: the venue's latest balance)")
    parser.add_argument("--mark", type=float, help="starting mark (default: the venue's)")
    parser.add_argument("--open-interest", type=float, help="open interest, base units a side (default: the venue's)")
    parser.add_argument("--policy", default="queue", help=f"ADL policy: {', '.join(POLICIES)}")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--positions", type=int, default=20_000, help="modelled positions a side (default 20,000)")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default="parametric")
    parser.add_argument("--depth", type=float, default=DEFAULT_DEPTH_USD_PER_PCT, metavar="USD",
                        help="order-book depth per 1%% move, for the impact slope (default: Binance BTCUSDT, 10 Oct 2025)")
    parser.add_argument("--portfolio", type=Path, help="follow your positions on this contract (default: your portfolio)")
    parser.add_argument("--offline", action="store_true", help="never ask the venue: every input from flags")
    parser.add_argument("--json", action="store_true")
