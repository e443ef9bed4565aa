"""What every predictor shares: the scikit-learn estimator conventions and the result types.

Predictors are pure functions of observation DataFrames (DESIGN.md, "Observations"): no database,
no HTTP, no global state. Parameters live in ``__init__``, ``fit`` returns ``self``, fitted state
ends in ``_``, and ``predict`` returns :class:`Forecast` objects that explain themselves.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import pandas as pd

if TYPE_CHECKING:
    from predictors.contracts import InputContract

#: The exchange format's columns, in order (DESIGN.md). ``stderr``, ``item`` and ``source`` are optional.
OBSERVATION_COLUMNS: tuple[str, ...] = (
    "model",
    "family",
    "n_params",
    "n_params_nonembed",
    "n_tokens",
    "flops",
    "release_date",
    "checkpoint_step",
    "benchmark",
    "metric",
    "value",
)
OPTIONAL_OBSERVATION_COLUMNS: tuple[str, ...] = ("stderr", "item", "source")

#: Caps on the parameters that multiply a fit's work, so no request can ask for unbounded work.
#: Documented in the README's "Security" section; a larger value is a ValueError naming the cap.
MAX_BOOTSTRAP = 10_000
MAX_EXPERIMENTS = 10_000


class FitError(RuntimeError):
    """A fit failed or is too ill-conditioned to trust; the message says which and why."""


class NotFittedError(RuntimeError):
    """``predict`` (or another fitted method) was called before ``fit``."""


class BaseEstimator:
    """scikit-learn's estimator contract, without the dependency on its private helpers.

    ``_param_ranges`` maps a parameter to ``(type, low, high)`` (``None`` = unbounded) or to a
    tuple/set of allowed values; :func:`validate_params` checks them at the top of ``fit``.
    """

    _param_ranges: ClassVar[dict[str, Any]] = {}
    #: Fits on per-item rows (``item`` set) as well as task-level ones: callers that read a
    #: database fetch the ``item_results`` view for it.
    uses_item_rows: ClassVar[bool] = False
    #: Parameters that hold a row filter: a parsed :class:`predictors.filters.Filter`, never text.
    _filter_params: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}; valid: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Forecaster(BaseEstimator):
    """An estimator that forecasts one benchmark/metric for target models (every registry method).

    Declares the attributes and methods that generic callers (the backtest, the service) use, so
    that they are type-checked instead of looked up blindly; subclasses implement both methods.
    """

    benchmark: str
    metric: str
    #: The size measures the method uses, its own first, then those it accepts in its place
    #: (predictors.contracts: a stand-in is said in every forecast's notes).
    size_measures: ClassVar[tuple[str, ...]] = ("flops", "n_params_nonembed")
    #: Other per-model columns the method needs besides the size measure.
    needs_columns: ClassVar[tuple[str, ...]] = ()

    def input_contract(self) -> InputContract:
        """What this method reads (a method whose parameters change it overrides this)."""
        from predictors.contracts import InputContract

        return InputContract(
            size=self.size_measures,
            columns=self.needs_columns,
            series=((self.benchmark, self.metric),),
            item_rows=self.uses_item_rows,
        )

    def fit(self, observations: pd.DataFrame) -> Self:
        raise NotImplementedError

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        raise NotImplementedError


E = TypeVar("E", bound=BaseEstimator)


def clone(estimator: E) -> E:
    """A new, unfitted estimator with the same parameters."""
    return type(estimator)(**estimator.get_params())


def validate_params(estimator: BaseEstimator) -> None:
    """Check every parameter against ``_param_ranges``; raise ValueError naming the culprit."""
    for name, rule in estimator._param_ranges.items():
        value = getattr(estimator, name)
        if (
            isinstance(rule, set | frozenset)
            or (isinstance(rule, tuple) and len(rule) != 3)
            or (isinstance(rule, tuple) and not isinstance(rule[0], type))
        ):
            allowed = tuple(rule)
            if value not in allowed:
                raise ValueError(
                    f"{type(estimator).__name__}: {name}={value!r}; allowed: {allowed}"
                )
            continue
        kind, low, high = rule
        if value is None and kind is not type(None):
            raise ValueError(
                f"{type(estimator).__name__}: {name} must be a {kind.__name__}, got None"
            )
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(
                f"{type(estimator).__name__}: {name} must be {kind.__name__}, got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{type(estimator).__name__}: {name} must be finite, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(
                f"{type(estimator).__name__}: {name}={value!r} outside [{low}, {high}]"
            )
    from predictors.filters import as_filter

    for name in estimator._filter_params:
        as_filter(getattr(estimator, name), f"{type(estimator).__name__}.{name}")


def check_is_fitted(estimator: BaseEstimator) -> None:
    fitted = [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]
    if not fitted:
        raise NotFittedError(
            f"{type(estimator).__name__} is not fitted yet; call fit(observations) first"
        )


@dataclass(frozen=True)
class Forecast:
    """One predicted value with its interval, and the caveats that travel with it.

    ``alpha`` is the interval's miss rate: ``alpha=0.1`` means a 90% interval.
    """

    target: str
    benchmark: str
    metric: str
    point: float
    lower: float
    upper: float
    alpha: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(math.isfinite(v) for v in (self.point, self.lower, self.upper))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        out: dict[str, Any] = json.loads(json.dumps(d, default=_json_default))
        return out

    def summary(self) -> str:
        level = round(100 * (1 - self.alpha))
        lines = [
            f"{self.method} forecast of {self.benchmark}/{self.metric} for {self.target}",
            f"  point {self.point:.6g}   {level}% interval [{self.lower:.6g}, {self.upper:.6g}]",
        ]
        if self.params:
            lines.append(
                "  parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
            )
        lines += [f"  [{i}] {note}" for i, note in enumerate(self.notes, 1)]
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars; ``.item()`` fails on arrays
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def require_columns(df: pd.DataFrame, columns: tuple[str, ...] | list[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: observations lack column(s) {missing}; have {list(df.columns)}")
