"""Expression injection over REST: every payload of the catalogue in every field that takes an
expression (a forecast's ``fit``, gadre's ``loss_fit``/``error_fit``, a ``forecast_refresh``
job's query, a schedule's job query, the dashboard's ``?fit=``), and findings 1, 3 and 4 of
issue 13 as reported. Each refusal is a 4xx naming the field; nothing runs, nothing is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.conftest import (
    Server,
    assert_error_shape,
    assert_names_field,
    running_server,
    unharmed,
)
from tests.security.payloads import (
    BENIGN_FIT,
    EXPRESSIONS,
    REPRESENTATIVE,
    Expr,
    forecast_query,
    gadre_query,
)

#: A field that takes an expression: (request method, path, body for an expression, where, leaf).
Field = Callable[[str, str], tuple[str, str, dict[str, Any], str, str]]


def _job(query: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "forecast_refresh", "payload": {"query": query}, "max_attempts": 1}


def _schedule(name: str, query: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "cron",
        "cron": "0 3 * * *",
        "job_kind": "forecast_refresh",
        "job_payload": {"query": query},
    }


FIELDS: dict[str, Field] = {
    "forecast.fit": lambda e, _: (
        "POST",
        "/v1/forecasts",
        forecast_query(fit=e),
        "body.fit",
        "fit",
    ),
    "forecast.params.loss_fit": lambda e, _: (
        "POST",
        "/v1/forecasts",
        gadre_query(loss_fit=e),
        "body.params.loss_fit",
        "loss_fit",
    ),
    "forecast.params.error_fit": lambda e, _: (
        "POST",
        "/v1/forecasts",
        gadre_query(error_fit=e),
        "body.params.error_fit",
        "error_fit",
    ),
    "job.query.fit": lambda e, _: (
        "POST",
        "/v1/jobs",
        _job(forecast_query(fit=e)),
        "body.payload.query.fit",
        "fit",
    ),
    "job.query.params.loss_fit": lambda e, _: (
        "POST",
        "/v1/jobs",
        _job(gadre_query(loss_fit=e)),
        "body.payload.query.params.loss_fit",
        "loss_fit",
    ),
    "schedule.query.fit": lambda e, name: (
        "POST",
        "/v1/schedules",
        _schedule(name, forecast_query(fit=e)),
        "body.job_payload.query.fit",
        "fit",
    ),
    "schedule.query.params.error_fit": lambda e, name: (
        "POST",
        "/v1/schedules",
        _schedule(name, gadre_query(error_fit=e)),
        "body.job_payload.query.params.error_fit",
        "error_fit",
    ),
}


@pytest.fixture(scope="module")
def server(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's server writes uvicorn's access log too: keys must never appear in it."""
    tmp = tmp_path_factory.mktemp("server")
    with running_server(module_db_url, tmp, log_level="info") as s:
        yield s


#: The whole catalogue where findings 1 and 2 were reported; the representative payloads in the
#: fields that share the same validation (jobs and schedules carry a forecast query).
CASES = [
    pytest.param(field, expr, id=f"{field}-{expr.id}")
    for field in FIELDS
    for expr in (EXPRESSIONS if field.startswith("forecast.") else REPRESENTATIVE)
]


@pytest.mark.parametrize(("field", "expr"), CASES)
def test_expression_is_refused(server: Server, canary: Path, field: str, expr: Expr) -> None:
    method, path, body, where, leaf = FIELDS[field](
        expr.render(str(canary)), f"sec-{field}-{expr.id}"
    )
    with unharmed(server, canary), server.client() as c:
        resp = c.request(method, path, json=body)
        error = assert_error_shape(resp)
        assert_names_field(error, where, leaf)


@pytest.mark.parametrize("expr", REPRESENTATIVE, ids=lambda e: e.id)
def test_dashboard_fit_is_refused(server: Server, canary: Path, expr: Expr) -> None:
    params = {
        "benchmark": "hellaswag",
        "family": "gadre-rpj",
        "methods": "exponential",
        "fit": expr.render(str(canary)),
    }
    with unharmed(server, canary), server.client("read") as c:
        resp = c.get("/dashboard/scaling", params=params)
        assert not canary.exists(), "the payload ran"
        assert resp.status_code == 422, (resp.status_code, resp.text[-2000:])
        assert "fit" in resp.text
        assert "Traceback" not in resp.text and " object at 0x" not in resp.text


@pytest.mark.parametrize("field", list(FIELDS))
def test_benign_expression_is_accepted(server: Server, field: str) -> None:
    """The control: the same fields take a plain filter, so the refusals above are the filter's."""
    method, path, body, _, _ = FIELDS[field](BENIGN_FIT, f"sec-benign-{field}")
    with server.client() as c:
        resp = c.request(method, path, json=body)
        assert resp.status_code in (200, 201), resp.text
        if path == "/v1/jobs":
            assert c.post(f"/v1/jobs/{resp.json()['id']}/cancel").status_code == 200
        if path == "/v1/schedules":
            assert c.delete(f"/v1/schedules/{resp.json()['id']}").status_code == 204


def test_dashboard_benign_fit_renders(server: Server) -> None:
    params = {
        "benchmark": "hellaswag",
        "family": "gadre-rpj",
        "methods": "exponential",
        "fit": BENIGN_FIT,
    }
    with server.client("read", timeout=120) as c:
        resp = c.get("/dashboard/scaling", params=params)
    assert resp.status_code == 200, resp.text[-2000:]


# -- issue 13's findings as reported ------------------------------------------------------------


def test_finding1_loss_fit_code_execution_with_read_key(server: Server, canary: Path) -> None:
    """The reported payload: with a read key it may not even be computed (finding 3), and with a
    write key it is refused as a filter before any fit."""
    query = gadre_query(loss_fit=f'@pd.io.common.os.system("id > {canary}")')
    with unharmed(server, canary):
        with server.client("read") as c:
            resp = c.post("/v1/forecasts", json=query)
        assert_error_shape(resp, (403, 422))
        with server.client("write") as c:
            error = assert_error_shape(c.post("/v1/forecasts", json=query))
        assert_names_field(error, "body.params.loss_fit", "loss_fit")


def test_finding1_np_loader_leaks_nothing(server: Server) -> None:
    with unharmed(server), server.client() as c:
        resp = c.post("/v1/forecasts", json=gadre_query(loss_fit="@np.__loader__"))
        error = assert_error_shape(resp)
    assert "Loader" not in error["message"] and "numpy" not in error["message"], error


def test_finding3_read_key_cannot_store_a_forecast(server: Server) -> None:
    """A valid forecast query with a read key: 403, and no forecast row is written."""
    with unharmed(server), server.client("read") as c:
        resp = c.post("/v1/forecasts", json=forecast_query())
        assert_error_shape(resp, (403,))


def test_finding4_key_in_url_redirects_and_is_never_logged(server: Server) -> None:
    key = server.keys["read"]
    with httpx.Client(base_url=server.base, timeout=30, follow_redirects=False) as c:
        resp = c.get("/dashboard", params={"key": key})
        assert resp.status_code in (302, 303, 307), (resp.status_code, resp.text[:500])
        location = resp.headers["location"]
        assert "key=" not in location and key not in location, location
        assert location.split("?")[0].endswith("/dashboard"), location
        cookie = resp.headers.get("set-cookie", "")
        assert "httponly" in cookie.lower() and "samesite" in cookie.lower(), cookie
        page = c.get(location, headers={"Cookie": cookie.split(";")[0]})
        assert page.status_code == 200, page.text[:500]
        assert key not in page.text
    time.sleep(0.3)  # the access log line is written after the response
    secret = key.split("_", 2)[2]  # cc_<prefix>_<secret>; the secret may hold "_" itself
    assert secret not in server.log.read_text(errors="replace"), "the key is in the server log"
