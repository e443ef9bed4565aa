"""The observational method through the service's paths, on SQLite and PostgreSQL: ``capcast
backtest`` and ``capcast forecast`` from the database, ``POST /v1/forecasts`` over real HTTP (an
existing model named in the target, forecast from its stored base scores) and the dashboard's
capability-space page."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from db.session import make_engine, transaction
from service.cli import app
from tests.integration.live_server import live_server, make_key, server_log_errors
from tests.unit.test_observational import BASE, capability, synthetic, target_of

PARAMS = {"base_benchmarks": list(BASE), "n_bootstrap": 40}


def _load(db_url: str, frame: pd.DataFrame) -> None:
    from db.loader import load_observations

    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            load_observations(session, frame.assign(release_date=pd.NaT), source="t")
    finally:
        engine.dispose()


def _cli(db_url: str, monkeypatch, *args: str) -> dict:
    from db.config import get_settings

    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, [*args, "--params", json.dumps(PARAMS), "--json"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    out: dict = json.loads(r.stdout)
    return out


def test_observational_cli_rest_and_dashboard(db_url: str, tmp_path: Path, monkeypatch) -> None:
    obs = synthetic(5)
    # hold one model of family fb back from the target benchmark: an existing model, new benchmark
    held = "fb-11"
    truth = float(obs[(obs["model"] == held) & (obs["benchmark"] == "target")]["value"].iloc[0])
    _load(db_url, obs[~((obs["model"] == held) & (obs["benchmark"] == "target"))])

    bt = _cli(db_url, monkeypatch, "backtest", "--method", "observational", "--benchmark",
              "target", "--fit", "flops <= 1e22", "--predict", "flops > 1e22")  # fmt: skip
    # planned models above 1e22 FLOPs; target noise 0.01, so 3 sigma bounds the mean error
    assert bt["summary"]["n_predicted"] == bt["summary"]["n"] > 5
    assert bt["summary"]["mean_abs_error"] < 0.03

    f = _cli(db_url, monkeypatch, "forecast", "--method", "observational", "--benchmark",
             "target", "--family", "fc", "--target", "flops=1.6e23")  # fmt: skip
    expected = float(target_of(capability("fc", np.array([np.log10(1.6e23)])))[0])
    assert f["lower"] <= expected <= f["upper"] and abs(f["point"] - expected) < 0.03

    read = make_key(db_url, "read", name="reader")
    write = make_key(db_url, "write", name="writer")  # forecasting needs the forecast scope
    log = tmp_path / "server.log"
    query = {"method": "observational", "benchmark": "target", "metric": "acc",
             "params": PARAMS, "target": {"model": held, "flops": 1e22}}  # fmt: skip
    with (
        live_server(db_url, log, CAPCAST_FIT_TIMEOUT_S="600") as base,
        httpx.Client(base_url=base, timeout=300) as c,
    ):
        resp = c.post("/v1/forecasts", json=query, headers={"Authorization": f"Bearer {write}"})
        # a planned model of family fc, named in the target, fitted on every family
        planned_query = {**query, "target": {"family": "fc", "flops": 1.6e23}}
        planned = c.post("/v1/forecasts", json=planned_query,
                         headers={"Authorization": f"Bearer {write}"})  # fmt: skip
        page = c.get("/dashboard/observational", params={"base": ",".join(BASE)},
                     cookies={"capcast_key": read})  # fmt: skip
        bad = c.get("/dashboard/observational", params={"base": "nope"},
                    cookies={"capcast_key": read})  # fmt: skip
    assert server_log_errors(log) == [], log.read_text()
    assert resp.status_code == 200, resp.text
    got = resp.json()
    # from its stored base scores (the flops given are ignored): the target noise is 0.01
    assert got["lower"] <= truth <= got["upper"] and abs(got["point"] - truth) < 0.03
    assert planned.status_code == 200, planned.text
    p = planned.json()
    assert p["lower"] <= expected <= p["upper"] and abs(p["point"] - expected) < 0.03
    assert p["diagnostics"]["notes"][0].endswith("from its family's compute efficiency"), p
    assert page.status_code == 200, page.text[:2000]
    assert 'data-models="48"' in page.text and 'id="capability-points-0"' in page.text
    assert 'id="efficiency-line-3"' in page.text  # four families, four fitted lines
    assert bad.status_code == 422 and 'id="capability-error"' in bad.text
