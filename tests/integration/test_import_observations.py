"""``capcast import observations`` on SQLite and PostgreSQL: loads, is idempotent, and a bad file
changes nothing while naming file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db.errors import ImportValidationError
from db.loader import load_observations
from db.observations import OBSERVATION_COLUMNS, read_observations
from db.queries import fetch_observations
from db.session import make_engine, transaction
from service.cli import app
from tests.integration.import_harness import counts

HEADER = ",".join(OBSERVATION_COLUMNS) + ",stderr"


def ladder_csv(path: Path, *, n: int = 8, bad_row: int | None = None) -> Path:
    """n models x (arc acc, c4 loss at two checkpoints); ``bad_row`` gets n_params -5."""
    rows = []
    for i in range(n):
        size = (i + 1) * 10_000_000
        rows.append(
            f"lad-{i},ladder,{size},{size * 0.8},{size * 20},,2024-02-0{i % 9 + 1},,arc,acc,{0.25 + i / 50},0.01"
        )
        for step in (1000, 2000):
            rows.append(
                f"lad-{i},ladder,{size},{size * 0.8},{step * 4096},,2024-02-0{i % 9 + 1},{step},c4_val,loss,{4 - i / 10 - step / 1e4},"
            )
    if bad_row is not None:
        cells = rows[bad_row - 1].split(",")
        cells[2] = "-5"
        rows[bad_row - 1] = ",".join(cells)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_import_is_idempotent_and_round_trips(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = ladder_csv(tmp_path / "ladder.csv")
    res = cli.invoke(app, ["import", "observations", str(path), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["measurements_inserted"] == 24 and report["models_created"] == 8
    assert "inserted 24" in res.stderr
    before = counts(db_url)
    assert before["measurement"] == 24 and before["model_family"] == 1
    again = cli.invoke(app, ["import", "observations", str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["measurements_unchanged"] == 24
    assert counts(db_url) == before
    engine = make_engine(db_url)
    with transaction(engine) as s:
        back = fetch_observations(s, family="ladder")
        final = fetch_observations(s, benchmark="c4_val", final_only=True)
    engine.dispose()
    src = read_observations(path)
    merged = back.merge(
        src.reset_index(drop=True), on=["model", "benchmark", "metric", "checkpoint_step"]
    )
    assert len(merged) == 24
    for col in ("value", "n_params", "n_params_nonembed", "n_tokens", "stderr"):
        pd.testing.assert_series_equal(merged[f"{col}_x"], merged[f"{col}_y"], check_names=False)
    assert (merged["release_date_x"] == merged["release_date_y"]).all()
    assert merged["source_x"].eq("ladder.csv").all()
    assert len(final) == 8 and final["checkpoint_step"].eq(2000).all()
    # flops are derived by the view as 6 N D at each checkpoint's tokens
    assert (final["flops"] == 6 * final["n_params"] * final["n_tokens"]).all()


def test_row_7_negative_n_params_changes_nothing(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    cli.invoke(app, ["import", "observations", str(ladder_csv(tmp_path / "ok.csv", n=3))])
    before = counts(db_url)
    bad = ladder_csv(tmp_path / "bad.csv", bad_row=7)
    res = cli.invoke(app, ["import", "observations", str(bad)])
    assert res.exit_code == 2
    message = " ".join(res.stderr.split())
    assert "bad.csv, line 8 (data row 7), column n_params" in message
    assert "expected a non-negative number, got -5" in message
    assert counts(db_url) == before


def test_conflicts_with_stored_rows_roll_back_everything(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    with transaction(engine) as s:
        load_observations(s, read_observations(ladder_csv(tmp_path / "a.csv", n=4)), source="x")
    before = counts(db_url)
    # a new model first (would be inserted), then a stored key with a different value
    lines = (tmp_path / "a.csv").read_text().splitlines()
    changed = lines[4].replace(",0.27,", ",0.99,")
    newcomer = lines[1].replace("lad-0", "lad-new")
    (tmp_path / "b.csv").write_text("\n".join([lines[0], newcomer, changed]) + "\n")
    with pytest.raises(ImportValidationError) as info, transaction(engine) as s:
        load_observations(s, read_observations(tmp_path / "b.csv"), source="x")
    assert (info.value.line, info.value.column) == (3, "value")
    assert "0.27 as already stored" in str(info.value) and "lad-1" in str(info.value)
    assert counts(db_url) == before
    # a stored model attribute that differs is an error too
    (tmp_path / "c.csv").write_text(
        "\n".join(
            [lines[0], lines[1].replace(",arc,", ",piqa,").replace(",10000000,", ",11000000,", 1)]
        )
        + "\n"
    )
    with (
        pytest.raises(ImportValidationError, match="as already stored for model 'lad-0'") as info,
        transaction(engine) as s,
    ):
        load_observations(s, read_observations(tmp_path / "c.csv"), source="x")
    assert info.value.column == "n_params"
    assert counts(db_url) == before
    engine.dispose()


def test_missing_attributes_are_filled_not_overwritten(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    head = ",".join(OBSERVATION_COLUMNS)
    (tmp_path / "a.csv").write_text(f"{head}\nm,,,,,,,,arc,acc,0.5\n")
    (tmp_path / "b.csv").write_text(f"{head}\nm,fam,7e9,,,,2023-07-18,,piqa,acc,0.7\n")
    with transaction(engine) as s:
        load_observations(s, read_observations(tmp_path / "a.csv"), source="a")
    with transaction(engine) as s:
        report = load_observations(s, read_observations(tmp_path / "b.csv"), source="b")
    assert report.models_updated == 1 and report.families_created == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT n_params, release_date FROM model WHERE name = 'm'")).one()
        fam = conn.execute(
            text("SELECT f.name FROM model m JOIN model_family f ON f.id = m.family_id")
        ).scalar()
    engine.dispose()
    assert row[0] == 7e9 and str(row[1]) == "2023-07-18" and fam == "fam"


def test_unknown_benchmark_is_rejected_when_asked(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    cli.invoke(app, ["import", "observations", str(ladder_csv(tmp_path / "ok.csv", n=2))])
    before = counts(db_url)
    head = ",".join(OBSERVATION_COLUMNS)
    path = tmp_path / "typo.csv"
    path.write_text(
        f"{head}\nlad-0,ladder,10000000,,,,,,arc,acc,0.3\nlad-0,ladder,10000000,,,,,,c4-val,loss,3.9\n"
    )
    res = cli.invoke(app, ["import", "observations", str(path), "--known-benchmarks-only"])
    assert res.exit_code == 2
    message = " ".join(res.stderr.split())
    assert "typo.csv, line 3 (data row 2), column benchmark" in message
    assert "did you mean c4_val" in message
    assert counts(db_url) == before


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_import_the_same_rows(
    cli: CliRunner, db_url: str, tmp_path: Path, fmt: str
) -> None:
    src = read_observations(ladder_csv(tmp_path / "l.csv", n=3)).reset_index(drop=True)
    path = tmp_path / f"l.{fmt}"
    if fmt == "jsonl":
        src.assign(release_date=src["release_date"].dt.strftime("%Y-%m-%d")).to_json(
            path, orient="records", lines=True
        )
    else:
        src.to_parquet(path)
    res = cli.invoke(app, ["import", "observations", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["measurements_inserted"] == 9
    assert counts(db_url)["measurement"] == 9


def test_wrong_type_in_jsonl_changes_nothing(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    rows = [{"model": f"m{i}", "benchmark": "arc", "metric": "acc", "value": 0.5} for i in range(3)]
    rows[2]["n_params"] = "seven billion"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    before = counts(db_url)
    res = cli.invoke(app, ["import", "observations", str(path)])
    assert res.exit_code == 2
    assert "o.jsonl, line 3, column n_params: expected a number" in " ".join(res.stderr.split())
    assert counts(db_url) == before
