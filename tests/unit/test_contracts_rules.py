"""Input-contract rules on small hand-built frames: what is available, what stands in, what is
named missing (test_contracts.py checks the same through real estimators)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from predictors.base import Forecast
from predictors.contracts import (
    InputContract,
    ResolvedInputs,
    available,
    conform_targets,
    resolve_inputs,
    series_rows,
    with_notes,
)

NAN = float("nan")
C = InputContract(size=("flops", "n_params_nonembed", "n_params"), series=(("t", "acc"),))


def _obs(**cols: list[object]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"model": [f"m{i}" for i in range(n)], "benchmark": "t", "metric": "acc", "value": 0.5}
    return pd.DataFrame(base | cols)


def test_a_contract_names_a_size_measure() -> None:
    with pytest.raises(ValueError, match=r"^an input contract names at least one size measure$"):
        InputContract(size=())


def test_flops_are_available_from_six_n_d_and_text_counts() -> None:
    df = pd.DataFrame(
        {
            "flops": [1.0, NAN, NAN, "x"],
            "n_params": [NAN, 2.0, 2.0, 1.0],
            "n_tokens": [NAN, 3, NAN, 1],
        }
    )
    assert available(df, "flops").tolist() == [True, True, False, True]
    assert available(df, "n_params").tolist() == [False, True, True, True]
    assert available(df, "n_params_nonembed").tolist() == [False] * 4  # absent column


def test_the_preferred_measure_leaves_the_frame_alone() -> None:
    obs = _obs(flops=[1e20, 2e20])
    out, used = resolve_inputs(obs, C, "w")
    assert out is obs and used == ResolvedInputs("flops", "flops") and not used.substituted


def test_stand_ins_are_tried_in_order_and_said() -> None:
    obs = _obs(n_params_nonembed=[1.0, 2.0], n_tokens=[5.0, 5.0])
    out, used = resolve_inputs(obs, C, "w")
    assert used.used == "n_params_nonembed" and used.substituted
    assert out["flops"].tolist() == [30.0, 60.0]  # 6 x 1 x 5, 6 x 2 x 5
    assert "flops" not in obs.columns  # rewritten in a copy
    assert used.notes == (
        "input: flops (training FLOPs (or 6 x n_params x n_tokens)) is missing, so 6 x "
        "n_params_nonembed x n_tokens (non-embedding parameters) stands in for it",
    )


def test_a_parameter_count_stands_in_for_flops_only_with_tokens() -> None:
    obs = _obs(n_params_nonembed=[1.0, 2.0], n_tokens=[5.0, NAN])
    with pytest.raises(ValueError) as err:
        resolve_inputs(obs, C, "w")
    assert str(err.value) == (
        "w: needs flops (training FLOPs (or 6 x n_params x n_tokens)) for every model; missing "
        "for ['m0', 'm1'] (and n_params_nonembed, accepted in its place, is missing for ['m1']) "
        "(and n_params, accepted in its place, is missing for ['m0', 'm1'])"
    )


def test_a_parameter_count_stands_in_for_another_without_tokens() -> None:
    """Only FLOPs need tokens: non-embedding parameters stand in for total ones as they are."""
    c = InputContract(size=("n_params", "n_params_nonembed"), series=(("t", "acc"),))
    other = _obs(n_params_nonembed=["n/a"]).assign(benchmark="u", model="z")
    obs = pd.concat([_obs(n_params_nonembed=[1.0, 2.0]), other], ignore_index=True)
    out, used = resolve_inputs(obs, c, "w")
    assert used.used == "n_params_nonembed"
    # another benchmark's text is no number: NaN there, no error (its rows are not fitted)
    assert out["n_params"].tolist()[:2] == [1.0, 2.0] and math.isnan(out["n_params"].iloc[2])


def test_flops_stand_in_reads_text_tokens_as_missing() -> None:
    other = _obs(n_params_nonembed=[1.0], n_tokens=["n/a"]).assign(benchmark="u", model="z")
    obs = pd.concat([_obs(n_params_nonembed=[1.0], n_tokens=[5.0]), other], ignore_index=True)
    out, _ = resolve_inputs(obs, C, "w")
    assert out["flops"].iloc[0] == 30.0 and math.isnan(out["flops"].iloc[1])


def test_a_non_flops_measure_is_copied_as_is() -> None:
    c = InputContract(size=("n_params", "n_params_nonembed", "my_size"), series=(("t", "acc"),))
    out, used = resolve_inputs(_obs(my_size=["7", 8.0]), c, "w")
    assert out["n_params"].tolist() == [7.0, 8.0]
    assert used.notes == (
        "input: n_params (total parameters) is missing, so my_size (a size column) stands in "
        "for it",
    )


def test_only_the_series_rows_are_checked() -> None:
    """A model of another benchmark lacking the measure does not block the fit."""
    obs = pd.concat([_obs(flops=[1.0, 2.0]), _obs(flops=[NAN]).assign(benchmark="u", model="z")])
    out, used = resolve_inputs(obs, C, "w")
    assert out is obs and used.used == "flops"
    lacking = obs.assign(flops=[1.0, NAN, NAN])
    with pytest.raises(ValueError, match=r"missing for \['m1'\] \(and"):
        resolve_inputs(lacking, C, "w")


def test_size_optional_keeps_rows_without_the_measure() -> None:
    c = InputContract(size=("flops",), series=(("t", "acc"),), size_optional=True)
    obs = _obs(flops=[NAN, 1.0])
    out, used = resolve_inputs(obs, c, "w")
    assert out is obs and used.used == "flops"


def test_other_needed_columns_are_named_with_the_models_lacking_them() -> None:
    c = InputContract(size=("flops",), columns=("release_date",), series=(("t", "acc"),))
    with pytest.raises(ValueError) as err:
        resolve_inputs(_obs(flops=[1.0, 2.0], release_date=[2020.0, NAN]), c, "w")
    assert str(err.value) == (
        "w: needs column 'release_date' (a size column) for every model; missing for ['m1']"
    )
    tokens = InputContract(size=("flops",), columns=("n_tokens",), series=(("t", "acc"),))
    with pytest.raises(ValueError, match=r"^w: needs column 'n_tokens' \(training tokens\) for"):
        resolve_inputs(_obs(flops=[1.0], n_tokens=[NAN]), tokens, "w")
    with pytest.raises(ValueError, match=r"^w: no rows for benchmark='u'"):
        resolve_inputs(_obs(flops=[1.0]), InputContract(size=("flops",), series=(("u", "a"),)), "w")
    no_model = _obs(flops=[1.0, 2.0]).drop(columns="model")
    with pytest.raises(ValueError, match=r"observations lack column 'model'; have \["):
        resolve_inputs(no_model, c, "w")


def test_missing_series_name_what_is_present() -> None:
    obs = _obs(flops=[1.0])
    with pytest.raises(ValueError) as err:
        series_rows(obs, InputContract(size=("flops",), series=(("t", "f1"),)), "w")
    assert (
        str(err.value)
        == "w: no rows for benchmark='t' metric='f1'; benchmark 't' has metric(s) ['acc']"
    )
    with pytest.raises(ValueError) as err:
        series_rows(obs, InputContract(size=("flops",), series=(("u", "acc"),)), "w")
    assert str(err.value) == "w: no rows for benchmark='u' metric='acc'; benchmarks present: ['t']"
    assert series_rows(obs, InputContract(size=("flops",)), "w") is obs  # no series: every row
    many = pd.DataFrame({"model": "m", "benchmark": [f"b{i:02d}" for i in range(25)],
                         "metric": [f"k{i:02d}" for i in range(25)], "value": 1.0})  # fmt: skip
    with pytest.raises(ValueError) as err:
        series_rows(many, InputContract(size=("flops",), series=(("zz", "acc"),)), "w")
    assert str(err.value).endswith("'b18', 'b19']")  # the first 20 benchmarks
    same = many.assign(benchmark="b")
    with pytest.raises(ValueError) as err:
        series_rows(same, InputContract(size=("flops",), series=(("b", "acc"),)), "w")
    assert str(err.value).endswith("'k18', 'k19']")  # the first 20 metrics


def test_item_contracts_need_per_item_rows() -> None:
    c = InputContract(size=("flops",), series=(("t", "acc"),), item_rows=True)
    task = _obs(flops=[1.0, 2.0])
    with pytest.raises(ValueError) as err:
        series_rows(task, c, "w")
    assert str(err.value) == (
        "w: no per-item rows for benchmark='t' metric='acc'; benchmark 't' has no per-item rows "
        "(column 'item')"
    )
    with pytest.raises(ValueError, match="has no per-item rows"):
        series_rows(task.assign(item=None), c, "w")
    mixed = task.assign(item=[None, "q1"])
    assert series_rows(mixed, c, "w")["model"].tolist() == ["m1"]
    other_metric = task.assign(item="q1", metric="pu")
    with pytest.raises(ValueError, match=r"benchmark 't' has metric\(s\) \['pu'\]"):
        series_rows(other_metric, c, "w")


def test_two_series_are_read_together() -> None:
    obs = pd.concat([_obs(flops=[1.0]), _obs(flops=[2.0]).assign(benchmark="u", model="z")])
    c = InputContract(size=("flops",), series=(("t", "acc"), ("u", "acc")))
    assert series_rows(obs, c, "w")["model"].tolist() == ["m0", "z"]


def test_targets_are_measured_as_the_fit_was() -> None:
    same = ResolvedInputs("flops", "flops")
    t = pd.DataFrame({"model": ["a", "b"], "n_params": [1.0, 2.0], "n_tokens": [5.0, NAN]})
    with pytest.raises(ValueError) as err:
        conform_targets(t, same, (), "w")
    assert str(err.value) == (
        "w: targets need flops (training FLOPs (or 6 x n_params x n_tokens); the fit used it); "
        "missing for ['b']"
    )
    stand = ResolvedInputs("flops", "n_params", ("note",))
    with pytest.raises(
        ValueError, match=r"the fit used it in place of flops\); missing for \['b'\]"
    ):
        conform_targets(t, stand, (), "w")
    ok = t.assign(n_tokens=[5.0, 10.0])
    assert conform_targets(ok, stand, (), "w")["flops"].tolist() == [30.0, 120.0]
    assert conform_targets(ok, same, (), "w") is ok
    with pytest.raises(ValueError) as err:
        conform_targets(ok, same, ("release_date",), "w")
    assert str(err.value) == "w: targets need column 'release_date'; missing for ['a', 'b']"
    unnamed = ok.drop(columns="model").set_axis(["7B", "13B"])  # targets named by their index
    with pytest.raises(ValueError, match=r"missing for \['13B', '7B'\]$"):
        conform_targets(unnamed, same, ("release_date",), "w")


def test_stand_in_notes_come_first() -> None:
    f = Forecast("x", "b", "acc", 0.5, 0.4, 0.6, 0.1, "m", notes=("own",))
    assert with_notes([f], ("input",))[0].notes == ("input", "own")
    same = [f]
    assert with_notes(same, ()) is same
