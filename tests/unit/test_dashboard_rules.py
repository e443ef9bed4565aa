"""The dashboard's pure rules: trust verdicts, the backtest's held-out sizes, the default target
(on the real Gadre data) and the readable agreement table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service.dashboard.content import agreement_view, group_of
from service.dashboard.scaling import MIN_HELD_OUT, backtest_verdict, default_target, final_rows
from service.forecasting import held_out_sizes, largest_split


def bt(n: int, rel: float, cov: float | None = 1.0, **extra: object) -> dict:
    return {"n": n, "n_predicted": n, "mean_rel_error": rel, "coverage": cov, **extra}


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_verdict_says_what_it_rests_on(n: int) -> None:
    for summary in (bt(n, 0.01), bt(n, 0.10), bt(n, 0.40), bt(n, 0.01, cov=0.0)):
        _, _, reasons = backtest_verdict(summary)
        plural = "" if n == 1 else "s"
        assert reasons[0] == f"rests on {n} held-out model{plural}", (summary, reasons)
        assert any(f"(n={n})" in r for r in reasons)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "use with caution"), (2, "use with caution"), (3, "trustworthy"), (5, "trustworthy")],
)
def test_good_errors_are_trustworthy_only_on_three_or_more(n: int, expected: str) -> None:
    verdict, level, reasons = backtest_verdict(bt(n, 0.02, cov=1.0))
    assert verdict == expected
    assert level == ("good" if n >= MIN_HELD_OUT else "warn")
    assert any("too few held-out models to judge" in r for r in reasons) == (n < MIN_HELD_OUT)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_bad_errors_and_narrow_intervals(n: int) -> None:
    assert backtest_verdict(bt(n, 0.10))[0] == "use with caution"
    assert backtest_verdict(bt(n, 0.40))[0] == "do not trust"
    narrow = backtest_verdict(bt(n, 0.01, cov=0.2))  # accurate but the interval missed
    assert narrow[0] == "use with caution"
    assert any("too narrow" in r for r in narrow[2])
    assert backtest_verdict(bt(n, 0.01, cov=0.5))[0] == (
        "trustworthy" if n >= 3 else "use with caution"
    )
    assert backtest_verdict(bt(n, 0.01, cov=None))[0] == (
        "trustworthy" if n >= 3 else "use with caution"
    )


def test_untested_backtests_rest_on_no_model() -> None:
    failed = backtest_verdict({"error": "fit failed: too few points", "fit": "n_params < 1"})
    assert failed[:2] == ("untested", "bad")
    assert failed[2][0] == "rests on 0 held-out models" and "too few points" in failed[2][1]
    none_predicted = backtest_verdict({"n": 3, "n_predicted": 0, "mean_rel_error": None})
    assert none_predicted[0] == "untested" and none_predicted[2][0].startswith("rests on 0")
    assert backtest_verdict({})[0] == "untested"


def test_held_out_sizes_and_largest_split() -> None:
    assert [held_out_sizes(k) for k in range(1, 11)] == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    sizes = np.geomspace(1e7, 1e9, 10)
    obs = pd.DataFrame({"benchmark": "b", "metric": "acc", "n_params": sizes, "flops": sizes,
                        "model": [f"m{i}" for i in range(10)], "value": 0.5})  # fmt: skip
    fit, predict = largest_split(obs, "b", "acc")
    assert sorted(predict.apply(obs)["model"]) == ["m7", "m8", "m9"]
    assert sorted(fit.apply(obs)["model"]) == [f"m{i}" for i in range(7)]
    five = obs.iloc[:5]
    fit, predict = largest_split(five, "b", "acc")
    assert sorted(predict.apply(five)["model"]) == ["m3", "m4"]
    two = obs.iloc[:2]
    assert sorted(largest_split(two, "b", "acc")[1].apply(two)["model"]) == ["m1"]
    assert largest_split(obs.iloc[:1], "b", "acc") is None


def test_default_target_is_twice_the_largest_gadre_model(shared_data: Path) -> None:
    from db.importers.gadre import gadre_observations

    obs = gadre_observations(shared_data / "gadre-overtraining").reset_index(drop=True)
    for family in ("gadre-rpj", "gadre-c4_original", "gadre-rw_original"):
        rows = final_rows(obs[obs["family"] == family], "avg17", "err")
        largest = rows.loc[rows["n_params"] == rows["n_params"].max()]
        target = default_target(rows)
        assert target.n_params == pytest.approx(2 * rows["n_params"].max())
        flops = 6 * target.n_params * target.n_tokens
        # 4x the largest model's compute (it is trained at 20 tokens per parameter) ...
        assert flops / float(largest["flops"].max()) == pytest.approx(4.0, rel=0.01)
        # ... and under 10x the family's largest compute, so extrapolation alone warns no one
        assert 2.0 < flops / float(rows["flops"].max()) < 10


def test_default_target_with_only_flops() -> None:
    rows = pd.DataFrame({"n_params": [np.nan, np.nan], "n_tokens": [np.nan, np.nan],
                         "flops": [1e18, 3e18]})  # fmt: skip
    assert default_target(rows).flops == pytest.approx(1.2e19)


def agreement_table(n_shared: dict[str, int]) -> pd.DataFrame:
    """A tester's ``table_``: tau falls with the name's position; NaN where marked."""
    names = list(n_shared)
    tau = [math.nan if n < 5 else 0.9 - 0.05 * i for i, n in enumerate(n_shared.values())]
    frame = pd.DataFrame(
        {"n_shared": list(n_shared.values()), "agreement": tau, "verdict": "ok"}, index=names
    )
    frame["z"] = (frame["agreement"] - frame["agreement"].mean()) / frame["agreement"].std()
    for size in (5, 10, 20):
        frame[f"random_{size}_mean"] = frame["agreement"] - 0.01 * size
    return frame


NAMES = {"mmlu_a": 8, "mmlu_b": 8, "arc_easy": 8, "arc_challenge": 6, "wsc@5shot": 3,
         "piqa@5shot": 8, "piqa": 8, "mmlu_c": 8, "lonely_one": 8}  # fmt: skip


def test_agreement_view_drops_nan_rows_and_repeated_all_columns() -> None:
    view = agreement_view(agreement_table(NAMES))
    assert view.dropped == ["wsc@5shot"] and "1 benchmark(s) dropped" in view.notes[0]
    assert "wsc@5shot" not in [r["benchmark"] for r in view.rows]
    assert view.columns == ["5 models", "all"]  # 10 and 20 >= the 8 shared models: "all" again
    assert view.merged_sizes == [10, 20] and 'equal the "all" column' in view.notes[1]
    six = next(r for r in view.rows if r["benchmark"] == "arc_challenge")
    assert [c["same_as_all"] for c in six["cells"]] == [False, False]
    assert all(np.isfinite(view.matrix["all"]))


def test_agreement_view_groups_sorts_and_filters() -> None:
    table = agreement_table(NAMES)
    view = agreement_view(table, sort="name")
    assert [g for g, _ in view.groups] == ["*@5shot", "arc_*", "mmlu_*", "other"]
    order = [r["benchmark"] for r in view.rows]
    assert order == ["piqa@5shot", "arc_challenge", "arc_easy", "mmlu_a", "mmlu_b", "mmlu_c",
                     "lonely_one", "piqa"]  # fmt: skip
    assert list(view.matrix.index) == order
    by_tau = [
        r["benchmark"] for r in agreement_view(table, sort="tau").rows if r["group"] == "mmlu_*"
    ]
    assert by_tau == ["mmlu_a", "mmlu_b", "mmlu_c"]  # 0.9, 0.85, 0.55: descending
    table.loc["mmlu_c", "z"] = 9.0
    by_z = [r["benchmark"] for r in agreement_view(table, sort="z").rows if r["group"] == "mmlu_*"]
    assert by_z[0] == "mmlu_c"
    only = agreement_view(table, q="MMLU")
    assert [r["benchmark"] for r in only.rows] == ["mmlu_a", "mmlu_b", "mmlu_c"]
    assert only.filtered_out == 5 and [g for g, _ in only.groups] == ["mmlu_*"]
    with pytest.raises(ValueError, match="sort must be one of"):
        agreement_view(table, sort="drop table")
    assert group_of("lonely_one", list(NAMES)) == "other"
    assert group_of("x@5shot", []) == "*@5shot"
