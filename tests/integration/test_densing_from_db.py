"""After the three public imports, ``capcast densing --from-db`` works without hand mapping."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine
from service.cli import app
from tests.integration.import_harness import run


def test_densing_from_db_after_three_imports(
    cli: CliRunner, db_url: str, shared_data: Path
) -> None:
    if not db_url.startswith("sqlite"):
        return  # one backend is enough for this analysis; the importers run on both elsewhere
    run(cli, "epoch", str(shared_data / "epoch-benchmarks"))
    sloth = run(cli, "sloth", str(shared_data / "sloth-openllm"), "--curated-only")
    run(cli, "pythia", str(shared_data / "pythia-evals"))
    joined = {j["alias"]: j["model"] for j in sloth["models_joined"]}
    assert joined["llama-2-13b"] == "Llama-2-13b"  # epoch's name, sloth's sizes
    assert all(u.startswith("sloth:") for u in sloth["benchmarks_unmatched"])
    engine = make_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT n_params, release_date FROM model WHERE name = 'Llama-2-13b'")
        ).one()
        rows = conn.execute(
            text(
                "SELECT attribute, source FROM model_value_source v JOIN model m "
                "ON m.id = v.model_id WHERE m.name = 'Llama-2-13b'"
            )
        ).all()
        prov = {str(a): str(b) for a, b in rows}
    engine.dispose()
    assert row[0] == 13e9 and str(row[1]) == "2023-07-18"
    assert prov["release_date"] == "epoch-benchmarks"
    assert prov["n_params"].startswith("sloth-openllm/")
    res = cli.invoke(
        app,
        [
            "densing", "--from-db", "--reference-family", "pythia", "--benchmark", "winogrande",
            "--loss-benchmark", "lambada_openai", "--loss-metric", "ppl", "--ceiling", "1", "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["reference"]["score"] == "winogrande@5shot/acc"
    assert out["reference"]["loss"] == "lambada_openai@5shot/ppl"
    lo, hi = out["slope_interval"]
    assert math.isfinite(out["slope_per_day"]) and lo <= out["slope_per_day"] <= hi
    # bench/report_predictors_i.py maps names by hand and inverts 32 targets (base models of
    # data_v1 only); the database also holds instruct models and Epoch's 5-shot rows
    assert out["n_models"] > 0
