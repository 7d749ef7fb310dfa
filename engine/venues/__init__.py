"""The venues' rules: one module per venue in this package, and the registry derived from them.

Every module ``engine/venues/<venue>.py`` provides the members of ``VenueRules``; the registry
discovers them (``pkgutil.iter_modules`` over this package), so adding a venue is adding its
module here, nothing else in the engine. ``register(module)`` adds one more (a test's fake venue).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import Literal, Protocol, cast

import numpy as np

from adlwatch.engine.adl import AdlInputs
from adlwatch.engine.margin import MarginRules


class VenueRules(Protocol):
    """What a venue rules, as its module declares it."""

    RULES: MarginRules  # maintenance-margin basis and fee term: the solver's switches
    TITLE: str  # the venue's name in a sentence ("Hyperliquid")
    DISPLAY_CODE: str  # the short code of compact tables ("HL")
    SETTLE_DEFAULT: str  # an account's settlement asset when none of its positions says
    FOLLOW_BY: Literal["address", "key_name"]  # how a followed account is named in the portfolio file
    ADL_FORMULA: str  # the name of its ADL ranking score, travelling with the number
    ADL_PRICE: str  # the price ADL closes at, as the venue documents it
    ADL_PRICE_STAND_IN: str  # what adlwatch uses for it when only the marks are known (hedges)

    def adl_price(self, mark: float, previous_mark: float,
                  liquidated_bankruptcy: Callable[[], float | None]) -> float:
        """The price ADL closes a position at (the venue's one rule: the cascade and the hedges both
        call it), from the mark, the previous mark, and the size-weighted bankruptcy price of the
        liquidated orders, asked for only by a venue that closes there (None where nobody knows it)."""
        ...

    def adl_score(self, x: AdlInputs) -> float:
        """The venue's ADL ranking score of one position."""
        ...

    def adl_scores(self, x: AdlInputs) -> np.ndarray:
        """``adl_score`` over arrays (the population model's vectorised twin)."""
        ...


# Every member a rules module must define (checked when it is registered).
_MEMBERS = (*VenueRules.__annotations__, "adl_price", "adl_score", "adl_scores")
_REGISTRY: dict[str, VenueRules] = {}


def register(module: ModuleType, name: str | None = None) -> VenueRules:
    """Add a venue's rules module under ``name`` (default: the module's last dotted part).

    The bundled venues are registered at import; a test registers a fake venue through this hook
    (and takes it out again with ``unregister``). Returns the module as ``VenueRules``.
    """
    key = name or module.__name__.rsplit(".", 1)[-1]
    missing = [m for m in _MEMBERS if not hasattr(module, m)]
    if missing:
        raise TypeError(f"venue rules module {module.__name__} lacks {', '.join(missing)}")
    rules = cast(VenueRules, module)
    _REGISTRY[key] = rules
    return rules


def unregister(name: str) -> None:
    """Take a venue registered with ``register`` out again."""
    _REGISTRY.pop(name, None)


def rules_for(venue: str) -> VenueRules:
    return _REGISTRY[venue]


def venue_names() -> tuple[str, ...]:
    """Every registered venue, sorted (the CLI's choices, the portfolio's valid venues)."""
    return tuple(sorted(_REGISTRY))


class VenueNames(Sequence[str]):
    """The registered venues' names, sorted, read at each use (so a venue registered later is in)."""

    def __getitem__(self, i):  # type: ignore[override]
        return venue_names()[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __repr__(self) -> str:
        return repr(venue_names())


# Live views of the registry: the rules by venue name, and the sorted names.
VENUE_RULES: Mapping[str, VenueRules] = MappingProxyType(_REGISTRY)
VENUES: Sequence[str] = VenueNames()


def _discover() -> None:
    """Register every module of this package: the bundled venues."""
    for info in pkgutil.iter_modules(__path__):
        register(importlib.import_module(f"{__name__}.{info.name}"))


_discover()
