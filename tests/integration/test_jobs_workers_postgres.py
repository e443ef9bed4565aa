"""Four worker processes on the real PostgreSQL: 200 jobs each run exactly once, and a worker
killed with SIGKILL mid-job costs nothing (its lease expires and another worker runs the job)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from db import migrate
from db.models import Job
from db.session import make_engine, transaction
from service.jobs import queue
from tests.integration.jobs_helpers import count_status, start_worker, stop_all, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

N_JOBS = 200
LEASE = "3"


@pytest.mark.parametrize("empty_db_url", ["postgres"], indirect=True)
def test_four_workers_200_jobs_exactly_once_postgres(empty_db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    record = tmp_path / "record.txt"
    with transaction(engine) as s:
        # claimed first (priority): long enough to be killed mid-way
        victim = queue.enqueue(
            s,
            kind="sleep",
            payload={"seconds": 6, "steps": 60, "record": str(record)},
            priority=10,
        )
        ids = [
            queue.enqueue(s, kind="sleep", payload={"seconds": 0.02, "record": str(record)})
            for _ in range(N_JOBS)
        ]
    names = [f"w{i}" for i in range(4)]
    procs = {n: start_worker(empty_db_url, tmp_path, n, "--lease-seconds", LEASE) for n in names}
    try:

        def victim_running() -> bool:
            with transaction(engine) as s:
                job = s.get(Job, victim)
                return job.status == "running" and (job.progress or 0) > 0.1

        wait_for(victim_running, 120, "the long job to start")
        with transaction(engine) as s:
            owner = s.get(Job, victim).lease_owner
        killed = owner.split(":")[0]
        procs[killed].send_signal(signal.SIGKILL)
        procs[killed].wait(10)

        wait_for(
            lambda: count_status(engine).get("succeeded", 0) == N_JOBS + 1,
            180,
            f"all {N_JOBS + 1} jobs to succeed",
            poll=0.5,
        )
    finally:
        codes = stop_all(list(procs.values()))
    survivors = [n for n in names if n != killed]
    assert [codes[names.index(n)] for n in survivors] == [0, 0, 0]  # graceful SIGTERM

    runs = [line.split() for line in record.read_text().splitlines()]
    per_job = Counter(int(job_id) for job_id, _, _ in runs)
    assert set(per_job) == {victim, *ids}
    assert max(per_job.values()) == 1, "a job completed twice"
    with transaction(engine) as s:
        rows = {j.id: j for j in s.scalars(select(Job))}
    assert {j.status for j in rows.values()} == {"succeeded"}
    # the killed job: one lost attempt, finished by a survivor on its second
    assert rows[victim].attempts == 2
    assert rows[victim].lease_owner is None
    victim_run = next(r for r in runs if int(r[0]) == victim)
    assert victim_run[1].split(":")[0] in survivors and victim_run[2] == "2"
    # every other job ran once, on its first attempt, and the work was shared
    assert all(rows[i].attempts == 1 for i in ids)
    by_worker = Counter(worker.split(":")[0] for _, worker, _ in runs)
    assert len(by_worker) >= 2, by_worker
    engine.dispose()
