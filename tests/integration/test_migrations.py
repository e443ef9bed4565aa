"""Migrations: empty → head → base → head on both databases, and the models match head."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

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


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0002_keeps_results_and_gives_runs_their_checkpoint(empty_db_url: str) -> None:
    """Rows written under 0001 survive 0002 (up and down); a run's step then reaches the view."""
    engine = make_engine(empty_db_url)
    inserts = [
        "INSERT INTO model (id, name, n_params, n_tokens, flops, checkpoint_step)"
        " VALUES (1, 'm', 1000, 20000, 1.2e8, 100)",
        "INSERT INTO benchmark (id, name, kind, higher_is_better) VALUES (1, 'b', 'generative', true)",
        "INSERT INTO item (id, benchmark_id, key, prompt) VALUES (1, 1, 'k', 'p')",
        "INSERT INTO eval_run (id, model_id, benchmark_id, mode, engine, config, config_hash, status)"
        " VALUES (1, 1, 1, 'samples', 'e', '{}', 'h', 'done')",
        "INSERT INTO item_result (id, run_id, item_id, n_samples, n_pass) VALUES (1, 1, 1, 10, 3)",
    ]
    select_view = "SELECT checkpoint_step, n_tokens, flops, pass_rate FROM item_results"
    try:
        migrate.upgrade(empty_db_url, "0001")
        with engine.begin() as conn:
            for sql in inserts:
                conn.execute(text(sql))
        migrate.upgrade(empty_db_url)
        with engine.begin() as conn:
            assert tuple(conn.execute(text(select_view)).one()) == (100, 20000, 1.2e8, 0.3)
            conn.execute(text("UPDATE eval_run SET checkpoint_step = 80, n_tokens = 16000"))
            assert tuple(conn.execute(text(select_view)).one()) == (80, 16000, 0.96e8, 0.3)
        migrate.downgrade(empty_db_url, "0001")
        with engine.begin() as conn:
            assert tuple(conn.execute(text(select_view)).one()) == (100, 20000, 1.2e8, 0.3)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0003_keeps_jobs_and_schedules_and_never_reuses_a_schedule_id(empty_db_url: str) -> None:
    """Rows written under 0002 survive 0003 with their links; a deleted schedule's id stays gone.

    On SQLite, 0003 recreates both tables (AUTOINCREMENT): a careless copy would unlink every job
    from its schedule (ON DELETE SET NULL fires when the old table is dropped).
    """
    engine = make_engine(empty_db_url)
    schedule = (
        "INSERT INTO schedule (name, kind, cron, job_kind, job_payload, enabled)"
        " VALUES ('{name}', 'cron', '0 3 * * *', 'import', '{{}}', true)"
    )
    job = (
        "INSERT INTO job (kind, payload, status, priority, attempts, max_attempts,"
        " cancel_requested, schedule_id, dedupe_key)"
        " VALUES ('import', '{{}}', 'queued', 0, 0, 3, false, {s}, 'schedule:{s}:{tick}')"
    )
    links = "SELECT id, schedule_id FROM job ORDER BY id"

    def insert(conn: Connection, sql: str, table: str) -> int:
        conn.execute(text(sql))
        return int(conn.execute(text(f"SELECT MAX(id) FROM {table}")).scalar_one())

    try:
        migrate.upgrade(empty_db_url, "0002")
        with engine.begin() as conn:
            ids = [insert(conn, schedule.format(name=f"s{i}"), "schedule") for i in (1, 2, 3)]
            assert ids == [1, 2, 3]
            for tick, s in (("a", 3), ("b", 3), ("c", 1)):
                insert(conn, job.format(s=s, tick=tick), "job")
        migrate.upgrade(empty_db_url)
        with engine.begin() as conn:
            assert conn.execute(text(links)).all() == [(1, 3), (2, 3), (3, 1)]
            assert conn.execute(text("SELECT COUNT(*) FROM schedule")).scalar() == 3
            conn.execute(text("DELETE FROM schedule WHERE id = 3"))
            assert conn.execute(text(links)).all() == [(1, None), (2, None), (3, 1)]
            assert insert(conn, schedule.format(name="after"), "schedule") == 4
            conn.execute(text("DELETE FROM job WHERE id = 3"))
            assert insert(conn, job.format(s=4, tick="d"), "job") == 4
            conn.execute(text("UPDATE api_key SET expires_at = NULL"))  # the column exists
        migrate.downgrade(empty_db_url, "0002")
        with engine.begin() as conn:
            assert conn.execute(text(links)).all() == [(1, None), (2, None), (4, 4)]
            columns = {c["name"] for c in inspect(conn).get_columns("api_key")}
            assert "expires_at" not in columns
        migrate.upgrade(empty_db_url)
        with engine.begin() as conn:
            assert conn.execute(text(links)).all() == [(1, None), (2, None), (4, 4)]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0005_moves_leaderboard_names_and_bumps_their_data_versions(empty_db_url: str) -> None:
    """A stored Open LLM Leaderboard v1 'Winogrande/score' row becomes 'winogrande@5shot/acc';
    the old benchmark, left empty, goes; both names' data versions move, others' stay."""
    migrate.upgrade(empty_db_url, "0004")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO model (name) VALUES ('m1')"))
            conn.execute(
                text(
                    "INSERT INTO benchmark (name, kind) VALUES ('Winogrande', 'multiple_choice'),"
                    " ('winogrande@5shot', 'multiple_choice'), ('other', 'multiple_choice')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO measurement (model_id, benchmark_id, metric, value, source)"
                    " SELECT m.id, b.id, 'score', 0.71, 'sloth-openllm/open-llm-leaderboard_old.csv'"
                    " FROM model m, benchmark b WHERE b.name = 'Winogrande'"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO data_version (family, benchmark, n) VALUES ('', 'Winogrande', 3),"
                    " ('', 'winogrande@5shot', 7), ('', 'other', 5)"
                )
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            moved = conn.execute(
                text(
                    "SELECT b.name, m.metric, m.value FROM measurement m"
                    " JOIN benchmark b ON b.id = m.benchmark_id"
                )
            ).all()
            names = set(conn.execute(text("SELECT name FROM benchmark")).scalars())
            versions = {
                b: n for b, n in conn.execute(text("SELECT benchmark, n FROM data_version"))
            }
    finally:
        engine.dispose()
    assert [tuple(r) for r in moved] == [("winogrande@5shot", "acc", 0.71)]
    assert "Winogrande" not in names and {"winogrande@5shot", "other"} <= names
    assert versions == {"Winogrande": 4, "winogrande@5shot": 8, "other": 5}
