"""Jobs, workers and schedules against hostile and careless input (issue 13), on SQLite and
PostgreSQL: job errors keep one line and an error id (the traceback stays in the worker's log),
bad input fails a job at once while an outage is retried, every payload path stays inside the job
roots (over REST and again in the worker), ``greedy`` is a job mode, a cron error names its field,
a forecast_refresh goes through the forecast API's validation, and a deleted schedule's id is not
handed to the next one. REST runs against a live uvicorn."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from db.models import Job, Schedule
from db.session import transaction
from service.cli import app
from service.jobs import queue, scheduler
from service.jobs.context import JobContext
from service.jobs.worker import Worker, WorkerConfig
from tests.integration.live_server import live_server, make_key, server_log_errors

ROOT = Path(__file__).resolve().parents[2]
ERROR_ID = re.compile(r"\(error id ([0-9a-f]{12})\)$")
HEADER = "model,family,n_params,n_params_nonembed,n_tokens,flops,release_date,checkpoint_step,benchmark,metric,value\n"


def _enqueue(engine, kind: str, payload: dict, max_attempts: int = 3) -> int:
    """Write a job row directly, as a script with database access could (no REST checks)."""
    with transaction(engine) as s:
        return queue.enqueue(s, kind=kind, payload=payload, max_attempts=max_attempts)


def _job(engine, job_id: int) -> Job:
    with transaction(engine) as s:
        return s.get(Job, job_id)


def _worker(engine, roots: list[Path], handlers: dict | None = None) -> Worker:
    config = WorkerConfig(once=True, poll_seconds=0.01, backoff_base=0.0, job_roots=tuple(roots))
    return Worker(engine, config, handlers=handlers)


def _assert_one_line(error: str) -> str:
    """No traceback machinery on the row; returns the error id at its end."""
    assert "\n" not in error and "Traceback" not in error and 'File "' not in error, error
    match = ERROR_ID.search(error)
    assert match, error
    return match.group(1)


# ------------------------------------------------------------------ errors and retries (worker)


def test_job_error_is_one_line_with_an_id_and_the_traceback_only_in_the_log(
    db_engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(ctx: JobContext) -> None:
        raise KeyError(f"secret state at {ROOT}/service/jobs/private.py")

    crashed = _enqueue(db_engine, "crash", {}, max_attempts=3)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(HEADER + "m1,lad,-5,,,,,,bench,acc,0.5\n")
    bad_import = _enqueue(db_engine, "import", {"source": "observations", "path": str(bad_csv)})
    from service.jobs.handlers import HANDLERS

    with caplog.at_level(logging.ERROR, logger="capcast.worker"):
        _worker(db_engine, [tmp_path], {**HANDLERS, "crash": crash}).run()

    row = _job(db_engine, crashed)
    # unexpected: nothing about the failure on the row but an id; failed at once
    assert (row.status, row.attempts) == ("failed", 1)
    eid = _assert_one_line(row.error)
    assert row.error == f"internal error (error id {eid})"
    logged = [r for r in caplog.records if eid in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "secret state" in caplog.text and "Traceback" in caplog.text

    row = _job(db_engine, bad_import)
    # expected: the importer's message (file, column), no exception machinery, failed at once
    assert (row.status, row.attempts) == ("failed", 1)
    eid = _assert_one_line(row.error)
    assert "bad.csv" in row.error and "n_params" in row.error
    assert not row.error.startswith(("ValueError", "ImportValidationError"))
    assert any(eid in r.getMessage() for r in caplog.records)


def test_validation_failures_fail_at_once_and_outages_are_retried(
    db_engine, tmp_path: Path
) -> None:
    jobs = {
        "missing file": _enqueue(
            db_engine, "import", {"source": "observations", "path": str(tmp_path / "nope.csv")}
        ),
        "directory": _enqueue(db_engine, "import", {"source": "gadre", "path": str(tmp_path)}),
        "bad query": _enqueue(db_engine, "forecast_refresh", {"query": {"method": "exponential"}}),
        "bad source": _enqueue(db_engine, "import", {"source": "nope", "path": str(tmp_path)}),
    }
    calls: list[int] = []

    def outage(ctx: JobContext) -> dict:
        calls.append(ctx.job.attempts)
        if ctx.job.attempts == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return {"ok": True}

    flaky = _enqueue(db_engine, "flaky", {}, max_attempts=3)
    from service.jobs.handlers import HANDLERS

    _worker(db_engine, [tmp_path], {**HANDLERS, "flaky": outage}).run()
    for what, job_id in jobs.items():
        row = _job(db_engine, job_id)
        assert (row.status, row.attempts) == ("failed", 1), (what, row.error)
        _assert_one_line(row.error)
    assert "no such file" in _job(db_engine, jobs["missing file"]).error
    assert "nope.csv" in _job(db_engine, jobs["missing file"]).error
    assert "payload.query" in _job(db_engine, jobs["bad query"]).error
    assert "payload.source" in _job(db_engine, jobs["bad source"]).error
    # the transient one was tried again and then succeeded; its first error said it would retry
    row = _job(db_engine, flaky)
    assert (row.status, row.attempts, calls) == ("succeeded", 2, [1, 2])


def test_transient_error_keeps_a_retry_note_until_attempts_run_out(db_engine) -> None:
    def outage(ctx: JobContext) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused on 10.0.0.5"))

    job_id = _enqueue(db_engine, "flaky", {}, max_attempts=2)
    _worker(db_engine, [], {"flaky": outage}).run()
    row = _job(db_engine, job_id)
    assert (row.status, row.attempts) == ("failed", 2)
    _assert_one_line(row.error)
    assert row.error.startswith("temporary failure (OperationalError)")
    assert "10.0.0.5" not in row.error and "SELECT" not in row.error


# ------------------------------------------------------------------ paths (worker re-check)


def test_worker_refuses_payload_paths_outside_the_roots(db_engine, tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "x.csv").write_text(HEADER + "m1,lad,1e8,1e8,2e9,1e18,,,bench,acc,0.5\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    record = outside / "record.txt"
    evaluation = {"model_path": str(root), "task_path": str(root / "t.jsonl"), "mode": "greedy"}
    cases = [
        ("payload.path", "import", {"source": "observations", "path": f"{root}/../outside/x.csv"}),
        ("payload.path", "import", {"source": "observations", "path": str(root / "link/x.csv")}),
        ("payload.model_path", "evaluation", {**evaluation, "model_path": "/etc"}),
        ("payload.task_path", "evaluation", {**evaluation, "task_path": "/etc/passwd"}),
        ("payload.record", "sleep", {"record": str(record)}),
    ]
    ids = [_enqueue(db_engine, kind, payload) for _, kind, payload in cases]
    _worker(db_engine, [root]).run()
    for (field, _, _), job_id in zip(cases, ids, strict=True):
        row = _job(db_engine, job_id)
        assert (row.status, row.attempts) == ("failed", 1), (field, row.error)
        _assert_one_line(row.error)
        assert row.error.startswith(f"{field} "), row.error
        assert f"outside the allowed job paths ({root.resolve()})" in row.error
    assert not record.exists()
    with transaction(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status != "failed")) == 0


def test_forecast_refresh_refuses_an_expression_that_runs_code(
    db_engine, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative canary would land here
    canary = tmp_path / "CANARY"
    gadre = shared_data / "gadre-overtraining"
    roots = [shared_data, tmp_path]
    imported = _enqueue(db_engine, "import", {"source": "gadre", "path": str(gadre)})
    _worker(db_engine, roots).run()
    assert _job(db_engine, imported).status == "succeeded", _job(db_engine, imported).error
    query = {
        "method": "gadre",
        "benchmark": "avg17",
        "metric": "err",
        "family": "gadre-rpj",
        "params": {"loss_fit": f"@pd.io.common.os.system('touch {canary}')", "n_bootstrap": 2},
        "target": {"n_params": 6.9e9, "n_tokens": 1.38e11},
    }
    job_id = _enqueue(db_engine, "forecast_refresh", {"query": query})
    _worker(db_engine, roots).run()
    row = _job(db_engine, job_id)
    assert not canary.exists()
    assert (row.status, row.attempts) == ("failed", 1)
    _assert_one_line(row.error)
    assert "loss_fit" in row.error and "internal error" not in row.error
    # the same query without the expression is a working forecast: the refusal is the filter's
    clean = {**query, "params": {"n_bootstrap": 2}}
    ok = _enqueue(db_engine, "forecast_refresh", {"query": clean})
    _worker(db_engine, roots).run()
    assert _job(db_engine, ok).status == "succeeded", _job(db_engine, ok).error


# ------------------------------------------------------------------ REST (live server)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    """A live server whose job roots are ``tmp_path/root`` only; a write-scoped client."""
    root = tmp_path / "root"
    (root / "ckpt").mkdir(parents=True)
    (root / "task.jsonl").write_text("{}\n")
    env = {"CAPCAST_JOB_PATHS": json.dumps([str(root)])}
    log = tmp_path / "server.log"
    with live_server(db_url, log, **env) as base:
        headers = {"Authorization": f"Bearer {make_key(db_url, 'write')}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            yield client, root
    assert server_log_errors(log) == []


def _job_count(client: httpx.Client) -> int:
    return client.get("/v1/jobs").json()["count"]


def test_rest_refuses_paths_outside_the_roots(api, tmp_path: Path) -> None:
    client, root = api
    (root / "escape").symlink_to("/etc", target_is_directory=True)
    good = {"model_path": str(root / "ckpt"), "task_path": str(root / "task.jsonl")}
    refused = [
        ({**good, "model_path": f"{root}/../../../etc"}, "body.payload.model_path"),
        ({**good, "model_path": str(root / "escape")}, "body.payload.model_path"),
        ({**good, "task_path": "/etc/passwd"}, "body.payload.task_path"),
        ({**good, "task_path": "task.jsonl"}, "body.payload.task_path"),  # the server's cwd
    ]
    for payload, where in refused:
        r = client.post("/v1/jobs", json={"payload": {**payload, "mode": "choices"}})
        assert r.status_code == 422, (payload, r.text)
        body = r.json()
        assert body["where"] == where and str(root.resolve()) in body["message"], body
    ray = {**good, "mode": "choices", "ray_address": "ray://attacker.example:10001"}
    r = client.post("/v1/jobs", json={"payload": ray})  # Ray's client protocol is pickles
    assert r.status_code == 422 and r.json()["where"] == "body.payload.ray_address", r.text
    assert "CAPCAST_RAY_ADDRESSES" in r.json()["message"]
    imp = {"kind": "import", "payload": {"source": "observations", "path": "/etc/passwd"}}
    r = client.post("/v1/jobs", json=imp)
    assert r.status_code == 422 and r.json()["where"] == "body.payload.path"
    assert _job_count(client) == 0  # nothing queued by any refusal

    watch = {
        "name": "w",
        "kind": "watch",
        "watch_path": str(root / "escape"),
        "job_payload": {"task_path": str(root / "task.jsonl"), "mode": "choices"},
    }
    r = client.post("/v1/schedules", json=watch)
    assert r.status_code == 422 and r.json()["where"] == "body.watch_path", r.text
    outside_task = {"task_path": "/etc/x", "mode": "choices"}
    inside_dir = str(root / "ckpt")
    r = client.post(
        "/v1/schedules", json={**watch, "watch_path": inside_dir, "job_payload": outside_task}
    )
    assert r.status_code == 422 and r.json()["where"] == "body.job_payload.task_path", r.text
    assert client.get("/v1/schedules").json()["count"] == 0
    r = client.post("/v1/schedules", json={**watch, "watch_path": str(root / "ckpt")})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.patch(f"/v1/schedules/{sid}", json={"watch_path": "/"})
    assert r.status_code == 422 and r.json()["where"] == "body.watch_path"
    assert client.get(f"/v1/schedules/{sid}").json()["watch_path"] == str(root / "ckpt")
    # inside the roots it is accepted
    r = client.post("/v1/jobs", json={"payload": {**good, "mode": "choices"}})
    assert r.status_code == 201, r.text


def test_rest_greedy_mode_and_cron_field_errors(api) -> None:
    client, root = api
    payload = {
        "model_path": str(root / "ckpt"),
        "task_path": str(root / "task.jsonl"),
        "mode": "greedy",
    }
    r = client.post("/v1/jobs", json={"payload": payload})
    assert r.status_code == 201 and r.json()["payload"]["mode"] == "greedy", r.text
    r = client.post("/v1/jobs", json={"payload": {**payload, "mode": "vibes"}})
    assert r.status_code == 422
    assert "choices, passuntil, samples, greedy" in r.json()["message"]
    r = client.post(
        "/v1/jobs",
        json={"payload": {**payload, "config": {"engine_opts": {"trust_remote_code": True}}}},
    )
    assert r.status_code == 422 and "trust_remote_code" in r.json()["message"], r.text

    body = {"name": "nightly", "cron": "0 3 * * *", "job_payload": payload}
    assert client.post("/v1/schedules", json=body).status_code == 201
    for cron, says in [
        ("61 3 * * *", "minute 61 not in 0-59"),
        ("0 24 * * *", "hour 24 not in 0-23"),
        ("0 3 * 13 *", "month 13 not in 1-12"),
        ("0 3 * * * 75", "second 75 not in 0-59"),
        ("*/0 * * * *", "minute step '0'"),
        ("0 3 * *", "expected 5 fields"),
    ]:
        r = client.post("/v1/schedules", json={**body, "name": "x", "cron": cron})
        assert r.status_code == 422 and says in r.json()["message"], (cron, r.text)
    sid = client.get("/v1/schedules").json()["data"][0]["id"]
    r = client.patch(f"/v1/schedules/{sid}", json={"cron": "0 0 32 * *"})
    assert r.status_code == 422 and "day of month 32 not in 1-31" in r.json()["message"]


def test_deleted_schedule_id_is_not_reused(api, db_engine) -> None:
    client, _ = api
    body = {"cron": "*/10 * * * *", "job_kind": "sleep", "job_payload": {}}
    first = client.post("/v1/schedules", json={**body, "name": "a"}).json()["id"]
    newest = client.post("/v1/schedules", json={**body, "name": "b"}).json()["id"]
    with transaction(db_engine) as s:
        s.get(Schedule, newest).created_at = queue.utcnow().replace(year=2020)
    assert scheduler.run_cron(db_engine, newest, now=queue.utcnow()).enqueued
    old_jobs = client.get("/v1/jobs", params={"schedule_id": newest}).json()["data"]
    assert old_jobs
    assert client.delete(f"/v1/schedules/{newest}").status_code == 204
    again = client.post("/v1/schedules", json={**body, "name": "c"}).json()["id"]
    assert again not in (first, newest), "a deleted schedule's id was handed out again"
    assert client.get("/v1/jobs", params={"schedule_id": again}).json()["count"] == 0
    for job in old_jobs:
        assert client.get(f"/v1/jobs/{job['id']}").json()["schedule_id"] in (None, newest)


# ------------------------------------------------------------------ CLI and house-keeping


def test_cli_schedule_names_the_cron_field_and_takes_greedy(cli: CliRunner, tmp_path: Path) -> None:
    r = cli.invoke(app, ["schedule", "add", "bad", "--cron", "61 3 * * *"])
    assert r.exit_code == 2 and "minute 61 not in 0-59" in r.output, r.output
    payload = json.dumps({"task_path": str(tmp_path / "t.jsonl"), "mode": "greedy"})
    # a local user may watch any local directory: the worker enforces the roots at run time
    r = cli.invoke(app, ["schedule", "add", "w", "--watch", str(tmp_path), "--payload", payload])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["job_payload"]["mode"] == "greedy"


def test_handlers_do_not_import_the_worker() -> None:
    """The worker imports the handlers; the handlers never import the worker (no cycle)."""
    code = (
        "import sys, service.jobs.handlers, service.jobs.evaluation, service.jobs.forecast_refresh;"
        "print('service.jobs.worker' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
