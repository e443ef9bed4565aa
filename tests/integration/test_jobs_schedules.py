"""Schedules: cron ticks enqueue exactly once (even with two schedulers), checkpoint watches
enqueue one evaluation per new checkpoint directory. The clock is injected where it can be; the
two-process test runs on real time with a per-second cron on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from db import migrate
from db.models import Job, Schedule
from db.session import make_engine, transaction
from service.jobs import scheduler
from tests.integration.jobs_helpers import start, wait_for

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def _schedule(engine, **kw) -> int:
    with transaction(engine) as s:
        row = Schedule(created_at=kw.pop("created_at", T0), **kw)
        s.add(row)
        s.flush()
        return row.id


def _jobs(engine, schedule_id: int) -> list[Job]:
    with transaction(engine) as s:
        return list(s.scalars(select(Job).where(Job.schedule_id == schedule_id).order_by(Job.id)))


def test_cron_ticks_once_with_injected_clock(db_engine) -> None:
    sid = _schedule(
        db_engine, name="every-10-min", cron="*/10 * * * *", job_kind="sleep", job_payload={"x": 1}
    )
    at = lambda minutes: T0 + dt.timedelta(minutes=minutes)  # noqa: E731
    assert scheduler.tick_all(db_engine, now=at(9)).enqueued == []
    first = scheduler.tick_all(db_engine, now=at(10))
    assert len(first.enqueued) == 1
    # a second scheduler at the same instant, and the same one again: nothing new
    assert scheduler.tick_all(db_engine, now=at(10)).enqueued == []
    assert scheduler.tick_all(db_engine, now=at(15)).enqueued == []
    # down for 35 minutes: catches up on the three missed ticks, in order
    assert len(scheduler.tick_all(db_engine, now=at(45)).enqueued) == 3
    # a scheduler with a stale view of last_tick_at (pretend it never saw the update)
    report = scheduler.run_cron(db_engine, sid, now=at(45))
    assert report.enqueued == []
    jobs = _jobs(db_engine, sid)
    ticks = [j.payload["scheduled_for"] for j in jobs]
    assert ticks == [at(m).isoformat() for m in (10, 20, 30, 40)]
    assert all(j.kind == "sleep" and j.payload["x"] == 1 for j in jobs)
    with transaction(db_engine) as s:
        assert scheduler.as_utc(s.get(Schedule, sid).last_tick_at) == at(40)


def test_stale_scheduler_does_not_duplicate(db_engine) -> None:
    sid = _schedule(db_engine, name="hourly", cron="0 * * * *", job_kind="sleep", job_payload={})
    scheduler.run_cron(db_engine, sid, now=T0 + dt.timedelta(hours=2))
    # rewind last_tick_at as if a slow scheduler read it before the first one committed
    with transaction(db_engine) as s:
        s.get(Schedule, sid).last_tick_at = None
    again = scheduler.run_cron(db_engine, sid, now=T0 + dt.timedelta(hours=2))
    assert again.enqueued == [] and again.skipped == 2
    assert len(_jobs(db_engine, sid)) == 2


def test_checkpoint_watch_enqueues_each_new_dir_once(db_engine, tmp_path: Path) -> None:
    root = tmp_path / "ckpts"
    root.mkdir()
    template = {"task_path": "/tasks/arith.yaml", "mode": "choices", "engine": "vllm"}
    sid = _schedule(
        db_engine,
        name="ladder-watch",
        kind="watch",
        watch_path=str(root),
        job_kind="evaluation",
        job_payload=template,
    )

    def ckpt(name: str, complete: bool = True) -> Path:
        d = root / name
        d.mkdir()
        if complete:
            (d / "config.json").write_text("{}")
        return d

    ckpt("step-1000")
    ckpt("step-2000")
    (root / "notes.txt").write_text("not a checkpoint")
    partial = ckpt("step-3000", complete=False)  # still being copied: no config.json yet
    assert len(scheduler.tick_all(db_engine).enqueued) == 2
    assert scheduler.tick_all(db_engine).enqueued == []  # nothing new
    (partial / "config.json").write_text("{}")
    ckpt("step-4000")
    assert len(scheduler.tick_all(db_engine).enqueued) == 2
    assert scheduler.tick_all(db_engine).enqueued == []
    jobs = _jobs(db_engine, sid)
    paths = [Path(j.payload["model_path"]).name for j in jobs]
    assert paths == ["step-1000", "step-2000", "step-3000", "step-4000"]
    assert all(
        j.kind == "evaluation" and j.payload["task_path"] == template["task_path"] for j in jobs
    )
    # a disabled watch enqueues nothing
    with transaction(db_engine) as s:
        s.get(Schedule, sid).enabled = False
    ckpt("step-5000")
    assert scheduler.tick_all(db_engine).enqueued == []


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("empty_db_url", ["postgres"], indirect=True)
def test_two_schedulers_one_job_per_tick_postgres(empty_db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    procs: list[subprocess.Popen] = []
    for i in range(2):
        args = ["schedule", "run-scheduler", "--poll-seconds", "0.1"]
        procs.append(start(empty_db_url, args, tmp_path / f"sched{i}.log"))
    time.sleep(2)  # let both start, then create the schedule under their feet
    sid = _schedule(
        engine,
        name="every-second",
        cron="* * * * * *",
        job_kind="sleep",
        job_payload={},
        created_at=dt.datetime.now(dt.UTC),
    )
    wait_for(lambda: len(_jobs(engine, sid)) >= 6, 60, "six ticks")
    with transaction(engine) as s:
        s.get(Schedule, sid).enabled = False  # freeze the set of ticks before stopping
    time.sleep(0.5)
    outs = []
    for p in procs:
        p.terminate()
        assert p.wait(30) == 0
    for i in range(2):
        log = (tmp_path / f"sched{i}.log").read_text()
        outs.append(json.loads(log[log.rindex("{") :])["enqueued"])
    jobs = _jobs(engine, sid)
    ticks = sorted(dt.datetime.fromisoformat(j.payload["scheduled_for"]) for j in jobs)
    assert len(ticks) == len(set(ticks)) >= 6
    # consecutive seconds, none skipped, none twice
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
    assert gaps == [1.0] * (len(ticks) - 1)
    # each job was inserted by exactly one of the two schedulers
    assert sum(outs) == len(jobs), outs
    engine.dispose()
