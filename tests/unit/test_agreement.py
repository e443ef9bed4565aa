"""Benchmark agreement testing (METHODS P5): each formula pinned on hand-computed cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr

from predictors.agreement import (
    AgreementTester,
    AgreementWarning,
    aggregate_reference,
    all_pairs_agreement,
    kendall_tau_b,
    pair_agreement,
    pearson_r,
    prepare_scores,
    subset_indices,
    win_rates,
    z_scores,
)


def long(table: dict[str, dict[str, float]], lower: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = [
        {"benchmark": b, "model": m, "score": s, "higher_is_better": b not in lower}
        for b, col in table.items()
        for m, s in col.items()
    ]
    return pd.DataFrame(rows)


def test_win_rate_counts_ties_as_losses_and_ignores_missing_models() -> None:
    m = pd.DataFrame({"A": [3.0, 3.0, 1.0, np.nan]}, index=["m1", "m2", "m3", "m4"])
    wr = win_rates(m)["A"]
    # m1 and m2 tie at 3: each beats only m3, out of N_B - 1 = 2 opponents
    assert wr["m1"] == pytest.approx(0.5) and wr["m2"] == pytest.approx(0.5)
    assert wr["m3"] == 0.0
    assert np.isnan(wr["m4"])


def test_aggregate_filters_models_by_appearances_before_win_rates() -> None:
    m = pd.DataFrame(
        {"B1": [1.0, 2.0, 3.0, np.nan], "B2": [10.0, 5.0, np.nan, 7.0]},
        index=["a", "b", "c", "d"],
    )
    strict = aggregate_reference(m, ["B1", "B2"], min_appearances=2)
    # only a and b appear in both; among them B1: a 0, b 1; B2: a 1, b 0
    assert strict.dropna().to_dict() == {"a": 0.5, "b": 0.5}
    loose = aggregate_reference(m, ["B1", "B2"], min_appearances=1)
    assert loose.to_dict() == pytest.approx({"a": 0.5, "b": 0.25, "c": 1.0, "d": 0.5})
    # default threshold max(1, n_ref // 3) = 1 for two references
    assert aggregate_reference(m, ["B1", "B2"]).to_dict() == pytest.approx(loose.to_dict())


def test_aggregate_names_unknown_reference_benchmarks() -> None:
    m = pd.DataFrame({"B1": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(ValueError, match="Nope"):
        aggregate_reference(m, ["B1", "Nope"])


def test_lower_is_better_is_min_max_normalised_and_flipped() -> None:
    scores = long({"err": {"a": 10.0, "b": 20.0, "c": 40.0}, "acc": {"a": 1.0}}, lower=("err",))
    matrix, flipped, n_dup = prepare_scores(scores)
    assert flipped == ["err"]
    assert matrix["err"].to_dict() == pytest.approx({"a": 1.0, "b": 2 / 3, "c": 0.0})
    assert matrix.loc["a", "acc"] == 1.0  # higher-is-better untouched
    assert n_dup == 0


def test_duplicates_keep_the_best_score_after_flipping() -> None:
    scores = pd.DataFrame(
        {
            "benchmark": ["e", "e", "e"],
            "model": ["a", "a", "b"],
            "score": [5.0, 1.0, 3.0],
            "higher_is_better": [False, False, False],
        }
    )
    matrix, _, n_dup = prepare_scores(scores)
    assert n_dup == 1
    assert matrix.loc["a", "e"] == 1.0  # raw 1 is the best (lowest) error


def test_kendall_tau_b_hand_computed_with_and_without_ties() -> None:
    # 5 concordant, 1 discordant pair out of 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4])[0] == pytest.approx(4 / 6)
    # one pair tied in x, one tied in y: S = 4, sqrt((6-1)(6-1)) = 5
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 3, 3])[0] == pytest.approx(0.8)
    assert np.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3])[0])


def test_batched_kernels_match_scipy_row_by_row() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(50, 9)).astype(float)  # many ties
    y = x + rng.integers(-2, 3, size=x.shape)
    tau = kendall_tau_b(x, y)
    r = pearson_r(x, y)
    for i in range(len(x)):
        ref = kendalltau(x[i], y[i]).statistic
        assert (np.isnan(ref) and np.isnan(tau[i])) or tau[i] == pytest.approx(ref)
        if x[i].std() > 0 and y[i].std() > 0:
            assert r[i] == pytest.approx(pearsonr(x[i], y[i]).statistic)


def test_pair_agreement_uses_only_shared_models() -> None:
    a = pd.Series({"m1": 1, "m2": 2, "m3": 3, "m4": 4, "m5": 5, "m6": 6.0}, name="A")
    r = pd.Series({"m2": 1, "m3": 3, "m4": 2, "m5": 4, "m6": 5, "m7": 0.0}, name="R")
    (rec,) = pair_agreement(a, r)
    # shared m2..m6; A = 2,3,4,5,6 and R = 1,3,2,4,5: one discordant pair of 10
    assert rec["n_shared"] == 5 and rec["size_taken"] == 5
    assert rec["mean"] == pytest.approx(0.8)
    assert any("unreliable" in n for n in rec["notes"])  # 5 <= n < 10 warns


def test_pair_agreement_refuses_fewer_than_five_shared_models() -> None:
    a = pd.Series({"m1": 1.0, "m2": 2.0, "m3": 3.0, "m4": 4.0}, name="A")
    (rec,) = pair_agreement(a, a.rename("R"))
    assert rec["refused"] and np.isnan(rec["mean"]) and rec["n_shared"] == 4


def test_subsets_larger_than_shared_set_shrink_instead_of_skipping() -> None:
    idx = np.arange(6)
    a = pd.Series(idx * 1.0, index=[f"m{i}" for i in idx], name="A")
    (rec,) = pair_agreement(a, (a**2).rename("R"), sizes=[20])
    assert rec["size_taken"] == 6 and rec["mean"] == pytest.approx(1.0)
    assert any("shrunk" in n for n in rec["notes"])


def test_adjacent_windows_are_consecutive_reference_ranks() -> None:
    rng = np.random.default_rng(0)
    idx = subset_indices(30, 5, "adjacent", 40, rng)
    assert idx.shape == (40, 5)
    assert (np.diff(idx, axis=1) == 1).all() and idx.min() >= 0 and idx.max() <= 29
    rnd = subset_indices(30, 5, "random", 40, rng)
    assert all(len(set(row)) == 5 for row in rnd)


def _random_pair(seed: int, n: int = 40) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    r = rng.normal(size=n)
    names = [f"m{i}" for i in range(n)]
    return pd.Series(r + rng.normal(size=n), names, name="A"), pd.Series(r, names, name="R")


def test_results_are_reproducible_from_the_seed_and_change_with_it() -> None:
    a, r = _random_pair(1)
    kw = {"sizes": [5], "strategies": ["random", "adjacent"]}
    one = pair_agreement(a, r, options={"seed": 7}, **kw)
    two = pair_agreement(a, r, options={"seed": 7}, **kw)
    other = pair_agreement(a, r, options={"seed": 8}, **kw)
    assert [x["mean"] for x in one] == [x["mean"] for x in two]
    assert [x["mean"] for x in one] != [x["mean"] for x in other]


def test_pair_result_does_not_depend_on_the_rest_of_the_catalogue() -> None:
    a, r = _random_pair(2)
    m = pd.concat([a, r], axis=1)
    m2 = m.assign(Z=np.arange(len(m)) * 1.0)
    kw = {"sizes": [5, 10], "options": {"n_exps": 20}}
    p1 = all_pairs_agreement(m, **kw)
    p2 = all_pairs_agreement(m2, **kw)
    sel = p2[(p2.benchmark == "A") & (p2.reference == "R")]
    assert p1["mean"].tolist() == sel["mean"].tolist()


def test_spread_shrinks_with_subset_size() -> None:
    a, r = _random_pair(3, n=60)
    recs = pair_agreement(a, r, sizes=[5, 10, 20], options={"n_exps": 200})
    sds = [x["sd"] for x in recs]
    assert sds[0] > sds[1] > sds[2] > 0
    assert all(x["lower"] <= x["mean"] <= x["upper"] for x in recs)


def test_z_scores_use_the_sample_standard_deviation() -> None:
    z = z_scores(pd.Series({"a": 0.2, "b": 0.4, "c": 0.9, "d": np.nan}))
    sd = np.sqrt((0.09 + 0.01 + 0.16) / 2)
    assert z["c"] == pytest.approx(0.4 / sd)
    assert z["a"] == pytest.approx(-0.3 / sd)
    assert np.isnan(z["d"])


def _catalogue(lower_is_better_bad: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 30
    skill = np.sort(rng.normal(size=n))[::-1]
    models = [f"m{i}" for i in range(n)]
    table = {}
    for b, noise in [("R1", 0.3), ("R2", 0.3), ("good", 0.2), ("noisy", 2.0)]:
        table[b] = dict(zip(models, skill + rng.normal(scale=noise, size=n), strict=True))
    table["errors"] = dict(zip(models, -skill + rng.normal(scale=0.2, size=n), strict=True))
    table["tiny"] = dict(zip(models[:4], skill[:4], strict=True))
    return long(table, lower=("errors",))


def test_tester_flips_lower_is_better_and_reports_the_difference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgreementWarning)
        t = AgreementTester(reference_benchmarks=["R1", "R2"], n_exps=30).fit(_catalogue())
    table = t.table_
    assert table.loc["errors", "agreement"] > 0.5  # flipped: agrees like "good" does
    assert table.loc["good", "agreement"] > table.loc["noisy", "agreement"]
    assert table.loc["good", "z"] > table.loc["noisy", "z"]
    assert np.isnan(table.loc["tiny", "agreement"])
    assert "Cannot judge" in table.loc["tiny", "verdict"]
    assert "partly circular" in table.loc["R1", "verdict"]
    assert any("errors is lower-is-better" in d for d in t.differences_)
    out = t.to_dict()
    assert out["reference_benchmarks"] == ["R1", "R2"]
    assert {r["benchmark"] for r in out["benchmarks"]} == {
        "R1",
        "R2",
        "good",
        "noisy",
        "errors",
        "tiny",
    }


def test_tester_warns_below_ten_shared_models() -> None:
    scores = _catalogue()
    keep = scores[(scores.benchmark != "good") | scores.model.isin([f"m{i}" for i in range(7)])]
    with pytest.warns(AgreementWarning, match="good"):
        AgreementTester(reference_benchmarks=["R1", "R2"], n_exps=10).fit(keep)


def test_pearson_option_changes_the_statistic() -> None:
    scores = _catalogue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgreementWarning)
        k = AgreementTester(reference_benchmarks=["R1", "R2"], n_exps=10).fit(scores)
        p = AgreementTester(reference_benchmarks=["R1", "R2"], n_exps=10, method="pearson")
        p.fit(scores)
    assert k.table_.loc["good", "agreement"] != p.table_.loc["good", "agreement"]
    with pytest.raises(ValueError, match="method"):
        AgreementTester(reference_benchmarks=["R1"], method="spearman").fit(scores)


def test_benchbench_catalogue_shows_granularity_effects(shared_data) -> None:
    """On the real leaderboards: spread falls with size; adjacent subsets agree less than random."""
    from predictors.names import normalise_names
    from service.cli.agreement_cmd import read_benchbench_dir

    scores, _ = normalise_names(read_benchbench_dir(shared_data / "benchbench"))
    ref = ["helm_lite", "hf_open_llm_v2", "opencompass_academic", "arena_elo", "helm_classic",
           "alphacaeval_v2lc"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgreementWarning)
        t = AgreementTester(reference_benchmarks=ref, n_exps=50).fit(scores)
    spread = t.spread_by_size().set_index(["strategy", "size"])
    assert spread.loc[("random", 5), "sd"] > spread.loc[("random", 10), "sd"]
    assert spread.loc[("random", 10), "sd"] > spread.loc[("random", 20), "sd"]
    assert spread.loc[("adjacent", 5), "mean"] < spread.loc[("random", 5), "mean"] - 0.1
    # the safety leaderboard listed as lower-is-better is flipped
    assert "trustworthy" in t.flipped_


def test_cli_prints_the_full_result_as_json_from_a_scores_file(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from service.cli import app

    path = tmp_path / "scores.csv"
    _catalogue().to_csv(path, index=False)
    runner = CliRunner()
    args = ["agreement", "--data", str(path), "--reference-benchmarks", "R1,R2,Missing"]
    res = runner.invoke(app, [*args, "--sizes", "5,10", "--n-exps", "20", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["reference_benchmarks"] == ["R1", "R2"]
    assert out["reference_requested_but_missing"] == ["Missing"]
    assert out["lower_is_better_flipped"] == ["errors"]
    rows = {r["benchmark"]: r for r in out["benchmarks"]}
    assert rows["errors"]["agreement"] > 0.5 and rows["tiny"]["agreement"] is None
    assert {r["size"] for r in out["results"]} == {0, 5, 10}
    pair = runner.invoke(app, ["agreement", "--data", str(path), "--pair", "good,R1",
                               "--sizes", "5", "--n-exps", "10"])  # fmt: skip
    assert pair.exit_code == 0, pair.output
    recs = json.loads(pair.stdout)["results"]
    assert [(r["strategy"], r["size"]) for r in recs] == [
        ("random", 5), ("adjacent", 5), ("random", 0)
    ]  # fmt: skip
    bad = runner.invoke(app, ["agreement", "--data", str(path), "--reference-benchmarks", "X"])
    assert bad.exit_code == 2 and "X" in bad.output


def test_row_quantiles_match_numpy_nanquantile() -> None:
    from predictors.agreement_engine import _row_quantiles

    rng = np.random.default_rng(4)
    vals = rng.normal(size=(30, 17))
    vals[rng.random(vals.shape) < 0.2] = np.nan
    vals[3] = np.nan
    vals[4, 1:] = np.nan
    lo, hi = _row_quantiles(vals, [0.025, 0.975])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref_lo, ref_hi = np.nanquantile(vals, [0.025, 0.975], axis=1)
    np.testing.assert_allclose(lo, ref_lo, equal_nan=True)
    np.testing.assert_allclose(hi, ref_hi, equal_nan=True)
