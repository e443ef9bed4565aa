"""The one error type importers raise: it says which file, line and column, and what was expected.

A person fixing a bad file needs the place and the expectation, not a traceback; the CLI prints
``str(error)`` and exits non-zero, and the import's transaction has already rolled back.
"""

from __future__ import annotations

from typing import Any


def _show(value: Any) -> str:
    if isinstance(value, str) and (not value or value != value.strip() or "," in value):
        return repr(value)
    return str(value)


class ImportValidationError(ValueError):
    """Bad input at one place in one file.

    ``line`` is the 1-based line a person counts in the file (a CSV header is line 1, so the first
    data row is line 2; JSON lines count from 1; Parquet and in-memory frames count data rows from
    2 as if a header were line 1). ``line`` or ``column`` is ``None`` when the problem is the whole
    file or a whole row. ``row`` counts data rows from 1 where it is known (so a reader who says
    "row 7" and one who says "line 8" of a CSV both find their number in the message).
    """

    def __init__(
        self,
        file: str,
        line: int | None,
        column: str | None,
        expected: str,
        got: Any = None,
        *,
        row: int | None = None,
        detail: str = "",
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.expected = expected
        self.got = got
        self.row = row
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
            if self.row is not None and self.row != self.line:
                where[-1] += f" (data row {self.row})"
        elif self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        text = ", ".join(where) + f": expected {self.expected}"
        if self.got is not None:
            text += f", got {_show(self.got)}"
        if self.detail:
            text += f" ({self.detail})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "row": self.row,
            "column": self.column,
            "expected": self.expected,
            "got": None if self.got is None else _show(self.got),
            "message": str(self),
        }
