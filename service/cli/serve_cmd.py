"""``capcast serve``: the REST API and the dashboard on one port.

On SIGTERM (or Ctrl-C) uvicorn stops accepting, gives running requests
:data:`GRACEFUL_SHUTDOWN_S` to finish, then cancels them; the app's shutdown kills the fits still
running, so the server is gone within seconds whatever a request asked for.
"""

from __future__ import annotations

import typer

#: Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
GRACEFUL_SHUTDOWN_S = 3


def serve(
    host: str = typer.Option(None, help="Interface to bind (default CAPCAST_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default CAPCAST_PORT, 8000)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (each has its own cache)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API under /v1 (OpenAPI at /docs), the dashboard at /dashboard, and /metrics."""
    import uvicorn

    from db.config import get_settings

    settings = get_settings()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
