"""Read observations files (CSV, Parquet, JSON lines) into the exchange format (DESIGN.md).

Readers keep each row's source line in the index (name ``line``), so the validation in
:mod:`db.observation_checks` can name the line a person sees in an editor. The format's
vocabulary and :func:`validate_observations` are re-exported here, the import path the
importers, the service and the tests have always used.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observation_checks import (
    KEY_COLUMNS,
    KNOWN_METRICS,
    LOWER_IS_BETTER_METRICS,
    OBSERVATION_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RowFiles,
    key_frame,
    validate_observations,
)

__all__ = [
    "KEY_COLUMNS",
    "KNOWN_METRICS",
    "LOWER_IS_BETTER_METRICS",
    "OBSERVATION_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowFiles",
    "key_frame",
    "read_observations",
    "validate_observations",
]


def read_observations(
    path: str | Path, *, known_metrics: Iterable[str] | None = KNOWN_METRICS
) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines observations file and validate it.

    The format follows the suffix (``.csv``/``.tsv``, ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``/
    ``.json``). Raises :class:`ImportValidationError` naming file, line and column.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportValidationError(str(path), None, None, "an existing file", "no such file")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in (".csv", ".tsv", ".csv.gz", ".txt"):
        df = _read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix in (".parquet", ".pq"):
        df = _read_parquet(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        df = _read_jsonl(path)
    else:
        raise ImportValidationError(
            str(path), None, None, "a .csv, .parquet or .jsonl file", path.suffix or "no suffix"
        )
    return validate_observations(df, str(path), known_metrics=known_metrics)


def _read_csv(path: Path, *, delimiter: str = ",", pad_short: bool = False) -> pd.DataFrame:
    """Read every cell as text with the csv module, so line numbers are exact (quoted newlines too).

    ``pad_short`` fills missing trailing cells with empty ones (as pandas does) for public tables
    whose last line lacks its empty cells; a row with too many cells is always an error. A quote
    that opens a field and never closes is an error at the line and column where it opens (the
    csv module would read the rest of the file into that one cell).
    """
    opener = _open_text(path)
    with opener as fh:
        kept: list[str] = []  # the physical lines of the record being read
        reader = csv.reader(_tapped(fh, kept), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportValidationError(
                str(path), 1, None, "a header row", "an empty file"
            ) from None
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except csv.Error as exc:
            raise ImportValidationError(str(path), 1, None, "a CSV header row", str(exc)) from None
        header = [h.strip() for h in header]
        _check_quotes_closed(path, 1, kept, [], delimiter)
        kept.clear()
        _check_header(path, header)
        rows: list[list[str]] = []
        lines: list[int] = []
        start = reader.line_num + 1
        last: tuple[int, list[str]] | None = None  # the last record's first line and its lines
        try:
            for record in reader:
                last = (start, kept.copy())
                kept.clear()
                if not record or all(not c.strip() for c in record):
                    start = reader.line_num + 1
                    continue
                if pad_short and len(record) < len(header):
                    record += [""] * (len(header) - len(record))
                if len(record) != len(header):
                    _check_quotes_closed(path, start, last[1], header, delimiter)
                    raise ImportValidationError(
                        str(path),
                        start,
                        None,
                        f"{len(header)} fields as in the header",
                        f"{len(record)} fields",
                    )
                rows.append(record)
                lines.append(start)
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except csv.Error as exc:
            raise ImportValidationError(
                str(path), start, None, "well-formed CSV", str(exc)
            ) from None
    if last is not None:  # only the last record can hold an open quote: it runs to the file's end
        _check_quotes_closed(path, last[0], last[1], header, delimiter)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.index = pd.Index(lines, name="line")
    return df


def _tapped(fh: Iterable[str], kept: list[str]) -> Iterator[str]:
    """The file's lines for csv.reader, each also appended to ``kept`` (the reader clears it)."""
    for line in fh:
        kept.append(line)
        yield line


def _check_quotes_closed(
    path: Path, first_line: int, record_lines: list[str], header: list[str], delimiter: str
) -> None:
    """Refuse a record whose quoted field never closes; name its line, column and character."""
    if not any('"' in line for line in record_lines):
        return
    opened = _unclosed_quote("".join(record_lines), delimiter)
    if opened is None:
        return
    line_offset, char, field = opened
    line = first_line + line_offset
    column = header[field] if field < len(header) else None
    raise ImportValidationError(
        str(path),
        line,
        column,
        "a closing quote for the quoted field that opens here",
        "end of file",
        detail=f"the quote is character {char} of line {line}; nothing was imported",
    )


def _unclosed_quote(text: str, delimiter: str) -> tuple[int, int, int] | None:
    """(line offset, 1-based character, field index) of a quote left open at the end of ``text``.

    Follows the csv module's default dialect: a quote opens a field only as its first character,
    ``""`` inside a quoted field is a literal quote, and a record ends at a newline outside quotes.
    """
    line = field = 0
    col = 0  # 1-based character on the current line
    state = "start"  # start of a field | in an unquoted field | in quotes | a quote in quotes
    opened = (0, 0, 0)
    for pos, ch in enumerate(text):
        col += 1
        if state == "quoted":
            if ch == '"':
                state = "quote"
        elif ch in "\r\n":
            field = 0
            state = "start"
        elif state == "quote" and ch == '"':
            state = "quoted"
        elif ch == delimiter:
            field += 1
            state = "start"
        elif state == "start" and ch == '"':
            state, opened = "quoted", (line, col, field)
        else:
            state = "field"
        if ch == "\n" or (ch == "\r" and not text.startswith("\n", pos + 1)):
            line, col = line + 1, 0
    return opened if state == "quoted" else None


def _open_text(path: Path) -> TextIO:
    """Text mode with ``newline=""`` (the csv module's own line handling), gzip by suffix."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _check_header(path: Path, header: list[str]) -> None:
    """Unnamed columns (a pandas index) are named like pandas names them; duplicates are errors."""
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            header[i] = name = f"Unnamed: {i}"
        if name in seen:
            raise ImportValidationError(str(path), 1, name, "unique column names", "a duplicate")
        seen.add(name)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise ImportValidationError(
            str(path), None, None, "a readable Parquet file", str(exc)
        ) from None
    df = df.reset_index(drop=True)
    df.index = pd.Index(np.arange(2, len(df) + 2), name="line")
    return df


def _utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded on its own (``\\n`` never occurs inside a
    UTF-8 sequence), so a byte that is not UTF-8 is reported at its own line; a text stream
    decodes in chunks and fails where the chunk starts, lines (or the whole header) earlier."""
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ImportValidationError(
                    str(path), number, None, "UTF-8 text", str(exc)
                ) from None


def _not_utf8(path: Path) -> ImportValidationError:
    """The error at the first line that is not UTF-8 (the text reader only said the file had
    one somewhere). Some line fails: a bad sequence cannot span a ``\\n``."""
    try:
        for _ in _utf8_lines(path):
            pass
    except ImportValidationError as exc:
        return exc
    raise AssertionError(path)  # unreachable (the docstring): a bug, not the file's fault


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (JSON Lines: lines end at ``\\n``)."""
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, text in _utf8_lines(path):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportValidationError(
                str(path), number, None, "one JSON object per line", exc.msg
            ) from None
        if not isinstance(obj, dict):
            raise ImportValidationError(
                str(path), number, None, "a JSON object", type(obj).__name__
            )
        records.append(obj)
        lines.append(number)
    if not records:
        raise ImportValidationError(str(path), None, None, "at least one JSON object", "none")
    df = pd.DataFrame.from_records(records).astype(object)
    df.index = pd.Index(lines, name="line")
    return df
