"""A typed, synchronous client for capcast's REST API (``/v1``), for training jobs and scripts.

Only what a training loop needs: health, models (a checkpoint is a model row), measurements,
evaluation jobs and forecasts. Results are frozen dataclasses; every 4xx/5xx answer becomes one
:class:`CapcastError` carrying the API's ``status``, ``message`` and ``where``
(``{"error", "message", "where", "errors"}``, see ``service/errors.py``).

>>> err = CapcastError(422, "body.rows[0].metric: unknown metric 'x'", where="body.rows[0].metric")
>>> str(err)
"422 body.rows[0].metric: unknown metric 'x'"
>>> err.where
'body.rows[0].metric'
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

T = TypeVar("T")

#: Statuses of a forecast request still fitting (``GET /v1/forecasts/requests/{id}`` answers 200).
_RUNNING = 200


class CapcastError(Exception):
    """An error answer from the API; ``status`` 0 when there was no usable answer (a transport
    failure, or a body of an unexpected shape).

    ``code`` is the API's short machine-readable name (``not_found``, ``validation_error``);
    ``where`` the field path, row or parameter it refers to, when the API said.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        where: str | None = None,
        code: str | None = None,
        errors: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.message, self.where = status, message, where
        self.code, self.errors = code, errors


def _pick(cls: type[T], data: Any) -> T:
    """``cls`` from the fields of ``data`` it declares (the server may add fields: ignored); an
    answer of another shape (a proxy's, another version's) is a :class:`CapcastError`."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # every cls here is a dataclass
    if not isinstance(data, Mapping):
        raise CapcastError(
            0, f"expected a JSON object for {cls.__name__}, got {type(data).__name__}"
        )
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise CapcastError(0, f"the answer lacks {cls.__name__} field(s) {', '.join(missing)}")
    return cls(**{f.name: data[f.name] for f in fields if f.name in data})


@dataclass(frozen=True)
class _Page:
    data: list[dict[str, Any]]
    count: int


@dataclass(frozen=True)
class Health:
    status: str
    database: str
    version: str


@dataclass(frozen=True)
class Model:
    """A model row; a training checkpoint is one, with ``checkpoint_step`` and ``n_tokens``."""

    id: int
    name: str
    family: str | None = None
    n_params: float | None = None
    n_tokens: float | None = None
    flops: float | None = None
    checkpoint_step: int | None = None
    uri: str | None = None
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Measurement:
    """One measurement row, as posted (``to_json``) and as read back (``id``/``source`` set)."""

    model: str
    benchmark: str
    metric: str
    value: float
    checkpoint_step: int | None = None
    n_tokens: float | None = None
    stderr: float | None = None
    source: str | None = None
    id: int | None = None

    def to_json(self, **model_fields: Any) -> dict[str, Any]:
        """The row for ``POST /v1/measurements``; ``model_fields`` adds family, n_params..."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if k != "id" and v is not None}
        return {**row, **{k: v for k, v in model_fields.items() if v is not None}}


@dataclass(frozen=True)
class LoadReport:
    """What a measurement POST did: re-posting the same rows inserts nothing."""

    received: int
    inserted: int
    unchanged: int


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    progress: float | None = None
    error: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Forecast:
    """A stored forecast: ``point`` within ``[lower, upper]`` at miss rate ``alpha``."""

    id: int
    method: str
    benchmark: str | None
    metric: str | None
    point: float | None
    lower: float | None
    upper: float | None
    alpha: float | None
    query: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] | None = None
    cache_hit: bool = False


class CapcastClient:
    """``CapcastClient(base_url, api_key, timeout)``: one HTTP connection pool; close it (or use
    ``with``). ``transport`` is for tests (e.g. ``httpx.MockTransport``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # a finished forecast request is a 303 we follow ourselves
        )

    # -- plumbing ----------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # no (readable) answer: still one error type for callers
            raise CapcastError(0, f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise _error(resp)
        return resp

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded body of a 2xx answer; a body that is not JSON is a :class:`CapcastError`."""
        resp = self._request(method, path, **kwargs)
        return _decode(resp, f"{method} {path}")

    # -- resources ---------------------------------------------------------------------------
    def health(self) -> Health:
        """``GET /healthz``: the server is up and reaches its database (no key needed)."""
        return _pick(Health, self._json("GET", "/healthz"))

    def create_model(self, name: str, **fields: Any) -> Model:
        """``POST /v1/models``; ``fields``: family, n_params, n_tokens, checkpoint_step, uri,
        extra... (a 409 if the name exists)."""
        body = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
        return _pick(Model, self._json("POST", "/v1/models", json=body))

    def find_model(self, name: str) -> Model | None:
        """The model called exactly ``name``, or None (the list filter matches substrings)."""
        page = self._json("GET", "/v1/models", params={"name": name, "limit": 100})
        models = [_pick(Model, m) for m in _pick(_Page, page).data]
        return next((m for m in models if m.name == name), None)

    def register_checkpoint(self, name: str, **fields: Any) -> Model:
        """Create the model row, or return the existing one: a resumed run saves steps again."""
        try:
            return self.create_model(name, **fields)
        except CapcastError as exc:
            found = self.find_model(name) if exc.status == 409 else None
            if found is None:
                raise
            return found

    def post_measurements(
        self,
        rows: Iterable[Measurement | Mapping[str, Any]],
        *,
        source: str = "api",
        **model_fields: Any,
    ) -> LoadReport:
        """``POST /v1/measurements`` (all or nothing; idempotent per model, benchmark, metric,
        step and source). ``model_fields`` (family, n_params...) go on every row."""
        body_rows = [
            r.to_json(**model_fields)
            if isinstance(r, Measurement)
            else {**{k: v for k, v in model_fields.items() if v is not None}, **r}
            for r in rows
        ]
        body = {"source": source, "rows": body_rows}
        return _pick(LoadReport, self._json("POST", "/v1/measurements", json=body))

    def list_measurements(
        self,
        *,
        model: str | None = None,
        benchmark: str | None = None,
        metric: str | None = None,
        source: str | None = None,
    ) -> list[Measurement]:
        """Every matching measurement (all pages), oldest first."""
        given = {"model": model, "benchmark": benchmark, "metric": metric, "source": source}
        params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        return [_pick(Measurement, r) for r in self._pages("/v1/measurements", params)]

    def _pages(self, path: str, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            answer = self._json("GET", path, params={**params, "limit": limit, "offset": len(out)})
            page = _pick(_Page, answer)
            out.extend(page.data)
            if not page.data or len(out) >= page.count:
                return out

    def enqueue_evaluation(
        self,
        model_path: str,
        task_path: str,
        *,
        mode: str = "choices",
        engine: str | None = None,
        config: Mapping[str, Any] | None = None,
        priority: int = 0,
    ) -> Job:
        """``POST /v1/jobs`` of kind ``evaluation``; both paths must lie inside the server's job
        roots (``CAPCAST_JOB_PATHS``), else a 422 at ``body.payload.<path>``."""
        payload: dict[str, Any] = {"model_path": model_path, "task_path": task_path, "mode": mode}
        if engine is not None:
            payload["engine"] = engine
        if config:
            payload["config"] = dict(config)
        body = {"kind": "evaluation", "payload": payload, "priority": priority}
        return _pick(Job, self._json("POST", "/v1/jobs", json=body))

    def get_job(self, job_id: int) -> Job:
        return _pick(Job, self._json("GET", f"/v1/jobs/{job_id}"))

    def forecast(
        self,
        *,
        method: str,
        benchmark: str,
        target: Mapping[str, Any],
        metric: str = "acc",
        family: str | None = None,
        alpha: float = 0.1,
        params: Mapping[str, Any] | None = None,
        wait_s: float | None = None,
    ) -> Forecast:
        """``POST /v1/forecasts``; a 202 (the fit outlasted the server's wait) is followed by
        polling its ``Location`` until the 303 to the stored forecast, for at most ``wait_s``
        seconds (default: the client's timeout)."""
        body: dict[str, Any] = {
            "method": method,
            "benchmark": benchmark,
            "metric": metric,
            "alpha": alpha,
            "target": dict(target),
            "params": dict(params or {}),
        }
        if family is not None:
            body["family"] = family
        resp = self._request("POST", "/v1/forecasts", json=body)
        if resp.status_code == 202:
            resp = self._follow(resp, self.timeout if wait_s is None else wait_s)
        return _pick(Forecast, _decode(resp, "POST /v1/forecasts"))

    def _follow(self, accepted: httpx.Response, wait_s: float) -> httpx.Response:
        """Poll a 202's Location (Retry-After apart) until its 303; then GET the forecast."""
        location = accepted.headers["Location"]
        deadline = time.monotonic() + wait_s
        while True:
            resp = self._request("GET", location)
            if resp.status_code == 303:
                return self._request("GET", resp.headers["Location"])
            if resp.status_code != _RUNNING:
                raise CapcastError(resp.status_code, f"unexpected answer polling {location}")
            if time.monotonic() > deadline:
                raise CapcastError(0, f"forecast {location} still running after {wait_s:g} s")
            time.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))


def _decode(resp: httpx.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise CapcastError(resp.status_code, f"{what}: the answer is not JSON") from None


def _error(resp: httpx.Response) -> CapcastError:
    """The API's error body as a :class:`CapcastError` (or the raw text, if it is not JSON)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = resp.text.strip()[:500] or resp.reason_phrase
        return CapcastError(resp.status_code, text)
    return CapcastError(
        resp.status_code,
        str(body.get("message") or body.get("detail") or resp.reason_phrase),
        where=body.get("where"),
        code=body.get("error"),
        errors=tuple(body.get("errors") or ()),
    )
