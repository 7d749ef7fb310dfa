"""The session journal: the monitor's states, once a second of its clock, as Parquet files that
answer "what happened to my positions last night" with pandas.

Layout, one folder per UTC day of the monitor's clock (the replay's clock in a replay) and one
folder per table inside it, so that ``pandas.read_parquet(<day>/positions)`` reads a whole day::

    FOLDER/2025-10-10/positions/201000-a1b2c3-0001.parquet
                     /contracts/…
                     /alerts/…

- ``positions``: per position and second, the live figures (never a what-if's): mark, liquidation
  price, distance in % and in price, the ADL lights (adlwatch's estimate, and the venue's own where
  it gives them), ROE, uPnL, and ``closed`` once the venue would have closed it.
- ``contracts``: per contract and second: mark, funding rate, insurance fund, open interest,
  fund/OI, the venue's own ADL rating, and the liquidation flow (1 and 5 minutes by side, the
  cascade pressure).
- ``alerts``: every alert as it fires or clears, at its own time; a position the venue closed
  (liquidated or ADL'd) with the fill's price, size and what is left.

Each file is a *segment*: the rows of one table from one session, within one hour of the
monitor's clock (a new segment also past ``segment_rows`` rows). Rows are buffered and, every
``flush_s`` seconds of wall time, on a new hour or day and on ``close``, the segment is written
whole, again, to a hidden temp file that is fsynced and renamed over the segment
(``feeds.files.write_atomic``). A reader (or a crash) therefore sees each segment as it was at one
flush or the next, never a part of one: a crash loses at most the last ``flush_s`` seconds, and a
temp file a killed writer leaves is hidden (pyarrow skips names that start with a dot) and removed
by the next journal that writes in that folder. Rewriting a segment keeps a file readable without
a Parquet appender; ``segment_rows`` bounds what one flush rewrites.

The writes run in one background thread, so the screen never waits for pandas or the disk; a write
that fails (disk full) is logged and shown as ``problem``, and the monitor goes on.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adlwatch.engine.errors import InputError
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.files import clean_stale, write_atomic

if TYPE_CHECKING:
    from adlwatch.engine.monitor import MonitorState

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 10.0  # wall seconds between writes: what a crash may lose at most
SEGMENT_ROWS = 100_000  # a segment rewritten at each flush stays this small (~0.1 s to write)
TABLES = ("positions", "contracts", "alerts")

# Column name -> kind: "time" (UTC timestamp, ms), "text", "float", "int" (nullable), "bool".
POSITION_COLUMNS: dict[str, str] = {
    "time": "time",
    "account": "int",  # the account's index in the portfolio
    "account_source": "text",  # manual | api key 'main' | address 0xabcd…1234
    "venue": "text",
    "symbol": "text",
    "side": "text",
    "size": "float",
    "settle": "text",
    "mark_price": "float",
    "liquidation_price": "float",
    "distance_pct": "float",
    "distance_price": "float",
    "adl_quantile": "int",  # the 1-5 lights: adlwatch's estimate
    "venue_adl_lights": "int",  # the venue's own, where it publishes them
    "roe_pct": "float",
    "unrealized_pnl": "float",  # in the settlement asset
    "closed": "text",  # liquidated | adl once the venue would have closed it
}
CONTRACT_COLUMNS: dict[str, str] = {
    "time": "time",
    "venue": "text",
    "symbol": "text",
    "mark_price": "float",
    "funding_rate": "float",
    "fund_balance_usd": "float",
    "open_interest": "float",  # one side, base units
    "open_interest_usd": "float",
    "fund_to_oi": "float",
    "venue_adl_risk": "text",
    # The public liquidation streams' flow (engine/flow.py): USD notional of the LIQUIDATED side over
    # the last 1 and 5 minutes, the 5-minute count, and the cascade pressure (the heavier side's
    # 5-minute notional ÷ the insurance fund, a fraction); empty where no liquidation was heard.
    "liquidated_long_1m_usd": "float",
    "liquidated_short_1m_usd": "float",
    "liquidated_long_5m_usd": "float",
    "liquidated_short_5m_usd": "float",
    "liquidations_5m": "int",
    "cascade_pressure": "float",
    # The insurance pool behind fund_to_oi: the contracts it backs, how many have a known open
    # interest (fewer: fund_to_oi is an upper bound, fund_to_oi_partial), and the assets left out of
    # fund_balance_usd because no mark values them (comma-separated).
    "fund_members": "int",
    "fund_members_with_oi": "int",
    "fund_to_oi_partial": "bool",
    "fund_unvalued_assets": "text",
}
ALERT_COLUMNS: dict[str, str] = {
    "time": "time",
    "state": "text",  # fired | cleared
    "rule": "text",
    "venue": "text",
    "symbol": "text",
    "side": "text",
    "account": "int",
    "value": "float",  # the reading, where it is a number …
    "value_text": "text",  # … or the venue's word (an ADL alert's state)
    "threshold": "float",
    "estimate": "bool",
    "message": "text",
    # "You were liquidated / ADL'd" (rule forced_close, critical): the fill's price, the size closed
    # (coin, or contracts of an inverse contract), its USD value and what is left open.
    "critical": "bool",
    "price": "float",
    "size": "float",
    "notional_usd": "float",
    "remaining": "float",
}
COLUMNS = {"positions": POSITION_COLUMNS, "contracts": CONTRACT_COLUMNS, "alerts": ALERT_COLUMNS}


def journal_folder(value: str | os.PathLike, *, relative_to: Path | None = None) -> Path:
    """The folder a ``--journal`` flag or a portfolio file's ``[journal] folder`` names: ``~``
    expanded; a relative one from the portfolio file's folder when ``relative_to`` is given."""
    folder = Path(os.path.expanduser(os.fspath(value)))
    if relative_to is not None and not folder.is_absolute():
        folder = relative_to / folder
    return folder


def _check_folder(folder: Path) -> None:
    """Create the folder and try a write there: ``InputError`` (field ``journal``) if it cannot be."""
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file, not a folder for the journal", field="journal", value=str(folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".adlwatch-probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(f"cannot write the journal there ({reason})", field="journal", value=str(folder)) from None


def open_journal(flag: str | None, portfolio: Portfolio | None = None, portfolio_path: Path | None = None) -> Journal | None:
    """The session journal ``--journal`` names, else the portfolio file's ``[journal] folder``
    (relative to the file's folder); None when neither does. A folder that cannot be written is an
    ``InputError`` naming the flag, or the file and its field."""
    if flag is not None:
        try:
            return Journal(journal_folder(flag))
        except InputError as error:
            raise InputError(error.reason, field="--journal", value=flag) from None
    named = getattr(portfolio, "journal", None)
    if named is None:
        return None
    base = portfolio_path.parent if portfolio_path is not None else None
    try:
        return Journal(journal_folder(named, relative_to=base))
    except InputError as error:
        raise InputError(error.reason, file=str(portfolio_path) if portfolio_path else None, field="journal.folder",
                         value=named) from None


class _Segment:
    """One table's rows of one session within one hour: ``chunks`` written so far (the writer
    thread's), and the name of its file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.chunks: list[Any] = []  # DataFrames, in the writer thread
        self.rows = 0  # rows handed to the writer (the recording thread's count)


class Journal:
    """Write the monitor's states (``record``), one row set per second of its clock; ``close`` at
    the end. ``flush_s``: wall seconds between writes (``clock`` measures them)."""

    def __init__(self, folder: Path, *, flush_s: float = FLUSH_EVERY_S, segment_rows: int = SEGMENT_ROWS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        _check_folder(self.folder)
        self.flush_s = flush_s
        self.segment_rows = segment_rows
        self.clock = clock
        self.problem: str | None = None  # the last write failure, for the screen
        self._token = secrets.token_hex(3)  # this session's files never take another's name
        self._seq = 0
        self._last_second: int | None = None
        self._last_state: MonitorState | None = None
        self._alerts_written: set[Any] = set()  # of the alerts the last state carried
        self._segments: dict[str, tuple[tuple[str, int], _Segment] | None] = dict.fromkeys(TABLES)
        self._pending: dict[str, list[tuple]] = {t: [] for t in TABLES}
        self._last_flush = clock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adlwatch-journal")
        self._writes: list[Future] = []
        self._cleaned: set[Path] = set()
        self._closed = False
        self._lock = threading.Lock()

    # -- rows in ---------------------------------------------------------------------------------
    def record(self, state: MonitorState, now_s: float) -> None:
        """The rows of ``state`` (a ``MonitorState``) at its clock (``state.now_ms``, else ``now_s``):
        once per second of that clock; a call within the same second only remembers the state (its
        alerts are written with the next second's rows, or at ``close``)."""
        if self._closed:
            return
        # (a replay's position may be a fraction of a ms: the journal keeps whole ms)
        t_ms = int(state.now_ms if state.now_ms is not None else now_s * 1000)
        second = t_ms // 1000
        self._last_state = state
        if second == self._last_second:
            return
        self._last_second = second
        self._add_rows(state, t_ms)
        if self.clock() - self._last_flush >= self.flush_s:
            self.flush()

    def _add_rows(self, state: MonitorState, t_ms: int) -> None:
        live = state.live
        sources = [a.source for a in live.accounts]
        key = _segment_key(t_ms)
        rows = [
            (t_ms, p.account, sources[p.account] if p.account < len(sources) else None, p.venue, p.symbol,
             str(p.side), p.size, p.settle, p.mark_price, p.liquidation_price, p.distance_pct, p.distance_price,
             p.adl_quantile, p.venue_adl_lights, p.roe_pct, p.unrealized_pnl, p.closed)
            for p in live.positions
        ]
        self._add("positions", key, rows)
        flows = dict(state.liquidation_flows)  # by (venue, symbol)
        contracts = [
            (t_ms, c.venue, c.symbol, c.mark_price, c.funding_rate, c.fund_balance_usd, c.open_interest,
             c.open_interest_usd, c.fund_to_oi, c.venue_adl_risk, *_flow_row(flows.pop((c.venue, c.symbol), None)),
             c.fund_members or None, c.fund_members_with_oi if c.fund_members else None,
             c.fund_to_oi_partial if c.fund_members else None, ",".join(c.fund_unvalued_assets) or None)
            for c in live.contracts
        ]
        contracts += [(t_ms, venue, symbol, None, None, flow.fund_balance_usd, None, None, None, None, *_flow_row(flow),
                       None, None, None, None)
                      for (venue, symbol), flow in flows.items()]  # a contract heard of by its liquidations only
        self._add("contracts", key, contracts)
        self._add_alerts(state)

    def _add_alerts(self, state: MonitorState) -> None:
        """The alerts of the state's log not written yet (the log is in time order, and an alert may
        be put before the newest: a venue's fill time)."""
        alerts = state.alerts
        written = self._alerts_written
        for alert in alerts:
            if alert in written:
                continue
            value = alert.value
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            text = value if isinstance(value, str) else None
            row = (alert.ts_ms, alert.state, alert.rule, alert.venue, alert.symbol,
                   None if alert.side is None else str(alert.side), alert.account, number, text, alert.threshold,
                   alert.estimate, alert.message, alert.critical, alert.price, alert.size, alert.notional_usd,
                   alert.remaining)
            self._add("alerts", _segment_key(alert.ts_ms), [row])
        self._alerts_written = set(alerts)

    def _add(self, table: str, key: tuple[str, int], rows: list[tuple]) -> None:
        if not rows:
            return
        current = self._segments[table]
        if current is not None and (current[0] != key or current[1].rows >= self.segment_rows):
            self._hand_over(table, final=True)
            current = None
        if current is None:
            self._seq += 1
            first = datetime.fromtimestamp(rows[0][0] / 1000, UTC)
            name = f"{first:%H%M%S}-{self._token}-{self._seq:04d}.parquet"
            segment = _Segment(self.folder / key[0] / table / name)
            self._segments[table] = current = (key, segment)
        current[1].rows += len(rows)
        self._pending[table].extend(rows)

    # -- rows out --------------------------------------------------------------------------------
    def flush(self, wait: bool = False) -> None:
        """Write every segment with new rows now (in the writer thread; ``wait``: until written)."""
        self._last_flush = self.clock()
        for table in TABLES:
            if self._pending[table]:
                self._hand_over(table, final=False)
        if wait:
            self._wait()

    def _hand_over(self, table: str, *, final: bool) -> None:
        current = self._segments[table]
        rows, self._pending[table] = self._pending[table], []
        if current is None:
            return
        if final:
            self._segments[table] = None  # its rows so far are written (or on their way): let it go
        if rows:
            self._writes.append(self._writer.submit(self._write, table, current[1], rows, final))
        self._writes = [f for f in self._writes if not f.done()]

    def _write(self, table: str, segment: _Segment, rows: list[tuple], final: bool) -> None:
        """In the writer thread: the segment's rows so far, written whole over its file."""
        try:
            if rows:
                segment.chunks.append(_frame(COLUMNS[table], rows))
            if not segment.chunks:
                return
            import pandas as pd

            frame = segment.chunks[0] if len(segment.chunks) == 1 else pd.concat(segment.chunks, ignore_index=True)
            segment.chunks = [frame]
            buffer = io.BytesIO()
            frame.to_parquet(buffer, engine="pyarrow", index=False, schema=_schema(COLUMNS[table]))
            folder = segment.path.parent
            if folder not in self._cleaned:
                folder.mkdir(parents=True, exist_ok=True)
                clean_stale(folder / "segment", prefix=".")  # what a killed writer left here
                self._cleaned.add(folder)
            write_atomic(segment.path, buffer.getvalue())
            self.problem = None
        except Exception as error:  # noqa: BLE001 - a journal never stops the monitor
            self.problem = f"journal: cannot write {segment.path.name} ({type(error).__name__}: {error})"
            log.error("%s", self.problem)
        finally:
            if final:
                segment.chunks = []

    def _wait(self) -> None:
        for future in list(self._writes):
            future.result()
        self._writes = []

    def close(self) -> None:
        """Write what is left (the last state's new alerts included) and stop the writer."""
        with self._lock:
            if self._closed:
                return
            if self._last_state is not None:
                self._add_alerts(self._last_state)
            for table in TABLES:
                self._hand_over(table, final=True)
            self._closed = True
        self._writer.shutdown(wait=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _flow_row(flow: Any) -> tuple:
    if flow is None:
        return (None,) * 6
    return (flow.long_1m_usd, flow.short_1m_usd, flow.long_5m_usd, flow.short_5m_usd, flow.count_5m, flow.pressure)


def _segment_key(t_ms: int) -> tuple[str, int]:
    """(UTC day, hour) of a time in ms: the folder and the segment it goes into."""
    when = datetime.fromtimestamp(t_ms / 1000, UTC)
    return f"{when:%Y-%m-%d}", when.hour


def _frame(columns: dict[str, str], rows: list[tuple]) -> Any:
    """A DataFrame of ``rows`` with each column's type (times in ms, nullable ints, None as NaN)."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for (name, kind), values in zip(columns.items(), zip(*rows, strict=True), strict=True):
        if kind == "time":
            data[name] = pd.to_datetime(np.array([int(v) for v in values], dtype=np.int64), unit="ms", utc=True)
        elif kind == "float":
            data[name] = np.array(values, dtype=np.float64)  # None → NaN; written as null
        elif kind == "int":
            data[name] = pd.array(values, dtype="Int64")
        elif kind == "bool":
            data[name] = np.array(values, dtype=bool)
        else:
            data[name] = pd.array(values, dtype="string[pyarrow]")  # Arrow strings: written without a copy
    return pd.DataFrame(data)


_SCHEMAS: dict[int, Any] = {}


def _schema(columns: dict[str, str]) -> Any:
    """The table's Arrow schema: the same types in every file, whatever one flush held (a column
    of nulls only is still a float or a string)."""
    schema = _SCHEMAS.get(id(columns))
    if schema is None:
        import pyarrow as pa

        types = {"time": pa.timestamp("ms", tz="UTC"), "text": pa.string(), "float": pa.float64(),
                 "int": pa.int64(), "bool": pa.bool_()}
        schema = _SCHEMAS[id(columns)] = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    return schema
