"""The portfolio file: parse, validate, and saves that never lose the user's text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.errors import InputError
from adlwatch.feeds import portfolio_store
from tests import portfolio_files
from tests.cli.test_check_cli import PORTFOLIO


def test_save_round_trips_and_keeps_one_backup(tmp_path: Path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    portfolio = portfolio_files.load(path)
    portfolio_store.save(portfolio, path)
    assert portfolio_files.load(path) == portfolio
    assert (tmp_path / "portfolio.toml.bak").read_text() == PORTFOLIO
    # A second save replaces the backup with the previous saved text, still just one backup.
    saved = path.read_text()
    portfolio_store.save(portfolio, path)
    assert (tmp_path / "portfolio.toml.bak").read_text() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portfolio.toml", "portfolio.toml.bak"]


def test_save_refuses_to_overwrite_a_broken_file(tmp_path: Path):
    path = tmp_path / "portfolio.toml"
    broken = PORTFOLIO.replace("size = 0.5", "size = 'half'")
    path.write_text(broken)
    good = portfolio_files.parse(PORTFOLIO)
    with pytest.raises(InputError) as err:
        portfolio_store.save(good, path)
    assert "account[0].position[0].size" in str(err.value)
    assert path.read_text() == broken
    assert not (tmp_path / "portfolio.toml.bak").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["portfolio.toml"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    portfolio = portfolio_files.load(path)

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        portfolio_store.save(portfolio, path)
    assert path.read_text() == PORTFOLIO
    assert [p.name for p in tmp_path.iterdir()] == ["portfolio.toml"]


def test_save_creates_the_folder_for_a_new_file(tmp_path: Path):
    path = tmp_path / "config" / "adlwatch" / "portfolio.toml"
    portfolio = portfolio_files.parse(PORTFOLIO)
    portfolio_store.save(portfolio, path)
    assert portfolio_files.load(path) == portfolio


def test_default_path_is_in_the_user_config_folder():
    path = portfolio_store.default_path()
    assert path.name == "portfolio.toml" and "adlwatch" in str(path)


def test_isolated_margin_defaults_to_entry_notional_over_leverage():
    text = PORTFOLIO.replace("isolated_margin = 2500.0\n", "")
    position = portfolio_files.parse(text).accounts[0].positions[1]
    assert position.isolated_margin == pytest.approx(4.0 * 3000.0 / 5)


def test_mmr_override_replaces_the_tier_table():
    text = PORTFOLIO.replace("leverage = 5\n", "leverage = 5\nmmr = 0.02\nmaint_amount = 10.0\n")
    position = portfolio_files.parse(text).accounts[0].positions[1]
    assert len(position.instrument.tiers) == 1
    assert position.instrument.tiers[0].mmr == 0.02 and position.instrument.tiers[0].maint_amount == 10.0


def test_mixed_settlement_assets_in_one_account_are_refused():
    text = PORTFOLIO.replace('symbol = "ETHUSDT"', 'symbol = "BTCUSD_PERP"')
    with pytest.raises(InputError, match="settle"):
        portfolio_files.parse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_either_parses_or_raises_input_error(text):
    try:
        portfolio_files.parse(text, "fuzz.toml")
    except InputError as err:
        assert str(err).startswith("fuzz.toml")


def test_a_contract_without_a_tier_table_asks_for_mmr_and_accepts_it():
    text = PORTFOLIO.replace('[[account]]\nvenue = "hyperliquid"', '[[account]]\nvenue = "bybit"').replace(
        'symbol = "BTC"\n', 'symbol = "SOLUSDT"\n')
    with pytest.raises(InputError) as err:
        portfolio_files.parse(text, "p.toml")
    assert "account[1].position[0].mmr" in str(err.value)
    assert "no sourced tier table for bybit SOLUSDT" in str(err.value)
    fixed = text.replace("leverage = 20\n", "leverage = 20\nmmr = 0.01\n")
    position = portfolio_files.parse(fixed).accounts[1].positions[0]
    assert position.instrument.tiers[0].mmr == 0.01


FOLLOWED = """[alerts]
distance_below_pct = 4.0
desktop = false

[[account]]
venue = "hyperliquid"
address = "0x0123456789abcdef0123456789abcdef01234567"
hedges = { BTC = "btc-basis" }

[[account]]
venue = "binance"
key_name = "main"
alert_below_pct = 8.0

[[account]]
venue = "binance"
wallet_balance = 1000.0

[[account.position]]
symbol = "BTCUSDT"
side = "short"
size = 0.1
entry_price = 60000.0
leverage = 5
hedge = "btc-basis"
"""


def test_followed_accounts_alerts_and_hedges_round_trip_through_the_file(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text(FOLLOWED)
    portfolio = portfolio_files.load(path)
    portfolio_store.save(portfolio, path)
    again = portfolio_files.load(path)
    assert again == portfolio
    assert again.alerts == {"distance_below_pct": 4.0, "desktop": False}
    assert again.accounts[0].hedges == (("BTC", "btc-basis"),) and again.accounts[1].key_name == "main"
    assert again.accounts[2].positions[0].hedge == "btc-basis"


def test_a_bad_alert_rule_names_the_file_line_and_field(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text(FOLLOWED.replace("distance_below_pct = 4.0", "distance_below_pct = \"low\""))
    with pytest.raises(InputError) as caught:
        portfolio_files.load(path)
    text = str(caught.value)
    assert f"{path}:2:" in text and "alerts.distance_below_pct" in text and "'low'" in text


# -- issue 14 item 8: the live file is never removed; stale temp files; mode; two monitors -------


def test_a_save_interrupted_before_the_new_file_lands_still_leaves_the_live_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    portfolio = portfolio_files.load(path)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == path:  # the last step: the process dies here
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        portfolio_store.save(portfolio, path)
    assert path.read_text() == PORTFOLIO


def test_load_removes_temp_files_a_killed_save_left(tmp_path: Path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    (tmp_path / ".portfolio.toml.abc123.tmp").write_text("half a fi")
    (tmp_path / ".portfolio.toml.abc123.bak.tmp").write_text(PORTFOLIO)
    (tmp_path / "notes.tmp").write_text("not ours")
    portfolio_files.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "portfolio.toml"]


def test_load_leaves_the_temp_file_of_a_save_in_flight(tmp_path: Path):
    import fcntl

    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    busy = tmp_path / ".portfolio.toml.live42.tmp"
    busy.write_text("being written")
    with open(busy) as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another process's save, not finished
        portfolio_files.load(path)
        assert busy.exists()
    portfolio_files.load(path)
    assert not busy.exists()


def test_save_keeps_the_files_mode(tmp_path: Path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    path.chmod(0o640)
    portfolio_store.save(portfolio_files.load(path), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_save_over_a_file_changed_since_it_was_read_is_refused_and_loses_nothing(tmp_path: Path):
    from adlwatch.engine.portfolio import with_wallet

    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    ours = portfolio_files.load(path)
    # Another monitor (another process) saves its own edit meanwhile.
    theirs = PORTFOLIO.replace("wallet_balance = 10000.0", "wallet_balance = 777.0")
    path.write_text(theirs)
    with pytest.raises(InputError) as err:
        portfolio_store.save(with_wallet(ours, 0, 5.0), path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)) and "changed on disk" in message
    assert path.read_text() == theirs
    # Read again, the same edit saves.
    again = portfolio_files.load(path)
    portfolio_store.save(with_wallet(again, 0, 5.0), path)
    assert portfolio_files.load(path).accounts[0].wallet_balance == 5.0


def test_successive_saves_of_one_monitor_are_not_refused(tmp_path: Path):
    from adlwatch.engine.portfolio import with_wallet

    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    portfolio = portfolio_files.load(path)
    for wallet in (1.0, 2.0, 3.0):
        portfolio = with_wallet(portfolio, 0, wallet)
        portfolio_store.save(portfolio, path)
    assert portfolio_files.load(path).accounts[0].wallet_balance == 3.0


# -- issue 14 item 9: comments and layout survive an edit from the monitor ------------------------

COMMENTED = """# My book. These notes must survive the monitor's saves.

[[account]]  # the main binance account
venue = "binance"
wallet_balance = 10000.0   # topped up in March

# the core long
[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.5
entry_price = 60000.0
leverage = 10  # never more
margin_mode = "cross"

[[account.position]]
symbol = "ETHUSDT"   # hedge leg
side = "short"
size = 4.0
entry_price = 3000.0
leverage = 5
margin_mode = "isolated"
isolated_margin = 2500.0

# Hyperliquid, the small one
[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0  # HL wallet

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.1
entry_price = 61000.0
leverage = 20    # aligned on purpose
margin_mode = "cross"
"""


def _lines_kept(before: str, after: str, *, except_: tuple[str, ...] = ()) -> None:
    for line in before.splitlines():
        if line.strip() and not any(word in line for word in except_):
            assert line in after.splitlines(), f"lost: {line!r}\n---\n{after}"


def test_editing_from_the_monitor_keeps_comments_and_layout(tmp_path: Path):
    from adlwatch.engine import portfolio as edits

    path = tmp_path / "portfolio.toml"
    path.write_text(COMMENTED)
    portfolio = portfolio_files.load(path)

    portfolio = edits.with_wallet(portfolio, 0, 12345.0)
    portfolio_store.save(portfolio, path)
    text = path.read_text()
    assert "wallet_balance = 12345.0   # topped up in March" in text
    _lines_kept(COMMENTED, text, except_=("wallet_balance = 10000.0",))

    portfolio = edits.with_leverage(portfolio, 0, 1, 4)
    portfolio = edits.with_isolated_margin_change(portfolio, 0, 1, 100.0)
    portfolio_store.save(portfolio, path)
    text = path.read_text()
    _lines_kept(COMMENTED, text, except_=("wallet_balance = 10000.0", "leverage = 5", "isolated_margin"))

    new = {"symbol": "ETHUSDT", "side": "long", "size": 1.0, "entry_price": 2000.0, "leverage": 3}
    portfolio = edits.with_position(portfolio, 1, None, {**new, "symbol": "ETH"})
    portfolio_store.save(portfolio, path)
    portfolio = edits.without_position(portfolio, 0, 1)  # the hedge leg goes
    portfolio_store.save(portfolio, path)
    text = path.read_text()
    assert portfolio_files.load(path) == portfolio
    _lines_kept(COMMENTED, text, except_=("wallet_balance = 10000.0", "leverage = 5", "isolated_margin",
                                          "ETHUSDT", "size = 4.0", "entry_price = 3000.0", 'margin_mode = "isolated"',
                                          'side = "short"'))
    assert "hedge leg" not in text and 'symbol = "ETH"' in text
    assert text.startswith("# My book. These notes must survive the monitor's saves.\n")


def test_a_new_account_is_added_below_the_users_text(tmp_path: Path):
    from adlwatch.engine import portfolio as edits

    path = tmp_path / "portfolio.toml"
    path.write_text(COMMENTED)
    portfolio = portfolio_files.load(path)
    position = {"symbol": "BTCUSDT", "side": "long", "size": 0.01, "entry_price": 60000.0, "leverage": 2}
    portfolio = edits.with_position(portfolio, None, None, position, venue="binance")
    portfolio_store.save(portfolio, path)
    text = path.read_text()
    assert text.startswith(COMMENTED)
    assert portfolio_files.load(path) == portfolio
    portfolio_store.save(edits.remove_account(portfolio, 2), path)
    assert path.read_text().rstrip() == COMMENTED.rstrip()


def test_a_first_position_and_its_removal_keep_the_comment_above_the_next_account(tmp_path: Path):
    from adlwatch.engine import portfolio as edits

    text = FOLLOWED.replace('[[account]]\nvenue = "binance"\nwallet_balance', "# the manual one, kept by hand\n"
                            '[[account]]\nvenue = "binance"\nwallet_balance').replace(
        '[[account]]\nvenue = "binance"\nkey_name', '[[account]]  # read-only key\nvenue = "binance"\nkey_name')
    path = tmp_path / "portfolio.toml"
    path.write_text(text)
    portfolio = edits.without_position(portfolio_files.load(path), 2, 0)
    portfolio_store.save(portfolio, path)
    saved = path.read_text()
    assert "position" not in saved and "# the manual one, kept by hand\n[[account]]" in saved
    assert "[[account]]  # read-only key" in saved and 'hedges = { BTC = "btc-basis" }' in saved
    position = {"symbol": "ETHUSDT", "side": "long", "size": 1.0, "entry_price": 2000.0, "leverage": 3}
    portfolio = edits.with_position(portfolio, 2, None, position)
    portfolio_store.save(portfolio, path)
    assert portfolio_files.load(path) == portfolio
    assert "# the manual one, kept by hand\n[[account]]" in path.read_text()


async def test_the_monitor_shows_a_refused_save_in_one_line_and_the_other_change_stays(tmp_path: Path):
    from adlwatch.engine.portfolio import with_wallet
    from tests.tui.test_app import app_on_file, started

    path, app = app_on_file(tmp_path)
    theirs = path.read_text().replace("wallet_balance = 10000.0", "wallet_balance = 777.0")
    shown: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.notify = lambda message, **kw: shown.append(str(message))  # type: ignore[method-assign]
        path.write_text(theirs)  # another monitor saved meanwhile
        app.set_portfolio(with_wallet(app.portfolio, 0, 5.0))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    assert path.read_text() == theirs
    refused = [m for m in shown if "changed on disk" in m]
    assert len(refused) == 1 and "\n" not in refused[0] and refused[0].startswith("NOT saved")


EDITS = st.lists(st.tuples(st.sampled_from(["wallet", "leverage", "add", "remove", "new_account", "drop_account"]),
                           st.integers(0, 10), st.integers(0, 10), st.floats(1.0, 50.0)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(EDITS)
def test_any_sequence_of_monitor_edits_saves_in_place_and_reads_back(tmp_path_factory, edits_):
    from adlwatch.engine import portfolio as edits

    path = tmp_path_factory.mktemp("edits") / "portfolio.toml"
    path.write_text(COMMENTED)
    portfolio = portfolio_files.load(path)
    for kind, a, p, x in edits_:
        accounts = list(range(len(portfolio.accounts)))
        if not accounts and kind != "new_account":
            continue
        acc = accounts[a % len(accounts)] if accounts else 0
        positions = len(portfolio.accounts[acc].positions) if accounts else 0
        venue = portfolio.accounts[acc].venue if accounts else "binance"
        symbol = "BTC" if venue == "hyperliquid" else "BTCUSDT"
        row = {"symbol": symbol, "side": "long", "size": round(x / 10, 3), "entry_price": 1000.0 * x, "leverage": 2}
        if kind == "wallet":
            portfolio = edits.with_wallet(portfolio, acc, round(x * 100, 2))
        elif kind == "leverage" and positions:
            portfolio = edits.with_leverage(portfolio, acc, p % positions, round(x / 10 + 1, 1))
        elif kind == "add":
            portfolio = edits.with_position(portfolio, acc, None, row)
        elif kind == "remove" and positions:
            portfolio = edits.without_position(portfolio, acc, p % positions)
        elif kind == "new_account":
            portfolio = edits.with_position(portfolio, None, None, {**row, "symbol": "ETHUSDT"}, venue="binance")
        elif kind == "drop_account":
            portfolio = edits.remove_account(portfolio, acc)
        portfolio_store.save(portfolio, path)
        assert portfolio_files.load(path) == portfolio
        # Edited in place, never rewritten whole: the file's first comment is still there.
        assert path.read_text().startswith("# My book. These notes must survive the monitor's saves.\n")
