"""The ``adlwatch`` command line. Bad input is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from adlwatch import __version__
from adlwatch.engine.errors import InputError
from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds.journal import open_journal
from adlwatch.tui import watch as watch_command
from adlwatch.tui.catalogue import user_catalogue
from adlwatch.tui.check import EXIT_INPUT, EXIT_OK, run_check


def build_parser() -> argparse.ArgumentParser:
    from adlwatch.feeds.logs import LOG_NAME, log_folder
    from adlwatch.feeds.registry import venue_names  # the venues feeds/ speaks, from their folders

    venue_choices = venue_names()
    parser = argparse.ArgumentParser(
        prog="adlwatch",
        epilog=f"With no command: the monitor on your portfolio with live feeds. Log file: {log_folder() / LOG_NAME}",
        description="Risk monitor for crypto perpetual futures: liquidation distance, ADL queue, insurance-fund cover. Read-only.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--portfolio", type=Path,
                        help="portfolio TOML file for the monitor and every command (default: the user config folder)")
    _journal_argument(parser)
    _log_level_argument(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="one snapshot of the portfolio: table, or --json")
    check.add_argument("--portfolio", type=Path, help="portfolio TOML file (default: the user config folder)")
    check.add_argument("--mark", action="append", default=[], metavar="[VENUE:]SYMBOL=PRICE", help="set a mark price (repeatable)")
    check.add_argument("--shock", type=float, metavar="PCT", help="move every mark by PCT percent first (-10 = a 10%% fall)")
    check.add_argument("--offline", action="store_true", help="never fetch marks; a missing mark is an error")
    check.add_argument("--json", action="store_true", help="a JSON array, one object per position")
    check.add_argument("--alert-below", type=float, metavar="PCT", help="exit 3 if some position's distance_pct is below PCT")

    demo = sub.add_parser("demo", help="offline demo: the monitor replaying the 10 Oct 2025 crash")
    demo.add_argument("--check", action="store_true", help="no screen: print the demo portfolio at two moments")
    _journal_argument(demo)

    replay = sub.add_parser("replay", help="the monitor on a recording: raw frames, Tardis derivative_ticker or Binance markPriceKlines CSV")
    replay.add_argument("file", type=Path, nargs="?", help="a recording (omit with --binance)")
    replay.add_argument("--binance", nargs=2, metavar=("SYMBOL", "DATE"),
                        help="download that day's public markPriceKlines and metrics (USDⓈ-M or COIN-M) and replay them")
    replay.add_argument("--portfolio", type=Path, help="portfolio TOML file (default: the user's, if any)")
    replay.add_argument("--speed", type=float, default=60.0, help="replay speed, 1 to 1000 (default 60)")
    _journal_argument(replay)
    _max_line_argument(replay)

    tail = sub.add_parser("tail", help="normalized events from a venue, live or --from a recording")
    tail.add_argument("venue", choices=venue_choices)
    tail.add_argument("symbols", nargs="*", metavar="SYMBOL")
    tail.add_argument("--from", dest="from_path", type=Path, metavar="RAW.jsonl", help="replay a raw-frame recording")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    _max_line_argument(tail)
    tail.add_argument("--ws-url", help=argparse.SUPPRESS)
    tail.add_argument("--rest-url", help=argparse.SUPPRESS)

    simulate = sub.add_parser("simulate", help="a liquidation cascade on a modelled population, round by round")
    from adlwatch.tui.simulate import add_arguments

    add_arguments(simulate)

    watch = sub.add_parser(
        "watch", help="the live engine without the screen: one line per alert (or --json), exit 3 if one fired")
    watch_command.add_arguments(watch)

    tiers = sub.add_parser("tiers", help="the contracts and risk-tier tables known per venue: how many, from where, how old; "
                                         "--refresh fetches every listed perpetual")
    tiers.add_argument("--refresh", action="store_true",
                       help="fetch the venues' whole contract lists and tiers into the local cache now")
    tiers.add_argument("--all", "-v", dest="all", action="store_true",
                       help="list every contract: tiers, as of, verified, source")
    tiers.add_argument("venues", nargs="*", metavar="VENUE", help="binance, bybit, okx, hyperliquid (default: all)")

    record = sub.add_parser("record", help="write every raw frame of a venue's feed to a JSON-lines file")
    record.add_argument("venue", choices=venue_choices)
    record.add_argument("symbols", nargs="*", metavar="SYMBOL")
    record.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    record.add_argument("--max-bytes", type=int, default=256 * 1024 * 1024, help="rotate the file past this size")
    record.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    record.add_argument("--ws-url", help=argparse.SUPPRESS)
    record.add_argument("--rest-url", help=argparse.SUPPRESS)
    for command in sub.choices.values():
        _log_level_argument(command)
    # The global --portfolio (--journal, --log-level) applies to every command (DESIGN.md): a
    # command's own, when not given, must not put its None over it.
    for command in sub.choices.values():
        for action in command._actions:
            if action.dest in ("portfolio", "journal", "log_level"):
                action.default = argparse.SUPPRESS
    return parser


def _journal_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", metavar="DIR",
                        help="write the monitor's states once a second as Parquet files, one folder per UTC day "
                             "(default: the portfolio file's [journal] folder, if any)")


def _log_level_argument(parser: argparse.ArgumentParser) -> None:
    from adlwatch.feeds.logs import LEVELS

    parser.add_argument("--log-level", type=str.upper, choices=LEVELS, default="INFO",
                        help="what goes into the log file in the user log folder (default INFO)")


def _app_options(journal: Any) -> dict[str, Any]:
    return {"journal": journal} if journal is not None else {}


def _max_line_argument(parser: argparse.ArgumentParser) -> None:
    from adlwatch.feeds.recorder import DEFAULT_MAX_LINE_MB

    parser.add_argument("--max-line-mb", type=float, default=DEFAULT_MAX_LINE_MB, metavar="MB",
                        help=f"refuse a recording line longer than this (default {DEFAULT_MAX_LINE_MB})")


def _max_line_bytes(args: argparse.Namespace) -> int:
    from adlwatch.feeds.recorder import MB

    value = args.max_line_mb
    if not value > 0 or value == float("inf"):
        raise InputError("must be a positive number of megabytes", field="--max-line-mb", value=value)
    return max(1, int(value * MB))


def run_tiers(refresh: bool, venues: list[str], show_all: bool = False) -> int:
    """``adlwatch tiers [--refresh] [--all] [VENUE…]``: per venue, how many contracts are known, from
    where (the bundled tables, the cache, fetched just now) and how old; ``--all`` every contract."""
    from adlwatch.feeds.registry import venue_names
    from adlwatch.feeds.tiers import (
        bundled_origins,
        default_cache_dir,
        describe,
        load_catalogue,
        run_refresh,
        summary,
    )

    unknown = [v for v in venues if v not in venue_names()]
    if unknown:
        raise InputError(f"unknown venue; known: {', '.join(venue_names())}", field="VENUE", value=unknown[0])
    if refresh:
        status = asyncio.run(run_refresh(venues or None))
        if status:
            return status
    warnings: list[str] = []
    origins: dict[tuple[str, str], str] = {}
    catalogue = load_catalogue(warnings=warnings, origins=origins)
    for line in warnings:
        print(f"adlwatch: tier cache: {line}", file=sys.stderr)
    if venues:
        from adlwatch.engine.instruments import Catalogue

        catalogue = Catalogue(i for i in catalogue if i.venue in venues)
    if show_all:
        for line in describe(catalogue):
            print(line)
    else:
        for line in summary(catalogue, origins, fetched=(venues or venue_names()) if refresh else (),
                            bundled=bundled_origins()):
            print(line)
        print(f"cache: {default_cache_dir()} (refreshed by itself when a day old; --all lists every contract)")
    return EXIT_OK


def demo_path(name: str) -> Path:
    return Path(str(resources.files("adlwatch.tui") / "data" / name))


DEMO_START_MS = 1760128800000  # 2025-10-10 20:40:00 UTC
DEMO_MOMENTS = (
    ("2025-10-10 20:48:59 UTC: before the crash", 1760129339999),
    ("2025-10-10 21:20:59 UTC: the low minute", 1760131259999),
)


def run_demo(check: bool = False, journal_flag: str | None = None) -> int:
    """``adlwatch demo``: the monitor on the bundled crash recording; ``--check``: two tables (and,
    with ``--journal``, the two states in the journal)."""
    from adlwatch.feeds import portfolio_store

    portfolio = portfolio_store.load(demo_path("demo_portfolio.toml"), default_catalogue())  # the demo is offline: bundled tables
    journal = open_journal(journal_flag)
    try:
        return _demo(portfolio, check, journal)
    finally:
        if journal is not None:
            journal.close()


def _demo(portfolio: Any, check: bool, journal: Any) -> int:
    from adlwatch.feeds.replay import ReplaySource
    from adlwatch.tui.demo import DEMO_NOTE, load_demo

    data = load_demo()
    if check:
        from adlwatch.engine.monitor import Monitor
        from adlwatch.tui.check import render_table

        # The monitor the screen draws (positions past their liquidation price are liquidated there).
        monitor = Monitor(portfolio, replay=True)
        source = ReplaySource(data, playing=False)
        print(f"adlwatch demo: {DEMO_NOTE}. Provenance: tui/data/PROVENANCE.md.")
        for label, t_ms in DEMO_MOMENTS:
            monitor.apply_many(source.take_until(t_ms))
            print(f"\n== {label} ==")
            state = monitor.state(t_ms / 1000)
            if journal is not None:
                journal.record(state, t_ms / 1000)
            print(render_table(state.live, t_ms))
        return EXIT_OK
    from adlwatch.tui.app import AdlwatchApp

    source = ReplaySource(data, speed=60.0, playing=False)
    # Start at 20:40, when every series of the recording has begun; the crash follows at 21:10.
    AdlwatchApp(portfolio, source, note=DEMO_NOTE, start_ms=DEMO_START_MS, **_app_options(journal)).run()
    return EXIT_OK


def run_replay(path: Path | None, portfolio_path: Path | None, speed: float, binance: list[str] | None = None,
               max_line_bytes: int | None = None, journal_flag: str | None = None) -> int:
    """``adlwatch replay FILE`` (raw frames, Tardis or Binance klines CSV) or ``--binance SYMBOL DATE``
    (that day's public mark-price klines and open-interest metrics, downloaded and checksum-verified)."""
    from adlwatch.engine.events import MONITOR_SKIPS
    from adlwatch.engine.portfolio import Portfolio
    from adlwatch.feeds import portfolio_store
    from adlwatch.feeds.replay import ReplaySource, check_speed, load_replay
    from adlwatch.tui.app import AdlwatchApp

    notes = []
    if binance:
        from adlwatch.feeds.venues.binance.vision import load_binance_day

        symbol, date = binance
        print(f"adlwatch: fetching {symbol} {date} from data.binance.vision (cached after the first time)…", file=sys.stderr)
        data = asyncio.run(load_binance_day(symbol, date, require_metrics=False))
        if not any(e.kind == "open_interest" for e in data.events):
            notes.append("no open-interest file for that day: marks only")
    elif path is not None:
        bound = {} if max_line_bytes is None else {"max_line_bytes": max_line_bytes}
        data = load_replay(path, skip=MONITOR_SKIPS, progress=_reading_progress(path), **bound)
    else:
        raise InputError("give a recording FILE or --binance SYMBOL DATE", field="replay", has_value=False)
    target = portfolio_path or portfolio_store.default_path()
    portfolio = (
        portfolio_store.load(target, user_catalogue()) if (portfolio_path or target.exists())
        else Portfolio(catalogue=user_catalogue())
    )
    if not portfolio.accounts:
        notes.append("no portfolio: the recording's marks only")
    source = ReplaySource(data, speed=check_speed(speed), playing=False)
    journal = open_journal(journal_flag, portfolio, target)
    try:
        AdlwatchApp(portfolio, source, note="; ".join(notes), portfolio_path=target if portfolio.accounts else None,
                    **_app_options(journal)).run()
    finally:
        if journal is not None:
            journal.close()
    return EXIT_OK


def _reading_progress(path: Path, err: TextIO | None = None) -> Callable[[float], None] | None:
    """For a big recording (a few seconds to read): a stderr line that counts up to 100 %, redrawn in
    place on a terminal (a pipe gets the start and the end); None for a small file or one that
    load_replay will refuse anyway."""
    err = err if err is not None else sys.stderr
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size < 20_000_000:
        return None
    label = f"adlwatch: reading {path} ({size / 1e6:,.0f} MB)"
    tty = err.isatty()
    shown = 0

    def progress(share: float) -> None:
        nonlocal shown
        pct = int(share * 100)
        if pct == shown:
            return
        shown = pct
        if tty:
            print(f"\r{label}… {pct}%", end="\n" if pct >= 100 else "", file=err, flush=True)
        elif pct >= 100:
            print(f"{label}: done", file=err, flush=True)

    print(f"\r{label}… 0%" if tty else f"{label}…", end="" if tty else "\n", file=err, flush=True)
    return progress


def run_monitor(portfolio_path: Path | None, journal_flag: str | None = None) -> int:
    """``adlwatch``: the monitor on the user's portfolio with live feeds for what it holds."""
    from adlwatch.feeds import portfolio_store
    from adlwatch.feeds.live import LiveSource
    from adlwatch.tui.app import AdlwatchApp

    path = portfolio_path or portfolio_store.default_path()
    if not path.exists():  # the first run, for the default file or a new one named with --portfolio
        if path.is_dir():
            raise InputError("a folder, not a portfolio file", file=str(path))
        from adlwatch.tui.screens.welcome import WelcomeApp

        answer = WelcomeApp.ask(str(path))
        if answer == "demo":
            return run_demo(journal_flag=journal_flag)
        if answer != "create":
            return EXIT_OK
        portfolio_store.save(portfolio_store.load(demo_path("example_portfolio.toml"), default_catalogue()), path)
        print(f"adlwatch: wrote the example portfolio to {path}; edit it with your positions.")
    from adlwatch.tui.catalogue import portfolio_venues, refresh_into, startup_catalogue

    # The cached tier tables at once (a symbol no table knows looked up first); a venue's tables over a
    # day old are refreshed in a worker after the first screen, and the portfolio rebuilt on them.
    portfolio = portfolio_store.load(path, startup_catalogue(path, offline=False, every_venue=True))
    venues = portfolio_venues(path)
    journal = open_journal(journal_flag, portfolio, path)
    try:
        AdlwatchApp(portfolio, LiveSource.for_portfolio(portfolio), portfolio_path=path,
                    catalogue_refresh=lambda monitor: refresh_into(monitor, venues), **_app_options(journal)).run()
    finally:
        if journal is not None:
            journal.close()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from adlwatch.feeds import logs

    parser = build_parser()
    args = parser.parse_args(argv)
    log_file = logs.configure(getattr(args, "log_level", "INFO"))
    logging.getLogger("adlwatch").info("adlwatch %s: %s", __version__, args.command or "the monitor")
    try:
        return _run(args)
    finally:
        if log_file is not None:
            log_file.close()


def _run(args: argparse.Namespace) -> int:
    journal = getattr(args, "journal", None)
    try:
        if args.command == "watch":
            return watch_command.run_watch(args)
        if args.command == "check":
            from adlwatch.feeds import portfolio_store

            named = getattr(args, "portfolio", None)
            path = named or portfolio_store.default_path()
            if named is None and not path.exists():
                raise InputError(
                    "no portfolio file yet: create one (see README.md, 'The portfolio file') or pass --portfolio",
                    file=str(path),
                )
            return run_check(path, args.mark, args.shock, args.offline, args.json, args.alert_below)
        if args.command == "demo":
            return run_demo(check=args.check, journal_flag=journal)
        if args.command == "replay":
            return run_replay(args.file, args.portfolio, args.speed, args.binance, _max_line_bytes(args), journal)
        if args.command == "simulate":
            from adlwatch.tui.simulate import run_simulate

            return run_simulate(args)
        if args.command == "tiers":
            return run_tiers(args.refresh, args.venues, args.all)
        if args.command == "tail":
            from adlwatch.feeds.tail import run_tail

            # events on stdout; status lines on stderr, table form, throttled (DESIGN.md `adlwatch tail`)
            return asyncio.run(
                run_tail(args.venue, args.symbols, from_path=args.from_path, as_json=args.json, ws_url=args.ws_url,
                         rest_url=args.rest_url, status_out=sys.stderr, max_line_bytes=_max_line_bytes(args))
            )
        if args.command == "record":
            from adlwatch.feeds.tail import run_record

            return asyncio.run(
                run_record(
                    args.venue,
                    args.symbols,
                    out_path=args.output,
                    ws_url=args.ws_url,
                    rest_url=args.rest_url,
                    max_bytes=args.max_bytes,
                    duration_s=args.duration,
                    status_out=sys.stderr,
                )
            )
        return run_monitor(args.portfolio, journal)
    except InputError as error:
        print(f"adlwatch: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
