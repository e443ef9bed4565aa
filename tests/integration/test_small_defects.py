"""Issue 13's smaller defects against real components: a live server, SQLite and PostgreSQL, the CLI.

Offline API docs, the REST metric vocabulary, JSON in the runs export, a CSV with an unclosed quote
imported through ``capcast import``, and strict item-result writes shared by the evaluator's path
and the lm-eval importer.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db import results as R
from db.importers.lmeval import doc_hash
from db.models import Benchmark, EvalRun, Item, ItemResult, Model
from db.observations import KNOWN_METRICS
from db.session import make_engine, transaction
from service.app import DOCS_ASSETS
from service.cli import app
from tests.integration.import_harness import counts
from tests.integration.live_server import live_server, make_key, server_log_errors
from tests.integration.test_import_lmeval import lm_eval_sample, write_run


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    keys = {s: make_key(db_url, s, name=f"{s} key") for s in ("read", "write")}
    log = tmp_path / "server.log"
    with live_server(db_url, log) as base:
        yield base, {s: f"Bearer {k}" for s, k in keys.items()}
    assert server_log_errors(log) == [], log.read_text()


# --------------------------------------------------------------------------- offline docs


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("page", "kinds"), [("/docs", {"js", "css"}), ("/redoc", {"js"})])
def test_api_docs_load_nothing_from_outside(api, page: str, kinds: set[str]) -> None:
    """Every URL the page names is this server's, and each script and style it loads is served."""
    base, _ = api
    with httpx.Client(base_url=base, timeout=30) as c:
        html = c.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        external = [
            u for u in re.findall(r"https?://[^\s\"'<>]+", html.text) if not u.startswith(base)
        ]
        assert external == [], external
        refs = re.findall(r"(?:src|href)=\"([^\"]+)\"", html.text)
        seen = set()
        for ref in refs:
            assert ref.startswith("/"), ref  # same origin, no scheme or host
            res = c.get(ref)
            assert res.status_code == 200, (ref, res.status_code)
            ext = ref.rsplit(".", 1)[-1]
            expected = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[ext]
            assert res.headers["content-type"].startswith(expected), (ref, res.headers)
            assert len(res.content) > 1000  # the real file, not an error page
            seen.add(ext)
        assert kinds <= seen
        assert "SwaggerUIBundle" in c.get("/docs/assets/swagger-ui-bundle.js").text
        assert c.get("/docs/assets/../app.py").status_code == 404
        assert c.get("/openapi.json").status_code == 200
    assert set(DOCS_ASSETS) >= {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"}


# --------------------------------------------------------------------------- REST metrics


def test_measurements_use_the_file_importers_metric_names(api, db_url: str) -> None:
    base, keys = api
    row = {"model": "m1", "benchmark": "b", "value": 0.5}
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": keys["write"]}) as c:
        before = counts(db_url)
        bad = c.post("/v1/measurements", json={"rows": [{**row, "metric": "acc"},
                                                        {**row, "metric": "accuracy"}]})  # fmt: skip
        assert bad.status_code == 422, bad.text
        body = bad.json()
        assert body["where"] == "body.rows[1].metric"
        assert "unknown metric 'accuracy'" in body["message"]
        assert ", ".join(sorted(KNOWN_METRICS)) in body["message"]
        assert counts(db_url) == before
        ok = c.post("/v1/measurements", json={"rows": [{**row, "metric": "acc_norm"}]})
        assert ok.status_code == 200 and ok.json()["inserted"] == 1, ok.text


# --------------------------------------------------------------------------- runs export


def test_runs_export_writes_estimates_as_json(api, db_url: str) -> None:
    base, keys = api
    estimates = [{"unbiased": 0.25, "mle": 0.5, "bounds": [0.1, 0.9]}, None]
    engine = make_engine(db_url)
    with transaction(engine) as s:
        model, bench = Model(name="tiny"), Benchmark(name="mini", kind="generative")
        s.add_all([model, bench])
        s.flush()
        items = [Item(benchmark_id=bench.id, key=f"q{i}") for i in range(2)]
        run = EvalRun(model_id=model.id, benchmark_id=bench.id, mode="samples", engine="vllm",
                      config={}, config_hash="h", status="done")  # fmt: skip
        s.add_all([*items, run])
        s.flush()
        s.add_all(
            ItemResult(run_id=run.id, item_id=it.id, n_samples=4, n_pass=1, estimates=e)
            for it, e in zip(items, estimates, strict=True)
        )
        run_id = run.id
    engine.dispose()
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": keys["read"]}) as c:
        csv = c.get(f"/v1/runs/{run_id}/export", params={"format": "csv"})
        assert csv.status_code == 200, csv.text
        frame = pd.read_csv(io.StringIO(csv.text))
        assert json.loads(frame["estimates"][0]) == estimates[0]
        assert pd.isna(frame["estimates"][1])
        pq = c.get("/v1/runs/export", params={"format": "parquet", "benchmark": "mini"})
        table = pd.read_parquet(io.BytesIO(pq.content))
        assert json.loads(table["estimates"][0]) == estimates[0]


# --------------------------------------------------------------------------- CSV import


def test_csv_with_an_unclosed_quote_imports_nothing(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "obs.csv"
    path.write_text('model,n_params,benchmark,metric,value\nm1,1e8,b,acc,0.5\nm2,2e8,b,acc,"0.6\n')
    before = counts(db_url)
    res = cli.invoke(app, ["import", "observations", str(path)])
    assert res.exit_code == 2, res.output
    message = " ".join(res.stderr.split())
    assert f"{path}, line 3, column value: expected a closing quote" in message, message
    assert counts(db_url) == before
    path.write_text(path.read_text() + '"\n')  # closed: both rows import
    res = cli.invoke(app, ["import", "observations", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert counts(db_url)["measurement"] == before["measurement"] + 2


# --------------------------------------------------------------------------- strict results


def _run_with_items(session, n: int) -> tuple[int, list[int]]:
    model = R.get_or_create_model(session, name="m")
    bench = R.get_or_create_benchmark(session, name="t", kind="generative", n_items=n)
    ids = R.upsert_items(session, bench.id, [R.ItemRow(f"k{i}", "p", None, "a") for i in range(n)])
    run = R.get_or_create_run(session, model_id=model.id, benchmark_id=bench.id,
                              config={"mode": "samples"}, config_hash="h", engine="vllm",
                              engine_version="x")  # fmt: skip
    return run.id, [ids[f"k{i}"] for i in range(n)]


def test_strict_results_keep_identical_and_refuse_changed(db_url: str) -> None:
    engine = make_engine(db_url)
    choice = R.ChoiceRow(0, -1.5, 3, 4, 4, True, True)
    with transaction(engine) as s:
        run_id, (a, b) = _run_with_items(s, 2)
        result = {"n_samples": 4, "n_pass": 2, "stop_reason": "budget", "estimate": 0.5,
                  "estimates": {"mle": 0.5}}  # fmt: skip
        assert R.write_item_result(s, run_id=run_id, item_id=a, result=result, choices=[choice])
    with transaction(engine) as s:  # the same again (a restarted writer): nothing changes
        counts_ = R.write_item_results(s, run_id, [R.ResultIn(a, dict(result), (choice,)),
                                                   R.ResultIn(b, result)])  # fmt: skip
        assert (counts_.results_inserted, counts_.results_unchanged) == (1, 1)
        assert counts_.choices_unchanged == 1
    changed = [
        ({**result, "n_pass": 3}, (choice,), "n_pass"),
        ({**result, "estimates": {"mle": 0.75}}, (choice,), "estimates"),
        (result, (R.ChoiceRow(0, -2.5, 3, 4, 4, True, True),), "logprob_sum"),
    ]
    for new, choices, field in changed:
        with pytest.raises(R.ResultConflictError) as info, transaction(engine) as s:
            R.write_item_results(s, run_id, [R.ResultIn(a, new, choices)])
        assert (info.value.run_id, info.value.item_id, info.value.field) == (run_id, a, field)
        assert f"run {run_id}, item {a}" in str(info.value)
    with transaction(engine) as s:
        stored = s.scalars(
            select(ItemResult).where(ItemResult.run_id == run_id, ItemResult.item_id == a)
        ).one()
        assert (stored.n_pass, stored.estimates) == (2, {"mle": 0.5})
        # the old keep-first behaviour, on request
        assert not R.write_item_result(
            s, run_id=run_id, item_id=a, result={**result, "n_pass": 4}, strict=False
        )
        with pytest.raises(R.ResultConflictError):  # the same item twice in one call
            R.write_item_results(
                s, run_id, [R.ResultIn(b, result), R.ResultIn(b, {**result, "n_pass": 0})]
            )
    engine.dispose()


def test_lmeval_reimport_is_unchanged_and_a_changed_outcome_imports_nothing(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    root = write_run(tmp_path)
    first = cli.invoke(app, ["import", "lm-eval", str(root), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["samples"][0]["item_results_inserted"] == 3
    before = counts(db_url)
    again = cli.invoke(app, ["import", "lm-eval", str(root), "--json"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)["samples"][0]
    assert report["item_results_inserted"] == 0 and report["choice_scores_unchanged"] == 9
    assert counts(db_url) == before
    samples = [lm_eval_sample(i) for i in range(3)]
    samples[1]["acc"] = 1.0  # lm-eval's own metric for doc 1 flips: another stored outcome
    write_run(tmp_path, samples=samples)
    res = cli.invoke(app, ["import", "lm-eval", str(root)])
    assert res.exit_code == 2, res.output
    message = " ".join(res.stderr.split())
    assert "line 2, column metrics: expected 0.0 as already stored as the estimate" in message
    assert f"item {doc_hash(samples[1]['doc'])}" in message, message
    assert counts(db_url) == before
