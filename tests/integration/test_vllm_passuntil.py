"""PassUntil on the real vLLM engine where the truth is known.

Each item passes when the first generated token is a given token, so its true pass probability is
that token's probability at temperature 1, computed exactly from the float32 transformers logits.
A few hundred items are chosen so that p spans 3e-1 to 1e-4 (measured) plus a few near 1e-5
(censored by the budget); the estimates must agree with the truth at the rate their intervals
promise, the unbiased estimator must be centred on the truth, and r/K must show its upward bias.
Cheap high-p items are many, the expensive 1e-4 ones few: about 3e5 samples in all.
"""

from __future__ import annotations

import itertools
import json
import math
import string
from pathlib import Path

import numpy as np
import pytest

from db import migrate
from db import results as R
from db.session import make_engine, session_factory
from evals.passuntil import estimator_moments
from evals.runner import run_eval
from evals.testing import build_tiny_model

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

R_STOP, K_MAX, ALPHA = 2, 60_000, 0.1
PROMPTS = [
    f"{a} {b}"
    for a in ("the", "Question:", "def", "water", "sum")
    for b in ("cat", "is", "of", "7", "x", "=")
]


@pytest.fixture(scope="module")
def items() -> list[dict]:
    """(prompt, target token text, true p) triples spread over p in [1e-4, 1e-1]."""
    import torch

    from evals.engines.hf_engine import HfEngine

    hf = HfEngine(build_tiny_model())
    tok = hf.tokenizer
    texts = [tok.decode([t]) for t in range(len(tok))]
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    printable = set(string.ascii_letters + string.digits + string.punctuation + " ")
    ok = [
        t
        for t, s in enumerate(texts)
        if s and counts[s] == 1 and set(s) <= printable and t not in tok.all_special_ids
    ]
    rng = np.random.default_rng(0)
    chosen: list[dict] = []
    # per prompt: up to eighteen items with p in [1e-2, 10^-0.5] (cheap; they carry the r/K bias
    # test) and one in [1e-3, 1e-2]; for the first ten prompts one in [1e-4, 1e-3], for the first
    # five one near 1e-4 (measured within K_MAX), for the first two one near 1e-5 (censored)
    bins = [*itertools.pairwise(np.linspace(-2, -0.5, 7)), (-3.0, -2.0)]
    for k, prompt in enumerate(PROMPTS):
        p = torch.exp(hf.next_token_logprobs(prompt).double()).numpy()
        assert abs(p.sum() - 1) < 1e-6
        logp = np.log10(p[ok])
        extra = [(-4.0, -3.0)] * (k < 10) + [(-4.1, -3.9)] * (k < 5) + [(-5.3, -4.7)] * (k < 2)
        for lo, hi in bins + extra:
            cand = [ok[i] for i in np.flatnonzero((logp >= lo) & (logp < hi))]
            take = 3 if lo >= -2 else 1  # three per high-p bin where there are three
            for t in rng.choice(cand, size=min(take, len(cand)), replace=False) if cand else []:
                chosen.append({"prompt": prompt, "answer": texts[t], "p": float(p[t])})
    return chosen


def test_vllm_passuntil_estimates_match_exact_probabilities(
    items: list[dict], tmp_path: Path
) -> None:
    from evals.engines.vllm_engine import VllmEngine

    ps = np.array([it["p"] for it in items])
    assert ps.max() > 0.1 and ps.min() < 2e-5 and len(items) >= 250
    assert ((ps > 5e-5) & (ps < 2e-4)).sum() >= 3  # measured items near 1e-4
    task = tmp_path / "first_token.jsonl"
    header = {"_task": {"name": "first_token", "checker": {"kind": "exact", "strip": False}}}
    lines = [json.dumps(header)] + [
        json.dumps({"prompt": it["prompt"], "answer": it["answer"]}) for it in items
    ]
    task.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'pu.sqlite'}"
    migrate.upgrade(url)
    db = make_engine(url)
    eng = VllmEngine(
        build_tiny_model(),
        max_model_len=256,
        kv_cache_memory_bytes=64 << 20,
        max_num_seqs=1024,
        max_num_batched_tokens=32768,
    )
    try:
        res = run_eval(
            session_factory=session_factory(db),
            model_path=str(build_tiny_model()),
            task_path=task,
            mode="passuntil",
            engine=eng,
            config={
                "r": R_STOP,
                "k_max": K_MAX,
                "seed": 11,
                "max_tokens": 1,
                "stop": [],
                "alpha": ALPHA,
            },
        )
    finally:
        eng.close()
    with session_factory(db)() as s:
        rows = R.run_results(s, res.run_id)
    truth = {(it["prompt"], it["answer"]): it["p"] for it in items}
    measured, censored = [], []
    for item, result in rows:
        p = truth[(item.prompt, item.answer)]
        est = result.estimates
        assert result.n_samples == est["n"] and result.n_pass == est["s"]
        (censored if est["censored"] else measured).append((p, est))
    assert res.samples >= sum(e["n"] for _, e in measured + censored)
    n = len(measured)
    assert n >= 240
    assert min(p for p, _ in measured) < 2e-4  # the interval check reaches down to 1e-4
    cover = np.mean([e["lower"] <= p <= e["upper"] for p, e in measured])
    assert cover >= (1 - ALPHA) - 3 * math.sqrt(ALPHA * (1 - ALPHA) / n), cover
    # Sums over items against their exact moments (the per-item spread is heavy-tailed: relative
    # s.d. of (r-1)/(K-1) is ~2 at p = 1e-3, so sample standard errors would understate it).
    everything = measured + censored
    mom = [estimator_moments(p, R_STOP, K_MAX) for p, _ in everything]
    z_unbiased = (
        sum(e["unbiased"] for _, e in everything) - sum(p for p, _ in everything)
    ) / math.sqrt(sum(m["unbiased_var"] for m in mom))
    assert abs(z_unbiased) < 3, z_unbiased
    # r/K on the uncensored items, weighted by bias/variance from theory (weights use only the
    # truth): above the truth by several s.d., and where theory puts it
    mom_m = [estimator_moments(p, R_STOP, K_MAX) for p, _ in measured]
    w = [(m["paper_mean"] - p) / m["paper_var"] for m, (p, _) in zip(mom_m, measured, strict=True)]
    sd = math.sqrt(sum(wi**2 * m["paper_var"] for wi, m in zip(w, mom_m, strict=True)))
    stat = [wi * e["paper"] for wi, (_, e) in zip(w, measured, strict=True)]
    z_paper_vs_truth = (
        sum(stat) - sum(wi * p for wi, (p, _) in zip(w, measured, strict=True))
    ) / sd
    z_paper_vs_theory = (
        sum(stat) - sum(wi * m["paper_mean"] for wi, m in zip(w, mom_m, strict=True))
    ) / sd
    assert z_paper_vs_truth > 2, z_paper_vs_truth  # r/K: biased upward, visibly
    assert abs(z_paper_vs_theory) < 3, z_paper_vs_theory  # by the amount theory says
    ratio = np.array([e["unbiased"] / p for p, e in measured])
    paper = np.array([e["paper"] / p for p, e in measured])
    # censored items: p below their reported bound (each a one-sided 95% bound)
    above = 0
    for p, e in censored:
        assert e["stop_reason"] == "budget" and e["n"] == K_MAX
        above += p > (e["upper_bound"] if e["s"] == 0 else e["upper"])
    assert above <= 1 + len(censored) // 5, (above, len(censored))
    print(
        f"{n} measured, {len(censored)} censored, {res.samples} samples; coverage {cover:.3f}, "
        f"mean unbiased/p {ratio.mean():.3f}, mean (r/K)/p {paper.mean():.3f}; z unbiased "
        f"{z_unbiased:.2f}, z r/K vs truth {z_paper_vs_truth:.2f}, vs theory {z_paper_vs_theory:.2f}"
    )
    assert censored, "no item reached the budget: the 1e-4 items were not included"
    db.dispose()
