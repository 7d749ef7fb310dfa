"""The house's walls, checked from the source: one installed package, no import circle inside it, no
module reaching into another's private names, and no bare layer import.

Read from the files with ``ast`` (nothing is imported), so a wall that breaks fails here with the
modules named, whatever the tests of the layers cover.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folder in the checkout -> name installed (setup.py's mapping).
LAYERS = {"adlwatch": "adlwatch", "engine": "adlwatch.engine", "feeds": "adlwatch.feeds", "tui": "adlwatch.tui"}


def product_modules() -> dict[str, Path]:
    """Every module of the installed package, by its dotted name."""
    out: dict[str, Path] = {}
    for folder, package in LAYERS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


MODULES = product_modules()


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import in the file, at any depth
    (a function-level import ties two modules as surely as a top-level one)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # ``from package import module``
                    out.append((submodule, None, node.lineno))
                else:
                    out.append((source, alias.name, node.lineno))
    return out


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _name, _line in imports_of(module):
            if target in MODULES and target != module:
                graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def private_reaches() -> list[str]:
    """``from other import _name`` and ``other._name`` where ``other`` is another product module."""
    out: list[str] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}  # local name -> product module it is bound to
        for target, name, line in imports_of(module):
            if target not in MODULES or target == module:
                continue
            if name is not None and name.startswith("_") and not name.startswith("__"):
                out.append(f"{module}:{line} imports {target}.{name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in MODULES and alias.asname:
                        aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                for alias in node.names:
                    if f"{source}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and aliases[node.value.id] != module
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                out.append(f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return sorted(out)


def test_the_checker_sees_a_circle_and_a_private_reach():
    """The two checks below would pass on an empty graph: they must find what they look for."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert "adlwatch.engine.risk" in MODULES and "adlwatch.tui.app" in MODULES
    assert sum(len(v) for v in import_graph().values()) > 100


def test_no_import_circle_inside_adlwatch():
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_another_modules_private_names():
    found = private_reaches()
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_the_engine_imports_neither_feeds_nor_tui():
    wrong = [
        f"{module}:{line} imports {target}"
        for module in MODULES if module.startswith("adlwatch.engine")
        for target, _name, line in imports_of(module)
        if target.startswith(("adlwatch.feeds", "adlwatch.tui"))
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.skipif(shutil.which("ruff", path=str(Path(sys.executable).parent)) is None, reason="ruff not installed")
def test_no_bare_layer_import_anywhere():
    """The lint rule (pyproject: flake8-tidy-imports banned-api) over the product, tests and benchmarks."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [ruff, "check", "--select", "TID251", "--no-cache", "adlwatch", "engine", "feeds", "tui", "tests", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_installs_only_adlwatch(tmp_path):
    """``pip install .`` puts one package into site-packages: no ``engine``, ``feeds``, ``tui`` or
    ``benchmarks`` beside it, and the bundled data files inside it."""
    # setuptools builds in the checkout's build/ (gitignored): a stale copy there of a module since
    # moved or removed would ride into the wheel, so the build starts and ends without it.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
            capture_output=True, text=True,
        )
    finally:
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    if result.returncode != 0 and "No matching distribution" in result.stderr:
        pytest.skip("no package index reachable to fetch the build backend")
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("adlwatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"adlwatch"}
    for expected in ("adlwatch/__main__.py", "adlwatch/engine/risk.py", "adlwatch/feeds/connection.py",
                     "adlwatch/tui/app.py", "adlwatch/tui/app.tcss", "adlwatch/tui/data/demo_recording.jsonl.gz"):
        assert expected in names
    assert any(n.startswith("adlwatch/engine/data/instruments/") and n.endswith(".toml") for n in names)
    assert not any(n.startswith(("adlwatch/tests", "adlwatch/benchmarks")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "adlwatch = adlwatch.tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
