"""Symbols the way traders type them: the position form completes over the venue's contracts, says
what a symbol is or which spelling was meant, and explains OKX sizes (contracts vs coin)."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import Input, Label, Select

from adlwatch.engine.instruments import default_catalogue
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.screens.edit import (
    COIN,
    CONTRACTS,
    PositionForm,
    SymbolSuggester,
    size_in_file_unit,
    size_units,
    symbol_note,
)
from tests.cli.test_check_cli import ADLWATCH, MARKS, PORTFOLIO
from tests.portfolio_files import load
from tests.tui.test_app import cell, marks_source, started

OKX_PORTFOLIO = """\
[[account]]
venue = "okx"
wallet_balance = 5000.0

[[account.position]]
symbol = "BTC-USDT-SWAP"
side = "long"
size = 0.5
entry_price = 60000.0
leverage = 10
margin_mode = "cross"
"""


def form(app: AdlwatchApp) -> PositionForm:
    assert isinstance(app.screen, PositionForm)
    return app.screen


def note(app: AdlwatchApp, which: str) -> str:
    return str(form(app).query_one(f"#form-{which}-note", Label).render())


async def type_into(pilot, selector: str, text: str) -> None:
    form(pilot.app).query_one(selector, Input).focus()
    await pilot.press(*text)
    await pilot.pause()


async def test_n_then_bnb_completes_to_bnbusdt_saves_and_check_shows_it_with_its_table_date(tmp_path):
    catalogue = default_catalogue()
    bnb = catalogue.find("binance", "BNBUSDT")
    assert bnb is not None, "the bundled Binance USDⓈ-M snapshot lists BNBUSDT"
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("n")
        await pilot.pause()
        symbol = form(app).query_one("#f-symbol", Input)
        assert symbol.has_focus  # account and venue come preselected: typing starts at the symbol
        await pilot.press("b", "n", "b")
        await pilot.pause()
        assert symbol._suggestion == "BNBUSDT"  # shown dimmed after what was typed
        await pilot.press("right")  # accepts the completion
        assert symbol.value == "BNBUSDT"
        await pilot.pause()
        assert note(app, "symbol").startswith("BNBUSDT: linear, settles USDT")
        assert bnb.as_of in note(app, "symbol")
        await type_into(pilot, "#f-size", "3")
        assert note(app, "size") == "size in BNB"
        await type_into(pilot, "#f-entry_price", "600")
        await type_into(pilot, "#f-leverage", "5")
        await pilot.click("#save")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, PositionForm)
        assert cell(app, 2, "symbol") == "BNBUSDT"
    saved = load(path).accounts[0].positions
    assert [p.symbol for p in saved] == ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    assert saved[2].size == 3.0

    result = subprocess.run([ADLWATCH, "check", "--portfolio", str(path), "--offline", "--json",
                             *(f"--mark={m}" for m in MARKS), "--mark=BNBUSDT=610"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {r["symbol"]: r for r in json.loads(result.stdout)}
    assert rows["BNBUSDT"]["tiers_as_of"] == bnb.as_of
    assert rows["BNBUSDT"]["tiers_source"] == bnb.source
    assert rows["BNBUSDT"]["mark_price"] == 610 and rows["BNBUSDT"]["maintenance_margin"] > 0


async def test_a_mistyped_symbol_is_answered_with_the_venues_own_spelling_and_the_form_stays_open(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("n")
        await pilot.pause()
        await type_into(pilot, "#f-symbol", "BTC-USDT-SWAP")
        assert "did you mean BTCUSDT" in note(app, "symbol")
        for field, text in (("#f-size", "1"), ("#f-entry_price", "60000"), ("#f-leverage", "5")):
            await type_into(pilot, field, text)
        await pilot.click("#save")
        await pilot.pause()
        error = str(form(app).query_one("#form-error", Label).render())
        assert "did you mean BTCUSDT" in error and "is how okx spells it" in error
    assert path.read_text() == PORTFOLIO


async def test_a_symbol_typed_in_lower_case_is_saved_as_the_venue_spells_it(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("n")
        await pilot.pause()
        for field, text in (("#f-symbol", "solusdt"), ("#f-size", "2"), ("#f-entry_price", "150"), ("#f-leverage", "3")):
            await type_into(pilot, field, text)
        await pilot.click("#save")
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert load(path).accounts[0].positions[-1].symbol == "SOLUSDT"


async def test_okx_size_typed_in_contracts_is_shown_and_saved_in_coin_so_10_contracts_are_not_10_btc(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(OKX_PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("n")
        await pilot.pause()
        await type_into(pilot, "#f-symbol", "BTC-USDT-SWAP")
        unit = form(app).query_one("#f-size_unit", Select)
        assert unit.value == CONTRACTS and not unit.disabled  # a new OKX position: contracts, as OKX shows
        await type_into(pilot, "#f-size", "10")
        assert note(app, "size") == "10 contracts × 0.01 BTC = 0.1 BTC (saved in BTC)"
        for field, text in (("#f-entry_price", "60000"), ("#f-leverage", "10")):
            await type_into(pilot, field, text)
        await pilot.click("#save")
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert load(path).accounts[0].positions[-1].size == 0.1


async def test_editing_an_okx_position_shows_its_size_in_coin_with_the_contracts_beside(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(OKX_PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert form(app).query_one("#f-size_unit", Select).value == COIN
        assert note(app, "size").startswith("0.5 BTC = 50 okx contracts (1 contract = 0.01 BTC)")
        await pilot.click("#save")
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert load(path).accounts[0].positions[0].size == 0.5


async def test_completion_follows_the_venue_chosen_for_a_new_account(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    app = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("n")
        await pilot.pause()
        form(app).query_one("#f-account", Select).value = "None"
        form(app).query_one("#f-venue", Select).value = "okx"
        await pilot.pause()
        await type_into(pilot, "#f-symbol", "eth")
        assert form(app).query_one("#f-symbol", Input)._suggestion == "ETH-USDT-SWAP"


@pytest.mark.parametrize(("venue", "typed", "expected"), [
    ("binance", "bnb", "BNBUSDT"),
    ("binance", "btc", "BTCUSDT"),
    ("binance", "BTCUSD_", "BTCUSD_PERP"),
    ("okx", "btc", "BTC-USDT-SWAP"),
    ("okx", "btc-usd-", "BTC-USD-SWAP"),
    ("hyperliquid", "e", "ETH"),
    ("binance", "zzzq", None),
])
async def test_suggester_prefers_the_plain_usdt_perpetual_of_the_coin(venue, typed, expected):
    catalogue = default_catalogue()
    suggester = SymbolSuggester(i for i in catalogue if i.venue == venue)
    assert await suggester.get_suggestion(typed.casefold()) == expected


def test_symbol_note_says_what_the_contract_is_or_the_closest_spellings():
    catalogue = default_catalogue()
    assert symbol_note(catalogue, "okx", "BTCUSDT").endswith("did you mean BTC-USDT-SWAP · BTC-USD-SWAP?")
    assert symbol_note(catalogue, "okx", "BTC-USD-SWAP").startswith("BTC-USD-SWAP: inverse, 100 USD a contract, settles BTC")
    assert symbol_note(catalogue, "binance", "") == ""


@given(contracts=st.integers(min_value=1, max_value=10**7))
def test_contracts_times_ct_val_is_the_coin_size_without_float_noise(contracts):
    okx = default_catalogue().get("okx", "ETH-USDT-SWAP")  # ctVal 0.1
    coin = size_in_file_unit(okx, float(contracts), CONTRACTS)
    assert coin == pytest.approx(contracts * 0.1, rel=1e-12)
    assert repr(coin) == repr(float(f"{contracts / 10:.12g}"))
    assert size_in_file_unit(okx, 1.5, COIN) == 1.5


def test_size_units_are_coin_for_linear_contracts_for_inverse_and_both_for_okx_swaps():
    catalogue = default_catalogue()
    assert size_units(catalogue.get("binance", "BTCUSDT")) == [("coin", COIN)]
    assert size_units(catalogue.get("okx", "BTC-USDT-SWAP")) == [("coin", COIN), ("contracts", CONTRACTS)]
    assert size_units(catalogue.get("okx", "BTC-USD-SWAP")) == [("contracts", CONTRACTS)]
    inverse = catalogue.get("okx", "BTC-USD-SWAP")
    assert size_in_file_unit(inverse, 7.0, CONTRACTS) == 7.0  # inverse sizes are contracts in the file too
