"""The leaderboard's aggregates on five hand-written rows: every number below is worked by hand.

Rows (dataset, family/benchmark, split, method, abs error, inside the interval, refusal):
  A f/b largest      x  0.05 inside
  A f/b two_largest  x  0.10 outside
  A f/b largest      y  refused ("FitError: no")
  B g/c largest      x  0.10 no interval
  B g/c largest      y  0.05 inside
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import predictors.leaderboard as lb
from tests.unit.test_leaderboard import LastFit, Refuser, _fake_registry, checkpointed, ladder

NAN = float("nan")


def _rows() -> pd.DataFrame:
    data = [
        ("A", "f", "b", "acc", "largest", "x", "m1", 0.5, 0.4, 0.6, 0.55, 0.05, True, ""),
        ("A", "f", "b", "acc", "two_largest", "x", "m2", 0.3, 0.25, 0.35, 0.4, 0.1, False, ""),
        (
            "A",
            "f",
            "b",
            "acc",
            "largest",
            "y",
            "m1",
            NAN,
            NAN,
            NAN,
            0.55,
            NAN,
            None,
            "FitError: no",
        ),
        ("B", "g", "c", "acc", "largest", "x", "m3", 0.7, NAN, NAN, 0.6, 0.1, None, ""),
        ("B", "g", "c", "acc", "largest", "y", "m3", 0.65, 0.6, 0.7, 0.6, 0.05, True, ""),
    ]
    return pd.DataFrame(data, columns=list(lb.ROW_COLUMNS))


def _result(rows: pd.DataFrame | None = None, **kw: object) -> lb.LeaderboardResult:
    base: dict[str, object] = dict(
        rows=_rows() if rows is None else rows, methods=("x", "y"), alpha=0.1, n_bootstrap=50,
        random_state=7, n_cells=2, n_cells_total=3, notes=("a note",),
    )  # fmt: skip
    return lb.LeaderboardResult(**(base | kw))


def test_table_pools_per_method_and_ranks_by_error() -> None:
    t = _result().table()
    assert t["method"].tolist() == ["y", "x"]  # 0.05 before 0.0833
    x, y = t.set_index("method").loc["x"], t.set_index("method").loc["y"]
    assert (x["n"], x["n_predicted"], x["n_refused"], x["n_cells"]) == (3, 3, 0, 2)
    assert x["mean_abs_error"] == pytest.approx(0.25 / 3) and x["max_abs_error"] == 0.1
    assert (x["coverage"], x["n_intervals"]) == (0.5, 2)  # the row without interval is not counted
    assert (y["n"], y["n_predicted"], y["n_refused"], y["n_cells"]) == (2, 1, 1, 2)
    assert t["n_cells"].dtype == np.int64  # a count: 2, not 2.0, in the JSON
    assert (y["mean_abs_error"], y["max_abs_error"], y["coverage"]) == (0.05, 0.05, 1.0)
    assert list(t.columns) == [
        "method", "n", "n_predicted", "n_refused", "mean_abs_error", "max_abs_error",
        "coverage", "n_intervals", "n_cells",
    ]  # fmt: skip
    assert t.index.tolist() == [0, 1]


def test_ties_in_error_rank_by_name_and_refusers_last() -> None:
    rows = _rows()
    rows.loc[rows["method"] == "x", "abs_error"] = [0.05, 0.05, 0.05]
    rows.loc[rows["method"] == "y", "method"] = "a"
    t = _result(rows).table()
    assert t["method"].tolist() == ["a", "x"]  # equal 0.05: by name
    only_refusals = _rows().iloc[[2]]
    t = _result(pd.concat([_rows().iloc[[0]].assign(method="z"), only_refusals])).table()
    assert t["method"].tolist() == ["z", "y"] and math.isnan(t["mean_abs_error"].iloc[1])


def test_by_dataset_and_by_split() -> None:
    d = _result().by_dataset()
    assert list(zip(d["dataset"], d["method"], strict=True)) == [
        ("A", "x"), ("A", "y"), ("B", "y"), ("B", "x"),
    ]  # fmt: skip
    assert d["mean_abs_error"].iloc[0] == pytest.approx(0.075)
    assert math.isnan(d["mean_abs_error"].iloc[1]) and d["n_refused"].iloc[1] == 1
    s = _result().by_split()
    assert list(zip(s["split"], s["method"], strict=True)) == [
        ("largest", "x"), ("two_largest", "x"), ("largest", "y"),
    ]  # fmt: skip
    assert s["n"].tolist() == [2, 1, 2] and s["n_predicted"].tolist() == [2, 1, 1]
    assert s["mean_abs_error"].iloc[0] == pytest.approx(0.075)


def test_cells_carry_their_first_refusal() -> None:
    c = _result().cells()
    assert len(c) == 5  # every (cell, split, method) once
    assert c["refusal"].tolist() == ["", "", "FitError: no", "", ""]
    assert c[["dataset", "family", "split", "method"]].iloc[2].tolist() == [
        "A",
        "f",
        "largest",
        "y",
    ]


def test_a_cell_refusal_is_its_first_refused_target() -> None:
    rows = pd.concat([_rows().iloc[[0]], _rows().iloc[[0]].assign(model="m9", refusal="late")])
    assert _result(rows).cells()["refusal"].tolist() == ["late"]


def test_an_empty_result_has_the_columns_and_no_rows() -> None:
    empty = _result(_rows().iloc[:0])
    t = empty.table()
    assert t.empty and "n_cells" in t.columns and "mean_abs_error" in t.columns
    assert empty.cells().empty and list(empty.by_split().columns)[:2] == ["split", "method"]
    assert empty.to_dict()["table"] == []


def test_explanation_states_the_setup() -> None:
    assert _result().explanation() == (
        "2 of 3 (family, benchmark, metric) cells, each backtested with the largest model(s) "
        "held out, the two largest held out, and (with checkpoints) each model's final "
        "checkpoint from its first 60% of training. Errors are absolute, in the metric's units, "
        "pooled over predicted targets; coverage is the share of actuals inside the 90% "
        "interval (50 bootstrap resamples, seed 7); refused counts targets a method gave no "
        "forecast for."
    )


def test_to_dict_is_json_ready() -> None:
    import json

    d = _result().to_dict()
    assert list(d) == [
        "methods", "alpha", "n_bootstrap", "random_state", "n_cells", "n_cells_total",
        "explanation", "notes", "table", "by_dataset", "by_split", "cells", "rows",
    ]  # fmt: skip
    assert (d["methods"], d["alpha"], d["n_bootstrap"], d["random_state"]) == (
        ["x", "y"],
        0.1,
        50,
        7,
    )
    assert (d["n_cells"], d["n_cells_total"], d["notes"]) == (2, 3, ["a note"])
    assert d["explanation"] == _result().explanation()
    assert d["rows"][2]["predicted"] is None and d["rows"][2]["refusal"] == "FitError: no"
    assert d["rows"][0]["predicted"] == 0.5 and d["rows"][0]["model"] == "m1"
    assert [r["method"] for r in d["table"]] == ["y", "x"]
    assert len(d["by_dataset"]) == 4 and len(d["by_split"]) == 3 and len(d["cells"]) == 5
    assert d["cells"][2]["refusal"] == "FitError: no"
    json.dumps(d, allow_nan=False)  # no NaN left anywhere


def test_merge_concatenates_and_sums() -> None:
    a = _result()
    b = _result(_rows().iloc[[0]].assign(method="z"), methods=("z", "x"), alpha=0.2,
                n_cells=1, n_cells_total=5, notes=("b note",))  # fmt: skip
    m = lb.merge([a, b])
    assert (
        m.methods == ("x", "y", "z")
        and len(m.rows) == 6
        and m.rows.index.tolist() == list(range(6))
    )
    assert (m.n_cells, m.n_cells_total, m.notes) == (3, 8, ("a note", "b note"))
    assert (m.alpha, m.n_bootstrap, m.random_state) == (0.1, 50, 7)  # the first's settings
    with pytest.raises(ValueError, match=r"^merge: no leaderboard to merge$"):
        lb.merge([])


def test_summary_short_and_datasets() -> None:
    s = lb._summary(_rows())
    assert s == {
        "n": 5, "n_predicted": 4, "n_refused": 1, "mean_abs_error": pytest.approx(0.075),
        "max_abs_error": 0.1, "coverage": pytest.approx(2 / 3), "n_intervals": 3,
    }  # fmt: skip
    none = lb._summary(_rows().iloc[[2]])
    assert (none["n"], none["n_predicted"], none["n_intervals"]) == (1, 0, 0)
    assert all(math.isnan(none[k]) for k in ("mean_abs_error", "max_abs_error", "coverage"))
    assert lb._short("a" * 300) == "a" * 300
    cut = lb._short("b" * 301)
    assert len(cut) == 300 and cut == "b" * 299 + "…"
    obs = pd.DataFrame(
        {"family": ["f", "f", "f", "g", "h"], "source": ["s1", "s2", "s2", None, "s3"]}
    )
    assert lb._datasets(obs) == {"f": "s2", "g": "g", "h": "s3"}
    assert lb._datasets(obs.drop(columns="source")) == {"f": "f", "g": "g", "h": "h"}


def test_estimator_gets_only_the_settings_it_accepts() -> None:
    est = lb._estimator("exponential", "b", "err", 0.2, 5, 3)
    assert (est.benchmark, est.metric) == ("b", "err")
    assert (est.alpha, est.n_bootstrap, est.random_state) == (0.2, 5, 3)


def test_progress_prefers_tokens_when_every_row_has_them() -> None:
    rows = pd.DataFrame({"n_tokens": [1.0, "2"], "checkpoint_step": [10, 20]})
    col, v = lb._progress(rows)
    assert col == "n_tokens" and v.tolist() == [1.0, 2.0] and v.dtype == float
    col, v = lb._progress(rows.assign(n_tokens=[1.0, "n/a"]))
    assert col == "checkpoint_step" and v.tolist() == [10.0, 20.0] and v.dtype == float
    assert lb._progress(rows.assign(n_tokens=NAN, checkpoint_step=np.nan)) is None
    assert lb._progress(pd.DataFrame({"model": ["a"]})) is None


# -- the parts that build the rows ------------------------------------------------------------


def test_compute_prefers_flops_then_six_n_d_then_n() -> None:
    rows = pd.DataFrame({
        "model": ["a", "b", "c", "d"], "flops": [60.0, NAN, "x", NAN],
        "n_params": [1.0, 2.0, 3.0, "y"], "n_tokens": [1.0, 5.0, NAN, "z"],
    })  # fmt: skip
    c = lb._compute(rows)
    assert c.index.tolist() == ["a", "b", "c", "d"] and c.dtype == float
    # a: its flops; b: 6 x 2 x 5; c: text flops, no tokens -> n = 3; d: nothing numeric
    assert c.iloc[:3].tolist() == [60.0, 60.0, 3.0] and math.isnan(c.iloc[3])
    assert lb._compute(rows.drop(columns="flops")).iloc[:3].tolist() == [6.0, 60.0, 3.0]
    assert lb._compute(rows.drop(columns=["flops", "n_tokens"])).iloc[:3].tolist() == [
        1.0,
        2.0,
        3.0,
    ]
    with pytest.raises(
        ValueError, match=r"^leaderboard: observations lack n_params to rank models by size$"
    ):
        lb._compute(rows.drop(columns="n_params"))


def _f(point: float, lower: float, upper: float, notes: tuple[str, ...] = ()) -> lb.Forecast:
    return lb.Forecast("t", "b", "acc", point, lower, upper, 0.1, "m", notes=notes)


def test_rows_of_scores_each_forecast_against_its_actual() -> None:
    actual = pd.DataFrame({"model": ["a", "b", "c", "d", "e"], "value": [0.4, 0.6, 0.5, 0.5, 0.5]})
    fs = [
        _f(0.5, 0.4, 0.6),  # actual on the lower end: inside
        _f(0.5, 0.4, 0.6),  # on the upper end: inside
        _f(0.45, NAN, 0.6),  # no lower end: no interval
        _f(NAN, 0.4, 0.6, ("law diverged", "no roots")),  # no point: refused, interval ignored
        _f(NAN, NAN, NAN),
    ]
    rows = lb._rows_of(fs, actual)
    assert list(rows[0]) == [
        "model", "predicted", "lower", "upper", "actual", "abs_error", "inside", "refusal",
    ]  # fmt: skip
    assert [r["inside"] for r in rows] == [True, True, None, None, None]
    assert [r["refusal"] for r in rows] == [
        "", "", "", "law diverged; no roots", "no finite forecast",
    ]  # fmt: skip
    assert rows[0]["abs_error"] == pytest.approx(0.1) and rows[2]["abs_error"] == pytest.approx(
        0.05
    )
    assert math.isnan(rows[3]["abs_error"]) and rows[3]["actual"] == 0.5
    assert (rows[1]["predicted"], rows[1]["lower"], rows[1]["upper"]) == (0.5, 0.4, 0.6)
    assert rows[4]["model"] == "e"


class _Recorder(LastFit):
    """Records the columns predict was given."""

    seen: list[list[str]] = []

    def predict(self, targets: pd.DataFrame) -> list[lb.Forecast]:
        _Recorder.seen.append(list(targets.columns))
        return super().predict(targets)


def test_score_split_refusals_and_what_predict_sees() -> None:
    split = lb.checkpoint_split(checkpointed(), "b", "acc")
    assert split is not None
    rows = lb.score_split(Refuser(benchmark="b"), split)
    assert rows[0] == {
        "model": "a", "predicted": rows[0]["predicted"], "lower": rows[0]["lower"],
        "upper": rows[0]["upper"], "actual": 0.1, "abs_error": rows[0]["abs_error"],
        "inside": None, "refusal": "FitError: too few points to fit",
    }  # fmt: skip
    assert all(math.isnan(rows[0][k]) for k in ("predicted", "lower", "upper", "abs_error"))
    assert [r["model"] for r in rows] == ["a", "c"] and rows[1]["actual"] == pytest.approx(0.15)
    _Recorder.seen.clear()
    lb.score_split(_Recorder(benchmark="b"), split)
    # the targets' columns only: never the value being predicted, nor an old index
    assert _Recorder.seen and set(_Recorder.seen[0]) <= set(lb.TARGET_COLUMNS)


def test_splits_read_only_their_own_cell() -> None:
    """Another metric on the same benchmark (larger models, later steps) changes no split."""
    obs = ladder([0.1, 0.2, 0.3, 0.4, 0.5])
    other = pd.DataFrame({"model": ["m9"], "family": "f", "n_params": [1e10], "n_tokens": 1e9,
                          "benchmark": "b", "metric": "f1", "value": [0.9], "source": "lab"})  # fmt: skip
    splits = lb.largest_splits(pd.concat([obs, other]), "b", "acc")
    assert splits[0].actual["model"].tolist() == ["m5"]
    assert splits[0].description == "hold out m5" and splits[1].description == "hold out m4, m5"
    ck = checkpointed()
    f1 = ck.assign(metric="f1", value=9.0)
    later = ck[ck["checkpoint_step"] == 10].assign(metric="f1", checkpoint_step=11, value=9.0)
    split = lb.checkpoint_split(pd.concat([ck, later]), "b", "acc")
    assert split is not None and split.actual["value"].tolist() == pytest.approx([0.1, 0.15])
    split = lb.checkpoint_split(
        pd.concat([ck, f1.assign(benchmark="z")]).assign(flops=NAN), "b", "acc"
    )
    assert split is not None and split.actual["value"].tolist() == pytest.approx([0.1, 0.15])
    assert split.description == "fit on n_tokens <= 0.6 x each model's final"
    only_f1_early = pd.concat([ck[ck["checkpoint_step"] > 7], f1[f1["checkpoint_step"] <= 7]])
    only = lb.checkpoint_split(only_f1_early[only_f1_early["model"] == "a"], "b", "acc")
    assert only is None  # early rows of another metric are no early cell rows


def test_checkpoint_split_needs_two_checkpoints_somewhere() -> None:
    ck = checkpointed()
    one_each = ck[ck["checkpoint_step"] == ck.groupby("model")["checkpoint_step"].transform("max")]
    assert lb.checkpoint_split(one_each, "b", "acc") is None
    two = ck[(ck["model"] == "a") & ck["checkpoint_step"].isin([0, 1])].drop(columns="n_tokens")
    split = lb.checkpoint_split(two, "b", "acc")  # by step: end 1, fit on step 0
    assert split is not None and split.actual["model"].tolist() == ["a"]
    assert split.fit["checkpoint_step"].tolist() == [0]


def test_leaderboard_arguments_at_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_registry(monkeypatch)
    obs = ladder([0.1, 0.2, 0.3, 0.4])
    for kw in ({"max_cells": 500}, {"n_bootstrap": 0}, {"n_bootstrap": 10_000}, {"alpha": 0.999}):
        lb.leaderboard(obs, methods=["last"], **kw)
    bad = [
        ({"n_bootstrap": -1}, r"^leaderboard: n_bootstrap=-1 outside \[0, 10000\]$"),
        ({"n_bootstrap": 10_001}, r"^leaderboard: n_bootstrap=10001 outside \[0, 10000\]$"),
        ({"alpha": 0.0}, r"^leaderboard: alpha=0\.0 must be strictly between 0 and 1$"),
        ({"alpha": 1.0}, r"^leaderboard: alpha=1\.0 must be strictly between 0 and 1$"),
        ({"alpha": 1.5}, r"^leaderboard: alpha=1\.5"),
        ({"max_cells": 0}, r"^leaderboard: max_cells=0 outside \[1, 500\]$"),
        ({"benchmarks": ["zz"]}, r"^leaderboard: no \(family, benchmark, metric\) cell matches the selection$"),
    ]  # fmt: skip
    for kw, message in bad:
        with pytest.raises(ValueError, match=message):
            lb.leaderboard(obs, methods=["last"], **kw)
    with pytest.raises(
        ValueError, match=r"^leaderboard: observations lack column\(s\) \['family'\]"
    ):
        lb.leaderboard(obs.drop(columns="family"), methods=["last"])


def test_leaderboard_selection_rows_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_registry(monkeypatch)
    obs = pd.concat([
        ladder([0.1, 0.2, 0.3, 0.4]), ladder([0.2, 0.3, 0.4, 0.5], family="g"),
        ladder([0.5, 0.6, 0.7, 0.8]).assign(metric="f1"), ladder([0.1, 0.2], family="h"),
    ], ignore_index=True)  # fmt: skip
    board = lb.leaderboard(obs, families=["f", "h"], metrics=["acc"], n_bootstrap=3, random_state=5)
    assert (board.n_cells_total, board.n_bootstrap, board.random_state) == (2, 3, 5)
    assert set(board.rows["family"]) == {"f"} and set(board.rows["metric"]) == {"acc"}
    assert set(board.rows["benchmark"]) == {"b"} and list(board.rows.columns) == list(
        lb.ROW_COLUMNS
    )
    assert board.methods == ("last", "refuser")  # default: every registered method
    assert board.notes == ("h/b/acc: fewer than three model sizes, no split",)
    ck = lb.leaderboard(checkpointed(), methods=["last"])
    assert set(ck.rows["split"]) == {"checkpoints"}  # two model sizes: no largest split
    empty = lb.leaderboard(ladder([0.1, 0.2]), methods=["last"])
    assert empty.rows.empty and list(empty.rows.columns) == list(lb.ROW_COLUMNS)
