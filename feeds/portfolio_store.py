"""The portfolio file: TOML in, validated ``Portfolio`` out, and atomic saves that lose nothing.

* A file that does not parse or validate raises ``InputError`` naming the file, the line where it
  can be found, the field and the value (cut to about 200 characters); any input at all, however
  deep or broken, gives that one line, never a traceback.
* ``load`` removes temp files an interrupted save left beside the file and remembers what it read.
* ``save`` refuses to write over a file that does not parse (the user's text is never lost) or
  that changed on disk since this process read or wrote it (another monitor, an editor: their
  change is kept, ours is refused with one line). It applies the change to the file's own TOML
  document (tomlkit), so the user's comments and layout survive, writes a temporary file in the
  same folder with the file's mode, fsyncs it, keeps the previous file as ``<name>.bak`` (a hard
  link or a copy: the live file is never removed) and ``os.replace``-s the new one into place.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import threading
import tomllib
from pathlib import Path
from typing import Any

import platformdirs
import tomlkit
from tomlkit import TOMLDocument
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, Null, Table, Whitespace

from adlwatch.engine.errors import InputError
from adlwatch.engine.instruments import Catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.files import clean_stale, write_atomic

APP_NAME = "adlwatch"
MAX_DEPTH = 32  # tables and arrays nested deeper than this are no portfolio
HEADER = "# adlwatch portfolio (format: see README.md). Saved by adlwatch.\n"

# What this process last read from or wrote to each file (sha256 of the bytes): a save over a file
# whose bytes are no longer these is refused. Keyed by the resolved path.
_seen: dict[str, str] = {}
_seen_lock = threading.Lock()


def default_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "portfolio.toml"


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def load(path: str | os.PathLike, catalogue: Catalogue) -> Portfolio:
    """The portfolio in ``path``, its contracts read against ``catalogue`` (which it then carries)."""
    path = Path(path)
    clean_stale(path)  # temp files of a save that was killed
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", file=str(path)) from None
    portfolio = parse(text, str(path), catalogue)
    with _seen_lock:
        _seen[_key(path)] = _digest(raw)
    return portfolio


def _depth(data: Any) -> int:
    """How deep tables and arrays nest (iteratively: any depth is measured, never recursed)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse(text: str, filename: str, catalogue: Catalogue) -> Portfolio:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _decode_error_line(str(err))
        raise InputError(f"not valid TOML: {err}", file=filename, line=line) from None
    except RecursionError:
        raise InputError(f"not a portfolio: arrays or tables nested deeper than {MAX_DEPTH} levels",
                         file=filename) from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"not a portfolio: arrays or tables nested deeper than {MAX_DEPTH} levels", file=filename)
    try:
        # Read against the given tables (the user's refreshed ones), or the bundled ones: the portfolio
        # then carries them through every edit.
        return Portfolio.from_data(data, catalogue)
    except InputError as err:
        raise err.with_file(filename, field_line(text, err.field)) from None
    except (OverflowError, RecursionError) as err:  # a number or a nesting no check above foresaw
        raise InputError(f"not a portfolio: {type(err).__name__}: {err}", file=filename) from None


def save(portfolio: Portfolio, path: str | os.PathLike) -> None:
    """Write atomically, keeping the file's comments and layout; never over a file that does not
    parse or that changed on disk since this process read it (that file is left as it is). What is
    written is read back against the portfolio's own catalogue."""
    path = Path(path)
    catalogue = portfolio.catalogue
    with _seen_lock:
        try:
            raw: bytes | None = path.read_bytes()
        except FileNotFoundError:
            raw = None
        seen = _seen.get(_key(path))
        if seen is not None and (raw is None or _digest(raw) != seen):
            what = "was removed" if raw is None else "changed on disk"
            raise InputError(f"{what} since adlwatch read it (another monitor or an editor?): that version is "
                             "kept, this edit is not written; restart adlwatch to edit the file as it is now",
                             file=str(path))
        if raw is not None:
            try:
                current = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", file=str(path)) from None
            # Raises InputError, leaving the file untouched, if the current text is broken.
            old = parse(current, str(path), catalogue)
            try:
                text = edited(current, old, portfolio)
            except Exception:  # noqa: BLE001 - tomlkit refusing what tomllib read: write it whole
                text = dumps(portfolio)  # (the user's text stays in the .bak)
        else:
            text = dumps(portfolio)
        if parse(text, str(path), catalogue) != portfolio:  # what we write must read back
            text = dumps(portfolio)
            parse(text, str(path), catalogue)
        write_atomic(path, text, backup=path.with_name(path.name + ".bak"))  # one backup kept
        _seen[_key(path)] = _digest(text.encode("utf-8"))


def dumps(portfolio: Portfolio) -> str:
    """A fresh file for the portfolio (no earlier text to keep): [alerts] and [journal] first, then the accounts."""
    data = portfolio.to_data()
    doc = tomlkit.document()
    if data.get("alerts"):
        alerts = tomlkit.table()
        for key, value in data["alerts"].items():
            alerts[key] = _value(value)
        alerts.add(tomlkit.nl())
        doc["alerts"] = alerts
    if data.get("journal"):
        journal = tomlkit.table()
        journal["folder"] = data["journal"]["folder"]
        journal.add(tomlkit.nl())
        doc["journal"] = journal
    if data["account"]:
        accounts = tomlkit.aot()
        for row in data["account"]:
            accounts.append(_table(row))
        doc["account"] = accounts
    return HEADER + "\n" + tomlkit.dumps(doc)


def edited(text: str, old: Portfolio, new: Portfolio) -> str:
    """``text`` (the file ``old`` was read from) with the change from ``old`` to ``new`` applied to
    its TOML document: what did not change keeps its comments, order and spelling."""
    doc = tomlkit.parse(text)
    _merge_table(doc, old.to_data(), new.to_data())
    return tomlkit.dumps(doc)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if not isinstance(a, dict | list) else a == b


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _merge_table(table: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in [k for k in old if k not in new]:
        if key in table:
            del table[key]
    for key, value in new.items():
        before = old.get(key)
        if key in old and key in table and _same(before, value):
            continue
        here = table.get(key) if key in table else None
        if isinstance(value, dict) and isinstance(before, dict) and isinstance(here, dict):
            _merge_table(here, before, value)
        elif value and _is_tables(value) and _is_tables(before) and isinstance(here, AoT) and len(here) == len(before):
            _merge_tables(here, before, value)
        elif _is_tables(value) and value:
            # The first rows (a position in an account that had none): below the table's keys, and
            # above the comments that end it, which are the next header's.
            trailing = _pop_trailing(_body(table)) if key not in table and isinstance(table, Table) else []
            aot = tomlkit.aot()
            for row in value:
                aot.append(_table(row))
            table[key] = aot
            _put_trailing(_last_body(aot[-1]).body, trailing or [(None, tomlkit.nl())])
        elif _is_tables(value):  # no rows left: no text at all (the comments that end them stay)
            if key in table:
                here = table[key]
                trailing = _pop_trailing(_last_body(here[-1]).body) if isinstance(here, AoT) and len(here) else []
                del table[key]
                if any(isinstance(item, Comment) for _, item in trailing):
                    _put_trailing(_body(table), trailing)
        elif isinstance(value, dict) and isinstance(table, TOMLDocument):
            new_table = tomlkit.table()
            for inner, item in value.items():
                new_table[inner] = _value(item)
            table[key] = new_table
        else:
            table[key] = _value(value)


def _value(value: Any) -> Any:
    """A table inside a table is written inline (``hedges = { BTC = "btc-basis" }``)."""
    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        for key, item in value.items():
            inline[key] = _value(item)
        return inline
    return value


def _table(row: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in row.items():
        if _is_tables(value):
            if value:
                aot = tomlkit.aot()
                for inner in value:
                    aot.append(_table(inner))
                table[key] = aot
        else:
            table[key] = _value(value)
    return table


def _merge_tables(aot: AoT, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Align the rows (an added, removed or edited one leaves the others' text alone)."""
    key = lambda row: json.dumps(row, sort_keys=True, default=str)  # noqa: E731
    matcher = difflib.SequenceMatcher(None, [key(r) for r in old], [key(r) for r in new], autojunk=False)
    for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if tag == "equal":
            continue
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(common):
            _merge_table(aot[i1 + k], old[i1 + k], new[j1 + k])
        for k in reversed(range(i1 + common, i2)):
            if k > 0:
                _hand_down_trailing(aot[k], aot[k - 1])
            del aot[k]
        for k in range(j1 + common, j2):
            table = _table(new[k])
            _last_body(table).append(None, tomlkit.nl())  # a blank line before the next header
            aot.insert(i1 + k - j1, table)


def _decode_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z_.\s]+?)\s*\]\]")
_FIELD = re.compile(r"^([a-z_]+)\[(\d+)\]$")


def _plain_table_line(text: str, parts: list[str]) -> int | None:
    """The line of ``alerts.hold_s`` (a key of a plain ``[table]``), or of the table's header."""
    if len(parts) not in (1, 2):
        return None
    inside = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if header:
            if inside is not None:
                return inside
            if header.group(1) == parts[0]:
                if len(parts) == 1:
                    return number
                inside = number
            continue
        if inside is not None and re.match(rf"^\s*{re.escape(parts[1])}\s*=", line):
            return number
    return inside


def field_line(text: str, field: str | None) -> int | None:
    """The line of ``account[1].position[0].size`` in the file text, when tables are written out."""
    if not field:
        return None
    parts = field.split(".")
    wanted: list[tuple[str, int]] = []
    key = None
    for part in parts:
        m = _FIELD.match(part)
        if m:
            wanted.append((m.group(1), int(m.group(2))))
        else:
            key = part
    if not wanted:
        return _plain_table_line(text, parts)
    table = ".".join(name for name, _ in wanted)
    counts: dict[str, int] = {}
    target_index = [idx for _, idx in wanted]
    current: list[int] = []
    header_line = None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        m = _HEADER.match(line)
        if m:
            name = re.sub(r"\s+", "", m.group(1))
            depth = name.count(".") + 1
            counts[name] = counts.get(name, -1) + 1
            # A new parent resets the child counters.
            for other in list(counts):
                if other.startswith(name + "."):
                    del counts[other]
            current = current[: depth - 1] + [counts[name]]
            if name == table and current == target_index:
                header_line = number
                if key is None:
                    return number
            elif header_line is not None:
                break
            continue
        if header_line is not None and key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return header_line


def _last_body(table: Table) -> Container:
    """The container whose end is the end of ``table``'s text (its last nested table's, if any)."""
    body = table.value.body
    if body and isinstance(body[-1][1], AoT) and len(body[-1][1]):
        return _last_body(body[-1][1][-1])
    return table.value


def _body(table: Any) -> list:
    return table.body if isinstance(table, Container) else table.value.body


def _pop_trailing(body: list) -> list:
    """Take the comments and blank lines that end a table's text."""
    start = len(body)
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], Comment | Whitespace):
        start -= 1
    trailing = body[start:]
    del body[start:]
    return trailing


def _put_trailing(body: list, trailing: list) -> None:
    # (tomlkit leaves a Null where a key was deleted: it is no text either)
    end = len(body)
    while end > 0 and body[end - 1][0] is None and isinstance(body[end - 1][1], Whitespace | Null):
        end -= 1
    for _ in range(end, len(body)):
        if isinstance(body[end][1], Whitespace):
            del body[end]
        else:
            end += 1
    body.extend(trailing)


def _hand_down_trailing(gone: Table, previous: Table) -> None:
    """Comments at the end of a table that is removed are the next header's (``# Hyperliquid``
    written above ``[[account]]``): they move to the end of the table before it."""
    trailing = _pop_trailing(_last_body(gone).body)
    if any(isinstance(item, Comment) for _, item in trailing):
        _put_trailing(_last_body(previous).body, trailing)
