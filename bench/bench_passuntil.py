"""Samples needed for a given relative precision: PassUntil vs fixed-n sampling.

Items: the tiny model's first-token "tasks" (pass = the first sampled token is a given token), whose
true pass probabilities p come exactly from the float32 logits and spread over 1e-1..1e-3. Target:
relative standard error ``--precision`` (default 0.3) on every item.

- PassUntil stops each item at r = ceil(1/precision²) + 2 successes (the unbiased (r−1)/(K−1)
  has relative s.d. ≈ 1/sqrt(r−2) for small p);
  the samples counted are all those drawn, including the part of a round after the r-th success.
- Fixed-n must pick one n for every item before knowing p, so it needs
  n = (1 − p_min) / (p_min · precision²) for the hardest item.

Both are then run and the achieved relative RMSE against the truth is printed, so the comparison is
of measured precision, not just formulas. ``--engine bernoulli`` (default) draws pass/fail with
the items' true p (fast); ``--engine vllm`` samples the real tiny model with vLLM (slow on CPU: use
few items and a loose precision).

Run: ``.venv/bin/python bench/bench_passuntil.py [--items 40] [--precision 0.3] [--engine vllm]``.
"""

from __future__ import annotations

import argparse
import math
import os
import string
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.engines.base import GenerateRequest
from evals.passuntil import PassUntilConfig, run_passuntil, sample_seed

PROMPTS = ["the cat", "Question: is", "def of", "water 7", "Answer: the", "sum of", "a b", "7 +"]


def items_with_truth(n_items: int, seed: int = 0) -> list[tuple[str, str, float]]:
    import torch

    from evals.engines.hf_engine import HfEngine
    from evals.testing import build_tiny_model

    hf = HfEngine(build_tiny_model())
    tok = hf.tokenizer
    texts = [tok.decode([t]) for t in range(len(tok))]
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    printable = set(string.ascii_letters + string.digits + string.punctuation + " ")
    special = set(tok.all_special_ids)
    ok = [
        t
        for t, s in enumerate(texts)
        if s and counts[s] == 1 and set(s) <= printable and t not in special
    ]
    rng = np.random.default_rng(seed)
    dist = {q: torch.exp(hf.next_token_logprobs(q).double()).numpy() for q in PROMPTS}
    out = []
    while len(out) < n_items:
        prompt = PROMPTS[len(out) % len(PROMPTS)]
        p = dist[prompt]
        target = rng.uniform(-3, -1)
        cand = [t for t in ok if abs(math.log10(p[t]) - target) < 0.25 and 1e-3 <= p[t] <= 0.1]
        if cand:
            t = int(rng.choice(cand))
            out.append((prompt, texts[t], float(p[t])))
    return out


class Bernoulli:
    name, version, model_path = "bernoulli", "1", "-"

    def __init__(self, truth: dict[str, tuple[str, float]]) -> None:
        self.truth = truth

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        out = []
        for r in requests:
            answer, p = self.truth[r.prompt]
            hits = np.random.default_rng(r.seed).random(r.n) < p
            out.append([answer if h else "" for h in hits])
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--precision", type=float, default=0.3)
    ap.add_argument("--engine", choices=["bernoulli", "vllm"], default="bernoulli")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    raw = items_with_truth(args.items, args.seed)
    # unique prompts per item (the engine is keyed by prompt); the suffix changes p for vLLM, so
    # with vLLM the truth is recomputed below
    items = [
        (f"{p} #{i}" if args.engine == "bernoulli" else p, a, q) for i, (p, a, q) in enumerate(raw)
    ]
    if args.engine == "vllm":
        from evals.engines.vllm_engine import VllmEngine

        engine = VllmEngine(
            __import__("evals.testing").testing.build_tiny_model(),
            max_model_len=256,
            max_num_seqs=1024,
            max_num_batched_tokens=32768,
        )
    else:
        engine = Bernoulli({p: (a, q) for p, a, q in items})
    keys = [f"item{i}" for i in range(len(items))]
    truth = np.array([q for _, _, q in items])
    r = math.ceil(1 / args.precision**2) + 2  # Var[(r-1)/(K-1)] ≈ p²/(r-2) for small p

    drawn = [0]

    class Counting:
        name, version, model_path = engine.name, engine.version, engine.model_path

        def generate(self, reqs: list[GenerateRequest]) -> list[list[str]]:
            drawn[0] += sum(q.n for q in reqs)
            return engine.generate(reqs)

    cfg = PassUntilConfig(r=r, k_max=10**7, max_tokens=1, max_batch_samples=1 << 20)
    answers = {k: a for k, (_, a, _) in zip(keys, items, strict=True)}
    p_min = float(truth.min())
    n_fixed = math.ceil((1 - p_min) / (p_min * args.precision**2))
    pu_sq, fixed_sq = [], []
    for rep in range(args.repeats):  # fresh seeds each repeat; errors pooled over repeats
        res = run_passuntil(
            Counting(),
            [(k, p, a) for k, (p, a, _) in zip(keys, items, strict=True)],
            lambda key, text, ans: text == answers[key],
            cfg,
            seed=args.seed + 1000 * rep,
        )
        pu_est = np.array([res[k].unbiased for k in keys])
        pu_sq.extend((pu_est / truth - 1) ** 2)
        reqs = [
            GenerateRequest(prompt=p, n=n_fixed, max_tokens=1, seed=sample_seed(rep, k, 99))
            for k, (p, _, _) in zip(keys, items, strict=True)
        ]
        for (_, a, q), texts in zip(items, engine.generate(reqs), strict=True):
            fixed_sq.append((sum(t == a for t in texts) / n_fixed / q - 1) ** 2)
    pu_samples = drawn[0] / args.repeats
    pu_rel = float(np.sqrt(np.mean(pu_sq)))
    fixed_rel = float(np.sqrt(np.mean(fixed_sq)))
    fixed_samples = n_fixed * len(items)

    print(
        f"\n{len(items)} items, p from {truth.min():.1e} to {truth.max():.1e}, engine {args.engine}"
    )
    print(f"target relative s.e. {args.precision} -> PassUntil r = {r}, fixed n = {n_fixed}/item")
    print(f"{'method':<22}{'samples':>12}{'rel. RMSE vs truth':>22}")
    print(f"(samples per repeat; {args.repeats} repeats, RMSE pooled over items and repeats)")
    print(f"{'PassUntil (unbiased)':<22}{pu_samples:>12.0f}{pu_rel:>22.3f}")
    print(f"{'fixed-n (s/n)':<22}{fixed_samples:>12}{fixed_rel:>22.3f}")
    print(f"samples ratio fixed-n / PassUntil: {fixed_samples / pu_samples:.1f}x")


if __name__ == "__main__":
    main()
