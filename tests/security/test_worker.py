"""Hostile job payloads written straight into the queue (as a compromised writer or an old row
would), run by a real ``capcast worker --once`` process: every job fails at once with a message
that leaks nothing, no canary appears and no table but ``job`` changes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from db import loader
from db.models import Job
from db.session import make_engine, session_factory, transaction
from service.jobs import queue
from tests.integration.jobs_helpers import CAPCAST, ROOT, proc_env
from tests.security.conftest import JOB_PATHS_ENV, LEAKS, make_roots, seed_rows, table_checksums
from tests.security.payloads import REPRESENTATIVE, forecast_query, gadre_query

WORKER_TIMEOUT_S = 180
FIELDS = ("fit", "loss_fit", "error_fit")


@dataclass
class Ran:
    """The module's jobs after one worker run: job ids by case id, canaries, table checksums."""

    jobs: dict[str, int]
    canaries: dict[str, Path]
    engine: Engine
    before: dict[str, str]
    after: dict[str, str]
    log: str


def _cases(tmp: Path, root: Path, outside: Path) -> dict[str, tuple[str, dict[str, Any], Path]]:
    """case id -> (kind, payload, canary)."""
    cases: dict[str, tuple[str, dict[str, Any], Path]] = {}
    for expr in REPRESENTATIVE:
        for field in FIELDS:
            canary = tmp / f"canary-{expr.id}-{field}"
            text = expr.render(str(canary))
            query = forecast_query(fit=text) if field == "fit" else gadre_query(**{field: text})
            cases[f"forecast_refresh.{field}-{expr.id}"] = (
                "forecast_refresh",
                {"query": query},
                canary,
            )
    never = tmp / "canary-never"
    bad_csv = root / "unclosed.csv"
    bad_csv.write_text(
        'model,benchmark,metric,value\n"m1,hellaswag,acc,0.5\nm2,hellaswag,acc,0.6\n'
    )
    cases.update(
        {
            "import.path-outside": (
                "import",
                {"source": "observations", "path": str(outside)},
                never,
            ),
            "import.path-symlink-out": (
                "import",
                {"source": "observations", "path": str(root / "link-to-outside.csv")},
                never,
            ),
            "import.path-dotdot": (
                "import",
                {"source": "observations", "path": f"{root}/../outside/obs.csv"},
                never,
            ),
            "import.gadre-dir-etc": ("import", {"source": "gadre", "path": "/etc"}, never),
            "import.csv-unclosed-quote": (
                "import",
                {"source": "observations", "path": str(bad_csv)},
                never,
            ),
            "evaluation.task_path-etc-passwd": (
                "evaluation",
                {"model_path": str(root / "sub"), "task_path": "/etc/passwd", "mode": "choices"},
                never,
            ),
            "sleep.record-outside": (
                "sleep",
                {"record": str(tmp / "canary-record")},
                tmp / "canary-record",
            ),
        }
    )
    return cases


@pytest.fixture(scope="module")
def ran(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    tmp = tmp_path_factory.mktemp("worker")
    root, outside = make_roots(tmp)
    engine = make_engine(module_db_url)
    with transaction(engine) as session:
        loader.load_observations(session, pd.DataFrame(seed_rows()), source="seed")
    cases = _cases(tmp, root, outside)
    assert list(cases) == CASE_IDS
    jobs: dict[str, int] = {}
    with session_factory(engine)() as session:
        for case_id, (kind, payload, _) in cases.items():
            job_id = queue.enqueue(session, kind=kind, payload=payload, max_attempts=3)
            assert job_id is not None
            jobs[case_id] = job_id
        session.commit()
    before = table_checksums(engine, frozenset({"job"}))
    env = {**proc_env(module_db_url), JOB_PATHS_ENV: str(root)}
    args = ["worker", "--once", "--poll-seconds", "0.05", "--backoff-seconds", "0"]
    proc = subprocess.run(
        [*CAPCAST, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    after = table_checksums(engine, frozenset({"job"}))
    yield Ran(jobs, {k: v[2] for k, v in cases.items()}, engine, before, after, log)
    engine.dispose()


#: The ids ``_cases`` builds, in order (parametrisation needs them before the fixture runs).
CASE_IDS = [
    *(f"forecast_refresh.{f}-{e.id}" for e in REPRESENTATIVE for f in FIELDS),
    "import.path-outside",
    "import.path-symlink-out",
    "import.path-dotdot",
    "import.gadre-dir-etc",
    "import.csv-unclosed-quote",
    "evaluation.task_path-etc-passwd",
    "sleep.record-outside",
]


def _names(case: str) -> str:
    """What the failure message must name: the query field, the payload path field, the line."""
    if case.startswith("forecast_refresh."):
        return case.split(".", 1)[1].split("-", 1)[0]
    special = {"import.csv-unclosed-quote": "line 2", "evaluation.task_path-etc-passwd":
               "payload.task_path", "sleep.record-outside": "payload.record"}  # fmt: skip
    return special.get(case, "payload.path")


@pytest.mark.parametrize("case", CASE_IDS)
def test_hostile_job_fails_at_once_and_leaks_nothing(ran: Ran, case: str) -> None:
    with session_factory(ran.engine)() as session:
        job = session.get(Job, ran.jobs[case])
        assert job is not None
        status, attempts, error = job.status, job.attempts, job.error or ""
    assert not ran.canaries[case].exists(), f"the payload ran: {ran.canaries[case]} was created"
    assert status == "failed", (status, error)
    assert attempts == 1, f"a refused payload was retried ({attempts} attempts): {error}"
    assert error.strip(), "the job failed without a message"
    assert _names(case) in error, f"the message does not name {_names(case)!r}: {error}"
    leaked = [w for w in LEAKS if w in error]
    assert leaked == [], f"job.error leaks {leaked}: {error}"


def test_no_table_but_job_changed(ran: Ran) -> None:
    changed = {
        t: (ran.before[t], ran.after.get(t))
        for t in ran.before
        if ran.before[t] != ran.after.get(t)
    }
    assert changed == {}, f"rows changed: {changed}"
