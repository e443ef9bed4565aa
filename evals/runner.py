"""Resumable evaluation runs: a model × a task × a mode, written item by item through ``db/``.

The ``eval_run`` row is keyed by (model, benchmark, config hash); the hash covers the model's
identity (path and a fingerprint of its config and weight files), the task's items, the mode, the
engine and every setting that changes results. Each item's result is committed as soon as it is
complete, so a killed run loses at most the items in flight; started again with the same
configuration it skips the stored items and redraws the rest with the same seeds (seeds derive from
(run seed, item key, round), never from batch order), so its final results equal an uninterrupted
run's, and the unique (run, item) key means no item is ever counted twice.

This module holds the run itself and its configuration; each mode's work is in its own module
(:mod:`evals.run_choices`, :mod:`evals.run_passuntil`, :mod:`evals.run_samples`), checking with
checker errors counted in :mod:`evals.run_checks`, and the summary in :mod:`evals.run_summary`.
A run with more than ``max_checker_error_rate`` of its items' checkers raising fails with
:class:`~evals.run_checks.CheckerErrorRateExceeded` after storing its items, never measurements.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db import results as R
from evals.engines import Engine, make_engine
from evals.run_checks import CheckerErrorRateExceeded, check_error_rate
from evals.run_choices import run_choices
from evals.run_context import Progress, RunContext, console_progress
from evals.run_lm_eval import check_mode, run_harness, summarise_harness
from evals.run_passuntil import run_passuntil_mode
from evals.run_samples import run_samples
from evals.run_summary import summarise, write_measurements
from evals.tasks import MULTIPLE_CHOICE, Task, TaskItem, load_task

__all__ = [
    "DEFAULTS",
    "LIMITS",
    "MODES",
    "CheckerErrorRateExceeded",
    "EvalRunResult",
    "Progress",
    "check_limits",
    "config_hash",
    "console_progress",
    "model_fingerprint",
    "resolve_config",
    "run_eval",
    "summarise",
    "task_fingerprint",
]

MODES = ("choices", "passuntil", "samples", "greedy")
ModeRunner = Callable[[RunContext, Engine, Task, list[TaskItem], dict[str, Any]], None]
_MODE_RUNNERS: dict[str, ModeRunner] = {
    "choices": run_choices,
    "passuntil": run_passuntil_mode,
    "samples": run_samples,
    "greedy": run_samples,
}

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "fewshot_seed": 1234,
    "limit": None,
    "stride": 1,
    "r": 2,
    "k_max": 10_000,
    "first_round": 16,
    "n": 100,
    "temperature": 1.0,
    "top_p": 1.0,
    "alpha": 0.1,
    "max_tokens": None,
    "stop": None,
    "max_checker_error_rate": 0.05,
}
#: Documented caps (README "Security") on every setting that multiplies an evaluation's work or
#: bounds its values: (low, high), integers unless the default is a float. A job payload's
#: ``config`` comes from the network, so ``n: 1e9`` must be an error, not a week of sampling.
LIMITS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**63 - 1),
    "fewshot_seed": (0, 2**63 - 1),
    "limit": (0, 10_000_000),
    "stride": (1, 1_000_000),
    "r": (1, 1_000),
    "k_max": (1, 1_000_000),
    "first_round": (1, 100_000),
    "n": (1, 100_000),
    "temperature": (0.0, 10.0),
    "top_p": (0.0, 1.0),
    "alpha": (0.0, 1.0),
    "max_tokens": (1, 32_768),
    "batch_items": (1, 100_000),
    "max_batch_samples": (1, 10_000_000),
    # Largest fraction of items whose checker may raise before the run fails (evals.run_checks):
    # left out of the metrics, they move a pass rate by at most this much.
    "max_checker_error_rate": (0.0, 1.0),
}
_FLOAT_SETTINGS = ("temperature", "top_p", "alpha", "max_checker_error_rate")
# Settings that never change results (kept out of the hash); a run that failed on checker errors
# can so be resumed with a higher max_checker_error_rate, its stored items reused.
_NOT_HASHED = (
    "batch_items",
    "engine_opts",
    "model_name",
    "max_batch_samples",
    "max_checker_error_rate",
)
# Which checkpoint the model is (the weights' fingerprint already tells runs apart): stored on
# the run and its measurements, so a model row can hold a ladder size's several checkpoints.
_CHECKPOINT = ("checkpoint_step", "n_tokens")


@dataclass
class EvalRunResult:
    run_id: int
    model_id: int
    benchmark_id: int
    benchmark: str
    mode: str
    engine: str
    engine_version: str | None
    n_items: int
    n_new: int
    n_reused: int
    samples: int
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    #: Items whose checker raised (stored as ``checker_error``, left out of ``metrics``).
    checker_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_fingerprint(model_path: str | Path) -> dict[str, Any]:
    """Identity of a model directory: absolute path, config hash, weight files' sizes and times."""
    p = Path(model_path)
    if not p.exists():
        return {"uri": str(model_path), "revision": None}
    p = p.resolve()
    h = hashlib.sha256()
    if (p / "config.json").exists():
        h.update((p / "config.json").read_bytes())
    for f in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return {"uri": str(p), "revision": h.hexdigest()[:16]}


def task_fingerprint(task: Task) -> str:
    h = hashlib.sha256()
    for it in task.items:
        h.update(it.key.encode())
        h.update(it.prompt.encode())
    h.update(json.dumps([task.checker, task.generation, task.target_delimiter]).encode())
    return h.hexdigest()[:16]


def resolve_config(mode: str, engine_name: str, config: dict[str, Any]) -> dict[str, Any]:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known modes: {', '.join(MODES)}")
    unknown = set(config) - set(DEFAULTS) - set(_NOT_HASHED) - set(_CHECKPOINT)
    if unknown:
        raise ValueError(f"unknown eval config keys: {', '.join(sorted(unknown))}")
    check_limits(config)
    return {**DEFAULTS, **config, "mode": mode, "engine": engine_name}


def check_limits(config: dict[str, Any]) -> None:
    """ValueError naming the first setting that is of the wrong type or outside :data:`LIMITS`."""
    for name, (low, high) in LIMITS.items():
        value = config.get(name)
        if value is None:
            continue
        if name in _FLOAT_SETTINGS:
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            ok_type = ok_type and math.isfinite(value)
        else:
            ok_type = isinstance(value, int) and not isinstance(value, bool)
        kind = "a finite number" if name in _FLOAT_SETTINGS else "a whole number"
        if not ok_type:
            raise ValueError(f"config.{name} must be {kind}, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"config.{name}={value!r} is outside [{low:g}, {high:g}]")


def config_hash(cfg: dict[str, Any], model: dict[str, Any], task_fp: str) -> str:
    hashed = {k: v for k, v in cfg.items() if k not in _NOT_HASHED + _CHECKPOINT}
    if hashed.get("stride") == 1:  # the default leaves hashes of runs made before it unchanged
        del hashed["stride"]
    blob = json.dumps({"cfg": hashed, "model": model, "task": task_fp}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_eval(
    *,
    session_factory: sessionmaker[Session],
    model_path: str | Path,
    task_path: str | Path | Task,
    mode: str,
    engine: str | Engine,
    config: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> EvalRunResult:
    """Evaluate (or resume evaluating) a model on a task; returns the run's summary.

    ``task_path`` is a task file, or a :class:`~evals.tasks.Task` already loaded (an lm-eval task
    from :func:`evals.lm_eval_tasks.load_lm_eval_tasks`, scored by lm-eval's own metrics).

    Raises :class:`~evals.run_checks.CheckerErrorRateExceeded` (the run marked failed, its items
    stored, no measurements written) when more than ``max_checker_error_rate`` of the items had
    checker errors.
    """
    started = time.monotonic()
    engine_name = engine if isinstance(engine, str) else engine.name
    cfg = resolve_config(mode, engine_name, dict(config or {}))
    if isinstance(task_path, Task):
        task, task_path = task_path, task_path.source
    else:
        task = load_task(task_path, fewshot_seed=cfg["fewshot_seed"])
    items = list(task.items[: cfg["limit"]] if cfg["limit"] else task.items)
    stride = int(cfg["stride"])
    if stride < 1:
        raise ValueError(f"eval config stride: expected an integer >= 1, got {cfg['stride']!r}")
    items = items[::stride]  # an even subset across a task ordered by difficulty grade
    # identical documents share a key (as in lm-eval's doc_hash): evaluate each once
    items = list({it.key: it for it in items}.values())
    if task.harness is not None:
        check_mode(task, mode)
    elif mode == "choices" and task.output_type != MULTIPLE_CHOICE:
        raise ValueError(f"{task_path}: mode 'choices' needs a multiple_choice task")
    elif mode != "choices" and task.output_type == MULTIPLE_CHOICE:
        raise ValueError(f"{task_path}: mode {mode!r} needs a generative task")
    model_id_info = model_fingerprint(model_path)
    chash = config_hash(cfg, model_id_info, task_fingerprint(task))

    with session_factory() as s, s.begin():
        model = R.get_or_create_model(
            s, name=cfg.get("model_name") or model_id_info["uri"], uri=model_id_info["uri"]
        )
        bench = R.get_or_create_benchmark(
            s, name=task.name, kind=task.kind, n_items=len(task.items), version=task.version
        )
        ids = R.upsert_items(s, bench.id, [_item_row(it) for it in items])
        run = R.get_or_create_run(
            s,
            model_id=model.id,
            benchmark_id=bench.id,
            config=cfg | {"model": model_id_info, "task": str(task_path)},
            config_hash=chash,
            engine=engine_name,
            engine_version="" if isinstance(engine, str) else engine.version,
            checkpoint_step=cfg.get("checkpoint_step"),
            n_tokens=cfg.get("n_tokens"),
        )
        done = R.done_item_ids(s, run.id)
        R.set_run_status(s, run.id, "running")
    run_id, model_id, bench_id = run.id, model.id, bench.id
    pending = [it for it in items if ids[it.key] not in done]
    ctx = RunContext(session_factory, run_id, ids, len(items), len(items) - len(pending), progress)
    ctx.report()

    eng: Engine | None = None
    try:
        if pending:
            eng = (
                make_engine(engine, model_path, **cfg.get("engine_opts", {}))
                if isinstance(engine, str)
                else engine
            )
            with session_factory() as s, s.begin():
                _set_version(s, run_id, eng.version)
            runner = run_harness if task.harness is not None else _MODE_RUNNERS[mode]
            runner(ctx, eng, task, pending, cfg)
    except BaseException as e:
        with session_factory() as s, s.begin():
            R.set_run_status(s, run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        if eng is not None and isinstance(engine, str):
            eng.close()

    with session_factory() as s, s.begin():  # measurements and status: all or nothing
        if task.harness is not None:
            metrics = summarise_harness(s, run_id, task)
        else:
            metrics = summarise(s, run_id, mode, task)
        stored = [(r.stop_reason, r.estimates) for _, r in R.run_results(s, run_id)]
        too_many = check_error_rate(task.name, stored, float(cfg["max_checker_error_rate"]))
        if too_many is None:
            write_measurements(s, model_id, bench_id, run_id, metrics, cfg)
            R.set_run_status(s, run_id, "done")
        else:
            R.set_run_status(s, run_id, "failed", error=str(too_many))
        version = s.get(R.EvalRun, run_id).engine_version
    if too_many is not None:
        raise too_many
    return EvalRunResult(
        run_id=run_id,
        model_id=model_id,
        benchmark_id=bench_id,
        benchmark=task.name,
        mode=mode,
        engine=engine_name,
        engine_version=version,
        n_items=len(items),
        n_new=len(pending),
        n_reused=len(items) - len(pending),
        samples=ctx.samples,
        metrics=metrics,
        seconds=time.monotonic() - started,
        checker_errors=int(metrics.get("checker_errors", 0)),
    )


def _item_row(it: TaskItem) -> R.ItemRow:
    return R.ItemRow(
        key=it.key,
        prompt=it.prompt,
        choices=list(it.choices) or None,
        answer=str(it.gold) if it.gold is not None else it.answer,
        meta={"doc": it.doc},
    )


def _set_version(s: Session, run_id: int, version: str) -> None:
    run = s.get(R.EvalRun, run_id)
    if run is not None:
        run.engine_version = version
