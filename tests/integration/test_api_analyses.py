"""Analyses as REST resources against a live server: agreement (BAT), densing, per-choice."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from tests.integration.live_server import live_server, make_key, server_log_errors


def test_agreement_densing_perchoice(db_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    skill = np.linspace(0.2, 0.8, 12)
    rows = []
    for j in range(6):  # five benchmarks that rank models by skill, one that ranks them backwards
        noise = rng.normal(0, 0.01, 12)
        values = (1 - skill if j == 5 else skill) + noise
        rows += [{"model": f"m{i:02d}", "family": "fam", "benchmark": f"b{j}", "metric": "acc",
                  "value": float(v)} for i, v in enumerate(values)]  # fmt: skip
    key = make_key(db_url, "write")
    log = tmp_path / "server.log"
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c,
    ):
        assert c.post("/v1/measurements", json={"rows": rows}).status_code == 200
        resp = c.post("/v1/agreement", json={"metric": "acc", "sizes": [5], "n_exps": 50,
                                             "reference_benchmarks": ["b0", "b1", "b2"]})  # fmt: skip
        assert resp.status_code == 200, resp.text
        result = resp.json()["result"]
        by_name = {b["benchmark"]: b for b in result["benchmarks"]}
        assert by_name["b5"]["agreement"] < -0.8  # ranks the models backwards
        assert min(by_name.values(), key=lambda b: b["z"])["benchmark"] == "b5"
        assert all(by_name[f"b{j}"]["agreement"] > 0.8 for j in range(5))
        assert result["reference_benchmarks"] == ["b0", "b1", "b2"]
        dens = c.post("/v1/densing", json={"reference_family": "fam", "benchmark": "b0",
                                           "loss_benchmark": "c4_val"})  # fmt: skip
        assert dens.status_code == 422 and dens.json()["message"].startswith("densing: ")
        pc = c.get("/v1/perchoice", params={"family": "fam", "benchmark": "b0"})
        assert pc.status_code == 404 and "no per-choice scores" in pc.json()["message"]
        page = c.get("/dashboard/agreement", params={"metric": "acc", "reference": "b0,b1,b2"})
        assert page.status_code == 200
        assert 'id="heatmap-cells"' in page.text and 'data-benchmark="b5"' in page.text
    assert server_log_errors(log) == []
