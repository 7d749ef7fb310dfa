"""Every venue by name, found in ``feeds/venues/``: a fifth venue is a new folder there, and no line here.

Each subpackage of ``adlwatch.feeds.venues`` declares one ``VENUE`` (``feeds/venue.py`` ``Venue``).
``register(venue)`` adds one from outside the package (a plugin, or a test's fake venue); a name
already known is replaced. Everything that lists venues (adapters, the emulator's routes, the tiers
refresh, replay's Tardis names, followed accounts, the CLI's choices) asks here.
"""

from __future__ import annotations

import importlib
import pkgutil

from adlwatch.feeds.venue import Venue, VenueAdapter

VENUES_PACKAGE = "adlwatch.feeds.venues"

_VENUES: dict[str, Venue] = {}
# name -> adapter, kept in step with the venues (a live view: ``register`` updates it).
ADAPTERS: dict[str, VenueAdapter] = {}


def _discover() -> None:
    package = importlib.import_module(VENUES_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.ispkg and not info.name.startswith("_"):
            module = importlib.import_module(f"{VENUES_PACKAGE}.{info.name}")
            register(module.VENUE)


def register(venue: Venue) -> Venue:
    """Make ``venue`` known to every registry of feeds/ (replaces a venue of the same name)."""
    _VENUES[venue.name] = venue
    ADAPTERS[venue.name] = venue.adapter
    return venue


def unregister(name: str) -> None:
    """Forget a venue added by ``register`` (tests clean up their fake venue with it)."""
    _VENUES.pop(name, None)
    ADAPTERS.pop(name, None)


def venues() -> dict[str, Venue]:
    """Every known venue by name, in discovery order (the bundled four, then registered ones)."""
    return dict(_VENUES)


def find(name: str) -> Venue | None:
    """The venue called exactly ``name``, or None (no copy, no error: for per-message lookups)."""
    return _VENUES.get(name)


def venue_names() -> tuple[str, ...]:
    return tuple(_VENUES)


def get_venue(name: str) -> Venue:
    """The venue called ``name`` (case-insensitive); ValueError naming the known venues otherwise."""
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return _VENUES[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown venue {name!r}; known venues: {', '.join(sorted(_VENUES))}") from None


def get_adapter(name: str) -> VenueAdapter:
    """The adapter for ``name`` (case-insensitive); ValueError naming the known venues otherwise."""
    return get_venue(name).adapter


_discover()
