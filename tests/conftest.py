"""Shared fixtures: one database per test, on SQLite and on the real PostgreSQL.

PostgreSQL tests never skip in CI (``CI`` set): an unreachable server is a failure there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from db import migrate

PG_ADMIN_URL = os.environ.get(
    "CAPCAST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATA = Path(
    os.environ.get("CAPCAST_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _pg_admin():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def pg_available() -> bool:
    try:
        with _pg_admin().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data not found at {SHARED_DATA}")
    return SHARED_DATA


def _new_pg_database() -> tuple[str, str]:
    if not pg_available():
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"capcast_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(name: str) -> None:
    engine = _pg_admin()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a new, empty database; parametrised by ``db_backend``."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'capcast.sqlite'}"
        return
    name, url = _new_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database migrated to head, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'capcast.sqlite'}"
        migrate.upgrade(url)
        yield url
        return
    name, url = _new_pg_database()
    try:
        migrate.upgrade(url)
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def db_engine(db_url: str):
    from db.session import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()
