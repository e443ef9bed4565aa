"""``capcast serve``: the REST API and the dashboard on one port.

On SIGTERM (or Ctrl-C) uvicorn stops accepting, gives running requests
:data:`GRACEFUL_SHUTDOWN_S` to finish, then cancels them; the app's shutdown kills the fits still
running, so the server is gone within seconds whatever a request asked for.

``--workers N`` runs N uvicorn worker processes behind one port (uvicorn's supervisor passes a
SIGTERM on to every worker and waits for them). Each worker has its own fit pool and cache; a
forecast request that answered 202 lives in the ``job`` table, so any worker answers its poll.
Use PostgreSQL for several workers: SQLite lets one process write at a time.
"""

from __future__ import annotations

import typer

#: Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
GRACEFUL_SHUTDOWN_S = 3


def serve(
    host: str = typer.Option(None, help="Interface to bind (default CAPCAST_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default CAPCAST_PORT, 8000)."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Worker processes (each has its own fit pool and cache); use PostgreSQL for more than 1.",
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API under /v1 (OpenAPI at /docs), the dashboard at /dashboard, and /metrics."""
    import uvicorn

    from db.config import get_settings

    settings = get_settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo(
            f"warning: {workers} workers on SQLite (CAPCAST_DATABASE_URL): SQLite takes one writer "
            "at a time, so writes queue and may answer 503; use PostgreSQL for several workers",
            err=True,
        )
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
