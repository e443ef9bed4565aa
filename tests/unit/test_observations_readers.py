"""Exact behaviour of the observation file readers: format by suffix, JSON lines and Parquet."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from db.errors import ImportValidationError
from db.observations import (
    OBSERVATION_COLUMNS,
    OPTIONAL_COLUMNS,
    _read_jsonl,
    _read_parquet,
    read_observations,
)

ALL_COLUMNS = [*OBSERVATION_COLUMNS, *OPTIONAL_COLUMNS]

ROWS = [
    {"model": "m1", "benchmark": "arc", "metric": "acc", "value": 0.25},
    {"model": "m2", "benchmark": "arc", "metric": "acc", "value": 0.5},
]


def _full(path: Path, rest: str) -> str:
    """An anchored pattern for the whole message ``<path><rest>``."""
    return "^" + re.escape(str(path) + rest) + "$"


def _all_columns_missing(path: Path, got: str) -> str:
    """The message for a file none of whose columns is a required one."""
    return (
        f"{path}, line 1, column model: expected columns model, benchmark, metric, value "
        f"(missing: model, benchmark, metric, value), got {got}"
    )


def _csv_text(sep: str = ",") -> str:
    lines = [sep.join(ROWS[0])] + [sep.join(str(v) for v in r.values()) for r in ROWS]
    return "\n".join(lines) + "\n"


def _jsonl_text(rows: list[dict[str, object]] | None = None) -> str:
    return "".join(json.dumps(r) + "\n" for r in (ROWS if rows is None else rows))


def _check_two_rows(df: pd.DataFrame, lines: list[int]) -> None:
    assert list(df.columns) == ALL_COLUMNS
    assert df.index.name == "line"
    assert df.index.tolist() == lines
    assert df["model"].tolist() == ["m1", "m2"]
    assert df["benchmark"].tolist() == ["arc", "arc"]
    assert df["metric"].tolist() == ["acc", "acc"]
    assert df["value"].tolist() == [0.25, 0.5]
    assert df["value"].dtype == np.float64
    assert df.attrs["origin"] == str(df.attrs["origin"])


# --- read_observations: which reader a suffix picks ------------------------------------------


@pytest.mark.parametrize("name", ["obs.csv", "obs.CSV", "obs.txt", "obs.Txt"])
def test_comma_separated_suffixes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(_csv_text())
    df = read_observations(path)
    _check_two_rows(df, [2, 3])
    assert df.attrs["origin"] == str(path)


@pytest.mark.parametrize("name", ["obs.tsv", "obs.TSV"])
def test_tsv_is_tab_separated(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(_csv_text("\t"))
    _check_two_rows(read_observations(path), [2, 3])


def test_tsv_with_commas_is_not_split_on_commas(tmp_path: Path) -> None:
    path = tmp_path / "obs.tsv"
    path.write_text(_csv_text(","))
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert str(info.value) == _all_columns_missing(path, "'model,benchmark,metric,value'")


def test_csv_with_tabs_is_not_split_on_tabs(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(_csv_text("\t"))
    with pytest.raises(ImportValidationError, match=r"^.*\(missing: model, benchmark, metric, "):
        read_observations(path)


@pytest.mark.parametrize("name", ["obs.csv.gz", "obs.v1.csv.gz", "obs.CSV.gz"])
def test_gzipped_csv(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(_csv_text().encode()))
    _check_two_rows(read_observations(path), [2, 3])


@pytest.mark.parametrize("name", ["obs.parquet", "obs.pq", "obs.PARQUET", "obs.Pq"])
def test_parquet_suffixes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    pd.DataFrame(ROWS).to_parquet(path)
    df = read_observations(path)
    _check_two_rows(df, [2, 3])
    assert df.attrs["origin"] == str(path)


@pytest.mark.parametrize("name", ["obs.jsonl", "obs.ndjson", "obs.json", "obs.JSONL", "o.NDJson"])
def test_json_lines_suffixes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(_jsonl_text())
    df = read_observations(path)
    _check_two_rows(df, [1, 2])
    assert df.attrs["origin"] == str(path)


@pytest.mark.parametrize(
    ("name", "got"),
    [
        ("obs.xlsx", ".xlsx"),
        ("obs", "no suffix"),
        ("obs.jsonl.gz", ".gz"),
        ("obs.parquet.gz", ".gz"),
        ("obs.tsv.gz", ".gz"),
        ("obs.csv.GZ", ".GZ"),
        ("obs.gz", ".gz"),
        ("obs.csv.bak", ".bak"),
    ],
)
def test_unknown_suffix_names_it(tmp_path: Path, name: str, got: str) -> None:
    path = tmp_path / name
    path.write_text(_csv_text())
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    err = info.value
    assert str(err) == f"{path}: expected a .csv, .parquet or .jsonl file, got {got}"
    assert (err.file, err.line, err.column, err.got) == (str(path), None, None, got)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.csv", tmp_path):
        with pytest.raises(
            ImportValidationError,
            match=_full(path, ": expected an existing file, got no such file"),
        ) as info:
            read_observations(path)
        err = info.value
        assert (err.file, err.line, err.column) == (str(path), None, None)
        assert (err.expected, err.got) == ("an existing file", "no such file")


def test_path_may_be_a_string(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(_jsonl_text())
    _check_two_rows(read_observations(str(path)), [1, 2])


def test_known_metrics_are_passed_to_validation(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(_jsonl_text([{**r, "metric": "mine"} for r in ROWS]))
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.line, info.value.column, info.value.got) == (1, "metric", "mine")
    assert read_observations(path, known_metrics=None)["metric"].tolist() == ["mine", "mine"]
    assert read_observations(path, known_metrics=["mine"])["metric"].tolist() == ["mine"] * 2
    with pytest.raises(ImportValidationError, match=r"^.*expected one of acc, got mine$"):
        read_observations(path, known_metrics=["acc"])


# --- JSON lines ------------------------------------------------------------------------------


def test_jsonl_frame_is_object_typed_in_key_order(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(
        json.dumps({"value": 1, "model": "a", "n": True})
        + "\n"
        + json.dumps({"model": "b", "extra": None, "value": 2.5})
        + "\n"
    )
    df = _read_jsonl(path)
    assert list(df.columns) == ["value", "model", "n", "extra"]
    assert all(df[c].dtype == object for c in df.columns)
    assert df.index.name == "line"
    assert df.index.tolist() == [1, 2]
    assert df["value"].tolist() == [1, 2.5]
    assert df["model"].tolist() == ["a", "b"]
    assert df["n"].iloc[0] is True
    assert pd.isna(df["n"].iloc[1])
    assert df["extra"].isna().tolist() == [True, True]


def test_jsonl_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    a, b = (json.dumps(r) for r in ROWS)
    path.write_text(f"\n  \n{a}\n\t\n\n{b}\n\n")
    df = _read_jsonl(path)
    assert df.index.tolist() == [3, 6]
    assert df["model"].tolist() == ["m1", "m2"]
    _check_two_rows(read_observations(path), [3, 6])


def test_jsonl_crlf_bom_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    a, b = (json.dumps(r) for r in ROWS)
    path.write_bytes(b"\xef\xbb\xbf" + f"{a}\r\n\r\n{b}".encode())
    df = _read_jsonl(path)
    assert df.index.tolist() == [1, 3]
    assert list(df.columns) == ["model", "benchmark", "metric", "value"]


def test_jsonl_reads_gzip_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_text().encode()))
    df = _read_jsonl(path)
    assert df.index.tolist() == [1, 2]
    assert df["value"].tolist() == [0.25, 0.5]


@pytest.mark.parametrize(
    ("line", "got"),
    [
        ("[1, 2]", "list"),
        ("3", "int"),
        ("2.5", "float"),
        ('"text"', "str"),
        ("null", "NoneType"),
        ("true", "bool"),
    ],
)
def test_jsonl_line_that_is_not_an_object(tmp_path: Path, line: str, got: str) -> None:
    path = tmp_path / "obs.jsonl"
    a, b = (json.dumps(r) for r in ROWS)
    path.write_text(f"{a}\n\n{line}\n{b}\n")
    with pytest.raises(
        ImportValidationError, match=_full(path, f", line 3: expected a JSON object, got {got}")
    ) as info:
        _read_jsonl(path)
    err = info.value
    assert (err.file, err.line, err.column, err.expected, err.got) == (
        str(path),
        3,
        None,
        "a JSON object",
        got,
    )
    with pytest.raises(
        ImportValidationError, match=_full(path, f", line 3: expected a JSON object, got {got}")
    ):
        read_observations(path)


@pytest.mark.parametrize(
    ("line", "msg"),
    [
        ('{"model": ', "Expecting value"),
        ("{'model': 'a'}", "Expecting property name enclosed in double quotes"),
        ('{"model": "a"} x', "Extra data"),
        ("nope", "Expecting value"),
    ],
)
def test_jsonl_malformed_line(tmp_path: Path, line: str, msg: str) -> None:
    path = tmp_path / "obs.jsonl"
    a = json.dumps(ROWS[0])
    path.write_text(f"{a}\n{line}\n{a}\n")
    with pytest.raises(
        ImportValidationError,
        match=_full(path, f", line 2: expected one JSON object per line, got {msg}"),
    ) as info:
        _read_jsonl(path)
    err = info.value
    assert (err.file, err.line, err.column, err.expected, err.got) == (
        str(path),
        2,
        None,
        "one JSON object per line",
        msg,
    )


@pytest.mark.parametrize("text", ["", "\n", "  \n\t\n\n"])
def test_jsonl_without_objects(tmp_path: Path, text: str) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(text)
    expected = _full(path, ": expected at least one JSON object, got none")
    with pytest.raises(ImportValidationError, match=expected) as info:
        _read_jsonl(path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), None, None)
    with pytest.raises(ImportValidationError, match=expected):
        read_observations(path)


def test_jsonl_empty_object_lines(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text("{}\n{}\n")
    df = _read_jsonl(path)
    assert df.shape == (2, 0)
    assert df.index.tolist() == [1, 2]
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert str(info.value) == _all_columns_missing(path, "no columns")


def test_jsonl_wrong_value_type_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(_jsonl_text([ROWS[0], {}, {**ROWS[1], "value": "high"}]))
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.line, info.value.column) == (2, "model")
    path.write_text(_jsonl_text([ROWS[0], {**ROWS[1], "value": "high"}]))
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.line, info.value.column, info.value.got) == (2, "value", "high")


def test_only_the_first_line_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A BOM opens a UTF-8 file and is dropped there; at the start of a later line it is a
    character (U+FEFF), which JSON does not allow before an object."""
    path = tmp_path / "obs.jsonl"
    first, second = (json.dumps(r) + "\n" for r in ROWS[:2])
    path.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\xef\xbb\xbf" + second.encode())
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.line, info.value.column) == (2, None)
    assert "one JSON object per line" in str(info.value)


def test_jsonl_bad_utf8_is_an_import_error_at_its_line(tmp_path: Path) -> None:
    """A byte that is not UTF-8 on line 3 (after 2 good lines) is reported there, also behind
    200 lines of padding (a chunked text decoder would fail at the chunk, lines earlier)."""
    path = tmp_path / "obs.jsonl"
    path.write_bytes(_jsonl_text().encode() + b'{"model": "\xff"}\n')
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), 3, None)
    assert "UTF-8 text" in str(info.value)
    long = tmp_path / "long.jsonl"
    long.write_bytes((_jsonl_text() * 100).encode() + b'{"model": "\xff"}\n')
    with pytest.raises(ImportValidationError) as info:
        read_observations(long)
    assert info.value.line == 201


# --- Parquet ---------------------------------------------------------------------------------


def test_parquet_frame_keeps_types_and_counts_lines_from_two(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    frame = pd.DataFrame(
        {"value": [0.25, 0.5, 0.75], "model": ["a", "b", "c"], "n": np.array([1, 2, 3], np.int32)},
        index=pd.Index([10, 20, 30], name="line"),
    )
    frame.to_parquet(path)
    df = _read_parquet(path)
    assert list(df.columns) == ["value", "model", "n"]
    assert df.index.name == "line"
    assert df.index.tolist() == [2, 3, 4]
    assert df["value"].dtype == np.float64
    assert df["n"].dtype == np.int32
    assert df["model"].tolist() == ["a", "b", "c"]
    assert df["value"].tolist() == [0.25, 0.5, 0.75]


def test_parquet_unnamed_index_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    pd.DataFrame(ROWS, index=[5, 9]).to_parquet(path)
    df = _read_parquet(path)
    assert list(df.columns) == ["model", "benchmark", "metric", "value"]
    assert df.index.tolist() == [2, 3]
    out = read_observations(path)
    _check_two_rows(out, [2, 3])


def test_parquet_empty_frame(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    pd.DataFrame(ROWS).iloc[:0].to_parquet(path)
    df = _read_parquet(path)
    assert df.shape == (0, 4)
    assert df.index.name == "line"
    with pytest.raises(
        ImportValidationError, match=_full(path, ": expected at least one row, got none")
    ):
        read_observations(path)


def test_parquet_missing_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    pd.DataFrame(ROWS).drop(columns=["metric", "value"]).to_parquet(path)
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert str(info.value) == (
        f"{path}, line 1, column metric: expected columns model, benchmark, metric, value "
        "(missing: metric, value), got 'model, benchmark'"
    )
    pd.DataFrame(ROWS).assign(zz=["x", "y"], aa=[1, 2]).to_parquet(path)
    df = read_observations(path)
    assert list(df.columns) == [*ALL_COLUMNS, "zz", "aa"]
    assert df["zz"].tolist() == ["x", "y"] and df["aa"].tolist() == [1, 2]
    assert df.index.tolist() == [2, 3]


def test_parquet_error_line_counts_from_two(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    pd.DataFrame([*ROWS, {**ROWS[0], "model": "m3", "value": None}]).to_parquet(path)
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    assert (info.value.line, info.value.column) == (4, "value")


@pytest.mark.parametrize("content", [b"", b"not parquet at all", b"PAR1\x00\x00PAR1"])
def test_unreadable_parquet(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "obs.parquet"
    path.write_bytes(content)
    with pytest.raises(Exception) as raw:  # whatever pyarrow raises
        pd.read_parquet(path)
    got = str(raw.value)
    with pytest.raises(ImportValidationError) as info:
        _read_parquet(path)
    err = info.value
    assert (err.file, err.line, err.column) == (str(path), None, None)
    assert (err.expected, err.got) == ("a readable Parquet file", got)
    assert str(err).startswith(f"{path}: expected a readable Parquet file, got ")
    with pytest.raises(ImportValidationError) as again:
        read_observations(path)
    assert str(again.value) == str(err)
    assert again.value.__cause__ is None and again.value.__suppress_context__
