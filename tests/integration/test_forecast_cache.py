"""A stored forecast is found by (query, data version) without reading the observations, on
SQLite and PostgreSQL, over real HTTP against a live server.

Every write of a family/benchmark's data bumps its version in the same transaction (REST
measurements, ``capcast import observations``, db.results item results, ORM writes), so the next
POST reads the rows again; a write elsewhere does not. ``capcast_forecast_observation_fetches_total``
counts the reads. ETag / If-None-Match give a 304 without a body.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update

from db import migrate
from db.data_version import current
from db.models import Benchmark, DataVersion, Measurement, Model
from db.results import (
    ItemRow,
    ResultIn,
    get_or_create_run,
    upsert_items,
    write_item_results,
)
from db.session import make_engine, transaction
from tests.integration.live_server import live_server, make_key, server_log_errors

SIZES = (2e7, 5e7, 1e8, 2e8, 5e8)
QUERY = {
    "method": "exponential",
    "benchmark": "t1",
    "metric": "acc",
    "family": "fa",
    "target": {"model": "4B", "n_params": 4e9, "n_tokens": 8e10},
}


def rows(family: str, benchmark: str, sizes: tuple[float, ...], prefix: str) -> list[dict]:
    """Accuracy rising with compute: enough for the exponential law to fit."""
    out = []
    for n in sizes:
        flops = 6 * n * 20 * n
        acc = 0.25 + 0.75 * (1 - (flops / 1e14) ** -0.1) if flops > 1e14 else 0.26
        out.append({"model": f"{prefix}-{n:.3g}", "family": family, "n_params": n,
                    "n_tokens": 20 * n, "benchmark": benchmark, "metric": "acc",
                    "value": min(acc, 0.95)})  # fmt: skip
    return out


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    log = tmp_path / "server.log"
    with live_server(db_url, log) as base:
        key = make_key(db_url, "write", name="cache")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for fam, bench, prefix in (("fa", "t1", "a"), ("fa", "t2", "a"), ("fb", "t1", "b")):
                post_rows(client, rows(fam, bench, SIZES, prefix))
            yield client
    assert server_log_errors(log) == [], log.read_text()


def post_rows(client: httpx.Client, batch: list[dict]) -> None:
    resp = client.post("/v1/measurements", json={"source": "cache-test", "rows": batch})
    assert resp.status_code == 200, resp.text


def fetches(client: httpx.Client) -> float:
    body = client.get("/metrics").text
    found = re.search(r"^capcast_forecast_observation_fetches_total ([0-9.e+]+)$", body, re.M)
    return float(found.group(1)) if found else 0.0


def ask(client: httpx.Client, **headers: str) -> httpx.Response:
    resp = client.post("/v1/forecasts", json=QUERY, headers=headers)
    assert resp.status_code in (200, 304), resp.text
    return resp


def test_cached_forecast_reads_no_rows_and_every_write_path_bumps(
    server: httpx.Client, db_url: str, tmp_path: Path
) -> None:
    c = server
    first = ask(c)
    assert first.json()["cache_hit"] is False
    tag = first.headers["etag"]
    assert re.fullmatch(r'"\d+-[0-9a-f]{32}"', tag), tag
    n = fetches(c)
    assert n >= 1  # a miss reads the rows (the async path may read them once more to fit)

    # the same question again: found by version, no observation read, same forecast and ETag
    again = ask(c)
    assert again.json()["cache_hit"] is True
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["etag"] == tag
    assert fetches(c) == n

    # If-None-Match: 304 with no body, on the POST and on GET /v1/forecasts/{id}
    fid = first.json()["id"]
    not_modified = ask(c, **{"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == tag
    assert ask(c, **{"If-None-Match": '"1-other", W/' + tag}).status_code == 304
    assert ask(c, **{"If-None-Match": '"1-other"'}).status_code == 200
    got = c.get(f"/v1/forecasts/{fid}")
    assert got.status_code == 200 and got.headers["etag"] == tag
    assert got.json()["id"] == fid
    cond = c.get(f"/v1/forecasts/{fid}", headers={"If-None-Match": tag})
    assert cond.status_code == 304 and cond.content == b""
    assert fetches(c) == n

    # writes to another family, and to another benchmark of the family: still found by version
    post_rows(c, rows("fb", "t1", (1e9,), "b"))
    post_rows(c, rows("fa", "t2", (1e9,), "a"))
    assert ask(c).headers["etag"] == tag
    assert fetches(c) == n

    # a measurement of fa/t1 through REST: the rows are read again, a new forecast is fitted
    post_rows(c, rows("fa", "t1", (1e9,), "a"))
    rest = ask(c)
    assert rest.json()["cache_hit"] is False and rest.json()["id"] != fid
    assert fetches(c) > n
    assert ask(c, **{"If-None-Match": tag}).status_code == 200  # the old ETag is stale
    n, fid, tag = fetches(c), rest.json()["id"], rest.headers["etag"]
    assert ask(c, **{"If-None-Match": tag}).status_code == 304
    assert fetches(c) == n

    # through `capcast import observations` (a real process)
    csv = tmp_path / "more.csv"
    extra = rows("fa", "t1", (2e9,), "a")[0]
    cols = ["model", "family", "n_params", "n_tokens", "benchmark", "metric", "value"]
    csv.write_text(",".join(cols) + "\n" + ",".join(str(extra[k]) for k in cols) + "\n")
    env = {**os.environ, "CAPCAST_DATABASE_URL": db_url}
    capcast = str(Path(sys.executable).with_name("capcast"))
    done = subprocess.run(
        [capcast, "import", "observations", str(csv)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    imported = ask(c)
    assert imported.json()["cache_hit"] is False and imported.json()["id"] != fid
    assert fetches(c) > n
    n, fid, tag = fetches(c), imported.json()["id"], imported.headers["etag"]

    # item results of a fa model on t1 through db.results: the version moves; the observation
    # rows an exponential fit reads are the same, so the stored forecast is found by its
    # fingerprint and filed under the new version (a new ETag), then found by version again
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            model_id = s.scalar(select(Model.id).where(Model.name == "a-1e+08"))
            bench_id = s.scalar(select(Benchmark.id).where(Benchmark.name == "t1"))
            ids = upsert_items(s, bench_id, [ItemRow("q1", "2+2?", None, "4")])
            run = get_or_create_run(
                s, model_id=model_id, benchmark_id=bench_id, config={"mode": "greedy"},
                config_hash="h1", engine="test", engine_version="0",
            )  # fmt: skip
            before = current(s, ["t1"], "fa")
            counts = write_item_results(
                s, run.id, [ResultIn(ids["q1"], {"n_samples": 1, "n_pass": 1})]
            )
            assert counts.results_inserted == 1
            assert current(s, ["t1"], "fa") != before
    finally:
        engine.dispose()
    items = ask(c)
    assert items.json()["cache_hit"] is True and items.json()["id"] == fid
    assert items.headers["etag"] != tag
    assert fetches(c) == n + 1  # read once: found by fingerprint, so no fit and no second read
    assert ask(c).headers["etag"] == items.headers["etag"]
    assert fetches(c) == n + 1


def test_orm_writes_and_model_changes_bump(db_url: str) -> None:
    """``session.add(Measurement(...))`` (the evaluator, the ladder) and a model given a family
    bump the pairs they change, in the same transaction; a no-op load bumps nothing."""
    import pandas as pd

    from db.loader import load_observations

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            load_observations(s, pd.DataFrame(rows("fa", "t1", SIZES, "a")), source="x")
        with transaction(engine) as s:
            v0 = current(s, ["t1"], "fa")
            other = current(s, ["t1"], "fb")
            load_observations(s, pd.DataFrame(rows("fa", "t1", SIZES, "a")), source="x")
            assert current(s, ["t1"], "fa") == v0  # nothing inserted: nothing bumped
        with transaction(engine) as s:
            m = s.scalar(select(Model).where(Model.name == "a-2e+07"))
            b = s.scalar(select(Benchmark.id).where(Benchmark.name == "t1"))
            s.add(Measurement(model_id=m.id, benchmark_id=b, metric="acc", value=0.3,
                              source="orm", checkpoint_step=7))  # fmt: skip
        with transaction(engine) as s:
            v1 = current(s, ["t1"], "fa")
            assert v1 != v0 and current(s, ["t1"], "fb") == other
            # a family-less model, then given a family by a later load: both families move
            load_observations(s, pd.DataFrame(rows("", "t1", (3e9,), "z")).assign(family=None),
                              source="x")  # fmt: skip
            nofam = current(s, ["t1"], "")
        with transaction(engine) as s:
            load_observations(s, pd.DataFrame(rows("fb", "t1", (3e9,), "z")), source="x")
            assert current(s, ["t1"], "") != nofam
            assert current(s, ["t1"], "fb") != other
            assert current(s, ["t1"], "fa") == v1
            assert s.scalar(select(DataVersion.n).where(DataVersion.family == "fa")) == 2
        with transaction(engine) as s:
            # a bulk update by primary key (the Epoch importer's release dates)
            m_id = s.scalar(select(Model.id).where(Model.name == "a-5e+07"))
            s.execute(update(Model), [{"id": m_id, "release_date": dt.date(2024, 1, 2)}])
            assert current(s, ["t1"], "fa") != v1
            v2, fb = current(s, ["t1"], "fa"), current(s, ["t1"], "fb")
        with transaction(engine) as s:
            # a model moved to another family through the ORM: both families move
            m = s.scalar(select(Model).where(Model.name == "a-1e+08"))
            m.family_id = s.scalar(select(Model.family_id).where(Model.name == "z-3e+09"))
        with transaction(engine) as s:
            assert current(s, ["t1"], "fa") != v2 and current(s, ["t1"], "fb") != fb
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "empty_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0004_up_down_up_keeps_forecasts(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(empty_db_url, "0003")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO forecast (method, query, params_hash, data_fingerprint) "
                    "VALUES ('exponential', '{}', 'p', 'f')"
                )
            )
        migrate.upgrade(empty_db_url, "0004")
        insp = inspect(engine)
        assert "data_version" in insp.get_table_names()
        assert "data_version" in {c["name"] for c in insp.get_columns("forecast")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT data_version FROM forecast")).scalar_one() == ""
        migrate.downgrade(empty_db_url, "0003")
        insp = inspect(engine)
        assert "data_version" not in insp.get_table_names()
        assert "data_version" not in {c["name"] for c in insp.get_columns("forecast")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM forecast")).scalar_one() == 1
        migrate.upgrade(empty_db_url)
        head = ScriptDirectory.from_config(migrate.alembic_config(empty_db_url)).get_current_head()
        assert migrate.current(empty_db_url) == head and head is not None and head >= "0004"
    finally:
        engine.dispose()


def test_fits_at_one_data_version_share_one_read(server: httpx.Client) -> None:
    """Another method or seed on the same data reads the rows once (they are kept by data
    version); a write to that data makes the next fit read again."""
    base = fetches(server)
    first = server.post("/v1/forecasts", json=QUERY)
    assert first.status_code == 200, first.text
    assert fetches(server) == base + 1
    for body in ({**QUERY, "method": "sigmoid"}, {**QUERY, "params": {"random_state": 7}}):
        resp = server.post("/v1/forecasts", json=body)
        assert resp.status_code == 200 and resp.json()["cache_hit"] is False, resp.text
        assert resp.json()["data_fingerprint"] == first.json()["data_fingerprint"]
    assert fetches(server) == base + 1
    post_rows(server, rows("fa", "t1", (1e9,), "a"))
    again = server.post("/v1/forecasts", json={**QUERY, "method": "sigmoid"})
    assert again.json()["data_fingerprint"] != first.json()["data_fingerprint"]
    assert fetches(server) == base + 2
