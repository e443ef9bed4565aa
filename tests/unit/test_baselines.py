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
