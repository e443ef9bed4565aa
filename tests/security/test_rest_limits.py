"""Hostile sizes and paths over REST: huge and non-finite numbers, 10 MB bodies, deeply nested
JSON, runaway parameters (finding 2) and path traversal in every path field of jobs and
schedules. Each is a quick 4xx naming the field; no row changes; the server stays healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import Server, assert_error_shape, unharmed
from tests.security.payloads import PATHS, REFUSALS, PathAttack, Refusal

#: A refused request must be answered quickly, whatever it asked for.
ANSWER_BUDGET_S = 15.0


@pytest.mark.parametrize("case", REFUSALS, ids=lambda r: r.id)
def test_refused_quickly_with_what_and_where(server: Server, case: Refusal) -> None:
    with unharmed(server), server.client(timeout=60) as c:
        start = time.monotonic()
        if case.raw is not None:
            resp = c.request(
                case.method,
                case.path,
                content=case.raw,
                params=case.params,
                headers={"content-type": "application/json"},
            )
        else:
            resp = c.request(case.method, case.path, json=case.body, params=case.params)
        elapsed = time.monotonic() - start
        error = assert_error_shape(resp, case.statuses)
        expected = case.where or ""
        assert (error["where"] or "").startswith(expected), (expected, error)
        assert error["where"], f"the error does not say where: {error}"
        for word in case.words:
            assert word in error["message"], (word, error)
        for word in case.not_words:
            assert word not in error["message"], (word, error)
        assert elapsed < ANSWER_BUDGET_S, f"answered after {elapsed:.1f}s"


#: A path field over REST: (method, path, body with the path P, where).
PathField = Callable[[Server, str, str], tuple[str, str, dict[str, Any], str]]


def _eval(server: Server, **change: str) -> dict[str, Any]:
    payload = {
        "model_path": str(server.root / "sub"),
        "task_path": str(server.root / "t.jsonl"),
        "mode": "choices",
        **change,
    }
    return {"kind": "evaluation", "payload": payload}


PATH_FIELDS: dict[str, PathField] = {
    "job.import.path": lambda s, p, _: (
        "POST",
        "/v1/jobs",
        {"kind": "import", "payload": {"source": "observations", "path": p}},
        "body.payload.path",
    ),
    "job.evaluation.task_path": lambda s, p, _: (
        "POST",
        "/v1/jobs",
        _eval(s, task_path=p),
        "body.payload.task_path",
    ),
    "job.evaluation.model_path": lambda s, p, _: (
        "POST",
        "/v1/jobs",
        _eval(s, model_path=p),
        "body.payload.model_path",
    ),
    "schedule.watch_path": lambda s, p, name: (
        "POST",
        "/v1/schedules",
        {
            "name": name,
            "kind": "watch",
            "watch_path": p,
            "job_kind": "evaluation",
            "job_payload": {"task_path": str(s.root / "t.jsonl"), "mode": "choices"},
        },
        "body.watch_path",
    ),
    "schedule.job_payload.task_path": lambda s, p, name: (
        "POST",
        "/v1/schedules",
        {
            "name": name,
            "kind": "cron",
            "cron": "0 3 * * *",
            **{f"job_{k}": v for k, v in _eval(s, task_path=p).items()},
        },
        "body.job_payload.task_path",
    ),
    "schedule.patch.watch_path": lambda s, p, _: (
        "PATCH",
        "/v1/schedules/{watch_id}",
        {"watch_path": p},
        "body.watch_path",
    ),
}


@pytest.fixture(scope="module")
def watch_id(server: Server) -> Iterator[int]:
    """A watch schedule inside the root, for the PATCH attempts."""
    body = {
        "name": "sec-watch",
        "kind": "watch",
        "watch_path": str(server.root / "sub"),
        "job_kind": "evaluation",
        "job_payload": {"task_path": str(server.root / "t.jsonl"), "mode": "choices"},
    }
    with server.client() as c:
        resp = c.post("/v1/schedules", json=body)
        assert resp.status_code == 201, resp.text
        yield resp.json()["id"]
        c.delete(f"/v1/schedules/{resp.json()['id']}")


@pytest.mark.parametrize("field", list(PATH_FIELDS))
@pytest.mark.parametrize("attack", PATHS, ids=lambda a: a.id)
def test_path_outside_job_roots_is_refused(
    server: Server, watch_id: int, attack: PathAttack, field: str
) -> None:
    path = attack.render(str(server.root), str(server.outside))
    method, url, body, where = PATH_FIELDS[field](server, path, f"sec-{field}-{attack.id}")
    with unharmed(server), server.client() as c:
        resp = c.request(method, url.format(watch_id=watch_id), json=body)
        error = assert_error_shape(resp)
        got = error["where"] or ""
        leaf = where.rsplit(".", 1)[-1]
        assert got == where or (where.startswith(got + ".") and leaf in error["message"]), error


@pytest.mark.parametrize("field", list(PATH_FIELDS))
def test_path_inside_job_roots_is_accepted(server: Server, watch_id: int, field: str) -> None:
    """The control: the same fields take a path inside the root (so the root is what refuses)."""
    inside = {
        "job.import.path": server.root / "obs.csv",
        "job.evaluation.task_path": server.root / "t.jsonl",
    }.get(field, server.root / "sub")
    method, url, body, _ = PATH_FIELDS[field](server, str(inside), f"sec-ok-{field}")
    with server.client() as c:
        resp = c.request(method, url.format(watch_id=watch_id), json=body)
        assert resp.status_code in (200, 201), resp.text
        if url == "/v1/jobs":
            assert c.post(f"/v1/jobs/{resp.json()['id']}/cancel").status_code == 200
        elif method == "POST":
            assert c.delete(f"/v1/schedules/{resp.json()['id']}").status_code == 204


def test_server_survives_the_module(server: Server, tmp_path: Path) -> None:
    """After every hostile request above: still healthy, and nothing was imported from outside."""
    with server.client("read") as c:
        found = c.get("/v1/measurements", params={"model": "sec-out"}).json()
    assert found["count"] == 0, found
