"""The ``i`` screen's what-ifs (engine/risk.py ``quantile_what_ifs``): the same quantiles as editing the
portfolio file would give, and a followed account's positions (which the file does not hold) changed
the same way (pressing ``i`` on one used to stop the monitor)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AccountState, ImportedPosition
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio, with_account_states, with_position, with_wallet
from adlwatch.engine.risk import EngineInputs, compute_snapshot, quantile_what_ifs

CATALOGUE = default_catalogue()


def manual(margin_mode: str, mark: float) -> tuple[Portfolio, EngineInputs]:
    position = {"symbol": "BTCUSDT", "side": "short", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
                "margin_mode": margin_mode}
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "wallet_balance": 4_000.0,
                                                  "position": [position]}]}, CATALOGUE)
    return portfolio, EngineInputs(portfolio=portfolio, marks={("binance", "BTCUSDT"): mark})


def through_the_file(inputs: EngineInputs) -> list[int | None]:
    """The quantiles as the file path would give them: each change written as data and read back."""
    portfolio = inputs.portfolio
    acct = portfolio.accounts[0]
    position = acct.positions[0]
    data = position.to_data()

    def quantile(changed: Portfolio) -> int | None:
        return compute_snapshot(replace(inputs, portfolio=changed)).positions[0].adl_quantile

    risk = compute_snapshot(inputs).positions[0]
    out = [risk.adl_quantile]
    margin = position.isolated_margin if position.isolated else acct.wallet_balance
    for share in (0.25, 1.0):
        if position.isolated:
            out.append(quantile(with_position(portfolio, 0, 0, {**data, "isolated_margin": margin * (1 + share)})))
        else:
            out.append(quantile(with_wallet(portfolio, 0, acct.wallet_balance + margin * share)))
    for cut in (0.25, 0.5):
        smaller = {**data, "size": position.size * (1 - cut)}
        if position.isolated:
            smaller["isolated_margin"] = position.isolated_margin * (1 - cut)
        out.append(quantile(with_position(portfolio, 0, 0, smaller)))
    if risk.unrealized_pnl > 0:
        half = {**data, "size": position.size / 2}
        if position.isolated:
            half["isolated_margin"] = position.isolated_margin / 2
            out.append(quantile(with_position(portfolio, 0, 0, half)))
        else:
            out.append(quantile(with_wallet(with_position(portfolio, 0, 0, half), 0,
                                            acct.wallet_balance + risk.unrealized_pnl / 2)))
    return out


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["cross", "isolated"]), mark=st.floats(40_000.0, 64_000.0))
def test_the_what_ifs_are_the_quantiles_editing_the_file_would_give(mode, mark):
    _, inputs = manual(mode, mark)
    assert [q for _, q in quantile_what_ifs(inputs, 0, 0)] == through_the_file(inputs)


@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_a_followed_accounts_position_has_its_what_ifs(mode):
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"}]}, CATALOGUE)
    isolated = {"isolated_margin": 3_000.0} if mode == "isolated" else {}
    state = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=4_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="short", size=0.5, entry_price=60_000.0, leverage=10,
                         margin_mode=mode, mark_price=55_000.0, **isolated)])
    imported = with_account_states(portfolio, [state])
    inputs = EngineInputs(portfolio=imported, marks={("binance", "BTCUSDT"): 55_000.0})
    what_ifs = quantile_what_ifs(inputs, 0, 0)
    assert [label.split()[0] for label, _ in what_ifs] == ["now", "add", "add", "reduce", "reduce", "take"]
    assert all(q is not None and 1 <= q <= 5 for _, q in what_ifs)
    # Adding margin never raises the estimate of a profitable short.
    now, add_quarter, add_all = (q for _, q in what_ifs[:3])
    assert add_all <= add_quarter <= now
