"""The import and forecast_refresh job kinds, run by a real worker on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.config import get_settings
from db.models import Forecast, Job, Measurement
from db.session import transaction
from service.jobs import queue
from service.jobs.worker import Worker, WorkerConfig

HEADER = "model,family,n_params,n_params_nonembed,n_tokens,flops,release_date,checkpoint_step,benchmark,metric,value\n"


def _ladder_csv(path: Path, sizes: list[float]) -> Path:
    lines = [HEADER]
    for n in sizes:
        flops = 6 * n * 20 * n
        acc = 0.25 + 0.7 * (1 - math.exp(-((flops / 1e20) ** 0.3)))
        lines.append(f"m{n:.0e},lad,{n},{n},{20 * n},{flops},,,bench,acc,{acc:.6f}\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture(autouse=True)
def _job_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The worker reads files under tmp_path only if it is a job root."""
    monkeypatch.setenv("CAPCAST_JOB_PATHS", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(engine, kind: str, payload: dict) -> Job:
    with transaction(engine) as s:
        job_id = queue.enqueue(s, kind=kind, payload=payload, max_attempts=1)
    Worker(engine, WorkerConfig(once=True, poll_seconds=0.01)).run()
    with transaction(engine) as s:
        return s.get(Job, job_id)


def test_import_then_forecast_refresh(db_engine, tmp_path: Path) -> None:
    csv = _ladder_csv(tmp_path / "ladder.csv", [1e8, 2e8, 4e8, 8e8, 1.6e9])
    job = _run(db_engine, "import", {"source": "observations", "path": str(csv)})
    assert job.status == "succeeded", job.error
    assert job.result["rows"] == 5 and job.result["report"]["measurements_inserted"] == 5
    with transaction(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Measurement)) == 5

    query = {
        "method": "exponential",
        "benchmark": "bench",
        "metric": "acc",
        "target": {"model": "big", "flops": 1e22},
    }
    first = _run(db_engine, "forecast_refresh", {"query": query})
    assert first.status == "succeeded", first.error
    again = _run(db_engine, "forecast_refresh", {"query": query})
    assert again.result["forecast_id"] == first.result["forecast_id"]  # same data, stored one
    # new data: the refresh stores a new forecast with a new fingerprint
    more = _ladder_csv(tmp_path / "more.csv", [3.2e9])
    assert _run(db_engine, "import", {"source": "observations", "path": str(more)}).status == (
        "succeeded"
    )
    fresh = _run(db_engine, "forecast_refresh", {"query": query})
    assert fresh.result["forecast_id"] != first.result["forecast_id"]
    assert fresh.result["data_fingerprint"] != first.result["data_fingerprint"]
    with transaction(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Forecast)) == 2
        row = s.get(Forecast, fresh.result["forecast_id"])
        assert row.lower <= row.point <= row.upper


def test_bad_import_fails_with_the_importers_message(db_engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "m1,lad,-5,,,,,,bench,acc,0.5\n")
    job = _run(db_engine, "import", {"source": "observations", "path": str(bad)})
    assert job.status == "failed" and job.attempts == 1
    assert "bad.csv" in job.error and "n_params" in job.error
    job = _run(db_engine, "import", {"source": "nope", "path": str(tmp_path / "x")})
    assert job.status == "failed" and "payload.source" in job.error
