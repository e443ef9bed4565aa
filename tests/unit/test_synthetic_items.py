"""The synthetic item ladders draw what their docstrings promise: laws, noise, censoring.

Statistical checks use tolerances of 4 standard errors of the quantity checked (stated at each),
so a correct generator fails about once in 15,000 runs per check; the seeds are fixed anyway.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.cod_law import cod_curve
from predictors.synthetic_items import (
    ClusterSpec,
    passuntil_sample,
    synthetic_cod_ladder,
    synthetic_passuntil_ladder,
)

FLOPS = [1e19, 1e20, 1e21]


def test_cod_ladder_rows_follow_the_checkpoint_schedule() -> None:
    obs, truth = synthetic_cod_ladder(
        FLOPS, [ClusterSpec(2, 1.0, 0.5, 0.1, 0.25)], n_outliers=1, n_zero=1, n_samples=50
    )
    assert len(obs) == 3 * 3 * 4  # models x checkpoints x items
    m1 = obs[obs["model"] == "m1"].drop_duplicates("checkpoint_step")
    # checkpoint k of 3 at (0.8 + 0.2 k / 2) of the final compute, steps 1000 (k + 1)
    np.testing.assert_allclose(m1["flops"], [0.8e20, 0.9e20, 1e20], rtol=1e-12)
    assert m1["checkpoint_step"].tolist() == [1000, 2000, 3000]
    n = math.sqrt(1e20 / 120)  # C = 6 N D with D = 20 N
    np.testing.assert_allclose(m1["n_params"], n, rtol=1e-12)
    np.testing.assert_allclose(m1["n_params_nonembed"], 0.9 * n, rtol=1e-12)
    np.testing.assert_allclose(m1["n_tokens"], [16 * n, 18 * n, 20 * n], rtol=1e-12)
    assert (obs["family"] == "synthetic-ladder").all() and (obs["benchmark"] == "synthetic").all()
    assert (obs["metric"] == "pass_rate").all() and obs["release_date"].isna().all()
    np.testing.assert_allclose(obs["value"], obs["n_pass"] / 50)
    assert (obs["n_samples"] == 50).all()
    assert truth["item"].tolist() == ["c0-0", "c0-1", "out-0", "zero-0"]
    assert truth["cluster"].tolist() == [0, 0, -1, -2]
    one, _ = synthetic_cod_ladder(
        FLOPS, [ClusterSpec(1, 1.0, 0.5, 0.1)], n_checkpoints=1, n_outliers=0, n_zero=0
    )
    assert one["flops"].tolist() == FLOPS and one["checkpoint_step"].tolist() == [1000] * 3


def test_cluster_items_follow_their_law_with_lognormal_jitter() -> None:
    """With c = g = 0 the law is p = exp(-a (C/unit)^-b), so each item's a is recoverable."""
    spec = ClusterSpec(400, 2.0, 0.3, 0.0, 0.0)
    _, truth = synthetic_cod_ladder(FLOPS, [spec], n_outliers=0, n_zero=0, jitter=0.2, seed=3)
    a = -np.log(truth["m0"].to_numpy()) * (1e19 / 1e18) ** 0.3
    la = np.log(a / 2.0)
    # mean of 400 normal(0, 0.2): SE 0.01; sd: SE 0.2 / sqrt(2 x 400) = 0.007
    assert abs(la.mean()) < 4 * 0.01
    assert abs(la.std(ddof=1) - 0.2) < 4 * 0.007
    np.testing.assert_allclose(  # the same a at every model: the law, not new noise
        truth["m2"], np.exp(-a * 1000.0**-0.3), rtol=1e-9
    )
    g_spec = ClusterSpec(1, 2.0, 0.3, 0.5, 0.25)
    _, t2 = synthetic_cod_ladder(FLOPS, [g_spec], n_outliers=0, n_zero=0, jitter=0.0, unit=1e19)
    assert t2["m1"].iloc[0] == pytest.approx(float(cod_curve(10.0, 2.0, 0.3, 0.5, 0.25)))


def test_observed_pass_rates_are_binomial_around_the_truth() -> None:
    """Final checkpoints of 10,000 draws: |value - p| < 4 sqrt(p (1 - p) / 10,000) <= 0.02."""
    obs, truth = synthetic_cod_ladder(
        FLOPS, [ClusterSpec(5, 1.0, 0.2, 0.0)], n_outliers=5, n_zero=2, n_samples=10_000, seed=2
    )
    final = obs[obs["checkpoint_step"] == 3000].pivot(index="item", columns="model", values="value")
    t = truth.set_index("item")[["m0", "m1", "m2"]].loc[final.index]
    p = t.to_numpy()
    assert (np.abs(final.to_numpy() - p) <= 4 * np.sqrt(p * (1 - p) / 10_000) + 1e-12).all()


def test_outliers_and_zero_items() -> None:
    """Outlier levels are uniform on [0.05, 0.95] per model; zero items are never passed."""
    obs, truth = synthetic_cod_ladder(FLOPS, [], n_outliers=300, n_zero=3, seed=4)
    levels = truth[truth["cluster"] == -1][["m0", "m1", "m2"]].to_numpy()
    assert levels.min() >= 0.05 and levels.max() <= 0.95
    # 900 uniform draws: mean 0.5 with SE 0.26 / 30 = 0.0087; P(none below 0.1) = (17/18)^900
    assert abs(levels.mean() - 0.5) < 4 * 0.0087
    assert levels.min() < 0.1 and levels.max() > 0.9
    # a level per model: an outlier's three levels are distinct draws (not one repeated)
    assert (np.ptp(levels, axis=1) > 0).all()
    # an outlier's checkpoint at 0.8 x a model's compute reads that model's level, not its
    # neighbour's (nearest in log compute)
    first = obs[(obs["checkpoint_step"] == 1000) & obs["item"].str.startswith("out")]
    exp_rate = first.pivot(index="item", columns="model", values="value").loc[truth["item"][:300]]
    err = np.abs(exp_rate.to_numpy() - levels)  # 100 draws: sd <= 0.05
    assert np.median(err) < 0.05 and np.mean(err < 0.2) > 0.99
    zero = obs[obs["item"].str.startswith("zero")]
    assert len(zero) == 3 * 3 * 3 and (zero["value"] == 0).all()
    assert (truth[truth["cluster"] == -2][["m0", "m1", "m2"]] == 0).all().all()


def test_passuntil_sample_draws_until_r_successes() -> None:
    rng = np.random.default_rng(0)
    assert passuntil_sample(1.0, rng, r=3) == (3, 3)
    draws = np.array([passuntil_sample(0.1, rng, r=2) for _ in range(4000)])
    assert (draws[:, 1] == 2).all()
    # draws until 2 successes at p = 0.1: mean r/p = 20, sd sqrt(r (1-p)) / p = 13.4, SE 0.21
    assert abs(draws[:, 0].mean() - 20.0) < 4 * 13.4 / math.sqrt(4000)
    assert draws[:, 0].min() == 2


def test_passuntil_sample_censors_at_the_budget() -> None:
    rng = np.random.default_rng(1)
    draws = np.array([passuntil_sample(0.001, rng, r=2, k_max=100) for _ in range(2000)])
    censored = draws[:, 1] < 2
    # P(fewer than 2 successes in 100 draws at 0.001) = 0.999^100 + 0.1 x 0.999^99 = 0.9953
    assert censored.mean() > 0.9953 - 4 * math.sqrt(0.9953 * 0.0047 / 2000)
    assert (draws[censored, 0] == 100).all() and (draws[~censored, 1] == 2).all()
    assert (draws[~censored, 0] <= 100).all() and (draws[censored, 1] == 1).any()
    # p so small that NB would underflow: censored at once, never a success
    assert passuntil_sample(1e-12, rng, r=2, k_max=10_000) == (10_000, 0)
    assert passuntil_sample(0.0, rng, r=3, k_max=50) == (50, 0)
    # exactly at the budget is not censored: p = 1 reaches r = k_max draws
    assert passuntil_sample(1.0, rng, r=5, k_max=5) == (5, 5)


def test_censoring_rate_matches_the_poisson_limit() -> None:
    """p = 1e-4 with a budget of 10,000 draws: 2 successes within budget has probability
    1 - e^-1 (1 + 1) = 0.2642 (Poisson limit, error ~1e-5); 2000 runs, SE 0.0099."""
    rng = np.random.default_rng(2)
    runs = np.array([passuntil_sample(1e-4, rng, r=2, k_max=10_000) for _ in range(2000)])
    reached = (runs[:, 1] == 2).mean()
    assert abs(reached - (1 - 2 * math.exp(-1))) < 4 * 0.0099
    # p k_max = 50 is far from the underflow guard: draws until 2 successes (mean 400)
    p005 = np.array([passuntil_sample(0.005, rng) for _ in range(200)])
    assert (p005[:, 1] == 2).all() and p005[:, 0].max() < 10_000


def test_the_same_seed_gives_the_same_data() -> None:
    spec = [ClusterSpec(3, 1.0, 0.5, 0.1)]
    a, _ = synthetic_cod_ladder(FLOPS, spec, n_outliers=2, n_zero=0, seed=9)
    b, _ = synthetic_cod_ladder(FLOPS, spec, n_outliers=2, n_zero=0, seed=9)
    pd.testing.assert_frame_equal(a, b)

    def F(z: np.ndarray) -> np.ndarray:
        return -0.5 + 0.0 * z

    c, _ = synthetic_passuntil_ladder([1e8], F, n_items=20, seed=9)
    d, _ = synthetic_passuntil_ladder([1e8], F, n_items=20, seed=9)
    pd.testing.assert_frame_equal(c, d)


def test_passuntil_ladder_follows_its_law() -> None:
    """log(-log p) = F(log N) + delta, delta ~ Normal(0, item_sd), shared across models."""
    n_params = [1e8, 1e9]

    def F(z: np.ndarray) -> np.ndarray:
        return 2.0 - 0.1 * z

    obs, truth = synthetic_passuntil_ladder(n_params, F, n_items=300, item_sd=0.5, seed=5)
    d0 = np.log(-np.log(truth[truth["model"] == "pu0"]["p"].to_numpy())) - F(np.log(1e8))
    d1 = np.log(-np.log(truth[truth["model"] == "pu1"]["p"].to_numpy())) - F(np.log(1e9))
    np.testing.assert_allclose(d0, d1, atol=1e-9)  # one offset per item
    # 300 normal(0, 0.5): mean SE 0.029, sd SE 0.5 / sqrt(600) = 0.020
    assert abs(d0.mean()) < 4 * 0.029 and abs(d0.std(ddof=1) - 0.5) < 4 * 0.020
    row = obs.iloc[0]
    assert row["model"] == "pu0" and row["item"] == "i0" and row["metric"] == "pu"
    assert row["flops"] == pytest.approx(120 * 1e16) and row["n_tokens"] == pytest.approx(2e9)
    assert row["n_params_nonembed"] == 1e8 and row["n_params"] == 1e8
    assert row["family"] == "synthetic-pu"
    assert truth["item"].tolist()[:2] == ["i0", "i1"] and truth["model"].iloc[-1] == "pu1"
    assert (obs["benchmark"] == "synthetic-pu").all() and (obs["checkpoint_step"] == 1000).all()
    np.testing.assert_allclose(obs["value"], obs["n_pass"] / obs["n_samples"])
    assert set(obs["n_pass"]) <= {0, 1, 2} and obs["release_date"].isna().all()
    flat, t = synthetic_passuntil_ladder([1e8], F, n_items=3, item_sd=0.0, r=4, benchmark="b")
    assert t["p"].tolist() == pytest.approx([math.exp(-math.exp(F(np.log(1e8))))] * 3)
    assert (flat["benchmark"] == "b").all() and set(flat["n_pass"]) <= {4}
    assert isinstance(flat, pd.DataFrame) and len(flat) == 3


def test_the_passuntil_ladder_passes_its_budget_on() -> None:
    """Items at p ~ e^-e^3 = 2e-9 never reach 2 successes in a budget of 50: censored at 50."""

    def F(z: np.ndarray) -> np.ndarray:
        return 3.0 + 0.0 * z

    obs, _ = synthetic_passuntil_ladder([1e8], F, n_items=5, item_sd=0.0, k_max=50)
    assert obs["n_samples"].tolist() == [50] * 5 and (obs["n_pass"] < 2).all()
