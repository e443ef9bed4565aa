"""The one small interface every inference engine implements, and its typed requests.

Modelled on lm-evaluation-harness's ``LM`` (batched methods with exact arguments) but with one
typed request per kind instead of bare tuples. Where the space goes: a context's trailing
whitespace is moved onto the continuation before tokenising, as lm-eval does, so "Answer:" + " 5"
and "Answer: " + "5" score the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerateRequest:
    """Draw ``n`` completions of ``prompt``.

    ``seed`` makes the draws reproducible and independent of how requests are batched (vLLM:
    sample j uses the stream seeded by ``seed + j``; transformers: one stream per request).
    ``temperature == 0`` means greedy decoding.
    """

    prompt: str
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class ChoiceRequest:
    """Score each continuation in ``choices`` after ``context`` (one multiple-choice item)."""

    context: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class ChoiceScores:
    """Per-choice results: summed log-probability (natural log), token count, greedy flag."""

    logprob_sum: tuple[float, ...]
    n_tokens: tuple[int, ...]
    is_greedy: tuple[bool, ...]


@runtime_checkable
class Engine(Protocol):
    """What the runner needs from an engine."""

    name: str
    version: str
    model_path: str

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        """Return ``request.n`` completion strings per request, in request order."""
        ...

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        """Return per-choice log-likelihood sums, token counts and greedy flags."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EncodedPair:
    """A tokenised context+continuation: all ids and how many trailing ids are the continuation."""

    ids: tuple[int, ...]
    n_cont: int

    @property
    def context_ids(self) -> tuple[int, ...]:
        return self.ids[: len(self.ids) - self.n_cont]

    @property
    def cont_ids(self) -> tuple[int, ...]:
        return self.ids[len(self.ids) - self.n_cont :]


def split_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace onto the continuation (lm-eval's rule)."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(tokenizer: Any, context: str, continuation: str) -> EncodedPair:
    """Tokenise prompt+choice as ONE string and find the continuation's tokens by offsets.

    Tokenising the two halves separately can split differently at the boundary; tokenising the
    whole and taking every token that ends after the context's last character is what the model
    actually sees. Special tokens (BOS) have empty offsets and always belong to the context.
    """
    return encode_pairs(tokenizer, [(context, continuation)])[0]


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> list[EncodedPair]:
    """:func:`encode_pair` for many (context, continuation) pairs in one tokenizer call.

    A fast tokenizer encodes a list in one Rust call (and in parallel), where a call per pair
    pays Python overhead each time; the ids and offsets are the same either way.
    """
    split = [split_whitespace(context, continuation) for context, continuation in pairs]
    if any(not continuation for _, continuation in split):
        raise ValueError("empty continuation: nothing to score")
    if not split:
        return []
    enc = tokenizer([c + k for c, k in split], return_offsets_mapping=True)
    out = []
    for (context, continuation), ids, offsets in zip(
        split, enc["input_ids"], enc["offset_mapping"], strict=True
    ):
        boundary = len(context)
        n_cont = 0
        for start, end in reversed(offsets):
            if end > boundary and end > start:
                n_cont += 1
            else:
                break
        if n_cont == len(ids) or n_cont == 0:
            raise ValueError(f"cannot split context {context!r} / continuation {continuation!r}")
        out.append(EncodedPair(tuple(ids), n_cont))
    return out
