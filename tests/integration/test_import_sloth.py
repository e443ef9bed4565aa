"""``capcast import sloth``: the curated table, leaderboard dumps (a small copy), bad copies."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine
from tests.integration.import_harness import counts, fails, run, small_copy


def test_sloth_curated_then_leaderboard_dumps(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "sloth-openllm"
    names = {
        "data_v1.csv": 0,
        "data_v2.csv": 0,
        "open-llm-leaderboard_old.csv": 400,
        "open-llm-leaderboard_new.csv": 100,
    }
    d = small_copy(src, tmp_path / "s", names)
    report = run(cli, "sloth", str(d))
    dumps = pd.concat(
        pd.read_csv(d / n, encoding="utf-8")
        for n in ("open-llm-leaderboard_old.csv", "open-llm-leaderboard_new.csv")
    )
    # curated names (yi-1.5-34b) differ from the dumps' HF ids (01-ai/Yi-1.5-34B)
    assert report["models_created"] == 200 + dumps["Model"].nunique()
    assert report["families_created"] > 30
    before = counts(db_url)
    again = run(cli, "sloth", str(d))
    assert again["measurements_inserted"] == 0 and again["measurements_unchanged"] == report["rows"]
    assert counts(db_url) == before
    old = (
        pd.read_csv(d / "open-llm-leaderboard_old.csv")
        .sort_values("date")
        .drop_duplicates("Model", keep="last")
    )
    first = old.iloc[0]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        llama = conn.execute(
            text("SELECT n_params, n_tokens, flops FROM model WHERE name = 'llama-2-7b'")
        ).one()
        # the registry's name for the leaderboard's ARC column (25-shot acc_norm)
        kind = conn.execute(
            text("SELECT kind FROM benchmark WHERE name = 'arc_challenge@25shot'")
        ).scalar()
        arc = conn.execute(
            text(
                "SELECT value FROM observations WHERE model = :m AND benchmark = 'arc_challenge@25shot'"
                " AND metric = 'acc_norm' AND source LIKE '%old.csv'"
            ),
            {"m": first["Model"]},
        ).scalar()
    engine.dispose()
    assert llama.n_params == 7e9 and llama.n_tokens == 2e12 and kind == "multiple_choice"
    assert arc == pytest.approx(first["ARC"] / 100)


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
    table = list(csv.reader(io.StringIO(good)))
    models = [r[1] for r in table]
    kept = next(i + 1 for i in range(8, len(table)) if models.count(models[i]) == 1)
    for row, col, value, expected in [
        (7, "ARC", "n/a", "a number"),
        (8, "#Params (B)", "seven", "a number"),
        (kept, "ARC", "99.5", "as already stored"),  # a row not dropped as an older submission
    ]:
        edited = [list(r) for r in table]
        edited[row - 1][table[0].index(col)] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(edited)
        old.write_text(buf.getvalue(), encoding="utf-8")
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
