"""Split-conformal calibration over leave-largest-out folds (predictors/calibration.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors.base import Forecast, Forecaster, check_is_fitted
from predictors.calibration import (
    D0,
    calibrate,
    calibrated,
    checkpoint_folds,
    conformal_quantile,
    fold_forecasts,
    min_folds_for,
    nested_folds,
    t_quantile,
)
from predictors.selection import compute_of


class LogLinear(Forecaster):
    """A cheap law for many replications: score linear in log10 compute, no interval."""

    def __init__(self, *, benchmark: str = "b", metric: str = "acc") -> None:
        self.benchmark, self.metric = benchmark, metric

    def fit(self, observations: pd.DataFrame) -> LogLinear:
        # the frames here hold one benchmark and one row per model: no selection needed
        x = np.log10(observations["flops"].to_numpy(float))
        self.coef_ = np.polyfit(x, observations["value"].to_numpy(float), 1)
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        x = np.log10(compute_of(targets))
        return [
            Forecast(
                str(m),
                self.benchmark,
                self.metric,
                float(np.polyval(self.coef_, xi)),
                math.nan,
                math.nan,
                0.1,
                "loglinear",
            )
            for m, xi in zip(targets["model"], x, strict=True)
        ]


def ladder(x: np.ndarray, y: np.ndarray, **extra: Any) -> pd.DataFrame:
    return pd.DataFrame({"model": [f"m{i}" for i in range(len(x))], "flops": 10.0**x,
                         "n_params": np.nan, "n_tokens": np.nan, "benchmark": "b",
                         "metric": "acc", "value": y, **extra})  # fmt: skip


def test_conformal_rank_is_the_finite_sample_one() -> None:
    scores = np.arange(1.0, 21.0)  # 20 scores: rank ceil(21 * 0.9) = 19
    assert conformal_quantile(scores, 0.1) == 19.0
    assert conformal_quantile(scores, 0.5) == 11.0  # ceil(21 * 0.5) = 11
    assert math.isnan(conformal_quantile(scores[:8], 0.1))  # ceil(9 * 0.9) = 9 > 8
    assert conformal_quantile(scores[:9], 0.1) == 9.0
    assert (min_folds_for(0.1), min_folds_for(0.2), min_folds_for(0.05)) == (9, 4, 19)


def test_folds_hold_out_ties_together_and_fit_on_strictly_smaller() -> None:
    x = np.array([18.0, 18.5, 19.0, 19.5, 20.0, 20.0])  # m4 and m5 are twins at 1e20
    obs = ladder(x, np.linspace(0.3, 0.6, 6))
    loss = obs.assign(benchmark="loss_set", metric="loss")  # other rows leave with their model
    folds = nested_folds(pd.concat([obs, loss]), "b", "acc", 10)
    assert [f.k for f in folds] == [1, 2]  # fold 3 would fit on two models (< 3)
    assert sorted(folds[0].targets["model"]) == ["m4", "m5"]
    assert set(folds[0].fit["model"]) == {"m0", "m1", "m2", "m3"}
    assert len(folds[0].fit) == 8  # both benchmarks of the four smaller models
    assert folds[0].distance == pytest.approx((0.5, 0.5))  # log10 1e20 - log10 10^19.5
    assert list(folds[1].targets["model"]) == ["m3"]
    assert set(folds[1].fit["model"]) == {"m0", "m1", "m2"}


def test_interval_is_quantile_times_floored_distance() -> None:
    x = 18 + 0.25 * np.arange(14)
    rng = np.random.default_rng(3)
    obs = ladder(x, 0.1 * x - 1.5 + rng.normal(0, 0.01, x.size))
    folds = nested_folds(obs, "b", "acc", 10)
    got, refused = fold_forecasts(LogLinear(), folds)
    assert refused == {} and len(got) == 10
    cal = calibrate(got, 0.1)
    scores = sorted(abs(f.error) / max(f.distance, D0) for f in got)
    assert cal.quantile == pytest.approx(scores[9])  # n=10: rank ceil(11 * 0.9) = 10
    f = LogLinear().fit(obs).predict(pd.DataFrame({"model": ["t"], "flops": [10.0**21.5],
                                                   "n_params": [np.nan], "n_tokens": [np.nan]}))[0]  # fmt: skip
    out = calibrated(f, cal, d=0.25)  # 21.5 - 21.25
    assert out.upper - out.point == pytest.approx(cal.quantile * 0.25)
    assert out.point - out.lower == pytest.approx(cal.quantile * 0.25)
    near = calibrated(f, cal, d=0.01)  # inside the floor: half width q * d0
    assert near.upper - near.point == pytest.approx(cal.quantile * D0)
    assert out.diagnostics["calibration"]["n_residuals"] == 10


def test_too_few_residuals_fall_back_to_the_own_interval_and_say_so() -> None:
    x = 18 + 0.25 * np.arange(7)  # at most 4 folds of 1 target: fewer than 9
    obs = ladder(x, 0.1 * x - 1.5)
    got, _ = fold_forecasts(LogLinear(), nested_folds(obs, "b", "acc", 10))
    cal = calibrate(got, 0.1)
    assert not cal.ok and "needs at least 9" in cal.fallback
    own = Forecast("t", "b", "acc", 0.5, 0.4, 0.6, 0.1, "m")
    out = calibrated(own, cal, 0.3)
    assert (out.lower, out.upper) == (0.4, 0.6)
    assert any("no calibrated interval" in n for n in out.notes)


@pytest.mark.slow
def test_calibrated_90_percent_interval_covers_about_90_percent() -> None:
    """200 replications of a 14-model ladder with noise, predicting one step (0.25 in log10
    compute) beyond the largest. With 10 fold residuals the conformal rank is the largest, so
    under exchangeability coverage is 10/11 = 0.909 (folds fitted on fewer points err more,
    which can only widen it). Binomial s.e. at p = 0.9 over 200 draws: sqrt(0.9 * 0.1 / 200)
    = 0.021, so [0.845, 0.97] is 0.909 +- ~3 s.e.; 0.8 lies 4.7 s.e. below 0.9 and 0.99 4.2
    s.e. above, so either would fail."""
    x = 18 + 0.25 * np.arange(15)
    rng = np.random.default_rng(20240614)
    hits, widths = [], []
    for _ in range(200):
        y = 0.1 * x - 1.5 + rng.normal(0, 0.02, x.size)
        obs = ladder(x[:-1], y[:-1])  # the target (x[-1]) is never in the fit data
        got, _ = fold_forecasts(LogLinear(), nested_folds(obs, "b", "acc", 10))
        cal = calibrate(got, 0.1)
        target = pd.DataFrame({"model": ["t"], "flops": [10.0 ** x[-1]],
                               "n_params": [np.nan], "n_tokens": [np.nan]})  # fmt: skip
        f = calibrated(LogLinear().fit(obs).predict(target)[0], cal, 0.25)
        hits.append(f.lower <= y[-1] <= f.upper)
        widths.append(f.upper - f.lower)
    coverage = float(np.mean(hits))
    assert 0.845 <= coverage <= 0.97, coverage
    # and it is not bought with absurd width: the max of 10 |N(0, ~0.022)| is ~0.04, so a
    # mean width (two half widths) near 0.08; well under 0.2
    assert np.mean(widths) < 0.2


def test_checkpoint_folds_fit_on_the_early_rows_and_predict_each_final() -> None:
    """Four models with three checkpoints each (tokens 1, 2, 4 x 1e9): the 60% fold keeps the
    rows at <= 0.6 x each model's last tokens (1 and 2 x 1e9) and targets the final rows."""
    rows = []
    for i, n in enumerate([1e8, 2e8, 4e8, 8e8]):
        for step, tokens in ((1, 1e9), (2, 2e9), (3, 4e9)):
            rows.append({"model": f"m{i}", "n_params": n, "n_tokens": tokens, "flops": np.nan,
                         "checkpoint_step": step, "benchmark": "b", "metric": "acc",
                         "value": 0.1 * i + 0.01 * step})  # fmt: skip
    obs = pd.DataFrame(rows)
    (fold,) = checkpoint_folds(obs, "b", "acc")
    assert fold.k == 100
    assert sorted(fold.fit["checkpoint_step"].unique()) == [1, 2]  # 4e9 > 0.6 x 4e9
    assert list(fold.targets["model"]) == ["m0", "m1", "m2", "m3"]
    assert fold.actual == pytest.approx((0.03, 0.13, 0.23, 0.33))  # the step-3 values
    # distance to the fit set's largest compute: 6 * 8e8 * 2e9 (m3 at step 2)
    c_max = 6 * 8e8 * 2e9
    want = [math.log10(6 * n * 4e9 / c_max) for n in (1e8, 2e8, 4e8, 8e8)]
    assert fold.distance == pytest.approx(tuple(want))
    assert checkpoint_folds(obs[obs["checkpoint_step"] == 3], "b", "acc") == []  # no early rows


def test_t_bound_is_exact_for_normal_residuals() -> None:
    """With n zero-mean normal scaled residuals, the next one over their RMS is Student-t with
    n degrees of freedom, so t_quantile covers 90% at any n. 4,000 replications at n = 2, 4, 8:
    binomial s.e. sqrt(0.09 / 4000) = 0.0047; 0.9 +- 0.02 is over 4 s.e. wide each side and
    excludes both 0.8 and 0.99 (and the plain max of n residuals, which covers n / (n + 1))."""
    rng = np.random.default_rng(11)
    for n in (2, 4, 8):
        r = rng.normal(0, 0.3, (4000, n + 1))
        q = np.array([t_quantile(row[:n], 0.1) for row in r])
        coverage = float(np.mean(np.abs(r[:, n]) <= q))
        assert abs(coverage - 0.9) < 0.02, (n, coverage)
    assert math.isnan(t_quantile([], 0.1))


def test_small_sample_t_replaces_the_own_interval_fallback() -> None:
    x = 18 + 0.25 * np.arange(7)  # 4 folds of 1 target: fewer than the 9 conformal needs
    rng = np.random.default_rng(5)
    obs = ladder(x, 0.1 * x - 1.5 + rng.normal(0, 0.01, x.size))
    got, _ = fold_forecasts(LogLinear(), nested_folds(obs, "b", "acc", 10))
    cal = calibrate(got, 0.1, small_sample="t")
    assert cal.ok and "Student-t" in cal.fallback
    assert cal.quantile == pytest.approx(t_quantile(cal.scores, 0.1))
    out = calibrated(Forecast("t", "b", "acc", 0.5, 0.49, 0.51, 0.1, "m"), cal, 0.3)
    assert out.upper - out.point == pytest.approx(cal.quantile * 0.3)
    assert any("Student-t" in n for n in out.notes)
