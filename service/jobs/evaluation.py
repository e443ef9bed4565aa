"""The ``evaluation`` job: run :func:`evals.runner.run_eval` under the job's lease.

run_eval is resumable (an eval run is keyed by model identity and config hash, and item results
are unique per run and item), so a job re-claimed after its worker died simply calls it again and
continues from the rows already written. Progress goes to the job row; every progress report is
also a checkpoint where a cancel request or a graceful stop interrupts the run.

With ``payload.ray_address`` the items fan out over a Ray cluster (:mod:`evals.distributed`),
one engine per actor; the rows written are the same as a local run's.
"""

from __future__ import annotations

import json
import numbers
import threading
from typing import Any

from db.session import session_factory
from service.jobs.context import JobContext, JobInterrupted
from service.jobs.failures import JobInputError
from service.jobs.schemas import check_engine_opts, check_lm_eval_fields

#: Write progress at most this often (seconds): it also renews the lease, which is cheap.
PROGRESS_EVERY = 0.5

_cache = threading.local()


def cached_engine(name: str, model_path: str, opts: dict[str, Any]) -> Any:
    """The engine of this worker slot, reused while jobs evaluate the same model.

    Loading vLLM costs far more than most evaluations of one task (GPU: tens of seconds), and a
    checkpoint is usually evaluated on several tasks in a row. One engine per slot (thread-local:
    an engine is not shared between concurrent jobs); a different model closes the previous one.
    """
    from evals.engines import make_engine
    from evals.runner import model_fingerprint

    identity = model_fingerprint(
        model_path
    )  # path + config and weight files: new weights, new engine
    key = (name, json.dumps([identity, opts], sort_keys=True, default=str))
    held = getattr(_cache, "entry", None)
    if held is not None and held[0] == key:
        return held[1]
    if held is not None:
        held[1].close()
        _cache.entry = None
    engine = make_engine(name, model_path, **opts)
    _cache.entry = (key, engine)
    return engine


def drop_cached_engine() -> None:
    held = getattr(_cache, "entry", None)
    _cache.entry = None
    if held is not None:
        held[1].close()


def _fraction(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[float | None, dict]:
    """Read ``progress(done, total)``, ``progress(fraction)`` or keyword forms into (fraction, detail)."""
    detail = {k: v for k, v in kwargs.items() if isinstance(v, str | int | float | bool)}
    nums = [a for a in args if isinstance(a, numbers.Real)]
    done = kwargs.get("done", nums[0] if nums else None)
    total = kwargs.get("total", nums[1] if len(nums) > 1 else None)
    if done is None:
        return None, detail
    if total:
        detail.update(done=done, total=total)
        return float(done) / float(total), detail
    return float(done), detail


def _progress_callback(ctx: JobContext):
    import time

    last = [0.0]

    def progress(*args: Any, **kwargs: Any) -> None:
        fraction, detail = _fraction(args, kwargs)
        now = time.monotonic()
        final = fraction is not None and fraction >= 1.0
        if now - last[0] >= PROGRESS_EVERY or final:
            last[0] = now
            ctx.progress(fraction if fraction is not None else 0.0, **detail)
        else:
            ctx.checkpoint()

    return progress


def evaluate(ctx: JobContext) -> dict[str, Any]:
    """Run the payload's task file, or each task of its lm-eval task/group (``payload.task``)."""
    p = ctx.payload
    missing = [k for k in ("model_path", "task_path", "mode") if not p.get(k)]
    if p.get("task"):
        missing = [k for k in missing if k != "task_path"]
    if missing:
        raise ValueError(f"evaluation job {ctx.job.id}: payload lacks {', '.join(missing)}")
    check_engine_opts(p)  # as the API does: a payload written into the table directly too
    check_lm_eval_fields(p)
    if not p.get("task"):
        return _evaluate(ctx, p["task_path"])
    from evals.lm_eval_tasks import load_lm_eval_tasks
    from evals.tasks import TaskError

    config = dict(p.get("config") or {})
    ctx.progress(0.0, stage="loading lm-eval task")
    try:
        tasks = load_lm_eval_tasks(
            p["task"],
            data_dir=p.get("data_dir"),
            fewshot_seed=int(config.get("fewshot_seed", 1234)),
            num_fewshot=p.get("num_fewshot"),
            limit=config.get("limit"),
        )
    except TaskError as e:
        raise JobInputError(f"evaluation job {ctx.job.id}: {e}") from None
    runs = [_evaluate(ctx, t) for t in tasks]
    return runs[0] if len(runs) == 1 else {"runs": runs}


def _evaluate(ctx: JobContext, task: Any) -> dict[str, Any]:
    """One run: ``task`` is a task file's path or a loaded lm-eval task."""
    p = ctx.payload
    ctx.progress(0.0, stage="loading engine")
    kwargs: dict[str, Any] = {
        "session_factory": session_factory(ctx.engine),
        "model_path": p["model_path"],
        "task_path": task,
        "mode": p["mode"],
        "engine": p.get("engine", "vllm"),
        "config": dict(p.get("config") or {}),
        "progress": _progress_callback(ctx),
    }
    if p.get("ray_address"):
        from evals.distributed import run_eval_distributed

        stats: dict[str, Any] = {}
        result = run_eval_distributed(
            address=p["ray_address"],
            n_actors=p.get("ray_actors"),
            engine_opts=dict(p.get("engine_opts") or kwargs["config"].get("engine_opts") or {}),
            stats=stats,
            **kwargs,
        )
        return {**_summary(result), "ray": stats}
    else:
        from evals.runner import run_eval

        if kwargs["engine"] == "vllm" and not p.get("fresh_engine"):
            opts = dict(kwargs["config"].get("engine_opts") or {})
            kwargs["engine"] = cached_engine("vllm", p["model_path"], opts)
        try:
            result = run_eval(**kwargs)
        except JobInterrupted:
            raise
        except Exception:
            drop_cached_engine()  # an engine that failed mid-run is not trusted again
            raise
    ctx.checkpoint()
    return _summary(result)


def _summary(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if hasattr(result, "__dataclass_fields__"):
        import dataclasses

        return {
            k: v
            for k, v in dataclasses.asdict(result).items()
            if isinstance(v, str | int | float | bool | None | dict | list)
        }
    return {"result": str(result)}
