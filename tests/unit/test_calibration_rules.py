"""predictors/calibration.py rule by rule, on frames small enough to count by hand.

Each number below follows from the module docstring's rules (folds, distances, conformal rank,
Student-t bound, notes) applied to the few rows written in the test; no law is fitted beyond
one that forecasts a fixed table, so every fold error is known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from predictors.base import FitError, Forecast, Forecaster, check_is_fitted
from predictors.calibration import (
    Calibration,
    FoldForecast,
    FoldSplit,
    _progress,
    calibrate,
    calibrated,
    checkpoint_folds,
    conformal_quantile,
    distance,
    fold_forecasts,
    min_folds_for,
    model_compute,
    nested_folds,
    t_quantile,
)


class Table(Forecaster):
    """Forecasts ``points[model]`` (NaN for other models); raises on fit sets of ``refuse_n``
    models; an own interval of ``+-half``."""

    def __init__(
        self,
        *,
        benchmark: str = "b",
        metric: str = "acc",
        points: tuple[tuple[str, float], ...] = (),
        refuse_n: tuple[int, ...] = (),
        half: float = 0.05,
    ) -> None:
        self.benchmark, self.metric = benchmark, metric
        self.points, self.refuse_n, self.half = points, refuse_n, half

    def fit(self, observations: pd.DataFrame) -> Table:
        n = int(observations["model"].nunique())
        if n in self.refuse_n:
            raise FitError(f"refused on {n} models")
        self.n_fit_ = n
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        table = dict(self.points)
        out = []
        for m in targets["model"]:
            p = table.get(m, math.nan)
            notes = () if math.isfinite(p) else (f"no point for {m}", "second note")
            out.append(
                Forecast(m, "b", "acc", p, p - self.half, p + self.half, 0.1, "table", notes=notes)
            )
        return out


def ladder(x: list[float], **extra: object) -> pd.DataFrame:
    n = len(x)
    return pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(n)],
            "flops": [10.0**v for v in x],
            "n_params": np.nan,
            "n_tokens": np.nan,
            "benchmark": "b",
            "metric": "acc",
            "value": [0.1 * (i + 1) for i in range(n)],
            **extra,
        }
    )


def test_fold_forecast_error_and_coverage() -> None:
    f = FoldForecast(1, "m", 0.5, 0.6, 0.45, 0.5, 0.6)
    assert f.error == pytest.approx(0.15)  # actual - point
    assert f.covered is True  # the upper bound is inside
    assert FoldForecast(1, "m", 0.5, 0.5, 0.45, 0.5, 0.6).covered is True  # so is the lower
    assert FoldForecast(1, "m", 0.5, 0.61, 0.45, 0.5, 0.6).covered is False
    assert FoldForecast(1, "m", 0.5, 0.49, 0.45, 0.5, 0.6).covered is False
    assert FoldForecast(1, "m", 0.5, 0.5, 0.45, math.nan, 0.6).covered is None
    assert FoldForecast(1, "m", 0.5, 0.5, 0.45, 0.4, math.inf).covered is None
    assert FoldForecast(1, "m", 0.5, 0.5, 0.45).covered is None  # no interval by default


def test_distance_and_model_compute() -> None:
    assert distance(1e22, 1e20) == pytest.approx(2.0)
    assert distance(1e19, 1e20) == pytest.approx(-1.0)
    for bad in ((0.0, 1e20), (1e20, 0.0), (-1.0, 1e20), (math.nan, 1e20), (1e20, math.nan)):
        assert math.isnan(distance(*bad))
    obs = pd.DataFrame(
        {
            "model": ["a", "a", "b", "c"],
            "checkpoint_step": [1, 2, 5, 1],
            "flops": [1e18, 2e18, math.nan, 3e18],
            "n_params": [1e8, 1e8, 1e9, 1e8],
            "n_tokens": [1e9, 1e9, 2e10, 1e9],
            "benchmark": ["b", "b", "b", "o"],
            "metric": "acc",
            "value": [0.1, 0.2, 0.3, 0.4],
        },
        index=[7, 8, 9, 10],
    )
    m = model_compute(obs, "b", "acc")
    assert list(m.index) == [0, 1]  # renumbered
    assert list(m["model"]) == ["a", "b"] and list(m["value"]) == [0.2, 0.3]  # a's last step
    assert m["_compute"].tolist() == pytest.approx([2e18, 6 * 1e9 * 2e10])  # 6 N D for b


def test_nested_folds_count_and_unknown_compute() -> None:
    """Levels 10^22..10^18; 'u' has no compute: never a target, in every fit set."""
    obs = pd.concat([ladder([18, 19, 20, 21, 22]), ladder([math.nan]).assign(model="u", value=0.9)])
    folds = nested_folds(obs, "b", "acc", 10)
    # fold 3 fits on m0, m1 and u: three models, one of known compute
    assert [f.k for f in folds] == [1, 2, 3]
    assert [list(f.targets["model"]) for f in folds] == [["m4"], ["m3"], ["m2"]]
    assert all("u" in set(f.fit["model"]) for f in folds)
    assert [f.actual for f in folds] == [(0.5,), (0.4,), pytest.approx((0.3,))]
    assert [f.distance for f in folds] == [(1.0,), (1.0,), (1.0,)]
    assert list(folds[0].targets.columns) == ["model", "n_params", "n_tokens", "flops"]
    assert [f.k for f in nested_folds(obs, "b", "acc", 2)] == [1, 2]
    assert [f.k for f in nested_folds(obs, "b", "acc", 10, min_fit_models=4)] == [1, 2]
    assert [f.k for f in nested_folds(obs, "b", "acc", 10, min_fit_models=2)] == [1, 2, 3, 4]
    # fit sets with no known compute end the folds: m0 alone beside two unknowns
    two = pd.concat([ladder([18, 19]), ladder([math.nan, 0.0]).assign(model=["u", "v"])])
    two.loc[two["model"] == "v", "flops"] = 0.0  # compute 0: unknown too
    folds = nested_folds(two, "b", "acc", 10)
    assert [list(f.targets["model"]) for f in folds] == [["m1"]]
    assert set(folds[0].fit["model"]) == {"m0", "u", "v"}
    assert [f.k for f in nested_folds(two, "b", "acc", 10, min_fit_models=2)] == [1]


def test_nested_folds_tie_at_six_decimals_and_stop_at_the_first_small_fit() -> None:
    obs = ladder([18, 19, 20, 21, 21 + 4e-7, 22])  # m3 and m4 tie when rounded to 6 decimals
    folds = nested_folds(obs, "b", "acc", 10)
    assert [sorted(f.targets["model"]) for f in folds] == [["m5"], ["m3", "m4"]]
    assert folds[0].distance == pytest.approx((1 - 4e-7,))
    assert folds[1].distance == pytest.approx((1.0, 1.0 + 4e-7))


def test_progress_prefers_tokens_then_steps() -> None:
    df = pd.DataFrame({"n_tokens": [1.0, 2.0], "checkpoint_step": [3, 4]})
    assert _progress(df).tolist() == [1.0, 2.0]
    assert _progress(df.assign(n_tokens=[1.0, math.nan])).tolist() == [3.0, 4.0]
    assert _progress(df.assign(n_tokens=["x", "2"])).tolist() == [3.0, 4.0]
    assert _progress(df.assign(checkpoint_step=["1", "2"]).drop(columns="n_tokens")).tolist() == [
        1.0,
        2.0,
    ]
    assert _progress(df.drop(columns=["n_tokens", "checkpoint_step"])) is None
    assert _progress(df.assign(n_tokens=math.nan, checkpoint_step=[1, None])) is None


def checkpoints(n_models: int = 4, steps: int = 4) -> pd.DataFrame:
    """Model i (n = 1e8 * 2^i) at steps 1..steps, tokens 1e9 * step; value 0.1 i + 0.01 step."""
    rows = [
        {
            "model": f"m{i}",
            "n_params": 1e8 * 2**i,
            "n_tokens": 1e9 * s,
            "flops": math.nan,
            "checkpoint_step": s,
            "benchmark": "b",
            "metric": "acc",
            "value": 0.1 * i + 0.01 * s,
        }
        for i in range(n_models)
        for s in range(1, steps + 1)
    ]
    return pd.DataFrame(rows)


def test_checkpoint_folds_fractions_and_guards() -> None:
    obs = checkpoints()
    folds = checkpoint_folds(obs, "b", "acc", (0.25, 0.5))
    assert [f.k for f in folds] == [100, 101]
    # 0.25 x 4e9 = 1e9: step 1 only; 0.5 x 4e9 = 2e9: steps 1-2 (each bound included)
    assert sorted(folds[0].fit["checkpoint_step"].unique()) == [1]
    assert sorted(folds[1].fit["checkpoint_step"].unique()) == [1, 2]
    assert folds[1].actual == pytest.approx((0.04, 0.14, 0.24, 0.34))
    c_max = 6 * 8e8 * 2e9  # m3 at step 2
    want = tuple(math.log10(6 * 1e8 * 2**i * 4e9 / c_max) for i in range(4))
    assert folds[1].distance == pytest.approx(want)
    assert list(folds[1].targets["model"]) == ["m0", "m1", "m2", "m3"]
    assert checkpoint_folds(obs, "b", "acc", (0.6,), min_fit_models=5) == []
    by_step = obs.assign(flops=6 * obs["n_params"] * obs["n_tokens"], n_tokens=math.nan)
    (fold,) = checkpoint_folds(by_step, "b", "acc")  # 0.6 x step 4 = 2.4: steps 1-2
    assert sorted(fold.fit["checkpoint_step"].unique()) == [1, 2]
    assert checkpoint_folds(obs.drop(columns="checkpoint_step"), "b", "acc") == []
    single = obs[obs["checkpoint_step"] == 4]
    assert checkpoint_folds(single, "b", "acc") == []  # one step per model
    assert checkpoint_folds(obs.assign(benchmark="o"), "b", "acc") == []  # no cell rows


def test_checkpoint_folds_skip_a_fraction_and_keep_going() -> None:
    """At 0.1 no row is early enough (3 models needed), 0.6 still gives a fold; a model whose
    last tokens are 0 is never in a fit set, and a model of the fit set with no early row of
    the cell gives no target."""
    obs = checkpoints()
    folds = checkpoint_folds(obs, "b", "acc", (0.1, 0.6))
    assert [f.k for f in folds] == [101]
    zero = pd.concat([obs, checkpoints(1).assign(model="z", n_tokens=0.0)])
    (fold,) = checkpoint_folds(zero, "b", "acc")
    assert "z" not in set(fold.fit["model"])
    loss = obs[obs["model"] == "m0"].assign(model="x", benchmark="loss")
    late = obs[(obs["model"] == "m0") & (obs["checkpoint_step"] == 4)].assign(model="x")
    (fold,) = checkpoint_folds(pd.concat([obs, loss, late]), "b", "acc")
    assert "x" in set(fold.fit["model"]) and "x" not in set(fold.targets["model"])


def test_fold_forecasts_record_refusals_and_missing_points() -> None:
    obs = ladder([18, 19, 20, 21, 22])
    folds = nested_folds(obs, "b", "acc", 10)  # m4 on 4 models, m3 on 3
    est = Table(points=(("m4", 0.45),), refuse_n=(3,))
    got, refused = fold_forecasts(est, folds)
    assert [(f.fold, f.target, f.distance, f.actual, f.point) for f in got] == [
        (1, "m4", 1.0, 0.5, 0.45)
    ]
    assert (got[0].lower, got[0].upper) == pytest.approx((0.40, 0.50))
    assert refused == {2: "FitError: refused on 3 models"}
    assert not hasattr(est, "n_fit_")  # a clone was fitted, not the estimator
    got, refused = fold_forecasts(Table(points=(("m3", 0.3),)), folds)
    assert math.isnan(got[0].point) and got[1].point == 0.3
    assert refused == {1: "no point for m4; second note"}
    two = FoldSplit(1, folds[0].fit, pd.DataFrame({"model": ["m4", "m9"]}), (0.5, 0.5), (1, 1))
    got, refused = fold_forecasts(Table(), [two])
    assert len(got) == 2 and refused == {1: "no point for m4; second note"}  # the first


def test_fold_forecasts_without_notes() -> None:
    class Silent(Table):
        def predict(self, targets: pd.DataFrame) -> list[Forecast]:
            return [Forecast("m", "b", "acc", math.nan, math.nan, math.nan, 0.1, "s")]

    folds = nested_folds(ladder([18, 19, 20, 21]), "b", "acc", 1)
    assert fold_forecasts(Silent(), folds)[1] == {1: "no finite forecast"}


def test_conformal_quantile_rank_details() -> None:
    s = [5.0, math.nan, 1.0, 3.0, 2.0, 4.0, math.inf]  # finite: 1..5
    assert conformal_quantile(s, 0.5) == 3.0  # ceil(6 * 0.5) = 3
    assert conformal_quantile(s, 1.0) == 1.0  # rank 0, clipped to the smallest
    assert math.isnan(conformal_quantile([], 0.5))
    assert math.isnan(conformal_quantile(s, 0.1))  # rank 6 > 5
    # (9 + 1) * 0.3 is 3.0000000000000004 in floating point: still rank 3
    assert conformal_quantile(np.arange(1.0, 10.0), 0.7) == 3.0
    assert min_folds_for(0.5) == 1 and min_folds_for(0.34) == 2


def test_t_quantile_value() -> None:
    r = [0.1, -0.2, math.nan, 0.3]
    want = student_t.ppf(0.9, 3) * math.sqrt((0.01 + 0.04 + 0.09) / 3)
    assert t_quantile(r, 0.2) == pytest.approx(want)


def fold(point: float, d: float, actual: float = 1.0, lo: float = math.nan) -> FoldForecast:
    return FoldForecast(1, "m", d, actual, point, lo, lo + 1.0)


def test_calibrate_scores_and_messages() -> None:
    folds = [fold(0.8, 2.0), fold(0.9, 0.05), fold(math.nan, 1.0), fold(0.5, math.nan)]
    cal = calibrate(folds, 0.5)
    assert cal.scores == pytest.approx((0.1, 1.0))  # 0.2 / 2 and 0.1 / max(0.05, 0.1)
    assert cal.folds == tuple(folds[:2])
    assert cal.quantile == pytest.approx(1.0)  # ceil(3 * 0.5) = 2: the larger
    assert cal.fallback == "" and cal.ok and (cal.alpha, cal.d0) == (0.5, 0.1)
    small = calibrate(folds, 0.5, d0=0.01)
    assert small.scores == pytest.approx((0.1, 2.0)) and small.d0 == 0.01
    few = calibrate(folds, 0.1)
    assert not few.ok and math.isnan(few.quantile)
    assert few.fallback == (
        "only 2 fold residual(s); a 90% conformal interval needs at least 9: the method's "
        "own interval is used instead"
    )
    t = calibrate(folds, 0.1, small_sample="t")
    assert t.quantile == pytest.approx(student_t.ppf(0.95, 2) * math.sqrt((0.01 + 1.0) / 2))
    assert t.fallback == (
        "only 2 fold residual(s), fewer than the 9 a 90% conformal quantile needs: "
        "Student-t bound t(0.95, 2) x RMS of the scaled residuals"
    )
    none = calibrate(folds[2:], 0.1, small_sample="t")
    assert not none.ok and none.fallback.startswith("only 0 fold residual(s); a 90% conformal")


def test_calibration_evidence() -> None:
    folds = (
        FoldForecast(1, "m5", 1.0, 0.5, 0.4, 0.45, 0.55),
        FoldForecast(2, "m4", 0.5, 0.4, 0.45, 0.3, 0.35),
        FoldForecast(3, "m3", 0.2, 0.3, 0.3),
    )
    cal = Calibration(0.1, 0.1, (0.1, 0.1, 0.0), 0.2, folds)
    assert cal.own_coverage == 0.5  # m5 inside, m4 above, m3 without an interval
    assert math.isnan(Calibration(0.1, 0.1, (), 0.2, folds[2:]).own_coverage)
    assert cal.half_width(0.5) == pytest.approx(0.1)
    assert cal.half_width(0.05) == pytest.approx(0.02)  # floored at d0
    assert math.isnan(cal.half_width(math.nan))
    assert math.isnan(Calibration(0.1, 0.1, (), math.nan, ()).half_width(1.0))
    d = cal.to_dict()
    assert d["rule"] == "split conformal on |error| / max(d, d0) over leave-largest-out folds"
    assert (d["alpha"], d["d0"], d["n_residuals"], d["quantile_per_unit_distance"]) == (
        0.1,
        0.1,
        3,
        0.2,
    )
    assert d["fallback"] is None and d["own_interval_coverage"] == 0.5
    assert d["folds"][1] == {
        "fold": 2,
        "target": "m4",
        "distance": 0.5,
        "actual": 0.4,
        "point": 0.45,
        "residual": pytest.approx(-0.05),
        "own_covered": False,
    }
    assert Calibration(0.1, 0.1, (), 0.2, (), "why").to_dict()["fallback"] == "why"


def test_calibrated_interval_and_notes() -> None:
    folds = (FoldForecast(1, "m5", 1.0, 0.5, 0.4, 0.45, 0.55),)
    cal = Calibration(0.2, 0.1, (0.1, 0.3, 0.2), 0.25, folds)
    own = Forecast("t", "b", "acc", 0.5, 0.45, 0.55, 0.1, "m", {"k": 1}, {"x": 2}, ("first",))
    out = calibrated(own, cal, 0.4)
    assert (out.lower, out.upper) == pytest.approx((0.4, 0.6))
    assert (out.target, out.benchmark, out.metric, out.point) == ("t", "b", "acc", 0.5)
    assert (out.alpha, out.method, out.params) == (0.2, "m", {"k": 1})
    assert out.diagnostics["x"] == 2
    assert out.diagnostics["calibration"]["extrapolation_distance"] == 0.4
    assert out.diagnostics["calibration"]["n_residuals"] == 3
    assert out.notes == (
        "first",
        "calibrated 80% interval: +-0.1 = 0.25 per log10 compute x max(0.4, 0.1) from 3 "
        "leave-largest-out fold residuals (the own interval covered 100% of them)",
    )
    t = Calibration(0.2, 0.1, (0.1,), 0.25, (), "t bound")
    assert calibrated(own, t, 0.4).notes[-1] == (
        "calibrated 80% interval: +-0.1 = 0.25 per log10 compute x max(0.4, 0.1) from 1 "
        "leave-largest-out fold residuals; t bound"
    )
    unknown = calibrated(own, cal, math.nan)
    assert (unknown.lower, unknown.upper) == (0.45, 0.55)
    assert unknown.notes[-1] == (
        "no calibrated interval: the target's compute is unknown (no extrapolation distance)"
    )
    assert calibrated(own, t, math.nan).notes[-1] == "no calibrated interval: t bound"
    no_point = Forecast("t", "b", "acc", math.nan, 0.45, 0.55, 0.1, "m")
    out = calibrated(no_point, cal, 0.4)
    assert (out.lower, out.upper) == (0.45, 0.55) and out.alpha == 0.2


def test_checkpoint_folds_two_steps_and_three_models_suffice() -> None:
    obs = checkpoints(3, 2)  # 0.6 x 2e9: step 1 of each of three models
    (fold,) = checkpoint_folds(obs, "b", "acc")
    assert list(fold.targets.columns) == ["model", "n_params", "n_tokens", "flops"]
    assert list(fold.targets.index) == [0, 1, 2]
    assert fold.actual == pytest.approx((0.02, 0.12, 0.22))


def test_checkpoint_folds_on_sub_unit_training_and_no_early_cell_rows() -> None:
    """Progress is relative: a model trained on 1.0 token (rows at 0.5 and 1.0) has an early
    row like any other. A fraction whose fit rows hold no row of the cell is skipped, not the
    end: here the cell starts at step 3, so 0.5 gives nothing and 0.75 a fold."""
    tiny = checkpoints(1, 2).assign(model="tiny", n_tokens=[0.5, 1.0])
    (fold,) = checkpoint_folds(pd.concat([checkpoints(), tiny]), "b", "acc")
    assert "tiny" in set(fold.targets["model"])
    obs = checkpoints()
    late = pd.concat([obs[obs["checkpoint_step"] >= 3], obs.assign(benchmark="loss")])
    assert [f.k for f in checkpoint_folds(late, "b", "acc", (0.5, 0.75))] == [101]


def test_checkpoint_folds_need_positive_compute() -> None:
    """Step-1 rows of compute 0 leave the 0.25 fold no fit compute (skipped, 0.5 still
    folds); of compute 0.5 they are positive (a fold, distances to 0.5). A final row of
    compute 0 is no target; of 0.5 it is one."""
    obs = checkpoints()
    step1 = obs["checkpoint_step"] == 1
    zero = obs.assign(flops=np.where(step1, 0.0, np.nan))
    assert [f.k for f in checkpoint_folds(zero, "b", "acc", (0.25, 0.5))] == [101]
    half = obs.assign(flops=np.where(step1, 0.5, np.nan))
    folds = checkpoint_folds(half, "b", "acc", (0.25, 0.5))
    assert [f.k for f in folds] == [100, 101]
    want = tuple(math.log10(6 * 1e8 * 2**i * 4e9 / 0.5) for i in range(4))
    assert folds[0].distance == pytest.approx(want)
    one = obs.assign(flops=np.where(step1 & (obs["model"] != "m3"), 0.0, np.nan))
    (fold,) = checkpoint_folds(one, "b", "acc", (0.25,))  # one positive fit compute: m3's
    assert fold.distance[3] == pytest.approx(math.log10(4.0))  # 4e9 vs 1e9 tokens
    m3_final = (obs["model"] == "m3") & (obs["checkpoint_step"] == 4)
    for flops, targets in ((0.0, ["m0", "m1", "m2"]), (0.5, ["m0", "m1", "m2", "m3"])):
        (fold,) = checkpoint_folds(obs.assign(flops=np.where(m3_final, flops, np.nan)), "b", "acc")
        assert list(fold.targets["model"]) == targets
    finals = obs["checkpoint_step"] == 4
    assert checkpoint_folds(obs.assign(flops=np.where(finals, 0.0, np.nan)), "b", "acc") == []


def test_small_positive_computes_are_known() -> None:
    assert distance(0.5, 1e20) == pytest.approx(math.log10(0.5) - 20)
    assert distance(1e20, 0.5) == pytest.approx(20 - math.log10(0.5))
    obs = pd.concat([ladder([18, 19, 20]), ladder([0.0]).assign(model="s", flops=0.5)])
    folds = nested_folds(obs, "b", "acc", 10, min_fit_models=1)
    assert [list(f.targets["model"]) for f in folds] == [["m2"], ["m1"], ["m0"]]
    assert folds[2].distance == pytest.approx((18 - math.log10(0.5),))


def test_model_compute_names_itself_and_keeps_its_columns() -> None:
    obs = ladder([18, 19])
    assert list(model_compute(obs, "b", "acc").columns) == [*obs.columns, "_compute"]
    with pytest.raises(ValueError, match=r"^calibration: no rows with benchmark='x'"):
        model_compute(obs, "x", "acc")


def test_fold_forecasts_go_on_after_a_refused_fold_and_check_counts() -> None:
    folds = nested_folds(ladder([18, 19, 20, 21, 22]), "b", "acc", 10)
    got, refused = fold_forecasts(Table(points=(("m3", 0.3),), refuse_n=(4,)), folds)
    assert [(f.fold, f.target, f.point) for f in got] == [(2, "m3", 0.3)]
    assert refused == {1: "FitError: refused on 4 models"}

    class Short(Table):
        def predict(self, targets: pd.DataFrame) -> list[Forecast]:
            return super().predict(targets)[:1]

    two = FoldSplit(1, folds[0].fit, pd.DataFrame({"model": ["m4", "m9"]}), (0.5, 0.5), (1, 1))
    with pytest.raises(ValueError, match="longer than argument 1"):  # one forecast, two targets
        fold_forecasts(Short(), [two])


def test_one_score_and_one_residual() -> None:
    assert conformal_quantile([2.0], 0.5) == 2.0  # rank ceil(2 * 0.5) = 1
    assert t_quantile([-0.2], 0.1) == pytest.approx(student_t.ppf(0.95, 1) * 0.2)  # 6.31 x
