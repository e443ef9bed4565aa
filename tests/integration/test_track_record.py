"""The track record fills itself, over real HTTP on SQLite and PostgreSQL: forecasts are stored
(POST /v1/forecasts), the measurements of their targets are posted later, and the scored forecasts
read back (REST, the CLI and the dashboard page) carry the errors computed here by hand."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.integration.live_server import live_server, make_key, server_log_errors

FAMILY, BENCH = "tr-ladder", "task"
SIZES = np.geomspace(3e7, 1e9, 8)


def law(n: float, tokens: float) -> float:
    """The truth the ladder follows: accuracy from compute, 0.25 + 0.75·exp(-(C/1e18)^-0.3)."""
    return 0.25 + 0.75 * float(np.exp(-((6 * n * tokens / 1e18) ** -0.3)))


def ladder() -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []
    for n in SIZES:
        for k in range(1, 6):
            tokens = 20 * n * k / 5
            rows.append({"model": f"tr-{n:.3g}", "family": FAMILY, "n_params": float(n),
                         "n_tokens": tokens, "checkpoint_step": 1000 * k, "benchmark": BENCH,
                         "metric": "acc", "value": law(n, tokens) + rng.normal(0, 0.003)})  # fmt: skip
    return rows


def _post(c: httpx.Client, rows: list[dict], source: str) -> None:
    resp = c.post("/v1/measurements", json={"source": source, "rows": rows})
    assert resp.status_code == 200, resp.text


def test_forecasts_are_scored_when_their_targets_arrive(
    db_url: str, tmp_path: Path, cli: CliRunner
) -> None:
    log = tmp_path / "server.log"
    key = make_key(db_url, "write", name="track")
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300) as c,
    ):
        _post(c, ladder(), "ladder")
        query = {"benchmark": BENCH, "metric": "acc", "family": FAMILY}
        targets = {
            "named": {"model": "tr-4B", "n_params": 4e9, "n_tokens": 8e10},
            "sized": {"n_params": 2e9, "n_tokens": 4e10},  # unnamed: found by size and tokens
            "never": {"model": "tr-10B", "n_params": 1e10, "n_tokens": 2e11},
        }
        stored = {}
        for method, name in [("exponential", "named"), ("exponential", "sized"),
                             ("sigmoid", "named"), ("exponential", "never")]:  # fmt: skip
            resp = c.post(
                "/v1/forecasts", json={**query, "method": method, "target": targets[name]}
            )
            assert resp.status_code == 200, resp.text
            stored[(method, name)] = resp.json()
        empty = c.get("/v1/forecasts/track-record")  # declared before /v1/forecasts/{id}
        assert empty.status_code == 200, empty.text
        assert (empty.json()["n_forecasts"], empty.json()["n_scored"]) == (4, 0)

        # the targets are measured later: 4B by two sources (averaged), 2B at 2.01e9 params
        # (within 1% of the target's 2e9), plus its 0.5% smaller-token checkpoint
        truth_4b = law(4e9, 8e10)
        _post(c, [{"model": "tr-4B", "family": FAMILY, "n_params": 4e9, "n_tokens": 8e10,
                   "benchmark": BENCH, "metric": "acc", "value": truth_4b}], "eval-a")  # fmt: skip
        _post(c, [{"model": "tr-4B", "family": FAMILY, "n_params": 4e9, "n_tokens": 8e10,
                   "benchmark": BENCH, "metric": "acc", "value": truth_4b + 0.02}], "eval-b")  # fmt: skip
        truth_2b = law(2e9, 4e10)
        _post(c, [{"model": "run-2b", "family": FAMILY, "n_params": 2.01e9, "n_tokens": 4e10,
                   "checkpoint_step": 9000, "benchmark": BENCH, "metric": "acc",
                   "value": truth_2b},
                  {"model": "run-2b", "family": FAMILY, "n_params": 2.01e9, "n_tokens": 2e10,
                   "checkpoint_step": 4500, "benchmark": BENCH, "metric": "acc",
                   "value": 0.3}], "eval-a")  # fmt: skip
        record = c.get("/v1/forecasts/track-record").json()
        only_sigmoid = c.get("/v1/forecasts/track-record", params={"method": "sigmoid"}).json()
        page = c.get("/dashboard/track-record")
    assert server_log_errors(log) == [], log.read_text()

    assert (record["n_forecasts"], record["n_scored"]) == (4, 3)
    scored = {f["forecast_id"]: f for f in record["forecasts"]}
    assert stored[("exponential", "never")]["id"] not in scored
    expected = {  # (actual, how it was matched, the measured model) worked out by hand
        ("exponential", "named"): (truth_4b + 0.01, "model", "tr-4B", 2),
        ("sigmoid", "named"): (truth_4b + 0.01, "model", "tr-4B", 2),
        ("exponential", "sized"): (truth_2b, "size", "run-2b", 1),
    }
    errors: dict[str, list[float]] = {}
    inside: dict[str, list[bool]] = {}
    for (method, name), (actual, how, model, n_rows) in expected.items():
        f = stored[(method, name)]
        got = scored[f["id"]]
        assert (got["method"], got["matched_by"], got["measured_model"]) == (method, how, model)
        assert got["n_measurements"] == n_rows and got["prospective"] is True
        # the stored numbers travel as JSON floats: exact, so 1e-12 covers only float rounding
        assert got["actual"] == pytest.approx(actual, abs=1e-12)
        assert got["abs_error"] == pytest.approx(abs(f["point"] - actual), abs=1e-12)
        assert got["inside"] is (f["lower"] <= actual <= f["upper"])
        errors.setdefault(method, []).append(abs(f["point"] - actual))
        inside.setdefault(method, []).append(f["lower"] <= actual <= f["upper"])
    # the sized forecast scored at the matching checkpoint, not at the other one (value 0.3)
    assert abs(truth_2b - 0.3) > 0.05
    methods = {m["method"]: m for m in record["methods"]}
    assert set(methods) == {"exponential", "sigmoid"}
    for method, errs in errors.items():
        m = methods[method]
        assert (m["n"], m["n_prospective"], m["n_intervals"]) == (len(errs), len(errs), len(errs))
        assert m["mean_abs_error"] == pytest.approx(float(np.mean(errs)), abs=1e-12)
        assert m["max_abs_error"] == pytest.approx(max(errs), abs=1e-12)
        assert m["coverage"] == pytest.approx(float(np.mean(inside[method])), abs=1e-12)
        assert m["nominal_coverage"] == pytest.approx(0.9, abs=1e-12)
    assert (only_sigmoid["n_forecasts"], only_sigmoid["n_scored"]) == (1, 1)
    assert [m["method"] for m in only_sigmoid["methods"]] == ["sigmoid"]

    assert page.status_code == 200, page.text[:2000]
    assert 'data-scored="3" data-forecasts="4"' in page.text
    for f in scored:
        assert f'data-forecast="{f}"' in page.text
    assert 'href="/dashboard/track-record"' in page.text  # linked from the nav

    res = cli.invoke(app, ["track-record", "--json"])
    assert res.exit_code == 0, res.output
    from_cli = json.loads(res.stdout)
    assert from_cli["n_scored"] == 3
    assert {m["method"]: m["mean_abs_error"] for m in from_cli["methods"]} == pytest.approx(
        {k: float(np.mean(v)) for k, v in errors.items()}, abs=1e-12
    )
    assert "track record per method" in res.stderr
