"""Per-item rows from the database's shape, and the items x models matrix COD clusters.

Every expected number is worked out by hand from the few rows each test builds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.item_data import (
    checkpoint_points,
    item_matrix,
    item_results_to_observations,
    model_flops,
)

NAN = float("nan")
OUT_COLUMNS = [
    "model", "family", "n_params", "n_params_nonembed", "n_tokens", "flops", "release_date",
    "checkpoint_step", "benchmark", "metric", "value", "item", "n_samples", "n_pass",
]  # fmt: skip


def _view(**cols: list[object]) -> pd.DataFrame:
    """``item_results``-shaped rows: the required columns for len(first list) rows, plus ``cols``."""
    n = len(next(iter(cols.values())))
    base: dict[str, list[object]] = {
        "family": ["f"] * n,
        "model": [f"m{i}" for i in range(n)],
        "n_params": [1e8] * n,
        "flops": [1e20] * n,
        "checkpoint_step": [NAN] * n,
        "benchmark": ["t"] * n,
        "item": list(range(n)),
    }
    return pd.DataFrame(base | cols, index=range(10, 10 + n))  # not 0..n-1: labels must align


def test_modes_name_the_metric_and_the_value() -> None:
    rows = _view(
        mode=["samples", "passuntil", "passuntil", "greedy", "other", "greedy"],
        n_samples=[4, 8, 10, 1, 5, 1],
        n_pass=[1, 2, 5, 0, 5, 1],
        estimate=[0.9, 0.01, NAN, 0.9, 0.9, NAN],
        greedy_correct=[NAN, NAN, NAN, 1.0, NAN, 0.0],
    )
    obs = item_results_to_observations(rows)
    assert obs["metric"].tolist() == ["pass_rate", "pu", "pu", "acc", "pass_rate", "acc"]
    # samples 1/4; passuntil: its estimate, else 5/10; greedy: greedy_correct; unknown: 5/5
    assert obs["value"].tolist() == [0.25, 0.01, 0.5, 1.0, 1.0, 0.0]
    assert obs["n_samples"].tolist() == [4.0, 8.0, 10.0, 1.0, 5.0, 1.0]
    assert obs["n_pass"].tolist() == [1.0, 2.0, 5.0, 0.0, 5.0, 1.0]
    assert list(obs.columns) == OUT_COLUMNS
    assert obs["item"].tolist() == ["0", "1", "2", "3", "4", "5"]  # text, as the view's
    added = obs[["n_params_nonembed", "n_tokens", "release_date"]]
    assert added.isna().all().all() and all(d == np.float64 for d in added.dtypes)  # not objects


def test_without_mode_every_row_is_a_pass_rate_and_text_counts_are_read() -> None:
    obs = item_results_to_observations(_view(n_samples=["4", "x"], n_pass=["3", "1"]))
    # "x" is no count: that row measured nothing and is dropped
    assert obs["metric"].tolist() == ["pass_rate"]
    assert obs["value"].tolist() == [0.75]
    assert obs["model"].tolist() == ["m0"] and obs.index.tolist() == [0]
    # text that is no number in the other count, the estimate or greedy_correct is missing too
    text = _view(
        mode=["samples", "passuntil", "greedy"], n_samples=[4, 4, 4], n_pass=["x", 1, 1],
        estimate=[NAN, "y", NAN], greedy_correct=[NAN, NAN, "z"],
    )  # fmt: skip
    obs = item_results_to_observations(text)
    assert obs["metric"].tolist() == ["pu"] and obs["value"].tolist() == [0.25]


def test_database_decimals_become_floats() -> None:
    """psycopg returns SQL numeric as Decimal: the values must come out as floats."""
    from decimal import Decimal

    obs = item_results_to_observations(_view(pass_rate=[Decimal("0.25"), Decimal("1")]))
    assert obs["value"].dtype == float and obs["value"].tolist() == [0.25, 1.0]


def test_a_stored_pass_rate_wins_over_counts_and_known_columns_are_kept() -> None:
    rows = _view(
        pass_rate=[0.3, NAN], n_samples=[10, 10], n_pass=[9, 9], n_tokens=[2e9, 3e9],
        run_id=[7, 8], stop_reason=["solved", None],
    )  # fmt: skip
    obs = item_results_to_observations(rows)
    assert obs["value"].tolist() == [0.3]  # the NaN pass rate is not recomputed from counts
    assert obs["n_tokens"].tolist() == [2e9]
    assert list(obs.columns) == [*OUT_COLUMNS, "stop_reason", "run_id"]


def test_checker_errors_are_not_outcomes() -> None:
    rows = _view(
        n_samples=[4, 4, 4], n_pass=[0, 2, 4], stop_reason=["checker_error", None, "budget"]
    )
    obs = item_results_to_observations(rows)
    assert obs["model"].tolist() == ["m1", "m2"]
    assert obs["value"].tolist() == [0.5, 1.0]


def test_no_counts_and_no_estimate_measure_nothing() -> None:
    obs = item_results_to_observations(_view(mode=["samples", "greedy"], greedy_correct=[1, 0]))
    # the sampled row has no counts (dropped); the greedy row's outcome is its greedy_correct
    assert obs["metric"].tolist() == ["acc"] and obs["value"].tolist() == [0.0]
    assert obs["n_samples"].isna().all() and obs["n_pass"].isna().all()
    assert item_results_to_observations(_view(mode=["samples"])).empty


def test_missing_view_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"item_results_to_observations: .*\['item'\]"):
        item_results_to_observations(_view(n_samples=[1]).drop(columns="item"))


def test_model_flops_prefers_flops_then_six_n_d() -> None:
    df = pd.DataFrame(
        {
            "flops": [5.0, NAN, "x", NAN],
            "n_params": [1.0, 2.0, 3.0, "p"],
            "n_tokens": [10, 10, "y", 1],
        },
        index=[7, 8, 9, 10],
    )
    out = model_flops(df)
    assert out.iloc[0] == 5.0 and out.iloc[1] == 6 * 2 * 10 and out.iloc[2:].isna().all()
    no_flops = model_flops(pd.DataFrame({"n_params": [2.0], "n_tokens": [3.0]}, index=[4]))
    assert no_flops.to_dict() == {4: 36.0}
    only_params = model_flops(pd.DataFrame({"flops": [NAN], "n_params": [2.0]}))
    assert only_params.isna().all() and only_params.dtype == float
    assert model_flops(pd.DataFrame({"n_tokens": [3.0]})).isna().all()


def test_checkpoint_points_name_each_checkpoint() -> None:
    rows = pd.DataFrame({"model": ["a", "a", "b"], "checkpoint_step": [10.0, NAN, "20"]})
    out = checkpoint_points(rows)
    assert out["model"].tolist() == ["a@10", "a@final", "b@20"]
    assert out["checkpoint_step"].iloc[2] == 20.0
    bare = checkpoint_points(pd.DataFrame({"model": ["a"]}, index=[3]))
    assert bare["model"].tolist() == ["a@final"] and bare["checkpoint_step"].isna().all()
    text = checkpoint_points(pd.DataFrame({"model": ["a"], "checkpoint_step": ["late"]}))
    assert text["model"].tolist() == ["a@final"]  # a step that is no number is missing


def _ladder() -> pd.DataFrame:
    """Model ``s`` (1e20 FLOPs) and ``b`` with four checkpoints; items x, y (and z on b only)."""
    rows = []
    for step, fl, vx, vy in [(1, 1e20, 0.0, 0.0), (2, 1e21, 0.2, 0.4), (3, 1e22, 0.4, 0.5),
                             (4, 1e23, 0.6, 0.9)]:  # fmt: skip
        rows += [("b", step, fl, "x", vx), ("b", step, fl, "y", vy)]
    rows += [("s", NAN, 1e20, "x", 0.1), ("s", NAN, 1e20, "y", 0.3), ("b", 4, 1e23, "z", 1.0)]
    df = pd.DataFrame(rows, columns=["model", "checkpoint_step", "flops", "item", "value"])
    return df.assign(benchmark="t", metric="pass_rate")


def test_item_matrix_averages_the_last_checkpoints_at_their_geometric_mean_compute() -> None:
    m = item_matrix(_ladder(), benchmark="t")
    # b's last 3 checkpoints (2, 3, 4): x (0.2+0.4+0.6)/3, y (0.4+0.5+0.9)/3; compute 10^22
    assert m.rates.columns.tolist() == ["s", "b"]  # increasing compute
    np.testing.assert_allclose(m.rates.loc["x"].to_numpy(), [0.1, 0.4])
    np.testing.assert_allclose(m.rates.loc["y"].to_numpy(), [0.3, 0.6])
    np.testing.assert_allclose(m.flops.to_numpy(), [1e20, 1e22], rtol=1e-12)
    assert m.n_checkpoints.tolist() == [1, 3]
    assert m.dropped_items == ("z",)  # not measured on s
    assert m.dropped_models == ()
    w2 = item_matrix(_ladder(), benchmark="t", checkpoint_window=2)
    np.testing.assert_allclose(w2.rates.loc["x"].to_numpy(), [0.1, 0.5])
    np.testing.assert_allclose(w2.flops.to_numpy(), [1e20, math.sqrt(1e22 * 1e23)], rtol=1e-12)


def test_by_checkpoint_every_checkpoint_is_a_point() -> None:
    m = item_matrix(_ladder(), benchmark="t", by="checkpoint")
    assert m.rates.columns.tolist() == ["b@1", "s@final", "b@2", "b@3", "b@4"]
    assert m.rates.loc["x"].tolist() == [0.0, 0.1, 0.2, 0.4, 0.6]
    assert m.n_checkpoints.tolist() == [1] * 5


def test_sparse_points_are_dropped_before_items() -> None:
    """A point measuring 1 of 4 items (< half) goes; then every item survives."""
    rows = [(mod, fl, it, 0.5) for mod, fl in [("a", 1e20), ("b", 1e21)] for it in "pqrs"]
    rows.append(("c", 1e22, "p", 0.9))
    df = pd.DataFrame(rows, columns=["model", "flops", "item", "value"])
    m = item_matrix(df.assign(benchmark="t", metric="pass_rate"), benchmark="t")
    assert m.dropped_models == ("c",)
    assert m.rates.shape == (4, 2) and m.dropped_items == ()
    # exactly half the items is enough to stay
    half = pd.concat([df, pd.DataFrame([("c", 1e22, "q", 0.9)], columns=df.columns)])
    m = item_matrix(half.assign(benchmark="t", metric="pass_rate"), benchmark="t")
    assert m.dropped_models == () and m.rates.index.tolist() == ["p", "q"]
    assert m.dropped_items == ("r", "s")


def test_when_every_point_is_sparse_none_is_dropped() -> None:
    df = pd.DataFrame(
        [("a", 1e20, "p", 0.5), ("b", 1e21, "q", 0.5), ("c", 1e22, "r", 0.5)],
        columns=["model", "flops", "item", "value"],
    ).assign(benchmark="t", metric="pass_rate")
    m = item_matrix(df, benchmark="t")
    assert m.dropped_models == () and m.rates.empty and m.dropped_items == ("p", "q", "r")


def test_item_matrix_refuses_what_it_cannot_place() -> None:
    df = _ladder()
    with pytest.raises(ValueError, match=r"metric='pu'; present: \['t/pass_rate'\]"):
        item_matrix(df, benchmark="t", metric="pu")
    with pytest.raises(ValueError, match=r"no per-item rows for benchmark='u'"):
        item_matrix(df, benchmark="u")
    with pytest.raises(ValueError, match=r"models \['s'\] have neither flops nor n_params"):
        item_matrix(df.assign(flops=np.where(df["model"] == "s", NAN, df["flops"])), benchmark="t")
    with pytest.raises(ValueError, match="item_matrix: observations lack column"):
        item_matrix(df.drop(columns="item"), benchmark="t")
    task_level = df.assign(item=None)
    with pytest.raises(ValueError, match="no per-item rows"):
        item_matrix(task_level, benchmark="t")


def test_a_model_without_steps_ranks_below_its_step_zero() -> None:
    """Window 1 keeps a model's last checkpoint: step 0 outranks a row without a step."""
    df = pd.DataFrame(
        [("a", NAN, 1e20, "x", 0.9), ("a", 0, 1e20, "x", 0.1), ("b", "n/a", 1e21, "x", 0.5)],
        columns=["model", "checkpoint_step", "flops", "item", "value"],
    ).assign(benchmark="t", metric="pass_rate")
    m = item_matrix(df, benchmark="t", checkpoint_window=1)
    assert m.rates.loc["x"].tolist() == [0.1, 0.5]


def test_flops_come_from_six_n_d_and_items_are_text() -> None:
    df = pd.DataFrame(
        [("a", 1e8, 2e9, 1, 0.5), ("a", 1e8, 2e9, 2, 0.25), ("b", 1e9, 2e10, 1, 1.0)],
        columns=["model", "n_params", "n_tokens", "item", "value"],
    ).assign(benchmark="t", metric="pass_rate")
    m = item_matrix(df, benchmark="t")
    assert m.flops.tolist() == pytest.approx([1.2e18, 1.2e20])
    assert m.rates.index.tolist() == ["1"] and m.dropped_items == ("2",)


def test_the_missing_series_message_lists_twenty_present() -> None:
    df = pd.DataFrame({"model": "m", "benchmark": [f"b{i:02d}" for i in range(25)],
                       "metric": "acc", "value": 1.0, "item": "1"})  # fmt: skip
    with pytest.raises(ValueError) as err:
        item_matrix(df, benchmark="zz")
    assert "'b19/acc']" in str(err.value) and "b20" not in str(err.value)
