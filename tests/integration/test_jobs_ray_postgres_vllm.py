"""An evaluation job fanned out over a local Ray cluster (two CPU actors, each holding the tiny
vLLM model) stores the same per-item results as the local engine for the same seeds. The cluster
is started here with ``ray.init(num_cpus=2)``; the job runs in a separate `capcast worker`
process that joins it through ``ray.init(address=...)``, as a worker on another machine would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from db import migrate
from db.models import Job
from db.session import make_engine, session_factory, transaction
from evals.testing import build_tiny_model
from service.jobs import queue
from tests.integration.jobs_helpers import arithmetic_task, start_worker, stored_results

pytestmark = [pytest.mark.postgres, pytest.mark.vllm, pytest.mark.slow]

CONFIG = {"n": 4, "seed": 3, "batch_items": 4}


@pytest.fixture
def ray_address():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.mark.parametrize("empty_db_url", ["postgres"], indirect=True)
def test_ray_eval_job_equals_local_engine_postgres_vllm(
    empty_db_url: str, tmp_path: Path, ray_address: str
) -> None:
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    model = build_tiny_model()
    task = arithmetic_task(tmp_path / "sums.jsonl", 6)
    payload = {
        "model_path": str(model),
        "task_path": str(task),
        "mode": "samples",
        "engine": "vllm",
        "config": CONFIG,
    }
    with transaction(engine) as s:
        job_id = queue.enqueue(
            s,
            kind="evaluation",
            payload={**payload, "ray_address": ray_address, "ray_actors": 2},
            max_attempts=1,
        )
    worker = start_worker(
        empty_db_url,
        tmp_path,
        "w0",
        "--once",
        "--lease-seconds",
        "60",
        env={"CAPCAST_RAY_ADDRESSES": ray_address},  # a job may join only a listed cluster
    )
    try:
        assert worker.wait(600) == 0
    except subprocess.TimeoutExpired:
        worker.kill()
        raise
    log = (tmp_path / "w0.log").read_text()
    with transaction(engine) as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded", f"{job.error}\n{log[-3000:]}"
        assert job.result["n_new"] == 6 and job.result["samples"] == 6 * CONFIG["n"]
        # both actors ran chunks (batches of 4 items are split 2 + 2, the last batch 1 + 1)
        assert job.result["ray"]["actors"] == 2
        assert job.result["ray"]["chunks_per_actor"] == [2, 2], job.result["ray"]
    distributed = stored_results(engine)

    ref_url = f"sqlite:///{tmp_path / 'local.sqlite'}"
    migrate.upgrade(ref_url)
    ref_engine = make_engine(ref_url)
    from evals.runner import run_eval

    run_eval(session_factory=session_factory(ref_engine), **payload)
    local = stored_results(ref_engine)
    assert len(local) == 6
    assert distributed == local
    assert len({r[5][0] for r in local.values()}) > 1  # real, varied samples
    engine.dispose()
    ref_engine.dispose()
