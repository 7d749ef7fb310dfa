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


# Settlement assets whose amounts read in cents; every other (a coin) keeps its significant digits.
CENT_ASSETS = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD", "USDE"})


def settle_amount(x: float | None, settle: str, *, signed: bool = False) -> str:
    """An amount in a settlement asset at the precision the asset needs: 1,234.57 USDT, but a coin
    keeps four significant digits (0.0035 BTC never reads 0.00), with no exponent."""
    if x is None or not math.isfinite(x):
        return "--"
    sign = "+" if signed else ""
    if x == 0:
        return "0"
    if settle.upper() in CENT_ASSETS or abs(x) >= 1_000:
        digits = 2
    else:
        digits = min(11, max(4, 3 - math.floor(math.log10(abs(x)))))  # 11: four digits down to a satoshi (1e-8)
    return f"{x:{sign},.{digits}f}"


def rate_pct(x: float | None) -> str:
    """A funding rate given as a fraction, in percent: 0.0001 → +0.0100%."""
    if x is None or not math.isfinite(x):
        return "--"
    return f"{x * 100:+.4f}%"


def countdown(seconds: float | None) -> str:
    """Time to an event: 04:05 (mm:ss) under an hour, 7h05m from an hour; "now" once it is due."""
    if seconds is None or not math.isfinite(seconds):
        return "--"
    s = int(seconds)
    if s <= 0:
        return "now"
    if s < 3_600:
        return f"{s // 60:02d}:{s % 60:02d}"
    return f"{s // 3_600}h{s % 3_600 // 60:02d}m"


def usd3(x: float | None) -> str:
    """A dollar amount to three significant digits in short form, for narrow panels: 1.23B · 16.0B ·
    950k · 4.20M · 40.0k · 950 · 0."""
    if x is None or not math.isfinite(x):
        return "--"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale * 0.9995:  # 999,950 reads 1.00M, not 1e+03k
            v = x / scale
            return f"{v:.{2 if abs(v) < 9.995 else 1 if abs(v) < 99.95 else 0}f}{unit}"
    return f"{x:.0f}"
