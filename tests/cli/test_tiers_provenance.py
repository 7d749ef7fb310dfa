"""Every figure says what tier table it stands on: check --json's tiers_as_of / tiers_source, and the
† beside a liquidation price whose table is older than 30 days, unverified or undated (check's table
and the monitor's positions table)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.snapshot import DAY_MS, TIERS_STALE_AFTER_DAYS, as_of_ms
from adlwatch.tui.check import CONTRACT_FIELDS, STALE_MARK, run_check
from tests.cli.test_check_cli import MARKS, PORTFOLIO
from tests.portfolio_files import parse

OVERRIDE = PORTFOLIO.replace('margin_mode = "isolated"', 'margin_mode = "isolated"\nmmr = 0.01')


def check(tmp_path, text: str, *args: str, now_ms: int | None = None, as_json: bool = True):
    path = tmp_path / "portfolio.toml"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = run_check(path, [*MARKS, *args], None, True, as_json, None, out=out, err=err, now_ms=now_ms)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue()) if as_json else out.getvalue()


def ms(date: str) -> int:
    return int(datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp() * 1000)


def test_check_json_names_each_positions_table_and_keeps_the_contract_fields_first(tmp_path):
    catalogue = default_catalogue()
    rows = check(tmp_path, PORTFOLIO)
    for row in rows:
        inst = catalogue.get(row["venue"], row["symbol"])
        assert list(row)[: len(CONTRACT_FIELDS)] == list(CONTRACT_FIELDS)
        assert row["tiers_as_of"] == inst.as_of
        assert row["tiers_source"] == inst.source
        assert row["tiers_verified"] is inst.verified


def test_an_mmr_override_stands_on_the_portfolio_not_a_dated_table(tmp_path):
    rows = check(tmp_path, OVERRIDE)
    eth = next(r for r in rows if r["symbol"] == "ETHUSDT")
    assert eth["tiers_source"] == "portfolio override"
    assert eth["tiers_as_of"] is None
    assert eth["tiers_stale"] is False


def test_a_verified_table_turns_stale_after_30_days_at_the_checks_clock(tmp_path):
    hyperliquid_btc = default_catalogue().get("hyperliquid", "BTC")
    assert hyperliquid_btc.verified and as_of_ms(hyperliquid_btc.as_of) is not None
    dated = as_of_ms(hyperliquid_btc.as_of)

    def hyperliquid_row(now_ms):
        return next(r for r in check(tmp_path, PORTFOLIO, now_ms=now_ms) if r["venue"] == "hyperliquid")

    assert hyperliquid_row(dated + TIERS_STALE_AFTER_DAYS * DAY_MS)["tiers_stale"] is False
    assert hyperliquid_row(dated + TIERS_STALE_AFTER_DAYS * DAY_MS + 1)["tiers_stale"] is True


def test_check_table_marks_the_liquidation_price_of_an_unverified_table_and_names_the_table(tmp_path):
    catalogue = default_catalogue()
    btc = catalogue.get("binance", "BTCUSDT")
    hyperliquid_btc = catalogue.get("hyperliquid", "BTC")
    assert not btc.verified and hyperliquid_btc.verified
    fresh = as_of_ms(hyperliquid_btc.as_of) + DAY_MS
    text = check(tmp_path, PORTFOLIO, now_ms=fresh, as_json=False)
    lines = text.splitlines()
    btc_line = next(line for line in lines if line.startswith("binance") and " BTCUSDT " in line)
    hl_line = next(line for line in lines if line.startswith("hyperliquid"))
    assert f" {STALE_MARK} " in btc_line
    assert STALE_MARK not in hl_line
    assert f"binance BTCUSDT, ETHUSDT: as of {btc.as_of}, unverified ({btc.source})" in text
    # The liquidation column stays aligned: a fresh row's price is padded where the mark would be.
    liq_end = btc_line.index(f" {STALE_MARK}")
    header = lines[0]
    assert header.index("liq. price") + len("liq. price") == liq_end + 2


def test_a_table_with_nothing_stale_is_printed_as_before(tmp_path):
    hyperliquid_only = PORTFOLIO[PORTFOLIO.index("[[account]]\nvenue = \"hyperliquid\""):]
    dated = as_of_ms(default_catalogue().get("hyperliquid", "BTC").as_of)
    text = check(tmp_path, hyperliquid_only, now_ms=dated + DAY_MS, as_json=False)
    assert STALE_MARK not in text
    assert "tier table" not in text


@given(day=st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2100, 1, 1).date()),
       hours=st.integers(0, 23))
def test_as_of_reads_a_date_or_a_utc_time(day, hours):
    midnight = ms(day.isoformat())
    assert as_of_ms(day.isoformat()) == midnight
    stamp = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hours)
    assert as_of_ms(stamp.isoformat().replace("+00:00", "Z")) == midnight + hours * 3_600_000


@pytest.mark.parametrize("text", ["", "undated", "2026-13-40", None])
def test_as_of_without_a_date_is_none(text):
    assert as_of_ms(text) is None


async def test_the_monitor_marks_a_position_on_an_unverified_table_beside_its_liquidation_price():
    from adlwatch.tui.app import AdlwatchApp
    from tests.tui.test_app import cell, marks_source, started

    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        positions = app.monitor.live().positions
        assert not positions[0].tiers_verified  # binance BTCUSDT: a third party's copy
        assert cell(app, 0, "liq").endswith(f" {STALE_MARK}")
        now_ms = app.view.now_ms
        for row, p in enumerate(positions):
            assert cell(app, row, "liq").endswith(STALE_MARK) == p.tiers_stale(now_ms)


def test_a_followed_accounts_own_brackets_are_current_and_a_third_partys_table_is_not():
    from dataclasses import replace

    from adlwatch.engine.accounts import tier_provenance
    from adlwatch.engine.portfolio import VenueReport

    position = parse(PORTFOLIO).accounts[0].positions[0]
    table = tier_provenance(position)
    assert table["tiers_as_of"] == position.instrument.as_of and table["tiers_verified"] is False
    own = tier_provenance(replace(position, reported=VenueReport(brackets_from_account=True),
                                  instrument=replace(position.instrument, verified=True,
                                                     source="the account's own brackets (venue)")))
    assert own == {"tiers_as_of": None, "tiers_source": "the account's own brackets (venue)",
                   "tiers_verified": True, "tiers_as_of_ms": None}
