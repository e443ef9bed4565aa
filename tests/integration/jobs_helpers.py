"""Helpers for the multi-process job tests: start `capcast` processes, wait on job rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from db.models import Job

ROOT = Path(__file__).resolve().parents[2]
CAPCAST = [sys.executable, "-c", "from service.cli import main; main()"]


def proc_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CAPCAST_DATABASE_URL=db_url,
        VLLM_ENABLE_V1_MULTIPROCESSING="0",
        TORCHDYNAMO_DISABLE="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def start(
    db_url: str, args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``capcast ARGS`` with stdout+stderr to ``log`` (``env`` adds variables)."""
    out = log.open("wb")
    return subprocess.Popen(
        [*CAPCAST, *args],
        cwd=ROOT,
        env={**proc_env(db_url), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def job_paths_env(*roots: Path | str) -> dict[str, str]:
    """``CAPCAST_JOB_PATHS`` allowing ``roots`` (tests keep their files under tmp_path)."""
    return {"CAPCAST_JOB_PATHS": json.dumps([str(r) for r in roots])}


def start_worker(
    db_url: str, tmp: Path, name: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A worker whose payload paths may lie under ``tmp`` and in the tiny-model directory."""
    from evals.testing import DEFAULT_DIR

    args = ["worker", "--name", name, "--poll-seconds", "0.05", "--backoff-seconds", "0", *extra]
    env = {**job_paths_env(tmp, DEFAULT_DIR), **(env or {})}
    return start(db_url, args, tmp / f"{name}.log", env=env)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def count_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def stop_all(procs: list[subprocess.Popen], timeout: float = 30) -> list[int]:
    """SIGTERM each process (graceful stop) and return their exit codes."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def stored_results(engine: Engine, run_id: int | None = None) -> dict[str, tuple]:
    """Per-item results of one run (or of the only run) by item key, with per-choice scores;
    compared between a distributed or resumed run and a local one."""
    from db.models import ChoiceScore, Item, ItemResult

    with engine.connect() as conn:
        stmt = select(Item.key, ItemResult).join(ItemResult, ItemResult.item_id == Item.id)
        if run_id is not None:
            stmt = stmt.where(ItemResult.run_id == run_id)
        rows = conn.execute(stmt).all()
        if len({r.run_id for r in rows}) > 1:
            raise ValueError("several runs stored: pass run_id")
        scores = conn.execute(
            select(
                Item.key, ChoiceScore.choice_index, ChoiceScore.logprob_sum, ChoiceScore.is_greedy
            )
            .join(ChoiceScore, ChoiceScore.item_id == Item.id)
            .where(ChoiceScore.run_id.in_({r.run_id for r in rows}))
            .order_by(Item.key, ChoiceScore.choice_index)
        ).all()
    per_choice: dict[str, list] = {}
    for key, idx, lp, greedy in scores:
        per_choice.setdefault(key, []).append((idx, lp, greedy))
    out = {}
    for r in rows:
        est = dict(r.estimates or {})
        out[r.key] = (
            r.n_samples,
            r.n_pass,
            r.stop_reason,
            r.greedy_correct,
            r.estimate,
            est.get("completions"),
            tuple(per_choice.get(r.key, ())),
        )
    return out


def arithmetic_task(path: Path, n_items: int) -> Path:
    """A generative task of ``n_items`` sums, native JSONL."""
    lines = [
        json.dumps(
            {
                "_task": {
                    "name": "jobs_sums",
                    "checker": {"kind": "numeric"},
                    "stop": ["\n"],
                    "max_tokens": 8,
                }
            }
        )
    ]
    for i in range(n_items):
        a, b = 3 * i + 1, 7 * i + 2
        lines.append(
            json.dumps({"prompt": f"Question: What is {a} + {b}?\nAnswer:", "answer": str(a + b)})
        )
    path.write_text("\n".join(lines) + "\n")
    return path
