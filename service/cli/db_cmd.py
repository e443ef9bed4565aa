"""``capcast db``: migrate the database of record."""

from __future__ import annotations

import typer

from service.cli.common import err_console

app = typer.Typer(help="Create and migrate the database (SQLite by default, PostgreSQL by URL).")


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Alembic revision to upgrade to."),
) -> None:
    """Apply migrations up to REVISION (default: the newest) on CAPCAST_DATABASE_URL."""
    from db import migrate
    from db.config import get_settings

    migrate.upgrade(revision=revision)
    err_console.print(f"database at {get_settings().database_url} is at {migrate.current()}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Alembic revision to go back to ('base' empties it)."),
) -> None:
    """Revert migrations down to REVISION."""
    from db import migrate

    migrate.downgrade(revision=revision)
    err_console.print(f"database is at {migrate.current() or 'base'}")


@app.command()
def current() -> None:
    """Print the database's current revision."""
    from db import migrate

    typer.echo(migrate.current() or "base")
