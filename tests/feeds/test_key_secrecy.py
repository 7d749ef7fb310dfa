"""Keys load from the environment or the keyring, and a key never appears in any output: log
records (root logger at DEBUG, httpx included), stdout/stderr, status lines, account states,
exception texts and tracebacks with their locals, for accepted, rejected, failing and crashing
rounds alike."""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import sys
import time
import traceback
from dataclasses import replace

import pytest

from adlwatch.engine.events import AccountState, Event, FeedStatus, encode_event
from adlwatch.feeds.accounts.signed import SignedFollower, redact
from adlwatch.feeds.keys import (
    Credentials,
    MissingCredentials,
    Secret,
    env_names,
    keyring_username,
    load_credentials,
)
from tests.feeds import private_fixtures
from tests.feeds.private_fixtures import FAST, SECRETS, NoKeyring, env_for

private = private_fixtures.private  # the fixture: the emulator with the three test accounts

VENUES = ("binance", "bybit", "okx")
WRONG_SECRET = "wrongSECRETx8Q2vDistinctNotTheRealOne9z"
WRONG_PASSPHRASE = "wrongPASSPHRASE!Distinct7y"
UNKNOWN_KEY = "unknownKEYm3N4bDistinctNobodyHasThis5x"


class FakeKeyring:
    def __init__(self, stored: dict[tuple[str, str], str] | None = None, broken: bool = False):
        self.stored = stored or {}
        self.broken = broken

    def get_password(self, service: str, username: str) -> str | None:
        if self.broken:
            raise RuntimeError("keyring locked")
        return self.stored.get((service, username))


# ---------------------------------------------------------------------------- loading keys


def test_default_label_reads_the_plain_variables_and_other_labels_add_their_name():
    assert env_names("binance", "default") == {"key": "ADLWATCH_BINANCE_API_KEY",
                                               "secret": "ADLWATCH_BINANCE_API_SECRET"}
    assert env_names("okx", "sub-2") == {"key": "ADLWATCH_OKX_SUB_2_API_KEY",
                                         "secret": "ADLWATCH_OKX_SUB_2_API_SECRET",
                                         "passphrase": "ADLWATCH_OKX_SUB_2_API_PASSPHRASE"}
    env = {"ADLWATCH_BYBIT_API_KEY": "k" * 20, "ADLWATCH_BYBIT_API_SECRET": "s" * 20}
    credentials = load_credentials("bybit", "default", env=env, keyring=NoKeyring())
    assert (credentials.key.reveal(), credentials.secret.reveal(), credentials.source) == ("k" * 20, "s" * 20,
                                                                                         "environment")


def test_keyring_holds_a_key_the_environment_lacks():
    key, secret, passphrase = SECRETS["okx"]
    stored = {("adlwatch", keyring_username("okx", "main", part)): value
              for part, value in (("key", key), ("secret", secret), ("passphrase", passphrase))}
    credentials = load_credentials("okx", "main", env={}, keyring=FakeKeyring(stored))
    assert credentials.source == "keyring"
    assert credentials.passphrase is not None and credentials.passphrase.reveal() == passphrase
    assert keyring_username("okx", "main", "secret") == "okx:main:secret"


def test_missing_key_is_one_line_naming_only_what_is_missing():
    env = {"ADLWATCH_BINANCE_MAIN_API_KEY": SECRETS["binance"][0]}
    with pytest.raises(MissingCredentials) as info:
        load_credentials("binance", "main", env=env, keyring=FakeKeyring(broken=True))
    text = str(info.value)
    assert text.startswith("no binance key 'main': set ADLWATCH_BINANCE_MAIN_API_SECRET (or store them in "
                           "the OS keyring: service 'adlwatch', users 'binance:main:key', 'binance:main:secret')")
    assert "\n" not in text and SECRETS["binance"][0] not in text


def test_without_the_keyring_package_the_line_says_how_to_add_it(monkeypatch):
    monkeypatch.setattr("adlwatch.feeds.keys._keyring_backend", lambda: None)
    with pytest.raises(MissingCredentials, match="install the optional 'keyring' package"):
        load_credentials("bybit", "main", env={})


def test_credentials_print_the_label_and_at_most_the_last_four_of_the_key():
    credentials = load_credentials("binance", "main", env=env_for("binance"), keyring=NoKeyring())
    key, secret, _ = SECRETS["binance"]
    assert repr(credentials) == str(credentials) == f"Credentials(binance:main, key …{key[-4:]}, from environment)"
    assert repr(Credentials("bybit", "x", Secret("short"), Secret(secret))) == "Credentials(bybit:x, from environment)"
    assert repr(credentials.secret) == str(credentials.secret) == "Secret(…)"
    assert key not in f"{credentials!r} {credentials} {credentials.key} {vars(credentials) if hasattr(credentials, '__dict__') else ''}"
    with pytest.raises(TypeError):
        pickle.dumps(credentials)


def test_redact_removes_every_part_of_the_key():
    credentials = load_credentials("okx", "main", env=env_for("okx"), keyring=NoKeyring())
    key, secret, passphrase = SECRETS["okx"]
    assert redact(f"a{key}b{secret}c{passphrase}d", credentials) == "a…b…c…d"


def test_private_bodies_have_no_way_into_the_frame_recorder():
    import inspect

    assert "on_frame" not in inspect.signature(SignedFollower).parameters


# ---------------------------------------------------------------------------- nothing leaks


def _follower(private, venue: str, label: str, **options) -> SignedFollower:
    """A follower that reads its key from the real (patched) environment."""
    settings = {**FAST, "keyring": NoKeyring(), **options}
    return SignedFollower(venue, label, rest_url=private.emu.rest_url(venue), env=None, **settings)


def _set_keys(monkeypatch) -> list[str]:
    """Good keys under 'main', a wrong secret under 'bad', a wrong passphrase (OKX) under 'phrase',
    an unknown key under 'stranger'; returns every value set."""
    values: list[str] = []
    for venue in VENUES:
        key, secret, passphrase = SECRETS[venue]
        for label, parts in (("main", {}), ("bad", {"secret": WRONG_SECRET}),
                             ("phrase", {"passphrase": WRONG_PASSPHRASE}), ("stranger", {"key": UNKNOWN_KEY})):
            for name, value in env_for(venue, label, **parts).items():
                monkeypatch.setenv(name, value)
                values.append(value)
    return sorted(set(values))


async def _collect(follower: SignedFollower, until, timeout: float = 5.0) -> list[Event]:
    events: list[Event] = []
    changed = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        changed.set()

    async def waiter() -> None:
        while not any(until(e) for e in events):
            changed.clear()
            await changed.wait()

    task = asyncio.create_task(follower.run(emit))
    try:
        await asyncio.wait_for(waiter(), timeout)
    finally:
        follower.stop()
        await asyncio.wait_for(task, timeout)
    return events


async def _crash_out_of_run(follower: SignedFollower) -> str:
    """A consumer that raises: the exception leaves ``run``; its traceback, locals included."""

    def explode(event: Event) -> None:
        raise RuntimeError(f"consumer crashed on {type(event).__name__}")

    try:
        await asyncio.wait_for(follower.run(explode), 5.0)
    except RuntimeError as crash:
        exception = traceback.TracebackException.from_exception(crash, capture_locals=True)
        return "".join(exception.format())
    raise AssertionError("run() swallowed the consumer's crash")


def _texts(events: list[Event]) -> list[str]:
    return [encode_event(e).decode() for e in events] + [repr(e) for e in events]


async def test_no_key_secret_or_passphrase_appears_in_any_output(private, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    stream.setLevel(logging.DEBUG)
    root.addHandler(stream)
    secrets = _set_keys(monkeypatch)
    outputs: list[str] = []
    try:
        for venue in VENUES:
            private.account(venue).can_trade = True  # every report carries the loud warning
            good = _follower(private, venue, "main")
            outputs += _texts(await good.fetch())
            outputs += _texts(await _collect(_follower(private, venue, "main"), lambda e: isinstance(e, AccountState)))
            outputs += [repr(good), str(vars(good))]
            for label in ("bad", "stranger") + (("phrase",) if venue == "okx" else ()):
                follower = _follower(private, venue, label)
                outputs += _texts(await follower.fetch())
                outputs += _texts(await _collect(_follower(private, venue, label),
                                                 lambda e: isinstance(e, FeedStatus) and "rejected" in e.detail))
            outputs += _texts(await _follower(private, venue, "main", clock=lambda: time.time() - 300).fetch())
            outputs += await _leaky_parser_statuses(private, venue)
            outputs += await _bad_body_statuses(private, venue)
            outputs += _texts(await _unreachable(venue).fetch())
            outputs.append(await _crash_out_of_run(_follower(private, venue, "main")))
            with pytest.raises(MissingCredentials) as missing:
                load_credentials(venue, "absent", keyring=NoKeyring())
            outputs.append(str(missing.value))
    finally:
        root.removeHandler(stream)
    captured = capsys.readouterr()
    records = [f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    everything = "\n".join([*outputs, caplog.text, *records, captured.out, captured.err])
    # every scenario really ran and said so
    for expected in ("rejected", "WARNING: binance key 'main' can trade", "check the system clock",
                     "unexpected RuntimeError", "unreadable account data", "unreachable", "consumer crashed",
                     "HTTP Request: GET", "no okx key 'absent'"):
        assert expected in everything, expected
    # not even a 12-character piece of one (a repr may show the key's last 4 characters, no more)
    leaked = [value for value in secrets if any(value[i:i + 12] in everything for i in range(len(value) - 11))]
    assert leaked == []


async def _leaky_parser_statuses(private, venue: str) -> list[str]:
    """A parser that crashes with the raw bodies in its message (Bybit's key-info body holds the key)."""
    follower = _follower(private, venue, "main")

    def leaky(bodies, context):
        raise RuntimeError(f"parser exploded on {sorted(bodies.values())}")

    follower.rules = replace(follower.rules, account_state=leaky)
    events = await follower.fetch()
    assert [e.detail.split(":")[1].strip() for e in events] == ["unexpected RuntimeError"]
    return _texts(events)


async def _bad_body_statuses(private, venue: str) -> list[str]:
    path = {"binance": "/fapi/v3/account", "bybit": "/v5/account/wallet-balance", "okx": "/api/v5/account/balance"}
    private.endpoints.serve_body(venue, path[venue], '{"garbage": true')
    try:
        return _texts(await _follower(private, venue, "main").fetch())
    finally:
        private.endpoints.serve_body(venue, path[venue], None)


def _unreachable(venue: str) -> SignedFollower:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return SignedFollower(venue, "main", rest_url=f"http://127.0.0.1:{port}/{venue}", env=None,
                          keyring=NoKeyring(), timeout_s=1.0)


async def test_the_log_file_at_debug_holds_no_part_of_any_key(private, monkeypatch, tmp_path):
    """The log file the CLI configures for every command (feeds/logs.py), at DEBUG, while followed keyed
    accounts are read (accepted and rejected keys, a clock out of step, an unreadable body)."""
    from adlwatch.feeds import logs

    log_file = logs.configure("DEBUG", tmp_path)
    assert log_file is not None
    secrets = _set_keys(monkeypatch)
    try:
        for venue in VENUES:
            private.account(venue).can_trade = True
            await _collect(_follower(private, venue, "main"), lambda e: isinstance(e, AccountState))
            for label in ("bad", "stranger") + (("phrase",) if venue == "okx" else ()):
                await _collect(_follower(private, venue, label),
                               lambda e: isinstance(e, FeedStatus) and "rejected" in e.detail)
            await _follower(private, venue, "main", clock=lambda: time.time() - 300).fetch()
            await _bad_body_statuses(private, venue)
            await _leaky_parser_statuses(private, venue)
    finally:
        log_file.close()
    text = "\n".join(path.read_text() for path in sorted(tmp_path.glob("adlwatch.log*")))
    assert log_file.path == tmp_path / "adlwatch.log"
    for venue in VENUES:  # the requests were logged, at DEBUG too
        assert "HTTP Request: GET" in text and venue in text
    assert " DEBUG " in text
    leaked = [value for value in secrets if any(value[i:i + 12] in text for i in range(len(value) - 11))]
    assert leaked == []
