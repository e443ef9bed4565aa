"""`capcast schedule add|list|remove` and `capcast worker --once` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.config import get_settings
from db.models import Job
from db.session import transaction
from service.cli import app
from service.jobs import queue


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_schedule_commands(cli: CliRunner, tmp_path: Path) -> None:
    payload = json.dumps({"model_path": "/m", "task_path": "/t.yaml", "mode": "choices"})
    r = cli.invoke(app, ["schedule", "add", "nightly", "--cron", "0 3 * * *", "--payload", payload])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cron"] == "0 3 * * *"
    watch = json.dumps({"task_path": "/t.yaml", "mode": "choices"})
    r = cli.invoke(app, ["schedule", "add", "ladder", "--watch", str(tmp_path), "--payload", watch])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["schedule", "add", "bad", "--cron", "99 * * * *"])
    assert r.exit_code == 2 and "invalid cron expression" in r.output
    r = cli.invoke(app, ["schedule", "add", "bad", "--cron", "* * * * *", "--payload", "{nope"])
    assert r.exit_code == 2 and "--payload is not JSON: line 1, column 2" in r.output
    r = cli.invoke(app, ["schedule", "add", "nightly", "--cron", "0 4 * * *", "--payload", payload])
    assert r.exit_code == 2 and "already exists" in r.output
    listed = json.loads(cli.invoke(app, ["schedule", "list"]).stdout)
    assert [s["name"] for s in listed] == ["nightly", "ladder"]
    assert listed[1]["kind"] == "watch" and listed[1]["watch_path"] == str(tmp_path)
    assert cli.invoke(app, ["schedule", "remove", "nightly"]).exit_code == 0
    assert cli.invoke(app, ["schedule", "remove", "nightly"]).exit_code == 2
    assert len(json.loads(cli.invoke(app, ["schedule", "list"]).stdout)) == 1


def test_worker_once_drains_the_queue(cli: CliRunner, db_engine) -> None:
    with transaction(db_engine) as s:
        ids = [queue.enqueue(s, kind="noop", payload={}) for _ in range(3)]
    r = cli.invoke(app, ["worker", "--once", "--poll-seconds", "0.01"])
    assert r.exit_code == 0, r.output
    assert "stopped after 3 job(s)" in r.output
    with transaction(db_engine) as s:
        assert [j.status for j in s.scalars(select(Job).order_by(Job.id))] == ["succeeded"] * 3
        assert {j.id for j in s.scalars(select(Job))} == set(ids)
