"""``capcast eval`` SIGKILLed mid-run and started again with the same configuration finishes with
exactly the results of an uninterrupted run, with no item counted twice (SQLite and PostgreSQL).

PassUntil mode, the hardest to resume (items finish in different rounds): the per-(item, round)
seeds make a restarted item redraw the same samples. Run with the vLLM engine and with the
transformers reference engine; the vLLM case gets a larger budget so that it is still running when
the first items are stored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import EvalRun, Item, ItemResult
from db.session import make_engine, session_factory
from evals.runner import run_eval
from evals.testing import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"r": 2, "k_max": 256, "seed": 5, "max_tokens": 1}
K_MAX = {"hf": 256, "vllm": 4096}
PROMPTS = ["the cat", "Question: is", "water 7", "sum of"]
RANKS = [0, 2, 5, 10, 20, 60]  # first-token answers from likely (p ~ 0.2) to unlikely (< 1/256)


def _task(path: Path, model: Path) -> Path:
    """Pass = the first sampled token is a given token, at several probability ranks."""
    import torch

    from evals.engines.hf_engine import HfEngine

    hf = HfEngine(model)
    header = {"_task": {"name": "resume_first_token", "checker": {"kind": "exact", "strip": False}}}
    lines = [json.dumps(header)]
    for prompt in PROMPTS:
        order = torch.argsort(hf.next_token_logprobs(prompt), descending=True).tolist()
        texts = [hf.tokenizer.decode([t]) for t in order]
        usable = [t for t in texts if t.isascii() and t.isprintable() and t]
        for rank in RANKS:
            lines.append(json.dumps({"prompt": prompt, "answer": usable[rank]}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(url: str, model: Path, task: Path, engine: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from service.cli import main; main()",
        "eval",
        "--model", str(model),
        "--task", str(task),
        "--mode", "passuntil",
        "--engine", engine,
        "--r", str(CONFIG["r"]),
        "--k-max", str(K_MAX[engine]),
        "--seed", str(CONFIG["seed"]),
        "--max-tokens", "1",
        "--database-url", url,
        "--quiet",
        "--json",
    ]  # fmt: skip


def _results(url: str) -> dict[str, tuple]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Item.key,
                ItemResult.n_samples,
                ItemResult.n_pass,
                ItemResult.stop_reason,
                ItemResult.estimate,
                ItemResult.estimates,
            ).join(ItemResult, ItemResult.item_id == Item.id)
        ).all()
    engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}


def _count(url: str, table) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar()
    engine.dispose()
    return int(n)


_REFERENCE: dict[tuple[str, str], tuple[dict, dict]] = {}


def _reference(model: Path, task: Path, tmp_path: Path, engine: str) -> tuple[dict, dict]:
    """The same evaluation, uninterrupted, in its own SQLite file (once per engine and session)."""
    key = (task.read_text(), engine)
    if key not in _REFERENCE:
        from db import migrate

        ref_url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
        migrate.upgrade(ref_url)
        ref_engine = make_engine(ref_url)
        ref = run_eval(
            session_factory=session_factory(ref_engine),
            model_path=model,
            task_path=task,
            mode="passuntil",
            engine=engine,
            config=CONFIG | {"k_max": K_MAX[engine]},
        )
        ref_engine.dispose()
        _REFERENCE[key] = (_results(ref_url), ref.metrics)
    return _REFERENCE[key]


@pytest.mark.parametrize("engine", ["hf", pytest.param("vllm", marks=pytest.mark.vllm)])
def test_sigkilled_eval_resumes_to_identical_results(
    db_url: str, tmp_path: Path, engine: str
) -> None:
    model = build_tiny_model()
    task = _task(tmp_path / "first_token.jsonl", model)
    n_items = len(PROMPTS) * len(RANKS)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        _cli(db_url, model, task, engine),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            written = _count(db_url, ItemResult)
        except Exception:  # tables being created by the child's first transaction
            written = 0
        if written > 0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    at_kill = _count(db_url, ItemResult)
    assert 0 < at_kill < n_items, f"killed at {at_kill} of {n_items} items"
    assert _count(db_url, EvalRun) == 1

    again = subprocess.run(
        _cli(db_url, model, task, engine),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["n_reused"] == at_kill and summary["n_new"] == n_items - at_kill
    assert _count(db_url, EvalRun) == 1
    assert _count(db_url, ItemResult) == n_items
    resumed = _results(db_url)

    reference, ref_metrics = _reference(model, task, tmp_path, engine)
    assert resumed == reference
    assert summary["metrics"] == pytest.approx(ref_metrics)
    # not degenerate: items stopped for both reasons and after different numbers of draws
    reasons = {r[2] for r in reference.values()}
    assert reasons == {"r_reached", "budget"}
    assert len({r[0] for r in reference.values()}) > len(RANKS)
