"""``capcast leaderboard``: every method backtested on every family and benchmark, in one table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.cli.common import emit_json, err_console, fail

if TYPE_CHECKING:  # rich tables only; pandas and the predictors load in the command
    from rich.table import Table


def _num(value: Any, fmt: str = ".4f") -> str:
    return "-" if value is None or value != value else format(value, fmt)


def board_table(rows: list[dict[str, Any]], title: str, keys: tuple[str, ...] = ()) -> Table:
    """A rich table of leaderboard rows (per method, or per ``keys`` and method)."""
    from rich.table import Table

    table = Table(title=title)
    cols = (*keys, "method", "targets", "predicted", "refused", "mean |err|", "max |err|",
            "coverage")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col in (*keys, "method") else "right")
    for r in rows:
        table.add_row(
            *(str(r[k]) for k in keys), r["method"], str(r["n"]), str(r["n_predicted"]),
            str(r["n_refused"]), _num(r["mean_abs_error"]), _num(r["max_abs_error"]),
            _num(r["coverage"], ".0%"),
        )  # fmt: skip
    return table


def leaderboard(
    observations: Annotated[
        Path | None,
        typer.Option("--observations", help="Observations file (default: the database)."),
    ] = None,
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated methods (default: every registered one).")
    ] = None,
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    benchmark: Annotated[str | None, typer.Option(help="Only this benchmark.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    max_cells: Annotated[
        int, typer.Option(help="Most (family, benchmark, metric) cells scored (at most 500).")
    ] = 24,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per fit.")] = 100,
    random_state: Annotated[int, typer.Option(help="Seed of every method.")] = 0,
    pooled: Annotated[
        bool,
        typer.Option(
            "--pooled",
            help="One cell per benchmark over every family (at least 3), the models above the "
            "75% quantile of training FLOPs held out: for methods that learn across families "
            "(observational).",
        ),
    ] = False,
    pooled_split: Annotated[
        str,
        typer.Option(
            "--pooled-split",
            help="With --pooled: 'cutoff' (the default) or 'lofo' (each family held out in "
            "turn and forecast from the others; one fit per family, so slower).",
        ),
    ] = "cutoff",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole leaderboard as JSON on stdout.")
    ] = False,
) -> None:
    """Backtest every method on every (family, benchmark, metric) with the standard splits: the
    largest model(s) held out, the two largest, and each model's final checkpoint from its first
    60% of training. Reports per method n, mean and max absolute error, 90%-interval coverage and
    refusals (targets a method gave no forecast for). Reads CAPCAST_DATABASE_URL unless
    --observations is given."""
    import warnings

    from predictors.leaderboard import leaderboard as run
    from service.cli.backtest_cmd import load_observations

    obs = load_observations(observations, family=family)
    if obs.empty:
        fail(f"no observations{' for family ' + repr(family) if family else ''}")
    chosen = [m.strip() for m in (methods or "").split(",") if m.strip()] or None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small fits warn; refusals are in the table
            result = run(
                obs, methods=chosen, families=[family] if family else None,
                benchmarks=[benchmark] if benchmark else None, metrics=[metric] if metric else None,
                max_cells=max_cells, n_bootstrap=n_bootstrap, random_state=random_state,
                pooled=pooled, pooled_split=pooled_split,
            )  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    data = result.to_dict()
    err_console.print(board_table(data["table"], "forecast-quality leaderboard"))
    if not as_json:
        err_console.print(board_table(data["by_dataset"], "per dataset", ("dataset",)))
    err_console.print(result.explanation(), highlight=False)
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False)
    if as_json:
        emit_json(data)
