"""A training dashboard's session against a live server, on SQLite and on PostgreSQL.

It posts 10,000 measurements in batches (a 10-model ladder, 50 checkpoints, 20 benchmarks drawn
from a known compute law plus noise), asks for a forecast of a larger model, asks again (cache
hit, same stored forecast), asks for another target (the fitted predictor is reused), then posts
a new model and asks again (new data fingerprint, refit).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.integration.live_server import live_server, make_key, server_log_errors

SIZES = np.geomspace(2e7, 1e9, 10)
N_STEPS, N_BENCH, CHANCE, B = 50, 20, 0.25, 0.3


def law(flops: float, j: int) -> float:
    """The truth: accuracy from compute, g + (1-g)·exp(-a·(C/1e18)^-b), a differing per task."""
    return CHANCE + (1 - CHANCE) * float(np.exp(-(0.8 + 0.05 * j) * (flops / 1e18) ** -B))


def ladder_rows(sizes: np.ndarray, seed: int, prefix: str = "lad") -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        final_tokens = 20 * n
        for k in range(1, N_STEPS + 1):
            tokens = final_tokens * k / N_STEPS
            for j in range(N_BENCH):
                value = law(6 * n * tokens, j) + rng.normal(0, 0.004)
                rows.append({"model": f"{prefix}-{n:.3g}", "family": "dash-ladder",
                             "n_params": float(n), "n_tokens": float(tokens),
                             "checkpoint_step": 100 * k, "benchmark": f"task_{j:02d}",
                             "metric": "acc", "value": value})  # fmt: skip
    return rows


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    log = tmp_path / "server.log"
    with live_server(db_url, log) as base:
        yield base, make_key(db_url, "write", name="dashboard")
    assert server_log_errors(log) == [], log.read_text()


def _metric(client: httpx.Client, name: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_dashboard_posts_10000_rows_then_forecasts_with_cache(server) -> None:
    base, key = server
    rows = ladder_rows(SIZES, seed=1)
    assert len(rows) == 10_000
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
        inserted = 0
        for start in range(0, len(rows), 1000):
            batch = {"source": "dashboard", "rows": rows[start : start + 1000]}
            resp = c.post("/v1/measurements", json=batch)
            assert resp.status_code == 200, resp.text
            inserted += resp.json()["inserted"]
        assert inserted == 10_000
        assert c.get("/v1/measurements", params={"limit": 1}).json()["count"] == 10_000

        target = {"model": "4B", "n_params": 4e9, "n_tokens": 8e10}
        query = {"method": "exponential", "benchmark": "task_03", "metric": "acc",
                 "family": "dash-ladder", "target": target}  # fmt: skip
        truth = law(6 * 4e9 * 8e10, 3)
        hits0 = _metric(c, "capcast_forecast_cache_hits_total")
        first = c.post("/v1/forecasts", json=query)
        assert first.status_code == 200, first.text
        f1 = first.json()
        assert f1["cache_hit"] is False
        assert abs(f1["point"] - truth) < 0.02, (f1["point"], truth)
        assert f1["lower"] <= f1["point"] <= f1["upper"]
        assert re.fullmatch(r"[0-9a-f]{64}", f1["data_fingerprint"])
        assert f1["fitted_params"]
        bt = f1["backtest"]  # its own backtest: with 10 sizes, the largest 3 are held out
        cut = float(SIZES[-3])
        assert bt["fit"] == f"n_params < {cut!r}" and bt["predict"] == f"n_params >= {cut!r}"
        assert bt["n"] == 3 and bt["mean_abs_error"] < 0.03
        top = next(r for r in bt["rows"] if r["model"] == f"lad-{SIZES[-1]:.3g}")
        assert top["actual"] == pytest.approx(law(6e9 * 2e10, 3), abs=0.02)

        second = c.post("/v1/forecasts", json=query).json()
        assert second["cache_hit"] is True
        assert (second["id"], second["point"]) == (f1["id"], f1["point"])
        assert _metric(c, "capcast_forecast_cache_hits_total") == hits0 + 1
        assert _metric(c, 'capcast_forecasts_served_total{cache="hit",method="exponential"}') == 1

        other = c.post("/v1/forecasts", json={**query, "target": {"flops": 1e22}}).json()
        assert other["cache_hit"] is True  # same method, parameters and data: fitted model reused
        assert other["id"] != f1["id"] and other["data_fingerprint"] == f1["data_fingerprint"]
        assert abs(other["point"] - law(1e22, 3)) < 0.02

        again = c.post("/v1/measurements", json={"source": "dashboard", "rows": rows[:1000]})
        assert again.json()["inserted"] == 0  # idempotent: nothing new ...
        assert c.post("/v1/forecasts", json=query).json()["cache_hit"] is True  # ... no refit

        new = [r for r in ladder_rows(np.array([2e9]), seed=2) if r["benchmark"] == "task_03"]
        assert (
            c.post("/v1/measurements", json={"source": "dashboard", "rows": new}).status_code == 200
        )
        refit = c.post("/v1/forecasts", json=query).json()
        assert refit["cache_hit"] is False
        assert refit["data_fingerprint"] != f1["data_fingerprint"]
        assert refit["id"] != f1["id"]
        assert refit["backtest"]["predict"] == f"n_params >= {float(SIZES[-2])!r}"  # 11 sizes
        assert abs(refit["point"] - truth) < 0.02
        stored = c.get(f"/v1/forecasts/{f1['id']}").json()
        assert stored["point"] == f1["point"] and stored["query"]["target"]["n_params"] == 4e9
        misses = _metric(c, "capcast_forecast_cache_misses_total")
        assert misses == 2


def test_forecast_errors_say_what_and_where(server) -> None:
    base, key = server
    headers = {"Authorization": f"Bearer {key}"}
    rows = [r for r in ladder_rows(SIZES[:5], seed=3) if r["checkpoint_step"] == 5000]
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        assert c.post("/v1/measurements", json={"rows": rows}).status_code == 200
        query = {"method": "exponential", "benchmark": "task_00", "target": {"flops": 1e21}}
        cases = [
            ({"method": "crystal_ball"}, "body.method", "unknown method 'crystal_ball'"),
            ({"params": {"n_bootstrap": -1}}, "body.params", "n_bootstrap=-1 outside [0, 10000]"),
            ({"params": {"colour": "red"}}, "body.params", "has no parameter(s) ['colour']"),
            ({"benchmark": "nope"}, "body.benchmark", "no observations of nope/acc"),
            ({"fit": "__import__('os').system('true')"}, "body.fit", "Call is not allowed"),
            ({"fit": "weight > 3"}, "body.fit", "unknown column 'weight'"),
            ({"target": {"n_params": 1e9}}, "body.target", "give n_params and n_tokens"),
            ({"alpha": 1.5}, "body.alpha", "less than 1"),
        ]
        for change, where, words in cases:
            resp = c.post("/v1/forecasts", json={**query, **change})
            assert resp.status_code == 422, (change, resp.text)
            assert resp.json()["where"] == where, (change, resp.json())
            assert words in resp.json()["message"], (change, resp.json())
        ok = c.post("/v1/forecasts", json={**query, "fit": "n_params < 1e8"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["diagnostics"]["n_observations"] == 4  # task_00 rows of the 4 models < 1e8
