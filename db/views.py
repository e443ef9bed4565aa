"""Create and drop the analyst views in ``views.sql``; migrations that change a view call both."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, text

VIEWS_SQL = Path(__file__).with_name("views.sql")


def view_statements() -> list[str]:
    chunks = VIEWS_SQL.read_text().split("\n;;\n")
    return [c.strip() for c in chunks if "CREATE VIEW" in c]


def view_names() -> list[str]:
    return [re.search(r"CREATE VIEW (\w+)", s).group(1) for s in view_statements()]  # type: ignore[union-attr]


def create_views(conn: Connection) -> None:
    for statement in view_statements():
        conn.execute(text(statement))


def drop_views(conn: Connection) -> None:
    for name in reversed(view_names()):
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
