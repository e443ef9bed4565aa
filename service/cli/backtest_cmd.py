"""``capcast backtest``: fit a predictor on one split of the observations, score it on another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from predictors.registry import METHODS, make_predictor
from service.cli.common import emit_json, err_console, fail

if TYPE_CHECKING:  # pandas and the predictors load in the command, not at CLI start-up
    import pandas as pd


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


def parse_params(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        params = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(f"--params is not valid JSON: {exc}")
    if not isinstance(params, dict):
        fail("--params must be a JSON object, e.g. '{\"n_bootstrap\": 100}'")
    return params


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
    method: str = typer.Option(..., "--method", help=f"One of: {', '.join(sorted(METHODS))}."),
    benchmark: str = typer.Option(..., "--benchmark", help="Benchmark to predict."),
    metric: str = typer.Option(
        "acc", "--metric", help="Metric to predict (acc, acc_norm, err, ...)."
    ),
    fit: str = typer.Option(
        ..., "--fit", help="pandas query selecting the fit rows, e.g. 'n_params < 2e9'."
    ),
    predict: str = typer.Option(
        ..., "--predict", help="pandas query selecting predicted models (final checkpoints)."
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

    obs = load_observations(observations, family=family)
    if obs.empty:
        fail(f"no observations{' for family ' + repr(family) if family else ''}")
    try:
        est = make_predictor(
            method, benchmark=benchmark, metric=metric, alpha=alpha, **parse_params(params)
        )
        result = run_backtest(est, obs, fit=fit, predict=predict)
    except (ValueError, FitError) as exc:
        fail(str(exc))
    if as_json:
        emit_json(result.to_dict())
    else:
        err_console.print(result.rows.to_string(index=False))
    err_console.print(result.summary_text())
