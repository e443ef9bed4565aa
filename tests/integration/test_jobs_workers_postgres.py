"""Four worker processes on the real PostgreSQL: 200 jobs each run exactly once; a worker killed
with SIGKILL mid-job costs nothing (its lease expires and another worker runs the job), and a
worker sent SIGTERM mid-job hands the job back without counting the attempt, then exits 0."""

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
        # claimed second: its worker gets SIGTERM and must give it back untouched
        handed_back = queue.enqueue(
            s,
            kind="sleep",
            payload={"seconds": 6, "steps": 60, "record": str(record)},
            priority=9,
        )
        ids = [
            queue.enqueue(s, kind="sleep", payload={"seconds": 0.02, "record": str(record)})
            for _ in range(N_JOBS)
        ]
    names = [f"w{i}" for i in range(4)]
    procs = {n: start_worker(empty_db_url, tmp_path, n, "--lease-seconds", LEASE) for n in names}
    try:

        def long_jobs_running() -> bool:
            with transaction(engine) as s:
                jobs = [s.get(Job, i) for i in (victim, handed_back)]
                return all(j.status == "running" and (j.progress or 0) > 0.1 for j in jobs)

        wait_for(long_jobs_running, 120, "the two long jobs to start")
        with transaction(engine) as s:
            killed = s.get(Job, victim).lease_owner.split(":")[0]
            stopped = s.get(Job, handed_back).lease_owner.split(":")[0]
        procs[killed].send_signal(signal.SIGKILL)
        procs[stopped].send_signal(signal.SIGTERM)
        assert procs[stopped].wait(30) == 0  # released its job at the next step, then exited
        procs[killed].wait(10)

        wait_for(
            lambda: count_status(engine).get("succeeded", 0) == N_JOBS + 2,
            180,
            f"all {N_JOBS + 2} jobs to succeed",
            poll=0.5,
        )
    finally:
        codes = stop_all(list(procs.values()))
    survivors = [n for n in names if n not in (killed, stopped)]
    assert [codes[names.index(n)] for n in survivors] == [0, 0]  # graceful SIGTERM

    runs = [line.split() for line in record.read_text().splitlines()]
    per_job = Counter(int(job_id) for job_id, _, _ in runs)
    assert set(per_job) == {victim, handed_back, *ids}
    assert max(per_job.values()) == 1, "a job completed twice"
    with transaction(engine) as s:
        rows = {j.id: j for j in s.scalars(select(Job))}
    assert {j.status for j in rows.values()} == {"succeeded"}
    # the killed job: one lost attempt, finished by a survivor on its second
    assert rows[victim].attempts == 2
    assert rows[victim].lease_owner is None
    victim_run = next(r for r in runs if int(r[0]) == victim)
    assert victim_run[1].split(":")[0] in survivors and victim_run[2] == "2"
    # the released job: its interrupted attempt not counted, finished by a survivor
    assert rows[handed_back].attempts == 1
    handed_run = next(r for r in runs if int(r[0]) == handed_back)
    assert handed_run[1].split(":")[0] in survivors and handed_run[2] == "1"
    # every other job ran once, on its first attempt, and the work was shared
    assert all(rows[i].attempts == 1 for i in ids)
    by_worker = Counter(worker.split(":")[0] for _, worker, _ in runs)
    assert len(by_worker) >= 2, by_worker
    engine.dispose()
