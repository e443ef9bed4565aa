"""``capcast densing``: capacity density of models relative to a reference family, and its trend."""

from __future__ import annotations

from pathlib import Path

import typer

from service.cli.backtest_cmd import load_observations
from service.cli.common import emit_json, err_console, fail


def densing(
    observations: Path | None = typer.Option(None, "--observations", help="Observations file."),
    from_db: bool = typer.Option(False, "--from-db", help="Read observations from the database."),
    reference_family: str | None = typer.Option(
        None,
        "--reference-family",
        help="Family the density is relative to (default: picked with the other names).",
    ),
    benchmark: str | None = typer.Option(
        None, "--benchmark", help="Score benchmark, e.g. 'winogrande@5shot' (default: picked)."
    ),
    metric: str = typer.Option("acc", "--metric", help="Metric of the score benchmark."),
    loss_benchmark: str | None = typer.Option(
        None, "--loss-benchmark", help="Loss column benchmark (default: picked)."
    ),
    loss_metric: str | None = typer.Option(
        None,
        "--loss-metric",
        help="loss, bpb, or ppl (fitted in log); default: loss with the names given, else picked.",
    ),
    size_column: str | None = typer.Option(
        None,
        "--size-column",
        help="n_params or n_params_nonembed; default n_params with the names given, else picked.",
    ),
    ceiling: str = typer.Option(
        "auto",
        "--ceiling",
        help="Score curve's upper asymptote: auto (1.0 for a bounded accuracy of the benchmark "
        "registry, e.g. acc; fitted otherwise), fitted, or a number in (0, 1e6].",
    ),
    alpha: float = typer.Option(0.1, "--alpha", help="Interval miss rate: 0.1 gives 90%."),
    plot: Path | None = typer.Option(None, "--plot", help="Save the densing plot (PNG) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Fit the reference family's curves, compute every other model's density, fit the densing law.

    Target models are the final rows of --benchmark/--metric outside the reference family that
    have a release_date. With --from-db, a task name (``winogrande``) picks its shot variant in
    the database with the most such models, and the loss benchmark the same shots. Without
    --reference-family, --benchmark and --loss-benchmark, all three are picked as the dashboard
    picks them: the family with task and loss rows and the most models, its task with the most
    dated, sized models among those it scores clearly above chance on, and its loss set with
    the same shots.
    """
    from dataclasses import replace

    import numpy as np
    import pandas as pd

    from predictors.base import FitError
    from predictors.densing import DensityReference, density_table, fit_densing_law, plot_densing
    from service.densing_defaults import (
        LOSS_METRICS,
        PAPER_DOUBLING_DAYS,
        PAPER_SLOPE_PER_DAY,
        parse_ceiling,
        pick_default,
        resolve_ceiling,
        summarise,
    )

    if (observations is None) == (not from_db):
        fail("give exactly one of --observations FILE or --from-db")
    try:
        ceiling_arg = parse_ceiling(ceiling)
    except ValueError as exc:
        fail(f"--ceiling: {exc}")
    obs = load_observations(observations)
    names = (reference_family, benchmark, loss_benchmark)
    if any(names) and not all(names):
        fail("give all of --reference-family, --benchmark and --loss-benchmark, or none")
    if reference_family is None or benchmark is None or loss_benchmark is None:
        metrics = (*((loss_metric,) if loss_metric else LOSS_METRICS), metric)
        picked_default = pick_default(summarise(obs, metrics), metric=metric,
                                      loss_metric=loss_metric)  # fmt: skip
        if picked_default is None:
            fail(f"no family has both {metric} scores and loss rows ({', '.join(metrics[:-1])})")
        reference_family, benchmark = picked_default.reference_family, picked_default.benchmark
        loss_benchmark, loss_metric = picked_default.loss_benchmark, picked_default.loss_metric
        size_column = size_column or picked_default.size_column
        err_console.print(
            f"picked: reference family {reference_family}, {benchmark}/{metric}, loss set "
            f"{loss_benchmark}/{loss_metric}, size {size_column} "
            f"({picked_default.n_targets} dated, sized models outside {reference_family})"
        )
    loss_metric = loss_metric or "loss"
    size_column = size_column or "n_params"
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
    fixed_ceiling, ceiling_note = resolve_ceiling(ceiling_arg, benchmark, metric)
    ref = DensityReference(
        ceiling=fixed_ceiling,
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
        result = replace(result, notes=(*result.notes, ceiling_note))
    except (ValueError, FitError) as exc:
        fail(
            f"{exc} (reference fits: {ref.loss_fit_.status}/{ref.score_fit_.status}; "
            f"{int(np.isfinite(table['density']).sum())} of {len(table)} targets invertible)"
        )
    if plot is not None:
        plot_densing(result).savefig(plot, dpi=150)
        err_console.print(f"plot written to {plot}")
    paper = {"slope_per_day": PAPER_SLOPE_PER_DAY, "doubling_days": PAPER_DOUBLING_DAYS,
             "source": "Xiao et al. 2024, Densing Law of LLMs"}  # fmt: skip
    if as_json:
        emit_json({**result.to_dict(), "paper": paper})
    else:
        typer.echo(result.summary())
        typer.echo(
            f"  paper (Xiao et al. 2024): A = {PAPER_SLOPE_PER_DAY}/day, doubling time "
            f"{PAPER_DOUBLING_DAYS:.0f} days"
        )
