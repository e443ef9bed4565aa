"""make_predictor, the one boundary callers go through: names, parameters, filters, ranges.

The name -> class table itself is checked in test_cli_startup.py against a table spelled out
there; these tests check what the boundary refuses and what it hands back.
"""

from __future__ import annotations

import pytest

from predictors.baselines import SigmoidLogCompute
from predictors.filters import Filter, FilterError
from predictors.loss_accuracy import GadreChain
from predictors.registry import METHODS, LazyMethods, make_predictor


def test_unknown_method_lists_the_known_ones_sorted() -> None:
    with pytest.raises(ValueError) as err:
        make_predictor("magic")
    known = str(err.value).removeprefix("unknown method 'magic'; known: ").split(", ")
    # the table lists gadre first; the message sorts (methods are added, so no fixed list here)
    assert known == sorted(METHODS) and {"auto", "cod", "gadre", "single_step"} <= set(known)


def test_unknown_parameters_are_named_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError) as err:
        make_predictor("sigmoid", benchmark="t", zeta=1, wings=3)
    assert str(err.value) == (
        "method 'sigmoid' has no parameter(s) ['wings', 'zeta']; accepted: benchmark, metric, "
        "checkpoints, alpha, n_bootstrap, random_state"
    )


def test_a_missing_required_parameter_is_a_value_error_not_a_type_error() -> None:
    """SigmoidLogCompute needs ``benchmark``; the constructor's TypeError becomes a ValueError."""
    with pytest.raises(
        ValueError, match=r"^method 'sigmoid': .*benchmark.*; accepted: benchmark, metric, "
    ) as e:
        make_predictor("sigmoid")
    assert isinstance(e.value.__cause__, TypeError)


def test_parameters_reach_the_estimator_and_are_range_checked() -> None:
    est = make_predictor("sigmoid", benchmark="t", alpha=0.2, n_bootstrap=7)
    assert type(est) is SigmoidLogCompute
    assert (est.benchmark, est.alpha, est.n_bootstrap) == ("t", 0.2, 7)
    with pytest.raises(ValueError, match=r"alpha=1\.5 outside \[0\.0, 1\.0\]"):
        make_predictor("sigmoid", benchmark="t", alpha=1.5)


def test_filter_text_is_parsed_into_a_filter_and_the_caller_dict_is_left_alone() -> None:
    params = {"loss_fit": "n_params >= 1e8", "error_fit": None}
    est = make_predictor("gadre", **params)
    assert type(est) is GadreChain
    assert isinstance(est.loss_fit, Filter) and str(est.loss_fit) == "n_params >= 1e8"
    assert est.error_fit is None
    assert params["loss_fit"] == "n_params >= 1e8"  # the caller's mapping is not rewritten


def test_a_bad_filter_names_method_and_parameter() -> None:
    with pytest.raises(FilterError) as err:
        make_predictor("gadre", error_fit="   ")
    assert str(err.value) == "method 'gadre': parameter error_fit: the filter is empty"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_lazy_methods_is_a_read_only_mapping_over_its_own_copy() -> None:
    paths = {"g": "predictors.loss_accuracy:GadreChain"}
    m = LazyMethods(paths)
    paths["x"] = "nowhere:Nothing"  # the mapping copied its table
    assert list(m) == ["g"] and len(m) == 1 and "g" in m and "x" not in m and 3 not in m
    assert m["g"] is GadreChain and dict(m.items()) == {"g": GadreChain}
    assert repr(m) == "LazyMethods({'g': 'predictors.loss_accuracy:GadreChain'})"
    with pytest.raises(KeyError):
        m["x"]
    assert len(METHODS) >= 8 and "cod" in METHODS


def test_each_method_name_finds_its_estimator_class() -> None:
    """The documented methods (README) against their classes, imported here directly."""
    from predictors.auto import AutoForecaster
    from predictors.baselines import ExponentialCompute, SingleStep
    from predictors.cod import CODForecaster
    from predictors.ladder import TwoStepLadder
    from predictors.passuntil import PassUntilForecaster

    expected = {
        "gadre": GadreChain, "ladder": TwoStepLadder, "exponential": ExponentialCompute,
        "sigmoid": SigmoidLogCompute, "single_step": SingleStep, "cod": CODForecaster,
        "passuntil": PassUntilForecaster, "auto": AutoForecaster,
    }  # fmt: skip
    assert {name: METHODS[name] for name in expected} == expected
