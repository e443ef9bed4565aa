"""``capcast track-record``: how the stored forecasts did once their targets were measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.cli.common import emit_json, err_console

if TYPE_CHECKING:  # rich tables only; pandas and the database load in the command
    from rich.table import Table


def _num(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def methods_table(methods: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="track record per method")
    for col in ("method", "n", "prospective", "mean |err|", "max |err|", "coverage", "nominal"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for m in methods:
        table.add_row(
            m["method"], str(m["n"]), str(m["n_prospective"]), _num(m["mean_abs_error"]),
            _num(m["max_abs_error"]), _num(m["coverage"], ".0%"),
            _num(m["nominal_coverage"], ".0%"),
        )  # fmt: skip
    return table


def forecasts_table(forecasts: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="scored forecasts")
    cols = ("id", "method", "benchmark/metric", "target", "matched", "point", "interval",
            "actual", "|err|", "inside")  # fmt: skip
    for col in cols:
        table.add_column(col)
    for f in forecasts:
        interval = "-" if f["lower"] is None else f"[{f['lower']:.4g}, {f['upper']:.4g}]"
        inside = "-" if f["inside"] is None else ("yes" if f["inside"] else "no")
        table.add_row(
            str(f["forecast_id"]), f["method"], f"{f['benchmark']}/{f['metric']}",
            f["target"], f"{f['matched_by']}: {f['measured_model']}", _num(f["point"]),
            interval, _num(f["actual"]), _num(f["abs_error"]), inside,
        )  # fmt: skip
    return table


def track_record(
    method: Annotated[str | None, typer.Option(help="Only this method's forecasts.")] = None,
    benchmark: Annotated[str | None, typer.Option(help="Only forecasts of this benchmark.")] = None,
    family: Annotated[
        str | None, typer.Option(help="Only forecasts fitted on this family.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print methods and scored forecasts as JSON on stdout.")
    ] = False,
) -> None:
    """Score every stored forecast against its target's measurement (the same model, or the same
    size and tokens in the query's family; same benchmark and metric): per method n, mean and max
    absolute error and interval coverage. Reads CAPCAST_DATABASE_URL."""
    from db.session import make_engine, transaction
    from service.track_record import track_record as score

    engine = make_engine()
    try:
        with transaction(engine) as session:
            record = score(session, method=method, benchmark=benchmark, family=family).to_dict()
    finally:
        engine.dispose()
    err_console.print(
        f"{record['n_scored']} of {record['n_forecasts']} stored forecasts have a measured target",
        highlight=False,
    )
    if record["methods"]:
        err_console.print(methods_table(record["methods"]))
        if not as_json:
            err_console.print(forecasts_table(record["forecasts"]))
    if as_json:
        emit_json(record)
