"""OKX's public tier tables: ``GET /api/v5/public/position-tiers`` (research/exchanges.md §3.2;
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers). ``minSz``/``maxSz`` are
contracts for perpetuals. ``fetch_universe`` and ``lookup`` read every perpetual swap (instruments
merged with each family's position tiers, below)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adlwatch.engine.instruments import Catalogue, Instrument, Kind, Status, build_tiers, default_catalogue
from adlwatch.feeds.tier_rows import (
    Fetched,
    Fetcher,
    Row,
    TierSource,
    bundled,
    chain,
    load_json,
    now_iso,
    number,
    tidy,
    url,
)

POSITION_TIERS_PATH = "/api/v5/public/position-tiers"


def okx_family(symbol: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTC-USDT`` (the instrument family position-tiers is asked by)."""
    return symbol[: -len("-SWAP")] if symbol.upper().endswith("-SWAP") else symbol


def parse_okx_position_tiers(body: Any, inst_family_to_symbol: Mapping[str, str],
                             ct_val: Mapping[str, float]) -> dict[str, list[Row]]:
    """``{symbol: rows}`` from one ``/api/v5/public/position-tiers`` body (instType SWAP).

    ``minSz``/``maxSz`` are contracts; ``ct_val[symbol]`` converts them to the instrument's tier
    unit: the contract value ``ctVal`` (base units per contract) for linear swaps, whose bundled
    tiers are in base units, and 1 for inverse swaps, whose tiers stay in contracts. Each floor is
    the previous tier's cap (older tables start the next tier one contract above it). Rows whose
    family is not in ``inst_family_to_symbol`` are ignored.
    """
    doc = load_json(body, "okx")
    if not isinstance(doc, dict):
        raise ValueError("okx: body is not a JSON object")
    if doc.get("code") not in ("0", 0):
        raise ValueError(f"okx: code {doc.get('code')!r:.40} ({str(doc.get('msg', ''))[:80]})")
    data = doc.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("okx: body has no data list of objects")
    grouped: dict[str, list[tuple[int, float, float, float]]] = {}
    for item in data:
        family = item.get("instFamily") or item.get("uly")
        if not isinstance(family, str) or family not in inst_family_to_symbol:
            continue
        symbol = inst_family_to_symbol[family]
        what = f"{family} tier {item.get('tier')!r:.20}"
        tier = number(item.get("tier"), "okx", f"{family} tier number")
        max_sz = number(item.get("maxSz"), "okx", f"{what} maxSz")
        mmr = number(item.get("mmr"), "okx", f"{what} mmr")
        lever = number(item.get("maxLever"), "okx", f"{what} maxLever")
        grouped.setdefault(symbol, []).append((int(tier), max_sz, mmr, lever))
    out: dict[str, list[Row]] = {}
    for symbol, tiers in grouped.items():
        if symbol not in ct_val:
            raise ValueError(f"okx: no contract value given for {symbol}: cannot convert contracts")
        multiplier = number(ct_val[symbol], "okx", f"{symbol} contract value")
        if multiplier <= 0:
            raise ValueError(f"okx: {symbol} contract value {multiplier:g} not positive")
        tiers.sort()
        numbers = [t[0] for t in tiers]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"okx: {symbol} repeats a tier number")
        out[symbol] = chain("okx", symbol, [(tidy(max_sz * multiplier), mmr, lever)
                                             for _n, max_sz, mmr, lever in tiers])
    return out


async def fetch(fetcher: Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                     errors: list[str]) -> Fetched:
    by_family: dict[str, str] = {}
    ct_val: dict[str, float] = {}
    for symbol in symbols:
        inst = bundled(catalogue, "okx", symbol)
        if inst is None:
            errors.append(f"{symbol}: not in the bundled catalogue, so its contract value is unknown")
            continue
        if inst.inverse:
            ct_val[symbol] = 1.0  # bundled inverse tiers count contracts
        elif inst.venue_contract_size:
            ct_val[symbol] = float(inst.venue_contract_size)
        else:
            errors.append(f"{symbol}: the bundle has no contract value (ctVal) to convert contracts")
            continue
        by_family[okx_family(symbol)] = symbol
    out: Fetched = {}
    for family, symbol in by_family.items():
        params = {"instType": "SWAP", "tdMode": "isolated", "instFamily": family}
        source = url(base, POSITION_TIERS_PATH, params)
        try:
            text = await fetcher.fetch("GET", source)
            rows = parse_okx_position_tiers(text, {family: symbol}, ct_val).get(symbol)
            if rows is None:
                raise ValueError(f"okx: no tiers for instFamily {family} in the answer")
            out[symbol] = (rows, source, now_iso())
        except ValueError as err:
            errors.append(f"{symbol}: {err}")
    return out


# ---------------------------------------------------------------------------- the whole universe
# GET /api/v5/public/instruments?instType=SWAP (research/exchanges.md §3; OKX v5 docs "Get instruments")
# lists every perpetual swap in one answer: instId, instFamily/uly, ctType linear|inverse, ctVal with
# ctValCcy, ctMult, settleCcy, tickSz, state. Tiers are asked per instrument family:
# GET /api/v5/public/position-tiers?instType=SWAP&tdMode=cross&instFamily=… .

INSTRUMENTS_PATH = "/api/v5/public/instruments"
# OKX documents 20 requests / 2 s per IP for instruments and, as far as we know, 10 / 2 s for
# position-tiers (UNCONFIRMED: the research notes give 20 / 2 s for public data): the per-family
# requests, the many-request path, go at most 4 a second.
MIN_GAP_S = 0.25
RATE_LIMIT_CODE = "50011"  # "Too Many Requests" (HTTP 429; retried also when a 200 carries it)
_RATE_RETRIES = 3
GIVE_UP_AFTER = 5  # families in a row without any answer: the venue is down, stop asking
# state → Instrument.status. ``suspend`` (trading halted, positions kept) has no closer match than
# delisted; ``test`` (listed for testing, not tradable) is treated as pre-launch.
_STATUS = {"live": "trading", "preopen": "pre_launch", "test": "pre_launch", "suspend": "delisted",
           "expired": "delisted"}


@dataclass(frozen=True)
class OkxContract:
    """One perpetual swap of the instruments answer: what the catalogue needs of it."""

    symbol: str  # instId, BTC-USDT-SWAP
    family: str  # instFamily, BTC-USDT
    kind: Kind
    base: str
    quote: str
    settle: str
    ct_val: float  # ctVal × ctMult: base units (linear) or USD (inverse) per contract
    tick_size: float
    status: Status


def _okx_data(body: Any) -> list[dict]:
    doc = load_json(body, "okx")
    if not isinstance(doc, dict):
        raise ValueError("okx: body is not a JSON object")
    if doc.get("code") not in ("0", 0):
        raise ValueError(f"okx: code {doc.get('code')!r:.40} ({str(doc.get('msg', ''))[:80]})")
    data = doc.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("okx: body has no data list of objects")
    return data


def _text(item: dict, key: str, what: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"okx: {what} has no {key}: {value!r:.40}")
    return value


def _contract(item: dict) -> OkxContract:
    symbol = _text(item, "instId", "instrument")
    if item.get("instType") not in (None, "SWAP"):
        raise ValueError(f"okx: {symbol} is not a swap: instType {item.get('instType')!r:.20}")
    family = item.get("instFamily") or item.get("uly")
    if not isinstance(family, str) or family.count("-") != 1 or not all(family.split("-")):
        raise ValueError(f"okx: {symbol} has no instFamily of the form BASE-QUOTE: {family!r:.40}")
    base, quote = family.split("-")
    kind = item.get("ctType")
    if not isinstance(kind, str) or kind not in ("linear", "inverse"):
        raise ValueError(f"okx: {symbol} has an unknown ctType {kind!r:.20}")
    state = item.get("state")
    status = _STATUS.get(state) if isinstance(state, str) else None
    if status is None:
        raise ValueError(f"okx: {symbol} has an unknown state {state!r:.20}")
    ct_val = number(item.get("ctVal"), "okx", f"{symbol} ctVal")
    multiplier = item.get("ctMult")
    if multiplier not in (None, ""):
        ct_val *= number(multiplier, "okx", f"{symbol} ctMult")
    tick = number(item.get("tickSz"), "okx", f"{symbol} tickSz")
    if ct_val <= 0 or tick <= 0:
        raise ValueError(f"okx: {symbol} ctVal {ct_val:g} and tickSz {tick:g} must be positive")
    settle = _text(item, "settleCcy", symbol)
    return OkxContract(symbol=symbol, family=family, kind=kind, base=base, quote=quote, settle=settle,
                       ct_val=tidy(ct_val), tick_size=tick, status=status)


def parse_okx_instruments(body: Any, errors: list[str]) -> list[OkxContract]:
    """The swaps of one ``/api/v5/public/instruments`` answer. A body that is not OKX's raises
    ``ValueError``; a contract that cannot be read is one line in ``errors``."""
    out: list[OkxContract] = []
    for item in _okx_data(body):
        try:
            out.append(_contract(item))
        except ValueError as err:
            symbol = item.get("instId")
            errors.append(f"{symbol}: {err}" if isinstance(symbol, str) and symbol else str(err))
    return out


def tier_multiplier(contract: OkxContract) -> float:
    """What turns position-tiers contracts into the catalogue's tier unit: ctVal for linear swaps
    (tiers in base units, as okx.toml keeps them), 1 for inverse swaps (tiers in contracts)."""
    return 1.0 if contract.kind == "inverse" else contract.ct_val


def _taker_fee() -> float:
    fees = [i.taker_fee for i in default_catalogue() if i.venue == "okx"]
    return fees[0] if fees else 0.0


def _instrument(contract: OkxContract, rows: list[Row] | None, source: str, as_of: str,
                taker_fee: float) -> Instrument:
    # The bundle's convention (okx.toml): a linear swap is sized in coin (contract_size 1, ctVal kept
    # as venue_contract_size to convert the venue's contracts); an inverse swap is sized in contracts
    # of ctVal USD face value (contract_size = ctVal). Tiers by size either way.
    linear = contract.kind == "linear"
    return Instrument(venue="okx", symbol=contract.symbol, kind=contract.kind, base=contract.base,
                      quote=contract.quote, settle=contract.settle,
                      contract_size=1.0 if linear else contract.ct_val, tick_size=contract.tick_size,
                      tier_basis="size", tiers=build_tiers(rows or [], f"okx:{contract.symbol}"),
                      taker_fee=taker_fee, venue_contract_size=contract.ct_val if linear else None,
                      source=source, as_of=as_of, verified=True, status=contract.status)


def _rate_limited(text: str) -> bool:
    return f'"code":"{RATE_LIMIT_CODE}"' in text.replace(" ", "")


async def _get(fetcher: Fetcher, address: str) -> str:
    """One answer; code 50011 in a 200 answer is retried after the fetcher's backoff, a few times."""
    return await fetcher.get_paced(address, min_gap_s=MIN_GAP_S, rate_limited=_rate_limited,
                                   retries=_RATE_RETRIES)


class _Unreachable(ValueError):
    """No answer at all for a family (transport, HTTP status after the retries): the venue, not the row."""


async def _with_tiers(fetcher: Fetcher, base: str, contract: OkxContract, errors: list[str],
                      taker_fee: float) -> Instrument | None:
    """The contract with its family's tiers; a live one whose tiers cannot be read is reported and
    left out, one not trading is kept without tiers. Raises ``_Unreachable`` (already reported)
    when the venue gave no answer."""
    params = {"instType": "SWAP", "tdMode": "cross", "instFamily": contract.family}
    source = url(base, POSITION_TIERS_PATH, params)
    rows = None
    try:
        try:
            text = await _get(fetcher, source)
        except ValueError as err:
            raise _Unreachable(str(err)) from None
        rows = parse_okx_position_tiers(text, {contract.family: contract.symbol},
                                        {contract.symbol: tier_multiplier(contract)}).get(contract.symbol)
        if rows is None and contract.status == "trading":
            raise ValueError(f"okx: no tiers for instFamily {contract.family} in the answer")
    except ValueError as err:
        errors.append(f"{contract.symbol}: {err}")
        if isinstance(err, _Unreachable):
            raise
        if contract.status == "trading":
            return None
        rows = None
    return _instrument(contract, rows, source, now_iso(), taker_fee)


async def fetch_universe(fetcher: Fetcher, base: str, errors: list[str]) -> list[Instrument]:
    """Every OKX perpetual swap (linear and inverse) with its family's position tiers: one
    instruments request, then one position-tiers request per family, paced (``MIN_GAP_S``). After
    ``GIVE_UP_AFTER`` families in a row without an answer the venue is taken to be down: the rest are
    left for the next refresh (one line), instead of retrying hundreds of families."""
    address = url(base, INSTRUMENTS_PATH, {"instType": "SWAP"})
    try:
        contracts = parse_okx_instruments(await _get(fetcher, address), errors)
    except ValueError as err:
        errors.append(f"{address}: {err}")
        return []
    taker_fee = _taker_fee()
    out: list[Instrument] = []
    unanswered = 0
    for n, contract in enumerate(contracts):
        try:
            instrument = await _with_tiers(fetcher, base, contract, errors, taker_fee)
        except _Unreachable:
            unanswered += 1
            if unanswered >= GIVE_UP_AFTER:
                errors.append(f"okx: {unanswered} instrument families in a row unanswered; "
                              f"{len(contracts) - n - 1} more left for the next refresh")
                break
            continue
        unanswered = 0
        if instrument is not None:
            out.append(instrument)
    return out


async def lookup(fetcher: Fetcher, base: str, symbol: str, errors: list[str]) -> Instrument | None:
    """One swap by its instId (``BTC-USDT-SWAP``): instruments with ``instId=`` and its family's
    position tiers. None (and one line in ``errors``) when OKX lists no such swap."""
    symbol = symbol.strip().upper()
    address = url(base, INSTRUMENTS_PATH, {"instType": "SWAP", "instId": symbol})
    try:
        contracts = parse_okx_instruments(await _get(fetcher, address), errors)
    except ValueError as err:  # an unknown instId is refused (code 51001)
        errors.append(f"{symbol}: {err}")
        return None
    contract = next((c for c in contracts if c.symbol == symbol), None)
    if contract is None:
        errors.append(f"{symbol}: okx lists no perpetual swap of that name")
        return None
    try:
        return await _with_tiers(fetcher, base, contract, errors, _taker_fee())
    except _Unreachable:
        return None


SOURCE = TierSource(fetch=fetch, fetch_universe=fetch_universe, lookup=lookup, default_basis="size",
                    notes=("GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated per instrument family; "
                           "minSz/maxSz contracts converted to base units with the bundled ctVal for linear swaps "
                           "(inverse swaps stay in contracts); floors are the previous cap. The whole universe: "
                           "GET /api/v5/public/instruments?instType=SWAP (ctVal × ctMult, tickSz, state) and "
                           "position-tiers?tdMode=cross per family, paced."))
