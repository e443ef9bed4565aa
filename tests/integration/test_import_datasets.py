"""Pythia, Sloth, BenchBench and Epoch imports on SQLite and PostgreSQL: what lands in the views,
idempotence, and bad copies of each dataset that change nothing while naming file/line/column."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db.config import get_settings
from db.queries import fetch_observations, table_counts
from db.session import make_engine, transaction
from service.cli import app


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "400")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def counts(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    with transaction(engine) as s:
        out = table_counts(s)
    engine.dispose()
    return out


def run(cli: CliRunner, *args: str) -> dict:
    res = cli.invoke(app, ["import", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def fails(cli: CliRunner, *args: str) -> str:
    res = cli.invoke(app, ["import", *args])
    assert res.exit_code == 2, res.output
    return " ".join(res.stderr.split())


def small_copy(src: Path, dst: Path, files: dict[str, int]) -> Path:
    """The first n lines of each named file (n=0: the whole file)."""
    dst.mkdir(parents=True)
    for name, n in files.items():
        lines = (src / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (dst / name).write_text("".join(lines[:n] if n else lines), encoding="utf-8")
    return dst


def test_pythia_full_import_and_final_checkpoint_view(
    cli: CliRunner, db_url: str, shared_data: Path
) -> None:
    report = run(cli, "pythia", str(shared_data / "pythia-evals"))
    assert report["models_created"] == 16 and report["measurements_inserted"] == 86_016 + 672
    assert report["method"] == ("copy" if db_url.startswith("postgresql") else "executemany")
    before = counts(db_url)
    assert run(cli, "pythia", str(shared_data / "pythia-evals"))["measurements_unchanged"] == 86_688
    assert counts(db_url) == before
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT model, checkpoint_step, n_tokens, value FROM model_scores "
                "WHERE benchmark = 'lambada_openai' AND metric = 'acc' AND family = 'pythia'"
            )
        ).all()
    with transaction(engine) as s:
        traj = fetch_observations(s, benchmark="arc_easy", metric="acc", family="pythia-deduped")
    engine.dispose()
    assert len(rows) == 8 and {r.checkpoint_step for r in rows} == {143000}
    assert {r.n_tokens for r in rows} == {143000 * 2_097_152}
    assert len(traj) == 8 * 27 and traj["n_tokens"].max() == 143000 * 2_097_152


def test_pythia_bad_copies_change_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    files = {"pythia_v1_evals_wide.csv": 0, "pythia_v1_evals_long.csv": 60}
    d = small_copy(shared_data / "pythia-evals", tmp_path / "p", files)
    run(cli, "pythia", str(d))
    before = counts(db_url)
    long = d / "pythia_v1_evals_long.csv"
    good = long.read_text()
    lines = good.splitlines()
    for row, cell, value, expected in [
        (10, 5, "0.99", "as already stored"),  # same key, different value
        (11, 5, "inf", "finite"),
        (12, 6, "-0.1", "non-negative"),  # stderr
        (13, 5, "high", "a number"),
        (14, 3, "arc_hard", "unknown benchmark"),
    ]:
        cells = lines[row - 1].split(",")
        cells[cell] = value
        long.write_text("\n".join([*lines[: row - 1], ",".join(cells), *lines[row:]]) + "\n")
        message = fails(cli, "pythia", str(d))
        assert f"pythia_v1_evals_long.csv, line {row}" in message and expected in message, message
        assert counts(db_url) == before
    long.write_text(good + "pythia-70m,0,1000\n")
    assert "line 61: expected 7 fields" in fails(cli, "pythia", str(d))
    assert counts(db_url) == before


def test_sloth_curated_then_leaderboard_dumps(
    cli: CliRunner, db_url: str, shared_data: Path
) -> None:
    report = run(cli, "sloth", str(shared_data / "sloth-openllm"))
    assert report["models_created"] > 7000 and report["families_created"] > 30
    before = counts(db_url)
    again = run(cli, "sloth", str(shared_data / "sloth-openllm"), "--curated-only")
    assert again["measurements_inserted"] == 0 and again["measurements_unchanged"] > 29_000
    assert counts(db_url) == before
    engine = make_engine(db_url)
    with engine.connect() as conn:
        llama = conn.execute(
            text("SELECT n_params, n_tokens, flops FROM model WHERE name = 'llama-2-7b'")
        ).one()
        kind = conn.execute(text("SELECT kind FROM benchmark WHERE name = 'ARC'")).scalar()
    engine.dispose()
    assert llama.n_params == 7e9 and llama.n_tokens == 2e12 and kind == "leaderboard"


def test_sloth_bad_copies_change_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "sloth-openllm"
    names = {
        "data_v1.csv": 6,
        "data_v2.csv": 6,
        "open-llm-leaderboard_old.csv": 30,
        "open-llm-leaderboard_new.csv": 10,
    }
    d = small_copy(src, tmp_path / "s", names)
    run(cli, "sloth", str(d))
    before = counts(db_url)
    old = d / "open-llm-leaderboard_old.csv"
    good = old.read_text(encoding="utf-8")
    lines = good.splitlines()
    for row, col, value, expected in [
        (7, 3, "n/a", "a number"),
        (8, 15, "seven", "a number"),
        (9, 3, "99.5", "as already stored"),
    ]:
        cells = lines[row - 1].split(",")
        cells[col] = value
        old.write_text(
            "\n".join([*lines[: row - 1], ",".join(cells), *lines[row:]]) + "\n", encoding="utf-8"
        )
        message = fails(cli, "sloth", str(d))
        assert "open-llm-leaderboard_old.csv" in message and expected in message, message
        assert f"line {row}" in message
        assert counts(db_url) == before
    old.write_text(good, encoding="utf-8")
    v1 = d / "data_v1.csv"
    lines = v1.read_text(encoding="utf-8").splitlines()
    cells = lines[2].split(",")
    cells[5] = "-34"
    v1.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n", encoding="utf-8")
    message = fails(cli, "sloth", str(d))
    assert "column n_params: expected a non-negative number" in message
    assert counts(db_url) == before


def test_benchbench_all_tables(cli: CliRunner, db_url: str, shared_data: Path) -> None:
    report = run(cli, "benchbench", str(shared_data / "benchbench"))
    assert report["measurements_inserted"] > 30_000 and report["benchmarks_created"] > 250
    before = counts(db_url)
    assert run(cli, "benchbench", str(shared_data / "benchbench"))["measurements_inserted"] == 0
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
    engine.dispose()
    assert directions["HELM_AIRBENCH_Security_Risks"] in (False, 0)
    assert directions["hf_open_llm_v1"] in (True, 1)
    assert n > 1804 * 6


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
        (4, "nan", "finite"),
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


def test_epoch_scores_and_release_dates_join(
    cli: CliRunner, db_url: str, shared_data: Path
) -> None:
    run(cli, "sloth", str(shared_data / "sloth-openllm"), "--curated-only")
    report = run(cli, "epoch", str(shared_data / "epoch-benchmarks"))
    assert report["measurements_inserted"] == 836
    matched = {m["model"]: m["model_version"] for m in report["release_dates_matched"]}
    assert matched.get("llama-2-7b") == "Llama-2-7b" or "llama-2-7b" in matched
    assert len(report["release_dates_unmatched"]) > 100
    engine = make_engine(db_url)
    with engine.connect() as conn:
        date = conn.execute(
            text("SELECT release_date FROM model WHERE name = 'llama-2-7b'")
        ).scalar()
        n = conn.execute(
            text("SELECT COUNT(*) FROM observations WHERE source = 'epoch-benchmarks'")
        ).scalar()
    engine.dispose()
    assert str(date) == "2023-07-18" and n == 836
    before = counts(db_url)
    assert run(cli, "epoch", str(shared_data / "epoch-benchmarks"))["measurements_unchanged"] == 836
    assert counts(db_url) == before


def test_epoch_bad_copy_changes_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "epoch-benchmarks"
    d = small_copy(
        src, tmp_path / "e", {"model_versions.csv": 0, "external_benchmark_mmlu.csv": 40}
    )
    run(cli, "epoch", str(d))
    before = counts(db_url)
    mmlu = d / "external_benchmark_mmlu.csv"
    lines = mmlu.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[9].split(",")
    cells[2] = "lots"
    mmlu.write_text(
        "\ufeff" + "\n".join([*lines[:9], ",".join(cells), *lines[10:]]) + "\n", encoding="utf-8"
    )
    message = fails(cli, "epoch", str(d))
    assert "external_benchmark_mmlu.csv, line 10, column EM: expected a percentage" in message
    assert counts(db_url) == before
    versions = d / "model_versions.csv"
    text_ = versions.read_text(encoding="utf-8-sig").replace("2023-07-18", "18/07/2023", 1)
    versions.write_text(text_, encoding="utf-8")
    assert "column Version release date: expected a date" in fails(cli, "epoch", str(d))
    assert counts(db_url) == before
