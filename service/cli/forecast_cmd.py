"""``capcast forecast``: one prediction for a model that has not been trained yet."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from predictors.registry import METHODS
from service.cli.backtest_cmd import FIT_ERRORS, build_predictor, check_filters, load_observations
from service.cli.common import check_alpha, emit_json, err_console, fail, finite_positive

TARGET_KEYS = ("n_params", "n_params_nonembed", "n_tokens", "flops")


def parse_target(raw: str) -> dict[str, float]:
    """'n_params=7e10,n_tokens=1.5e13' → {'n_params': 7e10, 'n_tokens': 1.5e13}.

    Every value must be a finite size above zero: a negative, zero, NaN or infinite size would
    give a null point from every law, so it is refused here (exit 2) naming --target.
    """
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in TARGET_KEYS:
            fail(f"--target: {part!r} is not KEY=VALUE with KEY in {', '.join(TARGET_KEYS)}")
        try:
            number = float(val)
        except ValueError:
            fail(f"--target: {key.strip()}={val!r} is not a number")
        out[key.strip()] = finite_positive("--target", number, what=key.strip())
    if not out:
        fail("--target is empty; e.g. 'n_params=7e10,n_tokens=1.5e13'")
    return out


def forecast(
    method: str = typer.Option(
        "auto",
        "--method",
        help=f"One of: {', '.join(sorted(METHODS))}. auto (default) backtests every applicable "
        "method on the fit data, takes the one that beats all others there, else the median "
        "of their forecasts, and calibrates the interval.",
    ),
    benchmark: str = typer.Option(..., "--benchmark", help="Benchmark (or loss set) to forecast."),
    target: str = typer.Option(..., "--target", help="e.g. 'n_params=7e10,n_tokens=1.5e13'."),
    metric: str = typer.Option(
        "acc", "--metric", help="Metric of the benchmark (acc, err, loss, ...)."
    ),
    family: str | None = typer.Option(None, "--family", help="Fit only on this family's models."),
    observations: Path | None = typer.Option(
        None, "--observations", help="File; default: the database."
    ),
    alpha: float = typer.Option(
        0.1, "--alpha", help="Interval miss rate: 0.1 gives a 90% interval."
    ),
    params: str | None = typer.Option(None, "--params", help="Extra estimator parameters (JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print the forecast as JSON on stdout."),
    explain: bool = typer.Option(
        False, "--explain", help="Also print the fitted predictor's stages (cod, passuntil)."
    ),
) -> None:
    """Fit METHOD on the observations (file or database) and forecast TARGET."""
    import pandas as pd

    from predictors.base import FitError
    from predictors.filters import FilterError

    check_alpha(alpha)
    t = parse_target(target)
    est = build_predictor(method, params, benchmark=benchmark, metric=metric, alpha=alpha)
    obs = load_observations(observations, family=family)
    if family is not None and "family" in obs.columns:
        obs = obs[obs["family"] == family]
    if obs.empty:
        fail(f"no observations{' for family ' + repr(family) if family else ''}")
    check_filters(est, obs)
    row = {"model": "target", **{k: t.get(k, float("nan")) for k in TARGET_KEYS}}
    try:
        f = est.fit(obs).predict(pd.DataFrame([row]))[0]
    except FilterError as exc:  # filter parameters applied above; kept so none is a traceback
        fail(f"--params: {exc}")
    except (ValueError, FitError) as exc:
        fail(str(exc))
    except FIT_ERRORS as exc:
        fail(f"{method} could not be fitted: {type(exc).__name__}: {exc}")
    if not math.isfinite(f.point):
        notes = "; ".join(f.notes)
        fail(
            f"{method} gave no finite forecast for --target {target!r} (point {f.point})"
            + (f": {notes}" if notes else "")
        )
    if explain and hasattr(est, "summary"):
        typer.echo(est.summary(), err=as_json)  # stdout stays pure JSON with --json
    if as_json:
        emit_json(f.to_dict())
    else:
        typer.echo(f.summary())
    err_console.print(f.summary() if as_json else "", end="")
