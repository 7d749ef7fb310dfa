"""Followed accounts: the user's real positions, read-only, from the venues.

Each venue's follower lives in its folder, ``feeds/venues/<venue>/account.py`` (Binance, Bybit, OKX
with a read-only API key, through ``signed.py`` here; Hyperliquid by public address), and the venue
declares which (``Venue.signed_rules`` or ``Venue.follower``). Every follower has the same shape as a market feed: an object
with ``venue``, ``ref`` (the account's reference: address or key label), ``label`` and
``async run(emit)`` that emits ``AccountState`` events (engine/events.py) and ``FeedStatus`` events
(``venue``, ``symbol = "account:<ref>"``) for connection problems, a rejected key or a key with
trading rights. It never raises out of ``run`` for a venue problem, and it never places, amends
or cancels an order: the only requests it can make are the read endpoints listed in its module.

Keys come from feeds/keys.py (environment or OS keyring), never from the portfolio file, and are
never logged, recorded or put in an error message.
"""

from __future__ import annotations

from typing import Any

from adlwatch.engine.events import Event
from adlwatch.feeds import registry
from adlwatch.feeds.accounts.follower import AccountFollower
from adlwatch.feeds.transport import url_override


def followers_for(portfolio: Any, *, rest_urls: dict[str, str] | None = None,
                  ws_urls: dict[str, str] | None = None, env: dict[str, str] | None = None,
                  **options: Any) -> list[AccountFollower]:
    """One follower per followed account of the portfolio (``address`` or ``key_name``).

    URLs default to each venue's own (``ADLWATCH_<VENUE>_REST_URL`` / ``_WS_URL`` override them).
    """
    out: list[AccountFollower] = []
    for account in portfolio.accounts:
        if not account.followed:
            continue
        venue = account.venue
        rest_url = (rest_urls or {}).get(venue) or url_override(venue, "REST")
        ws_url = (ws_urls or {}).get(venue) or url_override(venue, "WS")
        known = registry.get_venue(venue)
        if known.signed_rules is not None:
            from adlwatch.feeds.accounts.signed import signed_follower

            siblings = frozenset(other.settle for other in portfolio.accounts
                                 if other is not account and other.followed and other.venue == venue
                                 and other.key_name == account.key_name)
            out.append(signed_follower(venue, account.key_name, ref=account.ref, settle=account.follow_settle,
                                       followed_elsewhere=siblings, rest_url=rest_url, env=env, **options))
        elif known.follower is not None:
            out.append(known.follower()(account, rest_url=rest_url, ws_url=ws_url, env=env, **options))
        else:
            raise ValueError(f"{venue} accounts cannot be followed")
    return out


async def fetch_followed(followers: list[AccountFollower], timeout: float = 10.0) -> tuple[list[Event], list[str]]:
    """One report of every followed account (``adlwatch check``): the ``AccountState`` events, and
    one line per account that could not be read (unreachable venue, key missing or rejected)."""
    import asyncio

    async def one(follower: AccountFollower) -> list[Event]:
        return await asyncio.wait_for(follower.fetch(), timeout)

    results = await asyncio.gather(*(one(f) for f in followers), return_exceptions=True)
    states: list[Event] = []
    problems: list[str] = []
    for follower, result in zip(followers, results, strict=True):
        if isinstance(result, TimeoutError):
            problems.append(f"{follower.label}: no answer within {timeout:g} s")
            continue
        if isinstance(result, BaseException):
            # A follower must not raise; if one does, say which and never print the exception's
            # arguments (they could hold a request with a key in it).
            problems.append(f"{follower.label}: failed ({type(result).__name__})")
            continue
        got = [e for e in result if e.kind == "account_state"]
        states.extend(got)
        if not got:
            details = [e.detail for e in result if e.kind == "status" and e.state in ("error", "disconnected")]
            detail = details[0] if details else "no account state reported"
            problems.append(detail if detail.startswith(follower.label) else f"{follower.label}: {detail}")
    return states, problems
