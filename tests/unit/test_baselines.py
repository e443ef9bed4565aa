"""End-to-end baselines: parameters recovered from their own law, failures reported."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.baselines import ExponentialCompute, SigmoidLogCompute, SingleStep
from predictors.laws import exponential_compute, sigmoid_log_compute, single_step_accuracy


def _obs(values: np.ndarray, n: np.ndarray, d: np.ndarray, metric: str = "acc") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(len(n))],
            "family": "f",
            "n_params": n,
            "n_tokens": d,
            "flops": 6 * n * d,
            "checkpoint_step": 1,
            "benchmark": "task",
            "metric": metric,
            "value": values,
        }
    )


N = np.logspace(7, 9.3, 12)
D = 20 * N
BIG = pd.DataFrame(
    {"model": ["big"], "n_params": [7e10], "n_tokens": [1.4e12], "flops": [6 * 7e10 * 1.4e12]}
)


def test_exponential_recovers_its_law() -> None:
    truth = (0.25, 2.0, 0.12)
    y = exponential_compute(6 * N * D, *truth)
    est = ExponentialCompute(benchmark="task", n_bootstrap=30).fit(_obs(y, N, D))
    assert est.fit_.ok
    assert np.allclose(est.fit_.params, truth, rtol=1e-3)
    f = est.predict(BIG)[0]
    assert f.point == pytest.approx(
        exponential_compute(BIG["flops"].to_numpy(), *truth)[0], rel=1e-3
    )
    assert f.method == "exponential"


def test_sigmoid_in_log_compute_with_err_metric() -> None:
    truth = (0.25, 0.85, 0.9, 21.0)
    acc = sigmoid_log_compute(6 * N * D, *truth)
    est = SigmoidLogCompute(benchmark="task", metric="err", n_bootstrap=30).fit(
        _obs(1 - acc, N, D, "err")
    )
    f = est.predict(BIG)[0]
    assert f.metric == "err"
    assert f.point == pytest.approx(
        1 - sigmoid_log_compute(BIG["flops"].to_numpy(), *truth)[0], abs=1e-3
    )


def test_single_step_in_n_and_d() -> None:
    n = np.repeat(np.logspace(7, 9, 6), 3)
    d = n * np.tile([5.0, 20.0, 80.0], 6)
    truth = (-0.7, 0.95, 5.0, 0.3, 6.0, 0.3, -2.0)
    y = single_step_accuracy((n, d), *truth)
    est = SingleStep(benchmark="task", n_bootstrap=0).fit(_obs(y, n, d))
    assert est.fit_.ok
    pred = est.predict(BIG)[0].point
    assert pred == pytest.approx(single_step_accuracy((7e10, 1.4e12), *truth), abs=0.01)


def test_noisy_intervals_widen_with_noise() -> None:
    rng = np.random.default_rng(3)
    y = exponential_compute(6 * N * D, 0.25, 2.0, 0.12)
    widths = []
    for sd in (0.002, 0.02):
        est = ExponentialCompute(benchmark="task", n_bootstrap=100).fit(
            _obs(y + rng.normal(0, sd, y.size), N, D)
        )
        f = est.predict(BIG)[0]
        widths.append(f.upper - f.lower)
    assert widths[1] > 3 * widths[0]


def test_too_few_models_gives_a_reasoned_nan() -> None:
    est = SigmoidLogCompute(benchmark="task").fit(_obs(np.array([0.3, 0.4, 0.5]), N[:3], D[:3]))
    f = est.predict(BIG)[0]
    assert math.isnan(f.point) and "3 points for 4 parameters" in f.notes[0]


def test_bad_parameter_is_named() -> None:
    with pytest.raises(ValueError, match="checkpoints"):
        ExponentialCompute(benchmark="task", checkpoints="some").fit(_obs(np.ones(12) * 0.5, N, D))


@pytest.mark.parametrize(
    ("n_failed", "has_interval"), [(119, False), (41, False), (40, True), (0, True)]
)
def test_too_many_failed_resamples_give_no_interval(
    monkeypatch: pytest.MonkeyPatch, n_failed: int, has_interval: bool
) -> None:
    """Issue 13: 119 of 200 failed resamples still reported an interval. Above 20% there is none."""
    import predictors.baselines as baselines
    from predictors.laws import BootstrapLaw

    real = baselines.bootstrap_law

    def failing(*args, **kwargs):  # the real refits, then drop n_failed of them
        boot = real(*args, **kwargs)
        return BootstrapLaw(params=boot.params[n_failed:], n_failed=n_failed)

    monkeypatch.setattr(baselines, "bootstrap_law", failing)
    truth = (0.25, 0.85, 0.9, 21.0)
    acc = sigmoid_log_compute(6 * N * D, *truth) + np.random.default_rng(0).normal(0, 0.01, len(N))
    f = SigmoidLogCompute(benchmark="task", n_bootstrap=200).fit(_obs(acc, N, D)).predict(BIG)[0]
    assert math.isfinite(f.point)
    assert math.isfinite(f.lower) is has_interval and math.isfinite(f.upper) is has_interval
    assert any(f"{n_failed} of 200 resamples failed" in n for n in f.notes) is (n_failed > 0)
    assert any("no interval" in n for n in f.notes) is (not has_interval)


def test_bootstrap_size_is_capped() -> None:
    with pytest.raises(ValueError, match=r"n_bootstrap=100000000 outside \[0, 10000\]"):
        SigmoidLogCompute(benchmark="task", n_bootstrap=100_000_000).fit(
            _obs(np.ones(12) * 0.5, N, D)
        )


def test_defaults_are_the_documented_ones() -> None:
    assert ExponentialCompute(benchmark="t").get_params() == {
        "benchmark": "t",
        "metric": "acc",
        "checkpoints": "final",
        "alpha": 0.1,
        "n_bootstrap": 200,
        "random_state": 0,
    }


def test_forecast_fields_diagnostics_and_notes() -> None:
    """Two targets at once; every field of each forecast against its source."""
    rng = np.random.default_rng(5)
    y = exponential_compute(6 * N * D, 0.25, 2.0, 0.12) + rng.normal(0, 0.01, N.size)
    est = ExponentialCompute(benchmark="task", alpha=0.2, n_bootstrap=50).fit(_obs(y, N, D))
    two = pd.concat([BIG, BIG.assign(model="half", flops=BIG["flops"] / 2)], ignore_index=True)
    fs = est.predict(two)
    fit_flops = float(np.sum(6 * N * D))  # one (final) checkpoint per model
    assert [f.target for f in fs] == ["big", "half"]
    for f, c in zip(fs, two["flops"], strict=True):
        assert (f.benchmark, f.metric, f.method, f.alpha) == ("task", "acc", "exponential", 0.2)
        assert f.params == est.fit_.as_dict()
        assert f.point == pytest.approx(exponential_compute(c, *est.fit_.params), rel=1e-12)
        assert f.lower < f.point < f.upper
        assert f.notes == ("12 fit points",)
        assert f.diagnostics["fit"] == est.fit_.to_dict()
        assert f.diagnostics["fit_flops"] == pytest.approx(fit_flops, rel=1e-12)
        assert f.diagnostics["fit_flops_fraction"] == pytest.approx(fit_flops / c, rel=1e-12)


def test_intervals_repeat_with_the_seed_and_vanish_without_resamples() -> None:
    rng = np.random.default_rng(6)
    obs = _obs(exponential_compute(6 * N * D, 0.25, 2.0, 0.12) + rng.normal(0, 0.01, 12), N, D)

    def interval(**kw) -> tuple[float, float]:
        f = ExponentialCompute(benchmark="task", n_bootstrap=40, **kw).fit(obs).predict(BIG)[0]
        return f.lower, f.upper

    assert interval(random_state=3) == interval(random_state=3)
    assert interval(random_state=3) != interval(random_state=4)
    none = ExponentialCompute(benchmark="task", n_bootstrap=0).fit(obs)
    f = none.predict(BIG)[0]
    assert none.boot_ is None and math.isfinite(f.point)
    assert math.isnan(f.lower) and math.isnan(f.upper)


def test_checkpoints_final_or_all() -> None:
    """Two checkpoints per model: "final" fits the 12 last ones, "all" all 24."""
    y = exponential_compute(6 * N * D, 0.25, 2.0, 0.12)
    early = _obs(exponential_compute(6 * N * D / 2, 0.25, 2.0, 0.12), N, D / 2)
    obs = pd.concat([early.assign(checkpoint_step=1), _obs(y, N, D).assign(checkpoint_step=2)])
    final = ExponentialCompute(benchmark="task", n_bootstrap=0).fit(obs)
    every = ExponentialCompute(benchmark="task", checkpoints="all", n_bootstrap=0).fit(obs)
    assert (final.fit_.n_obs, every.fit_.n_obs) == (12, 24)
    assert final.fit_flops_ == pytest.approx(float(np.sum(6 * N * D)), rel=1e-12)
    assert every.fit_flops_ == final.fit_flops_  # compute spent: final checkpoints only


def test_failed_fit_forecasts_name_the_reason_and_skip_the_bootstrap() -> None:
    est = SigmoidLogCompute(benchmark="task", alpha=0.3, n_bootstrap=50).fit(
        _obs(np.array([0.3, 0.4, 0.5]), N[:3], D[:3])
    )
    assert est.boot_ is None
    f = est.predict(BIG)[0]
    assert (f.target, f.benchmark, f.metric, f.method, f.alpha) == (
        "big", "task", "acc", "sigmoid", 0.3
    )  # fmt: skip
    assert f.notes[0] == "no forecast: sigmoid_log_compute failed: 3 points for 4 parameters"
    assert f.diagnostics["fit"]["status"] == "failed"


def test_errors_name_the_estimator() -> None:
    with pytest.raises(ValueError, match=r"ExponentialCompute\.fit"):
        ExponentialCompute(benchmark="nope").fit(_obs(np.ones(12) * 0.5, N, D))
    est = SingleStep(benchmark="task", n_bootstrap=0).fit(
        _obs(single_step_accuracy((N, D), -0.7, 0.95, 5.0, 0.3, 6.0, 0.3, -2.0), N, D)
    )
    with pytest.raises(ValueError, match=r"SingleStep\.predict"):
        est.predict(pd.DataFrame({"model": ["x"], "n_params": [1e10]}))


def test_bounds_hold_in_the_fit_and_every_resample() -> None:
    """Data 0.01 below a law with chance g = 0: unbounded least squares puts g at -0.0106; the
    box [0, 1] must hold it at 0, in the fit and in each bootstrap refit."""
    y = exponential_compute(6 * N * D, 0.0, 2.0, 0.12) - 0.01
    est = ExponentialCompute(benchmark="task", n_bootstrap=30).fit(_obs(y, N, D))
    assert est.bounds_ == ([0.0, 0.0, 0.0], [1.0, 1e6, 5.0])
    assert est.fit_.ok and est.fit_.params[0] == pytest.approx(0.0, abs=1e-9)
    assert est.boot_ is not None and est.boot_.params[:, 0].min() >= 0.0


def test_prediction_interval_includes_the_noise_of_a_new_run() -> None:
    """Inside the fitted range the parameters are well known (their 90% band is ~0.024 wide at
    sigma = 0.02), so the interval's width comes from resampled residuals: a new run's noise
    alone spans 2 * 1.645 * 0.02 = 0.066; 12 residuals give 0.059-0.073 over seeds 5, 7, 11.
    Above 0.045 fails an interval built from the parameter draws alone."""
    mid = pd.DataFrame(
        {"model": ["mid"], "n_params": [N[6]], "n_tokens": [D[6]], "flops": [6 * N[6] * D[6]]}
    )
    y = exponential_compute(6 * N * D, 0.25, 2.0, 0.12)
    y = y + np.random.default_rng(5).normal(0, 0.02, N.size)
    f = ExponentialCompute(benchmark="task", n_bootstrap=200).fit(_obs(y, N, D)).predict(mid)[0]
    assert 0.045 < f.upper - f.lower < 0.1


def test_fit_message_travels_in_the_notes() -> None:
    y = exponential_compute(6 * N[:3] * D[:3], 0.25, 2.0, 0.12)
    f = (
        ExponentialCompute(benchmark="task", n_bootstrap=0)
        .fit(_obs(y, N[:3], D[:3]))
        .predict(BIG)[0]
    )
    assert f.notes[:2] == (
        "3 fit points",
        "as many points as parameters: the fit interpolates, residuals carry no information",
    )
