"""The backtest's rows and summary on a tiny case whose every number is worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors.backtest import ROW_COLUMNS, backtest
from predictors.base import Forecast, Forecaster
from predictors.filters import parse_filter

NAN = math.nan
#: model -> (actual value at the final checkpoint, point, lower, upper), rows in model order
CASES = {
    "u": (0.7, 0.65, 0.6, 0.7),  # inside, on the upper edge (inclusive); abs .05, rel .05/.7
    "v": (0.0, 0.1, NAN, NAN),  # predicted, no interval; actual 0: no relative error
    "w": (0.4, NAN, NAN, NAN),  # the method failed: counted in n only
    "x": (0.5, 0.4, 0.3, 0.6),  # inside; abs .1, rel .2
    "y": (0.8, 0.6, 0.5, 0.7),  # outside, above; abs .2, rel .25
    "z": (0.25, 0.3, 0.25, 0.35),  # inside, on the lower edge; abs .05, rel .2
}


class Fixed(Forecaster):
    """Forecasts read from ``table``; records what it was fitted on and asked for."""

    def __init__(
        self, *, benchmark: str = "task", metric: str = "acc", table: Any = None, log: Any = None
    ) -> None:
        self.benchmark, self.metric, self.table, self.log = benchmark, metric, table, log

    def fit(self, observations: pd.DataFrame) -> Fixed:
        self.log.append(("fit", sorted(set(observations["model"]))))
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        self.log.append(("predict", list(targets["model"]), list(targets.columns)))
        out = []
        for model in targets["model"]:
            point, lower, upper = self.table[model][1:]
            notes = (f"note {model}",)
            out.append(
                Forecast(model, "task", "acc", point, lower, upper, 0.2, "fixed", notes=notes)
            )
        return out


def observations() -> pd.DataFrame:
    rows = []
    for model, (actual, *_) in {"a": (0.1,), "b": (0.2,), **CASES}.items():
        size = 1e8 if model in "ab" else 1e10
        for step, value in ((1, actual - 0.05), (2, actual)):  # the final checkpoint counts
            rows.append(
                dict(model=model, family="f", n_params=size, n_tokens=20 * size,
                     checkpoint_step=step, benchmark="task", metric="acc", value=value)
            )  # fmt: skip
            rows.append({**rows[-1], "metric": "other", "value": 99.0})  # another metric
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


def test_rows_and_summary_by_hand() -> None:
    log: list[Any] = []
    est = Fixed(table=CASES, log=log)
    res = backtest(
        est,
        observations(),
        fit=parse_filter("n_params < 1e9"),
        predict=parse_filter("n_params > 1e9"),
    )
    assert log[0] == ("fit", ["a", "b"])
    assert log[1][:2] == ("predict", ["u", "v", "w", "x", "y", "z"])
    assert log[1][2] == ["model", "family", "n_params", "n_tokens"]  # target columns present
    assert len(log) == 2  # one fit (of a clone: its log is shared) and one predict
    r = res.rows
    assert list(r.columns) == list(ROW_COLUMNS)
    assert list(r["model"]) == list(CASES) and set(r["benchmark"]) == {"task"}
    assert set(r["metric"]) == {"acc"}
    assert r["actual"].tolist() == [c[0] for c in CASES.values()]
    abs_err = [0.05, 0.1, NAN, 0.1, 0.2, 0.05]
    rel_err = [0.05 / 0.7, NAN, NAN, 0.2, 0.25, 0.2]
    np.testing.assert_allclose(r["abs_error"], abs_err, rtol=1e-12)
    np.testing.assert_allclose(r["rel_error"], rel_err, rtol=1e-12)
    s = res.summary
    assert s == {
        "n": 6,
        "n_predicted": 5,  # not w
        "mean_abs_error": pytest.approx((0.05 + 0.1 + 0.1 + 0.2 + 0.05) / 5, rel=1e-12),
        "max_abs_error": pytest.approx(0.2, rel=1e-12),
        "mean_rel_error": pytest.approx((0.05 / 0.7 + 0.2 + 0.25 + 0.2) / 4, rel=1e-12),
        "coverage": 0.75,  # u, x, z inside of u, x, y, z (v has no interval)
        "nominal_coverage": pytest.approx(0.8, rel=1e-12),
    }
    assert res.summary_text() == (
        "Fixed: 5/6 predicted, mean abs error 0.1, max 0.2, mean rel error 18.04%, coverage 75%"
    )
    d = res.to_dict()
    assert (d["method"], d["fit"], d["predict"]) == ("Fixed", "n_params < 1e9", "n_params > 1e9")
    assert d["summary"] == s and len(d["rows"]) == 6
    assert d["rows"][1]["lower"] is None and d["rows"][1]["rel_error"] is None  # NaN -> null
    assert d["rows"][0]["notes"] == ["note u"] and d["rows"][5]["model"] == "z"


def test_summary_without_any_prediction_or_interval() -> None:
    """Nothing predicted: NaN means and coverage, not zeros; no forecasts: nominal is NaN."""
    table = {m: (a, NAN, NAN, NAN) for m, (a, *_) in CASES.items()}
    res = backtest(
        Fixed(table=table, log=[]),
        observations(),
        fit=parse_filter("n_params < 1e9"),
        predict=parse_filter("n_params > 1e9"),
    )
    s = res.summary
    assert (s["n"], s["n_predicted"]) == (6, 0)
    for key in ("mean_abs_error", "max_abs_error", "mean_rel_error", "coverage"):
        assert math.isnan(s[key]), key
    only_points = {m: (a, 0.5, NAN, NAN) for m, (a, *_) in CASES.items()}
    res = backtest(
        Fixed(table=only_points, log=[]),
        observations(),
        fit=parse_filter("n_params < 1e9"),
        predict=parse_filter("n_params > 1e9"),
    )
    assert res.summary["n_predicted"] == 6 and math.isnan(res.summary["coverage"])
    bare = type(res)("m", "f", "p", res.rows)
    assert math.isnan(bare.summary["nominal_coverage"])


FIT, PREDICT = parse_filter("n_params < 1e9"), parse_filter("n_params > 1e9")


def test_every_refusal_names_the_split() -> None:
    est = Fixed(table=CASES, log=[])
    obs = observations()
    with pytest.raises(ValueError, match=r"^backtest: observations lack column\(s\) \['value'\]"):
        backtest(est, obs.drop(columns="value"), fit=FIT, predict=PREDICT)
    with pytest.raises(TypeError, match=r"^backtest: fit must be a Filter, not None$"):
        backtest(est, obs, fit=None, predict=PREDICT)  # type: ignore[arg-type]  # the wrong type on purpose
    with pytest.raises(TypeError, match=r"^predict must be a Filter"):
        backtest(est, obs, fit=FIT, predict="n_params > 1e9")  # type: ignore[arg-type]  # as above
    with pytest.raises(ValueError, match=r"^backtest: the fit split: "):
        backtest(est, obs, fit=parse_filter("flops > 1"), predict=PREDICT)  # no flops column
    with pytest.raises(ValueError, match=r"^backtest: the predict split: "):
        backtest(est, obs, fit=FIT, predict=parse_filter("flops > 1"))
    with pytest.raises(
        ValueError, match=r"^backtest: the fit split 'n_params < 0' selects no rows$"
    ):
        backtest(est, obs, fit=parse_filter("n_params < 0"), predict=PREDICT)
    with pytest.raises(
        ValueError, match=r"^backtest: the predict split 'n_params < 0' has no task/acc rows$"
    ):
        backtest(est, obs, fit=FIT, predict=parse_filter("n_params < 0"))
    with pytest.raises(
        ValueError, match=r"^backtest: models in both splits: \['u', 'v', 'w', 'x', 'y'\]$"
    ):  # six shared, the first five named
        backtest(est, obs, fit=parse_filter("n_params > 0"), predict=PREDICT)


def test_a_forecast_per_target_or_an_error() -> None:
    class Short(Fixed):
        def predict(self, targets: pd.DataFrame) -> list[Forecast]:
            return super().predict(targets)[:-1]

    with pytest.raises(ValueError, match="zip"):
        backtest(Short(table=CASES, log=[]), observations(), fit=FIT, predict=PREDICT)


def test_to_dict_without_forecasts_has_no_notes() -> None:
    res = backtest(Fixed(table=CASES, log=[]), observations(), fit=FIT, predict=PREDICT)
    bare = type(res)("m", "f", "p", res.rows).to_dict()
    assert len(bare["rows"]) == 6 and "notes" not in bare["rows"][0]
