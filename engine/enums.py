"""The two words every position is described by: its side and its margin mode.

String enums, so that a side or a mode prints (and encodes to JSON) as the word the portfolio file
and the ``check --json`` contract use ("long", "cross"); formulas take ``side.sign`` (+1 / −1).
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for a long, −1 for a short: the ``sign`` of the venue formulas."""
        return 1 if self is Side.LONG else -1

    @property
    def label(self) -> str:
        return self.value


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


SIDE_WORDS = frozenset(s.value for s in Side)  # what the file and the venues' reports may say
MARGIN_MODE_WORDS = frozenset(m.value for m in MarginMode)
