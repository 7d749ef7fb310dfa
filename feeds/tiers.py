"""Risk-tier tables fetched from the venues' public endpoints into a local cache.

The cache overrides the bundled tables (``engine/data/instruments/*.toml``) tier by tier, and
carries the fetch time as ``as_of``. Each venue's ``feeds/venues/<venue>/tiers.py`` declares its
source (a ``TierSource``, feeds/tier_rows.py); the venues are the registry's. Today's sources
(research/exchanges.md):

- Bybit ``GET /v5/market/risk-limit`` (§2.2; bybit-exchange/docs ``docs/v5/market/risk-limit.mdx``,
  https://bybit-exchange.github.io/docs/v5/market/risk-limit). ``riskLimitValue`` is the tier's cap
  (USDT notional for linear, coin value for inverse); the floor is the previous tier's cap.
- OKX ``GET /api/v5/public/position-tiers`` (§3.2; https://www.okx.com/docs-v5/en/
  #public-data-rest-api-get-position-tiers). ``minSz``/``maxSz`` are contracts for perpetuals.
- Hyperliquid ``POST /info {"type": "meta"}`` (§4.2; hyperliquid-docs ``for-developers/api/
  info-endpoint/perpetuals.md`` and ``trading/margin-tiers.md``): ``marginTables`` and each
  universe asset's ``marginTableId``; "for IDs less than 50, there is a single tier with max
  leverage equal to the ID"; mmr = 1 / (2 · max leverage).
- Binance has no public bracket endpoint (``/fapi/v1/leverageBracket`` is signed): skipped.

The venues' parsers are pure and raise only ``ValueError`` (naming the venue and what was wrong). Their rows
have the bundled tables' tier shape (floor, cap, mmr, max_leverage), so
``engine.instruments.build_tiers`` computes the maintenance amounts. Nothing here raises out of
``refresh_tiers`` or ``load_catalogue``: failures are reported, a corrupt cache file is ignored.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import platformdirs
import tomli_w

from adlwatch.engine.instruments import (
    Catalogue,
    Instrument,
    build_tiers,
    default_catalogue,
    load_table,
)
from adlwatch.engine.venues import venue_names as engine_venue_names
from adlwatch.feeds import registry
from adlwatch.feeds.files import write_atomic
from adlwatch.feeds.tier_rows import Fetcher, Row, TierSource
from adlwatch.feeds.tier_rows import bundled as bundled_instrument
from adlwatch.feeds.transport import make_http_client

APP_NAME = "adlwatch"
SOURCE_NOTE = "fetched from the venue's public endpoint"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "tiers"


# ---------------------------------------------------------------------------- the report


@dataclass
class CachedInstrument:
    symbol: str
    tiers: int
    as_of: str
    source: str
    in_bundle: bool = True


@dataclass
class VenueRefresh:
    venue: str
    state: str = "ok"  # ok | partial | failed | skipped
    path: Path | None = None
    instruments: list[CachedInstrument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each: what failed and why
    detail: str = ""  # why a venue was skipped

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "skipped")


@dataclass
class TierRefreshReport:
    cache_dir: Path
    venues: dict[str, VenueRefresh] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.venues.values())

    def lines(self) -> list[str]:
        out: list[str] = []
        for venue in self.venues.values():
            if venue.state == "skipped":
                out.append(f"{venue.venue}: skipped: {venue.detail}")
                continue
            for inst in venue.instruments:
                note = "" if inst.in_bundle else " (not in the bundled catalogue: cached, not used)"
                plural = "s" if inst.tiers != 1 else ""
                out.append(f"{venue.venue} {inst.symbol}: {inst.tiers} tier{plural}, as of {inst.as_of}{note}")
            for error in venue.errors:
                out.append(f"{venue.venue}: failed: {error}")
            if venue.path is not None:
                out.append(f"{venue.venue}: cache {venue.path}")
            elif venue.state == "failed":
                out.append(f"{venue.venue}: nothing written; the bundled or previously cached tables stay")
        return out


# ---------------------------------------------------------------------------- fetching


# ---------------------------------------------------------------------------- writing the cache


def _instrument_row(venue: str, symbol: str, rows: list[Row], source: str, as_of: str,
                    inst: Instrument | None) -> dict[str, Any]:
    row: dict[str, Any] = {"symbol": symbol}
    if inst is not None:
        # The bundled specification travels along, so the file reads like a bundled table.
        row.update(kind=inst.kind, base=inst.base, quote=inst.quote, settle=inst.settle,
                   contract_size=inst.contract_size)
        if inst.venue_contract_size is not None:
            row["venue_contract_size"] = inst.venue_contract_size
        row.update(tick_size=inst.tick_size, tier_basis=inst.tier_basis, taker_fee=inst.taker_fee)
    else:
        row["tier_basis"] = _source(venue).default_basis
    row.update(source=source, as_of=as_of, verified=True, source_note=SOURCE_NOTE,
               tier=[{"floor": r["floor"], "cap": r["cap"], "mmr": r["mmr"], "max_leverage": r["max_leverage"]}
                     for r in rows])
    return row


def _read_cache_rows(path: Path) -> list[dict[str, Any]]:
    """The instrument rows already cached for a venue (none if the file is missing or unreadable)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    rows = data.get("instrument", [])
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("symbol"), str)] \
        if isinstance(rows, list) else []


def _source(venue: str) -> TierSource | None:
    """The venue's ``TierSource`` (its feeds/venues/<venue>/tiers.py); None for a venue without one."""
    known = registry.find(venue)
    return known.tiers() if known is not None and known.tiers is not None else None


def _write_venue(cache_dir: Path, venue: str, fetched: Mapping[str, tuple[list[Row], str, str]],
                 catalogue: Catalogue) -> Path:
    path = cache_dir / f"{venue}.toml"
    kept = [r for r in _read_cache_rows(path) if r["symbol"] not in fetched]
    fresh = [_instrument_row(venue, symbol, rows, source, as_of, bundled_instrument(catalogue, venue, symbol))
             for symbol, (rows, source, as_of) in fetched.items()]
    doc = {"venue": {"name": venue, "fetched_at": max(a for _r, _s, a in fetched.values()),
                     "notes": _source(venue).notes},
           "instrument": sorted(kept + fresh, key=lambda r: r["symbol"])}
    header = ("# adlwatch tier cache, written by `adlwatch tiers --refresh` from the venue's public endpoint.\n"
              "# It overrides the bundled tables (engine/data/instruments) for the same symbols; safe to delete.\n")
    write_atomic(path, header + tomli_w.dumps(doc))
    return path


async def _refresh_venue(venue: str, symbols: Sequence[str], cache_dir: Path, base: str, catalogue: Catalogue,
                         *, timeout: float, retries: int, gap_s: float, backoff_initial_s: float,
                         rng: random.Random) -> VenueRefresh:
    result = VenueRefresh(venue)
    if not symbols:
        return VenueRefresh(venue, state="failed", errors=["no symbols to refresh"])
    try:
        async with make_http_client(base, timeout) as client:
            fetcher = Fetcher(client, retries=retries, gap_s=gap_s,
                              backoff_initial_s=backoff_initial_s, rng=rng)
            fetched = await _source(venue).fetch(fetcher, base, symbols, catalogue, result.errors)
        if fetched:
            result.path = _write_venue(cache_dir, venue, fetched, catalogue)
            for symbol, (rows, source, as_of) in sorted(fetched.items()):
                result.instruments.append(CachedInstrument(symbol, len(rows), as_of, source,
                                                           bundled_instrument(catalogue, venue, symbol) is not None))
    except Exception as exc:  # a venue never takes the others (or the app) down with it
        result.errors.append(f"{type(exc).__name__}: {exc}")
    if not result.instruments:
        result.state = "failed"
    elif result.errors:
        result.state = "partial"
    return result


async def refresh_tiers(venues_symbols: Mapping[str, Sequence[str]], cache_path: str | os.PathLike | None = None,
                        *, rest_urls: Mapping[str, str] | None = None, timeout: float = 10,
                        retries: int = 2, request_gap_s: float = 0.2, backoff_initial_s: float = 1.0,
                        catalogue: Catalogue | None = None, rng: random.Random | None = None
                        ) -> TierRefreshReport:
    """Fetch each venue's public tier table for its symbols into ``cache_path/<venue>.toml``.

    Venues run side by side; one venue's requests go one after another, ``request_gap_s`` apart.
    429/418/5xx answers are retried ``retries`` times with jittered backoff (honouring Retry-After).
    A venue that fails is reported and leaves its cache file as it was; never raises.
    """
    cache_dir = Path(cache_path) if cache_path is not None else default_cache_dir()
    catalogue = catalogue or default_catalogue()
    rng = rng or random.Random()
    report = TierRefreshReport(cache_dir)
    known = registry.venues()
    jobs = {}
    for venue, symbols in venues_symbols.items():
        source = _source(venue) if venue in known else None
        if source is not None and source.skip:
            report.venues[venue] = VenueRefresh(venue, state="skipped", detail=source.skip)
            continue
        if source is None or source.fetch is None:
            report.venues[venue] = VenueRefresh(venue, state="failed", errors=[
                f"unknown venue; known: {', '.join(known)}"])
            continue
        base = (rest_urls or {}).get(venue) or known[venue].rest_url
        report.venues[venue] = VenueRefresh(venue)  # keeps the caller's order
        jobs[venue] = _refresh_venue(venue, list(dict.fromkeys(symbols)), cache_dir, base, catalogue,
                                     timeout=timeout, retries=retries, gap_s=request_gap_s,
                                     backoff_initial_s=backoff_initial_s, rng=rng)
    for venue, result in zip(jobs, await asyncio.gather(*jobs.values()), strict=True):
        report.venues[venue] = result
    return report


# ---------------------------------------------------------------------------- reading the cache


def load_catalogue(cache_dir: str | os.PathLike | None = None, *, warnings: list[str] | None = None,
                   bundled: Catalogue | None = None) -> Catalogue:
    """The bundled catalogue with every cached table overriding the bundled tiers of its symbol.

    An override keeps the bundled instrument's specification (kind, contract size, tick, tier
    basis…) and replaces its tiers, ``source``, ``as_of`` and ``verified``. A cached instrument the
    bundle lacks is added only when its row carries the full specification. Problems (a corrupt
    file, a bad row) are appended to ``warnings`` and that file or row is ignored: never raises.
    """
    notes = warnings if warnings is not None else []
    bundled = bundled or default_catalogue()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    overrides: dict[tuple[str, str], Instrument] = {}
    added: list[Instrument] = []
    try:
        files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    except OSError as err:
        notes.append(f"tier cache {folder}: cannot list ({err.strerror}); using the bundled tables")
        files = []
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            venue = data["venue"]["name"]
            rows = data.get("instrument", [])
            if venue not in engine_venue_names() or not isinstance(rows, list):
                raise ValueError(f"unknown venue {venue!r} or no instrument list")
        except Exception as err:  # corrupt, truncated, not TOML, wrong shape
            notes.append(f"tier cache {path}: ignored ({type(err).__name__}: {err}); using the bundled tables")
            continue
        for row in rows:
            try:
                inst = _cached_instrument(venue, row, bundled, data["venue"])
            except Exception as err:
                symbol = row.get("symbol", "?") if isinstance(row, dict) else "?"
                notes.append(f"tier cache {path}: {venue} {symbol} ignored ({err})")
                continue
            if inst is None:
                continue
            if (venue, inst.symbol) in overrides or any(a.symbol == inst.symbol and a.venue == venue for a in added):
                continue
            if bundled_instrument(bundled, venue, inst.symbol) is not None:
                overrides[(venue, inst.symbol)] = inst
            else:
                added.append(inst)
    merged = [overrides.get((i.venue, i.symbol), i) for i in bundled]
    return Catalogue([*merged, *added])


_SPEC_KEYS = ("kind", "base", "quote", "settle", "contract_size", "tick_size", "tier_basis")


def _cached_instrument(venue: str, row: Any, bundled: Catalogue, venue_table: dict) -> Instrument | None:
    if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
        raise ValueError("row without a symbol")
    symbol = row["symbol"]
    tiers = build_tiers(row.get("tier", []), f"{venue}:{symbol}")
    if not tiers:
        raise ValueError("no tiers")
    inst = bundled_instrument(bundled, venue, symbol)
    if inst is None:
        if not all(k in row for k in _SPEC_KEYS):
            return None  # tiers without a contract specification: nothing the engine can use
        return load_table(tomli_w.dumps({"venue": venue_table, "instrument": [row]}))[0]
    basis = row.get("tier_basis", inst.tier_basis)
    if basis != inst.tier_basis:
        raise ValueError(f"tier_basis {basis!r} differs from the bundled {inst.tier_basis!r}")
    if inst.venue_contract_size is not None and row.get("venue_contract_size", inst.venue_contract_size) \
            != inst.venue_contract_size:
        raise ValueError("cached with a different contract value than the bundle; refresh again")
    return replace(inst, tiers=tiers, source=str(row.get("source", "")), as_of=str(row.get("as_of", "")),
                   verified=bool(row.get("verified", False)))


# ---------------------------------------------------------------------------- CLI helpers


def describe(catalogue: Catalogue) -> list[str]:
    """One line per instrument: venue, symbol, tiers, as of, verified, source (``adlwatch tiers``)."""
    order = {v: i for i, v in enumerate(registry.venue_names())}
    instruments = sorted(catalogue, key=lambda i: (order.get(i.venue, len(order)), i.venue, i.symbol))
    return [f"{i.venue:<12} {i.symbol:<16} {len(i.tiers):>3} tier{'s' if len(i.tiers) != 1 else ' '}  as of {i.as_of or '-':<20}  "
            f"{'verified' if i.verified else 'unverified':<10}  {i.source or '-'}"
            for i in instruments]


async def run_refresh(venues: list[str] | None, out: TextIO = sys.stdout, *,
                      cache_dir: str | os.PathLike | None = None, rest_urls: Mapping[str, str] | None = None,
                      timeout: float = 10, **options: Any) -> int:
    """``adlwatch tiers --refresh [VENUE…]``: refresh every bundled symbol of the venues (all four
    by default), print one line per instrument and per failure. Exit status: 0 when every venue
    asked for was refreshed (Binance is skipped, not failed), 1 when some venue failed, 2 for an
    unknown venue name."""
    known = registry.venue_names()
    names = list(venues) if venues else list(known)
    unknown = [v for v in names if v not in known]
    if unknown:
        print(f"adlwatch tiers: unknown venue {unknown[0]!r}; known: {', '.join(known)}", file=out)
        return 2
    catalogue = default_catalogue()
    started = time.monotonic()
    report = await refresh_tiers({v: catalogue.symbols(v) for v in names}, cache_dir, rest_urls=rest_urls,
                                 timeout=timeout, catalogue=catalogue, **options)
    for line in report.lines():
        print(line, file=out)
    print(f"tier cache {report.cache_dir} ({time.monotonic() - started:.1f} s)", file=out)
    return 0 if report.ok else 1
