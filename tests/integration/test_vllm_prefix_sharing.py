"""Prefix-shared scoring on long (5-shot) contexts: the vLLM engine computes an item's context once
for all of its choices, and its per-choice log-likelihoods still equal the float32 transformers
reference's (tiny model, CPU). The sharing is checked from vLLM's own count of prompt tokens served
from the prefix cache."""

from __future__ import annotations

import random
from typing import Any

import pytest

from evals.engines import ChoiceRequest
from evals.engines.base import encode_pair
from evals.testing import _WORDS, build_tiny_model

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

TOL = 1e-4  # as tests/integration/test_vllm_choices.py: float32 sums of a few tokens' log-probs


def _fewshot_items(n: int, tokenizer: Any, block: int, seed: int = 3) -> list[ChoiceRequest]:
    """5-shot items (hundreds of tokens each) with multi-token, and some single-token, choices.

    The first item's context is cut to a whole number of KV blocks: its later choices then find
    their whole context cached, which leaves vLLM no logits for the first continuation token,
    and the engine must notice and re-run them.
    """
    rng = random.Random(seed)

    def words(lo: int, hi: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))

    out = []
    for i in range(n):
        shots = [f"Question: {words(25, 40)}?\nAnswer: {words(1, 4)}" for _ in range(5)]
        context = "\n\n".join([*shots, f"Question: {words(15, 30)}?\nAnswer:"])
        if i % 3 == 2:  # one token each after the same context: the one-request path
            choices: tuple[str, ...] = (" 1", " 2", " 3", " 4")
        else:
            choices = tuple(" " + words(1, 5) for _ in range(4))
        if i == 0:
            while len(encode_pair(tokenizer, context, choices[0]).context_ids) % block:
                context = context[1:]
        out.append(ChoiceRequest(context, choices))
    return out


@pytest.fixture(scope="module")
def engines():
    from evals.engines.hf_engine import HfEngine
    from evals.engines.vllm_engine import CPU_BLOCK_SIZE, VllmEngine

    model = build_tiny_model()
    eng = VllmEngine(model, max_model_len=1024, kv_cache_memory_bytes=64 << 20)
    assert eng.block_size == CPU_BLOCK_SIZE
    yield eng, HfEngine(model)
    eng.close()


def test_long_contexts_are_computed_once_and_scores_match_hf(engines) -> None:
    vllm_engine, hf_engine = engines
    tok, block = vllm_engine.tokenizer, vllm_engine.block_size
    reqs = _fewshot_items(9, tok, block)
    vllm_engine.llm.reset_prefix_cache()
    before = dict(vllm_engine.stats)
    got = vllm_engine.score_choices(reqs)
    want = hf_engine.score_choices(reqs)

    worst = 0.0
    for g, w in zip(got, want, strict=True):
        assert g.n_tokens == w.n_tokens
        assert g.is_greedy == w.is_greedy
        worst = max(worst, *(abs(a - b) for a, b in zip(g.logprob_sum, w.logprob_sum, strict=True)))
    assert worst < TOL, f"max |vLLM - HF| = {worst}"

    # What the prefix cache must have served, from block arithmetic: each multi-token item sends
    # its context less one token first (a primer), whose whole blocks every choice then finds
    # cached; vLLM shares whole blocks only, so a choice recomputes the rest of the context.
    fast = slow = least_cached = most_computed = 0
    for r in reqs:
        pairs = [encode_pair(tok, r.context, c) for c in r.choices]
        ctx = len(pairs[0].context_ids)
        if all(p.n_cont == 1 for p in pairs):
            fast += 1
            most_computed += ctx  # the one request: the context alone
            continue
        slow += 1
        assert ctx >= 300, "the items must be long for the test to mean anything"
        primed = (ctx - 1) // block * block
        least_cached += len(pairs) * primed
        most_computed += ctx - 1 + sum(len(p.ids) - primed for p in pairs)
    stats = {k: vllm_engine.stats[k] - before[k] for k in before}
    assert (fast, slow) == (3, 6)
    assert stats["fast_path_items"] == fast
    assert stats["scoring_requests"] == fast + slow * 5  # a primer and 4 choices per slow item
    assert stats["cached_prompt_tokens"] >= least_cached
    computed = stats["prompt_tokens"] - stats["cached_prompt_tokens"]
    assert computed <= most_computed
    # ... which is about one context per item, where lm-eval's requests compute four
    assert computed < 0.4 * stats["prompt_tokens"]
    # the block-aligned first item: its choices 2-4 found the whole context cached and were re-run
    assert stats["retried_requests"] >= 3
