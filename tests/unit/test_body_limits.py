"""Request bodies over the size cap or nested too deeply are refused before anything parses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from db import migrate
from db.config import Settings
from service.app import create_app
from service.limits import MAX_JSON_DEPTH, json_depth_exceeds


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b'{"a": "' + b"[" * 500 + b'"}', False),  # brackets inside a string do not nest
        (b'{"a": "\\"' + b"[" * 500 + b'"}', False),  # nor after an escaped quote
        (b'{"a": ' * 65 + b"1" + b"}" * 65, True),
    ],
)
def test_json_depth(body: bytes, deep: bool) -> None:
    assert json_depth_exceeds(body) is deep


@pytest.fixture
def client(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    migrate.upgrade(url)
    with TestClient(create_app(Settings(database_url=url, max_body_bytes=4096))) as c:
        yield c


def test_oversized_declared_and_streamed_bodies_are_413(client: TestClient) -> None:
    r = client.post(
        "/v1/families", content=b"x" * 5000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["where"] == "body"
    assert "4,096 bytes" in r.json()["message"]

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/v1/families", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_deep_json_is_422_and_normal_requests_pass(client: TestClient) -> None:
    deep = b"[" * 100 + b"]" * 100
    r = client.post("/v1/families", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested more than 64" in r.json()["message"]
    r = client.post("/v1/families", json={"name": "a"})  # reaches the route: no key
    assert r.status_code == 401
    assert client.get("/healthz").status_code == 200
