"""Migrations: empty → head → base → head on both databases, and the models match head."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.models import Base
from db.session import make_engine
from db.views import view_names

TABLES = {
    "model_family",
    "model",
    "benchmark",
    "item",
    "eval_run",
    "item_result",
    "choice_score",
    "measurement",
    "forecast",
    "job",
    "schedule",
    "api_key",
}


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(empty_db_url)
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES
        assert set(view_names()) <= set(insp.get_view_names())
        migrate.downgrade(empty_db_url, "base")
        insp = inspect(engine)
        assert not TABLES & set(insp.get_table_names())
        assert not set(view_names()) & set(insp.get_view_names())
        migrate.upgrade(empty_db_url)
        assert migrate.current(empty_db_url) is not None
        with engine.connect() as conn:
            diff = [
                d
                for d in compare_metadata(MigrationContext.configure(conn), Base.metadata)
                if not (d[0] == "add_index" and d[1].name == "uq_measurement_identity")
            ]
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()
