"""``adlwatch check``: one snapshot of the portfolio, as a table or JSON (contract in DESIGN.md)."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from adlwatch.engine.errors import InputError
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import EngineInputs, compute_snapshot
from adlwatch.engine.shocks import apply_shocks, shock
from adlwatch.engine.snapshot import TIERS_STALE_AFTER_DAYS, PositionRisk, RiskSnapshot
from adlwatch.engine.venues import VENUES
from adlwatch.tui import format as fmt
from adlwatch.tui.columns import STALE_MARK, Context, check_columns

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_ALERT = 0, 1, 2, 3

# The JSON fields of the contract, in order; more fields follow them.
CONTRACT_FIELDS = (
    "venue",
    "symbol",
    "side",
    "size",
    "entry_price",
    "mark_price",
    "margin_mode",
    "notional",
    "unrealized_pnl",
    "margin_balance",
    "maintenance_margin",
    "effective_leverage",
    "liquidation_price",
    "bankruptcy_price",
    "distance_pct",
    "adl_score",
    "adl_formula",
    "adl_quantile",
)
EXTRA_FIELDS = (
    "leverage",
    "kind",
    "settle",
    "isolated_margin",
    "distance_price",
    "account",
    "adl_alternatives",
    "hedge",
    "imported",
    "venue_liquidation_price",
    "venue_adl_lights",
    "venue_adl_raw",
    "liquidation_diff_pct",
    "disagreement",
    "tiers_as_of",
    "tiers_source",
    "tiers_verified",
    "tiers_stale",
    # The contract's funding, and a followed position's own break-even, funding and TP/SL (issue 15).
    # Before the panel figures, which the JSON has kept last since they were added.
    "funding_rate",
    "next_funding_ms",
    "venue_break_even_price",
    "funding_pnl",
    "take_profit",
    "stop_loss",
    "roe_pct",
    "notional_usd",
    "position_margin",
    "break_even_price",
    "unrealized_pnl_usd",
)


def parse_mark_args(values: Iterable[str]) -> list[tuple[str | None, str, float]]:
    """``[VENUE:]SYMBOL=PRICE`` → (venue or None, symbol, price)."""
    out = []
    for text in values:
        if "=" not in text:
            raise InputError("expected [VENUE:]SYMBOL=PRICE", field="--mark", value=text)
        left, _, right = text.rpartition("=")
        venue = None
        symbol = left
        if ":" in left:
            venue, _, symbol = left.partition(":")
            if venue not in VENUES:
                raise InputError(f"unknown venue; known: {', '.join(VENUES)}", field="--mark", value=text)
        if not symbol:
            raise InputError("missing symbol", field="--mark", value=text)
        try:
            price = float(right)
        except ValueError:
            raise InputError("price is not a number", field="--mark", value=text) from None
        if not math.isfinite(price) or price <= 0:
            raise InputError("price must be positive", field="--mark", value=text)
        out.append((venue, symbol, price))
    return out


def resolve_marks(portfolio: Portfolio, given: list[tuple[str | None, str, float]]) -> dict[tuple[str, str], float]:
    """Marks for the portfolio's contracts from ``--mark`` (venue-specific ones win)."""
    marks: dict[tuple[str, str], float] = {}
    held = portfolio.symbols()
    for venue, symbol, price in given:
        if venue is None:
            for v, s in held:
                if s == symbol and (v, s) not in marks:
                    marks[(v, s)] = price
    for venue, symbol, price in given:
        if venue is not None:
            marks[(venue, symbol)] = price
    return marks


def fetch_missing_marks(missing: dict[str, list[str]], timeout: float = 5.0
                        ) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], tuple[float, int | None]]]:
    """The marks (and the funding, where the venue gives it) of the contracts without a --mark."""
    from adlwatch.feeds.rest import fetch_market  # feeds I/O only when marks must be fetched
    from adlwatch.feeds.transport import url_override  # ADLWATCH_<VENUE>_REST_URL: emulator, testnet

    async def run():
        async def one(venue: str, symbols: list[str]):
            return venue, await fetch_market(venue, symbols, base_url=url_override(venue, "REST"), timeout=timeout)

        results = await asyncio.gather(*(one(v, s) for v, s in missing.items()), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            from adlwatch.feeds.rest import FeedError

            if all(isinstance(f, FeedError) for f in failures):
                raise FeedError(failures[0].venue, "; ".join(str(f) for f in failures).removeprefix(f"{failures[0].venue}: "))
            raise failures[0]
        marks = {(v, sym): price for v, (prices, _rates) in results for sym, price in prices.items()}
        funding = {(v, sym): rate for v, (_prices, rates) in results for sym, rate in rates.items()}
        return marks, funding

    return asyncio.run(run())


def row(risk: PositionRisk, now_ms: int | None = None) -> dict[str, Any]:
    """A position's JSON object; ``tiers_stale`` judged at ``now_ms`` (None: unverified or undated only)."""
    data = {
        name: risk.tiers_stale(now_ms) if name == "tiers_stale" else getattr(risk, name)
        for name in CONTRACT_FIELDS + EXTRA_FIELDS
    }
    return {k: _json_number(v) for k, v in data.items()}


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_number(x) for k, x in v.items()}
    return v


def render_json(snapshot: RiskSnapshot, now_ms: int | None = None) -> str:
    return json.dumps([row(p, now_ms) for p in snapshot.positions], indent=2)


def render_table(snapshot: RiskSnapshot, now_ms: int | None = None) -> str:
    """The check table (its columns: tui/columns.py, the screen's); a liquidation price standing on an
    old (at ``now_ms``), unverified or undated tier table is marked †, and the tables are named under it."""
    stale = [p.tiers_stale(now_ms) for p in snapshot.positions]
    context = Context(now_ms, stale_marks=any(stale))
    shown = check_columns(snapshot.positions)
    columns = [c.header for c in shown]
    right = {i for i, c in enumerate(shown) if c.right}
    rows = [[c.text(p, context) for c in shown] for p in snapshot.positions]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    if any(stale):
        out.append("")
        out.append(f"{STALE_MARK} tier table older than {TIERS_STALE_AFTER_DAYS} days, unverified or undated "
                   "(`adlwatch tiers --refresh` reads the venues'):")
        tables: dict[tuple, list[str]] = {}
        for p, old in zip(snapshot.positions, stale, strict=True):
            if old:
                symbols = tables.setdefault((p.venue, p.tiers_as_of, p.tiers_verified, p.tiers_source), [])
                symbols += [] if p.symbol in symbols else [p.symbol]
        for (venue, as_of, verified, source), symbols in tables.items():
            dated = f"as of {as_of}" if as_of and as_of != "undated" else "undated"
            out.append(f"  {venue} {', '.join(symbols)}: {dated}{'' if verified else ', unverified'}"
                       f" ({source or 'no source'})")
    disagreements = [p for p in snapshot.positions if p.disagreement]
    if disagreements:
        out.append("")
        out.append("differs from the venue by more than 0.1 % (!):")
        for p in disagreements:
            out.append(f"  {p.venue} {p.symbol} {p.side}: {p.disagreement}")
    if snapshot.accounts:
        out.append("")
        out.append("accounts (cross):")
        for a in snapshot.accounts:
            if a.source != "manual":
                out.append(f"  {a.venue:<12} followed by {a.source}" + "".join(f"\n    ! {w}" for w in a.warnings))
                if a.awaiting_venue:
                    out.append("               not reported by the venue: its positions are unknown")
                    continue
            if not a.cross_positions:
                out.append(f"  {a.venue:<12} wallet {fmt.amount(a.wallet_balance)} {a.settle}  (isolated positions only)")
                continue
            ratio = f"{a.margin_ratio * 100:.2f}%" if a.margin_ratio is not None else "--"
            if a.margin_balance is not None and a.margin_balance <= 0:
                ratio = "bankrupt (margin balance <= 0)"
            out.append(
                f"  {a.venue:<12} wallet {fmt.amount(a.wallet_balance)} {a.settle}  margin balance "
                f"{fmt.amount(a.margin_balance)}  maintenance {fmt.amount(a.maintenance_margin)}  margin ratio {ratio}"
            )
    if any(p.adl_quantile is not None for p in snapshot.positions):
        out.append("")
        out.append("ADL est.: lights (1-5) of the position's ADL score among a modelled population of its contract: an estimate.")
    if snapshot.shocks:
        moves = ", ".join(f"{s.pct:+g}%" + (f" {s.venue or ''}:{s.symbol or '*'}" if s.venue or s.symbol else "") for s in snapshot.shocks)
        out.insert(0, f"HYPOTHETICAL: marks shocked by {moves}")
    return "\n".join(out)


def import_followed(portfolio: Portfolio, offline: bool, err: TextIO) -> tuple[Portfolio, bool]:
    """Followed accounts read once from their venues; False when one could not be read (said in one
    line each on ``err``; the rest is still computed). Keys with trading rights are warned about."""
    if not any(a.followed for a in portfolio.accounts):
        return portfolio, True
    from adlwatch.engine.portfolio import with_account_states
    from adlwatch.feeds.accounts import fetch_followed, followers_for  # the HTTP side only when followed
    if offline:
        print("adlwatch check: followed accounts skipped (--offline): their positions come from the venue", file=err)
        return portfolio, True
    states, problems = asyncio.run(fetch_followed(followers_for(portfolio)))
    for line in problems:
        print(f"adlwatch check: {line}", file=err)
    for state in states:
        for warning in state.warnings:
            print(f"adlwatch check: {warning}", file=err)
    return with_account_states(portfolio, states), not problems


def run_check(
    portfolio_path: Path,
    marks_args: list[str],
    shock_pct: float | None,
    offline: bool,
    as_json: bool,
    alert_below: float | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    title: str | None = None,
    now_ms: int | None = None,
) -> int:
    """``now_ms``: the time the tier tables' age is judged at (default: the wall clock)."""
    from adlwatch.feeds import portfolio_store
    from adlwatch.tui import catalogue as tables

    started = time.monotonic()
    # The cached tables at once (an unknown symbol looked up first, online); a stale venue's tables are
    # refreshed meanwhile, and used if they land within REFRESH_WAIT_S.
    portfolio = portfolio_store.load(portfolio_path, tables.startup_catalogue(portfolio_path, offline=offline, err=err))
    refresh = tables.BackgroundRefresh.start(tables.portfolio_venues(portfolio_path), offline=offline)
    portfolio, accounts_ok = import_followed(portfolio, offline, err)
    marks = resolve_marks(portfolio, parse_mark_args(marks_args))
    funding: dict[tuple[str, str], tuple[float, int | None]] = {}
    missing: dict[str, list[str]] = {}
    for venue, symbol in sorted(portfolio.symbols()):
        if (venue, symbol) not in marks:
            missing.setdefault(venue, []).append(symbol)
    if missing:
        names = ", ".join(f"{v}:{s}" for v, syms in missing.items() for s in syms)
        if offline:
            raise InputError(f"no mark for {names} (give --mark VENUE:SYMBOL=PRICE, or drop --offline)", field="--mark", has_value=False)
        from adlwatch.feeds.rest import FeedError

        try:
            fetched, funding = fetch_missing_marks(missing)
            marks.update(fetched)
        except FeedError as error:
            print(f"adlwatch check: {error} (use --mark VENUE:SYMBOL=PRICE to give it by hand)", file=err)
            return EXIT_FAILURE
        still = [f"{v}:{s}" for v, syms in missing.items() for s in syms if (v, s) not in marks]
        if still:
            print(f"adlwatch check: the venue returned no mark for {', '.join(still)}", file=err)
            return EXIT_FAILURE
    landed = refresh.wait(tables.REFRESH_WAIT_S - (time.monotonic() - started)) if refresh is not None else None
    if landed is not None:
        portfolio = tables.rebind(portfolio, landed.catalogue)
    inputs = EngineInputs(portfolio=portfolio, marks=marks, funding=funding)
    if shock_pct is not None:
        try:
            snapshot = apply_shocks(inputs, [shock(shock_pct)])
        except ValueError as error:
            raise InputError(str(error), field="--shock", value=shock_pct) from None
    else:
        snapshot = compute_snapshot(inputs)
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    if as_json:
        print(render_json(snapshot, now_ms), file=out)
    else:
        if title:
            print(title, file=out)
        print(render_table(snapshot, now_ms), file=out)
    if alert_below is not None:
        if any(p.distance_pct is not None and p.distance_pct < alert_below for p in snapshot.positions):
            return EXIT_ALERT
    return EXIT_OK if accounts_ok else EXIT_FAILURE
