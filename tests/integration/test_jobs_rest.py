"""REST for jobs and schedules through the whole app (auth, validation, JSON errors, database)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from db.config import Settings
from db.session import transaction
from service.app import create_app
from service.auth import create_key
from service.jobs import queue
from service.jobs.worker import Worker, WorkerConfig

EVAL = {"model_path": "/ckpt/step-1000", "task_path": "/tasks/arith.yaml", "mode": "choices"}


@pytest.fixture
def client(db_engine, db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    # job paths must lie inside the job roots: the fake checkpoint and task directories, tmp_path
    monkeypatch.setenv("CAPCAST_JOB_PATHS", f"/ckpt:/tasks:{tmp_path}")
    app = create_app(Settings(database_url=db_url))
    with transaction(db_engine) as s:
        _, token = create_key(session=s, name="ci", scopes=["write"])
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_queue_follow_and_cancel_jobs(client: TestClient, db_engine) -> None:
    r = client.post("/v1/jobs", json={"payload": EVAL, "priority": 3})
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["kind"], job["status"], job["attempts"], job["priority"]) == (
        "evaluation",
        "queued",
        0,
        3,
    )
    bad = client.post("/v1/jobs", json={"payload": {"model_path": "/m", "mode": "choices"}})
    assert bad.status_code == 422 and "payload.task_path" in bad.json()["message"]
    bad = client.post("/v1/jobs", json={"payload": {**EVAL, "mode": "vibes"}})
    assert bad.status_code == 422 and "payload.mode" in bad.json()["message"]
    assert client.post("/v1/jobs", json={"kind": "nope", "payload": {}}).status_code == 422
    bad = client.post("/v1/jobs", json={"kind": "sleep", "payload": {"record": "/tmp/x"}})
    assert bad.status_code == 422 and "payload.record" in bad.json()["message"]

    sleeper = client.post("/v1/jobs", json={"kind": "sleep", "payload": {"steps": 4}}).json()
    listed = client.get("/v1/jobs", params={"status": "queued"}).json()
    assert listed["count"] == 2 and {j["id"] for j in listed["data"]} == {job["id"], sleeper["id"]}
    assert client.get("/v1/jobs", params={"kind": "sleep"}).json()["count"] == 1

    # cancel the queued evaluation, then a worker runs the sleep job to the end
    r = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    Worker(db_engine, WorkerConfig(once=True, poll_seconds=0.01)).run()
    progress = client.get(f"/v1/jobs/{sleeper['id']}/progress").json()
    assert progress["status"] == "succeeded" and progress["progress"] == 1.0
    assert progress["attempts"] == 1
    done = client.get(f"/v1/jobs/{sleeper['id']}").json()
    assert done["result"]["slept"] == 0.0 and done["lease_owner"] is None
    # cancelling a finished job changes nothing
    assert client.post(f"/v1/jobs/{sleeper['id']}/cancel").json()["status"] == "succeeded"
    assert client.get("/v1/jobs/999999").status_code == 404
    assert client.post("/v1/jobs/999999/cancel").status_code == 404


def test_running_job_cancel_request_reaches_worker(client: TestClient, db_engine) -> None:
    job = client.post("/v1/jobs", json={"kind": "sleep", "payload": {"seconds": 60, "steps": 600}})
    claimed = queue.claim(db_engine, worker_id="w", lease_seconds=30)
    assert claimed.id == job.json()["id"]
    r = client.post(f"/v1/jobs/{claimed.id}/cancel").json()
    assert r["status"] == "running" and r["cancel_requested"] is True
    assert Worker(db_engine, WorkerConfig()).run_job(claimed, "w") == "cancelled"
    assert client.get(f"/v1/jobs/{claimed.id}").json()["status"] == "cancelled"


def test_schedules_crud(client: TestClient, tmp_path) -> None:
    body = {"name": "nightly", "cron": "0 3 * * *", "job_payload": EVAL}
    r = client.post("/v1/schedules", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.post("/v1/schedules", json=body).status_code == 409
    bad = client.post("/v1/schedules", json={**body, "name": "x", "cron": "61 * * * *"})
    assert bad.status_code == 422 and "invalid cron expression" in bad.json()["message"]
    watch = {
        "name": "ladder",
        "kind": "watch",
        "watch_path": str(tmp_path),
        "job_payload": {"task_path": "/tasks/t.yaml", "mode": "choices"},  # model_path per dir
    }
    assert client.post("/v1/schedules", json=watch).status_code == 201
    no_path = client.post("/v1/schedules", json={**watch, "name": "y", "watch_path": None})
    assert no_path.status_code == 422 and "watch_path" in no_path.json()["message"]
    assert client.get("/v1/schedules").json()["count"] == 2
    r = client.patch(f"/v1/schedules/{sid}", json={"enabled": False, "cron": "*/5 * * * *"})
    assert r.status_code == 200 and (r.json()["enabled"], r.json()["cron"]) == (
        False,
        "*/5 * * * *",
    )
    assert (
        client.patch(f"/v1/schedules/{sid}", json={"job_payload": {"mode": "x"}}).status_code == 422
    )
    assert client.delete(f"/v1/schedules/{sid}").status_code == 204
    assert client.get(f"/v1/schedules/{sid}").status_code == 404
    client.headers.pop("Authorization")
    assert client.get("/v1/schedules").status_code == 401
