"""Create and drop the analyst views; each migration that changes a view keeps its own SQL.

``db/view_sql/<revision>.sql`` holds the views as of that Alembic revision, so an old migration
recreates the views its schema can hold, and the newest file is what a migrated database shows.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, text

VIEW_SQL_DIR = Path(__file__).with_name("view_sql")


def view_sql_path(revision: str | None = None) -> Path:
    """The views file of ``revision`` (default: the newest, the head schema's)."""
    if revision is not None:
        return VIEW_SQL_DIR / f"{revision}.sql"
    return max(VIEW_SQL_DIR.glob("*.sql"))


def view_statements(revision: str | None = None) -> list[str]:
    chunks = view_sql_path(revision).read_text().split("\n;;\n")
    return [c.strip() for c in chunks if "CREATE VIEW" in c]


def view_names(revision: str | None = None) -> list[str]:
    return [_view_name(s) for s in view_statements(revision)]


def _view_name(statement: str) -> str:
    """The name after CREATE VIEW; a statement without one is a broken views file, not input."""
    match = re.search(r"CREATE VIEW (\w+)", statement)
    if match is None:
        raise ValueError(f"no view name after CREATE VIEW in: {statement[:80]!r}")
    return match.group(1)


def create_views(conn: Connection, revision: str | None = None) -> None:
    for statement in view_statements(revision):
        conn.execute(text(statement))


def drop_views(conn: Connection, revision: str | None = None) -> None:
    for name in reversed(view_names(revision)):
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
