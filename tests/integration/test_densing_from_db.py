"""After the three public imports, ``capcast densing --from-db`` and ``/dashboard/densing`` show the
densing law with their documented defaults, without hand mapping."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine
from service.cli import app
from tests.integration.import_harness import run
from tests.integration.live_server import live_server, make_key, server_log_errors


def test_densing_from_db_after_three_imports(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
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
    named = json.loads(res.stdout)
    assert named["reference"]["score"] == "winogrande@5shot/acc"
    assert named["reference"]["loss"] == "lambada_openai@5shot/ppl"
    lo, hi = named["slope_interval"]
    assert math.isfinite(named["slope_per_day"]) and lo <= named["slope_per_day"] <= hi

    # the documented defaults: no names, no ceiling (winogrande/acc is a bounded accuracy: 1.0)
    res = cli.invoke(app, ["densing", "--from-db", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "picked: reference family pythia, winogrande@5shot/acc" in res.stderr
    assert out["reference"]["score"] == "winogrande@5shot/acc"
    assert out["reference"]["loss"] == "lambada_openai@5shot/ppl"
    assert out["reference"]["ceiling"] == 1.0 and out["reference"]["size_column"] == "n_params"
    # same data, same fit: the defaults are the named command's answer, to the last digit
    assert out["slope_per_day"] == named["slope_per_day"] and out["n_models"] == named["n_models"]
    # 47 dated, sized targets outside Pythia; 37 invert (the rest score below Pythia's curve's
    # floor or have no date). bench/report_predictors_i.py maps names by hand and inverts 32
    # (base models of data_v1 only); the database also holds instruct models and Epoch's rows.
    assert out["n_models"] == 37
    # The fit is deterministic on fixed data: 1e-4/day (2% of the slope) only absorbs optimiser
    # and BLAS differences across machines, and is far below the gaps this guards against (the
    # fitted ceiling's slope of ~0, the paper's 0.0073).
    assert out["slope_per_day"] == pytest.approx(0.00535, abs=1e-4)
    assert out["slope_interval"] == pytest.approx([0.00453, 0.00617], abs=1e-4)
    assert out["doubling_days"] == pytest.approx(math.log(2) / out["slope_per_day"], rel=1e-12)
    assert out["paper"]["slope_per_day"] == 0.0073
    assert "score ceiling 1: winogrande@5shot/acc is a bounded accuracy" in out["notes"]

    # why the ceiling is not fitted by default: Pythia's best Winogrande is 0.66, and a fitted
    # asymptote just above it leaves most stronger models without an effective size
    res = cli.invoke(app, ["densing", "--from-db", "--ceiling", "fitted", "--json"])
    assert res.exit_code == 0, res.output
    fitted = json.loads(res.stdout)
    assert fitted["reference"]["ceiling"] is None and fitted["n_models"] < out["n_models"] / 2

    # the dashboard's default view (no parameters) is the same law, over real HTTP
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, cookies={"capcast_key": read}, timeout=120) as page,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {read}"}, timeout=120
        ) as api,
    ):
        dens = page.get("/dashboard/densing")
        assert dens.status_code == 200, dens.text[:2000]
        html = dens.text
        assert 'id="densing-message"' not in html and 'id="page-error"' not in html
        assert (
            "Showing the default: pythia, winogrande@5shot, loss set lambada_openai@5shot" in html
        )
        assert 'id="density-plot" data-models="37"' in html
        assert "<svg" in html and 'id="chart"' in html  # the static plot and the interactive one
        data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html)
        assert data, "no chart data on the page"
        chart = json.loads(data.group(1))
        assert len(chart["points"]["model"]) == 37 and chart["law"] is not None
        (d0, d1), (y0, y1) = chart["law"]["date"], chart["law"]["y"]
        span = (pd.Timestamp(d1) - pd.Timestamp(d0)).days
        assert (y1 - y0) / span == pytest.approx(out["slope_per_day"], rel=1e-6)  # the law drawn
        t0 = (pd.Timestamp(d0) - pd.Timestamp("2020-01-01")).days  # the law's time origin
        assert y0 == pytest.approx(out["intercept"] + out["slope_per_day"] * t0, rel=1e-9)
        slope = re.search(r'id="densing-slope" data-slope="([^"]+)"', html)
        assert slope and float(slope.group(1)) == pytest.approx(out["slope_per_day"], rel=1e-9)
        lo_s, hi_s = (f"{v:.5f}" for v in out["slope_interval"])
        assert f'<span id="densing-slope-interval">[{lo_s}, {hi_s}]</span>' in html
        assert re.search(r'id="densing-paper-slope">0\.0073<', html)
        days = f"{out['doubling_days']:.0f} days"
        assert re.search(rf'id="densing-doubling">{days}', html), days
        body = {"reference_family": "pythia", "benchmark": "winogrande@5shot",
                "loss_benchmark": "lambada_openai@5shot", "loss_metric": "ppl"}  # fmt: skip
        rest = api.post("/v1/densing", json=body)  # no size given: the targets have only totals
        assert rest.status_code == 200, rest.text
        result = rest.json()["result"]
        assert result["n_models"] == 37
        assert "size measure n_params (default)" in result["notes"]
        assert result["slope_per_day"] == pytest.approx(out["slope_per_day"], rel=1e-9)
    assert server_log_errors(log) == [], log.read_text()
