"""Issue 14 item 10: any portfolio file, however broken, deep or long, gives one line and exit 2,
never a traceback (and never exit 1, which means "venue unreachable").

Hypothesis mutates the example portfolio (random text spliced in, spans cut, lines doubled, values
swapped for huge, deep or odd ones) and feeds each file to the loader and to
``adlwatch check --offline`` (``main()``, in this process: an exception escaping it fails the test).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.errors import InputError
from adlwatch.tui.cli import demo_path, main
from tests import portfolio_files

EXAMPLE = demo_path("example_portfolio.toml").read_text(encoding="utf-8")
MARKS = ["--mark", "binance:BTCUSDT=60000", "--mark", "binance:ETHUSDT=3000", "--mark", "hyperliquid:BTC=61000"]
NASTY_VALUES = [
    "[" * 500 + "]" * 500,
    "[" * 40 + "1" + "]" * 40,
    "{a=" * 300 + "1" + "}" * 300,
    "{a=" * 40 + "1" + "}" * 40,
    "9" * 400,
    "1e999",
    "-1e999",
    "nan",
    "inf",
    "-0.0",
    "0",
    "1e-320",
    '"' + "x" * 5000 + '"',
    '"""' + "line\n" * 50 + '"""',
    "1979-05-27T07:32:00Z",
    "true",
    "[]",
    "{}",
    '"\\u0000"',
    '"\u202e"',
]
TOML_CHARS = st.sampled_from(list("[]{}=\"'#.,\n \t-+_0123456789abcdeflnrstuxyzé\\")) | st.characters()


@st.composite
def mutated(draw) -> str:
    text = EXAMPLE
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "cut", "double", "value", "nest"]))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:at] + "".join(draw(st.lists(TOML_CHARS, max_size=30))) + text[at:]
        elif op == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 80)):]
        elif op == "double":
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, max(len(lines) - 1, 0)))
            text = "".join(lines[: i + 1] + lines[i:])
        elif op == "value":
            lines = text.splitlines(keepends=True)
            keyed = [i for i, line in enumerate(lines) if " = " in line]
            i = draw(st.sampled_from(keyed)) if keyed else 0
            if keyed:
                key = lines[i].split(" = ", 1)[0]
                lines[i] = f"{key} = {draw(st.sampled_from(NASTY_VALUES))}\n"
            text = "".join(lines)
        else:
            depth = draw(st.integers(1, 600))
            text = text[:at] + "\nx = " + "[" * depth + "]" * depth + "\n" + text[at:]
    return text


def _one_line_exit_2(code: int, err: str, path: Path) -> None:
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1, err
        assert str(path) in lines[0] and "Traceback" not in err
        assert len(lines[0]) < 600, lines[0]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_loader_gives_a_portfolio_or_one_short_input_error(text):
    try:
        portfolio_files.parse(text, "fuzz.toml")
    except InputError as err:
        message = str(err)
        assert message.startswith("fuzz.toml") and "\n" not in message and len(message) < 600


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_check_offline_gives_exit_0_or_exit_2_with_one_line(text, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("fuzz") / "portfolio.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))  # a lone surrogate: bytes that are not UTF-8
    code = main(["check", "--offline", "--json", "--portfolio", str(path), *MARKS])
    _one_line_exit_2(code, capsys.readouterr().err, path)


@pytest.mark.parametrize("nasty", NASTY_VALUES[:4] + NASTY_VALUES[12:13],
                         ids=["array-500", "array-40", "table-300", "table-40", "string-5000"])
def test_a_deep_or_long_value_is_exit_2_and_one_short_line(tmp_path, capsys, nasty):
    path = tmp_path / "portfolio.toml"
    path.write_text(EXAMPLE.replace("size = 0.5", f"size = {nasty}"), encoding="utf-8")
    code = main(["check", "--offline", "--json", "--portfolio", str(path), *MARKS])
    err = capsys.readouterr().err
    _one_line_exit_2(code, err, path)
    assert code == 2


def test_a_1kb_file_nested_500_deep_is_exit_2_naming_the_file(tmp_path, capsys):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 500 + "]" * 500 + "\n")
    assert main(["check", "--offline", "--json", "--portfolio", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "nested deeper" in err


def test_a_quoted_value_is_cut_to_about_200_characters(tmp_path, capsys):
    path = tmp_path / "portfolio.toml"
    path.write_text(EXAMPLE.replace('venue = "binance"', 'venue = "' + "b" * 5000 + '"'), encoding="utf-8")
    assert main(["check", "--offline", "--json", "--portfolio", str(path), *MARKS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 400 and "…" in err
