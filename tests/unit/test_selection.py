"""Row selection, metric senses and the forecast packing every curve estimator shares.

Expected values are worked out by hand from the handful of rows each test builds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.selection import (
    as_score,
    compute_of,
    failed_forecast,
    final_checkpoint,
    from_score,
    interval_forecast,
    residual_noise,
    select,
    target_rows,
    task_level,
)

NAN = float("nan")


def _obs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["a", "b", "c", "a", "d"],
            "benchmark": ["t", "t", "t", "u", "t"],
            "metric": ["acc", "acc", "acc", "acc", "err"],
            "value": [0.5, NAN, "0.25", 0.9, 0.1],
        }
    )


def test_select_keeps_finite_rows_of_one_series_and_drops_metadata() -> None:
    obs = _obs()
    obs.attrs = {"source": np.array([1, 2])}
    rows = select(obs, "t", "acc", "here")
    assert rows["model"].tolist() == ["a", "c"]  # b's NaN is no observation; "0.25" is one
    assert rows.attrs == {} and obs.attrs != {}
    rows.loc[rows.index[0], "model"] = "z"  # a copy: the caller's frame is untouched
    assert obs.loc[0, "model"] == "a"


def test_select_names_what_is_missing() -> None:
    with pytest.raises(ValueError) as err:
        select(_obs(), "t", "ppl", "Est.fit")
    assert str(err.value) == (
        "Est.fit: no rows with benchmark='t' metric='ppl'; some present: "
        "[('t', 'acc'), ('t', 'err'), ('u', 'acc')]"
    )
    with pytest.raises(ValueError, match=r"^Est\.fit: observations lack column\(s\) \['value'\]"):
        select(_obs().drop(columns="value"), "t", "acc", "Est.fit")
    many = pd.DataFrame(
        {"model": "m", "benchmark": [f"b{i:02d}" for i in range(25)], "metric": "acc", "value": 1.0}
    )
    with pytest.raises(ValueError) as err:
        select(many, "zz", "acc", "w")
    assert "('b19', 'acc')]" in str(err.value) and "b20" not in str(err.value)  # first 20 only


def test_task_level_prefers_task_rows_else_averages_items() -> None:
    base = {"model": ["a", "a", "a", "b"], "benchmark": "t", "metric": "acc"}
    mixed = pd.DataFrame(base | {"item": [None, "1", "2", "1"], "value": [0.7, 0.0, 1.0, 1.0]})
    assert task_level(mixed)["value"].tolist() == [0.7]
    items = pd.DataFrame(
        base | {"item": ["1", "2", "3", "1"], "value": [0.0, 1.0, 0.5, 0.25], "family": "f"}
    )
    out = task_level(items).set_index("model")
    assert out.loc["a", "value"] == pytest.approx(0.5) and out.loc["b", "value"] == 0.25
    assert out["item"].isna().all() and out.loc["a", "family"] == "f"
    assert out["checkpoint_step"].isna().all()  # averaged per (model, missing step)
    plain = pd.DataFrame(base | {"value": [0.1, 0.2, 0.3, 0.4]})
    assert task_level(plain) is plain
    no_items = plain.assign(item=None)
    assert task_level(no_items) is no_items


def test_task_level_averages_per_checkpoint() -> None:
    rows = pd.DataFrame(
        {
            "model": "a", "benchmark": "t", "metric": "acc", "item": ["1", "2", "1", "2"],
            "checkpoint_step": [1, 1, 2, 2], "value": [0.0, 0.5, 1.0, 0.5],
        }
    )  # fmt: skip
    out = task_level(rows).sort_values("checkpoint_step")
    assert out["value"].tolist() == [0.25, 0.75]
    # a model without steps is averaged too (a missing step is a group, not dropped), and two
    # series in one frame are averaged apart
    other = rows.assign(model="b", checkpoint_step=NAN, metric=["acc", "acc", "f1", "f1"])
    third = rows.assign(model="c", checkpoint_step=NAN, benchmark=["t", "t", "u", "u"])
    out = task_level(pd.concat([rows, other, third])).set_index(["model", "benchmark", "metric"])
    assert len(out) == 6
    assert (
        out.loc[("b", "t", "acc"), "value"] == 0.25 and out.loc[("b", "t", "f1"), "value"] == 0.75
    )
    assert (
        out.loc[("c", "t", "acc"), "value"] == 0.25 and out.loc[("c", "u", "acc"), "value"] == 0.75
    )


def test_final_checkpoint_is_the_largest_step() -> None:
    rows = pd.DataFrame(
        {"model": ["a", "a", "b", "b", "c"], "checkpoint_step": [20, 10, NAN, 5, NAN],
         "value": [2.0, 1.0, 9.0, 3.0, 4.0]}
    )  # fmt: skip
    out = final_checkpoint(rows)
    assert out["model"].tolist() == ["a", "b", "c"]  # one row each
    assert out["value"].tolist() == [2.0, 3.0, 4.0]  # a missing step ranks below any step
    zero = pd.DataFrame({"model": ["a", "a"], "checkpoint_step": [NAN, 0], "value": [1.0, 2.0]})
    assert final_checkpoint(zero)["value"].tolist() == [2.0]  # ... even below step 0
    no_steps = pd.DataFrame({"model": ["a", "a", "b"], "value": [1.0, 2.0, 3.0]})
    assert final_checkpoint(no_steps)["value"].tolist() == [2.0, 3.0]  # the last row per model
    all_nan = no_steps.assign(checkpoint_step=NAN)
    assert final_checkpoint(all_nan)["value"].tolist() == [2.0, 3.0]
    assert "_s" not in final_checkpoint(rows).columns


def test_metric_senses_round_trip() -> None:
    v = np.array([0.25, 0.5])
    assert as_score(v, "err").tolist() == [0.75, 0.5]
    assert as_score(np.array([math.e, 1.0]), "ppl").tolist() == pytest.approx([1.0, 0.0])
    assert as_score(v, "acc").tolist() == [0.25, 0.5]
    # whatever comes in (ints, lists), the law is fitted to floats
    assert as_score(np.array([0, 1]), "acc").dtype == float
    assert from_score([0, 1], "acc").dtype == float
    assert from_score(v, "err").tolist() == [0.75, 0.5]
    assert from_score(np.array([1.0, 0.0]), "ppl").tolist() == pytest.approx([math.e, 1.0])
    assert from_score(0.25, "acc") == 0.25


def test_compute_of_uses_flops_where_given() -> None:
    df = pd.DataFrame({"n_params": [1.0, 2.0], "n_tokens": [10.0, 10.0], "flops": [7.0, NAN]})
    assert compute_of(df).tolist() == [7.0, 120.0]
    assert compute_of(df.drop(columns="flops")).tolist() == [60.0, 120.0]


def test_target_rows_adds_flops_and_requires_the_rest() -> None:
    t = pd.DataFrame({"model": ["x"], "n_params": [1.0]}, index=[5])
    out = target_rows(t, ["n_params", "flops"], "w")
    assert out.index.tolist() == [0] and math.isnan(out.loc[0, "flops"])
    assert "flops" not in t.columns
    assert list(out.columns) == ["model", "n_params", "flops"]  # the old index is not a column
    assert "flops" not in target_rows(t, ["n_params"], "w").columns
    given = target_rows(t.assign(flops=3.0), ["n_params", "flops"], "w")
    assert given["flops"].tolist() == [3.0]  # given FLOPs are kept
    with pytest.raises(ValueError, match=r"^w: observations lack column\(s\) \['n_tokens'\]"):
        target_rows(t, ["n_params", "n_tokens", "flops"], "w")
    with pytest.raises(ValueError, match=r"\['model'\]"):
        target_rows(t.drop(columns="model"), ["flops"], "w")


def _forecast(draws: np.ndarray, metric: str = "acc", n_resamples: int | None = None) -> object:
    return interval_forecast(
        target="x", benchmark="b", metric=metric, point=0.5, draws=draws, alpha=0.5,
        method="m", params={"k": 1}, diagnostics={"d": 2}, notes=["given"],
        n_resamples=n_resamples,
    )  # fmt: skip


def test_interval_forecast_maps_the_percentile_interval_to_the_metric() -> None:
    draws = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    f = _forecast(draws)
    # alpha 0.5: quartiles of 5 points at positions 1 and 3 -> 0.2 and 0.4
    assert (f.point, f.lower, f.upper) == (0.5, pytest.approx(0.2), pytest.approx(0.4))
    assert (f.target, f.benchmark, f.metric, f.method, f.alpha) == ("x", "b", "acc", "m", 0.5)
    assert (f.params, f.diagnostics, f.notes) == ({"k": 1}, {"d": 2}, ("given",))
    e = _forecast(draws, "err")  # 1 - acc reverses the ends; lower stays below upper
    assert (e.point, e.lower, e.upper) == (0.5, pytest.approx(0.6), pytest.approx(0.8))


def test_failed_refit_share_boundary_is_twenty_percent() -> None:
    """160 of 200 (exactly 20% failed) keeps the interval; 159 does not, and says why."""
    ok = _forecast(np.full(160, 0.3), n_resamples=200)
    assert ok.lower == ok.upper == 0.3 and ok.notes == ("given",)
    bad = _forecast(np.full(159, 0.3), n_resamples=200)
    assert math.isnan(bad.lower) and math.isnan(bad.upper) and bad.point == 0.5
    assert bad.notes == (
        "given",
        "only 159 of 200 bootstrap resamples could be fitted (more than 20% failed): no "
        "interval, since the survivors are not a fair sample",
    )
    assert _forecast(np.full(3, 0.3), n_resamples=None).lower == 0.3  # no check asked
    assert _forecast(np.full(3, 0.3), n_resamples=0).lower == 0.3


def test_no_draws_and_no_finite_point_are_noted() -> None:
    f = _forecast(np.array([]))
    assert math.isnan(f.lower) and f.notes == (
        "given",
        "no bootstrap resample could be fitted: no interval",
    )
    nan_only = _forecast(np.array([NAN]))  # a draw, just not finite: no "no resample" note
    assert math.isnan(nan_only.lower) and nan_only.notes == ("given",)
    g = interval_forecast(
        target="x", benchmark="b", metric="acc", point=NAN, draws=np.array([0.1]), alpha=0.1,
        method="m", params={}, diagnostics={}, notes=[],
    )  # fmt: skip
    assert g.notes == ("the fitted law gives no finite value at this target",)
    assert g.lower == 0.1 and g.upper == 0.1


def test_failed_forecast_carries_the_reason() -> None:
    f = failed_forecast(
        target="x", benchmark="b", metric="acc", alpha=0.1, method="m", why="too few", diag={"n": 1}
    )
    assert f.notes == ("no forecast: too few",) and f.diagnostics == {"n": 1}
    assert (f.target, f.benchmark, f.metric, f.alpha, f.method) == ("x", "b", "acc", 0.1, "m")
    assert all(math.isnan(v) for v in (f.point, f.lower, f.upper)) and not f.ok


def test_residual_noise_is_inflated_for_the_fitted_parameters() -> None:
    """5 residuals, 3 parameters: each draw is a residual times sqrt(5/2)."""
    r = (0.5, -0.25, 0.125, 0.0, 1.0)
    d = residual_noise(r, 3, 5000, np.random.default_rng(0))
    k = math.sqrt(5 / 2)
    assert set(np.round(d / k, 12)) == set(r)
    # every residual is drawn about equally often (with replacement): 1000 +- 4 sqrt(800)
    counts = pd.Series(np.round(d / k, 12)).value_counts()
    assert (abs(counts - 1000) < 4 * math.sqrt(5000 * 0.2 * 0.8)).all()
    assert residual_noise(r, 5, 5, np.random.default_rng(0)).tolist() == [0.0] * 5  # p = n
    assert residual_noise((), 0, 2, np.random.default_rng(0)).tolist() == [0.0, 0.0]
    one = residual_noise((0.5,), 0, 3, np.random.default_rng(0))
    assert one.tolist() == [0.5, 0.5, 0.5]  # no parameters: no inflation
