"""``capcast serve``: the REST API and the dashboard on one port."""

from __future__ import annotations

import typer


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
    )
