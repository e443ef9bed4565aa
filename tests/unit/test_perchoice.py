"""Per-choice metric analysis (METHODS P6): formulas on hand cases, ordering on a known family."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.perchoice import (
    ccdf_auc,
    item_metrics,
    log_compute,
    perchoice_analysis,
    scaling_kind,
)


def synthetic_family(seed: int = 0, n_models: int = 8, n_items: int = 150, k: int = 4,
                     scale: str = "N") -> pd.DataFrame:  # fmt: skip
    """A family whose correct-choice log-prob rises with compute faster than incorrect ones'.

    Every choice's log-probability is linear in standardised log-compute plus noise; the correct
    choice's slope is steeper, incorrect choices' slopes are positive too (their mass also rises).
    """
    rng = np.random.default_rng(seed)
    if scale == "N":
        n_params, n_tokens = np.geomspace(1e7, 1e9, n_models), np.full(n_models, 2e10)
    else:
        n_params, n_tokens = np.full(n_models, 1e8), np.geomspace(1e9, 1e11, n_models)
    logc = np.log10(6 * n_params * n_tokens)
    x = (logc - logc.mean()) / logc.std()
    rows = []
    for i in range(n_items):
        t = int(rng.integers(k))
        base = rng.normal(-6, 1.5, size=k)
        slope = rng.normal(0.6, 0.2, size=k)
        slope[t] = rng.uniform(0.8, 1.6)
        for m in range(n_models):
            lp = np.minimum(base + slope * x[m] + rng.normal(0, 0.35, size=k), -0.01)
            for c in range(k):
                rows.append({
                    "family": f"synth-{scale}", "model": f"{scale}{m}", "n_params": n_params[m],
                    "n_tokens": n_tokens[m], "flops": np.nan, "benchmark": "toy",
                    "item": f"q{i}", "choice_index": c, "logprob_sum": lp[c], "n_chars": 5,
                    "n_bytes": 5, "is_correct": c == t,
                })  # fmt: skip
    return pd.DataFrame(rows)


def _one_item(logprobs: list[float], correct: int, model: str = "m") -> pd.DataFrame:
    return pd.DataFrame(
        {"model": model, "item": "q", "choice_index": range(len(logprobs)),
         "logprob_sum": logprobs, "is_correct": [i == correct for i in range(len(logprobs))]}
    )  # fmt: skip


def test_item_metrics_hand_computed() -> None:
    lp = [math.log(0.2), math.log(0.1), math.log(0.1)]
    row = item_metrics(_one_item(lp, correct=0)).iloc[0]
    assert row["log_p_vocab"] == pytest.approx(math.log(0.2))
    assert row["p_vocab"] == pytest.approx(0.2)
    # softmax over the three choices: 0.5, 0.25, 0.25
    assert row["p_choices"] == pytest.approx(0.5)
    # Brier is the MEAN over choices: ((0.5-1)^2 + 0.25^2 + 0.25^2) / 3
    assert row["neg_brier"] == pytest.approx(-(0.25 + 0.0625 + 0.0625) / 3)
    assert row["acc"] == 1.0
    assert row["p_incorrect_vocab"] == pytest.approx(0.2)
    assert row["p_incorrect_choices"] == pytest.approx(0.5)


def test_accuracy_takes_the_first_of_tied_choices() -> None:
    assert item_metrics(_one_item([-1.0, -1.0], correct=0)).iloc[0]["acc"] == 1.0
    assert item_metrics(_one_item([-1.0, -1.0], correct=1)).iloc[0]["acc"] == 0.0


def test_items_without_exactly_one_correct_choice_are_rejected() -> None:
    bad = _one_item([-1.0, -2.0], correct=0).assign(is_correct=True)
    with pytest.raises(ValueError, match="exactly one correct"):
        item_metrics(bad)


def test_compute_prefers_flops_then_six_n_d() -> None:
    df = pd.DataFrame({"model": ["a", "b"], "n_params": [1e6, 1e6], "n_tokens": [1e9, 1e9],
                       "flops": [1e20, np.nan]})  # fmt: skip
    c = log_compute(df)
    assert c["a"] == pytest.approx(20.0)
    assert c["b"] == pytest.approx(math.log10(6e15))
    with pytest.raises(ValueError, match="no compute"):
        log_compute(df.assign(n_tokens=np.nan, flops=np.nan))


def test_ccdf_auc_is_mean_plus_one_and_counts_nan_as_no_signal() -> None:
    v = np.array([-0.5, 0.0, 0.5, 1.0])
    assert ccdf_auc(v) == pytest.approx(v.mean() + 1, abs=2e-3)
    with_nan = np.append(v, [np.nan] * 4)
    assert ccdf_auc(with_nan) == pytest.approx(0.5 * (v.mean() + 1), abs=2e-3)


def test_scaling_kind_is_detected_from_the_data() -> None:
    assert scaling_kind(synthetic_family(n_items=2, scale="N")) == "N"
    assert scaling_kind(synthetic_family(n_items=2, scale="D")) == "D"


def test_known_monotone_family_gives_the_expected_predictability_order() -> None:
    res = perchoice_analysis(synthetic_family(seed=0), family="synth-N", benchmark="toy")
    assert res.n_models == 8 and res.n_items == 150 and res.scaling == "N"
    s = res.summary_table.set_index(["metric", "correlation"])
    for corr in ("kendall", "spearman", "pearson"):
        auc = s.xs(corr, level="correlation")["auc"]
        assert auc["log_p_vocab"] >= auc["p_vocab"] - 1e-12
        assert auc["p_vocab"] > auc["p_choices"] > auc["neg_brier"] > auc["acc"]
    # exp() is monotone: rank correlations of log p and p are identical, Pearson is not
    assert s.loc[("log_p_vocab", "kendall"), "mean"] == pytest.approx(
        s.loc[("p_vocab", "kendall"), "mean"]
    )
    assert s.loc[("log_p_vocab", "pearson"), "mean"] > s.loc[("p_vocab", "pearson"), "mean"]
    # accuracy is often constant across the family: those items are NaN
    assert s.loc[("acc", "kendall"), "nan_fraction"] > 0.2
    assert s.loc[("log_p_vocab", "kendall"), "nan_fraction"] == 0.0
    assert res.ordering()[:3] == ["log_p_vocab", "p_vocab", "p_choices"]
    # incorrect choices gain probability with compute too (they were built to)
    assert res.incorrect_trend["fraction_rising"] > 0.8
    mass = res.mass_by_model
    assert mass["log10_compute"].is_monotonic_increasing
    assert mass["p_vocab"].iloc[-1] > mass["p_vocab"].iloc[0]
    out = res.to_dict()
    assert "mean over choices" in out["brier"] and len(out["per_item"]) == 150 * 5


def test_families_scaling_n_and_d_are_never_pooled() -> None:
    both = pd.concat(
        [synthetic_family(n_items=5, scale="N"), synthetic_family(n_items=5, scale="D")]
    )
    with pytest.raises(ValueError, match="refusing to pool"):
        perchoice_analysis(both, benchmark="toy")
    # each alone is fine
    assert perchoice_analysis(both, family="synth-D").scaling == "D"


def test_items_missing_for_some_models_are_left_out_and_noted() -> None:
    df = synthetic_family(n_items=10)
    df = df[~((df.item == "q3") & (df.model == "N2"))]
    res = perchoice_analysis(df)
    assert res.n_items == 9
    assert any("not scored for every model" in n for n in res.notes)


def test_too_few_models_is_an_error() -> None:
    df = synthetic_family(n_models=2, n_items=3)
    with pytest.raises(ValueError, match="at least 3 models"):
        perchoice_analysis(df)


def test_cli_reads_a_choice_scores_file(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from service.cli import app

    path = tmp_path / "choices.csv"
    synthetic_family(n_items=30).to_csv(path, index=False)
    runner = CliRunner()
    res = runner.invoke(app, ["perchoice", "--file", str(path), "--benchmark", "toy", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_items"] == 30 and out["scaling"] == "N"
    assert {r["metric"] for r in out["summary"]} == {
        "log_p_vocab", "p_vocab", "p_choices", "neg_brier", "acc"
    }  # fmt: skip
    text = runner.invoke(app, ["perchoice", "--file", str(path)])
    assert text.exit_code == 0 and "order (Kendall, AUC)" in text.stdout
    pooled = tmp_path / "pooled.csv"
    pd.concat([synthetic_family(n_items=3), synthetic_family(n_items=3, scale="D")]).to_csv(
        pooled, index=False
    )
    bad = runner.invoke(app, ["perchoice", "--file", str(pooled), "--json"])
    assert bad.exit_code == 2 and "refusing to pool" in bad.output
