"""``capcast demo``: the first thing a new user runs (``make run``).

Migrates the database, imports the public demo datasets from ``CAPCAST_DATA_DIR`` (Gadre et al.'s
over-training grid and the Pythia evaluations; a dataset already imported is skipped, and imports
are idempotent anyway), makes sure a read key exists, prints where to look, and serves on
localhost.

The read key is made once and reused: only its hash is in the database, so the token is kept in
a file readable by the user alone (mode 0600) beside the SQLite file (``<db>.demo-key``) or, for
PostgreSQL, in the per-user data directory. A key that was revoked or has expired is replaced.
The printed dashboard URL carries no key: the dashboard asks for it once (a sign-in form) and
keeps it in an HttpOnly cookie.
"""

from __future__ import annotations

import hashlib
import os
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


DEMO_KEY_NAME = "demo (read)"


def demo_key_file(url: str) -> Path:
    """Where the demo token of the database at ``url`` is kept (one file per database)."""
    from platformdirs import user_data_dir

    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            db = Path(path)
            return db.with_name(f"{db.stem}.demo-key")
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return Path(user_data_dir("capcast")) / f"demo-key-{digest}"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
        os.chmod(tmp, 0o600)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def demo_key(url: str, key_file: Path) -> tuple[str, bool]:
    """The demo read key's token and whether it was reused: the kept one while it still works.

    A missing or unreadable file, or a token the database no longer accepts (revoked, expired,
    another database's), makes a new key and rewrites the file.
    """
    from db.session import make_engine, transaction
    from service.auth import create_key, lookup

    kept = None
    if key_file.is_file():
        try:
            kept = key_file.read_text().strip() or None
        except OSError:
            kept = None
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            if kept is not None and lookup(session, kept) is not None:
                return kept, True
            _, token = create_key(session=session, name=DEMO_KEY_NAME, scopes=["read"])
            _write_private(key_file, token)  # inside the transaction: no key without its file
    finally:
        engine.dispose()
    return token, False


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after setting up."),
    host: str = typer.Option(None, help="Interface (default CAPCAST_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default CAPCAST_PORT, 8000)."),
    json_out: bool = typer.Option(False, "--json", help="Print url and key as JSON on stdout."),
) -> None:
    """Set up a demo database with public data and a read key (reused), serve API and dashboard."""
    from db import migrate
    from db.config import get_settings

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
    key_file = demo_key_file(url)
    try:
        token, reused = demo_key(url, key_file)
    except OSError as exc:  # the key file's directory is not writable
        fail(f"cannot keep the demo key in {key_file}: {exc}")
    base = f"http://{host}:{port}"
    info = {
        "url": base,
        "dashboard": f"{base}/dashboard",
        "docs": f"{base}/docs",
        "key": token,
        "key_file": str(key_file),
        "key_reused": reused,
        "database": url,
        "imports": messages,
    }
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"capcast {'serving' if serve else 'ready'} at {base}")
        typer.echo(f"  dashboard: {info['dashboard']}  (sign in with the read key)")
        typer.echo(f"  API docs:  {info['docs']}")
        typer.echo(f"  read key:  {token}")
        typer.echo(f"             ({'reused from' if reused else 'new, kept in'} {key_file})")
        typer.echo(f'  try:       curl -H "Authorization: Bearer {token}" {base}/v1/families')
    if serve:
        import uvicorn

        from service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
