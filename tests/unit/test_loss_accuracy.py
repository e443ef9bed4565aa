"""Gadre chain: synthetic recovery, metric conversions, honest failures, and the paper's numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.filters import FILTER_COLUMNS, parse_filter
from predictors.laws import gadre_error, gadre_loss
from predictors.loss_accuracy import GadreChain

LOSS_P = (50.0, 80.0, -0.2, 1.8)
ERR_P = (1.5, 0.5, 0.9)


def _obs(
    loss_metric: str = "loss", metric: str = "err", noise: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.repeat([1e7, 3e7, 1e8, 3e8, 6e8], 3)
    m = np.tile([20.0, 80.0, 320.0], 5)
    loss = gadre_loss((n, m), *LOSS_P) + rng.normal(0, noise, n.size)
    err = gadre_error(loss, *ERR_P) + rng.normal(0, noise, n.size)
    rows = []
    for i in range(n.size):
        lv = np.exp(loss[i]) if loss_metric == "ppl" else loss[i]
        ev = 1 - err[i] if metric == "acc" else err[i]
        base = dict(
            model=f"m{i}", family="f", n_params=n[i], n_tokens=n[i] * m[i], checkpoint_step=1
        )
        rows += [
            {**base, "benchmark": "c4_val", "metric": loss_metric, "value": lv},
            {**base, "benchmark": "avg", "metric": metric, "value": ev},
        ]
    return pd.DataFrame(rows)


TARGET = pd.DataFrame([dict(model="big", n_params=7e9, n_tokens=1.4e11)])
TRUE_ERR = float(gadre_error(gadre_loss((7e9, 20.0), *LOSS_P), *ERR_P))


def test_recovers_the_chain_exactly_on_noiseless_data() -> None:
    est = GadreChain(benchmark="avg", loss_metric="loss", n_bootstrap=20).fit(_obs())
    f = est.predict(TARGET)[0]
    assert f.point == pytest.approx(TRUE_ERR, rel=1e-4)
    assert f.diagnostics["predicted_loss"] == pytest.approx(
        gadre_loss((7e9, 20.0), *LOSS_P), rel=1e-4
    )
    assert f.method == "gadre" and f.metric == "err"
    assert 0 < f.diagnostics["fit_flops_fraction"] < 1


@pytest.mark.parametrize(("loss_metric", "metric"), [("ppl", "err"), ("loss", "acc")])
def test_any_loss_column_and_accuracy_metric(loss_metric: str, metric: str) -> None:
    est = GadreChain(benchmark="avg", metric=metric, loss_metric=loss_metric, n_bootstrap=10).fit(
        _obs(loss_metric, metric)
    )
    f = est.predict(TARGET)[0]
    expected = 1 - TRUE_ERR if metric == "acc" else TRUE_ERR
    assert f.point == pytest.approx(expected, rel=1e-3)


def test_intervals_cover_a_new_noisy_measurement_most_of_the_time() -> None:
    """90% intervals over 20 simulated ladders: coverage near nominal, not 100% by being huge."""
    rng = np.random.default_rng(7)
    hits, widths = 0, []
    for seed in range(20):
        est = GadreChain(benchmark="avg", n_bootstrap=100, bootstrap="residuals", random_state=seed)
        f = est.fit(_obs(noise=0.003, seed=seed)).predict(TARGET)[0]
        new = TRUE_ERR + rng.normal(0, 0.003)
        hits += f.lower <= new <= f.upper
        widths.append(f.upper - f.lower)
    assert hits >= 14, hits
    assert np.median(widths) < 0.06


def test_fit_queries_select_points_and_failures_are_reported() -> None:
    obs = _obs()
    est = GadreChain(benchmark="avg", loss_fit=parse_filter("n_params < 2e7"), n_bootstrap=5)
    est.fit(obs)
    assert est.loss_fit_.status == "failed"  # 3 points for 4 parameters
    f = est.predict(TARGET)[0]
    assert math.isnan(f.point) and not f.ok
    assert any("3 points for 4 parameters" in n for n in f.notes)


def test_missing_rows_are_a_clear_error() -> None:
    # names what is missing and what is there (predictors/contracts.py)
    match = r"no rows for benchmark='nope' metric='err'; benchmarks present: \['avg', 'c4_val'\]"
    with pytest.raises(ValueError, match=match):
        GadreChain(benchmark="nope").fit(_obs())


def test_paper_reproduction_redpajama(shared_data) -> None:
    """Gadre et al.'s recipe on RedPajama: 6.9B error 0.05%, 1.4B/M640 error 3.6% (±0.1 pp)."""
    from db.importers.gadre import gadre_observations

    obs = gadre_observations(shared_data / "gadre-overtraining")
    obs = obs[obs["family"] == "gadre-rpj"].assign(
        M=lambda d: (d["n_tokens"] / d["n_params"]).round(3)
    )
    lf = "(n_params < 5e8 and M == 20) or (n_params < 2e7 and M == 320)"
    ef = lf + " or (n_params > 1e9 and n_params < 2e9 and M == 20)"
    cols = FILTER_COLUMNS | {"M"}
    est = GadreChain(
        loss_fit=parse_filter(lf, columns=cols),
        error_fit=parse_filter(ef, columns=cols),
        n_bootstrap=0,
    ).fit(obs)
    assert est.n_fit_points_ == (5, 6)
    tg = obs[
        (obs["benchmark"] == "avg17")
        & ((obs["n_params"] > 5e9) | (obs["M"] == 640) & (obs["n_params"] > 1e9))
    ]
    tg = tg.sort_values("n_params")
    got = [100 * abs(f.point - v) / v for f, v in zip(est.predict(tg), tg["value"], strict=True)]
    assert got[0] == pytest.approx(3.6, abs=0.1)
    assert got[1] == pytest.approx(0.05, abs=0.1)
