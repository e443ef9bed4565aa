"""The estimator conventions and result types every predictor shares, on a toy estimator."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from predictors.base import (
    BaseEstimator,
    Forecast,
    Forecaster,
    NotFittedError,
    check_is_fitted,
    clone,
    require_columns,
    validate_params,
)
from predictors.filters import parse_filter


class Toy(BaseEstimator):
    """Every kind of rule ``validate_params`` knows."""

    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "n": (int, 1, 10),
        "mode": ("a", "b"),
        "kind": {"x", "y"},
        "low_only": (float, 0.5, None),
        "free": (float, None, None),
        "maybe": (type(None), None, None),
    }
    _filter_params: ClassVar[tuple[str, ...]] = ("where",)

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        n: int = 3,
        mode: str = "a",
        kind: str = "x",
        low_only: float = 1.0,
        free: float = -5.0,
        maybe: None = None,
        where: Any = None,
        **extra: Any,
    ) -> None:
        self.alpha, self.n, self.mode, self.kind = alpha, n, mode, kind
        self.low_only, self.free, self.maybe, self.where = low_only, free, maybe, where


def test_params_are_the_init_signature_without_var_keywords() -> None:
    t = Toy(n=4)
    assert Toy._param_names() == [
        "alpha", "n", "mode", "kind", "low_only", "free", "maybe", "where",
    ]  # fmt: skip
    assert t.get_params()["n"] == 4 and len(t.get_params()) == 8
    assert t.set_params(n=5, mode="b") is t and (t.n, t.mode) == (5, "b")
    with pytest.raises(ValueError) as err:
        t.set_params(extra=1)
    assert str(err.value) == (
        "Toy has no parameter 'extra'; valid: ['alpha', 'free', 'kind', 'low_only', 'maybe', "
        "'mode', 'n', 'where']"
    )
    assert repr(Toy()) == (
        "Toy(alpha=0.1, n=3, mode='a', kind='x', low_only=1.0, free=-5.0, maybe=None, where=None)"
    )


def test_clone_is_a_new_unfitted_copy_with_the_same_params() -> None:
    t = Toy(n=7)
    t.fitted_ = True
    c = clone(t)
    assert type(c) is Toy and c is not t and c.get_params() == t.get_params()
    assert not hasattr(c, "fitted_")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": 1.5}, "Toy: alpha=1.5 outside [0.0, 1.0]"),
        ({"alpha": -0.01}, "Toy: alpha=-0.01 outside [0.0, 1.0]"),
        ({"n": 11}, "Toy: n=11 outside [1, 10]"),
        ({"n": 0}, "Toy: n=0 outside [1, 10]"),
        ({"n": 2.0}, "Toy: n must be int, got float"),
        ({"n": True}, "Toy: n must be int, got bool"),
        ({"n": None}, "Toy: n must be a int, got None"),
        ({"alpha": "0.1"}, "Toy: alpha must be float, got str"),
        ({"alpha": math.nan}, "Toy: alpha must be finite, got nan"),
        ({"free": math.inf}, "Toy: free must be finite, got inf"),
        ({"low_only": 0.25}, "Toy: low_only=0.25 outside [0.5, None]"),
        ({"mode": "c"}, "Toy: mode='c'; allowed: ('a', 'b')"),
        ({"maybe": 3}, "Toy: maybe must be NoneType, got int"),
        ({"where": "n_params > 1"}, "Toy.where must be a Filter"),
    ],
)
def test_each_rule_refuses_with_the_culprit_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as err:
        validate_params(Toy(**params))
    assert str(err.value).startswith(message)


def test_values_on_the_bounds_and_ints_for_floats_are_accepted() -> None:
    for params in (
        {"alpha": 0.0}, {"alpha": 1.0}, {"alpha": 1}, {"n": 1}, {"n": 10}, {"mode": "b"},
        {"low_only": 1e300}, {"free": -1e300}, {"where": parse_filter("n_params > 1")},
    ):  # fmt: skip
        validate_params(Toy(**params))
    with pytest.raises(ValueError, match="Toy: kind='z'; allowed: "):
        validate_params(Toy(kind="z"))
    validate_params(Toy(kind="y"))


def test_a_rule_tuple_of_three_values_is_a_choice_not_a_range() -> None:
    class Three(BaseEstimator):
        _param_ranges: ClassVar[dict[str, Any]] = {"how": ("x", "y", "z")}

        def __init__(self, how: str = "x") -> None:
            self.how = how

    validate_params(Three("z"))
    with pytest.raises(ValueError, match=r"Three: how='w'; allowed: \('x', 'y', 'z'\)"):
        validate_params(Three("w"))


def test_check_is_fitted_looks_for_public_trailing_underscores() -> None:
    t = Toy()
    with pytest.raises(NotFittedError) as err:
        check_is_fitted(t)
    assert str(err.value) == "Toy is not fitted yet; call fit(observations) first"
    t._cache_ = 1  # private: does not count
    with pytest.raises(NotFittedError):
        check_is_fitted(t)
    t.coef_ = 1
    check_is_fitted(t)


def test_the_forecaster_contract_reads_its_declarations() -> None:
    class F(Forecaster):
        needs_columns: ClassVar[tuple[str, ...]] = ("release_date",)
        uses_item_rows: ClassVar[bool] = True

        def __init__(self, benchmark: str = "b", metric: str = "acc") -> None:
            self.benchmark, self.metric = benchmark, metric

    c = F().input_contract()
    assert c.size == ("flops", "n_params_nonembed") and c.columns == ("release_date",)
    assert c.series == (("b", "acc"),) and c.item_rows
    with pytest.raises(NotImplementedError):
        F().fit(pd.DataFrame())
    with pytest.raises(NotImplementedError):
        F().predict(pd.DataFrame())


def _f(**kw: Any) -> Forecast:
    base: dict[str, Any] = dict(
        target="7B", benchmark="mmlu", metric="acc", point=0.5, lower=0.25, upper=0.75,
        alpha=0.1, method="ladder",
    )  # fmt: skip
    return Forecast(**(base | kw))


def test_forecast_ok_needs_all_three_numbers_finite() -> None:
    assert _f().ok
    assert not _f(point=math.nan).ok and not _f(lower=-math.inf).ok and not _f(upper=math.nan).ok


class _Scalar:
    """A scalar type with only ``.item()`` (no ``.tolist()``)."""

    def item(self) -> int:
        return 3


def test_forecast_to_dict_is_plain_json() -> None:
    """numpy scalars and arrays of any size become JSON numbers and lists (an array of two
    values failed before: ``.item()`` was tried first)."""
    params = {"a": np.float64(0.5), "v": np.array([1, 2]), "o": object, "s": _Scalar()}
    f = _f(params=params, diagnostics={"m": np.zeros((2, 1))}, notes=("n",))
    d = f.to_dict()
    assert d["params"]["a"] == 0.5 and type(d["params"]["a"]) is float
    assert d["params"]["v"] == [1, 2] and d["params"]["o"] == str(object)
    assert d["params"]["s"] == 3 and d["diagnostics"]["m"] == [[0.0], [0.0]]
    assert d["notes"] == ["n"] and d["point"] == 0.5 and d["target"] == "7B"
    assert list(d) == [
        "target", "benchmark", "metric", "point", "lower", "upper", "alpha", "method", "params",
        "diagnostics", "notes",
    ]  # fmt: skip


def test_forecast_summary_reads_as_text() -> None:
    f = _f(alpha=0.2, params={"g": 0.123456, "n": 3, "fit": "all"}, notes=("first", "second"))
    assert f.summary() == (
        "ladder forecast of mmlu/acc for 7B\n"
        "  point 0.5   80% interval [0.25, 0.75]\n"
        "  parameters: g=0.1235, n=3, fit=all\n"
        "  [1] first\n"
        "  [2] second"
    )
    assert _f().summary().splitlines()[1] == "  point 0.5   90% interval [0.25, 0.75]"
    assert len(_f().summary().splitlines()) == 2  # no parameters, no notes: two lines


def test_require_columns_names_the_missing_ones_in_order() -> None:
    df = pd.DataFrame({"a": [1], "b": [2]})
    require_columns(df, ["a", "b"], "w")
    with pytest.raises(ValueError) as err:
        require_columns(df, ["z", "a", "y"], "w")
    assert str(err.value) == "w: observations lack column(s) ['z', 'y']; have ['a', 'b']"
