"""One subpackage per venue: everything the venue *speaks* (see ADDING_A_VENUE.md at the repo root).

``<venue>/__init__.py`` declares ``VENUE`` (feeds/venue.py ``Venue``); beside it ``market.py`` (the
public wire: URLs, subscribe, heartbeat, ``parse``, REST polls), ``tiers.py`` (instrument and tier
metadata), ``account.py`` (followed accounts' reads) and ``emulator.py`` (its loopback personality).
feeds/registry.py finds the subpackages; nothing else lists them.
"""
