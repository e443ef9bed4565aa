"""Capacity density: inversion recovers known effective sizes; the densing law recovers its slope."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.densing import DensityReference, density_table, fit_densing_law, plot_densing
from predictors.laws import densing_loss, sigmoid_accuracy

LOSS = (30.0, 0.25, 200.0, 0.25)  # a, alpha, b, beta
SCORE = (-0.7, 0.95, 5.0, 1.0)  # S(L), chance 0.25


def reference_family(
    sizes: tuple[float, ...] = (7e7, 1.6e8, 4e8, 1e9, 2.8e9, 6.9e9), n_checkpoints: int = 8
) -> pd.DataFrame:
    rows = []
    for n in sizes:
        for d in np.logspace(9, 11.5, n_checkpoints):
            L = densing_loss((n, d), *LOSS)
            base = dict(
                model=f"ref-{n:.0e}",
                family="ref",
                n_params=n,
                n_params_nonembed=n,
                n_tokens=d,
                checkpoint_step=int(d / 1e6),
            )
            rows += [
                {**base, "benchmark": "lm", "metric": "loss", "value": L},
                {
                    **base,
                    "benchmark": "task",
                    "metric": "acc",
                    "value": sigmoid_accuracy(L, *SCORE),
                },
            ]
    return pd.DataFrame(rows)


def score_of(n_eff: float, d0: float = 1e12) -> float:
    return float(sigmoid_accuracy(densing_loss((n_eff, d0), *LOSS), *SCORE))


def _ref() -> DensityReference:
    return DensityReference(reference_family="ref", benchmark="task", loss_benchmark="lm").fit(
        reference_family()
    )


def test_effective_size_inverts_the_reference_curves() -> None:
    ref = _ref()
    assert ref.loss_fit_.ok and ref.score_fit_.ok
    for n_eff in (3e8, 2e9, 1e10):
        assert ref.effective_size(np.array([score_of(n_eff)]))[0] == pytest.approx(n_eff, rel=0.02)
    assert math.isnan(ref.effective_size(np.array([0.99]))[0])  # above the curve's ceiling
    assert ref.describe()["reference_family"] == "ref"


def test_density_table_and_densing_law_recover_the_slope() -> None:
    ref = _ref()
    rng = np.random.default_rng(0)
    slope = 0.004  # per day
    rows = []
    for i, day in enumerate(np.sort(rng.uniform(0, 700, 30))):
        n = float(10 ** rng.uniform(8.5, 10))
        rho = math.exp(slope * day - 1.0 + rng.normal(0, 0.15))
        rows.append(
            dict(
                model=f"m{i}",
                n_params=n,
                release_date=pd.Timestamp("2022-01-01") + pd.Timedelta(days=day),
                score=score_of(rho * n),
            )
        )
    table = density_table(ref, pd.DataFrame(rows))
    assert np.isfinite(table["density"]).sum() >= 25
    res = fit_densing_law(table, ref.describe(), alpha=0.1, n_bootstrap=200)
    assert res.slope_interval[0] < res.slope < res.slope_interval[1]
    # OLS of ln(density) on day: s.e.(slope) = 0.15 / sqrt(sum (day - mean)^2) ≈ 1.4e-4 here
    # (3.4% of the slope; the 2% inversion error adds < 0.02 to ln density, negligible next to
    # 0.15). 4 s.e. fails a slope off by 14%.
    finite = table[np.isfinite(table["density"])]
    days = (pd.to_datetime(finite["release_date"]) - pd.Timestamp("2022-01-01")).dt.days
    se = 0.15 / math.sqrt(float(((days - days.mean()) ** 2).sum()))
    assert se == pytest.approx(1.4e-4, rel=0.15)
    assert res.slope == pytest.approx(slope, abs=4 * se)
    assert res.slope_interval[0] < slope < res.slope_interval[1]
    assert res.doubling_interval[0] < res.doubling_days < res.doubling_interval[1]
    assert res.doubling_days == pytest.approx(math.log(2) / res.slope)
    assert res.to_dict()["reference"]["reference_family"] == "ref"
    assert "ref" in res.summary()
    fig = plot_densing(res)
    assert fig.axes and fig.axes[0].get_yscale() == "log"


def test_missing_reference_family_is_named() -> None:
    with pytest.raises(ValueError, match="reference family 'nope'"):
        DensityReference(reference_family="nope", benchmark="task", loss_benchmark="lm").fit(
            reference_family()
        )


def test_too_few_models_for_the_law() -> None:
    t = pd.DataFrame(
        {
            "model": ["a", "b"],
            "density": [1.0, 2.0],
            "release_date": pd.to_datetime(["2023-01-01", "2024-01-01"]),
        }
    )
    with pytest.raises(ValueError, match="at least 3 models"):
        fit_densing_law(t, {"reference_family": "ref"})
