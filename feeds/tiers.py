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
import hashlib
import os
import random
import sys
import time
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import msgspec
import platformdirs
import tomlkit

from adlwatch.engine.instruments import (
    Catalogue,
    Instrument,
    TableFile,
    build_tiers,
    decode_table,
    default_catalogue,
    encode_table,
    load_table,
    table_rows,
)
from adlwatch.engine.venues import venue_names as engine_venue_names
from adlwatch.feeds import registry
from adlwatch.feeds.files import write_atomic

if TYPE_CHECKING:  # the HTTP side (httpx) is imported when something is fetched: reading the cache stays light
    from adlwatch.feeds.tier_rows import Row, TierSource

APP_NAME = "adlwatch"
SOURCE_NOTE = "fetched from the venue's public endpoint"
UNIVERSE_MAX_AGE_S = 24 * 3600.0  # a venue's cached universe older than this is refreshed (in the background)


def _find(catalogue: Catalogue, venue: str, symbol: str) -> Instrument | None:
    return catalogue.find(venue, symbol)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's tier cache; another folder while any venue's REST URL is pointed elsewhere
    (``ADLWATCH_<VENUE>_REST_URL``: the emulator, a testnet), one per set of URLs, so that tables
    served there never stand in for the venue's own."""
    root = Path(platformdirs.user_cache_dir(APP_NAME))
    env = os.environ if environ is None else environ
    overrides = sorted((name, value) for name, value in env.items()
                       if name.startswith("ADLWATCH_") and name.endswith("_REST_URL") and value)
    if not overrides:
        return root / "tiers"
    digest = hashlib.sha256(repr(overrides).encode()).hexdigest()[:12]
    return root / "tiers-elsewhere" / digest


def universe_path(cache_dir: Path, venue: str) -> Path:
    """A venue's whole fetched universe (``refresh_catalogue``), in the engine's JSON table format."""
    return cache_dir / f"{venue}.json"


def lookups_path(cache_dir: Path, venue: str) -> Path:
    """Contracts looked up one by one (a portfolio symbol no table knew), same format."""
    return cache_dir / f"{venue}.lookups.json"


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
    universe: bool = False  # the whole universe was fetched (one summary line, not one per contract)
    count: int = 0  # contracts fetched (universe)
    delisted: int = 0
    only_isolated: int = 0
    as_of: str = ""

    @property
    def ok(self) -> bool:
        # A universe with some contracts left out is still a refreshed universe (they are named).
        return self.state in ("ok", "skipped") or (self.universe and self.state == "partial")


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
            if venue.universe and venue.count:
                extra = [f"{n} {what}" for n, what in ((venue.delisted, "delisted"),
                                                       (venue.only_isolated, "isolated-only")) if n]
                more = f" ({', '.join(extra)})" if extra else ""
                out.append(f"{venue.venue}: {venue.count} contracts{more}, as of {venue.as_of}")
            for inst in venue.instruments:
                note = "" if inst.in_bundle else " (not in the bundled catalogue: cached, not used)"
                plural = "s" if inst.tiers != 1 else ""
                out.append(f"{venue.venue} {inst.symbol}: {inst.tiers} tier{plural}, as of {inst.as_of}{note}")
            for error in venue.errors:
                out.append(f"{venue.venue}: {'left out' if venue.universe and venue.path else 'failed'}: {error}")
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
    fresh = [_instrument_row(venue, symbol, rows, source, as_of, _find(catalogue, venue, symbol))
             for symbol, (rows, source, as_of) in fetched.items()]
    doc = {"venue": {"name": venue, "fetched_at": max(a for _r, _s, a in fetched.values()),
                     "notes": _source(venue).notes},
           "instrument": sorted(kept + fresh, key=lambda r: r["symbol"])}
    header = ("# adlwatch tier cache, written by `adlwatch tiers --refresh` from the venue's public endpoint.\n"
              "# It overrides the bundled tables (engine/data/instruments) for the same symbols; safe to delete.\n")
    write_atomic(path, header + tomlkit.dumps(doc))
    return path


async def _refresh_venue(venue: str, symbols: Sequence[str], cache_dir: Path, base: str, catalogue: Catalogue,
                         *, timeout: float, retries: int, gap_s: float, backoff_initial_s: float,
                         rng: random.Random) -> VenueRefresh:
    from adlwatch.feeds.tier_rows import Fetcher
    from adlwatch.feeds.transport import make_http_client

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
                                                           _find(catalogue, venue, symbol) is not None))
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


# ---------------------------------------------------------------------------- every perpetual, cached whole


def rest_base(venue: str, rest_urls: Mapping[str, str] | None = None) -> str:
    """Where a venue's public REST API is: the caller's URL, ``ADLWATCH_<VENUE>_REST_URL``, or the venue's."""
    from adlwatch.feeds.transport import url_override

    known = registry.find(venue)
    return ((rest_urls or {}).get(venue) or url_override(venue, "REST")
            or (known.rest_url if known is not None else ""))


def _most_common(values: list[Any]) -> Any:
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.__getitem__)


def universe_table(venue: str, instruments: Sequence[Instrument], as_of: str, notes: str = "") -> TableFile:
    """The venue's table: the provenance most contracts share is the table's, the rest stays per row."""
    source = _most_common([i.source for i in instruments]) if instruments else ""
    fee = _most_common([i.taker_fee for i in instruments]) if instruments else 0.0
    rows = table_rows(sorted(instruments, key=lambda i: i.symbol))
    for row, inst in zip(rows, sorted(instruments, key=lambda i: i.symbol), strict=True):
        if inst.source == source:
            row.source = None
        if inst.as_of == as_of:
            row.as_of = None
        if inst.verified:
            row.verified = None
        if inst.taker_fee == fee:
            row.taker_fee = None
    return TableFile(venue=venue, source=source, as_of=as_of, verified=True, taker_fee=fee, instruments=rows,
                     notes=notes)


def _read_table(path: Path) -> list[Instrument]:
    """The instruments of a cached JSON table; none when missing or unreadable (the caller rewrites it)."""
    try:
        return decode_table(path.read_bytes(), str(path))
    except (OSError, ValueError):
        return []


def _write_table(path: Path, venue: str, instruments: Sequence[Instrument], as_of: str, notes: str) -> None:
    write_atomic(path, encode_table(universe_table(venue, instruments, as_of, notes)))


async def _fetch_universe(venue: str, cache_dir: Path, base: str, *, timeout: float, retries: int, gap_s: float,
                          backoff_initial_s: float, rng: random.Random) -> tuple[VenueRefresh, list[Instrument]]:
    """Fetch and cache one venue's universe. A complete fetch replaces the cached universe; one with
    failed pages keeps the previously cached contracts it could not read again."""
    from adlwatch.feeds.tier_rows import Fetcher, now_iso
    from adlwatch.feeds.transport import make_http_client

    source = _source(venue)
    result = VenueRefresh(venue, universe=True)
    as_of = now_iso()
    fresh: list[Instrument] = []
    try:
        async with make_http_client(base, timeout) as client:
            fetcher = Fetcher(client, retries=retries, gap_s=gap_s, backoff_initial_s=backoff_initial_s, rng=rng)
            fetched = await source.fetch_universe(fetcher, base, result.errors)
        fresh = list({i.symbol: i for i in fetched if isinstance(i, Instrument) and i.venue == venue}.values())
        if fresh:
            path = universe_path(cache_dir, venue)
            kept = [i for i in _read_table(path) if i.symbol not in {f.symbol for f in fresh}] if result.errors else []
            _write_table(path, venue, [*fresh, *kept], as_of, source.notes)
            result.path = path
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a venue never takes the others (or the app) down with it
        result.errors.append(f"{type(exc).__name__}: {exc}")
    result.count = len(fresh)
    result.delisted = sum(i.status == "delisted" for i in fresh)
    result.only_isolated = sum(i.only_isolated for i in fresh)
    result.as_of = as_of
    result.state = "failed" if result.path is None else "partial" if result.errors else "ok"
    return result, fresh


async def refresh_catalogue(venues: Sequence[str] | None = None, cache_path: str | os.PathLike | None = None, *,
                            rest_urls: Mapping[str, str] | None = None, timeout: float = 10, retries: int = 2,
                            request_gap_s: float = 0.2, backoff_initial_s: float = 1.0,
                            rng: random.Random | None = None) -> TierRefreshReport:
    """Refresh each venue's tables into the cache (all known venues by default), side by side.

    A venue whose ``TierSource`` has ``fetch_universe`` has every perpetual it lists fetched and
    written to ``<venue>.json`` (the engine's JSON table format, with ``as_of`` the fetch time and
    ``source`` the endpoints). A venue with only ``fetch`` has today's per-symbol refresh of its
    bundled symbols (``refresh_tiers``, TOML); one with ``skip`` is reported skipped. Never raises.
    """
    cache_dir = Path(cache_path) if cache_path is not None else default_cache_dir()
    rng = rng or random.Random()
    report = TierRefreshReport(cache_dir)
    names = list(dict.fromkeys(venues if venues is not None else registry.venue_names()))
    jobs: dict[str, Any] = {}
    per_symbol: list[str] = []
    for venue in names:
        source = _source(venue)
        if source is None:
            report.venues[venue] = VenueRefresh(venue, state="failed", errors=[
                f"unknown venue; known: {', '.join(registry.venue_names())}"])
        elif source.fetch_universe is not None:
            report.venues[venue] = VenueRefresh(venue, universe=True)
            jobs[venue] = _fetch_universe(venue, cache_dir, rest_base(venue, rest_urls), timeout=timeout,
                                          retries=retries, gap_s=request_gap_s,
                                          backoff_initial_s=backoff_initial_s, rng=rng)
        elif source.fetch is not None and not source.skip:
            report.venues[venue] = VenueRefresh(venue)
            per_symbol.append(venue)
        else:
            report.venues[venue] = VenueRefresh(venue, state="skipped", detail=source.skip or "no tier source")
    if per_symbol:
        catalogue = default_catalogue()
        jobs["\0per-symbol"] = refresh_tiers({v: catalogue.symbols(v) for v in per_symbol}, cache_dir,
                                             rest_urls={v: rest_base(v, rest_urls) for v in per_symbol},
                                             timeout=timeout, retries=retries, request_gap_s=request_gap_s,
                                             backoff_initial_s=backoff_initial_s, catalogue=catalogue, rng=rng)
    for key, done in zip(jobs, await asyncio.gather(*jobs.values()), strict=True):
        if isinstance(done, TierRefreshReport):
            report.venues.update(done.venues)
        else:
            report.venues[key] = done[0]
    return report


def _age_s(as_of: str, now: float) -> float | None:
    try:
        stamp = datetime.fromisoformat(as_of)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return now - stamp.timestamp()


class _TableHead(msgspec.Struct):
    """A cached table's provenance, read without decoding its contracts."""

    venue: str
    source: str
    as_of: str


_head_decoder = msgspec.json.Decoder(_TableHead)


def cache_as_of(venue: str, cache_path: str | os.PathLike | None = None) -> str | None:
    """When the venue's cache was fetched (ISO), or None: no cache, or unreadable."""
    cache_dir = Path(cache_path) if cache_path is not None else default_cache_dir()
    source = _source(venue)
    try:
        if source is not None and source.fetch_universe is None and source.fetch is not None:
            data = tomllib.loads((cache_dir / f"{venue}.toml").read_text(encoding="utf-8"))
            return str(data["venue"]["fetched_at"])
        return _head_decoder.decode(universe_path(cache_dir, venue).read_bytes()).as_of
    except Exception:  # missing, corrupt, old: all mean "fetch it again"
        return None


def stale_venues(venues: Sequence[str], cache_path: str | os.PathLike | None = None, *,
                 now: float | None = None, max_age_s: float = UNIVERSE_MAX_AGE_S) -> list[str]:
    """The venues among ``venues`` that can be refreshed and whose cache is missing, unreadable or
    older than ``max_age_s``."""
    now = time.time() if now is None else now
    out = []
    for venue in dict.fromkeys(venues):
        source = _source(venue)
        if source is None or (source.fetch_universe is None and (source.fetch is None or source.skip)):
            continue
        as_of = cache_as_of(venue, cache_path)
        age = _age_s(as_of, now) if as_of else None
        if age is None or age > max_age_s:
            out.append(venue)
    return out


@dataclass
class LookupReport:
    found: list[Instrument] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def lookup_symbols(pairs: Sequence[tuple[str, str]], cache_path: str | os.PathLike | None = None, *,
                         rest_urls: Mapping[str, str] | None = None, timeout: float = 10, retries: int = 1,
                         request_gap_s: float = 0.05, backoff_initial_s: float = 0.5,
                         rng: random.Random | None = None) -> LookupReport:
    """Ask the venues for contracts no table knows (``TierSource.lookup``, else the whole universe).

    What is found is cached (``<venue>.lookups.json``, or the refreshed universe) and returned; what
    the venue does not list is in ``missing``. Never raises."""
    cache_dir = Path(cache_path) if cache_path is not None else default_cache_dir()
    rng = rng or random.Random()
    report = LookupReport()
    by_venue: dict[str, list[str]] = {}
    for venue, symbol in pairs:
        by_venue.setdefault(venue, [])
        if symbol not in by_venue[venue]:
            by_venue[venue].append(symbol)

    from adlwatch.feeds.tier_rows import Fetcher, now_iso
    from adlwatch.feeds.transport import make_http_client

    async def one_venue(venue: str, symbols: list[str]) -> None:
        source = _source(venue)
        base = rest_base(venue, rest_urls)
        if source is None or (source.lookup is None and source.fetch_universe is None):
            report.missing.extend((venue, s) for s in symbols)
            return
        if source.lookup is None:
            result, fresh = await _fetch_universe(venue, cache_dir, base, timeout=timeout, retries=retries,
                                                  gap_s=request_gap_s, backoff_initial_s=backoff_initial_s, rng=rng)
            report.errors.extend(f"{venue}: {e}" for e in result.errors)
            listed = {i.symbol: i for i in fresh}
            for symbol in symbols:
                if symbol in listed:
                    report.found.append(listed[symbol])
                else:
                    report.missing.append((venue, symbol))
            return
        found: list[Instrument] = []
        errors: list[str] = []
        try:
            async with make_http_client(base, timeout) as client:
                fetcher = Fetcher(client, retries=retries, gap_s=request_gap_s,
                                  backoff_initial_s=backoff_initial_s, rng=rng)
                for symbol in symbols:
                    inst = await source.lookup(fetcher, base, symbol, errors)
                    if isinstance(inst, Instrument) and inst.venue == venue and inst.symbol == symbol:
                        found.append(inst)
                    else:
                        report.missing.append((venue, symbol))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            report.missing.extend((venue, s) for s in symbols if s not in {f.symbol for f in found}
                                  and (venue, s) not in report.missing)
        report.errors.extend(f"{venue}: {e}" for e in errors)
        if found:
            path = lookups_path(cache_dir, venue)
            kept = [i for i in _read_table(path) if i.symbol not in {f.symbol for f in found}]
            try:
                _write_table(path, venue, [*kept, *found], now_iso(), source.notes)
            except OSError as err:
                report.errors.append(f"{venue}: cannot write {path} ({err.strerror})")
            report.found.extend(found)

    await asyncio.gather(*(one_venue(v, s) for v, s in by_venue.items()))
    return report


# ---------------------------------------------------------------------------- reading the cache


def load_catalogue(cache_dir: str | os.PathLike | None = None, *, warnings: list[str] | None = None,
                   bundled: Catalogue | None = None, origins: dict[tuple[str, str], str] | None = None,
                   venues: Collection[str] | None = None) -> Catalogue:
    """The bundled catalogue, then every cached table over it.

    A venue's cached universe (``<venue>.json``) and its looked-up contracts (``<venue>.lookups.json``)
    replace the bundled contracts of the same symbol and add the rest (where both cache files hold a
    symbol, the later ``as_of`` wins). A per-symbol tier cache (``<venue>.toml``, also left by earlier
    versions) then overrides the tiers of its symbols, keeping the contract's specification, where it
    is newer than what it overrides. Problems (a corrupt file, a bad row) are appended to ``warnings``
    (one line each) and that file or row is ignored: never raises. ``origins`` receives the cache
    file of every contract that came from one. ``venues``: read only these venues' cache files (a
    command that holds two venues does not parse the other universes; the bundled tables stay whole).
    """
    notes = warnings if warnings is not None else []
    bundled = bundled or default_catalogue()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        files = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError as err:
        notes.append(f"tier cache {folder}: cannot list ({err.strerror}); using the bundled tables")
        files = []
    if venues is not None:  # <venue>.json, <venue>.lookups.json, <venue>.toml
        files = [p for p in files if p.name.split(".", 1)[0] in venues]
    cached: dict[tuple[str, str], Instrument] = {}
    where: dict[tuple[str, str], str] = {}
    engine_venues = engine_venue_names()
    for path in (p for p in files if p.suffix == ".json"):
        try:
            instruments = decode_table(path.read_bytes(), str(path))
            unknown = {i.venue for i in instruments} - set(engine_venues)
            if unknown:
                raise ValueError(f"unknown venue {sorted(unknown)[0]!r}")
        except Exception as err:  # corrupt, truncated, not JSON, wrong shape
            notes.append(f"tier cache {path}: ignored ({type(err).__name__}: {err}"[:300] + "); using the other tables")
            continue
        for inst in instruments:
            key = (inst.venue, inst.symbol)
            if key not in cached or inst.as_of >= cached[key].as_of:
                cached[key] = inst
                where[key] = str(path)
    base = bundled.with_instruments(cached.values()) if cached else bundled
    overrides: dict[tuple[str, str], Instrument] = {}
    added: list[Instrument] = []
    for path in (p for p in files if p.suffix == ".toml"):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            venue = data["venue"]["name"]
            rows = data.get("instrument", [])
            if venue not in engine_venues or not isinstance(rows, list):
                raise ValueError(f"unknown venue {venue!r} or no instrument list")
        except Exception as err:  # corrupt, truncated, not TOML, wrong shape
            notes.append(f"tier cache {path}: ignored ({type(err).__name__}: {err}); using the bundled tables")
            continue
        for row in rows:
            try:
                inst = _cached_instrument(venue, row, base, data["venue"])
            except Exception as err:
                symbol = row.get("symbol", "?") if isinstance(row, dict) else "?"
                notes.append(f"tier cache {path}: {venue} {symbol} ignored ({err})")
                continue
            if inst is None:
                continue
            key = (venue, inst.symbol)
            if key in overrides or any(a.symbol == inst.symbol and a.venue == venue for a in added):
                continue
            if key in cached and inst.as_of <= cached[key].as_of:
                continue  # the fetched universe is newer
            if _find(base, venue, inst.symbol) is not None:
                overrides[key] = inst
            else:
                added.append(inst)
            where[key] = str(path)
    if origins is not None:
        origins.update(where)
    if not overrides and not added:
        return base
    merged = [overrides.get((i.venue, i.symbol), i) for i in base]
    return Catalogue([*merged, *added])


_SPEC_KEYS = ("kind", "base", "quote", "settle", "contract_size", "tick_size", "tier_basis")


def _cached_instrument(venue: str, row: Any, bundled: Catalogue, venue_table: dict) -> Instrument | None:
    if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
        raise ValueError("row without a symbol")
    symbol = row["symbol"]
    tiers = build_tiers(row.get("tier", []), f"{venue}:{symbol}")
    if not tiers:
        raise ValueError("no tiers")
    inst = _find(bundled, venue, symbol)
    if inst is None:
        if not all(k in row for k in _SPEC_KEYS):
            return None  # tiers without a contract specification: nothing the engine can use
        return load_table(tomlkit.dumps({"venue": venue_table, "instrument": [row]}))[0]
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


def bundled_origins() -> dict[tuple[str, str], str]:
    """The bundled file of every bundled contract (``bundled snapshot binance_usdm.json.gz``, ``bundled
    table bybit.toml``), for ``adlwatch tiers``: the same files ``default_catalogue`` reads."""
    from adlwatch.engine.instruments import bundled_table_files

    out: dict[tuple[str, str], str] = {}
    for name, data in bundled_table_files():
        try:
            if name.endswith(".toml"):
                instruments, what = load_table(data.decode("utf-8")), f"bundled table {name}"
            else:
                instruments, what = decode_table(data, name), f"bundled snapshot {name}"
        except Exception:  # default_catalogue would have said so already
            continue
        for inst in instruments:
            out[(inst.venue, inst.symbol)] = what
    return out


def _age_days(as_of: str, now: float) -> str:
    age = _age_s(as_of, now)
    return "age ?" if age is None else f"{max(age, 0.0) / 86400:.1f} days old"


def summary(catalogue: Catalogue, origins: Mapping[tuple[str, str], str], *, now: float | None = None,
            fetched: Sequence[str] = (), bundled: Mapping[tuple[str, str], str] | None = None) -> list[str]:
    """Per venue: how many contracts are known, from where (the bundled tables, the cache, or fetched
    just now for the venues in ``fetched``), as of when and how old (``adlwatch tiers``). ``origins``:
    the cache file of each cached contract (``load_catalogue``); ``bundled``: the bundled file of the
    others (``bundled_origins``), else they are "bundled tables"."""
    now = time.time() if now is None else now
    order = {v: i for i, v in enumerate(registry.venue_names())}
    groups: dict[tuple[str, str], list[Instrument]] = {}
    for inst in catalogue:
        key = (inst.venue, inst.symbol)
        origin = origins.get(key)
        if origin is None:
            label = (bundled or {}).get(key, "bundled")
        else:
            label = f"{'fetched' if inst.venue in fetched else 'cache'} {origin}"
        groups.setdefault((inst.venue, label), []).append(inst)
    totals: dict[str, int] = {}
    for (venue, _label), items in groups.items():
        totals[venue] = totals.get(venue, 0) + len(items)
    out: list[str] = []
    for venue in sorted(totals, key=lambda v: (order.get(v, len(order)), v)):
        out.append(f"{venue}: {totals[venue]} contracts")
        for (v, label), items in sorted(groups.items(), key=lambda kv: kv[0][1]):
            if v != venue:
                continue
            dates = sorted({i.as_of for i in items if _age_s(i.as_of, now) is not None})
            oldest, newest = (dates[0], dates[-1]) if dates else ("", "")
            when = ("undated" if not dates else f"as of {newest}" if oldest == newest
                    else f"as of {oldest} .. {newest}")
            age = _age_days(oldest, now) if oldest else "age ?"
            unverified = sum(not i.verified for i in items)
            undated = sum(_age_s(i.as_of, now) is None for i in items)
            flag = (f", {unverified} unverified" if unverified else "") + (f", {undated} undated" if dates and undated
                                                                          else "")
            if label == "bundled":
                what = "bundled tables (engine/data/instruments)"
            elif label.startswith("bundled"):
                what = label
            else:
                what = label.replace(" ", ": ", 1)
            out.append(f"  {len(items):>5} {what}, {when} ({age}{flag})")
    return out


async def run_refresh(venues: list[str] | None, out: TextIO = sys.stdout, *,
                      cache_dir: str | os.PathLike | None = None, rest_urls: Mapping[str, str] | None = None,
                      timeout: float = 10, **options: Any) -> int:
    """``adlwatch tiers --refresh [VENUE…]``: refresh the venues (all by default): the whole universe
    where the venue's source can list it, else every bundled symbol; print one line per venue (per
    instrument for a per-symbol refresh) and per failure. Exit status: 0 when every venue asked for
    was refreshed (a venue without a public source is skipped, not failed), 1 when some venue failed,
    2 for an unknown venue name."""
    known = registry.venue_names()
    names = list(venues) if venues else list(known)
    unknown = [v for v in names if v not in known]
    if unknown:
        print(f"adlwatch tiers: unknown venue {unknown[0]!r}; known: {', '.join(known)}", file=out)
        return 2
    started = time.monotonic()
    report = await refresh_catalogue(names, cache_dir, rest_urls=rest_urls, timeout=timeout, **options)
    for line in report.lines():
        print(line, file=out)
    print(f"tier cache {report.cache_dir} ({time.monotonic() - started:.1f} s)", file=out)
    return 0 if report.ok else 1
