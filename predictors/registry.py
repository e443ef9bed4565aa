"""Method name → estimator class, for the CLI, REST and the backtest report.

Found by reading: one table of ``"module:ClassName"`` strings, no decorators. Classes are imported
on first use, so listing the names (``capcast --help``) costs no pandas, SciPy or COD clustering.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from predictors.base import Forecaster

#: Where each method's estimator lives; the only place a method is named.
_PATHS: dict[str, str] = {
    "gadre": "predictors.loss_accuracy:GadreChain",
    "ladder": "predictors.ladder:TwoStepLadder",
    "exponential": "predictors.baselines:ExponentialCompute",
    "sigmoid": "predictors.baselines:SigmoidLogCompute",
    "single_step": "predictors.baselines:SingleStep",
    "cod": "predictors.cod:CODForecaster",
    "passuntil": "predictors.passuntil:PassUntilForecaster",
    "auto": "predictors.auto:AutoForecaster",
    "observational": "predictors.observational:ObservationalScaling",
}


class LazyMethods(Mapping[str, "type[Forecaster]"]):
    """A read-only name → class mapping that imports a class's module only when it is looked up.

    Membership, ``len``, iteration and ``sorted(...)`` use the names alone; ``[...]``, ``.items()``
    and ``.values()`` import (once; Python caches modules).
    """

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)

    def __getitem__(self, name: str) -> type[Forecaster]:
        module, _, attr = self._paths[name].partition(":")
        cls: type[Forecaster] = getattr(importlib.import_module(module), attr)
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._paths!r})"


METHODS: Mapping[str, type[Forecaster]] = LazyMethods(_PATHS)


def make_predictor(method: str, **params: Any) -> Forecaster:
    """An estimator for ``method`` with checked ``params``; ValueError naming what is wrong.

    This is the boundary every caller (REST, jobs, CLI) goes through: filter parameters given as
    text are parsed by :func:`predictors.filters.parse_filter` (never evaluated as code), and every
    parameter is checked against its range and cost cap before any fitting starts.
    """
    from predictors.base import validate_params
    from predictors.filters import FilterError, parse_filter

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(sorted(METHODS))}")
    cls = METHODS[method]
    accepted = cls._param_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"method {method!r} has no parameter(s) {unknown}; accepted: {', '.join(accepted)}"
        )
    params = dict(params)
    for name in cls._filter_params:
        if isinstance(params.get(name), str):
            try:
                params[name] = parse_filter(params[name])
            except FilterError as exc:
                raise FilterError(f"method {method!r}: parameter {name}: {exc}") from None
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ValueError(f"method {method!r}: {exc}; accepted: {', '.join(accepted)}") from exc
    validate_params(estimator)
    return estimator
