"""Per-choice analysis rule by rule on a three-model family small enough to work by hand.

Expected metrics are recomputed here from the log-probabilities with plain numpy; expected
correlations come from scipy's kendalltau, pearsonr and spearmanr item by item (a reference
implementation independent of the module's row-wise code); thresholds and messages are written
out in full.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from predictors.perchoice import (
    FIXED_RATIO,
    _incorrect_trend,
    _rowwise,
    _summarise,
    ccdf_auc,
    item_metrics,
    log_compute,
    perchoice_analysis,
    scaling_kind,
)

#: Model names whose alphabetical order (a, m, z) differs from their compute order (z, a, m).
MODELS = {"z": 1e6, "a": 1e7, "m": 1e8}
#: item -> (correct choice, per-choice log-probabilities for models z, a, m)
ITEMS = {
    "q0": (0, [[-3.0, -2.0, -1.0], [-2.0, -2.0, -2.0]]),
    "q1": (1, [[-3.0, -2.0, -4.0], [-1.0, -1.0, -1.0], [-5.0, -4.0, -3.0], [-4.0, -3.0, -4.0]]),
}


def family(n_tokens: float = 1e9) -> pd.DataFrame:
    rows = []
    for j, (model, n) in enumerate(MODELS.items()):
        for item, (t, lps) in ITEMS.items():
            for c, lp in enumerate(lps):
                rows.append({
                    "family": "f", "model": model, "n_params": n, "n_tokens": n_tokens,
                    "flops": np.nan, "benchmark": "b", "item": item, "choice_index": c,
                    "logprob_sum": lp[j], "is_correct": c == t,
                })  # fmt: skip
    return pd.DataFrame(rows)


def metric_series(item: str, metric: str) -> np.ndarray:
    """The metric of ``item`` for models z, a, m (compute order), by hand with numpy."""
    t, lps = ITEMS[item]
    lp = np.array(lps).T  # models x choices
    p = np.exp(lp) / np.exp(lp).sum(axis=1, keepdims=True)
    onehot = np.arange(lp.shape[1]) == t
    return {
        "log_p_vocab": lp[:, t],
        "p_vocab": np.exp(lp[:, t]),
        "p_choices": p[:, t],
        "neg_brier": -((p - onehot) ** 2).mean(axis=1),
        "acc": (lp.argmax(axis=1) == t).astype(float),
    }[metric]


def reference(y: np.ndarray, kind: str) -> float:
    x = [0.0, 1.0, 2.0]  # log10 compute is evenly spaced: 15.78, 16.78, 17.78
    if np.ptp(y) == 0:
        return math.nan
    f = {"kendall": stats.kendalltau, "pearson": stats.pearsonr, "spearman": stats.spearmanr}
    return float(f[kind](y, x)[0])


# ---------------------------------------------------------------- item_metrics


def test_item_metrics_match_numpy_on_every_item_and_model() -> None:
    met = item_metrics(family().sample(frac=1.0, random_state=3)).set_index(["model", "item"])
    for item in ITEMS:
        for metric in ("log_p_vocab", "p_vocab", "p_choices", "neg_brier", "acc"):
            got = [met.loc[(m, item), metric] for m in MODELS]
            assert got == pytest.approx(metric_series(item, metric), abs=1e-12), (item, metric)
    # incorrect mass on the vocabulary: q1 model z has exp(-3) + exp(-5) + exp(-4)
    assert met.loc[("z", "q1"), "p_incorrect_vocab"] == pytest.approx(
        math.exp(-3) + math.exp(-5) + math.exp(-4), abs=1e-15
    )
    assert met.loc[("a", "q0"), "p_incorrect_choices"] == pytest.approx(0.5, abs=1e-15)
    assert len(met) == 6


def test_accuracy_tie_is_broken_by_choice_index_not_row_order() -> None:
    # rows arrive with choice 1 first; the tie goes to choice 0, the correct one
    df = pd.DataFrame({"model": "m", "item": "q", "choice_index": [1, 0],
                       "logprob_sum": [-1.0, -1.0], "is_correct": [False, True]})  # fmt: skip
    assert item_metrics(df).iloc[0]["acc"] == 1.0


def test_item_with_a_single_choice_has_no_incorrect_mass() -> None:
    df = pd.DataFrame({"model": ["m", "m", "m"], "item": ["q", "r", "r"],
                       "choice_index": [0, 0, 1], "logprob_sum": [-2.0, -1.0, -3.0],
                       "is_correct": [True, True, False]})  # fmt: skip
    met = item_metrics(df).set_index("item")
    assert met.loc["q", "p_incorrect_vocab"] == 0.0
    assert met.loc["q", "p_choices"] == 1.0 and met.loc["q", "neg_brier"] == 0.0
    assert met.loc["r", "p_incorrect_vocab"] == pytest.approx(math.exp(-3.0), abs=1e-15)


def test_large_log_probabilities_do_not_overflow_the_softmax() -> None:
    df = pd.DataFrame({"model": "m", "item": "q", "choice_index": [0, 1],
                       "logprob_sum": [1000.0, 1000.0 - math.log(3)],
                       "is_correct": [True, False]})  # fmt: skip
    with np.errstate(over="ignore"):  # p_vocab = exp(1000) is inf, and is allowed to be
        met = item_metrics(df).iloc[0]
    assert met["p_choices"] == pytest.approx(0.75, abs=1e-12)


def test_item_metrics_refusals_name_the_problem() -> None:
    with pytest.raises(ValueError) as e:
        item_metrics(pd.DataFrame({"model": ["m"], "item": ["q"], "logprob_sum": [-1.0]}))
    assert str(e.value) == (
        "per-choice scores lack column(s) ['choice_index', 'is_correct']; "
        "have ['model', 'item', 'logprob_sum']"
    )
    df = family()
    df.loc[(df.model == "a") & (df.item == "q1"), "is_correct"] = False
    df.loc[(df.model == "m") & (df.item == "q0"), "is_correct"] = True
    with pytest.raises(ValueError) as e:
        item_metrics(df)
    assert str(e.value) == (
        "2 (model, item) groups do not have exactly one correct choice, e.g. model 'a', item 'q1'"
    )


# ---------------------------------------------------------------- log_compute, scaling_kind


def test_log_compute_uses_flops_alone_when_sizes_are_absent() -> None:
    c = log_compute(pd.DataFrame({"model": ["a", "a", "b"], "flops": [1e21, 1e21, 1e22]}))
    assert c.to_dict() == {"a": pytest.approx(21.0), "b": pytest.approx(22.0)}
    assert c.name == "log10_compute"
    # any positive compute is a compute, even below one FLOP
    c = log_compute(pd.DataFrame({"model": ["a", "b"], "flops": [0.5, 1.0]}))
    assert c.tolist() == pytest.approx([math.log10(0.5), 0.0], abs=1e-15)
    c = log_compute(pd.DataFrame({"model": ["a"], "n_params": [2.0], "n_tokens": [5.0]}))
    assert c["a"] == pytest.approx(math.log10(60.0), abs=1e-15)


def test_log_compute_refuses_zero_negative_or_missing_compute() -> None:
    models = [f"m{i}" for i in range(7)]
    flops = [0.0, -1.0, np.nan, 1e20, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError) as e:
        log_compute(pd.DataFrame({"model": models, "flops": flops}))
    assert str(e.value) == (
        "no compute for model(s) ['m0', 'm1', 'm2', 'm4', 'm5']: give flops or n_params and n_tokens"
    )


def test_scaling_kind_boundary_is_the_fixed_ratio() -> None:
    def kind(n_params: list[float], n_tokens: list[float]) -> str:
        return scaling_kind(pd.DataFrame({"model": ["a", "b"], "n_params": n_params,
                                          "n_tokens": n_tokens}))  # fmt: skip

    assert FIXED_RATIO == 1.05
    assert kind([1.0, 1.05], [1.0, 1.0]) == "N"
    assert kind([1.0, 1.04], [1.0, 1.0]) == "none"
    assert kind([1.0, 1.0], [100.0, 105.0]) == "D"
    assert kind([1.0, 2.0], [1.0, 2.0]) == "N+D"
    assert kind([0.0, 2.0], [1.0, 1.0]) == "none"  # a zero size is not a scale
    assert kind([np.nan, 2.0], [1.0, 1.0]) == "none"  # one known size does not vary
    assert scaling_kind(pd.DataFrame({"model": ["a", "b"], "n_tokens": [1.0, 3.0]})) == "D"
    # the same model repeated counts once
    one = pd.DataFrame({"model": ["a", "a"], "n_params": [1.0, 2.0], "n_tokens": [1.0, 1.0]})
    assert scaling_kind(one) == "none"


# ---------------------------------------------------------------- correlations and AUC


def test_rowwise_matches_scipy() -> None:
    values = np.array([[3.0, 1.0, 2.0, 5.0], [1.0, 1.0, 2.0, 0.5]])
    x = np.array([0.1, 0.2, 0.4, 0.8])
    got = _rowwise(values, x)
    for i, row in enumerate(values):
        assert got["kendall"][i] == pytest.approx(stats.kendalltau(row, x)[0], abs=1e-12)
        assert got["pearson"][i] == pytest.approx(stats.pearsonr(row, x)[0], abs=1e-12)
        assert got["spearman"][i] == pytest.approx(stats.spearmanr(row, x)[0], abs=1e-12)


def test_ccdf_auc_exact_trapezoid_on_the_default_grid() -> None:
    # one value 0.0: survival 1 on [-1, -0.001], 0 from t = 0 (strictly greater), so the
    # trapezoid over the 2001-point grid is 0.999 + 0.001 / 2
    assert ccdf_auc(np.array([0.0])) == pytest.approx(0.9995, abs=1e-12)
    # a coarse grid of 3 points (-1, 0, 1): values 0.0 and 0.5 give survival 1, 0.5, 0
    assert ccdf_auc(np.array([0.0, 0.5]), grid=3) == pytest.approx(1.0, abs=1e-12)
    assert ccdf_auc(np.array([0.0, np.nan]), grid=3) == pytest.approx(0.25, abs=1e-12)
    assert math.isnan(ccdf_auc(np.array([])))
    # a missing value arriving as None in an object array is NaN, not an error
    assert ccdf_auc(np.array([0.0, None], dtype=object), grid=3) == pytest.approx(0.25, abs=1e-12)


# ---------------------------------------------------------------- the whole analysis


def test_per_item_correlations_match_scipy() -> None:
    res = perchoice_analysis(family(), family="f", benchmark="b")
    assert (res.family, res.benchmark, res.scaling) == ("f", "b", "N")
    assert (res.n_models, res.n_items) == (3, 2)
    pi = res.per_item.set_index(["metric", "item"])
    assert len(pi) == 10 and res.per_item.index.tolist() == list(range(10))
    for metric in ("log_p_vocab", "p_vocab", "p_choices", "neg_brier", "acc"):
        for item in ITEMS:
            y = metric_series(item, metric)
            for kind in ("kendall", "pearson", "spearman"):
                want = reference(y, kind)
                got = pi.loc[(metric, item), kind]
                if math.isnan(want):
                    assert math.isnan(got), (metric, item, kind)
                else:
                    assert got == pytest.approx(want, abs=1e-12), (metric, item, kind)


def test_summary_table_means_medians_nan_fraction_and_auc() -> None:
    res = perchoice_analysis(family())
    s = res.summary_table.set_index(["metric", "correlation"])
    assert len(s) == 15
    # log p_vocab: q0 rises perfectly (1), q1 is flat (NaN)
    row = s.loc[("log_p_vocab", "kendall")]
    assert (row["mean"], row["median"], row["nan_fraction"]) == (1.0, 1.0, 0.5)
    assert row["auc"] == pytest.approx(ccdf_auc(np.array([1.0, np.nan])), abs=1e-15)
    # p_choices, Kendall: q0 rises (1); q1's wrong mass is e^-2+e^-4+e^-3 = 0.20, e^-1+e^-3+e^-2
    # = 0.55, e^-3+e^-2+e^-3 = 0.23, so p_choices falls, rises: ranks 3, 1, 2 give tau = -1/3
    row = s.loc[("p_choices", "kendall")]
    assert row["mean"] == pytest.approx(1 / 3, abs=1e-12)
    assert row["median"] == pytest.approx(1 / 3, abs=1e-12)
    assert row["nan_fraction"] == 0.0
    # acc: q0 is 0, 1, 1 (tau_b = 2 / sqrt(6)), q1 always right (NaN)
    row = s.loc[("acc", "kendall")]
    assert row["mean"] == pytest.approx(2 / math.sqrt(6), abs=1e-12)
    assert row["nan_fraction"] == 0.5
    # AUC = (1 - nan_fraction) * (mean + 1): 4/3 for p_choices and Brier (same ranks, so a tie
    # kept in METRICS order), 1 for log p and p, (1 + 2 / sqrt(6)) / 2 for accuracy
    assert res.ordering() == ["p_choices", "neg_brier", "log_p_vocab", "p_vocab", "acc"]
    assert res.ordering("kendall", "mean") == [
        "log_p_vocab", "p_vocab", "acc", "p_choices", "neg_brier"
    ]  # fmt: skip
    # Pearson splits the ties: Brier 0.471 > p_choices 0.448, p_vocab 0.966 < log p 1
    assert res.ordering("pearson") == ["neg_brier", "p_choices", "log_p_vocab", "p_vocab", "acc"]


def test_median_differs_from_mean_with_three_items() -> None:
    df = family()
    extra = df[df.item == "q0"].assign(item="q2")
    extra.loc[extra.choice_index == 0, "logprob_sum"] = [-1.0, -3.0, -2.0]  # falls: tau -1/3
    res = perchoice_analysis(pd.concat([df, extra], ignore_index=True))
    row = res.summary_table.set_index(["metric", "correlation"]).loc[("log_p_vocab", "kendall")]
    # q0: 1, q1: NaN, q2: -1/3
    assert row["mean"] == pytest.approx(1 / 3, abs=1e-12)
    assert row["nan_fraction"] == pytest.approx(1 / 3, abs=1e-12)
    assert res.n_items == 3
    row = res.summary_table.set_index(["metric", "correlation"]).loc[("p_choices", "kendall")]
    # q0: 1, q1: -1/3, q2: p_choices sigmoid(1), sigmoid(-1), sigmoid(0): tau -1/3
    assert row["median"] == pytest.approx(-1 / 3, abs=1e-12)
    assert row["mean"] == pytest.approx(1 / 9, abs=1e-12)


def test_mass_by_model_is_the_item_mean_in_compute_order() -> None:
    res = perchoice_analysis(family())
    mass = res.mass_by_model
    assert mass["model"].tolist() == ["z", "a", "m"]
    assert mass["log10_compute"].to_numpy() == pytest.approx(
        np.log10([6e15, 6e16, 6e17]), abs=1e-12
    )
    for j in range(3):
        for metric in ("p_vocab", "p_choices", "acc"):
            want = np.mean([metric_series(i, metric)[j] for i in ITEMS])
            assert mass[metric].iloc[j] == pytest.approx(want, abs=1e-12), (j, metric)
    # incorrect vocabulary mass of model a: q0 exp(-2); q1 exp(-2) + exp(-4) + exp(-3)
    want = (math.exp(-2) + math.exp(-2) + math.exp(-4) + math.exp(-3)) / 2
    assert mass["p_incorrect_vocab"].iloc[1] == pytest.approx(want, abs=1e-15)
    want = 1 - np.mean([metric_series(i, "p_choices")[2] for i in ITEMS])
    assert mass["p_incorrect_choices"].iloc[2] == pytest.approx(want, abs=1e-12)


def test_incorrect_trend_spearman_per_wrong_choice() -> None:
    trend = perchoice_analysis(family()).incorrect_trend
    # wrong choices: q0/1 flat (NaN), q1/0 -3,-2,-4 (rho -1/2), q1/2 rising (1), q1/3 -4,-3,-4 (0)
    assert trend["n_incorrect_choices"] == 4
    assert trend["fraction_rising"] == pytest.approx(1 / 3, abs=1e-15)
    assert trend["median_spearman"] == pytest.approx(0.0, abs=1e-12)
    assert trend["meaning"] == (
        "share of incorrect choices whose p_vocab rises with compute; mass that "
        "rises on wrong answers is what makes p_choices, Brier and accuracy less predictable"
    )


def test_incorrect_trend_takes_the_last_of_repeated_scores() -> None:
    df = family()
    # a stale copy of q1/0 for model m, listed first: the last run (-4) must win, not the mean
    stale = df[(df.model == "m") & (df.item == "q1") & (df.choice_index == 0)].assign(
        logprob_sum=10.0
    )
    logc = log_compute(df)
    trend = _incorrect_trend(pd.concat([stale, df], ignore_index=True), logc)
    assert trend["fraction_rising"] == pytest.approx(1 / 3, abs=1e-15)
    assert trend["median_spearman"] == pytest.approx(0.0, abs=1e-12)


def test_summary_of_no_items_is_nan_without_dividing_by_zero() -> None:
    empty = pd.DataFrame({"item": [], "metric": [], "kendall": [], "pearson": [], "spearman": []})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = _summarise(empty)
    assert len(s) == 15
    assert s[["mean", "median", "nan_fraction", "auc"]].isna().all().all()


def test_incorrect_trend_with_no_incorrect_choices_or_all_flat() -> None:
    df = family()
    only = df[df.is_correct]
    with warnings.catch_warnings():
        # p_choices, Brier and accuracy are constant with one choice: their summaries are NaN,
        # given without numpy's "mean of empty slice" warnings
        warnings.simplefilter("error", RuntimeWarning)
        res = perchoice_analysis(only)
        flat = df[(df.item == "q0")]
        trend = perchoice_analysis(flat).incorrect_trend
    assert res.incorrect_trend == {"n_incorrect_choices": 0}
    row = res.summary_table.set_index(["metric", "correlation"]).loc[("acc", "spearman")]
    assert math.isnan(row["mean"]) and math.isnan(row["median"]) and row["nan_fraction"] == 1.0
    assert trend["n_incorrect_choices"] == 1
    assert math.isnan(trend["fraction_rising"]) and math.isnan(trend["median_spearman"])


def test_repeated_rows_keep_the_last_and_are_noted() -> None:
    df = family()
    stale = df[(df.model == "m") & (df.item == "q0")].assign(logprob_sum=-9.0)
    res = perchoice_analysis(pd.concat([stale, df], ignore_index=True))
    assert res.notes[0] == "2 repeated per-choice rows (several runs): kept the last"
    clean = perchoice_analysis(df)
    pd.testing.assert_frame_equal(res.per_item, clean.per_item)
    assert clean.notes == [
        "NaN correlations come from metrics constant across the family (often accuracy): "
        "counted in nan_fraction, left out of mean and median, and counted as exceeding no "
        "threshold in the AUC"
    ]


def test_two_distinct_computes_among_three_models_are_enough() -> None:
    df = family().assign(flops=lambda d: d.model.map({"z": 1e20, "a": 1e20, "m": 1e21}))
    res = perchoice_analysis(df)
    # log p of q0's correct choice: -3, -2 at the lower compute, -1 at the higher one;
    # pairs: z-a tied in x, z-m and a-m concordant: tau_b = 2 / sqrt(3 * 2)
    got = res.per_item.set_index(["metric", "item"]).loc[("log_p_vocab", "q0"), "kendall"]
    assert got == pytest.approx(2 / math.sqrt(6), abs=1e-12)


def test_missing_items_are_counted_in_the_notes() -> None:
    df = family()
    res = perchoice_analysis(df[~((df.model == "a") & (df.item == "q1"))])
    assert res.notes[0] == "1 items not scored for every model: left out"
    assert res.n_items == 1 and len(res.notes) == 2
    assert set(res.per_item["item"]) == {"q0"}
    # q1's incorrect choices lack model a too: only q0's one incorrect choice is followed
    assert res.incorrect_trend["n_incorrect_choices"] == 1


def test_analysis_refusals() -> None:
    df = family()
    with pytest.raises(ValueError) as e:
        perchoice_analysis(df, family="nope")
    assert str(e.value) == "no per-choice scores for family='nope', benchmark=None"
    with pytest.raises(ValueError) as e:
        perchoice_analysis(df, benchmark="nope")
    assert str(e.value) == "no per-choice scores for family=None, benchmark='nope'"
    two = pd.concat([df, df.assign(benchmark="a")])
    with pytest.raises(ValueError) as e:
        perchoice_analysis(two)
    assert str(e.value) == "choose one benchmark; these scores hold ['a', 'b']"
    # the filter picks one benchmark out of two
    assert perchoice_analysis(two, benchmark="a").benchmark == "a"
    d_family = df.assign(family="g", n_params=1e6, n_tokens=df.n_params * 1e3)
    with pytest.raises(ValueError) as e:
        perchoice_analysis(pd.concat([df, d_family.assign(model=d_family.model + "2")]))
    assert str(e.value) == (
        "refusing to pool families that scale different things (N = parameters, D = tokens): "
        "f: N, g: D"
    )
    with pytest.raises(ValueError) as e:
        perchoice_analysis(df[df.model != "m"])
    assert str(e.value) == "need at least 3 models to correlate with compute, got 2"
    with pytest.raises(ValueError) as e:
        perchoice_analysis(df.assign(flops=1e20))
    assert str(e.value) == "every model has the same compute: nothing to correlate with"


def test_families_of_the_same_kind_pool_and_columns_are_optional() -> None:
    df = family()
    other = df.assign(family="g", model=df.model + "2", n_params=df.n_params * 2)
    res = perchoice_analysis(pd.concat([df, other], ignore_index=True))
    assert res.family == "f,g" and res.n_models == 6 and res.scaling == "N"
    bare = df.drop(columns=["family", "benchmark"])
    res = perchoice_analysis(bare)
    assert (res.family, res.benchmark, res.n_items) == ("?", "?", 2)


def test_to_dict_and_summary_text() -> None:
    res = perchoice_analysis(family())
    out = res.to_dict()
    assert (out["family"], out["benchmark"], out["scaling"]) == ("f", "b", "N")
    assert (out["n_models"], out["n_items"]) == (3, 2)
    assert out["brier"] == "mean over choices of (p_choices_i - 1[i = correct])^2, negated"
    assert out["ordering_kendall_auc"] == res.ordering()
    assert len(out["summary"]) == 15 and len(out["per_item"]) == 10
    assert [r["model"] for r in out["mass_by_model"]] == ["z", "a", "m"]
    assert out["incorrect_choices"]["n_incorrect_choices"] == 4
    assert out["notes"] == res.notes
    text = res.summary().splitlines()
    assert text[0] == "Per-choice metric predictability: f (N-scaling, 3 models) on b, 2 items"
    assert text[1] == "metric       corr         mean  median    nan    auc"
    assert text[2] == "log_p_vocab  kendall     1.000   1.000   0.50  1.000"
    assert text[-2] == "order (Kendall, AUC): " + " > ".join(res.ordering())
    assert text[-1] == "  [1] " + res.notes[0]
    assert len(text) == 2 + 15 + 1 + 1
