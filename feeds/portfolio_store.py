"""The portfolio file: TOML in, validated ``Portfolio`` out, and atomic saves that lose nothing.

* A file that does not parse or validate raises ``InputError`` naming the file, the line where it
  can be found, the field and the value.
* ``save`` refuses to write over a file that does not parse (the user's text is never lost), writes
  a temporary file in the same folder, fsyncs it, keeps the previous file as ``<name>.bak`` and
  renames the new one into place.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import platformdirs
import tomli_w

from adlwatch.engine.errors import InputError
from adlwatch.engine.instruments import Catalogue, default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.files import write_atomic

APP_NAME = "adlwatch"


def default_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "portfolio.toml"


def load(path: str | os.PathLike, catalogue: Catalogue | None = None) -> Portfolio:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", file=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path)) from None
    return parse(text, str(path), catalogue)


def parse(text: str, filename: str = "<portfolio>", catalogue: Catalogue | None = None) -> Portfolio:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _decode_error_line(str(err))
        raise InputError(f"not valid TOML: {err}", file=filename, line=line) from None
    try:
        # Read against the given tables (the user's refreshed ones), or the bundled ones: the portfolio
        # then carries them through every edit.
        return Portfolio.from_data(data, catalogue if catalogue is not None else default_catalogue())
    except InputError as err:
        raise err.with_file(filename, field_line(text, err.field)) from None


def save(portfolio: Portfolio, path: str | os.PathLike, catalogue: Catalogue | None = None) -> None:
    """Write atomically; never over a file that does not parse (that file is left as it is)."""
    path = Path(path)
    catalogue = catalogue if catalogue is not None else portfolio.catalogue
    if path.exists():
        # Raises InputError, leaving the file untouched, if the current text is broken.
        parse(path.read_text(encoding="utf-8"), str(path), catalogue)
    text = dumps(portfolio)
    parse(text, str(path), catalogue)  # what we write must read back
    write_atomic(path, text, backup=path.with_name(path.name + ".bak"))  # one backup kept


def dumps(portfolio: Portfolio) -> str:
    header = "# adlwatch portfolio (format: see README.md). Saved by adlwatch.\n"
    return header + tomli_w.dumps(portfolio.to_data())


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
