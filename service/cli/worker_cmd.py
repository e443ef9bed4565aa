"""``capcast worker``: run queued jobs (evaluations, imports, forecast refreshes) until stopped."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer

from service.cli.common import err_console, fail


def worker(
    concurrency: int = typer.Option(
        1, "--concurrency", "-c", min=1, max=64, help="Jobs run at once (threads); 1 on SQLite."
    ),
    once: bool = typer.Option(
        False, "--once", help="Exit when no job is ready instead of waiting for more (burst mode)."
    ),
    lease_seconds: float = typer.Option(
        30.0, "--lease-seconds", min=0.5, help="Lease length; renewed every third of it."
    ),
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", min=0.01, help="Idle wait."),
    kind: list[str] = typer.Option(
        [], "--kind", help="Only run jobs of this kind (repeatable); default all."
    ),
    backoff_seconds: float = typer.Option(
        10.0, "--backoff-seconds", min=0.0, help="First retry delay; doubles per attempt."
    ),
    name: str | None = typer.Option(None, "--name", help="Worker name in job.lease_owner."),
) -> None:
    """Claim jobs from the database and run them; SIGTERM finishes or releases the job in hand.

    Payload paths must resolve inside CAPCAST_JOB_PATHS (default: the data, cache and working
    directories); a job failure's traceback is logged here, the job row keeps one line and its id.

    Several workers (on several machines) can share one PostgreSQL database: claims use
    FOR UPDATE SKIP LOCKED, and a worker that dies loses its lease so another resumes its job.
    """
    from db.config import get_settings
    from db.session import make_engine
    from service.jobs.worker import Worker, WorkerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = WorkerConfig(
        lease_seconds=lease_seconds,
        poll_seconds=poll_seconds,
        concurrency=concurrency,
        once=once,
        kinds=list(kind) or None,
        backoff_base=backoff_seconds,
    )
    if name:
        config.name = name
    engine = make_engine(get_settings().database_url)
    try:
        w = Worker(engine, config)
    except ValueError as exc:
        fail(str(exc))

    def _stop(signum: int, _frame: FrameType | None) -> None:
        err_console.print(f"worker {config.name}: {signal.Signals(signum).name}, stopping")
        w.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    roots = ", ".join(str(r) for r in w.roots)
    err_console.print(
        f"worker {config.name}: {concurrency} slot(s), lease {lease_seconds:g}s, "
        f"job paths inside: {roots}"
    )
    n = w.run()
    engine.dispose()
    err_console.print(f"worker {config.name}: stopped after {n} job(s)")
