"""Input contracts: a stand-in size measure is used and said; a missing one is named with the
models that lack it, before any optimiser runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors.contracts import InputContract, resolve_inputs
from predictors.ladder import TwoStepLadder
from predictors.laws import chinchilla_loss, sigmoid_accuracy
from predictors.registry import METHODS
from tests.unit.test_ladder import STEP1, STEP2, TARGETS, synthetic_ladder


def nonembed_only_ladder() -> pd.DataFrame:
    """The synthetic ladder as a file that gives only ``n_params_nonembed`` (the ladder paper's
    N), with the laws written in it; total counts differ by the embeddings and are absent."""
    obs = synthetic_ladder()
    return obs.drop(columns=["n_params", "flops"])


def test_ladder_runs_on_a_file_with_only_nonembedding_parameters(tmp_path) -> None:
    from db.observations import read_observations

    path = tmp_path / "ladder.csv"
    nonembed_only_ladder().to_csv(path, index=False)
    est = TwoStepLadder(benchmark="hellaswag", n_bootstrap=0).fit(read_observations(path))
    assert est.inputs_.used == "n_params_nonembed"
    targets = TARGETS.drop(columns=["n_params", "flops"])
    fc = est.predict(targets)
    truth = sigmoid_accuracy(
        chinchilla_loss(
            (targets["n_params_nonembed"].to_numpy(), targets["n_tokens"].to_numpy()), *STEP1
        ),
        *STEP2,
    )
    # noiseless data: the same 0.01 the total-parameter file reaches (test_ladder.py)
    for f, t in zip(fc, truth, strict=True):
        assert f.point == pytest.approx(t, abs=0.01)
        assert "n_params_nonembed (non-embedding parameters) stands in" in f.notes[0]


def test_missing_size_column_is_named_with_the_models_lacking_it() -> None:
    obs = synthetic_ladder().drop(columns=["n_params", "n_params_nonembed"])
    with pytest.raises(ValueError, match=r"needs n_params \(total parameters\)") as err:
        TwoStepLadder(benchmark="hellaswag").fit(obs)
    msg = str(err.value)
    assert "n1e+09-x10" in msg and "n_params_nonembed, accepted in its place" in msg
    assert "converged" not in msg  # never the optimiser's words


def test_only_the_models_lacking_the_measure_are_listed() -> None:
    obs = synthetic_ladder().drop(columns=["n_params_nonembed"])
    obs.loc[obs["model"] == "n2e+08-x1", "n_params"] = np.nan
    with pytest.raises(ValueError, match=r"missing for \['n2e\+08-x1'\]"):
        TwoStepLadder(benchmark="hellaswag").fit(obs)


def test_targets_must_carry_the_measure_the_fit_used() -> None:
    est = TwoStepLadder(benchmark="hellaswag", n_bootstrap=0).fit(nonembed_only_ladder())
    with pytest.raises(ValueError, match=r"targets need n_params_nonembed.*\['13B', '7B'\]"):
        est.predict(TARGETS.drop(columns=["n_params_nonembed"]))


def test_missing_metric_names_what_the_benchmark_has() -> None:
    obs = synthetic_ladder()
    c = InputContract(size=("n_params",), series=(("hellaswag", "acc_norm"),))
    with pytest.raises(ValueError, match=r"metric='acc_norm'; benchmark 'hellaswag' has metric"):
        resolve_inputs(obs, c, "demo")
    c = InputContract(size=("n_params",), series=(("mmlu", "acc"),))
    with pytest.raises(ValueError, match=r"benchmarks present: \['c4_val', 'hellaswag'\]"):
        resolve_inputs(obs, c, "demo")


def test_flops_measure_reads_six_n_d_and_stands_in_from_nonembedding() -> None:
    obs = synthetic_ladder().drop(columns=["flops"])
    c = InputContract(size=("flops", "n_params_nonembed"), series=(("hellaswag", "acc"),))
    same, used = resolve_inputs(obs, c, "demo")
    assert not used.substituted and same is obs  # 6 N D counts as FLOPs: nothing rewritten
    out, used = resolve_inputs(obs.drop(columns=["n_params"]), c, "demo")
    row = out.iloc[0]
    assert used.used == "n_params_nonembed"
    assert row["flops"] == pytest.approx(6 * row["n_params_nonembed"] * row["n_tokens"], rel=1e-12)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_registered_method_declares_a_contract(method: str) -> None:
    cls = METHODS[method]
    est = cls(benchmark="b") if "benchmark" in cls._param_names() else cls()
    contract = est.input_contract()
    assert contract.size and contract.series
    assert ("b", est.metric) in contract.series
