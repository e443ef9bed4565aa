"""Pooled leaderboard cells: one cell per benchmark over every family, for the methods that
learn across families (observational), with the models above a compute quantile held out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import predictors.leaderboard as lb
from predictors.observational import OPENLLM_V1
from service.cli import app


def families(offsets: dict[str, float], sizes: int = 6, seed: int = 0) -> pd.DataFrame:
    """Families of ``sizes`` models, 1e20..1e23 FLOPs; a capability of log10 FLOPs - 21.5 plus
    the family's offset drives the six Open LLM v1 scores (linear) and target ``t`` (a sigmoid
    from 0.25 to 1), with noise sd 0.003."""
    rng = np.random.default_rng(seed)
    rows = []
    for fam, off in offsets.items():
        for lc in np.linspace(20.0, 23.0, sizes):
            cap = lc - 21.5 + off
            model = f"{fam}-{lc:.1f}"
            scores = {label: 0.45 + (0.06 + 0.01 * j) * cap for j, label in enumerate(OPENLLM_V1)}
            scores["t/acc"] = 0.25 + 0.75 / (1.0 + np.exp(-1.5 * cap))
            for label, value in scores.items():
                bench, _, metric = label.rpartition("/")
                rows.append({"model": model, "family": fam, "flops": 10**lc, "n_params": np.nan,
                             "n_tokens": np.nan, "benchmark": bench, "metric": metric,
                             "value": float(value + rng.normal(0.0, 0.003)),
                             "source": "synthetic"})  # fmt: skip
    return pd.DataFrame(rows)


def test_cutoff_split_holds_out_above_the_quantile_of_flops_across_families() -> None:
    obs = families({"a": 0.0, "b": 0.4, "c": -0.4}, sizes=4)
    n_only = obs[obs["model"] == "a-20.0"].assign(model="n-only", family="d", flops=np.nan,
                                                  n_params=1e9)  # fmt: skip
    split = lb.cutoff_split(pd.concat([obs, n_only], ignore_index=True), "t", "acc")
    assert split is not None and split.name == "cutoff"
    # 12 computes, 3 at each of 1e20, 1e21, 1e22, 1e23: the 75% quantile lies between the last
    # two, so the three 1e23 models are held out
    assert sorted(split.actual["model"]) == ["a-23.0", "b-23.0", "c-23.0"]
    fit_models = set(split.fit["model"])
    assert len(fit_models) == 9 and not fit_models & set(split.actual["model"])
    assert "n-only" not in fit_models  # parameters alone do not compare across families
    assert set(split.fit["benchmark"]) == {"t", *(b.rpartition("/")[0] for b in OPENLLM_V1)}
    # a stricter quantile holds out more; nothing left to fit on gives no split
    assert len(lb.cutoff_split(obs, "t", "acc", quantile=0.5).actual) == 6
    assert lb.cutoff_split(obs[obs["flops"] >= 1e23], "t", "acc") is None


def test_pooled_cells_let_observational_forecast_where_family_cells_refuse() -> None:
    obs = families({"a": 0.0, "b": 0.5, "c": -0.5, "d": 0.25})
    pooled = lb.leaderboard(obs, methods=["observational"], benchmarks=["t"], pooled=True,
                            n_bootstrap=20)  # fmt: skip
    rows = pooled.rows
    assert set(rows["family"]) == {lb.POOLED} and set(rows["split"]) == {"cutoff"}
    assert (rows["refusal"] == "").all() and len(rows) == 4  # the four 1e23 models
    assert rows["abs_error"].max() < 0.05  # the planned path: family offset + FLOPs
    assert set(rows["dataset"]) == {"synthetic"}
    assert any("pooled" in note for note in pooled.notes)
    per_family = lb.leaderboard(obs, methods=["observational"], benchmarks=["t"],
                                n_bootstrap=0)  # fmt: skip
    assert (per_family.rows["refusal"] != "").all()  # one family is too few to learn across


def test_pooled_cells_need_three_families() -> None:
    obs = families({"a": 0.0, "b": 0.5})
    with pytest.raises(ValueError, match="at least 3 families; the most any has is 2"):
        lb.leaderboard(obs, methods=["sigmoid"], pooled=True, n_bootstrap=0)
    # families= narrows the pool before counting
    three = families({"a": 0.0, "b": 0.5, "c": -0.5})
    with pytest.raises(ValueError, match="the most any has is 2"):
        lb.leaderboard(three, methods=["sigmoid"], families=["a", "b"], pooled=True)


def test_cli_pooled_flag(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    families({"a": 0.0, "b": 0.5, "c": -0.5}).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["leaderboard", "--observations", str(path), "--pooled",
                                 "--methods", "sigmoid", "--benchmark", "t", "--n-bootstrap",
                                 "10", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {(c["family"], c["split"]) for c in out["cells"]} == {(lb.POOLED, "cutoff")}
    assert out["table"][0]["n"] == 3  # the three 1e23 models


def test_lofo_splits_hold_out_each_family_whole() -> None:
    """One split per family: its models held out, every row of the other families fitted (a
    family's model without the target is not fitted either); parameters-only models stay out."""
    obs = families({"a": 0.0, "b": 0.4, "c": -0.4}, sizes=4)
    base_only = obs[(obs["model"] == "a-21.0") & (obs["benchmark"] != "t")].assign(model="a-x")
    n_only = obs[obs["model"] == "b-20.0"].assign(model="n-only", family="d", flops=np.nan,
                                                  n_params=1e9)  # fmt: skip
    splits = lb.lofo_splits(pd.concat([obs, base_only, n_only], ignore_index=True), "t", "acc")
    assert [s.name for s in splits] == ["lofo"] * 3
    assert [s.description for s in splits] == [f"hold out family {f} (4 models)" for f in "abc"]
    for fam, split in zip("abc", splits, strict=True):
        assert sorted(split.actual["model"]) == [f"{fam}-{lc:.1f}" for lc in (20, 21, 22, 23)]
        assert set(split.fit["family"]) == set("abc") - {fam}
        assert len(set(split.fit["model"])) == 8 + (fam != "a")  # a-x fitted beside b and c
        assert "n-only" not in set(split.fit["model"])


def test_lofo_skips_a_family_whose_absence_leaves_one_compute() -> None:
    """b and c have one model each at 1e21: without a, one compute value is left (no fit), so
    only b and c are held out."""
    a = families({"a": 0.0}, sizes=4)
    one = families({"b": 0.4, "c": -0.4}, sizes=4)
    one = one[one["model"].str.endswith("-21.0")]
    splits = lb.lofo_splits(pd.concat([a, one], ignore_index=True), "t", "acc")
    assert [sorted(s.actual["model"]) for s in splits] == [["b-21.0"], ["c-21.0"]]


def test_pooled_lofo_leaderboard_and_its_argument_checks() -> None:
    obs = families({"a": 0.0, "b": 0.5, "c": -0.5, "d": 0.25})
    board = lb.leaderboard(obs, methods=["observational"], benchmarks=["t"], pooled=True,
                           pooled_split="lofo", n_bootstrap=10)  # fmt: skip
    rows = board.rows
    assert set(rows["split"]) == {"lofo"} and len(rows) == 24  # every model of four families
    assert (rows["refusal"] == "").all()
    assert any("each family held out in turn" in n for n in board.notes)
    # an unseen family gets the mean offset of the other three: off by 0.083 (a), 0.25 (d),
    # 0.583 (b) and 0.75 (c) in capability, so its errors rank the families in that order
    err = rows.assign(fam=rows["model"].str[0]).groupby("fam")["abs_error"].mean()
    assert list(err.sort_values().index) == ["a", "d", "b", "c"]
    with pytest.raises(ValueError, match=r"pooled_split='x' is not one of \['cutoff', 'lofo'\]"):
        lb.leaderboard(obs, methods=["sigmoid"], pooled=True, pooled_split="x")
    with pytest.raises(ValueError, match="pooled_split='lofo' needs pooled=True"):
        lb.leaderboard(obs, methods=["sigmoid"], pooled_split="lofo")


def test_cli_pooled_lofo(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    families({"a": 0.0, "b": 0.5, "c": -0.5}).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["leaderboard", "--observations", str(path), "--pooled",
                                 "--pooled-split", "lofo", "--methods", "sigmoid", "--benchmark",
                                 "t", "--n-bootstrap", "10", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {(c["family"], c["split"]) for c in out["cells"]} == {(lb.POOLED, "lofo")}
    assert out["table"][0]["n"] == 18  # three families of six
    bad = CliRunner().invoke(app, ["leaderboard", "--observations", str(path),
                                   "--pooled-split", "lofo", "--methods", "sigmoid"])  # fmt: skip
    assert bad.exit_code != 0 and "needs pooled=True" in bad.output
