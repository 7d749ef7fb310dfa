"""The alert thresholds: the portfolio file's ``[alerts]`` table (and the command line's), validated.

Their evaluation is engine/alerts.py; the portfolio validates its ``[alerts]`` table with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from adlwatch.engine.errors import InputError

# Bands and times, not rules: a rule is switched off at its threshold.
_NOT_SWITCHABLE = frozenset({"distance_hysteresis_pct", "cascade_pressure_hysteresis_pct", "hold_s"})


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Global thresholds; ``None`` switches a rule off."""

    distance_below_pct: float | None = 5.0  # liquidation distance (%) under which a position alerts
    distance_hysteresis_pct: float = 1.0  # ... and above threshold + this it re-arms
    adl_lights_at_least: int | None = 4  # the venue's ADL lights (or our estimate where it has none)
    fund_to_oi_drop_pct: float | None = 20.0  # fund-to-OI down this much from its session high
    stale_feed_after_s: float | None = 10.0  # a feed stale or disconnected this long
    venue_adl_alerts: bool = True  # Bybit adlAlert / OKX adl-warning in a non-normal state
    # Cascade pressure (engine/flow.py): the heavier side's liquidations over five minutes as a % of
    # the contract's insurance fund. 5 %: a calm market reads well under 0.5 % on the large pools
    # (BTC on Binance: a few $M an hour against a ~$1B fund); on 10 Oct 2025 Binance's shared fund
    # lost $188M (15 %) in a night with $16.7B of longs liquidated market-wide and a peak minute of
    # $3.2B (research/adl_literature.md §2-3), i.e. five-minute flows of tens of % of a fund. 5 % is
    # a flow that, kept up for an hour, is the order of what drained that fund. It clears once the
    # reading is back below 5 − 2.5 = 2.5 % (held ``hold_s``): a burst that pauses is one alert.
    cascade_pressure_pct: float | None = 5.0
    cascade_pressure_hysteresis_pct: float = 2.5
    hold_s: float = 5.0  # a cleared condition must stay clear this long before the alert re-arms
    bell: bool = True  # ring the terminal bell (TUI)
    desktop: bool = True  # desktop notification where the platform has one (TUI)

    @staticmethod
    def from_data(data: Any, where: str = "alerts") -> AlertRules:
        """The ``[alerts]`` table: unknown keys, wrong types and negative numbers are InputErrors."""
        if not isinstance(data, dict):
            raise InputError("must be a table", field=where, value=data)
        known = {f.name: f for f in fields(AlertRules)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise InputError(f"unknown key; allowed: {', '.join(sorted(known))}", field=f"{where}.{key}", value=value)
            default = getattr(AlertRules(), key)
            name = f"{where}.{key}"
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise InputError("must be true or false", field=name, value=value)
            elif value is False and default is not None and key in _NOT_SWITCHABLE:
                raise InputError("must be a number (it cannot be switched off)", field=name, value=value)
            elif value is False:
                value = None  # `rule = false` switches a threshold off
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError("must be a number (or false to switch it off)", field=name, value=value)
            elif not math.isfinite(float(value)) or (value < 0 and key != "distance_below_pct"):
                raise InputError("must be a finite number, not negative", field=name, value=value)
            elif key == "adl_lights_at_least":
                if value != int(value) or not 1 <= value <= 5:
                    raise InputError("must be a whole number of lights, 1 to 5", field=name, value=value)
                value = int(value)
            values[key] = value
        return AlertRules(**values)
