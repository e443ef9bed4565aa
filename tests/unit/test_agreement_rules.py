"""Agreement tester rules (issue 18): small exact cases that pin each branch of agreement.py.

Every expected number is counted by hand or from the closed form in the docstring of the function
under test; the fits use 12 models and few repeats so the whole file runs in about a second.
"""

from __future__ import annotations

import statistics
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors.agreement import (
    MAX_SIZES,
    AgreementTester,
    AgreementWarning,
    aggregate_reference,
    prepare_scores,
    win_rates,
    z_scores,
)

Q = np.arange(12.0)
#: The class docstring's catalogue: tau with the reference is 1, 1, 1, 1 - 2/66 and -1.
COLS = {"R1": Q, "R2": Q + 0.5, "good": Q**2, "bad": -Q, "swap": np.r_[Q[:10], 11, 10]}


def _long(cols: dict[str, np.ndarray], n: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": f"m{i}", "benchmark": b, "score": float(v[i])}
            for b, v in cols.items()
            for i in range(n)
        ]
    )


def _fit(scores: pd.DataFrame, **kw: Any) -> AgreementTester:
    params: dict[str, Any] = {"reference_benchmarks": ["R1", "R2"], "sizes": (5,), "n_exps": 4}
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgreementWarning)
        return AgreementTester(**params).fit(scores)


# ----------------------------------------------------------------------------- prepare_scores


def test_prepare_accepts_scenario_and_drops_unparseable_scores() -> None:
    df = pd.DataFrame(
        {"scenario": ["A", "A", "A"], "model": ["a", "b", "c"], "score": ["1.5", "x", "3"]}
    )
    matrix, flipped, n_dup = prepare_scores(df)
    assert list(matrix.columns) == ["A"]
    assert matrix["A"].to_dict() == {"a": 1.5, "c": 3.0}  # "x" is not a score: b is dropped
    assert flipped == [] and n_dup == 0


def test_prepare_names_the_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"\['model'\]"):
        prepare_scores(pd.DataFrame({"benchmark": ["A"], "score": [1.0]}))


def test_prepare_flips_each_low_benchmark_on_its_own_range() -> None:
    df = pd.DataFrame(
        {
            "benchmark": ["z", "z", "z", "y", "y", "k", "k", "h", "h"],
            "model": ["a", "b", "c", "a", "b", "a", "b", "a", "b"],
            "score": [2.0, 4.0, 6.0, 7.0, 7.0, 3.0, 9.0, 1.0, 5.0],
            "higher_is_better": [False, False, False, False, False, None, None, True, True],
        }
    )
    matrix, flipped, n_dup = prepare_scores(df)
    assert flipped == ["y", "z"]  # sorted; k's missing flag means higher-is-better
    # z: 1 - (s - 2) / 4; y has max == min, so every model gets 1
    assert matrix["z"].to_dict() == {"a": 1.0, "b": 0.5, "c": 0.0}
    ab = matrix.loc[["a", "b"]]
    assert ab["y"].tolist() == [1.0, 1.0]
    assert ab["k"].tolist() == [3.0, 9.0]
    assert ab["h"].tolist() == [1.0, 5.0]
    assert n_dup == 0


def test_prepare_counts_duplicates_and_keeps_the_maximum() -> None:
    df = pd.DataFrame(
        {"benchmark": [1, 1, 1, 1], "model": ["a", "a", "a", "b"], "score": [1.0, 4.0, 2.0, 0.0]}
    )
    matrix, _, n_dup = prepare_scores(df)
    assert n_dup == 2 and matrix.loc["a", "1"] == 4.0  # int column name becomes the string "1"


# ----------------------------------------------------------------------------- win rates, z


def test_win_rate_of_a_lone_model_is_undefined() -> None:
    m = pd.DataFrame({"A": [2.0, np.nan, np.nan], "B": [1.0, 3.0, 2.0]}, index=["a", "b", "c"])
    wr = win_rates(m)
    assert np.isnan(wr.loc["a", "A"])  # N_A - 1 = 0 opponents
    assert wr["B"].to_dict() == {"a": 0.0, "b": 1.0, "c": 0.5}


def test_aggregate_default_threshold_is_a_third_of_the_references() -> None:
    # six references: a model needs max(1, 6 // 3) = 2 of them; "b" has one and is dropped
    cols = {f"B{j}": [float(j), np.nan if j else 5.0, float(-j)] for j in range(6)}
    m = pd.DataFrame(cols, index=["a", "b", "c"])
    agg = aggregate_reference(m, list(cols))
    assert agg.name == "aggregate"
    # without b, a and c: B0 ties (both 0), B1..B5 a beats c
    assert agg.to_dict() == pytest.approx({"a": 5 / 6, "c": 0.0})
    assert aggregate_reference(m, list(cols), min_appearances=1)["b"] == pytest.approx(1.0)


def test_aggregate_needs_a_reference() -> None:
    with pytest.raises(ValueError, match="at least one"):
        aggregate_reference(pd.DataFrame({"A": [1.0]}), [])


def test_z_scores_closed_form_and_degenerate_cases() -> None:
    s = pd.Series([1.0, 2.0, 6.0, np.nan], index=list("abcd"))
    mean, sd = 3.0, statistics.stdev([1.0, 2.0, 6.0])  # sample s.d. = sqrt(7)
    z = z_scores(s)
    assert z.name == "z"
    assert z[["a", "b", "c"]].tolist() == pytest.approx([(v - mean) / sd for v in (1, 2, 6)])
    assert np.isnan(z["d"])
    for flat in ([2.0, 2.0, 2.0], [1.0, np.nan]):  # s.d. 0; a single value
        out = z_scores(pd.Series(flat))
        assert out.isna().all() and out.name == "z" and len(out) == len(flat)


# ----------------------------------------------------------------------------- the tester


def test_table_agreements_z_and_membership() -> None:
    t = _fit(_long(COLS))
    tab = t.table_
    expected = {"R1": 1.0, "R2": 1.0, "good": 1.0, "swap": 1 - 2 / 66, "bad": -1.0}
    assert list(tab.index) == ["R1", "R2", "good", "swap", "bad"]  # sorted by agreement
    assert tab["agreement"].to_dict() == pytest.approx(expected)
    vals = list(expected.values())
    mu, sd = statistics.mean(vals), statistics.stdev(vals)
    assert tab["z"].to_dict() == pytest.approx({k: (v - mu) / sd for k, v in expected.items()})
    assert tab["in_reference"].to_dict() == {
        "R1": True, "R2": True, "good": False, "swap": False, "bad": False
    }  # fmt: skip
    assert (tab["n_shared"] == 12).all()
    assert {"random_5_mean", "random_5_sd", "adjacent_5_mean", "adjacent_5_sd", "z_5"} <= set(
        tab.columns
    )
    # a perfect or a reversed ranking has the same tau on every subset
    assert tab.loc["bad", "random_5_mean"] == -1.0 and tab.loc["bad", "random_5_sd"] == 0.0
    assert tab.loc["good", "adjacent_5_mean"] == 1.0
    assert t.n_aggregate_models_ == 12 and t.reference_ == ["R1", "R2"]
    res = t.results_
    assert sorted(set(zip(res["strategy"], res["size"], strict=True))) == [
        ("adjacent", 5), ("all", 0), ("random", 5)
    ]  # fmt: skip
    assert len(res) == 15  # 5 benchmarks x (random 5, adjacent 5, all)


def test_differences_and_to_dict_report_flips_shrinks_and_duplicates() -> None:
    scores = _long(COLS)
    scores["higher_is_better"] = scores["benchmark"] != "bad"  # flipping bad makes it agree
    dup = scores.iloc[[0]].assign(score=-5.0)
    t = _fit(pd.concat([scores, dup]), sizes=(20, 5), seed=7)
    assert t.flipped_ == ["bad"] and t.n_duplicates_ == 1
    assert t.table_.loc["bad", "agreement"] == pytest.approx(1.0)
    diffs = t.differences_
    assert diffs[0] == (
        "bad is lower-is-better: flipped, agreement +1.000; the reference package never flips "
        "it and would report -1.000 (Kendall) with the same models"
    )
    # size 20 > 12 shared models: every benchmark's random and adjacent cell shrinks
    assert diffs[1].startswith("10 (benchmark, size) cells asked for more models than shared")
    assert diffs[1].endswith("skips them): R1@20, R2@20, bad@20, good@20, swap@20")
    assert diffs[2] == (
        "adjacent windows are seeded (seed=7, per pair and size); the reference "
        "package draws them unseeded"
    )
    assert diffs[3] == "1 duplicate (benchmark, model) rows: kept the best"
    out = t.to_dict()
    assert out["sizes"] == [5, 20] and out["min_appearances"] == 1 and out["seed"] == 7
    assert out["n_aggregate_models"] == 12 and out["lower_is_better_flipped"] == ["bad"]
    assert out["method"] == "kendall" and out["alpha"] == 0.05 and out["n_exps"] == 4
    assert out["reference_benchmarks"] == ["R1", "R2"]
    assert [r["benchmark"] for r in out["benchmarks"]][:1] == ["R1"]
    assert out["differences_from_reference_package"] == diffs
    assert len(out["results"]) == 5 * 5  # 5 benchmarks x (2 sizes x 2 strategies + all)
    # the shrunk size-20 cells are left out of the spread: only size 5 remains
    spread = t.spread_by_size()
    assert sorted(zip(spread["strategy"], spread["size"], strict=True)) == [
        ("adjacent", 5), ("random", 5)
    ]  # fmt: skip
    assert spread["n_benchmarks"].tolist() == [5, 5]


def test_to_dict_keeps_an_explicit_min_appearances() -> None:
    t = _fit(_long(COLS), min_appearances=2)
    assert t.to_dict()["min_appearances"] == 2
    assert t.to_dict()["differences_from_reference_package"] == [
        "adjacent windows are seeded (seed=0, per pair and size); the reference "
        "package draws them unseeded"
    ]


def test_spread_by_size_averages_over_benchmarks() -> None:
    t = _fit(_long(COLS))
    res = t.results_
    spread = t.spread_by_size().set_index("strategy")
    for strategy in ("random", "adjacent"):
        cells = res[(res["strategy"] == strategy) & (res["size"] == 5)]
        assert spread.loc[strategy, "mean"] == pytest.approx(cells["mean"].mean())
        assert spread.loc[strategy, "sd"] == pytest.approx(cells["sd"].mean())
        assert spread.loc[strategy, "n_benchmarks"] == 5


def test_summary_lines() -> None:
    t = _fit(_long(COLS))
    lines = t.summary().splitlines()
    assert (
        lines[0] == "Benchmark agreement (kendall) with the aggregate of ['R1', 'R2'] (12 models)"
    )
    assert lines[1] == f"{'benchmark':40s} {'n':>4s} {'agree':>7s} {'z':>6s}  verdict"
    z_bad = t.table_.loc["bad", "z"]
    assert lines[6].startswith(f"{'bad':40s}   12  -1.000 {z_bad:6.2f}  ")
    assert lines[7] == "spread over subsets (mean over benchmarks):"
    sp = t.spread_by_size().set_index("strategy")
    r = sp.loc["random"]
    assert f"  random     5: mean {r['mean']:.3f} sd {r['sd']:.3f} (5 benchmarks)" in lines
    assert lines[-1] == f"  [1] {t.differences_[0]}"


def test_warns_once_for_benchmarks_sharing_few_models() -> None:
    cols = dict(COLS)
    scores = _long(cols)
    few = scores[~((scores["benchmark"] == "swap") & scores["model"].isin(["m0", "m1", "m2"]))]
    with pytest.warns(AgreementWarning) as rec:
        AgreementTester(reference_benchmarks=["R1", "R2"], sizes=(5,), n_exps=2).fit(few)
    msgs = [str(w.message) for w in rec if issubclass(w.category, AgreementWarning)]
    assert msgs == ["1 benchmark(s) share fewer than 10 models with the aggregate: ['swap']"]
    # warn_shared=9: 9 shared models are enough, nothing is said
    with warnings.catch_warnings():
        warnings.simplefilter("error", AgreementWarning)
        AgreementTester(reference_benchmarks=["R1", "R2"], sizes=(5,), n_exps=2, warn_shared=9).fit(
            few
        )


def test_a_benchmark_named_aggregate_is_refused() -> None:
    scores = _long({"R1": Q, "aggregate": Q})
    with pytest.raises(ValueError, match=r"^a benchmark is named 'aggregate'; rename it$"):
        AgreementTester(reference_benchmarks=["R1"], sizes=(5,), n_exps=2).fit(scores)


@pytest.mark.parametrize("bad", [0, -2, True, 2.5])
def test_sizes_must_be_positive_integers(bad: Any) -> None:
    t = AgreementTester(reference_benchmarks=["R1", "R2"], sizes=(5, bad), n_exps=2)
    with pytest.raises(ValueError, match=r"sizes must be positive integers; got \["):
        t.fit(_long(COLS))


def test_sizes_are_sorted_unique_and_capped() -> None:
    t = AgreementTester(sizes=(7, np.int64(3), 7))
    assert t._sizes() == [3, 7]
    assert AgreementTester(sizes=(1,))._sizes() == [1]
    ok = tuple(range(1, MAX_SIZES + 1))
    assert AgreementTester(sizes=(*ok, 1))._sizes() == list(ok)  # 20 distinct sizes
    with pytest.raises(ValueError, match=f"at most {MAX_SIZES} sizes; got {MAX_SIZES + 1}"):
        AgreementTester(sizes=(*ok, MAX_SIZES + 1))._sizes()


def test_options_pass_every_parameter_to_the_engine() -> None:
    t = AgreementTester(n_exps=3, seed=9, method="pearson", alpha=0.1, min_shared=4, warn_shared=8)
    assert t._options() == {
        "method": "pearson", "n_exps": 3, "seed": 9, "alpha": 0.1, "min_shared": 4,
        "warn_shared": 8,
    }  # fmt: skip


# ----------------------------------------------------------------------------- second round


def test_aggregate_errors_say_exactly_what_is_wrong() -> None:
    m = pd.DataFrame({"B1": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(
        ValueError, match=r"^reference benchmark\(s\) \['Nope'\] not in the scores; have \['B1'\]$"
    ):
        aggregate_reference(m, ["B1", "Nope"])
    with pytest.raises(ValueError, match=r"^the aggregate needs at least one reference benchmark$"):
        aggregate_reference(m, [])


def test_aggregate_default_threshold_rounds_down() -> None:
    # four references: max(1, 4 // 3) = 1 appearance suffices, so "b" (one score) stays
    cols = {f"B{j}": [float(j), np.nan if j else 9.0, float(-j)] for j in range(4)}
    agg = aggregate_reference(pd.DataFrame(cols, index=["a", "b", "c"]), list(cols))
    # B0: b beats a and c, which tie at 0; B1..B3: a beats c (b absent)
    assert agg.to_dict() == pytest.approx({"a": 3 / 4, "b": 1.0, "c": 0.0})


def test_z_scores_with_unit_sd_and_two_values() -> None:
    z = z_scores(pd.Series([0.0, 1.0, 2.0]))  # sample s.d. exactly 1
    assert z.tolist() == [-1.0, 0.0, 1.0]
    two = z_scores(pd.Series([1.0, 3.0]))  # mean 2, s.d. sqrt(2)
    assert two.tolist() == pytest.approx([-(0.5**0.5), 0.5**0.5])
    flat = z_scores(pd.Series([2.0, 2.0]))
    assert flat.dtype == np.float64 and flat.isna().all()


def test_defaults_are_the_documented_ones() -> None:
    assert AgreementTester()._options() == {
        "method": "kendall", "n_exps": 100, "seed": 0, "alpha": 0.05, "min_shared": 5,
        "warn_shared": 10,
    }  # fmt: skip


def test_fit_passes_min_appearances_and_options_to_the_engine() -> None:
    scores = _long(COLS)
    scores = scores[~((scores["benchmark"] == "R2") & (scores["model"] == "m0"))]
    assert _fit(scores).n_aggregate_models_ == 12  # default: 1 of 2 references suffices
    assert _fit(scores, min_appearances=2).n_aggregate_models_ == 11
    t = _fit(_long(COLS), method="pearson")
    # the aggregate is the mean win rate i / 11, linear in i: Pearson of swap with the ranks
    ref = np.corrcoef(COLS["swap"], Q)[0, 1]
    assert t.table_.loc["swap", "agreement"] == pytest.approx(ref)
    assert t.to_dict()["method"] == "pearson"


def test_results_index_columns_and_table_cells() -> None:
    t = _fit(_long(COLS), seed=3)
    res = t.results_
    assert list(res.index) == list(range(15)) and "index" not in res.columns
    tab = t.table_
    assert list(tab.columns) == [
        "n_shared", "agreement", "in_reference", "z", "random_5_mean", "random_5_sd",
        "adjacent_5_mean", "adjacent_5_sd", "z_5", "verdict",
    ]  # fmt: skip
    for strategy in ("random", "adjacent"):
        cells = res[(res["strategy"] == strategy) & (res["size"] == 5)].set_index("benchmark")
        assert tab[f"{strategy}_5_mean"].to_dict() == pytest.approx(cells["mean"].to_dict())
        assert tab[f"{strategy}_5_sd"].to_dict() == pytest.approx(cells["sd"].to_dict())
    vals = tab["random_5_mean"]
    mu, sd = statistics.mean(vals), statistics.stdev(vals)
    assert tab["z_5"].to_dict() == pytest.approx({k: (v - mu) / sd for k, v in vals.items()})
    assert tab.loc["good", "verdict"] == "Typical agreement with the aggregate (1.00, z=+0.5)."


def test_size_one_gets_its_columns_and_is_listed() -> None:
    t = _fit(_long(COLS), sizes=(1, 5))
    assert {"random_1_mean", "z_1"} <= set(t.table_.columns)
    assert t.to_dict()["sizes"] == [1, 5]
    spread = t.spread_by_size()
    assert sorted(zip(spread["strategy"], spread["size"], strict=True)) == [
        ("adjacent", 1), ("adjacent", 5), ("random", 1), ("random", 5)
    ]  # fmt: skip
    assert spread["n_benchmarks"].tolist() == [0, 5, 0, 5]  # tau of one model is undefined


def test_flipped_benchmark_that_disagrees_and_one_that_is_refused() -> None:
    scores = _long({**COLS, "wrongdir": Q})
    few = _long({"tiny": Q}, n=3)
    scores = pd.concat([scores, few])
    scores["higher_is_better"] = ~scores["benchmark"].isin(["wrongdir", "tiny"])
    t = _fit(scores)
    assert t.table_.loc["wrongdir", "verdict"].startswith(
        "Ranks models against the aggregate (agreement -1.00) after being flipped"
    )
    assert np.isnan(t.table_.loc["tiny", "agreement"])
    flips = [d for d in t.differences_ if "lower-is-better" in d]
    assert len(flips) == 1 and flips[0].startswith("wrongdir is lower-is-better")


def test_to_dict_min_appearances_for_seven_references_and_records() -> None:
    cols = {f"R{j}": Q for j in range(1, 8)}
    t = _fit(_long({**cols, "bad": -Q}), reference_benchmarks=list(cols))
    out = t.to_dict()
    assert out["min_appearances"] == 2  # max(1, 7 // 3)
    assert out["spread_by_size"] == t.spread_by_size().to_dict(orient="records")
    assert out["benchmarks"][-1]["benchmark"] == "bad"


def test_one_warning_and_long_names_are_cut() -> None:
    name = "b" * 45
    scores = _long({"R1": Q, "R2": Q, name: Q})
    scores = scores[~((scores["benchmark"] == name) & scores["model"].isin(["m0", "m1", "m2"]))]
    with pytest.warns(AgreementWarning) as rec:
        t = AgreementTester(reference_benchmarks=["R1", "R2"], sizes=(5,), n_exps=2).fit(scores)
    assert len(rec) == 1
    row = [ln for ln in t.summary().splitlines() if ln.startswith("bb")]
    assert row == [
        f"{'b' * 40}    9   1.000 {t.table_.loc[name, 'z']:6.2f}  " + t.table_.loc[name, "verdict"]
    ]
