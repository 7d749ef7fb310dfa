"""The session journal: what it writes reads back with pandas into exactly the monitor's figures, one
row set per second of the monitor's clock, one folder per UTC day, and no crash leaves a file pandas
cannot read."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.errors import InputError
from adlwatch.engine.events import InsuranceFund, MarkPrice, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds import journal as journal_module
from adlwatch.feeds.journal import POSITION_COLUMNS, Journal, journal_folder, open_journal

ROOT = Path(__file__).resolve().parents[2]
MIDNIGHT_MS = 1760140800000  # 2025-10-11 00:00:00 UTC

PORTFOLIO = {
    "account": [
        {"venue": "binance", "wallet_balance": 2000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60000.0, "leverage": 20,
             "margin_mode": "cross"},
            {"symbol": "ETHUSDT", "side": "short", "size": 3.0, "entry_price": 2500.0, "leverage": 10,
             "margin_mode": "isolated", "isolated_margin": 750.0},
        ]},
    ],
}


def monitor() -> Monitor:
    portfolio = Portfolio.from_data(PORTFOLIO, default_catalogue())
    return Monitor(portfolio, rules=AlertRules(distance_below_pct=5.0, adl_lights_at_least=None,
                                               fund_to_oi_drop_pct=None, stale_feed_after_s=None, hold_s=0.0))


def feed(m: Monitor, t_ms: int, btc: float, eth: float = 2400.0) -> None:
    m.apply_many([
        MarkPrice(venue="binance", symbol="BTCUSDT", ts=t_ms, price=btc),
        MarkPrice(venue="binance", symbol="ETHUSDT", ts=t_ms, price=eth),
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=t_ms, open_interest=80_000.0,
                     open_interest_usd=80_000.0 * btc),
        InsuranceFund(venue="binance", symbol="BTCUSDT", ts=t_ms, symbols=["BTCUSDT", "ETHUSDT"], asset="USDT",
                      balance=1.0e9),
    ])


def read(folder: Path, day: str, table: str) -> pd.DataFrame:
    return pd.read_parquet(folder / day / table)


def same(a, b) -> bool:
    """Equal figures, None read back as NaN / NA."""
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None or pd.isna(a)
    return a == b


def test_a_journal_reads_back_with_pandas_into_exactly_the_states_figures(tmp_path):
    m = monitor()
    journal = Journal(tmp_path, flush_s=3600.0)
    states, alerts = [], []
    t0 = MIDNIGHT_MS + 3_600_000
    for k, btc in enumerate([62000.0, 61000.0, 58500.0, 58400.0, 64000.0]):
        t_ms = t0 + k * 1000
        feed(m, t_ms, btc, 2400.0 + 10 * k)
        alerts += m.evaluate(t_ms / 1000)
        state = m.state(t_ms / 1000)
        journal.record(state, t_ms / 1000)
        journal.record(m.state((t_ms + 400) / 1000), (t_ms + 400) / 1000)  # the same second again: no rows
        states.append(state)
    journal.close()

    positions = read(tmp_path, "2025-10-11", "positions")
    assert list(positions.columns) == list(POSITION_COLUMNS)
    expected = [(s.now_ms, p) for s in states for p in s.live.positions]
    assert len(positions) == len(expected) == 10
    for (_, row), (t_ms, p) in zip(positions.iterrows(), expected, strict=True):
        assert row["time"] == pd.Timestamp(t_ms, unit="ms", tz="UTC")
        assert (row["account"], row["account_source"], row["venue"], row["symbol"], row["side"]) == (
            p.account, "manual", p.venue, p.symbol, str(p.side))
        for column in ("size", "mark_price", "liquidation_price", "distance_pct", "distance_price", "adl_quantile",
                       "venue_adl_lights", "roe_pct", "unrealized_pnl", "closed", "settle"):
            assert same(row[column], getattr(p, column)), (column, row[column], getattr(p, column))
    assert positions["distance_pct"].notna().all() and positions["adl_quantile"].notna().all()

    contracts = read(tmp_path, "2025-10-11", "contracts")
    expected_contracts = [(s.now_ms, c) for s in states for c in s.live.contracts]
    assert len(contracts) == len(expected_contracts) >= 10
    for (_, row), (t_ms, c) in zip(contracts.iterrows(), expected_contracts, strict=True):
        assert row["time"] == pd.Timestamp(t_ms, unit="ms", tz="UTC")
        for column in ("venue", "symbol", "mark_price", "funding_rate", "fund_balance_usd", "open_interest",
                       "open_interest_usd", "fund_to_oi", "venue_adl_risk"):
            assert same(row[column], getattr(c, column)), column
    btc = contracts[contracts.symbol == "BTCUSDT"]
    assert (btc["fund_balance_usd"] == 1.0e9).all() and btc["fund_to_oi"].notna().all()

    journaled = read(tmp_path, "2025-10-11", "alerts")
    assert [a.state for a in alerts] == ["fired", "cleared"]  # the long came within 5 % and went back
    assert list(journaled["state"]) == ["fired", "cleared"]
    for (_, row), alert in zip(journaled.iterrows(), alerts, strict=True):
        assert row["time"] == pd.Timestamp(alert.ts_ms, unit="ms", tz="UTC")
        assert (row["rule"], row["venue"], row["symbol"], row["side"], row["message"], row["estimate"]) == (
            alert.rule, alert.venue, alert.symbol, str(alert.side), alert.message, alert.estimate)
        assert (row["value"], row["threshold"], row["account"]) == (alert.value, alert.threshold, alert.account)


def test_rows_go_to_the_utc_day_of_the_monitors_clock(tmp_path):
    m = monitor()
    times = [MIDNIGHT_MS - 2000, MIDNIGHT_MS - 1000, MIDNIGHT_MS, MIDNIGHT_MS + 1000]
    with Journal(tmp_path, flush_s=0.0) as journal:
        for t_ms in times:
            feed(m, t_ms, 62000.0)
            journal.record(m.state(t_ms / 1000), t_ms / 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-10-10", "2025-10-11"]
    before, after = read(tmp_path, "2025-10-10", "positions"), read(tmp_path, "2025-10-11", "positions")
    assert sorted(set(before["time"])) == [pd.Timestamp(t, unit="ms", tz="UTC") for t in times[:2]]
    assert sorted(set(after["time"])) == [pd.Timestamp(t, unit="ms", tz="UTC") for t in times[2:]]
    assert len(read(tmp_path, "2025-10-10", "contracts")) == len(read(tmp_path, "2025-10-11", "contracts"))


def test_a_replay_clock_decides_the_day_not_the_wall_clock(tmp_path):
    """``state.now_ms`` (the replay's position) wins over the ``now_s`` the driver passes."""
    m = monitor()
    feed(m, MIDNIGHT_MS - 5000, 62000.0)
    state = m.state((MIDNIGHT_MS - 5000) / 1000)
    with Journal(tmp_path) as journal:
        journal.record(state, 2_000_000_000.0)  # a wall clock in 2033
    assert [p.name for p in tmp_path.iterdir()] == ["2025-10-10"]


def test_a_segment_past_its_row_bound_starts_a_new_file_and_the_day_reads_whole(tmp_path):
    m = monitor()
    with Journal(tmp_path, flush_s=0.0, segment_rows=4) as journal:
        for k in range(6):
            t_ms = MIDNIGHT_MS + k * 1000
            feed(m, t_ms, 62000.0 + k)
            journal.record(m.state(t_ms / 1000), t_ms / 1000)
    files = sorted((tmp_path / "2025-10-11" / "positions").glob("*.parquet"))
    assert len(files) == 3  # 2 positions a second, 4 rows a segment
    positions = read(tmp_path, "2025-10-11", "positions").sort_values(["time", "symbol"])
    assert len(positions) == 12
    assert list(positions[positions.symbol == "BTCUSDT"]["mark_price"]) == [62000.0 + k for k in range(6)]


def test_a_crash_in_the_middle_of_a_write_leaves_the_last_complete_segment(tmp_path, monkeypatch):
    m = monitor()
    journal = Journal(tmp_path, flush_s=0.0)
    for k in range(2):
        t_ms = MIDNIGHT_MS + k * 1000
        feed(m, t_ms, 62000.0 + k)
        journal.record(m.state(t_ms / 1000), t_ms / 1000)
    journal.flush(wait=True)

    def dies_half_way(path, data, **_):
        # The process "dies" with half the new file in its temp file beside the segment.
        Path(path).with_name(f".{Path(path).name}.crash.tmp").write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module, "write_atomic", dies_half_way)
    feed(m, MIDNIGHT_MS + 2000, 63000.0)
    journal.record(m.state(MIDNIGHT_MS / 1000 + 2), MIDNIGHT_MS / 1000 + 2)
    journal.flush(wait=True)
    assert journal.problem is not None and "No space left on device" in journal.problem
    leftovers = list((tmp_path / "2025-10-11" / "positions").glob(".*.tmp"))
    assert leftovers
    positions = read(tmp_path, "2025-10-11", "positions")  # the half file is hidden: pandas skips it
    assert sorted(set(positions["mark_price"][positions.symbol == "BTCUSDT"])) == [62000.0, 62001.0]
    monkeypatch.undo()
    # The next journal in that folder removes what the dead writer left.
    with Journal(tmp_path, flush_s=0.0) as later:
        later.record(m.state(MIDNIGHT_MS / 1000 + 3), MIDNIGHT_MS / 1000 + 3)
    assert not any(p.exists() for p in leftovers)
    assert len(read(tmp_path, "2025-10-11", "positions")) == 6


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.feeds.test_journal import MIDNIGHT_MS, feed, monitor
    from adlwatch.feeds.journal import Journal

    m = monitor()
    journal = Journal(Path(sys.argv[1]), flush_s=0.0, segment_rows=40)
    for k in range(100_000):
        t_ms = MIDNIGHT_MS + k * 1000
        feed(m, t_ms, 60000.0 + k)
        journal.record(m.state(t_ms / 1000), t_ms / 1000)
        journal.flush(wait=True)
        print(k, flush=True)
""")


def test_a_writer_killed_at_any_moment_leaves_every_file_readable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(60):  # 60 flushes written: a few segments, the kill lands in the middle of one
            assert proc.stdout.readline(), proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    folder = tmp_path / "2025-10-11" / "positions"
    files = sorted(folder.glob("*.parquet"))
    assert len(files) >= 3
    for file in files:
        pd.read_parquet(file)
    marks = read(tmp_path, "2025-10-11", "positions").query("symbol == 'BTCUSDT'")["mark_price"]
    assert len(marks) >= 60 and sorted(marks) == [60000.0 + k for k in range(len(marks))]


def test_a_folder_that_cannot_be_a_journal_is_an_input_error(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        Journal(a_file)
    with pytest.raises(InputError) as error:
        open_journal(str(a_file / "inside"))
    assert str(error.value).startswith(f"--journal = '{a_file / 'inside'}': cannot write the journal there")


def test_the_portfolio_files_journal_folder_is_relative_to_the_file_and_named_in_errors(tmp_path):
    portfolio = Portfolio.from_data({"account": [], "journal": {"folder": "nights"}}, default_catalogue())
    path = tmp_path / "p.toml"
    journal = open_journal(None, portfolio, path)
    assert journal is not None and journal.folder == tmp_path / "nights"
    journal.close()
    assert open_journal(str(tmp_path / "flag"), portfolio, path).folder == tmp_path / "flag"  # the flag wins
    assert open_journal(None, Portfolio.from_data({"account": []}, default_catalogue()), path) is None
    (tmp_path / "blocked").write_text("")
    blocked = Portfolio.from_data({"account": [], "journal": {"folder": "blocked"}}, default_catalogue())
    with pytest.raises(InputError) as error:
        open_journal(None, blocked, path)
    assert str(error.value) == f"{path}: journal.folder = 'blocked': is a file, not a folder for the journal"
    assert journal_folder("~/j") == Path.home() / "j"


def test_the_contracts_liquidation_flow_reads_back_as_the_state_had_it(tmp_path):
    from adlwatch.engine.events import Liquidation

    m = monitor()
    states = []
    with Journal(tmp_path) as journal:
        for k in range(4):
            t_ms = MIDNIGHT_MS + k * 20_000
            feed(m, t_ms, 62000.0)
            m.apply_many([
                Liquidation(venue="binance", symbol="BTCUSDT", ts=t_ms, side="long", price=62000.0, size=2.0 + k,
                            notional_usd=62000.0 * (2.0 + k)),
                Liquidation(venue="binance", symbol="SOLUSDT", ts=t_ms, side="short", price=150.0, size=10.0,
                            notional_usd=1500.0),  # a contract not held: heard of by its liquidations only
            ])
            state = m.state(t_ms / 1000)
            journal.record(state, t_ms / 1000)
            states.append(state)
    contracts = read(tmp_path, "2025-10-11", "contracts")
    for state in states:
        at = contracts[contracts.time == pd.Timestamp(state.now_ms, unit="ms", tz="UTC")]
        for (venue, symbol), flow in state.liquidation_flows.items():
            (row,) = at[(at.venue == venue) & (at.symbol == symbol)].to_dict("records")
            assert (row["liquidated_long_1m_usd"], row["liquidated_short_1m_usd"], row["liquidated_long_5m_usd"],
                    row["liquidated_short_5m_usd"], row["liquidations_5m"]) == (
                flow.long_1m_usd, flow.short_1m_usd, flow.long_5m_usd, flow.short_5m_usd, flow.count_5m)
            assert same(row["cascade_pressure"], flow.pressure)
    last = contracts[contracts.time == contracts.time.max()]
    btc = last[last.symbol == "BTCUSDT"].iloc[0]
    assert btc["liquidated_long_5m_usd"] == 62000.0 * (2 + 3 + 4 + 5)  # the four events, all within 5 min
    assert btc["liquidated_long_1m_usd"] == 62000.0 * (3 + 4 + 5)  # the last minute: (−60 s, now]
    assert btc["cascade_pressure"] == pytest.approx(btc["liquidated_long_5m_usd"] / 1.0e9)
    assert set(last["symbol"]) >= {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


def test_a_replay_position_between_two_ms_is_journaled_at_the_whole_ms(tmp_path):
    from adlwatch.engine.monitor import ReplayState

    m = monitor()
    feed(m, MIDNIGHT_MS, 62000.0)
    position_ms = MIDNIGHT_MS + 1766.772949  # a replay clock advanced by a wall-clock fraction
    replay = ReplayState(position_ms, MIDNIGHT_MS, MIDNIGHT_MS + 60_000, True, 10.0, False)
    with Journal(tmp_path) as journal:
        journal.record(m.state(position_ms / 1000, replay=replay), position_ms / 1000)
    assert journal.problem is None
    times = set(read(tmp_path, "2025-10-11", "positions")["time"])
    assert times == {pd.Timestamp(MIDNIGHT_MS + 1766, unit="ms", tz="UTC")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(min_value=-2 * 86_400_000, max_value=2 * 86_400_000), min_size=1, max_size=40),
       segment_rows=st.integers(min_value=2, max_value=50))
def test_every_new_second_of_the_clock_is_one_row_set_in_its_utc_days_folder(tmp_path_factory, offsets, segment_rows):
    """Whatever the clock does (seeks back and forth, across days), each call in a new second gives one
    row set, in the folder of its UTC day, and nothing else."""
    from dataclasses import replace

    folder = tmp_path_factory.mktemp("journal")
    m = monitor()
    feed(m, MIDNIGHT_MS, 62000.0)
    state = m.state(MIDNIGHT_MS / 1000)
    expected, last = [], None
    with Journal(folder, flush_s=0.0, segment_rows=segment_rows) as journal:
        for offset in offsets:
            t_ms = MIDNIGHT_MS + offset
            journal.record(replace(state, now_ms=t_ms), t_ms / 1000)
            if t_ms // 1000 != last:
                expected += [t_ms] * len(state.live.positions)
            last = t_ms // 1000
    written = []
    for day in sorted(folder.iterdir()):
        times = read(folder, day.name, "positions")["time"]
        assert all(f"{t:%Y-%m-%d}" == day.name for t in times)
        written += list(times)
    assert sorted(written) == sorted(pd.Timestamp(t, unit="ms", tz="UTC") for t in expected)


def test_a_forced_close_is_journaled_with_its_fill_even_when_it_is_older_than_the_last_alert(tmp_path):
    """A venue's fill time may come before an alert already written (the log is in time order): it is
    journaled all the same, once, with the fill's price, size and what is left."""
    from adlwatch.engine.events import AccountState, ForcedClose, ImportedPosition

    data = {"account": [*PORTFOLIO["account"], {"venue": "bybit", "key_name": "main"}]}
    m = Monitor(Portfolio.from_data(data, default_catalogue()),
                rules=AlertRules(distance_below_pct=5.0, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                                 stale_feed_after_s=None, hold_s=0.0))
    m.apply(AccountState(venue="bybit", symbol="main", ts=MIDNIGHT_MS, settle="USDT", wallet_balance=5000.0,
                         positions=[ImportedPosition(symbol="ETHUSDT", side="short", size=2.0, entry_price=2500.0,
                                                     leverage=10.0, margin_mode="cross")]))
    with Journal(tmp_path) as journal:
        feed(m, MIDNIGHT_MS + 10_000, 58500.0)  # the BTC long within 5 %: fires at 10 s
        m.evaluate(MIDNIGHT_MS / 1000 + 10)
        journal.record(m.state(MIDNIGHT_MS / 1000 + 10), MIDNIGHT_MS / 1000 + 10)
        m.apply(ForcedClose(venue="bybit", symbol="ETHUSDT", ts=MIDNIGHT_MS + 5_000, account="main", side="short",
                            cause="liquidation", price=2790.5, size=1.5, remaining=0.5, detail="execType BustTrade"))
        m.evaluate(MIDNIGHT_MS / 1000 + 12)
        journal.record(m.state(MIDNIGHT_MS / 1000 + 12), MIDNIGHT_MS / 1000 + 12)
        journal.record(m.state(MIDNIGHT_MS / 1000 + 13), MIDNIGHT_MS / 1000 + 13)
    alerts = read(tmp_path, "2025-10-11", "alerts").sort_values("time")
    assert list(alerts["rule"]) == ["forced_close", "liquidation_distance"]
    close = alerts.iloc[0]
    assert close["time"] == pd.Timestamp(MIDNIGHT_MS + 5_000, unit="ms", tz="UTC")
    assert (close["critical"], close["venue"], close["symbol"], close["side"]) == (True, "bybit", "ETHUSDT", "short")
    assert (close["price"], close["size"], close["remaining"]) == (2790.5, 1.5, 0.5)
    assert close["notional_usd"] == pytest.approx(2790.5 * 1.5)
    assert "LIQUIDATED by the venue at 2,790.5" in close["message"]
    assert not alerts.iloc[1]["critical"]


def test_the_contracts_pool_figures_read_back_partial_ratio_and_unvalued_assets_named(tmp_path):
    m = monitor()
    t_ms = MIDNIGHT_MS + 3_600_000
    feed(m, t_ms, 60_000.0)  # ETHUSDT's open interest unknown: BTCUSDT's alone under the pool's fund
    m.apply_many([InsuranceFund(venue="binance", symbol="BTCUSDT", ts=t_ms, symbols=["BTCUSDT", "ETHUSDT"],
                                asset="BNFCR", balance=5.0)])
    journal = Journal(tmp_path, flush_s=3600.0)
    journal.record(m.state(t_ms / 1000), t_ms / 1000)
    journal.close()
    contracts = read(tmp_path, "2025-10-11", "contracts").set_index("symbol")
    btc = contracts.loc["BTCUSDT"]
    assert (btc["fund_members"], btc["fund_members_with_oi"], bool(btc["fund_to_oi_partial"])) == (2, 1, True)
    assert btc["fund_unvalued_assets"] == "BNFCR"
    assert btc["fund_to_oi"] == pytest.approx(1.0e9 / (80_000.0 * 60_000.0))
