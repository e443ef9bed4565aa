"""``capcast benchmarks`` and ``capcast models``: the benchmark registry and model identity."""

from __future__ import annotations

import typer

from service.cli.common import emit_json


def benchmarks(
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON on stdout."),
) -> None:
    """The canonical benchmark registry (db/benchmarks.yaml) with every source's aliases."""
    from db.benchmark_registry import registry

    rows = registry().listing()
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        chance = "-" if r["chance"] is None else f"{r['chance']:g}"
        direction = "higher" if r["higher_is_better"] else "lower"
        typer.echo(
            f"{r['task']}  [{r['kind']}; {r['metric']}, {direction} is better, chance {chance}]"
        )
        for source, names in r["aliases"].items():
            typer.echo(f"    {source}: {', '.join(names)}")


def models(
    duplicates: bool = typer.Option(
        False, "--duplicates", help="Models joined across sources, and unjoined look-alikes."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Stored models; with --duplicates, the cross-source joins for review."""
    from sqlalchemy import func, select

    from db.model_identity import duplicates as find_duplicates
    from db.models import Model
    from db.session import make_engine, session_factory

    with session_factory(make_engine())() as session:
        if duplicates:
            out = find_duplicates(session)
        else:
            out = {"models": session.execute(select(func.count(Model.id))).scalar_one()}
    if as_json or not duplicates:
        emit_json(out)
        return
    typer.echo(f"joined ({len(out['joined'])}):")
    for j in out["joined"]:
        typer.echo(f"  {j['model']}  <-  {j['alias']} ({j['source']}, key {j['key']})")
    typer.echo(f"unjoined look-alikes ({len(out['unjoined_candidates'])}):")
    for c in out["unjoined_candidates"]:
        typer.echo(f"  {c['key']}: {', '.join(c['models'])}")
