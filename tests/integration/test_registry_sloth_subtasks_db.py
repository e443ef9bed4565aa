"""Sloth's Open LLM Leaderboard v2 sub-task columns in the database: a fresh ``capcast import
sloth`` stores them under canonical names, and migration 0006 moves rows stored at 0005."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db import migrate
from db.session import make_engine
from tests.integration.import_harness import run, small_copy

SUBTASK = ("bbh_", "gpqa_", "math_", "musr_")


def test_import_sloth_stores_the_subtasks_under_canonical_names(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "sloth-openllm"
    names = {
        "data_v1.csv": 4,
        "data_v2.csv": 6,  # lines 2-6: bloom-1b1 (line 3) has the sub-task columns
        "open-llm-leaderboard_old.csv": 5,
        "open-llm-leaderboard_new.csv": 5,
    }
    d = small_copy(src, tmp_path / "s", names)
    report = run(cli, "sloth", str(d))
    assert not [u for u in report["benchmarks_unmatched"] if u.split(":", 1)[1].startswith(SUBTASK)]
    assert report["benchmarks_unmatched"] == []
    raw = pd.read_csv(d / "data_v2.csv", dtype=str).set_index("Model").loc["bloom-1b1"]
    assert raw["bbh_boolean_expressions"] == "0.54"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        got = {
            (b, m): v
            for b, m, v in conn.execute(
                text(
                    "SELECT b.name, m.metric, m.value FROM measurement m"
                    " JOIN benchmark b ON b.id = m.benchmark_id JOIN model o ON o.id = m.model_id"
                    " WHERE o.name = 'bloom-1b1' AND m.source = 'sloth-openllm/data_v2.csv'"
                )
            )
        }
        stored = set(conn.execute(text("SELECT name FROM benchmark")).scalars())
        kinds = {
            n: (k, c)
            for n, k, c in conn.execute(
                text(
                    "SELECT name, kind, chance FROM benchmark WHERE name LIKE 'leaderboard_%'"
                    " OR name = 'mmlu_anatomy@5shot'"
                )
            )
        }
    engine.dispose()
    # the registry's kind and chance, as migration 0006 gives moved rows (not 'leaderboard')
    assert kinds["leaderboard_gpqa_diamond"] == ("multiple_choice", 0.25)
    assert kinds["leaderboard_math_algebra_hard@4shot"] == ("generative", 0.0)
    assert kinds["leaderboard_bbh_web_of_lies@3shot"] == ("multiple_choice", None)
    assert kinds["mmlu_anatomy@5shot"] == ("multiple_choice", 0.25)  # hendrycksTest-anatomy
    assert got[("leaderboard_bbh_boolean_expressions@3shot", "acc_norm")] == 0.54
    expect = {
        ("leaderboard_gpqa_diamond", "acc_norm"): "gpqa_diamond",
        ("leaderboard_math_algebra_hard@4shot", "exact_match"): "math_algebra_hard",
        ("leaderboard_musr_murder_mysteries", "acc_norm"): "musr_murder_mysteries",
        ("leaderboard_bbh_web_of_lies@3shot", "acc_norm"): "bbh_web_of_lies",
    }
    for key, column in expect.items():
        assert got[key] == float(raw[column]), key  # copied, not rescaled: exact
    families = ("leaderboard_bbh_", "leaderboard_gpqa_", "leaderboard_math_", "leaderboard_musr_")
    sub = [k for k in got if k[0].startswith(families) and k[0] != "leaderboard_math_hard@4shot"]
    assert len(sub) == 37  # every sub-task column of bloom-1b1's row
    assert not [n for n in stored if n.startswith(SUBTASK)]


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0006_moves_stored_subtask_rows_to_canonical_names(empty_db_url: str) -> None:
    """Rows a 0005-era ``capcast import sloth`` stored under the column names move to the
    canonical names with their values; a dump's or another source's row of the same name stays."""
    migrate.upgrade(empty_db_url, "0005")
    engine = make_engine(empty_db_url)
    insert = (
        "INSERT INTO measurement (model_id, benchmark_id, metric, value, source)"
        " SELECT m.id, b.id, 'score', :v, :s FROM model m, benchmark b"
        " WHERE m.name = 'bloom-1b1' AND b.name = :b"
    )
    rows = [
        ("bbh_boolean_expressions", 0.54, "sloth-openllm/data_v2.csv"),
        ("bbh_boolean_expressions", 0.892, "sloth-openllm/data_v1.csv"),
        ("gpqa_diamond", 0.2626262626262626, "sloth-openllm/data_v2.csv"),
        ("math_counting_and_prob_hard", 0.0, "sloth-openllm/data_v2.csv"),
        ("musr_team_allocation", 0.36, "sloth-openllm/data_v2.csv"),
        ("musr_team_allocation", 0.5, "my-own-table.csv"),
        ("gpqa_diamond", 0.3, "sloth-openllm/open-llm-leaderboard_new.csv"),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO model (name) VALUES ('bloom-1b1')"))
            # as the 0005-era import created them: kind 'leaderboard', no chance
            for name in ("bbh_boolean_expressions", "gpqa_diamond", "math_counting_and_prob_hard",
                         "musr_team_allocation", "other", "mmlu_anatomy@5shot",
                         "mmlu_pro@unknownshot"):  # fmt: skip
                conn.execute(
                    text("INSERT INTO benchmark (name, kind) VALUES (:n, 'leaderboard')"),
                    {"n": name},
                )
            for b, v, s in rows:
                conn.execute(text(insert), {"b": b, "v": v, "s": s})
            conn.execute(
                text(
                    "INSERT INTO data_version (family, benchmark, n) VALUES"
                    " ('', 'bbh_boolean_expressions', 2), ('', 'other', 5)"
                )
            )
        migrate.upgrade(empty_db_url)
        assert migrate.current(empty_db_url) == "0006"
        with engine.connect() as conn:
            moved = conn.execute(
                text(
                    "SELECT b.name, m.metric, m.value, m.source FROM measurement m"
                    " JOIN benchmark b ON b.id = m.benchmark_id ORDER BY m.id"
                )
            ).all()
            benches = {
                n: (k, c)
                for n, k, c in conn.execute(text("SELECT name, kind, chance FROM benchmark"))
            }
            versions = dict(conn.execute(text("SELECT benchmark, n FROM data_version")).all())
    finally:
        engine.dispose()
    assert [tuple(r) for r in moved] == [
        ("leaderboard_bbh_boolean_expressions@3shot", "acc_norm", 0.54, "sloth-openllm/data_v2.csv"),
        ("leaderboard_bbh_boolean_expressions@3shot", "acc_norm", 0.892, "sloth-openllm/data_v1.csv"),
        ("leaderboard_gpqa_diamond", "acc_norm", 0.2626262626262626, "sloth-openllm/data_v2.csv"),
        ("leaderboard_math_counting_and_prob_hard@4shot", "exact_match", 0.0, "sloth-openllm/data_v2.csv"),
        ("leaderboard_musr_team_allocation", "acc_norm", 0.36, "sloth-openllm/data_v2.csv"),
        ("musr_team_allocation", "score", 0.5, "my-own-table.csv"),
        ("gpqa_diamond", "score", 0.3, "sloth-openllm/open-llm-leaderboard_new.csv"),
    ]  # fmt: skip
    assert benches == {
        "leaderboard_bbh_boolean_expressions@3shot": ("multiple_choice", None),
        "leaderboard_gpqa_diamond": ("multiple_choice", 0.25),
        "leaderboard_math_counting_and_prob_hard@4shot": ("generative", 0.0),
        "leaderboard_musr_team_allocation": ("multiple_choice", None),
        "musr_team_allocation": ("leaderboard", None),  # still holds another source's row
        "gpqa_diamond": ("leaderboard", None),  # and a leaderboard dump's
        "other": ("leaderboard", None),
        "mmlu_anatomy@5shot": ("multiple_choice", 0.25),  # a sloth MMLU subject: the registry's
        "mmlu_pro@unknownshot": ("leaderboard", None),  # a leaderboard's own name stays
    }
    assert versions == {"bbh_boolean_expressions": 3, "other": 5}
