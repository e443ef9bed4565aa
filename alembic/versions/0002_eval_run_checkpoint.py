"""eval_run records the checkpoint it evaluated

A ladder evaluates several checkpoints of one model row; without the step and tokens on the run,
the item_results and choice_scores views merged them under the model's final step and compute.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import create_views, drop_views

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    drop_views(op.get_bind(), "0001")
    op.add_column("eval_run", sa.Column("checkpoint_step", sa.Integer(), nullable=True))
    op.add_column("eval_run", sa.Column("n_tokens", sa.Double(), nullable=True))
    create_views(op.get_bind(), "0002")


def downgrade() -> None:
    drop_views(op.get_bind(), "0002")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch "move and copy" would drop
    # eval_run, and SQLite's ON DELETE CASCADE would take every item result with it.
    op.execute("ALTER TABLE eval_run DROP COLUMN n_tokens")
    op.execute("ALTER TABLE eval_run DROP COLUMN checkpoint_step")
    create_views(op.get_bind(), "0001")
