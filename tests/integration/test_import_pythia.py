"""``capcast import pythia`` (all 86,688 rows) on SQLite and PostgreSQL, and bad copies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from db.queries import fetch_observations
from db.session import make_engine, transaction
from tests.integration.import_harness import counts, fails, run, small_copy


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
