"""Exact behaviour of the CSV reader's helpers in db.observations (values, lines, messages)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from db.errors import ImportValidationError
from db.observations import (
    _check_header,
    _check_quotes_closed,
    _open_text,
    _read_csv,
    _tapped,
    _unclosed_quote,
)

CLOSING = "expected a closing quote for the quoted field that opens here, got end of file"


def _file(tmp_path: Path, data: bytes, name: str = "obs.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _raises(path: Path, message: str) -> pytest.RaisesContext[ImportValidationError]:
    return pytest.raises(ImportValidationError, match="^" + re.escape(f"{path}, {message}") + "$")


def _quote_message(line: int, column: str | None, char: int) -> str:
    where = f"line {line}" + ("" if column is None else f", column {column}")
    return (
        f"{where}: {CLOSING} (the quote is character {char} of line {line}; nothing was imported)"
    )


# --------------------------------------------------------------------------- _read_csv: values


def test_cells_are_kept_as_text_with_source_lines_in_the_index(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b" a , b \n1 , 2\n3,4\n"))
    assert list(df.columns) == ["a", "b"]  # the header is stripped, the cells are not
    assert df.values.tolist() == [["1 ", " 2"], ["3", "4"]]
    assert df.index.tolist() == [2, 3] and df.index.name == "line"
    assert all(str(t) == "object" for t in df.dtypes)


def test_header_only_gives_an_empty_frame(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a,b\n"))
    assert list(df.columns) == ["a", "b"] and len(df) == 0 and df.index.name == "line"


def test_blank_and_whitespace_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a,b\n\n1,2\n , \n\t\n3,4\n\n"))
    assert df.values.tolist() == [["1", "2"], ["3", "4"]]
    assert df.index.tolist() == [3, 6]


def test_quoted_newlines_and_doubled_quotes(tmp_path: Path) -> None:
    data = b'a,b\n"x\ny",1\n"say ""hi""",2\n5,"p\r\nq"\n6,7\n'
    df = _read_csv(_file(tmp_path, data))
    assert df.values.tolist() == [["x\ny", "1"], ['say "hi"', "2"], ["5", "p\r\nq"], ["6", "7"]]
    assert df.index.tolist() == [2, 4, 5, 7]


def test_quoted_newline_in_the_header_moves_the_first_data_line(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b'"a\nx",b\n1,2\n'))
    assert list(df.columns) == ["a\nx", "b"] and df.index.tolist() == [3]


def test_crlf_line_ends(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a,b\r\n1,2\r\n\r\n3,4\r\n"))
    assert df.values.tolist() == [["1", "2"], ["3", "4"]] and df.index.tolist() == [2, 4]


def test_tab_delimiter_keeps_commas_in_cells(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a\tb\n1,x\t2\n"), delimiter="\t")
    assert list(df.columns) == ["a", "b"] and df.values.tolist() == [["1,x", "2"]]


def test_default_delimiter_is_a_comma(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a\tb,c\n1\t2,3\n"))
    assert list(df.columns) == ["a\tb", "c"] and df.values.tolist() == [["1\t2", "3"]]


def test_bom_is_dropped_from_the_first_column_name(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, "\ufeffmodel,value\nm\u00e9,1\n".encode()))
    assert list(df.columns) == ["model", "value"] and df.values.tolist() == [["m\u00e9", "1"]]


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbfa,b\r\n1,2\r\n"))
    df = _read_csv(path)
    assert list(df.columns) == ["a", "b"] and df.values.tolist() == [["1", "2"]]


def test_unnamed_header_cells_are_named_like_pandas(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b", a, \n1,2,3\n"))
    assert list(df.columns) == ["Unnamed: 0", "a", "Unnamed: 2"]


# --------------------------------------------------------------------------- _read_csv: errors


def test_empty_file(tmp_path: Path) -> None:
    path = _file(tmp_path, b"")
    with _raises(path, "line 1: expected a header row, got an empty file"):
        _read_csv(path)


def test_too_many_fields(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a,b\n1,2\n\n1,2,3\n")
    with _raises(path, "line 4: expected 2 fields as in the header, got 3 fields"):
        _read_csv(path)


@pytest.mark.parametrize("pad_short", [False, True])
def test_too_many_fields_is_an_error_even_when_padding(tmp_path: Path, pad_short: bool) -> None:
    path = _file(tmp_path, b'a,b\n"x\ny",2,3\n')  # a closed quote: the field count is the error
    with _raises(path, "line 2: expected 2 fields as in the header, got 3 fields"):
        _read_csv(path, pad_short=pad_short)


def test_too_few_fields_without_padding(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a,b,c\n1,2,3\n1,2\n")
    with _raises(path, "line 3: expected 3 fields as in the header, got 2 fields"):
        _read_csv(path)


def test_pad_short_fills_missing_trailing_cells(tmp_path: Path) -> None:
    df = _read_csv(_file(tmp_path, b"a,b,c\n1,2\n4\n5,6,7\n"), pad_short=True)
    assert df.values.tolist() == [["1", "2", ""], ["4", "", ""], ["5", "6", "7"]]
    assert df.index.tolist() == [2, 3, 4]


def test_duplicate_column(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a, b ,b\n1,2,3\n")
    with _raises(path, "line 1, column b: expected unique column names, got a duplicate"):
        _read_csv(path)


def test_field_over_the_csv_limit_in_the_header(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a," + b"x" * 200_000 + b"\n")
    message = "line 1: expected a CSV header row, got field larger than field limit (131072)"
    with _raises(path, message):
        _read_csv(path)


def test_field_over_the_csv_limit_in_a_row(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a,b\n1,2\n\n3," + b"x" * 200_000 + b"\n")
    message = "line 4: expected well-formed CSV, got field larger than field limit (131072)"
    with _raises(path, message):
        _read_csv(path)


def test_bad_utf8_in_the_header(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a,\xffb\n")
    message = (
        "line 1: expected UTF-8 text, got "
        "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
    )
    with _raises(path, message):
        _read_csv(path)


def test_bad_utf8_in_a_data_row_names_that_row(tmp_path: Path) -> None:
    # The decoder reads the whole small file while the header is read, so the error must not be
    # blamed on the header: the bad byte is on line 3.
    path = _file(tmp_path, b"a,b\n1,2\n3,\xff\n")
    message = (
        "line 3: expected UTF-8 text, got "
        "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
    )
    with _raises(path, message):
        _read_csv(path)
    # past the first chunk the text decoder reads (8 KiB), the same: the row, not the chunk
    big = _file(tmp_path, b"a,b\n" + b"1,2\n" * 5000 + b"3,\xff\n", name="big.csv")
    with pytest.raises(ImportValidationError) as info:
        _read_csv(big)
    assert info.value.line == 5002


# --------------------------------------------------------------------------- _read_csv: quotes


@pytest.mark.parametrize(
    ("data", "line", "column", "char"),
    [
        (b'a,b\n1,"2\n', 2, "b", 3),  # the last record
        (b'a,b\n1,2\n\n\n3,"4', 5, "b", 3),  # after blank lines, no final newline
        (b'a,b\n"1,2\n3,4\n', 2, "a", 1),  # swallows line 3: one field instead of two
        (b'a,b\n"x\ny",1\n2,"3\n', 4, "b", 3),  # after a quoted newline
        (b'"a",b\n1,"2\n', 2, "b", 3),  # a quoted (closed) header
        (b'a\n1,"2\n', 2, None, 3),  # a field past the header's columns
    ],
)
@pytest.mark.parametrize("pad_short", [False, True])
def test_unclosed_quote_in_data(
    tmp_path: Path, data: bytes, line: int, column: str | None, char: int, pad_short: bool
) -> None:
    path = _file(tmp_path, data)
    with _raises(path, _quote_message(line, column, char)):
        _read_csv(path, pad_short=pad_short)


def test_unclosed_quote_with_a_tab_delimiter(tmp_path: Path) -> None:
    path = _file(tmp_path, b'a\tb\tc\n1\t2,"x\t"3\n')
    with _raises(path, _quote_message(2, "c", 8)):
        _read_csv(path, delimiter="\t")


def test_unclosed_quote_in_the_header(tmp_path: Path) -> None:
    path = _file(tmp_path, b'a,"b\n1,2\n')
    with _raises(path, _quote_message(1, None, 3)):
        _read_csv(path)


def test_closed_quote_with_field_count_error_reports_the_count(tmp_path: Path) -> None:
    path = _file(tmp_path, b'a,b\n"1,2",3,4\n')
    with _raises(path, "line 2: expected 2 fields as in the header, got 3 fields"):
        _read_csv(path)


# --------------------------------------------------------------------------- _check_header


def test_check_header_names_empty_cells_in_place() -> None:
    header = ["", "a", "", "b"]
    _check_header(Path("f.csv"), header)
    assert header == ["Unnamed: 0", "a", "Unnamed: 2", "b"]


def test_check_header_duplicate_of_a_generated_name() -> None:
    header = ["Unnamed: 1", ""]
    with pytest.raises(
        ImportValidationError,
        match=r"^f\.csv, line 1, column Unnamed: 1: expected unique column names, got a duplicate$",
    ) as info:
        _check_header(Path("f.csv"), header)
    err = info.value
    assert (err.line, err.column, err.expected, err.got) == (
        1,
        "Unnamed: 1",
        "unique column names",
        "a duplicate",
    )


def test_check_header_names_the_first_repeated_name() -> None:
    with pytest.raises(ImportValidationError, match=r"^f\.csv, line 1, column b: .*duplicate$"):
        _check_header(Path("f.csv"), ["a", "b", "c", "b", "a"])


def test_check_header_accepts_unique_names_unchanged() -> None:
    header = ["a", "b", "A"]
    assert _check_header(Path("f.csv"), header) is None
    assert header == ["a", "b", "A"]


# --------------------------------------------------------------------------- _open_text


def test_open_text_keeps_line_ends_and_drops_the_bom(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffa\r\nb\rc\n\u00e9".encode())
    with _open_text(path) as fh:
        assert fh.read() == "a\r\nb\rc\n\u00e9"


def test_open_text_without_a_bom(tmp_path: Path) -> None:
    path = _file(tmp_path, "x,\u00e9\n".encode())
    with _open_text(path) as fh:
        assert list(fh) == ["x,\u00e9\n"]


def test_open_text_decompresses_gz(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv.gz"
    path.write_bytes(gzip.compress("\ufeffa\r\nb\rc\n\u00e9".encode()))
    with _open_text(path) as fh:
        assert fh.read() == "a\r\nb\rc\n\u00e9"


def test_open_text_reads_other_suffixes_as_plain_text(tmp_path: Path) -> None:
    path = _file(tmp_path, b"a,b\r\n", name="obs.gz.csv")
    with _open_text(path) as fh:
        assert fh.read() == "a,b\r\n"


# --------------------------------------------------------------------------- _tapped


def test_tapped_yields_each_line_and_records_it_first() -> None:
    kept: list[str] = ["old"]
    lines = iter(["a\n", "b\n", "c"])
    tap = _tapped(lines, kept)
    assert next(tap) == "a\n" and kept == ["old", "a\n"]
    kept.clear()
    assert list(tap) == ["b\n", "c"] and kept == ["b\n", "c"]


def test_tapped_on_nothing() -> None:
    kept: list[str] = []
    assert list(_tapped([], kept)) == [] and kept == []


# --------------------------------------------------------------------------- _check_quotes_closed


def test_check_quotes_closed_names_line_column_and_character() -> None:
    lines = ['"p\n', 'q",r,"s\n']
    with pytest.raises(ImportValidationError) as info:
        _check_quotes_closed(Path("f.csv"), 7, lines, ["a", "b", "c"], ",")
    err = info.value
    assert str(err) == "f.csv, " + _quote_message(8, "c", 6)
    assert (err.line, err.column, err.got) == (8, "c", "end of file")


def test_check_quotes_closed_finds_a_quote_on_a_later_line() -> None:
    with pytest.raises(ImportValidationError) as info:
        _check_quotes_closed(Path("f.csv"), 2, ["a,b\n", '"c'], ["x", "y"], ",")
    assert str(info.value) == "f.csv, " + _quote_message(3, "x", 1)


def test_check_quotes_closed_uses_the_delimiter() -> None:
    with pytest.raises(ImportValidationError) as info:
        _check_quotes_closed(Path("f.csv"), 1, ['a\t"b\n'], ["x", "y"], "\t")
    assert str(info.value) == "f.csv, " + _quote_message(1, "y", 3)
    assert _check_quotes_closed(Path("f.csv"), 1, ['a,"b\n'], ["x", "y"], "\t") is None


def test_check_quotes_closed_field_past_the_header_has_no_column() -> None:
    with pytest.raises(ImportValidationError) as info:
        _check_quotes_closed(Path("f.csv"), 4, ['1,"2\n'], ["x"], ",")
    assert info.value.column is None
    assert str(info.value) == "f.csv, " + _quote_message(4, None, 3)


@pytest.mark.parametrize(
    "lines", [[], ["a,b\n"], ['"a","b"\n'], ['a,b"c\n'], ['"a\n', 'b"\n'], ['"a""b"']]
)
def test_check_quotes_closed_accepts_closed_records(lines: list[str]) -> None:
    assert _check_quotes_closed(Path("f.csv"), 1, lines, ["x", "y"], ",") is None


# --------------------------------------------------------------------------- _unclosed_quote


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        ("", ",", None),
        ('"', ",", (0, 1, 0)),
        ('""', ",", None),
        ('"""', ",", (0, 1, 0)),
        ('"a""', ",", (0, 1, 0)),
        ('"a"', ",", None),
        ('a\t"b', "\t", (0, 3, 1)),
        ('a,"b', "\t", None),  # a comma is a plain character with a tab delimiter
        ('a;b;"c', ";", (0, 5, 2)),
        ('"a",b,"c', ",", (0, 7, 2)),  # a delimiter after a closing quote
        ('"a"\n"b', ",", (1, 1, 0)),  # a newline after a closing quote
        ('"a"\r\n"b', ",", (1, 1, 0)),
        ('a,b\n"c', ",", (1, 1, 0)),  # a newline starts field 0 again
        ('a,b\r\n\r\nc,"d', ",", (2, 3, 1)),  # CRLF is one line end
        ('a\r\rb,"c', ",", (2, 3, 1)),  # a lone CR is a line end
        ('x,"a\nb",y,"z', ",", (1, 6, 3)),  # columns restart inside a quoted field
        ('"a\r\nb', ",", (0, 1, 0)),
        ('ab"c,"d', ",", (0, 6, 1)),  # a quote inside an unquoted field is plain
        ('"a"x"', ",", None),  # after a closed quote the field is unquoted
        ('"a"x,"', ",", (0, 6, 1)),
        ('"a""\n', ",", (0, 1, 0)),  # a doubled quote: the newline is inside the field
        ('"a"\n', ",", None),
        ('"a",\n,"b', ",", (1, 2, 1)),
        ('"a\n"\n"b', ",", (2, 1, 0)),
        (',,,"', ",", (0, 4, 3)),
        ('aX"b', ",", None),  # only CR and LF end a line
        ('\na\rb,"c', ",", (2, 3, 1)),  # a CR is judged by the character after it
    ],
)
def test_unclosed_quote_positions(
    text: str, delimiter: str, expected: tuple[int, int, int] | None
) -> None:
    assert _unclosed_quote(text, delimiter) == expected
