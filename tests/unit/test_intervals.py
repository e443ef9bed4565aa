"""One helper turns bootstrap draws into forecasts: same numbers as the per-estimator loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from predictors.intervals import BootstrapDraws, ForecastSpec, bootstrap_forecasts
from predictors.selection import interval_forecast, residual_noise

RESIDUALS = (0.02, -0.01, 0.005, -0.03, 0.015, 0.0)


def _draws(n_ok: int = 200, n_resamples: int | None = 200) -> BootstrapDraws:
    rng = np.random.default_rng(7)
    boot = np.column_stack([rng.normal(0.6, 0.03, n_ok), rng.normal(0.7, 0.05, n_ok)])
    return BootstrapDraws(np.array([0.6, 0.7]), boot, RESIDUALS, 3, n_resamples)


def test_same_intervals_as_the_loop_it_replaces() -> None:
    """Bit for bit the old per-target loop: residual noise drawn target by target, in order."""
    draws = _draws()
    spec = ForecastSpec("b", "acc", 0.1, "m", {"g": 0.25})
    diags = [{"i": 0}, {"i": 1}]
    got = bootstrap_forecasts(
        spec, ["t0", "t1"], draws, np.random.default_rng(1), diagnostics=diags, notes=["n"]
    )
    rng = np.random.default_rng(1)
    for i, f in enumerate(got):
        d = draws.boot[:, i] - residual_noise(RESIDUALS, 3, 200, rng)
        old = interval_forecast(
            target=f"t{i}", benchmark="b", metric="acc", point=float(draws.points[i]), draws=d,
            alpha=0.1, method="m", params={"g": 0.25}, diagnostics={"i": i}, notes=["n"],
            n_resamples=200,
        )  # fmt: skip
        assert f == old  # every field: labels, parameters, this target's diagnostics, numbers
        assert f.params is not spec.params  # a copy: a caller editing one forecast edits no other
    # residual noise widens the interval beyond the refits' own 90% range: sd 0.05 and the
    # residuals' inflated sd 0.023 give 0.055, 10% wider; with 20,000 draws the 90% range's own
    # sampling error is about 1%
    many = _draws(n_ok=20_000, n_resamples=20_000)
    wide = bootstrap_forecasts(
        spec, ["t0", "t1"], many, np.random.default_rng(1), diagnostics=diags, notes=[]
    )[1]
    lo, hi = np.quantile(many.boot[:, 1], [0.05, 0.95])
    assert wide.upper - wide.lower > 1.04 * (hi - lo)


def test_the_data_side_of_skewed_residuals_is_the_side_the_interval_grows() -> None:
    """Residuals are prediction minus data. Fit points that lay 0.2 *above* the law (residual
    -0.2) say a new model may score 0.2 above the prediction, never below: with no refit spread
    the draws are point + 0 or point + 0.2 (no parameters: no inflation), so a 90% interval
    is [0.5, 0.7] by hand count. The mirrored mistake gives [0.3, 0.5]."""
    boot = np.full((400, 1), 0.5)
    residuals = (-0.2, 0.0, 0.0, -0.2, 0.0, -0.2, 0.0, -0.2, 0.0, 0.0)
    draws = BootstrapDraws(np.array([0.5]), boot, residuals, 0, 400)
    f = bootstrap_forecasts(
        ForecastSpec("b", "acc", 0.1, "m"), ["t"], draws, np.random.default_rng(3),
        diagnostics=[{}], notes=[],
    )[0]  # fmt: skip
    assert (f.point, f.lower, f.upper) == pytest.approx((0.5, 0.5, 0.7))


def test_error_metric_is_mapped_back_and_ordered() -> None:
    """Draws are in the accuracy sense; an ``err`` forecast is 1 - acc with lower < upper."""
    f = bootstrap_forecasts(
        ForecastSpec("b", "err", 0.1, "m"),
        ["t0", "t1"],
        _draws(),
        np.random.default_rng(1),
        diagnostics=[{}, {}],
        notes=[],
    )[0]
    assert f.point == pytest.approx(0.4)
    assert f.lower < 0.4 < f.upper


def test_too_many_failed_refits_give_no_interval() -> None:
    """159 of 200 refits (more than 20% failed): point kept, interval NaN, the reason noted."""
    f = bootstrap_forecasts(
        ForecastSpec("b", "acc", 0.1, "m"),
        ["t0", "t1"],
        _draws(n_ok=159),
        np.random.default_rng(1),
        diagnostics=[{}, {}],
        notes=[],
    )[0]
    assert f.point == 0.6 and math.isnan(f.lower) and math.isnan(f.upper)
    assert any("only 159 of 200" in n for n in f.notes)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="3 targets, 3 diagnostics, draws of shape"):
        bootstrap_forecasts(
            ForecastSpec("b", "acc", 0.1, "m"),
            ["a", "b", "c"],
            _draws(),
            np.random.default_rng(0),
            diagnostics=[{}, {}, {}],
            notes=[],
        )
