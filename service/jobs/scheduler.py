"""Schedules: cron expressions and checkpoint watches that enqueue jobs from a template.

Exactly once per tick, however many schedulers run: every enqueue carries a dedupe key
(``schedule:{id}:{tick}`` for cron, ``watch:{id}:{dir}`` for a watch) and the job table's unique
``dedupe_key`` turns the loser of a race into a no-op (``INSERT ... ON CONFLICT DO NOTHING``).
No leader election, no lock held across ticks; a scheduler can die at any point.

Cron uses croniter; six fields put seconds last (``* * * * * */5``). Ticks are computed from the
schedule's ``last_tick_at`` (or its creation), so a scheduler that was down catches up on missed
ticks, at most :data:`MAX_CATCHUP` of them (the newest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from croniter import croniter
from sqlalchemy import Engine, or_, select, update

from db.models import Schedule
from db.session import transaction
from service.jobs import queue
from service.jobs.queue import as_utc, utcnow

log = logging.getLogger("capcast.scheduler")

MAX_CATCHUP = 10
CHECKPOINT_MARKER = "config.json"
DEDUPE_KEY_MAX = 300
SCHEDULE_KINDS = ("cron", "watch")


#: Cron fields in order (the sixth, seconds, comes last) with the range croniter accepts.
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
    ("second", 0, 59),
)


def _field_problem(text: str, name: str, low: int, high: int) -> str:
    """Why croniter refused one field: a number out of range, a zero step, or its syntax."""
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return f"{name} step {step!r} must be a whole number >= 1"
        for number in re.findall(r"\d+", base):
            if not low <= int(number) <= high:
                return f"{name} {number} not in {low}-{high}"
    return f"{name} field {text!r} is not valid"


def validate_cron(expr: str) -> str:
    """Return ``expr`` if croniter accepts it; else a ValueError naming the field at fault.

    Each field is checked alone (the others set to ``*``), so ``61 3 * * *`` says
    ``minute 61 not in 0-59`` rather than only that the expression is invalid.
    """
    text = expr.strip()
    prefix = f"invalid cron expression {expr!r}"
    if text.startswith("@"):
        if croniter.is_valid(text):
            return expr
        raise ValueError(
            f"{prefix}: unknown shorthand (use @yearly, @monthly, @weekly, @daily, @hourly)"
        )
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"{prefix}: expected 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 with seconds last, got {len(fields)}"
        )
    for i, field_text in enumerate(fields):
        probe = ["*"] * len(fields)
        probe[i] = field_text
        if not croniter.is_valid(" ".join(probe)):
            raise ValueError(f"{prefix}: {_field_problem(field_text, *CRON_FIELDS[i])}")
    if not croniter.is_valid(text):
        raise ValueError(f"{prefix}: croniter refuses this combination of fields")
    return expr


def due_ticks(expr: str, after: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """Cron ticks in ``(after, now]``, the newest :data:`MAX_CATCHUP` of them."""
    it = croniter(expr, as_utc(after))
    ticks: list[dt.datetime] = []
    while True:
        tick = it.get_next(dt.datetime)
        if tick > now:
            return ticks[-MAX_CATCHUP:]
        ticks.append(tick)


def tick_key(schedule_id: int, tick: dt.datetime) -> str:
    return f"schedule:{schedule_id}:{tick.astimezone(dt.UTC).isoformat()}"


def watch_key(schedule_id: int, directory: Path) -> str:
    key = f"watch:{schedule_id}:{directory}"
    if len(key) <= DEDUPE_KEY_MAX:
        return key
    return f"watch:{schedule_id}:sha256:{hashlib.sha256(str(directory).encode()).hexdigest()}"


def checkpoint_dirs(root: Path) -> list[Path]:
    """Checkpoint directories under ``root``: subdirectories holding a ``config.json``.

    The marker keeps a half-copied checkpoint from being evaluated before its config lands
    (copy the config last, as HF ``save_pretrained`` and most trainers do).
    """
    if not root.is_dir():
        return []
    found = [d for d in root.iterdir() if d.is_dir() and (d / CHECKPOINT_MARKER).is_file()]
    return sorted(d.resolve() for d in found)


@dataclass(frozen=True)
class TickReport:
    """What one pass enqueued (ids of the jobs this scheduler inserted, not the race losers)."""

    enqueued: list[int]
    skipped: int


def run_cron(engine: Engine, schedule_id: int, *, now: dt.datetime) -> TickReport:
    """Enqueue one job per due tick of a cron schedule."""
    with transaction(engine) as session:
        s = session.get(Schedule, schedule_id)
        if s is None or not s.enabled or not s.cron:
            return TickReport([], 0)
        after = as_utc(s.last_tick_at) or as_utc(s.created_at) or now
        ticks = due_ticks(s.cron, after, now)
        ids, skipped = [], 0
        for tick in ticks:
            payload = {**s.job_payload, "scheduled_for": tick.isoformat()}
            job_id = queue.enqueue(
                session,
                kind=s.job_kind,
                payload=payload,
                dedupe_key=tick_key(s.id, tick),
                schedule_id=s.id,
            )
            if job_id is None:
                skipped += 1
            else:
                ids.append(job_id)
        if ticks:
            newest = ticks[-1]
            session.execute(
                update(Schedule)
                .where(
                    Schedule.id == s.id,
                    or_(Schedule.last_tick_at.is_(None), Schedule.last_tick_at < newest),
                )
                .values(last_tick_at=newest)
                .execution_options(synchronize_session=False)
            )
    return TickReport(ids, skipped)


def run_watch(engine: Engine, schedule_id: int, *, now: dt.datetime) -> TickReport:
    """Enqueue one evaluation per checkpoint directory never seen before by this watch."""
    with transaction(engine) as session:
        s = session.get(Schedule, schedule_id)
        if s is None or not s.enabled or not s.watch_path:
            return TickReport([], 0)
        ids, skipped = [], 0
        for directory in checkpoint_dirs(Path(s.watch_path)):
            payload: dict[str, Any] = {**s.job_payload, "model_path": str(directory)}
            job_id = queue.enqueue(
                session,
                kind=s.job_kind,
                payload=payload,
                dedupe_key=watch_key(s.id, directory),
                schedule_id=s.id,
            )
            if job_id is None:
                skipped += 1
            else:
                ids.append(job_id)
        s.last_tick_at = now
    return TickReport(ids, skipped)


def tick_all(engine: Engine, *, now: dt.datetime | None = None) -> TickReport:
    """One scheduler pass over every enabled schedule."""
    now = now or utcnow()
    with transaction(engine) as session:
        rows = session.execute(
            select(Schedule.id, Schedule.kind).where(Schedule.enabled.is_(True))
        ).all()
    ids: list[int] = []
    skipped = 0
    for schedule_id, kind in rows:
        runner = run_watch if kind == "watch" else run_cron
        try:
            report = runner(engine, schedule_id, now=now)
        except Exception:  # one broken schedule must not stop the others
            log.exception("schedule %s failed this pass", schedule_id)
            continue
        ids += report.enqueued
        skipped += report.skipped
    return TickReport(ids, skipped)


def run_scheduler(
    engine: Engine,
    *,
    poll_seconds: float = 1.0,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    on_pass: Callable[[TickReport], None] | None = None,
) -> int:
    """Loop passes until ``stop`` is set; returns how many jobs this scheduler enqueued."""
    stop = stop or threading.Event()
    total = 0
    while not stop.is_set():
        try:
            report = tick_all(engine, now=clock())
        except Exception:
            log.exception("scheduler pass failed; retrying")
        else:
            total += len(report.enqueued)
            if on_pass:
                on_pass(report)
        stop.wait(poll_seconds)
    return total
