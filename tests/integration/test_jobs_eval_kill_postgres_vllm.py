"""An evaluation job whose worker is SIGKILLed mid-run is resumed by another worker after its
lease expires; the final per-item results equal an uninterrupted run's, with no duplicates.
Real PostgreSQL, real vLLM (CPU) on the tiny model, real worker processes.

The uninterrupted reference is a second job of the same evaluation with ``limit`` set to the
number of items: the same items and seeds, but a different config hash, hence its own eval run.
The survivor runs it and, with the engine it already holds, resumes the killed job."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db import migrate
from db.models import EvalRun, ItemResult, Job
from db.session import make_engine, transaction
from evals.testing import build_tiny_model
from service.jobs import queue
from tests.integration.jobs_helpers import (
    arithmetic_task,
    start_worker,
    stop_all,
    stored_results,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.vllm, pytest.mark.slow]

N_ITEMS = 24
CONFIG = {"n": 8, "seed": 7, "batch_items": 1, "max_tokens": 8}


@pytest.mark.parametrize("empty_db_url", ["postgres"], indirect=True)
def test_killed_eval_job_resumes_postgres_vllm(empty_db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    model = build_tiny_model()
    task = arithmetic_task(tmp_path / "sums.jsonl", N_ITEMS)
    payload = {
        "model_path": str(model),
        "task_path": str(task),
        "mode": "samples",
        "engine": "vllm",
        "config": CONFIG,
    }
    reference = {**payload, "config": {**CONFIG, "limit": N_ITEMS}}
    with transaction(engine) as s:
        job_id = queue.enqueue(s, kind="evaluation", payload=payload, max_attempts=3, priority=1)
        ref_id = queue.enqueue(s, kind="evaluation", payload=reference, max_attempts=3)
    procs = {
        n: start_worker(empty_db_url, tmp_path, n, "--lease-seconds", "5") for n in ("w0", "w1")
    }
    try:

        def items_done() -> int:
            """Items committed by the killed job's run (the reference run has a ``limit``)."""
            with transaction(engine) as s:
                runs = [r.id for r in s.scalars(select(EvalRun)) if r.config.get("limit") is None]
                if not runs:
                    return 0
                return s.scalar(select(func.count()).where(ItemResult.run_id == runs[0]))

        wait_for(lambda: items_done() > 0, 400, "the first items to be written", poll=0.02)
        with transaction(engine) as s:
            victim = s.get(Job, job_id).lease_owner.split(":")[0]
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        at_kill = items_done()
        assert 0 < at_kill < N_ITEMS, f"killed too late: {at_kill} of {N_ITEMS} items"

        def finished() -> bool:
            with transaction(engine) as s:
                return all(s.get(Job, i).status in queue.TERMINAL for i in (job_id, ref_id))

        wait_for(finished, 400, "the survivor to finish both evaluations", poll=0.5)
    finally:
        stop_all(list(procs.values()))
    with transaction(engine) as s:
        job, ref = s.get(Job, job_id), s.get(Job, ref_id)
        assert (job.status, ref.status) == ("succeeded", "succeeded"), (job.error, ref.error)
        assert job.attempts == 2  # the killed attempt and the resumed one
        assert job.result["n_reused"] >= at_kill and job.result["n_new"] <= N_ITEMS - at_kill
        assert job.result["n_reused"] + job.result["n_new"] == N_ITEMS
        assert job.progress == 1.0
        run_id, ref_run = job.result["run_id"], ref.result["run_id"]
        assert run_id != ref_run
        counts = dict(
            s.execute(select(ItemResult.run_id, func.count()).group_by(ItemResult.run_id)).all()
        )
        assert counts == {run_id: N_ITEMS, ref_run: N_ITEMS}  # no duplicates, none missing
    resumed = stored_results(engine, run_id)
    uninterrupted = stored_results(engine, ref_run)
    assert resumed == uninterrupted
    assert len({r[5][0] for r in uninterrupted.values()}) > 1  # real, varied samples
    engine.dispose()
