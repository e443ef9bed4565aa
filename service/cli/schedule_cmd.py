"""``capcast schedule``: cron schedules and checkpoint watches, and the scheduler loop."""

from __future__ import annotations

import json
import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import typer

from service.cli.common import emit_json, err_console, fail

if TYPE_CHECKING:  # the database and job modules load in the commands, not at CLI start-up
    from sqlalchemy import Engine

app = typer.Typer(help="Recurring jobs: cron schedules and checkpoint watches.")


def _engine() -> Engine:
    from db.config import get_settings
    from db.session import make_engine

    return make_engine(get_settings().database_url)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Unique schedule name."),
    cron: str | None = typer.Option(
        None, "--cron", help="Cron expression (6 fields: seconds last)."
    ),
    watch: str | None = typer.Option(
        None, "--watch", help="Directory to watch: each new checkpoint subdirectory is evaluated."
    ),
    job_kind: str = typer.Option("evaluation", "--job-kind", help="Kind of job to enqueue."),
    payload: str = typer.Option("{}", "--payload", help="Job payload template (JSON object)."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
) -> None:
    """Add a schedule; prints it as JSON."""
    from pydantic import ValidationError
    from sqlalchemy import select

    from db.models import Schedule
    from db.session import transaction
    from service.jobs.schemas import ScheduleCreate, SchedulePublic

    if bool(cron) == bool(watch):
        fail("give exactly one of --cron or --watch")
    try:
        template = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}")
    try:
        body = ScheduleCreate(
            name=name,
            kind="cron" if cron else "watch",
            cron=cron,
            watch_path=watch,
            job_kind=job_kind,
            job_payload=template,
            enabled=not disabled,
        )
    except ValidationError as exc:
        from service.schemas import validation_summary

        fail(validation_summary(exc, limit=1))
    with transaction(_engine()) as session:
        if session.scalar(select(Schedule.id).where(Schedule.name == name)):
            fail(f"schedule {name!r} already exists")
        schedule = Schedule(**body.model_dump())
        session.add(schedule)
        session.flush()
        out = SchedulePublic.model_validate(schedule).model_dump(mode="json")
    emit_json(out)


@app.command("list")
def list_() -> None:
    """List schedules as JSON."""
    from sqlalchemy import select

    from db.models import Schedule
    from db.session import transaction
    from service.jobs.schemas import SchedulePublic

    with transaction(_engine()) as session:
        rows = session.scalars(select(Schedule).order_by(Schedule.id)).all()
        emit_json([SchedulePublic.model_validate(r).model_dump(mode="json") for r in rows])


@app.command("remove")
def remove(name: str = typer.Argument(..., help="Schedule name or id.")) -> None:
    """Delete a schedule (its jobs stay)."""
    from sqlalchemy import select

    from db.models import Schedule
    from db.session import transaction

    with transaction(_engine()) as session:
        schedule = session.scalar(select(Schedule).where(Schedule.name == name))
        if schedule is None and name.isdigit():
            schedule = session.get(Schedule, int(name))
        if schedule is None:
            fail(f"no schedule named {name!r}")
        session.delete(schedule)
    err_console.print(f"removed schedule {name}")


@app.command("run-scheduler")
def run(
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", min=0.01, help="Pass interval."),
    duration: float | None = typer.Option(
        None, "--duration", min=0.0, help="Stop after this many seconds (default: until SIGTERM)."
    ),
) -> None:
    """Enqueue due jobs forever; safe to run on several machines at once (exactly once per tick).

    Prints {"enqueued": N} (jobs this scheduler inserted) on exit.
    """
    from service.jobs.scheduler import TickReport, run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if duration is not None:
        threading.Timer(duration, stop.set).start()

    def _log(report: TickReport) -> None:
        if report.enqueued:
            err_console.print(f"enqueued jobs {report.enqueued}")

    engine = _engine()
    n = run_scheduler(engine, poll_seconds=poll_seconds, stop=stop, on_pass=_log)
    engine.dispose()
    emit_json({"enqueued": n})
