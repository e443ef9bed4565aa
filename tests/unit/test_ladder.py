"""Two-step ladder on a synthetic ladder in the observations format (bpb + acc per checkpoint)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.ladder import TwoStepLadder
from predictors.laws import chinchilla_loss, sigmoid_accuracy

STEP1 = (4.0, 6.5, 0.3, 0.3, 0.4)  # task bpb
STEP2 = (-0.75, 1.0, 5.0, 1.0)  # accuracy from bpb: chance 0.25, ~1 at L=0 (the anchor)


def synthetic_ladder(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """190M-1.3B-like runs at 1-10x Chinchilla, 20 checkpoints each, plus a validation loss."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in (1.9e8, 3.7e8, 7.6e8, 1.3e9):
        for mult in (1, 2, 5, 10):
            final = 20 * n * mult
            for step in range(1, 21):
                d = final * step / 20
                bpb = chinchilla_loss((n, d), *STEP1) * math.exp(rng.normal(0, noise))
                acc = sigmoid_accuracy(bpb, *STEP2) + rng.normal(0, noise)
                base = dict(
                    model=f"n{n:.0e}-x{mult}",
                    family="ladder",
                    n_params=n,
                    n_params_nonembed=n,
                    n_tokens=d,
                    flops=6 * n * d,
                    checkpoint_step=step,
                )
                rows += [
                    {**base, "benchmark": "hellaswag", "metric": "bpb", "value": bpb},
                    {**base, "benchmark": "hellaswag", "metric": "acc", "value": acc},
                    {**base, "benchmark": "c4_val", "metric": "loss", "value": 2.0 + 1.5 * bpb},
                ]
    return pd.DataFrame(rows)


TARGETS = pd.DataFrame(
    {
        "model": ["7B", "13B"],
        "n_params": [7e9, 1.3e10],
        "n_params_nonembed": [7e9, 1.3e10],
        "n_tokens": [4e12, 5e12],
        "flops": [6 * 7e9 * 4e12, 6 * 1.3e10 * 5e12],
    }
)
TRUE = sigmoid_accuracy(
    chinchilla_loss((TARGETS["n_params"].to_numpy(), TARGETS["n_tokens"].to_numpy()), *STEP1),
    *STEP2,
)


def test_two_step_recovers_large_models_within_a_point() -> None:
    est = TwoStepLadder(benchmark="hellaswag", n_bootstrap=20).fit(synthetic_ladder())
    assert est.step1_.ok and est.step2_.ok
    assert est.n_points_[0] == 16  # one step-1 point per run
    f = est.predict(TARGETS)
    assert [x.point for x in f] == pytest.approx(list(TRUE), abs=0.01)
    assert f[0].diagnostics["intermediate"] == "hellaswag/bpb"


@pytest.mark.parametrize("seed", [1, 2])
def test_noisy_ladder_interval_contains_truth(seed: int) -> None:
    """Both 90% intervals contain the truth.

    Each covers with probability ~0.9, so both do with probability >= 1 - 2*0.1 = 0.8 (Bonferroni;
    more, as the two share one fit). Seeds 1-3 were checked to cover both; the intervals are
    0.02-0.03 wide, so < 0.05 fails an interval inflated about twofold.
    """
    est = TwoStepLadder(benchmark="hellaswag", n_bootstrap=50).fit(
        synthetic_ladder(noise=0.01, seed=seed)
    )
    f = est.predict(TARGETS)
    assert all(abs(x.point - t) < 0.03 for x, t in zip(f, TRUE, strict=True))
    assert all(x.lower <= t <= x.upper for x, t in zip(f, TRUE, strict=True)), [
        (x.lower, x.upper) for x in f
    ]
    assert all(x.lower < x.point < x.upper and x.upper - x.lower < 0.05 for x in f)


def test_flops_variant_and_validation_loss_variant() -> None:
    obs = synthetic_ladder()
    fl = TwoStepLadder(benchmark="hellaswag", input="flops", n_bootstrap=0).fit(obs)
    vl = TwoStepLadder(
        benchmark="hellaswag",
        intermediate_benchmark="c4_val",
        intermediate_metric="loss",
        n_bootstrap=0,
    ).fit(obs)
    assert fl.step1_.param_names == ("a", "alpha", "E")
    assert vl.n_points_[1] == 16 * 18  # no (0, 1) anchor for a validation loss; 10% dropped
    for est in (fl, vl):
        f = est.predict(TARGETS)
        assert all(abs(x.point - t) < 0.05 for x, t in zip(f, TRUE, strict=True)), [
            x.point for x in f
        ]


def test_missing_bpb_names_what_is_missing() -> None:
    obs = synthetic_ladder()
    obs = obs[obs["metric"] != "bpb"]
    with pytest.raises(ValueError, match="benchmark='hellaswag' metric='bpb'"):
        TwoStepLadder(benchmark="hellaswag").fit(obs)


def test_reads_a_ladder_file_without_code_changes(tmp_path) -> None:
    from db.observations import read_observations

    path = tmp_path / "ladder.csv"
    synthetic_ladder().to_csv(path, index=False)
    est = TwoStepLadder(benchmark="hellaswag", n_bootstrap=0).fit(read_observations(path))
    assert est.predict(TARGETS)[0].point == pytest.approx(TRUE[0], abs=0.01)
