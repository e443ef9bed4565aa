"""COD and PassUntil fed from the database: item results written through db/, read back through the
``item_results`` view by the CLI's loader, fitted and forecast (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
from service.cli.backtest_cmd import fetch_item_observations

SPECS = [ClusterSpec(30, 5.0, 0.5, 0.0), ClusterSpec(30, 30.0, 0.5, 0.0)]


def _store(url: str, obs: pd.DataFrame) -> None:
    final = obs[obs["checkpoint_step"] == obs["checkpoint_step"].max()]
    with session_factory(make_engine(url))() as s:
        fam = ModelFamily(name="cod-ladder")
        s.add(fam)
        bench = get_or_create_benchmark(s, name="synthetic", kind="generative", n_items=80)
        ids = upsert_items(
            s, bench.id, [ItemRow(k, f"prompt {k}", None, "x") for k in final["item"].unique()]
        )
        for name, rows in final.groupby("model"):
            m = get_or_create_model(s, name=str(name))
            first = rows.iloc[0]
            m.family_id, m.n_params, m.n_tokens = fam.id, first["n_params"], first["n_tokens"]
            m.flops, m.checkpoint_step = first["flops"], int(first["checkpoint_step"])
            for mode in ("samples", "passuntil"):
                run = get_or_create_run(
                    s, model_id=m.id, benchmark_id=bench.id, config={"mode": mode},
                    config_hash=f"{name}-{mode}", engine="synthetic", engine_version="0",
                )  # fmt: skip
                for _, r in rows.iterrows():
                    res = {"n_samples": int(r["n_samples"]), "n_pass": int(r["n_pass"])}
                    write_item_result(s, run_id=run.id, item_id=ids[r["item"]], result=res)
        s.commit()


def test_cod_and_passuntil_from_item_results_view(db_url):
    flops = list(np.geomspace(1e19, 3e21, 6))
    obs, _ = synthetic_cod_ladder(flops, SPECS, n_outliers=5, n_zero=5, n_checkpoints=1, seed=2)
    _store(db_url, obs)
    with session_factory(make_engine(db_url))() as s:
        items = fetch_item_observations(s, family="cod-ladder")
    assert set(items["metric"]) == {"pass_rate", "pu"}
    assert len(items) == 2 * len(obs)
    got = items[items["metric"] == "pass_rate"].set_index(["model", "item"])["value"].sort_index()
    want = obs.set_index(["model", "item"])["value"].sort_index()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy())
    fit = items[items["model"] != "m5"]
    target = items[items["model"] == "m5"].drop_duplicates("model")
    cod = CODForecaster(benchmark="synthetic", min_cluster_size=5, n_bootstrap=20).fit(fit)
    f = cod.predict(target)[0]
    actual = float(obs.loc[obs["model"] == "m5", "value"].mean())
    assert abs(f.point - actual) < 0.05 and f.diagnostics["n_zero_items"] == 5
    pu = PassUntilForecaster(benchmark="synthetic", x="flops", n_bootstrap=20).fit(fit)
    assert pu.predict(target)[0].ok
