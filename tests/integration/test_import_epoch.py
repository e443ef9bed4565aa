"""``capcast import epoch``: scores, release dates joined to stored models by name, bad copies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine
from tests.integration.import_harness import counts, fails, run, small_copy


def test_epoch_scores_and_release_dates_join(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    stored = tmp_path / "stored.csv"
    stored.write_text(
        "model,benchmark,metric,value\n01-ai/Yi-6B,hellaswag,acc,0.75\nyi_9b,hellaswag,acc,0.77\n"
        "not-an-epoch-model,hellaswag,acc,0.5\n"
    )
    run(cli, "observations", str(stored))
    report = run(cli, "epoch", str(shared_data / "epoch-benchmarks"))
    assert report["measurements_inserted"] == 836
    matched = {
        m["model"]: (m["model_version"], m["release_date"]) for m in report["release_dates_matched"]
    }
    assert matched == {"01-ai/Yi-6B": ("Yi-6B", "2023-11-02"), "yi_9b": ("Yi-9B", "2024-03-01")}
    assert "Yi-6B" not in report["release_dates_unmatched"]
    assert len(report["release_dates_unmatched"]) > 300
    engine = make_engine(db_url)
    with engine.connect() as conn:
        dates = dict(
            conn.execute(
                text(
                    "SELECT name, release_date FROM model WHERE name IN ('01-ai/Yi-6B', 'not-an-epoch-model', 'Yi-6B')"
                )
            )
            .tuples()
            .all()
        )
        n = conn.execute(
            text("SELECT COUNT(*) FROM observations WHERE source = 'epoch-benchmarks'")
        ).scalar()
    engine.dispose()
    # Epoch's Yi-6B is the stored 01-ai/Yi-6B (model identity): its rows joined that model
    assert str(dates["01-ai/Yi-6B"]) == "2023-11-02" and "Yi-6B" not in dates
    assert dates["not-an-epoch-model"] is None and n == 836
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
    good = mmlu.read_text(encoding="utf-8")
    lines = mmlu.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[9].split(",")
    cells[2] = "lots"
    mmlu.write_text(
        "\ufeff" + "\n".join([*lines[:9], ",".join(cells), *lines[10:]]) + "\n", encoding="utf-8"
    )
    message = fails(cli, "epoch", str(d))
    assert "external_benchmark_mmlu.csv, line 10, column EM: expected a percentage" in message
    assert counts(db_url) == before
    mmlu.write_text(good, encoding="utf-8")
    versions = d / "model_versions.csv"
    text_ = versions.read_text(encoding="utf-8-sig").replace("2023-07-18", "18/07/2023", 1)
    versions.write_text(text_, encoding="utf-8")
    assert "column Version release date: expected a date" in fails(cli, "epoch", str(d))
    assert counts(db_url) == before
