"""Contracts and their risk tiers, from the bundled tables in ``engine/data/instruments/``.

A tier table lists floor, cap, maintenance margin rate and max leverage; the maintenance amount
(Binance "cum", Bybit "MM deduction", Hyperliquid "maintenance deduction") is not stored but
computed by the recurrence all three venues document:

    amount_0 = 0,  amount_n = floor_n × (mmr_n − mmr_{n−1}) + amount_{n−1}

(Binance FAQ b3c689c1f50a44cabb3a84e663b81d93; bybitglobal.com margin-parameters announcement;
Hyperliquid docs trading/margin-tiers.md). It makes ``value × mmr − amount`` continuous across tiers.
"""

from __future__ import annotations

import bisect
import difflib
import gzip
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Literal

import msgspec

from adlwatch.engine.errors import InputError

Kind = Literal["linear", "inverse"]
TierBasis = Literal["notional", "size"]
Status = Literal["trading", "delisted", "settling", "pre_launch"]


@dataclass(frozen=True, slots=True)
class Tier:
    floor: float
    cap: float
    mmr: float
    max_leverage: float
    maint_amount: float = 0.0


@dataclass(frozen=True, slots=True)
class Instrument:
    venue: str
    symbol: str
    kind: Kind
    base: str
    quote: str
    settle: str
    # linear: base units per unit of position size (1.0: adlwatch sizes linear positions in coin);
    # inverse: USD face value per contract.
    contract_size: float
    tick_size: float
    tier_basis: TierBasis  # notional: value (quote for linear, coin for inverse); size: base units / contracts
    tiers: tuple[Tier, ...]
    taker_fee: float = 0.0
    venue_contract_size: float | None = None  # OKX ctVal (base units per venue contract)
    source: str = ""
    as_of: str = ""
    verified: bool = False
    status: Status = "trading"  # the venue's listing state; a delisted contract is kept for old positions
    only_isolated: bool = False  # the venue allows no cross margin on it (Hyperliquid's onlyIsolated)
    _floors: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_floors", tuple(t.floor for t in self.tiers))

    @property
    def inverse(self) -> bool:
        return self.kind == "inverse"

    def coin_from_venue_contracts(self, contracts: float) -> float:
        """A linear swap's venue contracts in coin (× ``venue_contract_size``, OKX ctVal), to 12
        significant digits (3 × 0.1 is 0.3); the count itself where the venue counts in coin."""
        if not self.venue_contract_size:
            return contracts
        return float(f"{contracts * self.venue_contract_size:.12g}")

    def venue_contracts_from_coin(self, coin: float) -> float:
        """The inverse of ``coin_from_venue_contracts``."""
        if not self.venue_contract_size:
            return coin
        return float(f"{coin / self.venue_contract_size:.12g}")

    @property
    def max_leverage(self) -> float:
        """The highest leverage the venue allows on it (the first tier's)."""
        return self.tiers[0].max_leverage if self.tiers else math.inf

    def tier_for(self, basis_value: float) -> Tier:
        """The tier whose [floor, cap) holds ``basis_value``; above the last cap, the last tier."""
        i = bisect.bisect_right(self._floors, basis_value) - 1
        return self.tiers[max(i, 0)]

    def with_override(self, mmr: float, maint_amount: float = 0.0) -> Instrument:
        """The portfolio's ``mmr``/``maint_amount`` replace the tier table with one flat tier."""
        tier = Tier(0.0, math.inf, mmr, self.tiers[-1].max_leverage if self.tiers else math.inf, maint_amount)
        return replace(self, tiers=(tier,), source="portfolio override", verified=True)


def build_tiers(rows: list[dict], where: str) -> tuple[Tier, ...]:
    """Tiers from table rows, with the maintenance amount by the documented recurrence."""
    tiers: list[Tier] = []
    amount = 0.0
    prev_mmr = None
    prev_cap = None
    for i, row in enumerate(rows):
        floor, cap, mmr = float(row["floor"]), float(row["cap"]), float(row["mmr"])
        if not 0.0 < mmr < 1.0:
            raise ValueError(f"{where} tier {i}: mmr {mmr} outside (0, 1)")
        if prev_cap is not None and not math.isclose(prev_cap, floor, rel_tol=1e-12, abs_tol=1e-12):
            raise ValueError(f"{where} tier {i}: floor {floor} != previous cap {prev_cap}")
        if prev_mmr is not None:
            amount = floor * (mmr - prev_mmr) + amount
        tiers.append(Tier(floor, cap, mmr, float(row["max_leverage"]), amount))
        prev_mmr, prev_cap = mmr, cap
    if tiers and tiers[0].floor != 0.0:
        raise ValueError(f"{where}: the first tier must start at 0")
    return tuple(tiers)


def _instrument_from_row(venue: dict, row: dict) -> Instrument:
    where = f"{venue['name']}:{row['symbol']}"
    return Instrument(
        venue=venue["name"],
        symbol=row["symbol"],
        kind=row["kind"],
        base=row["base"],
        quote=row["quote"],
        settle=row["settle"],
        contract_size=float(row["contract_size"]),
        tick_size=float(row["tick_size"]),
        tier_basis=row["tier_basis"],
        tiers=build_tiers(row.get("tier", []), where),
        taker_fee=float(row.get("taker_fee", venue.get("taker_fee", 0.0))),
        venue_contract_size=row.get("venue_contract_size"),
        source=row.get("source", ""),
        as_of=str(row.get("as_of", "")),
        verified=bool(row.get("verified", False)),
    )


class Catalogue:
    """Every known contract, by (venue, symbol)."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_key = {(i.venue, i.symbol): i for i in instruments}
        self._by_venue: dict[str, list[str]] | None = None

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def _symbols_by_venue(self) -> dict[str, list[str]]:
        if self._by_venue is None:
            by_venue: dict[str, list[str]] = {}
            for venue, symbol in self._by_key:
                by_venue.setdefault(venue, []).append(symbol)
            self._by_venue = {v: sorted(s) for v, s in by_venue.items()}
        return self._by_venue

    def venues(self) -> list[str]:
        return sorted(self._symbols_by_venue())

    def symbols(self, venue: str) -> list[str]:
        return list(self._symbols_by_venue().get(venue, ()))

    def find(self, venue: str, symbol: str) -> Instrument | None:
        return self._by_key.get((venue, symbol))

    def get(self, venue: str, symbol: str) -> Instrument:
        try:
            return self._by_key[(venue, symbol)]
        except KeyError:
            venues = self.venues()
            if venue not in venues:
                raise InputError(f"unknown venue; known: {', '.join(venues)}", field="venue", value=venue) from None
            close = self.suggest(venue, symbol)
            hint = f"did you mean {', '.join(close)}?" if close else f"{len(self.symbols(venue))} known"
            raise InputError(f"unknown {venue} symbol ({hint})", field="symbol", value=symbol) from None

    def suggest(self, venue: str, typed: str, limit: int = 3) -> list[str]:
        """The venue's own spellings closest to what was typed: ``BTC-USDT-SWAP`` and ``btc`` both
        find ``BTCUSDT`` on Binance; ``BTCUSDT`` finds ``BTC-USDT-SWAP`` on OKX and ``BTC`` on
        Hyperliquid. Exact matches of the bare coin first, then by similarity."""
        symbols = self.symbols(venue)
        if not symbols or not typed:
            return []
        want = _squash(typed)
        coin = _coin(want)
        by_squash: dict[str, list[str]] = {}
        for symbol in symbols:
            by_squash.setdefault(_squash(symbol), []).append(symbol)
        ranked: list[str] = []
        for key in (want, coin):
            ranked.extend(by_squash.get(key, ()))
        if coin:
            same_coin = [s for s in symbols if _coin(_squash(s)) == coin]
            ranked.extend(sorted(same_coin, key=lambda s: -difflib.SequenceMatcher(None, want, _squash(s)).ratio()))
        ranked.extend(s for k in difflib.get_close_matches(want, list(by_squash), n=limit * 2, cutoff=0.6)
                      for s in by_squash[k])
        return list(dict.fromkeys(ranked))[:limit]

    def with_instruments(self, extra: Iterable[Instrument]) -> Catalogue:
        """This catalogue with ``extra`` added (an instrument of the same key replaces its entry)."""
        return Catalogue([*self._by_key.values(), *extra])


_QUOTE_SUFFIXES = ("SWAP", "PERP", "USDT", "USDC", "USD", "BUSD", "FDUSD")


def _squash(symbol: str) -> str:
    """Upper case without separators: ``btc-usdt-swap`` → ``BTCUSDTSWAP``."""
    return "".join(ch for ch in symbol.upper() if ch.isalnum())


def _coin(squashed: str) -> str:
    """The base coin of a squashed symbol: quote and contract-type suffixes stripped."""
    out = squashed
    changed = True
    while changed:
        changed = False
        for suffix in _QUOTE_SUFFIXES:
            if out.endswith(suffix) and len(out) > len(suffix):
                out = out[: -len(suffix)]
                changed = True
    return out


def load_table(text: str) -> list[Instrument]:
    data = tomllib.loads(text)
    venue = data["venue"]
    return [_instrument_from_row(venue, row) for row in data.get("instrument", [])]


# ---------------------------------------------------------------------------- the large-table format
# A venue's whole universe (hundreds of contracts) is kept as JSON, not TOML: it loads in
# milliseconds (msgspec, typed), where the start-up of every command pays for it. The bundled
# snapshots (``engine/data/instruments/*.json.gz``) and the fetched cache use the same shape.


class TableRow(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One contract: its specification and tiers as ``[floor, cap, mmr, max_leverage]`` rows (the
    maintenance amounts follow by the recurrence). Provenance defaults to the table's."""

    symbol: str
    kind: Kind
    base: str
    quote: str
    settle: str
    contract_size: float
    tick_size: float
    tier_basis: TierBasis
    tiers: list[tuple[float, float, float, float]]
    taker_fee: float | None = None
    venue_contract_size: float | None = None
    status: Status = "trading"
    only_isolated: bool = False
    source: str | None = None
    as_of: str | None = None
    verified: bool | None = None


class TableFile(msgspec.Struct, forbid_unknown_fields=True):
    """A venue's table: where its figures come from, when, and the contracts."""

    venue: str
    source: str  # where the figures come from (an endpoint, a snapshot's origin)
    as_of: str  # ISO date or time the figures were true (a capture's earliest bound)
    verified: bool  # read from the venue itself (True) or through a third party (False)
    taker_fee: float
    instruments: list[TableRow]
    notes: str = ""


_table_decoder = msgspec.json.Decoder(TableFile)
_table_encoder = msgspec.json.Encoder()


def table_rows(instruments: Iterable[Instrument]) -> list[TableRow]:
    return [TableRow(symbol=i.symbol, kind=i.kind, base=i.base, quote=i.quote, settle=i.settle,
                     contract_size=i.contract_size, tick_size=i.tick_size, tier_basis=i.tier_basis,
                     tiers=[(t.floor, t.cap, t.mmr, t.max_leverage) for t in i.tiers],
                     taker_fee=i.taker_fee, venue_contract_size=i.venue_contract_size, status=i.status,
                     only_isolated=i.only_isolated, source=i.source or None, as_of=i.as_of or None,
                     verified=i.verified)
            for i in instruments]


def encode_table(table: TableFile) -> bytes:
    return _table_encoder.encode(table)


def decode_table(data: bytes | str, where: str) -> list[Instrument]:
    """The instruments of a JSON table; ``ValueError`` naming ``where`` and what is wrong."""
    try:
        table = _table_decoder.decode(data)
    except msgspec.DecodeError as err:
        raise ValueError(f"{where}: {err}") from None
    out: list[Instrument] = []
    for row in table.instruments:
        name = f"{table.venue}:{row.symbol}"
        tiers = build_tiers([{"floor": f, "cap": c, "mmr": m, "max_leverage": lev} for f, c, m, lev in row.tiers], name)
        out.append(Instrument(
            venue=table.venue, symbol=row.symbol, kind=row.kind, base=row.base, quote=row.quote,
            settle=row.settle, contract_size=row.contract_size, tick_size=row.tick_size,
            tier_basis=row.tier_basis, tiers=tiers,
            taker_fee=table.taker_fee if row.taker_fee is None else row.taker_fee,
            venue_contract_size=row.venue_contract_size,
            source=table.source if row.source is None else row.source,
            as_of=table.as_of if row.as_of is None else row.as_of,
            verified=table.verified if row.verified is None else row.verified,
            status=row.status, only_isolated=row.only_isolated,
        ))
    return out


@cache
def default_catalogue() -> Catalogue:
    """The bundled tables, ``engine/data/instruments/``: one TOML file per venue (hand-sourced
    tables with their notes) and large JSON snapshots (``*.json`` or ``*.json.gz``). A contract is in
    one file only (a test holds it)."""
    instruments: list[Instrument] = []
    for name, data in bundled_table_files():
        if name.endswith(".toml"):
            instruments.extend(load_table(data.decode("utf-8")))
        else:
            instruments.extend(decode_table(data, f"engine/data/instruments/{name}"))
    return Catalogue(instruments)


def bundled_table_files() -> list[tuple[str, bytes]]:
    """(file name, bytes, gunzipped) of every bundled table, by name."""
    folder = resources.files("adlwatch.engine") / "data" / "instruments"
    out: list[tuple[str, bytes]] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file():
            continue
        if path.name.endswith(".toml") or path.name.endswith(".json"):
            out.append((path.name, path.read_bytes()))
        elif path.name.endswith(".json.gz"):
            out.append((path.name.removesuffix(".gz"), gzip.decompress(path.read_bytes())))
    return out


# A position's value above this is beyond any contract's whole open interest on any venue (BTC's
# largest book is a few tens of billions): where a tier table cannot say, it is almost surely a typo.
IMPLAUSIBLE_NOTIONAL_USD = 1e10


def implausible_position(inst: Instrument, size: float, entry_price: float | None) -> str | None:
    """Why a position of ``size`` (the portfolio's unit: coin for linear, contracts for inverse) at
    ``entry_price`` is far outside anything the venue allows, or None.

    Beyond the last cap of a full tier table (more than one tier: a one-tier table may be a partial
    copy or an override) the venue opens nothing; without such a table, a value above
    ``IMPLAUSIBLE_NOTIONAL_USD``. The value is in the tier table's own basis (quote for linear, coin
    for inverse, or size)."""
    if not math.isfinite(size) or size <= 0:
        return None  # validation says what is wrong with it
    price = entry_price if entry_price is not None and math.isfinite(entry_price) and entry_price > 0 else None
    if inst.inverse:
        usd = size * inst.contract_size
        basis, unit = (size, "contracts") if inst.tier_basis == "size" else (
            (usd / price, inst.base) if price else (None, ""))
    else:
        usd = size * inst.contract_size * price if price else None
        basis, unit = (size, inst.base) if inst.tier_basis == "size" else (usd, inst.quote)
    if len(inst.tiers) > 1 and math.isfinite(inst.tiers[-1].cap) and basis is not None and basis > inst.tiers[-1].cap:
        return (f"{_whole(basis)} {unit} is above the largest position {inst.venue} allows on {inst.symbol} "
                f"({_whole(inst.tiers[-1].cap)} {unit}, its last tier's cap)")
    if usd is not None and usd > IMPLAUSIBLE_NOTIONAL_USD:
        return f"{_whole(usd)} USD is more than any contract's whole open interest"
    return None


def _whole(x: float) -> str:
    return f"{x:,.0f}" if x < 1e18 else f"{x:.3g}"
