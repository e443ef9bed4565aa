"""Sloth's curated Open LLM Leaderboard v2 columns are raw accuracies: ``capcast import sloth``
stores them as metric ``acc`` (beside the v2 dump's ``<X> Raw``), never as the dump's normalised
``score``, and migration 0006 renames the ``score`` rows a 0005-era import stored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import bindparam, text
from typer.testing import CliRunner

from db import migrate
from db.session import make_engine
from tests.integration.import_harness import run, small_copy

# curated column -> canonical benchmark (db/benchmarks.yaml, migration 0005's FIXED)
V2 = {
    "IFEval": "leaderboard_ifeval",
    "BBH": "leaderboard_bbh@3shot",
    "MATH Lvl 5": "leaderboard_math_hard@4shot",
    "GPQA": "leaderboard_gpqa",
    "MUSR": "leaderboard_musr",
    "MMLU-PRO": "leaderboard_mmlu_pro@5shot",
}
ROWS = (
    "SELECT b.name, m.metric, m.value, m.source FROM measurement m"
    " JOIN benchmark b ON b.id = m.benchmark_id JOIN model o ON o.id = m.model_id"
    " WHERE o.name = :m ORDER BY m.id"
)


def test_import_sloth_stores_the_curated_v2_columns_as_acc(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "sloth-openllm"
    names = {
        "data_v1.csv": 4,
        "data_v2.csv": 6,  # line 3: bloom-1b1
        "open-llm-leaderboard_old.csv": 5,
        "open-llm-leaderboard_new.csv": 0,  # line 708: bigscience/bloom-1b1
    }
    d = small_copy(src, tmp_path / "s", names)
    run(cli, "sloth", str(d))
    raw = pd.read_csv(d / "data_v2.csv", dtype=str).set_index("Model").loc["bloom-1b1"]
    dump = pd.read_csv(d / "open-llm-leaderboard_new.csv", dtype=str).set_index("Model")
    dump = dump.loc["bigscience/bloom-1b1"]
    # the curated BBH is the dump's raw BBH, not its normalised score
    assert (raw["BBH"], dump["BBH Raw"], dump["BBH"]) == ("0.31", "0.31", "4.04")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        curated = conn.execute(text(ROWS), {"m": "bloom-1b1"}).all()
        hf = conn.execute(text(ROWS), {"m": "bigscience/bloom-1b1"}).all()
        scored = conn.execute(
            text(
                "SELECT COUNT(*) FROM measurement m JOIN benchmark b ON b.id = m.benchmark_id"
                " WHERE m.metric = 'score' AND b.name IN :names"
                " AND m.source NOT LIKE 'sloth-openllm/open-llm-leaderboard%'"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": list(V2.values())},
        ).scalar_one()
    engine.dispose()
    got = {(b, m): v for b, m, v, s in curated if s == "sloth-openllm/data_v2.csv"}
    assert got[("leaderboard_bbh@3shot", "acc")] == 0.31
    expect = {("leaderboard_ifeval", "acc"): 0.14, ("leaderboard_bbh@3shot", "acc"): 0.31,
              ("leaderboard_math_hard@4shot", "acc"): 0.0, ("leaderboard_gpqa", "acc"): 0.26,
              ("leaderboard_musr", "acc"): 0.37, ("leaderboard_mmlu_pro@5shot", "acc"): 0.11}  # fmt: skip
    assert {k: v for k, v in got.items() if k[0] in V2.values()} == expect  # exact: copied
    assert scored == 0  # no curated row of the six, of any model, holds metric score
    # the dump's rows of the same model keep both scales apart: its raw acc is the curated acc
    assert {s for *_, s in hf} == {"sloth-openllm/open-llm-leaderboard_new.csv"}
    mine = {(b, m): v for b, m, v, _ in hf}
    assert mine[("leaderboard_bbh@3shot", "score")] == pytest.approx(0.0404, rel=1e-12)
    assert mine[("leaderboard_bbh@3shot", "acc")] == 0.31
    for column, name in V2.items():
        assert mine[(name, "acc")] == got[(name, "acc")] == float(raw[column]), name
        assert mine[(name, "score")] == pytest.approx(float(dump[column]) / 100, rel=1e-12), name


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0006_renames_stored_curated_v2_scores_to_acc(empty_db_url: str) -> None:
    """Rows a 0005-era ``capcast import sloth`` stored as the curated tables' v2 ``score`` become
    ``acc`` with their values; the dump's rows and other sources' rows stay as they are."""
    migrate.upgrade(empty_db_url, "0005")
    engine = make_engine(empty_db_url)
    insert = (
        "INSERT INTO measurement (model_id, benchmark_id, metric, value, source)"
        " SELECT m.id, b.id, :metric, :v, :s FROM model m, benchmark b"
        " WHERE m.name = :m AND b.name = :b"
    )
    v2, v1 = "sloth-openllm/data_v2.csv", "sloth-openllm/data_v1.csv"
    new = "sloth-openllm/open-llm-leaderboard_new.csv"
    rows = [
        ("bloom-1b1", "leaderboard_bbh@3shot", "score", 0.31, v2),
        ("bloom-1b1", "leaderboard_ifeval", "score", 0.14, v2),
        ("yi-1.5-34b", "leaderboard_bbh@3shot", "score", 0.6, v1),
        ("bigscience/bloom-1b1", "leaderboard_bbh@3shot", "score", 0.0404, new),
        ("bigscience/bloom-1b1", "leaderboard_bbh@3shot", "acc", 0.31, new),
        ("bloom-1b1", "leaderboard_bbh@3shot", "score", 0.5, "my-own-table.csv"),
        ("bloom-1b1", "mt_bench", "score", 0.4, v2),  # not one of the six
        # an acc row already there (not written at 0005): the score twin goes, the acc row stays
        ("bloom-1b1", "leaderboard_gpqa", "acc", 0.26, v2),
        ("bloom-1b1", "leaderboard_gpqa", "score", 0.26, v2),
    ]
    try:
        with engine.begin() as conn:
            for m in ("bloom-1b1", "yi-1.5-34b", "bigscience/bloom-1b1"):
                conn.execute(text("INSERT INTO model (name) VALUES (:m)"), {"m": m})
            for b in (
                "leaderboard_bbh@3shot",
                "leaderboard_ifeval",
                "leaderboard_gpqa",
                "mt_bench",
            ):
                conn.execute(
                    text("INSERT INTO benchmark (name, kind) VALUES (:b, 'leaderboard')"), {"b": b}
                )
            for m, b, metric, v, s in rows:
                conn.execute(text(insert), {"m": m, "b": b, "metric": metric, "v": v, "s": s})
            conn.execute(
                text(
                    "INSERT INTO data_version (family, benchmark, n) VALUES"
                    " ('', 'leaderboard_bbh@3shot', 2), ('llama', 'leaderboard_bbh@3shot', 1),"
                    " ('', 'leaderboard_gpqa', 4), ('', 'mt_bench', 5)"
                )
            )
        migrate.upgrade(empty_db_url)
        assert migrate.current(empty_db_url) == "0006"
        with engine.connect() as conn:
            got = conn.execute(
                text(
                    "SELECT o.name, b.name, m.metric, m.value, m.source FROM measurement m"
                    " JOIN benchmark b ON b.id = m.benchmark_id JOIN model o ON o.id = m.model_id"
                    " ORDER BY m.id"
                )
            ).all()
            versions = {
                (f, b): n
                for f, b, n in conn.execute(text("SELECT family, benchmark, n FROM data_version"))
            }
    finally:
        engine.dispose()
    assert [tuple(r) for r in got] == [
        ("bloom-1b1", "leaderboard_bbh@3shot", "acc", 0.31, v2),
        ("bloom-1b1", "leaderboard_ifeval", "acc", 0.14, v2),
        ("yi-1.5-34b", "leaderboard_bbh@3shot", "acc", 0.6, v1),
        ("bigscience/bloom-1b1", "leaderboard_bbh@3shot", "score", 0.0404, new),
        ("bigscience/bloom-1b1", "leaderboard_bbh@3shot", "acc", 0.31, new),
        ("bloom-1b1", "leaderboard_bbh@3shot", "score", 0.5, "my-own-table.csv"),
        ("bloom-1b1", "mt_bench", "score", 0.4, v2),
        ("bloom-1b1", "leaderboard_gpqa", "acc", 0.26, v2),
    ]
    assert versions == {
        ("", "leaderboard_bbh@3shot"): 3,
        ("llama", "leaderboard_bbh@3shot"): 2,
        ("", "leaderboard_gpqa"): 5,
        ("", "mt_bench"): 5,
    }
