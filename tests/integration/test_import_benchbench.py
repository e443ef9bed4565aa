"""``capcast import benchbench`` on a copy of three tables of each layout, and bad copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from db.importers import benchbench
from db.session import make_engine
from tests.integration.import_harness import counts, fails, run

TABLES = (
    "benchmarks/helm_airbench_240916_safety.csv",  # wide, lower is better
    "benchmarks/opencompass_academic_240829_holistic.csv",  # wide, last line short
    "benchmarks_old/hf_open_llm_v1_240829_frozen.csv",  # wide, 1,804 models
    "historical/combined_holistic_20240708.csv",  # long, several snapshots
)


def test_benchbench_tables_of_each_layout(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    d = tmp_path / "bb"
    for rel in TABLES:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "benchbench" / rel, d / rel)
    expected = benchbench.benchbench_scores(d)
    report = run(cli, "benchbench", str(d))
    assert report["measurements_inserted"] == len(expected) > 1804 * 7
    before = counts(db_url)
    assert run(cli, "benchbench", str(d))["measurements_inserted"] == 0
    assert counts(db_url) == before
    engine = make_engine(db_url)
    with engine.connect() as conn:
        directions = dict(
            conn.execute(
                text("SELECT name, higher_is_better FROM benchmark WHERE kind = 'leaderboard'")
            )
            .tuples()
            .all()
        )
        n = conn.execute(
            text(
                "SELECT COUNT(*) FROM observations WHERE source = 'benchbench/benchmarks_old/hf_open_llm_v1_240829_frozen.csv'"
            )
        ).scalar()
        snapshots = conn.execute(
            text(
                "SELECT COUNT(DISTINCT source) FROM measurement WHERE source LIKE 'benchbench/historical/%'"
            )
        ).scalar()
    engine.dispose()
    assert directions["HELM_AIRBENCH_Security_Risks"] in (False, 0)
    assert directions["openllm_v1_average"] in (True, 1)  # the registry's name for hf_open_llm_v1
    assert (
        n
        == (
            expected["source_file"] == "benchbench/benchmarks_old/hf_open_llm_v1_240829_frozen.csv"
        ).sum()
    )
    assert snapshots > 1


def test_benchbench_bad_copy_changes_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    d = tmp_path / "bb"
    (d / "benchmarks").mkdir(parents=True)
    src = shared_data / "benchbench" / "benchmarks" / "helm_lite_240829_holistic.csv"
    path = d / "benchmarks" / src.name
    shutil.copy(src, path)
    run(cli, "benchbench", str(d))
    before = counts(db_url)
    lines = src.read_text().splitlines()
    for row, value, expected in [
        (4, "inf", "finite"),
        (5, "0.123456", "as already stored"),
        (6, "good", "a finite number"),
    ]:
        model = lines[row - 1].split(",")[0]
        path.write_text("\n".join([*lines[: row - 1], f"{model},{value}", *lines[row:]]) + "\n")
        message = fails(cli, "benchbench", str(d))
        assert f"helm_lite_240829_holistic.csv, line {row}" in message and expected in message, (
            message
        )
        assert counts(db_url) == before
    path.write_text("\n".join([*lines, "extra,0.5,0.7"]) + "\n")
    assert "expected 2 fields" in fails(cli, "benchbench", str(d))
    assert counts(db_url) == before
