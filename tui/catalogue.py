"""The tier tables the commands compute with: the bundled ones, with the user's cached ones in their place.

One home shared by the CLI and its commands (check, watch, simulate) and the monitor, so that the
CLI imports the commands and none of them imports the CLI back. Start-up never waits on the
network for the tables: the cache serves at once, a venue whose cache is over a day old (or
missing) is refreshed in the background (``BackgroundRefresh`` for the one-shot commands,
``refresh_into`` for ``watch`` and the monitor), and only a portfolio symbol that no table knows is
looked up before the portfolio is read (``startup_catalogue``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from adlwatch.engine.instruments import Catalogue
from adlwatch.engine.portfolio import Portfolio

REFRESH_WAIT_S = 2.0  # check/simulate wait at most this long (from their start) for a background refresh
LOOKUP_TIMEOUT_S = 10.0  # an unknown symbol's lookup, before the portfolio is refused


def user_catalogue(err: TextIO | None = None, *, cache_dir: Any = None,
                   venues: Sequence[str] | None = None) -> Catalogue:
    """The bundled tier tables, with the cached ones (fetched universes, looked-up contracts,
    ``adlwatch tiers --refresh``) in their place.

    A broken cache file is skipped with one warning line on stderr; the other tables stay. ``venues``:
    only these venues' cache files are read (the rest keep their bundled tables).
    """
    from adlwatch.feeds.tiers import load_catalogue

    warnings: list[str] = []
    catalogue = load_catalogue(cache_dir, warnings=warnings, venues=venues)
    for line in warnings:
        print(f"adlwatch: tier cache: {line}", file=err if err is not None else sys.stderr)
    return catalogue


def portfolio_pairs(path: Path | None) -> list[tuple[str, str]]:
    """(venue, symbol) of every position the file names; none when it does not read (reading the
    portfolio afterwards says what is wrong with it)."""
    if path is None:
        return []
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        out = []
        for account in data.get("account", []):
            venue = account.get("venue")
            for position in account.get("position", []) if isinstance(account.get("position"), list) else []:
                symbol = position.get("symbol") if isinstance(position, dict) else None
                if isinstance(venue, str) and isinstance(symbol, str):
                    out.append((venue, symbol))
        return out
    except Exception:  # missing, not TOML, wrong shape: the portfolio reader names the problem
        return []


def portfolio_venues(path: Path | None) -> list[str]:
    """The venues of the file's accounts (followed ones too), in the file's order."""
    if path is None:
        return []
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return list(dict.fromkeys(a["venue"] for a in data.get("account", [])
                                  if isinstance(a, dict) and isinstance(a.get("venue"), str)))
    except Exception:
        return []


def with_lookups(catalogue: Catalogue, pairs: Iterable[tuple[str, str]], *, offline: bool,
                 err: TextIO | None = None, cache_dir: Any = None) -> Catalogue:
    """``catalogue`` with the contracts of ``pairs`` that no table knows looked up at their venue
    (online only; found ones are cached too). What stays unknown is refused later by the reader,
    naming the closest known spellings."""
    known_venues = set(catalogue.venues())
    unknown = [(v, s) for v, s in dict.fromkeys(pairs) if v in known_venues and (v, s) not in catalogue]
    if not unknown or offline:
        return catalogue
    from adlwatch.feeds.tiers import lookup_symbols

    async def run():
        return await asyncio.wait_for(lookup_symbols(unknown, cache_dir), LOOKUP_TIMEOUT_S)

    try:
        report = asyncio.run(run())
    except TimeoutError:
        print(f"adlwatch: looking up {', '.join(f'{v} {s}' for v, s in unknown)} took over "
              f"{LOOKUP_TIMEOUT_S:g} s; not found", file=err if err is not None else sys.stderr)
        return catalogue
    return catalogue.with_instruments(report.found) if report.found else catalogue


def startup_catalogue(path: Path | None, *, offline: bool, extra: Sequence[tuple[str, str]] = (),
                      err: TextIO | None = None, cache_dir: Any = None, every_venue: bool = False) -> Catalogue:
    """The catalogue a command starts with: the cache at once, plus (online) any contract of the
    portfolio file (and ``extra``) that no table knows, looked up at its venue. Only the cache files
    of the venues the file (and ``extra``) names are read, unless ``every_venue`` (the monitor, whose
    add-position form offers every venue's contracts)."""
    pairs = [*portfolio_pairs(path), *extra]
    venues = None if every_venue else [*portfolio_venues(path), *(v for v, _ in extra)]
    catalogue = user_catalogue(err, cache_dir=cache_dir, venues=venues)
    return with_lookups(catalogue, pairs, offline=offline, err=err, cache_dir=cache_dir)


def rebind(portfolio: Portfolio, catalogue: Catalogue) -> Portfolio:
    """The same portfolio on another catalogue: each position's contract (and its tiers) taken from
    ``catalogue`` where it knows it (a portfolio ``mmr`` override stays), the rest as they were."""
    accounts = []
    for account in portfolio.accounts:
        positions = []
        for p in account.positions:
            inst = catalogue.find(p.venue, p.symbol)
            if inst is None:
                positions.append(p)
                continue
            if p.mmr is not None:
                inst = inst.with_override(p.mmr, p.maint_amount or 0.0)
            positions.append(replace(p, instrument=inst))
        accounts.append(replace(account, positions=tuple(positions)))
    return replace(portfolio, accounts=tuple(accounts), catalogue=catalogue)


@dataclass(frozen=True)
class Refreshed:
    """A background refresh that wrote something: the new catalogue, and what it says."""

    catalogue: Catalogue
    venues: tuple[str, ...]  # the venues whose cache was rewritten
    lines: tuple[str, ...]  # the refresh report's lines

    @property
    def notice(self) -> str:
        return f"tier tables refreshed: {', '.join(self.venues)} (cache updated)"


async def refresh_stale(venues: Sequence[str], *, cache_dir: Any = None, **options: Any) -> Refreshed | None:
    """Refresh the venues whose cache is over a day old or missing; the reloaded catalogue when some
    venue's cache was rewritten, else None. Never raises (a failure leaves the cache as it was)."""
    from adlwatch.feeds.tiers import load_catalogue, refresh_catalogue, stale_venues

    try:
        stale = stale_venues(venues, cache_dir)
        if not stale:
            return None
        report = await refresh_catalogue(stale, cache_dir, **options)
        written = tuple(v.venue for v in report.venues.values() if v.path is not None)
        if not written:
            return None
        catalogue = await asyncio.to_thread(load_catalogue, cache_dir)
        return Refreshed(catalogue, written, tuple(report.lines()))
    except asyncio.CancelledError:
        raise
    except Exception:  # the cache stays as it was; the tables in use too
        return None


async def refresh_into(monitor: Any, venues: Sequence[str], **options: Any) -> Refreshed | None:
    """``refresh_stale``, and when it lands the monitor's portfolio rebuilt on the new catalogue
    (``watch`` runs it as a task, the app in a worker)."""
    landed = await refresh_stale(venues, **options)
    if landed is not None:
        monitor.set_portfolio(rebind(monitor.portfolio, landed.catalogue))
    return landed


class BackgroundRefresh:
    """``refresh_stale`` in a thread of its own, for the one-shot commands (``check``, ``simulate``):
    they fetch their marks meanwhile and take what landed within a short bound."""

    def __init__(self, venues: Sequence[str], *, cache_dir: Any = None, **options: Any) -> None:
        self._venues = list(venues)
        self._options = dict(options, cache_dir=cache_dir)
        self._done = threading.Event()
        self._result: Refreshed | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._run, name="adlwatch-tier-refresh", daemon=True)

    @classmethod
    def start(cls, venues: Sequence[str], *, offline: bool, cache_dir: Any = None,
              **options: Any) -> BackgroundRefresh | None:
        """A running refresh of the stale venues among ``venues``; None offline or when none is stale."""
        if offline or not venues:
            return None
        from adlwatch.feeds.tiers import stale_venues

        stale = stale_venues(venues, cache_dir)
        if not stale:
            return None
        refresh = cls(stale, cache_dir=cache_dir, **options)
        refresh._thread.start()
        return refresh

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._result = await refresh_stale(self._venues, **self._options)

        try:
            asyncio.run(main())
        except BaseException:  # cancelled at the bound, or anything else: nothing landed
            self._result = None
        finally:
            self._done.set()

    def wait(self, timeout: float) -> Refreshed | None:
        """What landed within ``timeout`` seconds (None: nothing yet, or nothing new); a refresh still
        running then is cancelled (its cache writes are atomic: nothing half-written stays)."""
        if not self._done.wait(max(timeout, 0.0)):
            self.cancel()
            return None
        return self._result

    def cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not self._done.is_set():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass
        self._done.wait(0.5)
