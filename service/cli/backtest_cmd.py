"""``capcast backtest``: fit a predictor on one split of the observations, score it on another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from predictors.registry import METHODS, make_predictor
from service.cli.common import check_alpha, emit_json, err_console, fail, parse_filter_option

if TYPE_CHECKING:  # pandas and the predictors load in the command, not at CLI start-up
    import pandas as pd

    from predictors.base import BaseEstimator
    from predictors.filters import Filter


def load_observations(
    path: Path | None, *, benchmark: str | None = None, family: str | None = None
) -> pd.DataFrame:
    """Observations from FILE (validated) or, without one, from the database of record."""
    if path is not None:
        from db.errors import ImportValidationError
        from db.observations import read_observations

        try:
            return read_observations(path)
        except ImportValidationError as exc:
            fail(str(exc))
    import pandas as pd

    from db.queries import fetch_observations
    from db.session import make_engine, session_factory
    from service.forecasting import item_observations

    with session_factory(make_engine())() as session:
        obs = fetch_observations(session, family=family)
        items = item_observations(session, family=family)
    return pd.concat([obs, items], ignore_index=True) if len(items) else obs


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_params(raw: str | None) -> dict[str, Any]:
    """--params as a JSON object (NaN and Infinity refused); values are checked by the predictor."""
    if not raw:
        return {}
    try:
        params = json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError is a ValueError, and so is _no_constant's
        fail(f"--params is not valid JSON: {exc}")
    except RecursionError:
        fail("--params is nested too deeply")
    if not isinstance(params, dict):
        fail("--params must be a JSON object, e.g. '{\"n_bootstrap\": 100}'")
    return params


def build_predictor(method: str, params: str | None, **fixed: Any) -> BaseEstimator:
    """``make_predictor`` with --params; its refusal (unknown name, a cap, a filter) exits 2.

    Filter-valued parameters (``loss_fit``, ``error_fit``) are parsed by ``make_predictor`` with
    ``predictors.filters``; their text never reaches pandas.
    """
    if method not in METHODS:
        fail(f"--method: unknown method {method!r}; known: {', '.join(sorted(METHODS))}")
    extra = parse_params(params)
    try:
        return make_predictor(method, **fixed, **extra)
    except ValueError as exc:  # FilterError is a ValueError too
        fail(f"--params: {exc}" if extra else str(exc))


def check_filters(est: BaseEstimator, obs: pd.DataFrame, **options: Filter) -> None:
    """Evaluate every filter once on ``obs`` so one that parses but cannot apply (``model * 2``)
    exits 2 naming its option, or its parameter in --params, before any fitting starts."""
    from predictors.filters import Filter, FilterError

    named = [(f"{option} {str(f)!r}", f) for option, f in options.items()]
    for name in getattr(est, "_filter_params", ()):
        value = getattr(est, name, None)
        if isinstance(value, Filter):
            named.append((f"--params: {name} {str(value)!r}", value))
    for where, flt in named:
        try:
            flt.mask(obs)
        except FilterError as exc:
            fail(f"{where}: {exc}")


#: What a fit may raise on data it cannot fit (besides ValueError and FitError): an optimiser
#: that gives up, a missing column, a division by zero. Each becomes exit 2 with its message.
FIT_ERRORS: tuple[type[Exception], ...] = (ArithmeticError, LookupError, RuntimeError, TypeError)


def backtest(
    observations: Path | None = typer.Option(
        None,
        "--observations",
        help="Observations file (CSV, Parquet, JSON lines); default: the database, with per-item "
        "results for cod and passuntil.",
    ),
    family: str | None = typer.Option(
        None, "--family", help="With the database: only this family's models."
    ),
    method: str = typer.Option(
        "auto",
        "--method",
        help=f"One of: {', '.join(sorted(METHODS))}. auto (default) backtests every applicable "
        "method on the --fit rows only, takes the one that beats all others on those folds, "
        "else the median of their forecasts.",
    ),
    benchmark: str = typer.Option(..., "--benchmark", help="Benchmark to predict."),
    metric: str = typer.Option(
        "acc", "--metric", help="Metric to predict (acc, acc_norm, err, ...)."
    ),
    fit: str = typer.Option(
        ...,
        "--fit",
        help="Filter selecting the fit rows, e.g. 'n_params < 2e9' (column names, literals, "
        "comparisons, and/or/not, in [...] and + - * /; never run as Python).",
    ),
    predict: str = typer.Option(
        ...,
        "--predict",
        help="Filter selecting the predicted models (final checkpoints), e.g. 'n_params > 5e9'.",
    ),
    alpha: float = typer.Option(0.1, "--alpha", help="Interval miss rate (0.1: 90% intervals)."),
    params: str | None = typer.Option(
        None, "--params", help="Extra estimator parameters as a JSON object."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the rows and summary as JSON on stdout."
    ),
) -> None:
    """Fit METHOD on the --fit split and predict the --predict split; report errors and coverage."""
    from predictors.backtest import backtest as run_backtest
    from predictors.base import FitError
    from predictors.filters import FilterError

    check_alpha(alpha)
    fit_rows = parse_filter_option("--fit", fit)
    predict_rows = parse_filter_option("--predict", predict)
    est = build_predictor(method, params, benchmark=benchmark, metric=metric, alpha=alpha)
    obs = load_observations(observations, family=family)
    if obs.empty:
        fail(f"no observations{' for family ' + repr(family) if family else ''}")
    check_filters(est, obs, **{"--fit": fit_rows, "--predict": predict_rows})
    try:
        result = run_backtest(est, obs, fit=fit_rows, predict=predict_rows)
    except FilterError as exc:  # every filter applied above; kept so none ends in a traceback
        fail(f"--params: {exc}")
    except (ValueError, FitError) as exc:
        fail(str(exc))
    except FIT_ERRORS as exc:
        fail(f"{method} could not be fitted on the --fit rows: {type(exc).__name__}: {exc}")
    summary = result.summary
    if summary["n_predicted"] == 0:
        fail(
            f"{method} gave no finite prediction for any of the {summary['n']} --predict models "
            f"(fit on {str(fit_rows)!r}); nothing to score"
        )
    if as_json:
        emit_json(result.to_dict())
    else:
        err_console.print(result.rows.to_string(index=False))
    err_console.print(result.summary_text())
