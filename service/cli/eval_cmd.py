"""``capcast eval``: evaluate a model on a task, resumably, writing per-item results to the DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from service.cli.common import emit_json, err_console, fail


def eval_command(
    model: str = typer.Option(..., "--model", help="Model directory (Hugging Face format)."),
    task: str = typer.Option(
        ...,
        "--task",
        help="Task file (lm-eval YAML or native JSONL), or a task, group or tag that "
        "lm-evaluation-harness's TaskManager knows (e.g. hellaswag, mmlu_anatomy, gsm8k): run "
        "with lm-eval's own prompts, filters and metrics; a group runs each of its tasks.",
    ),
    include_path: Path | None = typer.Option(
        None,
        "--include-path",
        help="lm-eval tasks: a directory of task YAMLs to know besides lm-eval's own "
        "(its !function Python is imported, as lm-eval does).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="lm-eval tasks: where datasets are read: DATA_DIR/DATASET_PATH/DATASET_NAME or "
        "DATA_DIR/DATASET_PATH holding SPLIT.jsonl|json|csv|parquet files, or a hub snapshot "
        "folder; else the local Hugging Face cache. Never the network.",
    ),
    num_fewshot: int | None = typer.Option(
        None,
        "--num-fewshot",
        min=0,
        max=1000,
        help="lm-eval tasks: few-shot examples, overriding the task's (not a task set to 0).",
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="choices | passuntil | samples | greedy (default: choices; an lm-eval task: its own, "
        "choices or greedy).",
    ),
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
    from evals.engines import ENGINES
    from evals.engines import make_engine as make_model_engine
    from evals.run_checks import CheckerErrorRateExceeded
    from evals.runner import MODES, console_progress, run_eval
    from evals.tasks import Task, TaskError

    if mode is not None and mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    tasks = _tasks(task, include_path, data_dir, num_fewshot, limit)
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
    results = []
    eng: Any = engine
    try:
        if len(tasks) > 1 and engine in ENGINES:  # a group's tasks share one loaded model
            eng = make_model_engine(engine, model)
        for t in tasks:
            t_mode = mode or _default_mode(t)
            label = t.name if isinstance(t, Task) else t.stem
            kwargs: dict[str, Any] = {
                "session_factory": session_factory(db),
                "model_path": model,
                "task_path": t,
                "mode": t_mode,
                "engine": eng,
                "config": config,
            }
            if quiet:
                results.append(run_eval(**kwargs))
            else:
                with console_progress(f"{t_mode} {label}") as progress:
                    results.append(run_eval(**kwargs, progress=progress))
    except (TaskError, ValueError, CheckerErrorRateExceeded) as e:
        fail(str(e))
    finally:
        if eng is not engine:
            eng.close()
        db.dispose()
    if json_out:
        dicts = [r.to_dict() for r in results]
        emit_json(dicts[0] if len(dicts) == 1 else dicts)
        return
    for result in results:
        _print(result)


def _print(result: Any) -> None:
    err_console.print(
        f"run {result.run_id} ({result.benchmark}): {result.n_items} items ({result.n_new} new, "
        f"{result.n_reused} reused), {result.samples} samples, engine {result.engine_version}"
    )
    for k, v in result.metrics.items():
        if k == "lm_eval":
            for name, value in v.items():
                if "_stderr," not in name:
                    typer.echo(f"{'lm-eval ' + name:>34}  {value}")
        elif not k.endswith("_stderr"):
            typer.echo(f"{k:>34}  {v}")


def _default_mode(task: Any) -> str:
    """An lm-eval task's own mode (per-choice scores or its generation); a file's: choices."""
    from evals.run_lm_eval import mode_of

    return mode_of(task) if getattr(task, "harness", None) is not None else "choices"


def _tasks(
    task: str,
    include_path: Path | None,
    data_dir: Path | None,
    num_fewshot: int | None,
    limit: int | None,
) -> list[Any]:
    """A task file as a path; anything else as lm-eval tasks, loaded (exit 2 if unknown)."""
    from evals.tasks import TaskError

    path = Path(task)
    if path.is_file() and include_path is None:
        return [path]
    if path.is_dir():
        fail(f"--task {task}: a directory; pass it as --include-path and name the task")
    if path.suffix in (".yaml", ".yml", ".jsonl") and include_path is None:
        fail(f"task file not found: {task}")
    import yaml

    from evals.lm_eval_tasks import load_lm_eval_tasks

    try:
        return list(
            load_lm_eval_tasks(
                task,
                include_path=include_path,
                data_dir=data_dir,
                num_fewshot=num_fewshot,
                limit=limit,
            )
        )
    except TaskError as e:
        fail(str(e))
    except (OSError, LookupError, ValueError, ImportError, yaml.YAMLError) as e:
        # the task's own problems as lm-eval reports them (missing data files or packages, bad
        # YAML, unknown keys); anything else is a bug and keeps its traceback
        fail(f"--task {task}: lm-eval could not load it: {type(e).__name__}: {e}")
    return []
