"""The agreement engine's kernels and records, checked against scipy, numpy and hand counts."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr

from predictors.agreement_engine import (
    _describe_rows,
    _row_quantiles,
    _sorted_shared,
    agreement_cells,
    all_pairs_agreement,
    kendall_tau_b,
    pair_agreement,
    pearson_r,
    subset_indices,
)


def _ties(rows: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 50, size=(rows, k)).astype(float)  # many ties
    return x, x + rng.integers(-20, 21, size=x.shape)


def test_kendall_in_chunks_matches_scipy_row_by_row() -> None:
    # k = 1000 puts 4e6 // 1e6 = 4 rows in a chunk: 9 rows are chunks of 4, 4 and 1, 4 rows are one
    for rows in (9, 4):
        x, y = _ties(rows, 1000, seed=rows)
        got = kendall_tau_b(x, y)
        ref = [kendalltau(x[i], y[i]).statistic for i in range(rows)]
        np.testing.assert_allclose(got, ref, rtol=1e-12)  # same counts, float rounding only


def test_kendall_memory_is_bounded_by_the_chunk() -> None:
    """Peak memory of 3 rows of 2000 equals that of 1 row: one (k, k) row per chunk (4e6 cells)."""
    x, y = _ties(3, 2000, seed=1)

    def peak(rows: int) -> int:
        tracemalloc.start()
        kendall_tau_b(x[:rows], y[:rows])
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    one, three = peak(1), peak(3)
    # unchunked, three rows would hold three times the (k, k) sign arrays: a ratio near 3, not 1.3
    assert three < 1.3 * one


def test_kernels_compute_in_float64_whatever_the_input_dtype() -> None:
    # uint8 differences would wrap around (1 - 2 = 255): tau of a reversed order is -1
    up = np.array([1, 2, 3], dtype=np.uint8)
    assert kendall_tau_b(up, up[::-1])[0] == -1.0
    assert kendall_tau_b(up[::-1], up)[0] == -1.0
    # float16 centring would round 1001.33 to 1001.5; scipy on the float64 values is the truth
    x = np.array([1000.0, 1001.0, 1003.0, 1000.5])
    y = np.array([3.0, 1.0, 2.0, 5.0])
    ref = pearsonr(x, y).statistic
    assert pearson_r(x.astype(np.float16), y)[0] == pytest.approx(ref, abs=1e-12)
    assert pearson_r(y, x.astype(np.float16))[0] == pytest.approx(ref, abs=1e-12)


def test_two_models_and_small_scales_are_not_nan() -> None:
    # k = 2 without ties: one pair, tau = +-1 (the denominator is exactly 1)
    assert kendall_tau_b([1.0, 2.0], [3.0, 4.0])[0] == 1.0
    assert kendall_tau_b([1.0, 2.0], [4.0, 3.0])[0] == -1.0
    # scores on a 0..0.2 scale: sum of squares below 1, r is still scipy's
    x, y = np.array([0.0, 0.1, 0.2, 0.15]), np.array([0.01, 0.03, 0.02, 0.05])
    assert pearson_r(x, y)[0] == pytest.approx(pearsonr(x, y).statistic, abs=1e-12)
    # a constant row has no correlation (scipy gives NaN too)
    assert np.isnan(pearson_r([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])[0])


def test_subset_indices_edges() -> None:
    rng = np.random.default_rng(0)
    assert subset_indices(6, 1, "random", 10, rng).shape == (10, 1)  # size 1 is a real subset
    assert subset_indices(6, 1, "adjacent", 10, rng).shape == (10, 1)
    np.testing.assert_array_equal(subset_indices(6, 6, "random", 10, rng), [np.arange(6)])
    np.testing.assert_array_equal(subset_indices(6, 0, "adjacent", 10, rng), [np.arange(6)])
    with pytest.raises(ValueError, match=r"unknown subset strategy 'middle'; known: \("):
        subset_indices(6, 2, "middle", 10, rng)


def test_adjacent_windows_reach_both_ends() -> None:
    # n=6, size=5: two windows (starts 0 and 1); in 200 uniform draws each is missed with
    # probability 2**-200, so both must appear
    idx = subset_indices(6, 5, "adjacent", 200, np.random.default_rng(1))
    assert set(idx[:, 0].tolist()) == {0, 1}
    assert set(idx[:, -1].tolist()) == {4, 5}


def test_sorted_shared_orders_by_reference_then_benchmark_best_first() -> None:
    x = np.array([1.0, 3.0, 2.0, np.nan, 5.0])
    r = np.array([2.0, 2.0, 9.0, 1.0, np.nan])
    xs, rs = _sorted_shared(x, r)
    # shared: (1, 2), (3, 2), (2, 9); reference 9 first, then the tie at 2 by benchmark, 3 first
    assert xs.tolist() == [2.0, 3.0, 1.0] and rs.tolist() == [9.0, 2.0, 2.0]


def test_describe_rows_matches_numpy_per_row() -> None:
    vals = np.array(
        [
            [np.nan, np.nan, np.nan, np.nan],  # no repeat
            [0.5, np.nan, np.nan, np.nan],  # one repeat: sd 0 by definition
            [0.2, 0.6, np.nan, np.nan],  # two repeats
            [0.1, 0.4, 0.3, 0.9],
        ]
    )
    out = _describe_rows(vals, alpha=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(vals, axis=1)
        q = np.nanquantile(vals, [0.25, 0.75], axis=1)
    np.testing.assert_allclose(out["mean"], mean, equal_nan=True)
    assert np.isnan(out["sd"][0]) and out["sd"][1] == 0.0
    assert out["sd"][2] == pytest.approx(np.sqrt(0.08))  # (0.2, 0.6): squares 0.04 + 0.04, ddof 1
    assert out["sd"][3] == pytest.approx(np.std([0.1, 0.4, 0.3, 0.9], ddof=1))
    np.testing.assert_allclose(out["lower"], q[0], equal_nan=True)
    np.testing.assert_allclose(out["upper"], q[1], equal_nan=True)


def test_interval_holds_the_central_share_of_repeats() -> None:
    vals = np.arange(101.0)[None, :]  # the q-quantile of 0..100 is 100 q
    out = _describe_rows(vals, alpha=0.1)
    assert out["lower"][0] == pytest.approx(5.0) and out["upper"][0] == pytest.approx(95.0)


def test_row_quantiles_at_the_ends_of_one_value() -> None:
    vals = np.array([[7.0, np.nan, np.nan], [3.0, 1.0, 2.0]])
    lo, hi = _row_quantiles(vals, [0.0, 1.0])
    assert lo.tolist() == [7.0, 1.0] and hi.tolist() == [7.0, 3.0]


def _pair(n: int, seed: int = 0, dtype: str = "float64") -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 100, size=n)
    a = r + rng.integers(-30, 31, size=n)
    names = [f"m{i}" for i in range(n)]
    return pd.Series(a, names, name="A", dtype=dtype), pd.Series(r, names, name="R", dtype=dtype)


KEYS = {"benchmark", "reference", "n_shared", "method", "size", "strategy", "size_taken", "mean",
        "sd", "lower", "upper", "n_exps", "refused", "notes"}  # fmt: skip


def test_records_carry_every_field() -> None:
    a, r = _pair(12)
    recs = pair_agreement(a, r, sizes=[0, 5, 12], strategies=["random"],
                          options={"n_exps": 7, "method": "pearson"})  # fmt: skip
    assert all(set(rec) == KEYS for rec in recs)
    assert [(x["size"], x["size_taken"], x["n_exps"]) for x in recs] == [(0, 12, 1), (5, 5, 7),
                                                                           (12, 12, 1)]  # fmt: skip
    assert {x["benchmark"] for x in recs} == {"A"} and {x["reference"] for x in recs} == {"R"}
    assert {x["method"] for x in recs} == {"pearson"} and not any(x["refused"] for x in recs)
    # 12 shared models is at least warn_shared (10) and size 12 is not above it: no notes
    assert all(x["notes"] == [] for x in recs)
    full = recs[0]
    assert full["mean"] == pytest.approx(pearsonr(a, r).statistic) and full["sd"] == 0.0


def test_warnings_start_below_the_thresholds() -> None:
    a, r = _pair(10)
    (rec,) = pair_agreement(a, r, sizes=[10])
    assert rec["notes"] == []  # n = warn_shared and size = n: neither note
    a, r = _pair(9)
    (rec,) = pair_agreement(a, r, sizes=[10])
    assert rec["notes"] == ["only 9 shared models (< 10): unreliable",
                            "subset of 10 shrunk to the 9 shared models"]  # fmt: skip


def test_refused_records_have_the_same_fields() -> None:
    a, r = _pair(4)
    recs = pair_agreement(a, r, sizes=[0, 3], strategies=["random", "adjacent"])
    assert len(recs) == 4 and all(set(rec) == KEYS for rec in recs)
    for rec in recs:
        assert rec["refused"] and rec["n_exps"] == 0 and rec["size_taken"] is None
        assert all(np.isnan(rec[k]) for k in ("mean", "sd", "lower", "upper"))
        assert rec["notes"] == ["only 4 shared models (< 5): refused"]


def test_a_refused_pair_does_not_stop_the_others() -> None:
    a, r = _pair(8)
    few = a.copy()
    few.iloc[3:] = np.nan  # 3 shared models with anyone: refused
    m = pd.concat([few.rename("F"), a, r], axis=1)
    out = all_pairs_agreement(m, options={"n_exps": 3})
    assert out[["benchmark", "reference"]].values.tolist() == [["F", "A"], ["F", "R"], ["A", "R"]]
    assert out["refused"].tolist() == [True, True, False]
    assert out["mean"].iloc[2] == pytest.approx(kendalltau(a, r).statistic)


def test_options_reach_every_pair() -> None:
    a, r = _pair(12)
    out = all_pairs_agreement(pd.concat([a, r], axis=1), sizes=[5], options={"n_exps": 7})
    assert out["n_exps"].tolist() == [7]


def test_nullable_integer_scores_read_as_floats() -> None:
    a, r = _pair(12, dtype="Int64")
    a.iloc[0] = pd.NA  # 11 shared models
    (rec,) = pair_agreement(a, r)
    fa, fr = a.astype(float), r.astype(float)
    ok = fa.notna()
    assert rec["n_shared"] == 11
    assert rec["mean"] == pytest.approx(kendalltau(fa[ok], fr[ok]).statistic)
    out = all_pairs_agreement(pd.concat([a, r], axis=1))
    assert out["mean"].iloc[0] == pytest.approx(rec["mean"])


def test_agreement_cells_takes_names_from_its_arguments() -> None:
    a, r = _pair(6)
    values = np.column_stack([a.to_numpy(float), r.to_numpy(float)])
    (rec,) = agreement_cells(values, ["X", "Y"], [(0, 1)], sizes=[0], strategies=["random"])
    assert (rec["benchmark"], rec["reference"]) == ("X", "Y")
    assert rec["mean"] == pytest.approx(kendalltau(a, r).statistic)
