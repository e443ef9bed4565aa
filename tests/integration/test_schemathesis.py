"""Schema-driven fuzzing of the app's own OpenAPI document against a live server, with a write key.

Every operation gets valid (positive) and invalid (negative) requests generated from its schema.
A response must never be a 5xx, must use a status code and content type the operation declares,
and its body must match the declared schema. Bounded: a few examples per operation and mode, so
the whole run takes a minute or two. On PostgreSQL too: it refuses NUL characters, over-long
strings and 32-bit overflows that SQLite accepts, so those 5xx hide only there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.live_server import live_server, make_key, server_log_errors

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}


@pytest.mark.slow
def test_openapi_fuzz_no_5xx_and_schema_conformance(db_url: str, tmp_path: Path) -> None:
    key = make_key(db_url, "write", name="fuzz")
    log = tmp_path / "server.log"
    headers = {"Authorization": f"Bearer {key}"}
    with live_server(db_url, log) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        tried: list[str] = []
        for operation in operations:
            for mode, n in EXAMPLES.items():

                @settings(max_examples=n, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate],
                          suppress_health_check=list(HealthCheck))  # fmt: skip
                @given(case=operation.as_strategy(generation_mode=mode))
                def fuzz(case: schemathesis.Case) -> None:
                    response = case.call(base_url=base, headers=headers, timeout=60)
                    case.validate_response(response, checks=CHECKS)

                try:
                    fuzz()
                except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except Exception as exc:  # show the server's side of the failure too
                    tail = log.read_text(errors="replace")[-4000:]
                    raise AssertionError(
                        f"{operation.label} ({mode.value}): {exc}\n{tail}"
                    ) from exc
            tried.append(operation.label)
    assert "POST /v1/measurements" in tried and "POST /v1/forecasts" in tried
    assert server_log_errors(log) == [], log.read_text()[-5000:]
