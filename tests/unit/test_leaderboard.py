"""The leaderboard's splits and aggregates on small frames whose errors are computed by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import predictors.leaderboard as lb
from predictors.base import FitError, Forecast, Forecaster


class LastFit(Forecaster):
    """Predicts, for every target, the fit value of the same model's last row if it has one,
    else of the largest fitted model; interval ± ``half``. Its errors are plain arithmetic."""

    def __init__(self, *, benchmark: str, metric: str = "acc", half: float = 0.15) -> None:
        self.benchmark, self.metric, self.half = benchmark, metric, half

    def fit(self, observations: pd.DataFrame) -> LastFit:
        rows = observations[observations["benchmark"] == self.benchmark]
        rows = rows.sort_values(["n_params", "n_tokens"])
        self.last_ = rows.groupby("model")["value"].last().to_dict()
        self.top_ = float(rows["value"].iloc[-1])
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        out = []
        for m in targets["model"]:
            p = float(self.last_.get(m, self.top_))
            out.append(Forecast(str(m), self.benchmark, self.metric, p, p - self.half,
                                p + self.half, 0.1, "last"))  # fmt: skip
        return out


class Refuser(LastFit):
    def fit(self, observations: pd.DataFrame) -> Refuser:
        raise FitError("too few points to fit")


class NaNPoint(LastFit):
    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        return [Forecast(str(m), self.benchmark, self.metric, math.nan, math.nan, math.nan, 0.1,
                         "nan", notes=("no forecast: law diverged",)) for m in targets["model"]]  # fmt: skip


def ladder(values: list[float], family: str = "f") -> pd.DataFrame:
    """Models m1..mk, n_params 1e8·i, 1e9 tokens each (compute grows with i), one score each."""
    return pd.DataFrame({
        "model": [f"m{i + 1}" for i in range(len(values))], "family": family,
        "n_params": [1e8 * (i + 1) for i in range(len(values))], "n_tokens": 1e9,
        "benchmark": "b", "metric": "acc", "value": values, "source": "lab",
    })  # fmt: skip


def test_largest_splits_hold_out_by_compute_with_ties() -> None:
    obs = ladder([0.1, 0.2, 0.3, 0.4, 0.5])
    tie = obs.iloc[[4]].assign(model="m5b", value=0.55)  # same N and D as m5: same compute
    loss = obs.assign(benchmark="loss", metric="loss", value=3.0)  # another benchmark, kept
    splits = lb.largest_splits(pd.concat([obs, tie, loss], ignore_index=True), "b", "acc")
    assert [s.name for s in splits] == ["largest", "two_largest"]
    largest, two = splits
    assert sorted(largest.actual["model"]) == ["m5", "m5b"]
    assert sorted(largest.fit["model"].unique()) == ["m1", "m2", "m3", "m4"]
    assert set(largest.fit["benchmark"]) == {"b", "loss"}  # a chain method's loss rows stay
    assert sorted(two.actual["model"]) == ["m4", "m5", "m5b"]
    assert sorted(two.fit["model"].unique()) == ["m1", "m2", "m3"]
    # three compute values: holding out two would leave one to fit on, so only "largest"
    assert [s.name for s in lb.largest_splits(ladder([0.1, 0.2, 0.3]), "b", "acc")] == ["largest"]


def checkpointed() -> pd.DataFrame:
    """Models a (10 steps) and c (5 steps), 1e8 tokens a step; value = 0.01·step (+0.1 for c)."""
    rows = []
    for model, n, last, offset in (("a", 1e8, 10, 0.0), ("c", 2e8, 5, 0.1)):
        for step in range(last + 1):
            rows.append({"model": model, "family": "f", "n_params": n, "n_tokens": 1e8 * step,
                         "checkpoint_step": step, "benchmark": "b", "metric": "acc",
                         "value": 0.01 * step + offset})  # fmt: skip
    return pd.DataFrame(rows)


def test_checkpoint_split_cuts_each_model_at_its_own_60_percent() -> None:
    split = lb.checkpoint_split(checkpointed(), "b", "acc")
    assert split is not None and split.name == "checkpoints"
    last_fit = split.fit.groupby("model")["checkpoint_step"].max().to_dict()
    assert last_fit == {"a": 6, "c": 3}  # 0.6·10 and floor(0.6·5)
    assert dict(zip(split.actual["model"], split.actual["checkpoint_step"], strict=True)) == {
        "a": 10, "c": 5,
    }  # fmt: skip
    assert lb.checkpoint_split(ladder([0.1, 0.2, 0.3]), "b", "acc") is None  # no steps at all
    late = checkpointed()
    late = late[(late["checkpoint_step"] > 7) | (late["model"] == "c")]  # a: steps 8-10 only
    split = lb.checkpoint_split(late, "b", "acc")
    assert split is not None and split.actual["model"].tolist() == ["c"]  # a: nothing to fit on
    assert lb.checkpoint_split(late[late["model"] == "a"], "b", "acc") is None


def test_score_split_errors_coverage_and_refusals_by_hand() -> None:
    split = lb.checkpoint_split(checkpointed(), "b", "acc")
    assert split is not None
    rows = pd.DataFrame(lb.score_split(LastFit(benchmark="b"), split)).set_index("model")
    # a: predicted 0.06 (step 6) for 0.10; c: 0.13 (step 3) for 0.15
    assert rows.loc["a", "abs_error"] == pytest.approx(0.04, abs=1e-12)
    assert rows.loc["c", "abs_error"] == pytest.approx(0.02, abs=1e-12)
    assert rows["inside"].tolist() == [True, True]  # both within ±0.15
    refused = lb.score_split(Refuser(benchmark="b"), split)
    assert [r["refusal"] for r in refused] == ["FitError: too few points to fit"] * 2
    assert all(math.isnan(r["abs_error"]) for r in refused)
    nan = lb.score_split(NaNPoint(benchmark="b"), split)
    assert [r["refusal"] for r in nan] == ["no forecast: law diverged"] * 2


def _fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    classes: dict[str, type[LastFit]] = {"last": LastFit, "refuser": Refuser}

    def estimator(method: str, benchmark: str, metric: str, *_: Any) -> Forecaster:
        return classes[method](benchmark=benchmark, metric=metric)

    monkeypatch.setattr(lb, "_estimator", estimator)
    monkeypatch.setattr("predictors.registry.METHODS", classes)


def test_leaderboard_aggregates_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_registry(monkeypatch)
    obs = pd.concat([ladder([0.1, 0.2, 0.3, 0.4, 0.5]),
                     ladder([0.2, 0.2, 0.2, 0.2, 0.6], family="g").assign(source="other")])  # fmt: skip
    board = lb.leaderboard(obs, methods=["last", "refuser"])
    # f: largest predicts 0.4 for 0.5 (0.1, inside ±0.15); two largest predicts 0.3 for 0.4 and
    #    0.5 (0.1 inside, 0.2 outside). g: largest 0.2 for 0.6 (0.4, outside); two largest 0.2
    #    for 0.2 and 0.6 (0 inside, 0.4 outside). Six targets per method.
    table = board.table().set_index("method")
    last = table.loc["last"]
    assert (last["n"], last["n_predicted"], last["n_refused"], last["n_cells"]) == (6, 6, 0, 2)
    assert last["mean_abs_error"] == pytest.approx((0.1 + 0.1 + 0.2 + 0.4 + 0.0 + 0.4) / 6)
    assert last["max_abs_error"] == pytest.approx(0.4)
    assert last["coverage"] == pytest.approx(3 / 6)
    refuser = table.loc["refuser"]
    assert (refuser["n"], refuser["n_predicted"], refuser["n_refused"]) == (6, 0, 6)
    assert math.isnan(refuser["mean_abs_error"])
    assert table.index.tolist() == ["last", "refuser"]  # ranked by error, refusers last
    by_dataset = board.by_dataset().set_index(["dataset", "method"])
    assert by_dataset.loc[("lab", "last"), "mean_abs_error"] == pytest.approx(0.4 / 3)
    assert by_dataset.loc[("other", "last"), "mean_abs_error"] == pytest.approx(0.8 / 3)
    cells = board.cells()
    first = cells[(cells["method"] == "refuser") & (cells["split"] == "largest")]
    assert first["refusal"].tolist() == ["FitError: too few points to fit"] * 2
    data = board.to_dict()
    assert data["n_cells"] == data["n_cells_total"] == 2 and data["notes"] == []
    capped = lb.leaderboard(obs, methods=["last"], max_cells=1)
    assert capped.n_cells == 1 and capped.n_cells_total == 2
    assert "1 of 2 cells left out by max_cells=1" in capped.notes[0]


def test_leaderboard_rejects_bad_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_registry(monkeypatch)
    obs = ladder([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="unknown method"):
        lb.leaderboard(obs, methods=["nope"])
    with pytest.raises(ValueError, match="max_cells=501"):
        lb.leaderboard(obs, methods=["last"], max_cells=501)
    with pytest.raises(ValueError, match=r"no .* cell matches"):
        lb.leaderboard(obs, methods=["last"], benchmarks=["absent"])


def test_exponential_on_its_own_law_is_near_exact_and_deterministic() -> None:
    """On scores drawn from the exponential law itself the backtest error is the fit's only:
    the law is recovered to ~1e-6 in a few least-squares steps, so 1e-3 is a loose bound."""
    n = np.geomspace(1e8, 1e10, 7)
    c = 6 * n * 20 * n
    obs = pd.DataFrame({"model": [f"m{i}" for i in range(7)], "family": "f", "n_params": n,
                        "n_tokens": 20 * n, "benchmark": "b", "metric": "acc",
                        "value": 0.25 + 0.75 * np.exp(-0.8 * (c / 1e18) ** -0.3)})  # fmt: skip
    one = lb.leaderboard(obs, methods=["exponential"], n_bootstrap=20, random_state=3)
    two = lb.leaderboard(obs, methods=["exponential"], n_bootstrap=20, random_state=3)
    pd.testing.assert_frame_equal(one.rows, two.rows)
    row = one.table().iloc[0]
    assert row["n"] == 3 and row["n_refused"] == 0  # largest (1) + two largest (2)
    assert row["max_abs_error"] < 1e-3
