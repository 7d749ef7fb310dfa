"""``adlwatch watch``: the live engine without the screen, one line per alert.

Feeds and followed accounts run as in the monitor (``feeds.live.LiveSource``); every event goes into
the same ``engine.monitor.Monitor`` the screen drives; at most ten times a second its alert rules run on
the latest snapshot and each alert that fires or clears is one line on stdout (with ``--json``
one JSON object), flushed at once so that a pipe sees it. ``--snapshots S`` adds every position's
figures every S seconds (the fields of ``check --json``); ``--journal DIR`` (or the portfolio file's
``[journal] folder``) writes the monitor's states once a second (feeds/journal.py). A feed problem
(unreachable venue, rejected key) is one line on stderr, naming what is still watched, and watching
goes on.

Exit codes as for ``check``: 2 bad input, 1 when a venue (or a followed account) could not be reached
at all during the run (it wins: part of the portfolio went unwatched), 3 when an alert fired, else 0;
``--duration`` or Ctrl-C (SIGINT, SIGTERM) ends the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import FIRED, GOOD_FEED_STATES, Alert
from adlwatch.engine.errors import InputError
from adlwatch.engine.events import FeedStatus
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.snapshot import RiskSnapshot
from adlwatch.tui.check import EXIT_ALERT, EXIT_FAILURE, EXIT_OK, render_table, row

log = logging.getLogger(__name__)

EVALUATE_HZ = 10  # alerts are evaluated at most this often, from the latest snapshot

_JSON = dict(separators=(",", ":"), allow_nan=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portfolio", type=Path, help="portfolio TOML file (default: the user config folder)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--snapshots", type=float, metavar="SECONDS",
                        help="also print every position's figures every SECONDS")
    parser.add_argument("--alert-below", type=float, metavar="PCT",
                        help="liquidation-distance alert for positions without their own alert_below_pct "
                             "(default: the portfolio's [alerts] distance_below_pct, else 5)")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--journal", metavar="DIR",
                        help="write the monitor's states once a second as Parquet files, one folder per UTC day "
                             "(default: the portfolio file's [journal] folder, if any)")


def run_watch(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None,
              clock: Callable[[], float] = time.time) -> int:
    """Watch until ``--duration`` passes or Ctrl-C; the exit code as in the module docstring."""
    from adlwatch.feeds import portfolio_store
    from adlwatch.tui.catalogue import portfolio_venues, refresh_into, startup_catalogue

    snapshots_s = _positive(args.snapshots, "--snapshots")
    duration_s = _positive(args.duration, "--duration")
    if args.alert_below is not None and not math.isfinite(args.alert_below):
        raise InputError("must be a finite percentage", field="--alert-below", value=args.alert_below)
    path = args.portfolio or portfolio_store.default_path()
    if args.portfolio is None and not path.exists():
        raise InputError("no portfolio file yet: create one (see README.md, 'The portfolio file') or pass --portfolio",
                         file=str(path))
    # The cached tier tables travel with it (a symbol no table knows looked up first); a venue whose cache
    # is over a day old is refreshed by a task beside the feeds, and the portfolio rebuilt when it lands.
    portfolio = portfolio_store.load(path, startup_catalogue(path, offline=False, err=err))
    if not portfolio.symbols() and not any(a.followed for a in portfolio.accounts):
        raise InputError("holds no position and follows no account: nothing to watch", file=str(path))
    try:
        rules = watch_rules(portfolio, args.alert_below)
    except InputError as error:
        raise error.with_file(str(path)) from None
    from adlwatch.feeds.journal import open_journal

    journal = open_journal(getattr(args, "journal", None), portfolio, path)
    watch = Watch(portfolio, rules, as_json=args.json, snapshots_s=snapshots_s, out=out, err=err, clock=clock,
                  journal=journal)
    try:
        from adlwatch.feeds.live import LiveSource

        venues = portfolio_venues(path)
        return asyncio.run(watch.run(LiveSource.for_portfolio(portfolio), duration_s,
                                     tiers_refresh=lambda monitor: refresh_into(monitor, venues)))
    except KeyboardInterrupt:  # where the loop could not take the signal itself
        return watch.exit_code()
    finally:
        if journal is not None:
            journal.close()
        if watch.pipe_closed:
            _quiet(watch.out)


def _quiet(stream: TextIO) -> None:
    """The reader of our pipe left: point the stream at /dev/null so the exit flush stays silent."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _positive(value: float | None, name: str) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError("must be a positive number of seconds", field=name, value=value)
    return value


def watch_rules(portfolio: Portfolio, alert_below: float | None) -> AlertRules:
    """The portfolio's ``[alerts]`` table, with ``--alert-below`` as the global distance threshold."""
    rules = AlertRules.from_data(portfolio.alerts)
    return rules if alert_below is None else replace(rules, distance_below_pct=alert_below)


class Watch:
    """One run: the monitor it drives, and what it has told (and was reached) for the stderr lines and
    the exit code."""

    def __init__(self, portfolio: Portfolio, rules: AlertRules, *, as_json: bool = False,
                 snapshots_s: float | None = None, out: TextIO | None = None, err: TextIO | None = None,
                 clock: Callable[[], float] = time.time, journal: Any = None) -> None:
        """``journal``: a ``feeds.journal.Journal`` that gets the monitor's state once a second."""
        # A followed account's contracts get the tiers of the catalogue the portfolio was read with.
        self.monitor = Monitor(portfolio, rules=rules)
        self.as_json = as_json
        self.snapshots_s = snapshots_s
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.clock = clock
        self.followed = {(a.venue, a.ref) for a in portfolio.accounts if a.followed}
        self.alerts_fired = 0
        self.reached: set[str] = set()  # venues that delivered something
        self.reported: set[tuple[str, str]] = set()  # followed accounts the venue reported
        self._venue_problem: dict[str, str] = {}  # venue -> the problem line printed
        self._told_down: set[tuple[str, str]] = set()  # (venue, symbol) said on stderr to be stale
        self._account_problem: dict[tuple[str, str], str] = {}
        self._stop: asyncio.Event | None = None
        self.pipe_closed = False
        self.feeds_failed = False
        self.journal = journal
        self._journal_second: int | None = None
        self._journal_problem: str | None = None  # the journal's write failure told on stderr

    # -- the run -------------------------------------------------------------------------------
    async def run(self, source: Any, duration_s: float | None = None,
                  tiers_refresh: Callable[[Monitor], Awaitable[Any]] | None = None) -> int:
        """``tiers_refresh(monitor)``: run beside the feeds (the tier cache's background refresh)."""
        self._stop = stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
        feed = asyncio.create_task(source.run(self.on_event), name="watch-feeds")
        tiers = asyncio.create_task(tiers_refresh(self.monitor), name="watch-tiers") if tiers_refresh else None
        started = time.monotonic()
        next_snapshot = started + self.snapshots_s if self.snapshots_s else math.inf
        try:
            while True:
                self.evaluate_now()
                self.record_journal()
                now = time.monotonic()
                if now >= next_snapshot:
                    self.print_snapshot()
                    next_snapshot = max(next_snapshot + self.snapshots_s, now)
                ends = started + duration_s if duration_s is not None else math.inf
                if stop.is_set() or now >= ends or self.pipe_closed:
                    break
                if feed.done():  # a source never ends by itself; if it did, say so rather than sit blind
                    problem = feed.exception() if not feed.cancelled() else None
                    self.tell(f"the feeds stopped ({type(problem).__name__ if problem else 'ended'}); stopping")
                    self.feeds_failed = True
                    break
                wait = min(1.0 / EVALUATE_HZ, next_snapshot - now, ends - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(wait, 0.0))
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            feed.cancel()
            if tiers is not None:
                tiers.cancel()
            await asyncio.gather(feed, *([tiers] if tiers is not None else []), return_exceptions=True)
        return self.exit_code()

    def stop(self) -> None:
        """End the run after the next evaluation (what Ctrl-C does)."""
        if self._stop is not None:
            self._stop.set()

    def exit_code(self) -> int:
        if self.unreached() or self.feeds_failed:
            return EXIT_FAILURE
        return EXIT_ALERT if self.alerts_fired else EXIT_OK

    def unreached(self) -> list[str]:
        """Venues held, and followed accounts, that delivered nothing during the run."""
        held = self.monitor.inputs().portfolio  # followed accounts' imported positions included
        venues = sorted({venue for venue, _ in held.symbols()} - self.reached)
        accounts = sorted(f"{venue} {ref}" for venue, ref in self.followed - self.reported)
        return venues + accounts

    # -- events in -----------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        self.monitor.apply(event, self.clock() if type(event) is FeedStatus else None)
        kind = event.kind
        if kind == "status":
            self.on_status(event)
        elif kind == "account_state":
            self.reported.add((event.venue, event.symbol))
        else:
            self.reached.add(event.venue)

    def on_status(self, event: Any) -> None:
        """One line on stderr per problem (the monitor keeps the feed's health for the stale-feed rule)."""
        venue, symbol, state, detail = event.venue, event.symbol, event.state, event.detail
        if symbol.startswith("account:"):
            self._account_status((venue, symbol.removeprefix("account:")), state, detail)
            return
        if state in GOOD_FEED_STATES:
            self.reached.add(venue)
            if self._venue_problem.pop(venue, None) is not None:
                self.tell(f"{venue}: back ({detail or state})")
            if (venue, symbol) in self._told_down:
                self._told_down.discard((venue, symbol))
                self.tell(f"{venue} {symbol}: data again")
        elif venue in self._venue_problem:
            return  # the venue's problem is on screen already
        elif state == "stale":
            if (venue, symbol) not in self._told_down:
                self._told_down.add((venue, symbol))
                self.tell(f"{venue} {symbol}: stale ({detail}); watching continues")
        else:
            what = "cannot reach the venue" if venue not in self.reached else state
            self._venue_problem[venue] = detail
            self.tell(f"{venue}: {what} ({detail}); {self._what_remains()}")

    def _what_remains(self) -> str:
        """What is still watched beside the venues with a problem: the rest named, or that nothing is
        (the feeds keep retrying either way)."""
        held = {venue for venue, _ in self.monitor.inputs().portfolio.symbols()}
        rest = sorted(held - set(self._venue_problem))
        rest += sorted(f"{venue} {ref}" for venue, ref in self.followed if (venue, ref) not in self._account_problem)
        if rest:
            return f"watching the rest ({', '.join(rest)})"
        return "nothing left to watch: retrying until a venue answers (Ctrl-C stops)"

    def _account_status(self, key: tuple[str, str], state: str, detail: str) -> None:
        if state in GOOD_FEED_STATES:
            self.reported.add(key)
            if self._account_problem.pop(key, None) is not None:
                self.tell(detail or f"{key[0]} {key[1]}: following again")
        elif self._account_problem.get(key) != detail:
            self._account_problem[key] = detail
            self.tell(f"{detail}; watching continues")

    # -- lines out -----------------------------------------------------------------------------
    def evaluate_now(self) -> list[Alert]:
        alerts = self.monitor.evaluate(self.clock())
        for alert in alerts:
            if alert.state == FIRED:
                self.alerts_fired += 1
            self.write(alert_line(alert, self.as_json))
        return alerts

    def record_journal(self) -> None:
        """The monitor's state into the journal, once per second of the clock (building a state costs
        more than the journal's own check)."""
        if self.journal is None:
            return
        now = self.clock()
        if int(now) != self._journal_second:
            self._journal_second = int(now)
            self.journal.record(self.monitor.state(now), now)
            problem = self.journal.problem
            if problem is not None and problem != self._journal_problem:
                self.tell(f"{problem}; watching continues")
            self._journal_problem = problem

    def print_snapshot(self) -> None:
        self.write(snapshot_text(self.monitor.live(), int(self.clock() * 1000), self.as_json))

    def write(self, text: str) -> None:
        if self.pipe_closed:
            return
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except BrokenPipeError:  # the reader went away: stop quietly
            self.pipe_closed = True
            self.stop()

    def tell(self, line: str) -> None:
        log.info("%s", line)
        with contextlib.suppress(OSError, ValueError):
            print(f"adlwatch watch: {line}", file=self.err, flush=True)


def alert_line(alert: Alert, as_json: bool) -> str:
    """One alert: a readable line, or the JSON object of the ``watch --json`` contract."""
    if as_json:
        doc = {"type": "alert", "state": alert.state, "rule": alert.rule, "venue": alert.venue,
               "symbol": alert.symbol, "side": alert.side, "value": alert.value,
               "threshold": alert.threshold, "estimate": alert.estimate, "message": alert.message,
               "ts": alert.ts_ms}
        if alert.critical:  # a position the venue closed: the fill, and what is left (added fields)
            doc.update(critical=True, account=alert.account, price=alert.price, size=alert.size,
                       notional_usd=alert.notional_usd, remaining=alert.remaining)
        return json.dumps(doc, **_JSON)
    label = "ALERT" if alert.state == FIRED else "clear"
    return f"{_stamp(alert.ts_ms)}  {label}  {alert.message}"


def snapshot_text(snapshot: RiskSnapshot, ts_ms: int, as_json: bool) -> str:
    """Every position's figures (``check --json``'s fields), or ``check``'s table under a time stamp."""
    if as_json:
        return json.dumps({"type": "snapshot", "ts": ts_ms, "positions": [row(p, ts_ms) for p in snapshot.positions]},
                          **_JSON)
    return f"{_stamp(ts_ms)}  snapshot\n{render_table(snapshot, ts_ms)}"


def _stamp(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    """``python -m adlwatch.tui.watch …``: the same as ``adlwatch watch …``."""
    from adlwatch.feeds import logs

    parser = argparse.ArgumentParser(prog="adlwatch watch", description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--log-level", type=str.upper, choices=logs.LEVELS, default="INFO",
                        help="what goes into the log file in the user log folder (default INFO)")
    args = parser.parse_args(argv)
    log_file = logs.configure(args.log_level)
    try:
        return run_watch(args)
    except InputError as error:
        print(f"adlwatch: {error}", file=sys.stderr)
        return 2
    finally:
        if log_file is not None:
            log_file.close()


if __name__ == "__main__":
    sys.exit(main())
