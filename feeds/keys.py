"""Read-only API keys, by venue and label: from the environment, else from the OS keyring.

The portfolio file names a key by its label only (``key_name = "main"``); the key itself lives in

- the environment: label ``default`` reads ``ADLWATCH_BINANCE_API_KEY`` / ``_API_SECRET`` (and
  ``ADLWATCH_OKX_API_PASSPHRASE``); any other label adds it upper-cased, ``-`` as ``_``:
  ``main`` → ``ADLWATCH_BINANCE_MAIN_API_KEY`` …;
- or the OS keyring, when the optional ``keyring`` package is installed (``pip install
  'adlwatch[keyring]'``; it is not a dependency):
  service ``adlwatch``, usernames ``<venue>:<label>:key``, ``…:secret``, ``…:passphrase``.

A key is never written anywhere by adlwatch, and its value never reaches a repr, a log line or an
error message: ``Credentials`` and ``Secret`` print as ``Credentials(binance:main, key …a1b2)``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adlwatch.feeds import registry

KEYRING_SERVICE = "adlwatch"


def venues_with_keys() -> tuple[str, ...]:
    """Venues whose followed accounts take an API key (each declares its key's parts)."""
    return tuple(name for name, venue in registry.venues().items() if venue.key_parts)


class Secret:
    """A string that never prints itself. ``reveal()`` is the one way to read it (to sign)."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(…)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is never pickled")


@dataclass(frozen=True, repr=False)
class Credentials:
    venue: str
    label: str
    key: Secret
    secret: Secret
    passphrase: Secret | None = None
    source: str = "environment"  # environment | keyring

    def __repr__(self) -> str:
        key = self.key.reveal()
        # At most the last 4 characters of a long key, so a user can tell two keys apart.
        tail = f", key …{key[-4:]}" if len(key) >= 16 else ""
        return f"Credentials({self.venue}:{self.label}{tail}, from {self.source})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Credentials are never pickled")


class MissingCredentials(Exception):
    """No usable key for (venue, label): one line naming what to set, never a value."""

    def __init__(self, venue: str, label: str, missing: list[str], keyring_note: str):
        self.venue = venue
        self.label = label
        self.missing = missing
        names = " and ".join(missing)
        super().__init__(f"no {venue} key '{label}': set {names}{keyring_note}")


def env_names(venue: str, label: str) -> dict[str, str]:
    """The environment variable for each part of the key (passphrase only where the venue has one)."""
    middle = "" if label == "default" else label.upper().replace("-", "_") + "_"
    prefix = f"ADLWATCH_{venue.upper()}_{middle}API_"
    return {part: prefix + part.upper() for part in _parts(venue)}


def keyring_username(venue: str, label: str, part: str) -> str:
    return f"{venue}:{label}:{part}"


def load_credentials(venue: str, label: str, *, env: Mapping[str, str] | None = None,
                     keyring: Any = None) -> Credentials:
    """The key for (venue, label): the environment first, else the keyring; ``MissingCredentials``
    (one line, naming the variables to set) when neither has all its parts.

    ``keyring`` is a keyring-like object with ``get_password(service, username)``; by default the
    ``keyring`` package when it is importable.
    """
    if venue not in venues_with_keys():
        raise ValueError(f"{venue} accounts are not followed with an API key")
    environment = os.environ if env is None else env
    names = env_names(venue, label)
    values = {part: environment.get(name, "").strip() for part, name in names.items()}
    if all(values.values()):
        return _credentials(venue, label, values, "environment")
    backend = _keyring_backend() if keyring is None else keyring
    stored = _from_keyring(backend, venue, label)
    if stored is not None:
        return _credentials(venue, label, stored, "keyring")
    missing = [names[part] for part, value in values.items() if not value]
    raise MissingCredentials(venue, label, missing, _keyring_note(backend, venue, label))


def _parts(venue: str) -> tuple[str, ...]:
    known = registry.find(venue)
    return known.key_parts if known is not None and known.key_parts else ("key", "secret")


def _credentials(venue: str, label: str, values: Mapping[str, str], source: str) -> Credentials:
    passphrase = values.get("passphrase")
    return Credentials(venue, label, Secret(values["key"]), Secret(values["secret"]),
                       Secret(passphrase) if passphrase else None, source)


def _keyring_backend() -> Any:
    try:
        return importlib.import_module("keyring")
    except ImportError:
        return None


def _from_keyring(backend: Any, venue: str, label: str) -> dict[str, str] | None:
    if backend is None:
        return None
    values: dict[str, str] = {}
    for part in _parts(venue):
        try:
            value = backend.get_password(KEYRING_SERVICE, keyring_username(venue, label, part))
        except Exception:  # a locked or absent keyring backend is "not there", never a crash
            return None
        if not isinstance(value, str) or not value.strip():
            return None
        values[part] = value.strip()
    return values


def _keyring_note(backend: Any, venue: str, label: str) -> str:
    if backend is None:
        return " (or install the optional 'keyring' package, pip install 'adlwatch[keyring]', and store them there)"
    users = ", ".join(f"'{keyring_username(venue, label, part)}'" for part in _parts(venue))
    return f" (or store them in the OS keyring: service '{KEYRING_SERVICE}', users {users})"
