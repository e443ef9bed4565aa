"""``auto``'s rules, number by number, on fake methods whose fold errors are set by hand.

The methods here are tables: method ``Table`` forecasts ``table[i]`` at log10 compute 18 + i,
whatever rows it was fit on, so every fold error (actual minus point), fold MSE, sign test,
weight and conformal score follows from the numbers written in the test; no law is fitted and
the whole file runs in about a second (mutation testing runs it once per mutant).

Six models at log10 compute 18..23 give three leave-largest-out folds (fold 1 holds out m5 at
1e23 and fits on five models, fold 2 m4 on four, fold 3 m3 on three; a fourth would fit on two),
each at extrapolation distance 1, so a fold's conformal score is its absolute error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

import predictors.auto as auto_module
import predictors.registry as registry
from predictors.auto import (
    AutoForecaster,
    MethodFolds,
    _by_target,
    _effective_rule,
    _errors,
    _own_coverage,
    _pool,
    _short,
    _why,
    cached_folds,
    frame_hash,
    separated_best,
    sign_test_p,
    weights_from,
)
from predictors.base import FitError, Forecast, Forecaster, check_is_fitted
from predictors.calibration import FoldForecast, FoldSplit
from predictors.selection import compute_of

#: Every full-data or fold fit of a Table: (number of models, n_bootstrap).
FITS: list[tuple[int, int]] = []
Y = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)  # the six models' values, log10 compute 18..23


class Table(Forecaster):
    """Forecasts ``table[i]`` at log10 compute ``18 + i``; NaN past ``nan_above`` or the table,
    and for ``nan_models``.

    ``half`` is the own interval's half width (NaN: no interval); ``refuse_n`` are fit-set sizes
    (distinct models) on which ``fit`` raises :class:`FitError`.
    """

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "acc",
        alpha: float = 0.1,
        n_bootstrap: int = 0,
        random_state: int = 0,
        table: tuple[float, ...] = (),
        half: float = math.nan,
        refuse_n: tuple[int, ...] = (),
        nan_above: float = math.inf,
        nan_models: tuple[str, ...] = (),
    ) -> None:
        self.benchmark, self.metric, self.alpha = benchmark, metric, alpha
        self.n_bootstrap, self.random_state = n_bootstrap, random_state
        self.table, self.half, self.refuse_n, self.nan_above = table, half, refuse_n, nan_above
        self.nan_models = nan_models

    def fit(self, observations: pd.DataFrame) -> Table:
        n = int(observations["model"].nunique())
        FITS.append((n, self.n_bootstrap))
        if n in self.refuse_n:
            raise FitError(f"refused on {n} models")
        self.n_fit_ = n
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        t = targets.reset_index(drop=True)
        for col in ("flops", "n_params", "n_tokens"):
            if col not in t.columns:
                t = t.assign(**{col: np.nan})
        out = []
        for model, c in zip(t["model"], compute_of(t), strict=True):
            x = math.log10(c)
            i = round(x - 18)
            ok = x <= self.nan_above and 0 <= i < len(self.table) and model not in self.nan_models
            p = self.table[i] if ok else math.nan
            notes = () if math.isfinite(p) else ("table: no point", "beyond the table")
            out.append(
                Forecast(
                    str(model),
                    self.benchmark,
                    self.metric,
                    p,
                    p - self.half,
                    p + self.half,
                    self.alpha,
                    "table",
                    notes=notes,
                )
            )
        return out


class ItemTable(Table):
    """A Table that fits on per-item rows, as cod and passuntil do."""

    uses_item_rows: ClassVar[bool] = True


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registry names bound to Tables (cod to an ItemTable); a fresh fold cache per test."""
    fakes = {m: Table for m in ("gadre", "ladder", "exponential", "sigmoid", "passuntil")}
    monkeypatch.setattr(registry, "METHODS", {**fakes, "cod": ItemTable, "auto": AutoForecaster})
    auto_module._FOLD_CACHE.clear()
    FITS.clear()
    yield
    auto_module._FOLD_CACHE.clear()


def ladder(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(n)],
            "flops": 10.0 ** np.arange(18, 18 + n),
            "n_params": np.nan,
            "n_tokens": np.nan,
            "benchmark": "b",
            "metric": "acc",
            "value": Y[:n],
        }
    )


def table(at21: float, at22: float, at23: float, at24: float) -> tuple[float, ...]:
    """A table whose fold points (m3, m4, m5) and target point (1e24) are the ones given."""
    return (0.3, 0.35, 0.4, at21, at22, at23, at24)


def auto(params: dict[str, dict[str, Any]], **kw: Any) -> AutoForecaster:
    return AutoForecaster(
        benchmark="b",
        methods=tuple(params),
        fold_bootstrap=0,
        n_bootstrap=0,
        method_params=params,
        **kw,
    )


TARGET = pd.DataFrame({"model": ["t"], "flops": [1e24], "n_params": [np.nan], "n_tokens": [np.nan]})
T3 = student_t.ppf(0.95, 3)  # 2.3534: the Student-t factor of three 90% residuals

# A misses the folds m5, m4, m3 by 0.10, 0.01, 0.01; B by 0.02, 0.03, 0.03 (B's MSE is lower
# overall, A's on folds 2 and 3: leave-one-fold-out picks A for fold 1 only).
LOFO = {
    "exponential": {"table": table(0.44, 0.49, 0.45, 0.70), "half": 0.05},
    "sigmoid": {"table": table(0.42, 0.47, 0.53, 0.60), "half": 0.015},
}
# B wins every fold: A misses by 0.10, 0.06, 0.04, B by 0.02, 0.01, 0.01 (sign test 3 of 3).
SEPARATED = {
    "exponential": {"table": table(0.41, 0.44, 0.45, 0.70), "half": 0.05},
    "sigmoid": {"table": table(0.44, 0.49, 0.53, 0.60), "half": 0.015},
}


def test_best_rule_weighs_each_fold_by_the_other_folds() -> None:
    """Overall MSE: A (0.01 + 0.0001 + 0.0001) / 3 = 0.0034, B 0.0022 / 3: B carries all the
    weight. Fold 1's combination is chosen on folds 2-3 (A: 0.0001, B: 0.0009): A, residual
    0.10; folds 2 and 3 pick B: 0.03 each. The t bound: t(0.95, 3) * RMS(0.10, 0.03, 0.03)."""
    est = auto(LOFO, rule="best").fit(ladder())
    assert est.rule_ == "best" and est.weights_ == {"exponential": 0.0, "sigmoid": 1.0}
    assert est.fold_mse_["exponential"] == pytest.approx(0.0102 / 3)
    assert est.fold_mse_["sigmoid"] == pytest.approx(0.0022 / 3)
    assert est.n_fold_targets_ == 3 and est.refused_ == {}
    assert est.fit_compute_max_ == pytest.approx(1e23)
    cal = est.calibration_
    assert [(f.fold, f.target) for f in cal.folds] == [(1, "m5"), (2, "m4"), (3, "m3")]
    assert cal.scores == pytest.approx((0.10, 0.03, 0.03))
    assert [f.point for f in cal.folds] == pytest.approx([0.45, 0.47, 0.42])
    assert [f.distance for f in cal.folds] == pytest.approx([1.0, 1.0, 1.0])
    assert [f.actual for f in cal.folds] == pytest.approx([0.55, 0.50, 0.45])
    # bounds pool with the points: A's +-0.05 at fold 1, B's +-0.015 at folds 2 and 3
    assert [f.lower for f in cal.folds] == pytest.approx([0.40, 0.455, 0.405])
    assert [f.upper for f in cal.folds] == pytest.approx([0.50, 0.485, 0.435])
    q = T3 * math.sqrt((0.01 + 0.0009 + 0.0009) / 3)
    assert cal.quantile == pytest.approx(q)
    # A's own interval (+-0.05) held m4 and m3 (0.01 off), not m5; B's (+-0.015) none
    assert est.own_coverage_ == pytest.approx({"exponential": 2 / 3, "sigmoid": 0.0})
    f = est.predict(TARGET)[0]
    assert f.point == pytest.approx(0.60)
    assert (f.lower, f.upper) == pytest.approx((0.60 - q, 0.60 + q))  # distance log10(1e24/1e23)
    assert f.params == {
        "weights": {"exponential": 0.0, "sigmoid": 1.0},
        "rule": "best",
        "applied": "best",
    }
    assert f.notes[0] == (
        "auto (best): 1.00 sigmoid, 0.00 exponential, weighed by 3 leave-largest-out fold "
        "targets of the fit data"
    )
    assert f.target == "t" and f.method == "auto" and f.alpha == 0.1 and f.benchmark == "b"
    assert f.metric == "acc"
    assert f.diagnostics["methods"]["exponential"] == {
        "weight": 0.0,
        "fold_mse": pytest.approx(0.0102 / 3),
        "own_interval_coverage_on_folds": pytest.approx(2 / 3),
        "point": pytest.approx(0.70),
    }
    assert f.diagnostics["refused"] == {}


def test_median_rule_pools_points_and_bounds_by_their_median() -> None:
    """Two methods: the median is their mean. Fold points (0.45 + 0.53) / 2 = 0.49,
    (0.49 + 0.47) / 2 = 0.48, (0.44 + 0.42) / 2 = 0.43: residuals 0.06, 0.02, 0.02."""
    est = auto(LOFO, rule="median").fit(ladder())
    assert est.weights_ == {"exponential": 0.5, "sigmoid": 0.5}
    cal = est.calibration_
    assert cal.scores == pytest.approx((0.06, 0.02, 0.02))
    # fold 1's bounds: median(0.40, 0.515) = 0.4575 and median(0.50, 0.545) = 0.5225
    assert cal.folds[0].lower == pytest.approx(0.4575)
    assert cal.folds[0].upper == pytest.approx(0.5225)
    q = T3 * math.sqrt((0.0036 + 0.0004 + 0.0004) / 3)
    f = est.predict(TARGET)[0]
    assert f.point == pytest.approx(0.65)
    assert f.upper - f.point == pytest.approx(q)
    assert f.notes[0].startswith("auto (median): median of exponential, sigmoid, weighed by 3")


def test_inverse_mse_weights_each_fold_by_the_other_folds() -> None:
    """w_A = (1/MSE_A) / (1/MSE_A + 1/MSE_B), the MSEs of the other two folds."""

    def w_a(mse_a: float, mse_b: float) -> float:
        return (1 / mse_a) / (1 / mse_a + 1 / mse_b)

    est = auto(LOFO, rule="inverse_mse").fit(ladder())
    assert est.weights_["exponential"] == pytest.approx(w_a(0.0102, 0.0022))  # 0.1774
    w1 = w_a(0.0001, 0.0009)  # fold 1 by folds 2-3: 0.9
    w2 = w_a(0.0101, 0.0013)  # fold 2 by folds 1 and 3
    w3 = w_a(0.0101, 0.0013)  # fold 3 by folds 1-2 (the same sums)
    points = [w1 * 0.45 + (1 - w1) * 0.53, w2 * 0.49 + (1 - w2) * 0.47, w3 * 0.44 + (1 - w3) * 0.42]
    assert [f.point for f in est.calibration_.folds] == pytest.approx(points)
    f = est.predict(TARGET)[0]
    wa = w_a(0.0102, 0.0022)
    assert f.point == pytest.approx(wa * 0.70 + (1 - wa) * 0.60)
    assert f.notes[0].startswith(f"auto (inverse_mse): {1 - wa:.2f} sigmoid, {wa:.2f} exponential")


def test_separated_picks_the_method_that_wins_every_fold() -> None:
    """B beats A on 3 of 3 folds (p = 1/8), and on 2 of 2 of the other folds for each fold
    (p = 1/4 <= 0.25): every combination is B's. Residuals 0.02, 0.01, 0.01; B's own interval
    (+-0.015) held m4 and m3: 2/3, said in the note."""
    est = auto(SEPARATED).fit(ladder())
    assert est.rule_ == "best" and est.weights_ == {"exponential": 0.0, "sigmoid": 1.0}
    assert est.calibration_.scores == pytest.approx((0.02, 0.01, 0.01))
    q = T3 * math.sqrt((0.0004 + 0.0001 + 0.0001) / 3)
    f = est.predict(TARGET)[0]
    assert f.point == pytest.approx(0.60) and f.upper == pytest.approx(0.60 + q)
    assert f.notes[0] == (
        "auto (separated: the fold-best beat every other method, sign test p <= 0.25): "
        "1.00 sigmoid, 0.00 exponential, weighed by 3 leave-largest-out fold targets of the "
        "fit data"
    )
    assert f.params["rule"] == "separated" and f.params["applied"] == "best"
    assert "(the own interval covered 67% of them)" in f.notes[-1]


def test_separated_falls_back_to_the_median_when_a_fold_disagrees() -> None:
    """On LOFO's data A wins fold 1: B beats it on 2 of 3 (p = 1/2), so the median; fold 1's
    own combination (folds 2-3: A wins both, p = 1/4) is A's point, folds 2 and 3 (1 of 2 each,
    p = 3/4) the median: residuals 0.10, 0.02, 0.02."""
    est = auto(LOFO).fit(ladder())
    assert est.rule_ == "median" and est.weights_ == {"exponential": 0.5, "sigmoid": 0.5}
    assert est.calibration_.scores == pytest.approx((0.10, 0.02, 0.02))
    f = est.predict(TARGET)[0]
    assert f.point == pytest.approx(0.65)
    assert f.notes[0].startswith(
        "auto (separated: no method separated at sign test p <= 0.25, so the median): median of "
        "exponential, sigmoid, weighed by 3"
    )


def test_a_method_silent_on_the_largest_fold_is_refused_and_on_a_small_one_is_used() -> None:
    """ladder refuses folds 1 and 2 (5 and 4 models): refused with fold 1's reason. sigmoid
    refuses fold 3 only: used, but fold 3 (m3) is not a common target, so the weights come from
    two targets, and fold 3's combination is exponential's alone (0.44: residual 0.01)."""
    params = {
        "exponential": {"table": table(0.44, 0.49, 0.45, 0.70)},
        "sigmoid": {"table": table(0.42, 0.47, 0.53, 0.60), "refuse_n": (3,)},
        "ladder": {"table": table(0.45, 0.50, 0.55, 0.80), "refuse_n": (5, 4)},
    }
    est = auto(params, rule="best").fit(ladder())
    assert set(est.estimators_) == {"exponential", "sigmoid"}
    assert est.refused_ == {
        "ladder": "no forecast on the largest fold (FitError: refused on 5 models)"
    }
    assert est.n_fold_targets_ == 2
    assert est.fold_mse_["exponential"] == pytest.approx((0.01 + 0.0001) / 2)
    assert est.fold_mse_["sigmoid"] == pytest.approx((0.0004 + 0.0009) / 2)
    # fold 1 by fold 2 alone: A (0.0001 < 0.0009) -> 0.10; fold 2 by fold 1: B -> 0.03;
    # fold 3 by folds 1-2 (B) but B has no point there: A -> 0.01
    assert est.calibration_.scores == pytest.approx((0.10, 0.03, 0.01))
    f = est.predict(TARGET)[0]
    assert "not used: ladder: no forecast on the largest fold (FitError: refused on 5 models)" in (
        f.notes
    )
    assert f.diagnostics["refused"] == est.refused_


def test_refusals_before_any_fold_and_when_nothing_is_left() -> None:
    """A full-data fit that raises, and a per-item method without item rows, cost no folds."""
    params = {
        "exponential": {"table": table(0.44, 0.49, 0.45, 0.70)},
        "sigmoid": {"table": table(0.42, 0.47, 0.53, 0.60), "refuse_n": (6,)},
        "cod": {"table": table(0.42, 0.47, 0.53, 0.60)},
    }
    est = auto(params).fit(ladder())
    assert est.refused_ == {
        "sigmoid": "FitError: refused on 6 models",
        "cod": "cod needs per-item rows (item, n_samples, n_pass) of the benchmark",
    }
    assert list(est.estimators_) == ["exponential"] and est.weights_ == {"exponential": 1.0}
    # three fold fits (5, 4, 3 models) and one full fit, all of exponential's
    assert sorted(n for n, _ in FITS) == [3, 4, 5, 6, 6]  # sigmoid's failed full fit too
    bad = {"sigmoid": params["sigmoid"], "ladder": {"refuse_n": (6,)}}
    with pytest.raises(
        ValueError,
        match=r"^AutoForecaster: no method can forecast b/acc: "
        r"sigmoid: FitError: refused on 6 models; ladder: FitError: refused "
        r"on 6 models$",
    ):
        auto(bad).fit(ladder())


def test_item_rows_contract() -> None:
    """cod/passuntil need item rows *of the benchmark*; other methods and item-free classes
    are never refused by it."""
    obs = ladder()
    cod = ItemTable(benchmark="b")
    why = "cod needs per-item rows (item, n_samples, n_pass) of the benchmark"
    contract = AutoForecaster._contract
    assert contract("cod", cod, obs) == why
    assert contract("passuntil", cod, obs) == why.replace("cod", "passuntil")
    assert contract("cod", cod, obs.assign(item=np.nan)) == why
    other = pd.concat([obs.assign(item=np.nan), obs.assign(benchmark="o", item="q1")])
    assert contract("cod", cod, other) == why  # items of another benchmark only
    assert contract("cod", cod, obs.assign(item="q1")) == ""
    assert contract("exponential", cod, obs) == ""  # not an item method by name
    assert contract("cod", Table(benchmark="b"), obs) == ""  # nor by class


def test_no_folds_use_equal_shares_and_refit_with_the_own_bootstrap() -> None:
    """Three models give no fold (one would fit on two): no calibration, so the methods are
    refit with n_bootstrap and the interval is their own bounds' median (equal shares)."""
    params = {
        "exponential": {"table": (0.3, 0.35, 0.4, 0.5, 0.5, 0.5, 0.6), "half": 0.1},
        "sigmoid": {"table": (0.3, 0.35, 0.4, 0.5, 0.5, 0.5, 0.7), "half": 0.2},
        "ladder": {"table": (0.3, 0.35, 0.4, 0.5, 0.5, 0.5, 0.9), "half": 0.3},
    }
    obs = ladder(3)
    est = auto(params).set_params(n_bootstrap=5).fit(obs)
    assert est.rule_ == "median" and est.n_fold_targets_ == 0
    assert est.weights_ == pytest.approx({m: 1 / 3 for m in params})
    assert all(math.isnan(v) for v in est.fold_mse_.values())
    assert all(math.isnan(v) for v in est.own_coverage_.values())
    assert not est.calibration_.ok
    assert FITS == [(3, 0), (3, 0), (3, 0), (3, 5), (3, 5), (3, 5)]
    assert {m: e.n_bootstrap for m, e in est.estimators_.items()} == dict.fromkeys(params, 5)
    f = est.predict(TARGET)[0]
    assert (f.point, f.lower, f.upper) == pytest.approx((0.7, 0.5, 0.9))
    assert "interval: the weighted average of the used methods' own bounds" in f.notes
    assert f.notes[0] == (
        "auto (separated: no method separated at sign test p <= 0.25, so the median): median of "
        "exponential, ladder, sigmoid, weighed by 0 leave-largest-out fold targets of the fit "
        "data"
    )
    assert f.diagnostics["calibration"]["extrapolation_distance"] == pytest.approx(4.0)
    best = auto(params, rule="best").set_params(n_bootstrap=0).fit(obs)  # no refit: 0 <= 0
    assert best.rule_ == "best" and best.weights_ == pytest.approx({m: 1 / 3 for m in params})
    assert FITS[6:] == [(3, 0), (3, 0), (3, 0)]
    f = best.predict(TARGET)[0]  # fold MSE unknown: equal weights, a tie under "best"
    assert (f.point, f.lower, f.upper) == pytest.approx((2.2 / 3, 1.6 / 3, 2.8 / 3))


def test_a_target_some_methods_cannot_forecast() -> None:
    """Where the weighted method (B) has no point the rule picks again among those that do;
    where none has one the forecast says so and has no point."""
    params = {
        "exponential": {"table": table(0.41, 0.44, 0.45, 0.70), "half": 0.05},
        "sigmoid": {"table": table(0.44, 0.49, 0.53, 0.60), "half": 0.015, "nan_above": 23.5},
    }
    est = auto(params, rule="best").fit(ladder())
    assert est.weights_ == {"exponential": 0.0, "sigmoid": 1.0}
    f = est.predict(TARGET)[0]  # sigmoid has no point at 1e24
    assert f.point == pytest.approx(0.70)
    assert f.notes[0].startswith("auto (best): 1.00 exponential, weighed by 3")
    assert "sigmoid gave no forecast here: table: no point; beyond the table" in f.notes
    assert f.params["weights"] == {"exponential": 1.0}
    # no flops column: compute 6 N D = 1e25, distance 2
    far = pd.DataFrame({"model": ["f"], "n_params": [1e12], "n_tokens": [1e25 / 6e12]})
    g = est.predict(far)[0]
    assert math.isnan(g.point) and math.isnan(g.lower) and math.isnan(g.upper)
    assert g.notes[0].startswith("auto (best): no method answered at this target, weighed by 3")
    assert g.notes[1] == "sigmoid gave no forecast here: table: no point; beyond the table"
    assert g.diagnostics["calibration"]["extrapolation_distance"] == pytest.approx(2.0)
    assert math.isnan(g.diagnostics["methods"]["sigmoid"]["point"])
    near = pd.DataFrame({"model": ["n"], "flops": [1e24]})  # no n_params, n_tokens columns
    assert est.predict(near)[0].point == pytest.approx(0.70)


def test_candidates_and_parameters_passed_to_each_method() -> None:
    est = AutoForecaster(benchmark="b", methods=" exponential, sigmoid,, ")
    assert est._candidates() == ("exponential", "sigmoid")
    assert AutoForecaster(benchmark="b")._candidates() == auto_module.DEFAULT_METHODS
    assert AutoForecaster(benchmark="b", methods=["ladder"])._candidates() == ("ladder",)
    known = r"\['cod', 'exponential', 'gadre', 'ladder', 'passuntil', 'sigmoid'\]"
    with pytest.raises(
        ValueError, match=r"methods \['nope', 'auto'\] unknown; choose from " + known
    ):
        AutoForecaster(benchmark="b", methods=("ladder", "nope", "auto"))._candidates()
    with pytest.raises(ValueError, match=r"methods \[\] unknown"):
        AutoForecaster(benchmark="b", methods=())._candidates()
    with pytest.raises(ValueError, match=r"method_params names unused method\(s\) \['cod', 'x'\]"):
        AutoForecaster(
            benchmark="b", methods=("ladder",), method_params={"x": {}, "cod": {}, "ladder": {}}
        )._candidates()
    est = AutoForecaster(
        benchmark="b",
        metric="err",
        alpha=0.2,
        random_state=3,
        method_params={"sigmoid": {"half": 0.5}},
    )
    made = est._make("sigmoid", 7).get_params()
    assert {
        k: made[k] for k in ("benchmark", "metric", "alpha", "n_bootstrap", "random_state", "half")
    } == {
        "benchmark": "b",
        "metric": "err",
        "alpha": 0.2,
        "n_bootstrap": 7,
        "random_state": 3,
        "half": 0.5,
    }
    assert math.isnan(est._make("exponential", 1).half)  # sigmoid's parameters only


def test_make_passes_the_loss_benchmark_to_gadre_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "METHODS", registry.LazyMethods(registry._PATHS))
    est = AutoForecaster(
        benchmark="b", loss_benchmark="L", method_params={"gadre": {"loss_metric": "ppl"}}
    )
    gadre = est._make("gadre", 4).get_params()
    assert (gadre["loss_benchmark"], gadre["loss_metric"], gadre["n_bootstrap"]) == ("L", "ppl", 4)
    assert "loss_benchmark" not in est._make("exponential", 4).get_params()


def test_fold_cache_is_a_least_recently_used_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto_module, "FOLD_CACHE_SIZE", 2)
    est = Table(benchmark="b", table=table(0.44, 0.49, 0.45, 0.70), refuse_n=(4, 3))
    obs = ladder()
    folds = [
        FoldSplit(k, obs.iloc[:n], obs.iloc[[n]], (Y[n],), (1.0,))
        for k, n in ((1, 5), (2, 4), (3, 3))
    ]
    one = cached_folds("k1", est, folds)
    assert [(f.fold, f.target, f.point) for f in one.forecasts] == [(1, "m5", 0.45)]
    assert one.refused == (
        (2, "FitError: refused on 4 models"),
        (3, "FitError: refused on 3 models"),
    )
    assert cached_folds("k1", est, []) is one  # a hit ignores the folds
    two = cached_folds("k2", est, [])
    assert cached_folds("k1", est, []) is one  # k1 now the most recent
    cached_folds("k3", est, [])  # evicts k2, the least recent
    assert list(auto_module._FOLD_CACHE) == ["k1", "k3"]
    assert cached_folds("k2", est, []) is not two


def test_frame_hash_is_the_rows_and_names_not_their_order() -> None:
    obs = ladder()
    h = frame_hash(obs)
    assert frame_hash(obs.iloc[::-1]) == h
    assert frame_hash(obs.iloc[::-1].reset_index(drop=True)) == h
    assert frame_hash(obs[list(reversed(obs.columns))]) == h
    assert frame_hash(obs.rename(columns={"value": "score"})) != h
    assert frame_hash(obs.assign(value=obs["value"] + 1e-9)) != h


def test_weights_from_each_rule() -> None:
    e = {"a": np.array([0.1, -0.1]), "b": np.array([0.2, 0.0]), "c": np.array([-0.1, 0.1])}
    assert weights_from(e, "best") == {"a": 0.5, "b": 0.0, "c": 0.5}  # MSE 0.01, 0.02, 0.01
    assert weights_from(e, "median") == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    w = weights_from(e, "inverse_mse")  # 100 : 50 : 100
    assert w == pytest.approx({"a": 0.4, "b": 0.2, "c": 0.4})
    # a perfect record: its MSE is floored at 1e-12 of the largest (0.01): weights 1e14 : 100
    w = weights_from({"a": np.zeros(2), "b": np.array([0.1, 0.1])}, "inverse_mse")
    assert w["b"] == pytest.approx(100 / (1e14 + 100), rel=1e-9)
    assert weights_from({"a": np.zeros(1), "b": np.zeros(1)}, "inverse_mse") == {"a": 0.5, "b": 0.5}


def test_sign_test_tails() -> None:
    """P(X >= w), X ~ Binomial(n, 1/2): sum of C(n, i) for i >= w over 2^n."""
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(2, 5) == pytest.approx((10 + 10 + 5 + 1) / 32)
    assert sign_test_p(5, 5) == pytest.approx(1 / 32)
    assert sign_test_p(0, 3) == pytest.approx(1.0)


def test_separated_best_edge_cases() -> None:
    assert separated_best({}) is None
    assert separated_best({"a": np.array([0.5])}) == "a"
    two = {"a": np.array([0.01, 0.01, 0.02]), "b": np.array([0.02, -0.02, 0.02])}
    assert separated_best(two) == "a"  # 2 wins, 1 tie: n = 2, p = 1/4, not more than 0.25
    assert separated_best(two, p_max=0.2) is None
    three = {**two, "c": np.array([0.03, 0.01, 0.03])}  # c: 2 wins of 2 as well
    assert separated_best(three) == "a"
    three["c"] = np.array([0.03, 0.005, 0.03])  # c beats a once: 2 of 3, p = 1/2
    assert separated_best(three) is None
    assert separated_best({"a": np.array([]), "b": np.array([0.1])}, p_max=1.0) == "b"


def test_small_helpers() -> None:
    assert _effective_rule("inverse_mse", {}) == "inverse_mse"
    assert _effective_rule("separated", {}) == "median"
    e = {"a": np.array([0.01, 0.01]), "b": np.array([0.02, 0.02])}
    assert _effective_rule("separated", e) == "best"
    assert _why("best", "best") == ""
    assert _pool([0.1, 0.9, 0.3, 0.5], [0.0, 0.0, 0.0, 1.0], "median") == pytest.approx(0.4)
    assert _pool([0.1, 0.3], [0.75, 0.25], "inverse_mse") == pytest.approx(0.15)
    assert _short("x" * 300) == "x" * 300
    assert _short("x" * 301) == "x" * 297 + "..."
    assert _short("abcdef", limit=5) == "ab..."
    run = MethodFolds(
        (
            FoldForecast(1, "m5", 1.0, 0.55, 0.45, 0.40, 0.50),
            FoldForecast(2, "m4", 1.0, 0.50, 0.49),
            FoldForecast(3, "m3", 1.0, 0.45, 0.44, 0.40, 0.50),
        ),
        (),
    )
    assert _by_target(run) == {(1, "m5"): 0.45, (2, "m4"): 0.49, (3, "m3"): 0.44}
    assert _errors(run, [(3, "m3"), (1, "m5")]) == pytest.approx([0.01, 0.10])
    assert _own_coverage(run) == 0.5  # m5 above its upper, m3 inside; m4 has no interval
    assert math.isnan(_own_coverage(MethodFolds(run.forecasts[1:2], ())))


def test_the_note_lists_methods_by_weight() -> None:
    """LOFO's tables swapped: exponential now has the lower fold MSE and leads the note."""
    swapped = {"exponential": LOFO["sigmoid"], "sigmoid": LOFO["exponential"]}
    f = auto(swapped, rule="inverse_mse").fit(ladder()).predict(TARGET)[0]
    wa = 0.0102 / (0.0102 + 0.0022)  # exponential's weight, 1/0.0022 : 1/0.0102
    assert f.notes[0].startswith(f"auto (inverse_mse): {wa:.2f} exponential, {1 - wa:.2f} sigmoid")


def test_median_of_three_at_each_fold() -> None:
    """Three methods: fold points (0.45, 0.53, 0.60), (0.49, 0.47, 0.52), (0.44, 0.42, 0.46)
    have medians 0.53, 0.49, 0.44 (means would differ): residuals 0.02, 0.01, 0.01."""
    params = {**LOFO, "ladder": {"table": table(0.46, 0.52, 0.60, 0.90), "half": 0.1}}
    est = auto(params, rule="median").fit(ladder())
    cal = est.calibration_
    assert cal.scores == pytest.approx((0.02, 0.01, 0.01))
    # fold 1's bounds: median(0.40, 0.515, 0.50) and median(0.50, 0.545, 0.70)
    assert (cal.folds[0].lower, cal.folds[0].upper) == pytest.approx((0.50, 0.545))
    assert est.predict(TARGET)[0].point == pytest.approx(0.70)


@pytest.mark.parametrize(("rule", "weight"), [("best", 1.0), ("inverse_mse", 0.9)])
def test_a_single_fold_weighs_its_methods_equally(rule: str, weight: float) -> None:
    """Four models give one fold (m3, fit on three): no other fold to weigh by, so its
    combination is the mean of 0.44 and 0.42, residual 0.45 - 0.43 = 0.02. The weights of
    the final forecast do come from it: 1/0.0001 : 1/0.0009 is 0.9 : 0.1."""
    est = auto(LOFO, rule=rule).fit(ladder(4))
    assert est.calibration_.scores == pytest.approx((0.02,))
    # the weights themselves come from that fold: errors 0.01 and 0.03, MSE 1:9
    assert est.weights_["exponential"] == pytest.approx(weight)


def test_a_fold_target_no_method_answers_is_skipped() -> None:
    """m6 twins m5 at 1e23 (fold 1 holds both); neither method forecasts m5, so fold 1's
    residual is m6's alone and folds 2 and 3 still count: 0.10, 0.03, 0.03."""
    obs = pd.concat([ladder(), ladder().iloc[[5]].assign(model="m6")])
    params = {m: {**p, "nan_models": ("m5",)} for m, p in LOFO.items()}
    est = auto(params, rule="best").fit(obs)
    assert [f.target for f in est.calibration_.folds] == ["m6", "m4", "m3"]
    assert est.calibration_.scores == pytest.approx((0.10, 0.03, 0.03))


def test_n_folds_caps_the_folds_and_one_method_without_folds_is_the_median() -> None:
    """n_folds=2 keeps folds 1 and 2: fold 1 picked by fold 2 (A: 0.0001 < B: 0.0009),
    fold 2 by fold 1 (B): residuals 0.10 and 0.03. With no fold at all a lone method is
    still reported as the median (nothing separated it)."""
    est = auto(LOFO, rule="best", n_folds=2).fit(ladder())
    assert est.calibration_.scores == pytest.approx((0.10, 0.03))
    lone = auto({"exponential": LOFO["exponential"]}).fit(ladder(3))
    assert lone.rule_ == "median" and lone.weights_ == {"exponential": 1.0}


def test_ten_folds_by_default() -> None:
    """Fifteen models, one per decade of compute: twelve folds would fit on >= 3 models, the
    default keeps the largest ten."""
    x = np.arange(18, 33)
    obs = pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(15)],
            "flops": 10.0**x,
            "n_params": np.nan,
            "n_tokens": np.nan,
            "benchmark": "b",
            "metric": "acc",
            "value": 0.01 * x,
        }
    )
    params = {"exponential": {"table": tuple(0.01 * x)}}
    est = AutoForecaster(benchmark="b", methods=("exponential",), method_params=params)
    assert sorted({f.fold for f in est.fit(obs).calibration_.folds}) == list(range(1, 11))


def test_default_resamples_seed_and_loss_set_reach_the_methods() -> None:
    """Fold fits and full fits use fold_bootstrap (20); without folds the refit uses
    n_bootstrap (200); the seed is 0 and gadre chains through c4_val."""
    params = {"exponential": {"table": LOFO["exponential"]["table"]}}
    est = AutoForecaster(benchmark="b", methods=("exponential",), method_params=params)
    est.fit(ladder(3))
    assert FITS == [(3, 20), (3, 200)]
    assert est.estimators_["exponential"].get_params()["random_state"] == 0
    est.fit(ladder())
    assert FITS[2:] == [(6, 20), (5, 20), (4, 20), (3, 20)]


def test_default_loss_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "METHODS", registry.LazyMethods(registry._PATHS))
    gadre = AutoForecaster(benchmark="b")._make("gadre", 1).get_params()
    assert (gadre["loss_benchmark"], gadre["random_state"]) == ("c4_val", 0)
