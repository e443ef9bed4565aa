"""Job queue on PostgreSQL: claim throughput and enqueue-to-running latency with 1, 4, 8 workers.

Each worker is a separate process running the real ``Worker`` loop (claim with FOR UPDATE SKIP
LOCKED, heartbeat thread, complete) on ``noop`` jobs, so the numbers are the queue's overhead, not
any job's work. Throughput: N jobs queued up front, all workers released at once by a barrier;
jobs/s = N / (last finished_at - first started_at). Latency: jobs enqueued one by one at a fixed
rate while the workers poll; latency = started_at - created_at.

Run: ``.venv/bin/python bench/bench_jobs.py [--jobs 2000] [--workers 1,4,8]``. It creates and
drops a scratch database on CAPCAST_BENCH_PG_URL (default: the test server). On a machine with
fewer cores than workers the processes share cores, which caps the scaling; the table says how
many cores it ran on.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
import uuid

from sqlalchemy import create_engine, func, insert, select, text

from db import migrate
from db.models import Job
from db.session import make_engine
from service.jobs.queue import as_utc, utcnow

ADMIN_URL = os.environ.get(
    "CAPCAST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _worker(url: str, events: tuple, poll: float, once: bool) -> None:
    import threading

    from service.jobs.worker import Worker, WorkerConfig

    ready, go, stop = events
    engine = make_engine(url)
    w = Worker(engine, WorkerConfig(once=once, poll_seconds=poll, lease_seconds=60))
    threading.Thread(target=lambda: (stop.wait(), w.stop()), daemon=True).start()
    with engine.connect():  # a pooled connection, ready before the clock starts
        pass
    ready.release()
    go.wait()
    w.run()
    engine.dispose()


def _start(url: str, n: int, *, poll: float, once: bool) -> tuple[list, mp.Event, mp.Event]:
    ctx = mp.get_context("spawn")
    ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(url, (ready, go, stop), poll, once)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    for _ in range(n):  # every worker imported and connected before the clock starts
        if not ready.acquire(timeout=300):
            raise SystemExit("a worker process did not start")
    return procs, go, stop


def _reset(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE job RESTART IDENTITY CASCADE"))


def throughput(url: str, engine, n_workers: int, n_jobs: int) -> float:
    _reset(engine)
    now = utcnow()
    rows = [
        {"kind": "noop", "payload": {}, "status": "queued", "run_after": now, "created_at": now}
        for _ in range(n_jobs)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Job), rows)
    procs, go, _ = _start(url, n_workers, poll=0.01, once=True)
    go.set()
    for p in procs:
        p.join()
    with engine.connect() as conn:
        done, first, last = conn.execute(
            select(func.count(), func.min(Job.started_at), func.max(Job.finished_at)).where(
                Job.status == "succeeded", Job.attempts == 1
            )
        ).one()
    if done != n_jobs:
        raise SystemExit(f"throughput run lost jobs: {done} of {n_jobs} succeeded once")
    return n_jobs / (as_utc(last) - as_utc(first)).total_seconds()


def latency(url: str, engine, n_workers: int, n_jobs: int, rate: float) -> list[float]:
    _reset(engine)
    procs, go, stop = _start(url, n_workers, poll=0.05, once=False)
    go.set()
    time.sleep(0.5)
    for _ in range(n_jobs):
        with engine.begin() as conn:
            now = utcnow()
            conn.execute(
                insert(Job).values(
                    kind="noop", payload={}, status="queued", run_after=now, created_at=now
                )
            )
        time.sleep(1.0 / rate)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = conn.execute(select(func.count()).where(Job.status == "succeeded")).scalar()
        if done == n_jobs:
            break
        time.sleep(0.2)
    stop.set()
    for p in procs:
        p.join()
    with engine.connect() as conn:
        pairs = conn.execute(select(Job.created_at, Job.started_at)).all()
    return sorted((as_utc(s) - as_utc(c)).total_seconds() * 1000 for c, s in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per throughput run")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="enqueues per second")
    parser.add_argument("--workers", default="1,4,8")
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",")]

    name = f"capcast_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        results = []
        for n in counts:
            tput = throughput(url, engine, n, args.jobs)
            lat = latency(url, engine, n, args.latency_jobs, args.rate)
            p50 = statistics.median(lat)
            p95 = lat[int(0.95 * (len(lat) - 1))]
            results.append((n, tput, p50, p95))
            print(f"  {n} worker(s): {tput:.0f} jobs/s, latency p50 {p50:.0f} ms", flush=True)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    base_tput, base_p50 = results[0][1], results[0][2]
    print(f"\nJob queue on PostgreSQL ({os.cpu_count()} CPU cores; noop jobs; poll 50 ms)")
    print(
        f"{'workers':>7} {'jobs/s':>8} {'x vs 1':>7} {'p50 ms':>8} {'p95 ms':>8} {'p50 x vs 1':>11}"
    )
    for n, tput, p50, p95 in results:
        print(
            f"{n:>7} {tput:>8.0f} {tput / base_tput:>7.2f} {p50:>8.1f} {p95:>8.1f} "
            f"{p50 / base_p50:>11.2f}"
        )


if __name__ == "__main__":
    main()
