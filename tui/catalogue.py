"""The tier tables the commands compute with: the bundled ones, with the user's refreshed ones in their place.

One home shared by the CLI and its commands (check, watch, simulate), so that the CLI imports the
commands and none of them imports the CLI back.
"""

from __future__ import annotations

import sys

from adlwatch.engine.instruments import Catalogue


def user_catalogue() -> Catalogue:
    """The bundled tier tables, with those refreshed by ``adlwatch tiers --refresh`` in their place.

    A broken cache file is skipped with one warning line on stderr; the bundled tables stay.
    """
    from adlwatch.feeds.tiers import load_catalogue

    warnings: list[str] = []
    catalogue = load_catalogue(warnings=warnings)
    for line in warnings:
        print(f"adlwatch: tier cache: {line}", file=sys.stderr)
    return catalogue
