"""Job queue on PostgreSQL: claim throughput and enqueue-to-running latency with 1, 4, 8 workers.

Each worker is a separate process running the real ``Worker`` loop (claim with FOR UPDATE SKIP
LOCKED, heartbeat thread, complete) on ``noop`` jobs, so the numbers are the queue's overhead, not
any job's work. Throughput: N jobs queued up front, all workers released at once when every one
has started; jobs/s = N / (last finished_at - first started_at). Latency: jobs enqueued one by one
(``queue.enqueue``, which sends NOTIFY) at a fixed rate while the workers wait; latency =
started_at - created_at, once with LISTEN/NOTIFY wake-ups and once with polling alone (50 ms), the
peer it is compared with.

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
from db.session import make_engine, session_factory
from service.jobs import queue
from service.jobs.queue import as_utc, utcnow

ADMIN_URL = os.environ.get(
    "CAPCAST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POLL_SECONDS = 0.05


def _worker(url: str, events: tuple, poll: float, once: bool, listen: bool) -> None:
    import threading

    from service.jobs.worker import Worker, WorkerConfig

    ready, go, stop = events
    engine = make_engine(url)
    config = WorkerConfig(once=once, poll_seconds=poll, lease_seconds=60, listen=listen)
    w = Worker(engine, config)
    threading.Thread(target=lambda: (stop.wait(), w.stop()), daemon=True).start()
    with engine.connect():  # a pooled connection, ready before the clock starts
        pass
    ready.release()
    go.wait()
    w.run()
    engine.dispose()


def _start(
    url: str, n: int, *, poll: float, once: bool, listen: bool = True
) -> tuple[list, mp.Event, mp.Event]:
    ctx = mp.get_context("spawn")
    ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(url, (ready, go, stop), poll, once, listen))
        for _ in range(n)
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


def latency(
    url: str, engine, n_workers: int, n_jobs: int, *, rate: float, listen: bool
) -> list[float]:
    """Enqueue-to-running times (ms), sorted."""
    _reset(engine)
    procs, go, stop = _start(url, n_workers, poll=POLL_SECONDS, once=False, listen=listen)
    go.set()
    time.sleep(1.0)  # listeners connected
    sessions = session_factory(engine)
    for _ in range(n_jobs):
        with sessions() as s, s.begin():
            queue.enqueue(s, kind="noop", payload={})  # NOTIFY goes out on commit
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


def _p95(values: list[float]) -> float:
    return values[int(0.95 * (len(values) - 1))]


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
    results = []
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        for n in counts:
            tput = throughput(url, engine, n, args.jobs)
            lat = {}
            for listen in (True, False):
                lat[listen] = latency(
                    url, engine, n, args.latency_jobs, rate=args.rate, listen=listen
                )
            results.append((n, tput, lat[True], lat[False]))
            p50, poll50 = statistics.median(lat[True]), statistics.median(lat[False])
            print(f"  {n} worker(s): {tput:.0f} jobs/s, p50 {p50:.1f} ms (poll {poll50:.1f})")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    base_tput = results[0][1]
    base_p50 = statistics.median(results[0][2])
    print(f"\nJob queue on PostgreSQL ({os.cpu_count()} CPU cores; noop jobs)")
    print("throughput: claim + run + complete, all jobs queued up front")
    print(
        f"latency: enqueue -> running at {args.rate:g} jobs/s, woken by NOTIFY; "
        f"'poll' = the same with polling every {POLL_SECONDS * 1000:.0f} ms only"
    )
    head = ("workers", "jobs/s", "x vs 1", "p50 ms", "p95 ms", "p50 x vs 1", "poll p50", "poll p95")
    print("{:>7} {:>8} {:>7} {:>8} {:>8} {:>11} {:>9} {:>9}".format(*head))
    for n, tput, lat, poll in results:
        p50 = statistics.median(lat)
        print(
            f"{n:>7} {tput:>8.0f} {tput / base_tput:>7.2f} {p50:>8.1f} {_p95(lat):>8.1f} "
            f"{p50 / base_p50:>11.2f} {statistics.median(poll):>9.1f} {_p95(poll):>9.1f}"
        )


if __name__ == "__main__":
    main()
