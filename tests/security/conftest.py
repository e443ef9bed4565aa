"""Fixtures of the adversarial suite: one live server per backend per module, seeded with a small
Gadre-style family, and the checks every hostile request must pass.

Each test gets a canary path in its own directory; :func:`unharmed` then asserts that the canary
never appeared, that no table changed (row counts and a checksum of every row), and that
``/healthz`` still answers within a second.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.exc import SAWarning

from db import migrate
from db.session import make_engine
from tests.conftest import _drop_pg_database, _new_pg_database
from tests.integration.live_server import ROOT, live_server, make_key, server_log_errors

#: The setting that confines job and schedule paths (imports, task files, watched directories).
JOB_PATHS_ENV = "CAPCAST_JOB_PATHS"
#: Columns that change on every authenticated request by design, left out of the checksum.
VOLATILE_COLUMNS = frozenset({"last_used_at"})
HEALTH_BUDGET_S = 1.0
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database shared by one module's tests (``db_url``, module-scoped)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'capcast.sqlite'}"
        migrate.upgrade(url)
        yield url
        return
    name, url = _new_pg_database()
    try:
        migrate.upgrade(url)
        yield url
    finally:
        _drop_pg_database(name)


def seed_rows() -> list[dict[str, Any]]:
    """Ten models of one family: c4_val loss and avg17 error (Gadre's chain) and hellaswag acc."""
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(13)
    for n in np.geomspace(1.1e7, 4.1e8, 5):
        for m in (20, 80):
            tokens = float(m * n)
            loss = 3.0 * n**-0.1 + 60.0 * 6**-0.05 * (m * n) ** -0.1 + 1.7
            err = 0.95 - 0.9 * np.exp(-0.6 * loss) + rng.normal(0, 0.002)
            acc = 0.25 + 0.75 * np.exp(-1.5 * (6 * n * tokens / 1e18) ** -0.3)
            base = {
                "model": f"rpj-{n:.3g}-x{m}",
                "family": "gadre-rpj",
                "n_params": float(n),
                "n_tokens": tokens,
            }
            rows += [
                {**base, "benchmark": "c4_val", "metric": "loss", "value": float(loss)},
                {**base, "benchmark": "avg17", "metric": "err", "value": float(err)},
                {**base, "benchmark": "hellaswag", "metric": "acc", "value": float(acc)},
            ]
    return rows


_METADATA: dict[str, MetaData] = {}


def _reflected(engine: Engine) -> MetaData:
    """The database's tables, reflected once per database (the schema does not change)."""
    key = str(engine.url)
    if key not in _METADATA:
        meta = MetaData()
        with warnings.catch_warnings():  # expression indexes (uq_measurement_identity) are skipped
            warnings.simplefilter("ignore", SAWarning)
            meta.reflect(engine)
        _METADATA[key] = meta
    return _METADATA[key]


def table_checksums(engine: Engine, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every table's row count and a SHA-256 of its rows (ordered by primary key)."""
    meta = _reflected(engine)
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            if table.name in exclude:
                continue
            cols = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
            order = list(table.primary_key.columns) or cols
            rows = conn.execute(select(*cols).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = f"{len(rows)} rows {digest[:16]}"
    return out


@dataclass
class Server:
    """A live server and what tests need around it."""

    base: str
    db_url: str
    engine: Engine
    log: Path
    keys: dict[str, str]
    root: Path  # the allowed job-path root
    outside: Path  # a valid observations file outside it
    canaries: list[Path] = field(default_factory=list)

    def headers(self, scope: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def client(self, scope: str = "write", timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers(scope), timeout=timeout)


def make_roots(tmp: Path) -> tuple[Path, Path]:
    """An allowed root (with symlinks pointing out of it) and a valid file outside it."""
    root, outside = tmp / "jobroot", tmp / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    csv = "model,family,n_params,n_tokens,benchmark,metric,value\n"
    csv += "sec-out,sec,1e8,2e9,hellaswag,acc,0.5\n"
    (outside / "obs.csv").write_text(csv)
    (root / "obs.csv").write_text(csv.replace("sec-out", "sec-in"))
    (root / "link-to-outside.csv").symlink_to(outside / "obs.csv")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    return root, outside / "obs.csv"


@contextmanager
def running_server(
    db_url: str, tmp: Path, *, log_level: str = "warning", **env: str
) -> Iterator[Server]:
    """Seed ``db_url``, serve it with job paths confined to a root, and check it at the end."""
    root, outside = make_roots(tmp)
    keys = {scope: make_key(db_url, scope, name=f"sec-{scope}") for scope in ("read", "write")}
    engine = make_engine(db_url)
    log = tmp / "server.log"
    env = {JOB_PATHS_ENV: str(root), **env}
    try:
        with live_server(db_url, log, log_level=log_level, **env) as base:
            server = Server(base, db_url, engine, log, keys, root, outside)
            with server.client("write", timeout=60) as c:
                resp = c.post("/v1/measurements", json={"source": "seed", "rows": seed_rows()})
                assert resp.status_code == 200, resp.text
            yield server
            time.sleep(0.5)  # anything a refused request started in the background has had time
        appeared = [str(p) for p in server.canaries if p.exists()]
        assert appeared == [], f"canaries appeared after the tests: {appeared}"
        assert server_log_errors(log) == [], log.read_text(errors="replace")[-5000:]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(module_db_url, tmp_path_factory.mktemp("server")) as s:
        yield s


@pytest.fixture
def canary(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """An absolute path in this test's own directory that no payload may create."""
    path = tmp_path / "canary-dir" / "canary"
    path.parent.mkdir()
    os.chmod(path.parent, 0o700)
    if "server" in request.fixturenames:
        request.getfixturevalue("server").canaries.append(path)
    return path


def healthz_fast(base: str) -> None:
    """``/healthz`` answers 200 within :data:`HEALTH_BUDGET_S` seconds."""
    start = time.monotonic()
    resp = httpx.get(f"{base}/healthz", timeout=HEALTH_BUDGET_S)
    elapsed = time.monotonic() - start
    assert resp.status_code == 200, resp.text
    assert elapsed < HEALTH_BUDGET_S, f"/healthz took {elapsed:.2f}s"


@contextmanager
def unharmed(
    server: Server, canary: Path | None = None, *, exclude: frozenset[str] = frozenset()
) -> Iterator[None]:
    """The block may send anything: afterwards no canary, no changed row, a healthy server."""
    before = table_checksums(server.engine, exclude)
    yield
    if canary is not None:
        assert not canary.exists(), f"the payload ran: {canary} was created"
    after = table_checksums(server.engine, exclude)
    changed = {t: (before.get(t), after.get(t)) for t in after if before.get(t) != after[t]}
    assert changed == {}, f"rows changed: {changed}"
    healthz_fast(server.base)


#: What an answer must never contain: tracebacks, source paths (this checkout's, wherever it
#: lies), object addresses, interpreter internals.
LEAKS = ("Traceback", 'File "', str(ROOT), " object at 0x", "<module", "frozen", "site-packages")


def assert_error_shape(resp: httpx.Response, statuses: tuple[int, ...] = (422,)) -> dict:
    """A 4xx in the JSON error shape (``error``, ``message``, ``where``, ``errors``) that leaks
    no interpreter internals; returns the body."""
    assert resp.status_code in statuses, (resp.status_code, resp.text[:2000])
    body = resp.json()
    assert set(body) == {"error", "message", "where", "errors"}, body
    assert body["message"] and isinstance(body["message"], str), body
    leaked = [w for w in LEAKS if w in resp.text]
    assert leaked == [], f"the error leaks {leaked}: {resp.text[:2000]}"
    return body


def assert_names_field(body: dict, where: str, leaf: str) -> None:
    """``where`` is the field's path, or a parent of it (at least ``body.x``) with the message
    naming ``leaf``."""
    got = body["where"] or ""
    if got == where:
        return
    parent = where.startswith(got + ".") and got.count(".") >= 1
    assert parent and leaf in body["message"], (
        f"expected where={where!r} (or a parent and {leaf!r} in the message); got {body}"
    )
