"""The REST resources against a live server (real HTTP), on SQLite and on PostgreSQL.

CRUD with pagination and filters, API keys and scopes, the JSON error shape, bulk measurements
(row index in errors, all or nothing, idempotent) and the CSV/Parquet export of per-item results.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from db.models import Benchmark, EvalRun, Item, ItemResult, Model
from db.session import make_engine, transaction
from tests.integration.live_server import live_server, make_key, server_log_errors


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    keys = {s: make_key(db_url, s, name=f"{s} key") for s in ("read", "write", "admin")}
    log = tmp_path / "server.log"
    with live_server(db_url, log) as base:
        yield base, keys, log
    assert server_log_errors(log) == [], log.read_text()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_crud_pagination_filters_and_errors(api) -> None:
    base, keys, _ = api
    w, r = _h(keys["write"]), _h(keys["read"])
    with httpx.Client(base_url=base, timeout=30) as c:
        fam = c.post("/v1/families", json={"name": "ladder-a", "notes": "one recipe"}, headers=w)
        assert fam.status_code == 201, fam.text
        dup = c.post("/v1/families", json={"name": "ladder-a"}, headers=w)
        assert dup.status_code == 409
        assert dup.json()["error"] == "conflict" and dup.json()["where"] == "body.name"
        for i in range(7):
            body = {"name": f"m{i}", "family": "ladder-a" if i < 5 else "other",
                    "n_params": 1e8 * (i + 1), "n_tokens": 2e9 * (i + 1)}  # fmt: skip
            assert c.post("/v1/models", json=body, headers=w).status_code == 201
        page = c.get(
            "/v1/models", params={"family": "ladder-a", "limit": 2, "offset": 2}, headers=r
        )
        assert page.status_code == 200
        assert page.json()["count"] == 5
        assert [m["name"] for m in page.json()["data"]] == ["m2", "m3"]
        m2 = page.json()["data"][0]
        assert m2["flops"] == pytest.approx(6 * 3e8 * 6e9)
        assert m2["family"] == "ladder-a"
        big = c.get("/v1/models", params={"min_params": 4e8}, headers=r).json()
        assert sorted(m["name"] for m in big["data"]) == ["m3", "m4", "m5", "m6"]
        assert c.get(f"/v1/models/{m2['id']}", headers=r).json()["name"] == "m2"
        missing = c.get("/v1/models/999999", headers=r)
        assert missing.status_code == 404
        assert missing.json() == {"error": "not_found", "message": "no model with id 999999",
                                  "where": "path.model_id", "errors": []}  # fmt: skip
        bench = c.post("/v1/benchmarks", json={"name": "hs", "chance": 0.25}, headers=w).json()
        item = {"benchmark_id": bench["id"], "key": "k1", "prompt": "Q?", "choices": ["a", "b"]}
        assert c.post("/v1/items", json=item, headers=w).status_code == 201
        assert c.post("/v1/items", json=item, headers=w).status_code == 409
        items = c.get("/v1/items", params={"benchmark": "hs"}, headers=r).json()
        assert items["count"] == 1 and items["data"][0]["choices"] == ["a", "b"]
        bad = c.post("/v1/benchmarks", json={"name": "x", "chance": 1.5}, headers=w)
        assert bad.status_code == 422
        assert bad.json()["where"] == "body.chance"
        assert "less than or equal to 1" in bad.json()["message"]
        nul = c.post("/v1/families", json={"name": "a\x00b"}, headers=w)
        assert nul.status_code == 422 and nul.json()["where"] == "body.name"
        notjson = c.post(
            "/v1/families", content=b"{not json", headers={**w, "content-type": "application/json"}
        )
        assert notjson.status_code == 422 and notjson.json()["error"] == "validation_error"


def test_keys_scopes_and_public_reads(api, db_url: str, tmp_path: Path) -> None:
    base, keys, _ = api
    with httpx.Client(base_url=base, timeout=30) as c:
        none = c.get("/v1/families")
        assert none.status_code == 401
        assert none.headers["www-authenticate"] == "Bearer"
        assert none.json()["message"] == "missing or invalid API key"
        forged = keys["read"][:-4] + "AAAA"
        wrong = c.get("/v1/families", headers=_h(forged))
        assert wrong.status_code == 401 and wrong.json() == none.json()  # nothing leaked
        assert c.get("/v1/families", headers={"X-API-Key": keys["read"]}).status_code == 200
        denied = c.post("/v1/families", json={"name": "f"}, headers=_h(keys["read"]))
        assert denied.status_code == 403
        assert denied.json()["message"] == "this API key lacks the 'write' scope"
        assert c.get("/v1/keys", headers=_h(keys["write"])).status_code == 403
        made = c.post(
            "/v1/keys", json={"name": "ci", "scopes": ["write"]}, headers=_h(keys["admin"])
        )
        assert made.status_code == 201
        token = made.json()["token"]
        assert token.startswith("cc_" + made.json()["prefix"])
        listed = c.get("/v1/keys", headers=_h(keys["admin"])).json()
        assert listed["count"] == 4 and all("token" not in k for k in listed["data"])
        assert c.post("/v1/families", json={"name": "f"}, headers=_h(token)).status_code == 201
        gone = c.delete(f"/v1/keys/{made.json()['id']}", headers=_h(keys["admin"]))
        assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
        assert c.post("/v1/families", json={"name": "g"}, headers=_h(token)).status_code == 401
        assert c.get("/healthz").json()["status"] == "ok"
    log = tmp_path / "public.log"
    with (
        live_server(db_url, log, CAPCAST_PUBLIC_READS="true") as public,
        httpx.Client(base_url=public, timeout=30) as c,
    ):
        assert c.get("/v1/families").json()["count"] == 1
        assert c.post("/v1/families", json={"name": "h"}).status_code == 401
        assert c.get("/v1/keys").status_code == 401


def test_measurements_bulk_all_or_nothing(api) -> None:
    base, keys, _ = api
    w = _h(keys["write"])
    rows = [
        {"model": f"s{i}", "family": "lad", "n_params": 1e7 * 2**i, "n_tokens": 2e8 * 2**i,
         "benchmark": "arc", "metric": "acc", "value": 0.3 + 0.02 * i, "checkpoint_step": 100}
        for i in range(12)
    ]  # fmt: skip
    with httpx.Client(base_url=base, timeout=60) as c:
        first = c.post("/v1/measurements", json={"source": "dash", "rows": rows[:6]}, headers=w)
        assert first.status_code == 200, first.text
        assert first.json()["inserted"] == 6
        bad = [dict(r) for r in rows]
        bad[9]["value"] = "high"
        resp = c.post("/v1/measurements", json={"source": "dash", "rows": bad}, headers=w)
        assert resp.status_code == 422
        assert resp.json()["where"] == "body.rows[9].value"
        clash = [dict(r) for r in rows]
        clash[4]["value"] = 0.99  # contradicts the stored value of s4; rows 6.. are new
        resp = c.post("/v1/measurements", json={"source": "dash", "rows": clash}, headers=w)
        assert resp.status_code == 422
        assert resp.json()["where"] == "body.rows[4].value"
        assert "nothing was written" in resp.json()["message"]
        listed = c.get("/v1/measurements", params={"source": "dash"}, headers=w).json()
        assert listed["count"] == 6  # the new rows of the refused batch were not written
        again = c.post("/v1/measurements", json={"source": "dash", "rows": rows}, headers=w)
        assert again.json()["inserted"] == 6 and again.json()["unchanged"] == 6
        other = c.post("/v1/measurements", json={"source": "other", "rows": rows[:2]}, headers=w)
        assert other.json()["inserted"] == 2  # source is part of the identity
        s3 = c.get("/v1/measurements", params={"model": "s3", "source": "dash"}, headers=w).json()
        assert s3["data"][0]["value"] == pytest.approx(0.36)


def _seed_run(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            model = Model(name="tiny-1", n_params=1e6)
            bench = Benchmark(name="mini", kind="multiple_choice")
            s.add_all([model, bench])
            s.flush()
            items = [Item(benchmark_id=bench.id, key=f"q{i}") for i in range(5)]
            run = EvalRun(model_id=model.id, benchmark_id=bench.id, mode="samples", engine="vllm",
                          config={"n": 4}, config_hash="h1", status="done")  # fmt: skip
            s.add_all([*items, run])
            s.flush()
            s.add_all(
                ItemResult(
                    run_id=run.id,
                    item_id=it.id,
                    n_samples=4,
                    n_pass=i % 5,
                    greedy_correct=i % 2 == 0,
                    stop_reason="budget",
                )
                for i, it in enumerate(items)
            )
            return run.id
    finally:
        engine.dispose()


def test_runs_filter_and_export(api, db_url: str) -> None:
    base, keys, _ = api
    run_id = _seed_run(db_url)
    r = _h(keys["read"])
    with httpx.Client(base_url=base, timeout=30) as c:
        runs = c.get("/v1/runs", params={"model": "tiny-1", "status": "done"}, headers=r).json()
        assert runs["count"] == 1 and runs["data"][0]["benchmark"] == "mini"
        assert c.get("/v1/runs", params={"engine": "hf"}, headers=r).json()["count"] == 0
        correct = c.get(f"/v1/runs/{run_id}/results", params={"greedy_correct": True}, headers=r)
        assert [x["item_key"] for x in correct.json()["data"]] == ["q0", "q2", "q4"]
        assert correct.json()["data"][1]["pass_rate"] == pytest.approx(0.5)
        csv = c.get(f"/v1/runs/{run_id}/export", params={"format": "csv"}, headers=r)
        assert csv.headers["content-type"].startswith("text/csv")
        frame = pd.read_csv(io.StringIO(csv.text))
        assert frame["n_pass"].tolist() == [0, 1, 2, 3, 4]
        assert frame["pass_rate"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
        pq = c.get("/v1/runs/export", params={"format": "parquet", "benchmark": "mini"}, headers=r)
        assert pq.status_code == 200
        table = pd.read_parquet(io.BytesIO(pq.content))
        assert table["item_key"].tolist() == ["q0", "q1", "q2", "q3", "q4"]
        assert c.get("/v1/runs/export", params={"format": "xlsx"}, headers=r).status_code == 422
        assert c.get(f"/v1/runs/{run_id + 100}/export", headers=r).status_code == 404
