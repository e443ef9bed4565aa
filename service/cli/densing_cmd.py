"""``capcast densing``: capacity density of models relative to a reference family, and its trend."""

from __future__ import annotations

from pathlib import Path

import typer

from service.cli.backtest_cmd import load_observations
from service.cli.common import emit_json, err_console, fail


def densing(
    observations: Path | None = typer.Option(None, "--observations", help="Observations file."),
    from_db: bool = typer.Option(False, "--from-db", help="Read observations from the database."),
    reference_family: str = typer.Option(
        ..., "--reference-family", help="Family the density is relative to."
    ),
    benchmark: str = typer.Option(
        ..., "--benchmark", help="Score benchmark, e.g. 'winogrande@5shot'."
    ),
    metric: str = typer.Option("acc", "--metric", help="Metric of the score benchmark."),
    loss_benchmark: str = typer.Option(..., "--loss-benchmark", help="Loss column benchmark."),
    loss_metric: str = typer.Option(
        "loss", "--loss-metric", help="loss, bpb, or ppl (fitted in log)."
    ),
    size_column: str = typer.Option(
        "n_params", "--size-column", help="Size column: n_params or n_params_nonembed."
    ),
    ceiling: float | None = typer.Option(
        None, "--ceiling", help="Fix the score curve's upper asymptote (e.g. 1.0); default fitted."
    ),
    alpha: float = typer.Option(0.1, "--alpha", help="Interval miss rate: 0.1 gives 90%."),
    plot: Path | None = typer.Option(None, "--plot", help="Save the densing plot (PNG) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Fit the reference family's curves, compute every other model's density, fit the densing law.

    Target models are the final rows of --benchmark/--metric outside the reference family that
    have a release_date. With --from-db, a task name (``winogrande``) picks its shot variant in
    the database with the most such models, and the loss benchmark the same shots.
    """
    import numpy as np
    import pandas as pd

    from predictors.base import FitError
    from predictors.densing import DensityReference, density_table, fit_densing_law, plot_densing

    if (observations is None) == (not from_db):
        fail("give exactly one of --observations FILE or --from-db")
    obs = load_observations(observations)
    if from_db:
        from db.benchmark_registry import pick_variants

        benchmark, loss_benchmark, picked = pick_variants(
            obs,
            reference_family=reference_family,
            benchmark=benchmark,
            metric=metric,
            loss_benchmark=loss_benchmark,
            loss_metric=loss_metric,
            size_column=size_column,
        )
        for note in picked:
            err_console.print(note)
    ref = DensityReference(
        ceiling=ceiling,
        reference_family=reference_family,
        benchmark=benchmark,
        metric=metric,
        loss_benchmark=loss_benchmark,
        loss_metric=loss_metric,
        size_column=size_column,
    )
    try:
        ref.fit(obs)
    except (ValueError, FitError) as exc:
        fail(str(exc))
    t = obs[
        (obs["family"] != reference_family)
        & (obs["benchmark"] == benchmark)
        & (obs["metric"] == metric)
    ]
    t = t[t["release_date"].notna()].drop_duplicates("model", keep="last")
    models = pd.DataFrame(
        {
            "model": t["model"],
            "n_params": t[size_column].astype(float),
            "release_date": pd.to_datetime(t["release_date"]),
            "score": t["value"].astype(float),
        }
    )
    table = density_table(ref, models)
    try:
        result = fit_densing_law(table, ref.describe(), alpha=alpha)
    except (ValueError, FitError) as exc:
        fail(
            f"{exc} (reference fits: {ref.loss_fit_.status}/{ref.score_fit_.status}; "
            f"{int(np.isfinite(table['density']).sum())} of {len(table)} targets invertible)"
        )
    if plot is not None:
        plot_densing(result).savefig(plot, dpi=150)
        err_console.print(f"plot written to {plot}")
    if as_json:
        emit_json(result.to_dict())
    else:
        typer.echo(result.summary())
