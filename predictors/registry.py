"""Method name → estimator class, for the CLI, REST and the backtest report.

Found by reading: one dict, no decorators. Methods owned by other modules (``cod``, ``passuntil``)
are added when those modules import cleanly.
"""

from __future__ import annotations

from typing import Any

from predictors.base import BaseEstimator
from predictors.baselines import ExponentialCompute, SigmoidLogCompute, SingleStep
from predictors.ladder import TwoStepLadder
from predictors.loss_accuracy import GadreChain

METHODS: dict[str, type[BaseEstimator]] = {
    "gadre": GadreChain,
    "ladder": TwoStepLadder,
    "exponential": ExponentialCompute,
    "sigmoid": SigmoidLogCompute,
    "single_step": SingleStep,
}

try:  # owned by the predictors-II helper
    from predictors.cod import CODForecaster

    METHODS["cod"] = CODForecaster
except ImportError:  # pragma: no cover - only while that module is missing
    pass
try:
    from predictors.passuntil import PassUntilForecaster

    METHODS["passuntil"] = PassUntilForecaster
except ImportError:  # pragma: no cover
    pass


def make_predictor(method: str, **params: Any) -> BaseEstimator:
    """An estimator for ``method`` with ``params``; ValueError naming the known methods or params."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(sorted(METHODS))}")
    cls = METHODS[method]
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(
            f"method {method!r}: bad parameters {sorted(params)}: {exc}; "
            f"accepted: {cls._param_names()}"
        ) from exc
