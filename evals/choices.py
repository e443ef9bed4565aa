"""Per-choice metrics recomputed from stored log-likelihoods (METHODS E1), never by re-running.

Given ℓ_i (summed natural-log probability of choice i), the choice strings and the gold index:
acc (argmax ℓ), acc_norm (argmax ℓ_i / chars_i, lm-eval's definition: character length of the
choice string without the target delimiter), acc_bytes (same with UTF-8 bytes), p_vocab(correct)
= exp ℓ_t, p_choices = softmax(ℓ), Brier = mean over choices of (p_choices_i − 1[i=t])² (mean
over choices, as Schaeffer et al. coded it), and the correct answer's bits per byte
−ℓ_t / (ln 2 · bytes_t). Ties go to the lowest index, as ``numpy.argmax`` does in lm-eval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

METRICS = (
    "acc",
    "acc_norm",
    "acc_bytes",
    "logprob_correct",
    "p_vocab_correct",
    "p_choices_correct",
    "brier",
    "bpb",
)


@dataclass(frozen=True)
class ChoiceMetrics:
    acc: float
    acc_norm: float
    acc_bytes: float
    logprob_correct: float
    p_vocab_correct: float
    p_choices_correct: float
    brier: float
    bpb: float
    p_choices: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def item_metrics(logprobs: Sequence[float], choices: Sequence[str], gold: int) -> ChoiceMetrics:
    """Metrics of one item from its per-choice log-likelihood sums."""
    ll = np.asarray(logprobs, dtype=np.float64)
    if len(ll) != len(choices) or not 0 <= gold < len(choices):
        raise ValueError(f"{len(ll)} log-probs for {len(choices)} choices, gold={gold}")
    chars = np.array([float(len(c)) for c in choices])
    nbytes = np.array([float(len(c.encode("utf-8"))) for c in choices])
    p = np.exp(ll - ll.max())
    p /= p.sum()
    onehot = np.zeros_like(p)
    onehot[gold] = 1.0
    return ChoiceMetrics(
        acc=float(np.argmax(ll) == gold),
        acc_norm=float(np.argmax(ll / chars) == gold),
        acc_bytes=float(np.argmax(ll / nbytes) == gold),
        logprob_correct=float(ll[gold]),
        p_vocab_correct=math.exp(float(ll[gold])),
        p_choices_correct=float(p[gold]),
        brier=float(np.mean((p - onehot) ** 2)),
        bpb=float(-ll[gold] / (math.log(2) * nbytes[gold])) if nbytes[gold] else math.nan,
        p_choices=tuple(float(x) for x in p),
    )


def aggregate(metrics: Sequence[ChoiceMetrics]) -> dict[str, float]:
    """Task-level means (and the standard error of each mean, as ``<metric>_stderr``)."""
    out: dict[str, float] = {"n_items": float(len(metrics))}
    for name in METRICS:
        vals = np.array([getattr(m, name) for m in metrics], dtype=np.float64)
        out[name] = float(vals.mean()) if len(vals) else math.nan
        out[f"{name}_stderr"] = (
            float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else math.nan
        )
    return out
