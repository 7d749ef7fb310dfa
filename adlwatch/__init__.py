"""adlwatch: a terminal risk monitor for crypto perpetual futures.

The installed package is ``adlwatch``; the repository's top-level folders ``engine/``, ``feeds/`` and
``tui/`` install as its subpackages ``adlwatch.engine``, ``adlwatch.feeds`` and ``adlwatch.tui``
(pyproject.toml, ``[tool.setuptools.package-dir]``). This folder holds only the package's door.
"""

from __future__ import annotations

from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("adlwatch")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


__version__ = _version()
