"""The formats of the position panel's figures: coin amounts keep their digits (issue 16), funding
rates in percent, the countdown to the next funding."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from adlwatch.tui import format as fmt
from adlwatch.tui.app import AdlwatchApp
from tests.portfolio_files import parse
from tests.tui.test_app import cell, started
from tests.tui.test_issue15_screen import PORTFOLIO, T_MS, Clock, marks


@given(st.floats(1e-8, 1e6), st.sampled_from(["BTC", "ETH", "AVAX"]), st.booleans(), st.booleans())
def test_a_coin_amount_reads_back_within_four_significant_digits_and_never_as_zero(x, coin, negative, signed):
    x = -x if negative else x
    text = fmt.settle_amount(x, coin, signed=signed)
    assert "e" not in text.lower()
    back = float(text.replace(",", ""))
    assert back != 0 and abs(back - x) <= abs(x) * 5e-4
    assert text.startswith("+") == (signed and x > 0)


@given(st.floats(-1e9, 1e9, allow_nan=False).filter(lambda v: abs(v) >= 0.005))
def test_a_stablecoin_amount_reads_in_cents(x):
    text = fmt.settle_amount(x, "USDT")
    assert re.fullmatch(r"-?[\d,]+\.\d\d", text)
    assert abs(float(text.replace(",", "")) - x) <= 0.005 + 1e-9 * abs(x)


def test_the_issue_16_example_a_coin_settled_change_of_0_0035_btc():
    assert fmt.settle_amount(0.0035, "BTC", signed=True) == "+0.003500"
    assert fmt.settle_amount(-0.0035, "BTC", signed=True) == "-0.003500"


def test_funding_rates_read_in_percent_with_their_sign():
    assert fmt.rate_pct(0.0001) == "+0.0100%"
    assert fmt.rate_pct(-0.00375) == "-0.3750%"
    assert fmt.rate_pct(None) == "--"


@given(st.integers(1, 3_599))
def test_under_an_hour_the_countdown_is_minutes_and_seconds(seconds):
    text = fmt.countdown(seconds + 0.7)
    minutes, secs = re.fullmatch(r"(\d\d):(\d\d)", text).groups()
    assert int(minutes) * 60 + int(secs) == seconds


@given(st.integers(3_600, 8 * 3_600 * 3))
def test_from_an_hour_the_countdown_is_hours_and_minutes(seconds):
    hours, minutes = re.fullmatch(r"(\d+)h(\d\d)m", fmt.countdown(seconds)).groups()
    assert int(hours) * 3600 + int(minutes) * 60 == seconds - seconds % 60


async def test_a_what_if_change_of_a_coin_settled_upnl_keeps_its_digits():
    app = AdlwatchApp(parse(PORTFOLIO), marks(), clock=Clock(T_MS / 1000))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.query_one("PositionsTable").move_cursor(1)  # the inverse short, settled in BTC
        await pilot.pause()
        await pilot.press("minus")  # −1 %: the short gains about 0.002 BTC
        await pilot.pause()
        change = app.view.what_if_changes[(1, 0)].unrealized_pnl
        assert 0 < change < 0.01
        assert cell(app, 1, "d_upnl") == fmt.settle_amount(change, "BTC", signed=True)
        assert cell(app, 1, "d_upnl") not in ("+0.00", "0.00", "+0")
