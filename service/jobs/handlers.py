"""Job kinds: what a worker does with each ``job.kind``. Handlers return the job's ``result``.

Heavy parts (vLLM, Ray, importers, predictors) are imported inside the handler so a worker that
only runs light jobs starts fast. Handlers see the job through :class:`JobContext` only (they never
import the worker). A payload's paths were checked against the job roots before the handler runs.
"""

from __future__ import annotations

import os
import time
from typing import Any

from service.jobs.context import Handler, JobContext
from service.jobs.failures import JobInputError, TransientJobError


def run_sleep(ctx: JobContext) -> dict[str, Any]:
    """A cheap job for health checks, tests and benchmarks.

    Payload: ``seconds`` (default 0), ``steps`` (progress writes, default 1), ``fail_attempts``
    (fail the first N attempts with a transient error, to exercise retries) and ``record`` (a file that gets one line
    ``job_id worker attempt`` per completed run, appended atomically: proof of exactly-once).
    """
    p = ctx.payload
    seconds, steps = float(p.get("seconds", 0.0)), max(1, int(p.get("steps", 1)))
    if ctx.job.attempts <= int(p.get("fail_attempts", 0)):
        raise TransientJobError(f"sleep job asked to fail attempt {ctx.job.attempts}")
    for step in range(steps):
        if seconds:
            time.sleep(seconds / steps)
        if steps > 1:
            ctx.progress((step + 1) / steps, step=step + 1, steps=steps)
    ctx.checkpoint()
    if p.get("record"):
        line = f"{ctx.job.id} {ctx.worker_id} {ctx.job.attempts}\n".encode()
        fd = os.open(p["record"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return {"slept": seconds, "worker": ctx.worker_id}


def run_evaluation(ctx: JobContext) -> dict[str, Any]:
    """Evaluate a checkpoint on a task; resumable, so a re-claimed job continues where it stopped.

    Payload: ``model_path``, ``task_path``, ``mode`` (choices | passuntil | samples), ``engine``
    (default vllm), ``config`` (dict), and optionally ``ray_address`` (fan items out over a Ray
    cluster, see :mod:`evals.distributed`) with ``ray_actors``.
    """
    from service.jobs.evaluation import evaluate

    return evaluate(ctx)


IMPORT_SOURCES = ("observations", "gadre", "pythia", "sloth", "epoch")


def run_import(ctx: JobContext) -> dict[str, Any]:
    """Import a file or public dataset in one transaction (payload: ``source``, ``path``)."""
    from db import loader, observations
    from db.session import transaction

    source, path = ctx.payload.get("source"), ctx.payload.get("path")
    if source not in IMPORT_SOURCES or not path:
        raise JobInputError(
            f"an import job needs payload.source (one of {', '.join(IMPORT_SOURCES)}) "
            f"and payload.path; got source {source!r}"
        )
    if source == "observations":
        df = observations.read_observations(path)
    else:
        from db.importers import epoch, gadre, pythia, sloth

        readers = {
            "gadre": gadre.gadre_observations,
            "pythia": pythia.pythia_observations,
            "sloth": sloth.sloth_observations,
            "epoch": epoch.epoch_observations,
        }
        df = readers[source](path)
    ctx.progress(0.5, stage="loading", rows=len(df))
    with transaction(ctx.engine) as session:
        report = loader.load_observations(session, df, source=str(ctx.payload.get("tag", source)))
    return {"rows": len(df), "report": _plain(report)}


def run_forecast_refresh(ctx: JobContext) -> dict[str, Any]:
    """Refit one forecasting method on the current data and store fresh forecasts."""
    from service.jobs.forecast_refresh import refresh

    return refresh(ctx)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    return str(obj)


HANDLERS: dict[str, Handler] = {
    "sleep": run_sleep,
    "noop": run_sleep,
    "evaluation": run_evaluation,
    "import": run_import,
    "forecast_refresh": run_forecast_refresh,
}
