"""The one error type for bad user input: it always names where, which field and what value."""

from __future__ import annotations

from typing import Any

VALUE_CHARS = 200  # a value quoted in an error is cut to this many characters


def shown_value(value: Any) -> str:
    """``repr(value)`` for an error line, cut to about ``VALUE_CHARS`` characters."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deep to show>"
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


class InputError(Exception):
    """Bad input from the user (portfolio file, command line, recording).

    ``str(err)`` is one line: ``FILE:LINE: FIELD = VALUE: REASON`` (parts omitted when unknown).
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: Any = None,
        line: int | None = None,
        has_value: bool | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.field = field
        self.value = value
        self.line = line
        self.has_value = value is not None if has_value is None else has_value
        super().__init__(self.__str__())

    def with_file(self, file: str, line: int | None = None) -> InputError:
        return InputError(
            self.reason,
            file=file,
            field=self.field,
            value=self.value,
            line=self.line if line is None else line,
            has_value=self.has_value,
        )

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        what = ""
        if self.field:
            what = self.field
            if self.has_value:
                what += f" = {shown_value(self.value)}"
            what += ": "
        return f"{where}{what}{self.reason}"
