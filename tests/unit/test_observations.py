"""The exchange format reader/validator: types, empty = missing, and errors that say where."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from db.errors import ImportValidationError
from db.observations import OBSERVATION_COLUMNS, read_observations, validate_observations

HEADER = ",".join(OBSERVATION_COLUMNS)


def _rows(n: int = 8) -> list[str]:
    """Eight valid data rows: model m<i> with 10^6 (i+1) params, empty nonembed and flops."""
    return [
        f"m{i},fam,{(i + 1) * 1_000_000},,{20_000_000 * (i + 1)},,2024-01-0{i + 1},,arc,acc,0.{i + 1}"
        for i in range(n)
    ]


def _write(tmp_path: Path, rows: list[str], name: str = "obs.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _error(path: Path) -> ImportValidationError:
    with pytest.raises(ImportValidationError) as info:
        read_observations(path)
    return info.value


def test_csv_types_and_empty_means_missing(tmp_path: Path) -> None:
    df = read_observations(_write(tmp_path, _rows()))
    assert list(df.columns[: len(OBSERVATION_COLUMNS)]) == list(OBSERVATION_COLUMNS)
    assert len(df) == 8
    assert df["n_params"].tolist() == [(i + 1) * 1e6 for i in range(8)]
    assert df["n_params_nonembed"].isna().all() and df["flops"].isna().all()  # empty, never 0
    assert df["checkpoint_step"].isna().all()
    assert df["release_date"].iloc[2] == pd.Timestamp("2024-01-03")
    assert df["value"].iloc[-1] == pytest.approx(0.8)
    assert df.index.tolist() == list(range(2, 10))  # line numbers, header = line 1


def test_row_7_negative_n_params_names_row_line_and_column(tmp_path: Path) -> None:
    rows = _rows()
    rows[6] = rows[6].replace(",7000000,", ",-5,")
    err = _error(_write(tmp_path, rows))
    assert (err.line, err.row, err.column) == (8, 7, "n_params")
    assert "obs.csv, line 8 (data row 7), column n_params" in str(err)
    assert "non-negative" in str(err) and "-5" in str(err)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("nan", "finite"), ("inf", "finite"), ("-inf", "finite"), ("12 B", "a number")],
)
def test_nan_inf_and_wrong_type_are_rejected(tmp_path: Path, cell: str, expected: str) -> None:
    rows = _rows()
    rows[3] = rows[3].replace(",0.4", f",{cell}")
    rows[5] = rows[5].replace(",6000000,", f",{cell},")
    err = _error(_write(tmp_path, rows))
    assert err.line == 5 and err.column == "value"  # the earliest bad line wins
    assert expected in str(err)


def test_missing_value_is_an_error_not_zero(tmp_path: Path) -> None:
    rows = _rows()
    rows[1] = rows[1].rsplit(",", 1)[0] + ","
    err = _error(_write(tmp_path, rows))
    assert (err.line, err.column) == (3, "value") and "required" in str(err)


def test_malformed_csv_row(tmp_path: Path) -> None:
    rows = _rows()
    rows[4] += ",surplus"
    err = _error(_write(tmp_path, rows))
    assert err.line == 6 and "11 fields" in str(err) and "12 fields" in str(err)


def test_quoted_newline_keeps_line_numbers_exact(tmp_path: Path) -> None:
    rows = _rows()
    rows[0] = rows[0].replace("fam", '"fam\nily"', 1)
    rows = [r.replace("fam,", '"fam\nily",', 1) for r in rows]
    rows[2] = rows[2].replace(",3000000,", ",-1,")
    err = _error(_write(tmp_path, rows))
    assert err.line == 6 and err.row == 3  # each earlier record spans two lines


def test_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("model,benchmark,value\nm,arc,0.5\n")
    err = _error(path)
    assert err.line == 1 and err.column == "metric"


def test_unknown_metric_lists_known_names(tmp_path: Path) -> None:
    rows = _rows()
    rows[2] = rows[2].replace(",acc,", ",accuracy,")
    err = _error(_write(tmp_path, rows))
    assert (err.line, err.column, err.got) == (4, "metric", "accuracy")
    assert "acc_norm" in err.expected


def test_identical_duplicates_collapse_and_different_ones_fail(tmp_path: Path) -> None:
    rows = _rows()
    df = read_observations(_write(tmp_path, [*rows, rows[2]]))
    assert len(df) == 8
    err = _error(_write(tmp_path, [*rows, rows[2].replace(",0.3", ",0.9")]))
    assert err.line == 10 and err.column == "value"
    assert "line 4" in str(err) and "0.9" in str(err)


def test_one_family_and_size_per_model(tmp_path: Path) -> None:
    rows = _rows()
    extra = rows[1].replace(",arc,", ",hellaswag,").replace(",fam,", ",other,")
    err = _error(_write(tmp_path, [*rows, extra]))
    assert (err.line, err.column) == (10, "family") and "line 3" in str(err)
    extra = rows[1].replace(",arc,", ",hellaswag,").replace(",2000000,", ",2500000,")
    err = _error(_write(tmp_path, [*rows, extra]))
    assert (err.line, err.column) == (10, "n_params")


def test_tokens_may_differ_only_between_checkpoints(tmp_path: Path) -> None:
    base = "m,fam,1000,,{tok},,,{step},arc,acc,0.{v}"
    ok = [base.format(tok=t, step=s, v=s) for s, t in ((1, 100), (2, 200))]
    df = read_observations(_write(tmp_path, ok))
    assert df["n_tokens"].tolist() == [100.0, 200.0]
    assert df["checkpoint_step"].tolist() == [1, 2]
    bad = [
        base.format(tok=100, step="", v=1),
        base.format(tok=200, step="", v=1).replace("arc", "piqa"),
    ]
    err = _error(_write(tmp_path, bad))
    assert (err.line, err.column) == (3, "n_tokens")


def test_fractional_checkpoint_step_and_bad_date(tmp_path: Path) -> None:
    rows = _rows()
    rows[0] = rows[0].replace(",,arc", ",1.5,arc")
    assert _error(_write(tmp_path, rows)).column == "checkpoint_step"
    rows = _rows()
    rows[1] = rows[1].replace("2024-01-02", "yesterday")
    err = _error(_write(tmp_path, rows))
    assert (err.line, err.column) == (3, "release_date")


def test_jsonl_wrong_type_and_malformed_line(tmp_path: Path) -> None:
    good = {"model": "m", "benchmark": "arc", "metric": "acc", "value": 0.5, "n_params": 1e9}
    path = tmp_path / "obs.jsonl"
    lines = [json.dumps({**good, "model": f"m{i}"}) for i in range(4)]
    path.write_text("\n".join(lines) + "\n")
    df = read_observations(path)
    assert len(df) == 4 and df["n_params"].eq(1e9).all() and df["family"].isna().all()
    lines[2] = json.dumps({**good, "model": "m2", "n_params": True})
    path.write_text("\n".join(lines) + "\n")
    err = _error(path)
    assert (err.line, err.column) == (3, "n_params") and "a number" in str(err)
    lines[2] = json.dumps({**good, "model": "m2", "value": [0.5]})
    path.write_text("\n".join(lines) + "\n")
    assert (_error(path).line, _error(path).column) == (3, "value")
    lines[1] = '{"model": "m1", "value": '
    path.write_text("\n".join(lines) + "\n")
    err = _error(path)
    assert err.line == 2 and "JSON" in str(err)


def test_parquet_round_trip_and_unknown_columns_kept(tmp_path: Path) -> None:
    df = read_observations(_write(tmp_path, _rows()))
    out = df.reset_index(drop=True).assign(note=[f"n{i}" for i in range(8)])
    out.to_parquet(tmp_path / "obs.parquet")
    back = read_observations(tmp_path / "obs.parquet")
    assert back["note"].tolist() == [f"n{i}" for i in range(8)]
    pd.testing.assert_series_equal(
        back["n_params"].reset_index(drop=True), df["n_params"].reset_index(drop=True)
    )
    out.loc[4, "n_params"] = -np.inf
    out.to_parquet(tmp_path / "bad.parquet")
    err = _error(tmp_path / "bad.parquet")
    assert err.row == 5 and err.column == "n_params"


def test_validate_frame_counts_rows_as_lines_after_a_header() -> None:
    frame = pd.DataFrame(
        {"model": ["a", "b", "c"], "benchmark": "arc", "metric": "acc", "value": [0.1, 0.2, 0.3]}
    )
    frame.loc[2, "value"] = np.nan
    with pytest.raises(ImportValidationError) as info:
        validate_observations(frame, "frame")
    assert (info.value.file, info.value.line, info.value.row) == ("frame", 4, 3)


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "obs.xlsx").write_text("x")
    assert "csv" in _error(tmp_path / "obs.xlsx").expected
    assert "no such file" in str(_error(tmp_path / "nope.csv"))
