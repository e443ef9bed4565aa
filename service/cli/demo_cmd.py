"""``capcast demo``: the first thing a new user runs (``make run``).

Migrates the database, imports the public demo datasets from ``CAPCAST_DATA_DIR`` (Gadre et al.'s
over-training grid and the Pythia evaluations; a dataset already imported is skipped, and imports
are idempotent anyway), creates a read key, prints where to look, and serves on localhost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from service.cli.common import emit_json, err_console, fail


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: str
    module: (
        str  # db.importers.<module> with <module>_observations, SOURCE, maybe <module>_benchmarks
    )


DATASETS = (
    Dataset("gadre", "gadre-overtraining", "gadre"),
    Dataset("pythia", "pythia-evals", "pythia"),
)


def _importer(module: str) -> tuple[Callable[[Path], Any], Callable[[Path], Any] | None, str]:
    import importlib

    mod = importlib.import_module(f"db.importers.{module}")
    return (
        getattr(mod, f"{module}_observations"),
        getattr(mod, f"{module}_benchmarks", None),
        mod.SOURCE,
    )


def import_dataset(url: str, data_dir: Path, dataset: Dataset) -> str:
    """Import one dataset unless its source is already in the database; say what happened."""
    from sqlalchemy import select

    from db.loader import load_observations
    from db.models import Measurement
    from db.session import make_engine, transaction

    folder = data_dir / dataset.folder
    if not folder.is_dir():
        return f"{dataset.name}: skipped, {folder} not found (set CAPCAST_DATA_DIR)"
    observations, benchmarks, source = _importer(dataset.module)
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            present = select(Measurement.id).where(Measurement.source == source).limit(1)
            if session.scalar(present) is not None:
                return f"{dataset.name}: already imported (source {source!r})"
            start = time.perf_counter()
            frame = observations(folder)
            attrs = benchmarks(folder) if benchmarks else None
            report = load_observations(session, frame, source=source, benchmark_attrs=attrs)
            took = time.perf_counter() - start
            return f"{dataset.name}: {report.summary()} in {took:.1f}s"
    finally:
        engine.dispose()


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after setting up."),
    host: str = typer.Option(None, help="Interface (default CAPCAST_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default CAPCAST_PORT, 8000)."),
    json_out: bool = typer.Option(False, "--json", help="Print url and key as JSON on stdout."),
) -> None:
    """Set up a demo database with public data, create a read key and serve API and dashboard."""
    from db import migrate
    from db.config import get_settings
    from db.session import make_engine, transaction
    from service.auth import create_key

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    url = settings.database_url
    try:
        migrate.upgrade(url)
    except Exception as exc:  # an unreachable or unwritable database: say which
        fail(f"cannot migrate {url}: {exc}")
    messages = [import_dataset(url, Path(settings.data_dir), d) for d in DATASETS]
    for line in messages:
        err_console.print(line, highlight=False)
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            _, token = create_key(session=session, name="demo (read)", scopes=["read"])
    finally:
        engine.dispose()
    base = f"http://{host}:{port}"
    info = {
        "url": base,
        "dashboard": f"{base}/dashboard?key={token}",
        "docs": f"{base}/docs",
        "key": token,
        "database": url,
        "imports": messages,
    }
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"capcast {'serving' if serve else 'ready'} at {base}")
        typer.echo(f"  dashboard: {info['dashboard']}")
        typer.echo(f"  API docs:  {info['docs']}")
        typer.echo(f"  read key:  {token}")
        typer.echo(f'  try:       curl -H "Authorization: Bearer {token}" {base}/v1/families')
    if serve:
        import uvicorn

        from service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
