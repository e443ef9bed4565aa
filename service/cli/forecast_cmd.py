"""``capcast forecast``: one prediction for a model that has not been trained yet."""

from __future__ import annotations

from pathlib import Path

import typer

from predictors.registry import METHODS, make_predictor
from service.cli.backtest_cmd import load_observations, parse_params
from service.cli.common import emit_json, err_console, fail

TARGET_KEYS = ("n_params", "n_params_nonembed", "n_tokens", "flops")


def parse_target(raw: str) -> dict[str, float]:
    """'n_params=7e10,n_tokens=1.5e13' → {'n_params': 7e10, 'n_tokens': 1.5e13}."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in TARGET_KEYS:
            fail(f"--target: {part!r} is not KEY=VALUE with KEY in {', '.join(TARGET_KEYS)}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            fail(f"--target: {key.strip()}={val!r} is not a number")
    if not out:
        fail("--target is empty; e.g. 'n_params=7e10,n_tokens=1.5e13'")
    return out


def forecast(
    method: str = typer.Option(..., "--method", help=f"One of: {', '.join(sorted(METHODS))}."),
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

    t = parse_target(target)
    obs = load_observations(observations, family=family)
    if family is not None and "family" in obs.columns:
        obs = obs[obs["family"] == family]
    if obs.empty:
        fail(f"no observations{' for family ' + repr(family) if family else ''}")
    row = {"model": "target", **{k: t.get(k, float("nan")) for k in TARGET_KEYS}}
    try:
        est = make_predictor(
            method, benchmark=benchmark, metric=metric, alpha=alpha, **parse_params(params)
        )
        f = est.fit(obs).predict(pd.DataFrame([row]))[0]
    except (ValueError, FitError) as exc:
        fail(str(exc))
    if explain and hasattr(est, "summary"):
        typer.echo(est.summary(), err=as_json)  # stdout stays pure JSON with --json
    if as_json:
        emit_json(f.to_dict())
    else:
        typer.echo(f.summary())
    err_console.print(f.summary() if as_json else "", end="")
