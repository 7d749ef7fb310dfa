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
import math
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Literal

from adlwatch.engine.errors import InputError

Kind = Literal["linear", "inverse"]
TierBasis = Literal["notional", "size"]


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
    _floors: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_floors", tuple(t.floor for t in self.tiers))

    @property
    def inverse(self) -> bool:
        return self.kind == "inverse"

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

    def __init__(self, instruments: list[Instrument]) -> None:
        self._by_key = {(i.venue, i.symbol): i for i in instruments}

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def venues(self) -> list[str]:
        return sorted({v for v, _ in self._by_key})

    def symbols(self, venue: str) -> list[str]:
        return sorted(s for v, s in self._by_key if v == venue)

    def get(self, venue: str, symbol: str) -> Instrument:
        try:
            return self._by_key[(venue, symbol)]
        except KeyError:
            venues = self.venues()
            if venue not in venues:
                raise InputError(f"unknown venue; known: {', '.join(venues)}", field="venue", value=venue) from None
            known = ", ".join(self.symbols(venue))
            raise InputError(f"unknown {venue} symbol; known: {known}", field="symbol", value=symbol) from None

    def with_instruments(self, extra: list[Instrument]) -> Catalogue:
        return Catalogue([*self._by_key.values(), *extra])


def load_table(text: str) -> list[Instrument]:
    data = tomllib.loads(text)
    venue = data["venue"]
    return [_instrument_from_row(venue, row) for row in data.get("instrument", [])]


@cache
def default_catalogue() -> Catalogue:
    """The bundled tables (one TOML file per venue, ``engine/data/instruments/<venue>.toml``)."""
    instruments: list[Instrument] = []
    folder = resources.files("adlwatch.engine") / "data" / "instruments"
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".toml") and path.is_file():
            instruments.extend(load_table(path.read_text(encoding="utf-8")))
    return Catalogue(instruments)
