"""API keys may expire; schedule and job ids are never reused on SQLite

``api_key.expires_at`` (nullable) ends a key like a revocation. On SQLite, a table without
AUTOINCREMENT hands a deleted row's id (the largest) to the next insert, so a new schedule took
the id of a deleted one and with it the old one's jobs and dedupe keys (``schedule:<id>:...``);
``schedule`` and ``job`` are recreated with AUTOINCREMENT. PostgreSQL's sequences never reuse an
id: there, only the column is added. The views read neither table and stay as in 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: job dedupe keys that name a schedule id: service/jobs/scheduler.py tick_key and watch_key.
_KEY_PREFIXES = ("schedule:", "watch:")


def upgrade() -> None:
    op.add_column("api_key", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _recreate_ids(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate_ids(autoincrement=False)
        # Plain DROP COLUMN (SQLite >= 3.35): api_key has no children, but a batch copy is not
        # needed for one nullable column.
        op.execute("ALTER TABLE api_key DROP COLUMN expires_at")
    else:
        op.drop_column("api_key", "expires_at")


def _recreate_ids(*, autoincrement: bool) -> None:
    """Copy ``job`` and ``schedule`` into tables with (or without) AUTOINCREMENT, keeping links.

    Alembic's batch copy drops the old table. With foreign keys enforced, SQLite's DROP TABLE
    first deletes every row, and ``job.schedule_id``'s ON DELETE SET NULL would unlink every
    job from its schedule. ``PRAGMA foreign_keys=OFF`` is a no-op inside a transaction, and
    migrations run in one, so it is switched off where it can be, and the links are saved
    before and written back after the copy in every case; ``PRAGMA foreign_key_check`` then
    proves that every link still points at a schedule.
    """
    bind = op.get_bind()
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")  # effective only outside a transaction
    links = bind.execute(sa.text("SELECT id, schedule_id FROM job WHERE schedule_id IS NOT NULL"))
    saved = [{"id": job_id, "schedule_id": schedule_id} for job_id, schedule_id in links]
    keys = bind.execute(sa.text("SELECT dedupe_key FROM job WHERE dedupe_key IS NOT NULL"))
    named = [_schedule_id_in(key) for (key,) in keys]
    kwargs = {"sqlite_autoincrement": autoincrement}
    # the child first: dropping job deletes no other table's rows
    with op.batch_alter_table("job", recreate="always", table_kwargs=kwargs):
        pass
    with op.batch_alter_table("schedule", recreate="always", table_kwargs=kwargs):
        pass
    if saved:
        bind.execute(sa.text("UPDATE job SET schedule_id = :schedule_id WHERE id = :id"), saved)
    if autoincrement:
        # Ids already deleted before this migration are unknown, except those the jobs' dedupe
        # keys still name: never hand those out again either.
        floor = max([n for n in named if n is not None], default=0)
        _raise_sequence("schedule", floor)
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign keys broken by the table copy: {problems[:5]}")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def _schedule_id_in(dedupe_key: str) -> int | None:
    for prefix in _KEY_PREFIXES:
        if dedupe_key.startswith(prefix):
            head = dedupe_key[len(prefix) :].split(":", 1)[0]
            return int(head) if head.isdigit() and len(head) < 10 else None
    return None


def _raise_sequence(table: str, floor: int) -> None:
    """Make SQLite's AUTOINCREMENT counter for ``table`` at least ``floor``."""
    bind = op.get_bind()
    current = bind.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}
    ).scalar()
    if current is None:
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"),
            {"t": table, "s": floor},
        )
    elif current < floor:
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :t"),
            {"t": table, "s": floor},
        )
