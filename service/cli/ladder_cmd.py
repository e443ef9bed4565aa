"""``capcast ladder``: train, evaluate and export the ladder lab (README, "The ladder lab").

``all`` regenerates everything from scratch: a fresh work directory, training, evaluation into a
fresh SQLite database inside it (unless ``--database-url``), and the export of the per-item
results and manifest. Human progress goes to stderr; ``--json`` prints a summary on stdout.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import typer

from service.cli.common import emit_json, err_console, fail

app = typer.Typer(help="The ladder lab: small Llama models trained on the Python stdlib.")

CONFIG_HELP = "Ladder config (evals/ladder/configs/{cpu,gpu,mini}.yaml)."
WORKDIR_HELP = "Work directory for data, tokenizer, checkpoints (default: var/ladder/<name>)."
DEFAULT_OUT = Path("evals/ladder/reference")


def _cfg(config: Path) -> Any:
    from evals.ladder.recipe import load_config

    try:
        return load_config(config)
    except (OSError, ValueError) as e:
        fail(str(e))


def _workdir(cfg: Any, workdir: Path | None) -> Path:
    return workdir or Path("var/ladder") / cfg.name


def _log(msg: str) -> None:
    err_console.print(msg, highlight=False, markup=False)


def _sessions(url: str | None) -> Any:
    from db.migrate import upgrade
    from db.session import make_engine, session_factory

    engine = make_engine(url)
    upgrade(str(engine.url.render_as_string(hide_password=False)))
    return session_factory(engine)


@app.command("train")
def train(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    workdir: Path = typer.Option(None, "--workdir", help=WORKDIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print per-size summaries as JSON."),
) -> None:
    """Train every size (resumable: finished sizes are skipped)."""
    from evals.ladder.train import train_ladder

    cfg = _cfg(config)
    out = train_ladder(cfg, _workdir(cfg, workdir), log=_log)
    for s in out:
        _log(f"{s['name']}: N={s['n_params']} D={s['n_tokens']} val_loss={s['final_val_loss']:.3f}")
    if as_json:
        emit_json(out)


@app.command("evaluate")
def evaluate(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    workdir: Path = typer.Option(None, "--workdir", help=WORKDIR_HELP),
    engine: str = typer.Option(None, "--engine", help="vllm | hf (default: the config's)."),
    database_url: str = typer.Option(
        None, "--database-url", envvar="CAPCAST_DATABASE_URL", help="Database of the evaluations."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print run summaries as JSON."),
) -> None:
    """Evaluate every checkpoint through the evaluator (resumable)."""
    from evals.ladder.evaluate import evaluate_ladder

    cfg = _cfg(config)
    try:
        rows = evaluate_ladder(
            cfg, _workdir(cfg, workdir), _sessions(database_url), engine=engine, log=_log
        )
    except FileNotFoundError as e:
        fail(str(e))
    if as_json:
        emit_json(rows)


@app.command("export")
def export(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    workdir: Path = typer.Option(None, "--workdir", help=WORKDIR_HELP),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Folder for the committed files."),
    database_url: str = typer.Option(
        None, "--database-url", envvar="CAPCAST_DATABASE_URL", help="Database of the evaluations."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Export per-item results, measurements, summary table, plot and manifest."""
    from evals.ladder.export import export_ladder

    cfg = _cfg(config)
    with _sessions(database_url)() as s:
        try:
            manifest = export_ladder(s, cfg, _workdir(cfg, workdir), out)
        except ValueError as e:
            fail(str(e))
    _log(f"exported {manifest['rows']} to {out}")
    if as_json:
        emit_json(manifest)


@app.command("all")
def all_(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    workdir: Path = typer.Option(None, "--workdir", help=WORKDIR_HELP),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Folder for the committed files."),
    database_url: str = typer.Option(
        None, "--database-url", help="Default: a fresh SQLite file in the work directory."
    ),
    resume: bool = typer.Option(False, "--resume", help="Keep an existing work directory."),
) -> None:
    """Regenerate the ladder and its results from scratch: train, evaluate, export."""
    cfg = _cfg(config)
    wd = _workdir(cfg, workdir)
    if wd.exists() and not resume:
        shutil.rmtree(wd)
    wd.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{wd.resolve()}/eval.db"
    train(config=config, workdir=wd, as_json=False)
    evaluate(config=config, workdir=wd, engine=None, database_url=url, as_json=False)
    export(config=config, workdir=wd, out=out, database_url=url, as_json=False)
