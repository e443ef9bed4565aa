"""COD and PassUntil fed from the database (SQLite and PostgreSQL): item results of a ladder's
checkpoints written through db/, read back through the ``item_results`` view with each
checkpoint's own step and compute, fitted by the CLI's loader and served by POST /v1/forecasts
over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from db.models import ModelFamily
from db.results import (
    ItemRow,
    get_or_create_benchmark,
    get_or_create_model,
    get_or_create_run,
    upsert_items,
    write_item_result,
)
from db.session import make_engine, session_factory
from predictors.cod import CODForecaster
from predictors.passuntil import PassUntilForecaster
from predictors.synthetic_items import ClusterSpec, synthetic_cod_ladder
from service.forecasting import item_observations
from tests.integration.live_server import live_server, make_key, server_log_errors

SPECS = [ClusterSpec(30, 5.0, 0.5, 0.0), ClusterSpec(30, 30.0, 0.5, 0.0)]
COD_PARAMS = {"min_cluster_size": 5, "n_bootstrap": 20}


def _store(url: str, obs: pd.DataFrame) -> None:
    """One model row per size at its final checkpoint; one run per checkpoint and mode."""
    with session_factory(make_engine(url))() as s:
        fam = ModelFamily(name="cod-ladder")
        s.add(fam)
        bench = get_or_create_benchmark(s, name="synthetic", kind="generative", n_items=80)
        keys = obs["item"].unique()
        ids = upsert_items(s, bench.id, [ItemRow(k, f"prompt {k}", None, "x") for k in keys])
        for name, rows in obs.groupby("model"):
            m = get_or_create_model(s, name=str(name))
            final = rows[rows["checkpoint_step"] == rows["checkpoint_step"].max()].iloc[0]
            m.family_id, m.n_params, m.n_tokens = fam.id, final["n_params"], final["n_tokens"]
            m.flops, m.checkpoint_step = final["flops"], int(final["checkpoint_step"])
            for step, ck in rows.groupby("checkpoint_step"):
                for mode in ("samples", "passuntil"):
                    run = get_or_create_run(
                        s, model_id=m.id, benchmark_id=bench.id, config={"mode": mode},
                        config_hash=f"{name}-{step}-{mode}", engine="synthetic",
                        engine_version="0", checkpoint_step=int(step),
                        n_tokens=float(ck["n_tokens"].iat[0]),
                    )  # fmt: skip
                    for _, r in ck.iterrows():
                        res = {"n_samples": int(r["n_samples"]), "n_pass": int(r["n_pass"])}
                        write_item_result(s, run_id=run.id, item_id=ids[r["item"]], result=res)
        s.commit()


def _ladder() -> pd.DataFrame:
    flops = list(np.geomspace(1e19, 3e21, 6))
    obs, _ = synthetic_cod_ladder(flops, SPECS, n_outliers=5, n_zero=5, n_checkpoints=3, seed=2)
    return obs


def test_checkpoints_keep_their_step_and_compute_in_item_results(db_url):
    obs = _ladder()
    _store(db_url, obs)
    with session_factory(make_engine(db_url))() as s:
        items = item_observations(s, family="cod-ladder")
    assert set(items["metric"]) == {"pass_rate", "pu"}
    assert len(items) == 2 * len(obs)
    key = ["model", "checkpoint_step", "item"]
    got = items[items["metric"] == "pass_rate"].set_index(key).sort_index()
    want = obs.set_index(key).sort_index()
    assert got.index.equals(want.index)  # three steps per model row, not one merged step
    np.testing.assert_allclose(got["value"], want["value"])
    np.testing.assert_allclose(got["flops"], want["flops"], rtol=1e-9)  # 0.8x, 0.9x, 1x final
    np.testing.assert_allclose(got["n_tokens"], want["n_tokens"], rtol=1e-9)
    fit = items[items["model"] != "m5"]
    target = items[(items["model"] == "m5")].sort_values("checkpoint_step").tail(1)
    cod = CODForecaster(benchmark="synthetic", **COD_PARAMS).fit(fit)
    f = cod.predict(target)[0]
    last = obs[(obs["model"] == "m5") & (obs["checkpoint_step"] == obs["checkpoint_step"].max())]
    actual = float(last["value"].mean())
    assert abs(f.point - actual) < 0.05 and f.diagnostics["n_zero_items"] == 5
    pu = PassUntilForecaster(benchmark="synthetic", x="flops", n_bootstrap=20).fit(fit)
    assert pu.predict(target)[0].ok


def test_rest_forecast_fits_cod_on_item_results(db_url, tmp_path: Path):
    obs = _ladder()
    _store(db_url, obs)
    with session_factory(make_engine(db_url))() as s:
        items = item_observations(s, family="cod-ladder")
    fit = items[items["model"] != "m5"]
    target_flops = float(obs.loc[obs["model"] == "m5", "flops"].max())
    target = pd.DataFrame([{"model": "target", "flops": target_flops}])
    direct = CODForecaster(benchmark="synthetic", **COD_PARAMS).fit(fit).predict(target)[0]
    log = tmp_path / "server.log"
    with live_server(db_url, log) as base:
        key = make_key(db_url, "forecast")  # computing and storing needs the forecast scope
        body = {
            "method": "cod", "benchmark": "synthetic", "metric": "pass_rate",
            "family": "cod-ladder", "fit": "model != 'm5'", "params": COD_PARAMS,
            "target": {"flops": target_flops},
        }  # fmt: skip
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as c:
            r = c.post("/v1/forecasts", json=body)
            assert r.status_code == 200, r.text
            got = r.json()
            # the same fit as on the item rows read directly: the service fed it item rows
            assert abs(got["point"] - direct.point) < 1e-9
            assert got["lower"] <= got["point"] <= got["upper"]
            assert got["diagnostics"]["n_zero_items"] == 5
            bad = c.post("/v1/forecasts", json={**body, "benchmark": "nope"})
            assert bad.status_code == 422 and "nope" in bad.text
    assert server_log_errors(log) == [], log.read_text()


def test_cli_backtest_and_forecast_read_item_results(db_url, cli):
    from service.cli import app

    obs = _ladder()
    _store(db_url, obs)
    params = json.dumps(COD_PARAMS)
    common = ["--benchmark", "synthetic", "--metric", "pass_rate", "--family", "cod-ladder"]
    bt = cli.invoke(
        app,
        ["backtest", "--method", "cod", *common, "--params", params, "--json",
         "--fit", "model != 'm5'", "--predict", "model == 'm5'"],
    )  # fmt: skip
    assert bt.exit_code == 0, bt.output
    row = json.loads(bt.stdout)["rows"][0]
    last = obs[(obs["model"] == "m5") & (obs["checkpoint_step"] == obs["checkpoint_step"].max())]
    assert row["actual"] == pytest.approx(float(last["value"].mean()))
    assert abs(row["predicted"] - row["actual"]) < 0.05
    flops = float(obs["flops"].max())
    fc = cli.invoke(
        app,
        ["forecast", "--method", "passuntil", *common, "--target", f"flops={flops}", "--json",
         "--params", json.dumps({"x": "flops", "n_bootstrap": 20}), "--explain"],
    )  # fmt: skip
    assert fc.exit_code == 0, fc.output
    got = json.loads(fc.stdout)
    assert 0 < got["point"] < 1 and got["lower"] <= got["point"] <= got["upper"]
    assert "PassUntil law on synthetic/pass_rate" in fc.stderr  # --explain, beside pure JSON
