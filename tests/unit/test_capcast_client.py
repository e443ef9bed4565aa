"""capcast.client without a server: its import boundary, the 202 polling path, odd answers.

The live-server behaviour (401, 422 with ``where``, 409, the Trainer callback) is in
``tests/integration/test_training_hooks.py``; here are the paths a live test cannot steer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from capcast import CapcastClient, CapcastError

FORECAST = {"id": 7, "method": "ladder", "benchmark": "b", "metric": "acc", "point": 0.4,
            "lower": 0.3, "upper": 0.5, "alpha": 0.1, "query": {}, "diagnostics": {},
            "cache_hit": False, "fitted_params": {}, "backtest": None,
            "data_fingerprint": "f", "created_at": "2026-01-01T00:00:00+00:00"}  # fmt: skip


def test_client_imports_nothing_of_the_server() -> None:
    """A training job installs only httpx: no capcast server package nor its dependencies."""
    code = (
        "import sys, capcast, capcast.callbacks\n"
        "heavy = {'service', 'db', 'predictors', 'evals', 'pandas', 'sqlalchemy', 'pydantic',"
        " 'fastapi', 'numpy', 'torch', 'transformers'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_forecast_follows_202_location_until_303() -> None:
    seen: list[str] = []
    polls = iter([200, 200, 303])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            body = json.loads(request.content)
            assert body["family"] == "run" and body["params"] == {"n_bootstrap": 5}
            loc = "/v1/forecasts/requests/3"
            return httpx.Response(202, json={"id": 3}, headers={"Location": loc})
        if request.url.path == "/v1/forecasts/requests/3":
            status = next(polls)
            if status == 303:
                return httpx.Response(303, headers={"Location": "/v1/forecasts/7"})
            return httpx.Response(200, json={"status": "running"}, headers={"Retry-After": "0"})
        return httpx.Response(200, json=FORECAST)

    client = CapcastClient("http://x", "k", transport=httpx.MockTransport(answer))
    f = client.forecast(method="ladder", benchmark="b", family="run", params={"n_bootstrap": 5},
                        target={"n_params": 1e6, "n_tokens": 1e9})  # fmt: skip
    assert (f.id, f.point, f.lower, f.upper) == (7, 0.4, 0.3, 0.5)
    assert seen == ["POST /v1/forecasts"] + ["GET /v1/forecasts/requests/3"] * 3 + [
        "GET /v1/forecasts/7"
    ]


def test_a_failed_poll_carries_the_fit_error() -> None:
    """A fit that failed answers the poll with the POST's error body and status."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json={}, headers={"Location": "/v1/forecasts/requests/1"})
        body = {"error": "validation_error", "message": "ladder could not fit", "where": "body"}
        return httpx.Response(422, json=body)

    client = CapcastClient("http://x", transport=httpx.MockTransport(answer))
    with pytest.raises(CapcastError) as err:
        client.forecast(method="ladder", benchmark="b", target={"flops": 1e20})
    assert (err.value.status, err.value.code, err.value.where) == (422, "validation_error", "body")
    assert err.value.message == "ladder could not fit"


@pytest.mark.parametrize(
    ("status", "body", "raised", "message"),
    [
        (502, b"<html>Bad Gateway</html>", 502, "<html>Bad Gateway</html>"),  # a proxy's page
        (200, b"not json", 200, "GET /healthz: the answer is not JSON"),
        (200, b"[1]", 0, "expected a JSON object for Health, got list"),
        (200, b'{"status": "ok"}', 0, "the answer lacks Health field(s) database, version"),
    ],
)
def test_answers_of_another_shape_are_capcast_errors(
    status: int, body: bytes, raised: int, message: str
) -> None:
    """Whatever comes back, a caller (the training callbacks) sees only CapcastError."""
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
    with pytest.raises(CapcastError) as err:
        CapcastClient("http://x", transport=transport).health()
    assert (err.value.status, err.value.message, err.value.where) == (raised, message, None)


def test_lightning_callback_without_lightning_says_what_to_install() -> None:
    """Blocked imports stand for an environment without either Lightning package."""
    code = (
        "import sys\n"
        "for name in ('lightning', 'lightning.pytorch', 'pytorch_lightning'):\n"
        "    sys.modules[name] = None\n"
        "try:\n"
        "    import capcast.callbacks.lightning\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "capcast.callbacks.lightning needs PyTorch Lightning: pip install lightning "
        "(the Hugging Face callback is capcast.callbacks.hf)"
    )
