"""Data versions: a counter per (family, benchmark); forecasts remember the version they fit

``data_version`` holds one counter per (family name, benchmark name) that every write of
observations or item results bumps in its own transaction (db/data_version.py), and
``forecast.data_version`` the version a forecast was fitted on, so that a stored forecast is found
by (method, params_hash, data_version) without reading the observations. Forecasts stored before
get "" (found by their data fingerprint once, then given the current version). The views read
neither and stay as in 0002.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("family", sa.String(200), nullable=False),
        sa.Column("benchmark", sa.String(300), nullable=False),
        sa.Column("n", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("family", "benchmark", name=op.f("pk_data_version")),
    )
    op.add_column(
        "forecast",
        sa.Column("data_version", sa.String(64), server_default="", nullable=False),
    )
    op.create_index("ix_forecast_version", "forecast", ["method", "params_hash", "data_version"])


def downgrade() -> None:
    op.drop_index("ix_forecast_version", table_name="forecast")
    if op.get_bind().dialect.name == "sqlite":
        # Plain DROP COLUMN (SQLite >= 3.35) once its index is gone: no batch copy needed.
        op.execute("ALTER TABLE forecast DROP COLUMN data_version")
    else:
        op.drop_column("forecast", "data_version")
    op.drop_table("data_version")
