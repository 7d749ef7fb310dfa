"""Number formatting shared by the CLI tables and the TUI widgets: formats, never calculates."""

from __future__ import annotations

import math


def price(x: float | None) -> str:
    """A price with the precision its size needs: 116,847.9 · 3,681.25 · 0.16514."""
    if x is None or not math.isfinite(x):
        return "--"
    ax = abs(x)
    if ax >= 10_000:
        return f"{x:,.1f}"
    if ax >= 100:
        return f"{x:,.2f}"
    if ax >= 1:
        return f"{x:,.4f}"
    return f"{x:.6g}"


def amount(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "--"
    if abs(x) < 1 and x != 0:
        return f"{x:.{max(digits, 4)}g}" if abs(x) < 0.01 else f"{x:,.4f}"
    return f"{x:,.{digits}f}"


def usd(x: float | None) -> str:
    """A large dollar amount in short form: 1.25B · 340.00M · 12.50k · 950."""
    if x is None or not math.isfinite(x):
        return "--"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:,.2f}{unit}"
    return f"{x:,.0f}"


def size(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1_000_000 else f"{x:,.0f}"


def pct(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "--"
    return f"{x:+.{digits}f}%"


def ratio(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "--"
    return f"{x:.{digits}f}"


def leverage(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "--"
    return f"{x:.1f}x"


def score(x: float | None) -> str:
    if x is None:
        return "--"
    if not math.isfinite(x):
        return "inf"
    return f"{x:.4g}"


def lights(quantile: int | None) -> str:
    """The 5-light ADL indicator as text: ●●●○○ for 3."""
    if quantile is None:
        return "--"
    return "●" * quantile + "○" * (5 - quantile)
