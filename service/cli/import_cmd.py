"""``capcast import``: load observations files, public datasets and lm-eval output.

Each command is one transaction on CAPCAST_DATABASE_URL: it either loads everything it reports or
nothing. A human report goes to stderr; ``--json`` prints the report alone on stdout. A bad input
exits with status 2 and a message naming file, line and column.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from service.cli.common import emit_json, err_console, fail

app = typer.Typer(
    help=(
        "Import results into the database at CAPCAST_DATABASE_URL (one transaction per command; "
        "importing the same data twice changes nothing)."
    ),
    no_args_is_help=True,
)

JSON_HELP = "Print the report as JSON on stdout (rows inserted and unchanged, notes)."
DIR_HELP = (
    "Folder with the dataset as in ../shared/data/{name}; default: CAPCAST_DATA_DIR/{name}, "
    "else a download from the source repository at the commit pinned in PROVENANCE.md into "
    "CAPCAST_CACHE_DIR."
)


def _commands() -> ModuleType:
    """``db.importers.commands``, loaded when a command runs (it pulls in pandas and SQLAlchemy)."""
    from db.importers import commands

    return commands


def _run(action: Callable[[Any], dict[str, Any]], as_json: bool) -> None:
    from db.errors import ImportValidationError
    from db.importers.download import DatasetUnavailable
    from db.session import make_engine

    engine = make_engine()
    try:
        report = action(engine)
    except ImportValidationError as exc:
        fail(f"{exc}\nnothing was imported.")
    except DatasetUnavailable as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    _print(report)
    if as_json:
        emit_json(report)


def _print(report: dict[str, Any]) -> None:
    parts = (
        [report]
        if "measurements_inserted" in report
        else [*report.get("measurements", []), *report.get("samples", [])]
    )
    if "runs_created" in report:  # per-item results only (pythia-sampling)
        err_console.print(
            f"{report['source']}: {report['rows']} rows; item results inserted "
            f"{report['item_results_inserted']}, unchanged {report['item_results_unchanged']}; "
            f"runs created {report['runs_created']}; items inserted {report['items_inserted']}; "
            f"models created {report['models_created']}, updated {report['models_updated']}",
            highlight=False,
        )
        parts = []
    for r in parts:
        if "measurements_inserted" in r:
            err_console.print(
                f"{r['source']}: {r['rows']} rows; measurements inserted "
                f"{r['measurements_inserted']}, unchanged {r['measurements_unchanged']}; models "
                f"created {r['models_created']}, updated {r['models_updated']}; families created "
                f"{r['families_created']}; benchmarks created {r['benchmarks_created']}",
                highlight=False,
            )
        else:
            err_console.print(
                f"{r['file']}: run {r['run_id']} ({'created' if r['run_created'] else 'existing'}); "
                f"items inserted {r['items_inserted']}; item results inserted "
                f"{r['item_results_inserted']}; choice scores inserted "
                f"{r['choice_scores_inserted']}, unchanged {r['choice_scores_unchanged']}",
                highlight=False,
            )
    for note in report.get("notes", []):
        err_console.print(f"  note: {note}", highlight=False)
    unmatched = report.get("release_dates_unmatched")
    if unmatched:
        shown = ", ".join(unmatched[:20]) + (" ..." if len(unmatched) > 20 else "")
        err_console.print(
            f"  unmatched model versions ({len(unmatched)}): {shown}", highlight=False
        )


@app.command("observations")
def observations(
    file: Path = typer.Argument(
        ..., help="Observations file: .csv, .parquet or .jsonl (DESIGN.md format)."
    ),
    source: str = typer.Option(
        None, help="Source recorded for rows with an empty source column (default: the file name)."
    ),
    create_benchmarks: bool = typer.Option(
        True,
        "--create-benchmarks/--known-benchmarks-only",
        help="Create benchmarks not yet in the database, or reject them as unknown names.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Import an observations file (model, family, n_params, ..., benchmark, metric, value)."""
    _run(
        lambda e: _commands().import_observations(
            e, file, source=source, create_benchmarks=create_benchmarks
        ),
        as_json,
    )


@app.command("gadre")
def gadre(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="gadre-overtraining")),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Gadre et al. 2024: 104 models, 8 losses, 46 task accuracies, avg17/avg46 error."""
    _run(lambda e: _commands().import_gadre(e, directory), as_json)


@app.command("pythia")
def pythia(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="pythia-evals")),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pythia v1: 16 models x checkpoints, 8 tasks + 57 MMLU subjects + MMLU average."""
    _run(lambda e: _commands().import_pythia(e, directory), as_json)


@app.command("pythia-sampling")
def pythia_sampling(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="pythia-sampling")),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pythia x GSM8K sampling: 9 sizes x 9 checkpoints x 128 problems into per-item results."""
    _run(lambda e: _commands().import_pythia_sampling(e, directory), as_json)


@app.command("benchbench")
def benchbench(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="benchbench")),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """BenchBench: every leaderboard table (benchmarks/, benchmarks_old/, historical/)."""
    _run(lambda e: _commands().import_benchbench(e, directory), as_json)


@app.command("sloth")
def sloth(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="sloth-openllm")),
    dumps: bool = typer.Option(
        True,
        "--dumps/--curated-only",
        help="Also import the raw Open LLM Leaderboard v1/v2 dumps (~8k models), not only the curated tables.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Sloth: curated family/size/tokens table and the Open LLM Leaderboard dumps."""
    _run(lambda e: _commands().import_sloth(e, directory, dumps=dumps), as_json)


@app.command("epoch")
def epoch(
    directory: Path = typer.Argument(None, help=DIR_HELP.format(name="epoch-benchmarks")),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Epoch: technical-report scores and release dates (joined to stored models by name)."""
    _run(lambda e: _commands().import_epoch(e, directory), as_json)


@app.command("lm-eval")
def lm_eval(
    path: Path = typer.Argument(
        ...,
        help="lm-eval output: a folder (searched for results_*.json and samples_*.jsonl), or one such file.",
    ),
    model: str = typer.Option(
        None,
        help="Model name to store under (default: pretrained=... from the results JSON, with @revision).",
    ),
    family: str = typer.Option(None, help="Model family to put the model in (created if new)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """lm-evaluation-harness output: results into measurements, --log_samples into items and choice scores."""
    _run(lambda e: _commands().import_lmeval(e, path, model=model, family=family), as_json)


@app.command("ladder")
def ladder(
    path: Path = typer.Argument(
        None, help="Exported ladder folder (default: evals/ladder/reference, the committed one)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The ladder lab's committed per-item results, choice scores, task metrics and losses."""
    from db.importers.ladder import import_ladder
    from db.session import transaction

    def action(engine: Any) -> dict[str, Any]:
        with transaction(engine) as session:
            return import_ladder(session, path)

    _run(action, as_json)
