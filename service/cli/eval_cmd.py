"""``capcast eval``: evaluate a model on a task, resumably, writing per-item results to the DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from service.cli.common import emit_json, err_console, fail


def eval_command(
    model: str = typer.Option(..., "--model", help="Model directory (Hugging Face format)."),
    task: Path = typer.Option(..., "--task", help="Task file: lm-eval YAML or native JSONL."),
    mode: str = typer.Option("choices", "--mode", help="choices | passuntil | samples | greedy"),
    engine: str = typer.Option("vllm", "--engine", help="vllm | hf"),
    r: int = typer.Option(2, "--r", help="PassUntil: successes to stop at."),
    k_max: int = typer.Option(10_000, "--k-max", help="PassUntil: sample budget per item."),
    n: int = typer.Option(100, "--n", help="samples mode: draws per item."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (COD features: 0.7)."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Override the task's."),
    seed: int = typer.Option(0, "--seed", help="Run seed (per-item seeds derive from it)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N items."),
    stride: int = typer.Option(
        1, "--stride", min=1, help="Every K-th item (after --limit): an even subset across grades."
    ),
    model_name: str | None = typer.Option(None, "--model-name", help="Name stored for the model."),
    checkpoint_step: int | None = typer.Option(
        None, "--checkpoint-step", min=0, help="Training step of MODEL, when it is a checkpoint."
    ),
    n_tokens: float | None = typer.Option(
        None, "--tokens", min=0, help="Training tokens seen by MODEL at this checkpoint."
    ),
    batch_items: int | None = typer.Option(None, "--batch-items", help="Items per engine call."),
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="CAPCAST_DATABASE_URL", help="Database to write results to."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Evaluate MODEL on TASK; re-running the same command resumes the same run."""
    from db.session import make_engine, session_factory
    from evals.run_checks import CheckerErrorRateExceeded
    from evals.runner import MODES, console_progress, run_eval
    from evals.tasks import TaskError

    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not task.exists():
        fail(f"task file not found: {task}")
    config: dict[str, Any] = {
        "seed": seed,
        "limit": limit,
        "stride": stride,
        "checkpoint_step": checkpoint_step,
        "n_tokens": n_tokens,
        "r": r,
        "k_max": k_max,
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
    }
    if model_name:
        config["model_name"] = model_name
    if batch_items:
        config["batch_items"] = batch_items
    db = make_engine(database_url)
    try:
        if quiet:
            result = run_eval(
                session_factory=session_factory(db),
                model_path=model,
                task_path=task,
                mode=mode,
                engine=engine,
                config=config,
            )
        else:
            with console_progress(f"{mode} {task.stem}") as progress:
                result = run_eval(
                    session_factory=session_factory(db),
                    model_path=model,
                    task_path=task,
                    mode=mode,
                    engine=engine,
                    config=config,
                    progress=progress,
                )
    except (TaskError, ValueError, CheckerErrorRateExceeded) as e:
        fail(str(e))
    finally:
        db.dispose()
    if json_out:
        emit_json(result.to_dict())
        return
    err_console.print(
        f"run {result.run_id}: {result.n_items} items ({result.n_new} new, {result.n_reused} "
        f"reused), {result.samples} samples, engine {result.engine_version}"
    )
    for k, v in result.metrics.items():
        if not k.endswith("_stderr"):
            typer.echo(f"{k:>22}  {v}")
