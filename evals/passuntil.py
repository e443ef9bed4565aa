"""PassUntil adaptive sampling and its estimators (METHODS E2; Hu et al. 2023).

Per item: draw in geometric rounds (16, 32, 64, … samples) until ``r`` successes or the budget
``k_max``; all items still running are submitted together each round so the engine stays full.
A round that overshoots is cut at the r-th success (samples are i.i.d. and ordered, so this is
exactly the sequential stopping rule): ``n`` is then K, the draw that gave the r-th success.

Estimators, from the raw (n, s) that are always stored:

- ``paper`` r/K: the negative-binomial MLE the paper used; biased upward (for r=1, p=1e-5 about
  11x). Kept for comparison only; None when the item was censored.
- ``unbiased`` (default, r ≥ 2): (r−1)/(K−1) when stopped by r successes, s/n when stopped by the
  budget. This is the Rao–Blackwell estimator of this truncated inverse-sampling design (the
  probability that the first draw succeeded given where the path ended), so it is exactly unbiased.
- ``mle`` s/n: the likelihood s·log p + (n−s)·log(1−p) does not depend on the stopping rule.
- censoring: budget reached with s < r is right-censored; with s = 0 we report ``upper_bound``
  3/K_max (p < 3/K_max at 95%) and never a zero to take logs of.
- interval at level 1−alpha: exact for inverse sampling when stopped by r (Clopper–Pearson form
  with r and K), Clopper–Pearson on (s, n) when stopped by the budget.
- ``rel_se`` ≈ sqrt((1−p)/r) (with s in place of r for censored items).

Seeds: each (item, round) request is seeded from (run seed, item key, round index), so results
do not depend on which other items share the batch, and a resumed run redraws the same samples.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import gammaln
from scipy.stats import beta

from evals.engines.base import Engine, GenerateRequest

R_REACHED, BUDGET = "r_reached", "budget"


@dataclass(frozen=True)
class PassUntilConfig:
    r: int = 2
    k_max: int = 100_000
    first_round: int = 16
    growth: int = 2
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    alpha: float = 0.1
    max_batch_samples: int = 65_536

    def __post_init__(self) -> None:
        if self.r < 1 or self.k_max < self.r or self.first_round < 1 or self.growth < 1:
            raise ValueError(f"invalid PassUntil settings: {self}")


@dataclass(frozen=True)
class PassUntilEstimate:
    n: int
    s: int
    r: int
    k_max: int
    stop_reason: str
    paper: float | None
    unbiased: float
    mle: float
    censored: bool
    upper_bound: float | None
    lower: float
    upper: float
    alpha: float
    rel_se: float | None

    @property
    def point(self) -> float:
        """The default estimate: unbiased for r ≥ 2, else the MLE."""
        return self.unbiased if self.r >= 2 else self.mle

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"point": self.point}


def estimate(n: int, s: int, *, r: int, k_max: int, alpha: float = 0.1) -> PassUntilEstimate:
    """All estimators and the interval for one item's (n draws, s successes)."""
    if n < 1 or not 0 <= s <= n:
        raise ValueError(f"need n >= 1 and 0 <= s <= n, got n={n}, s={s}")
    stopped = s >= r
    mle = s / n
    if stopped:
        paper: float | None = r / n
        unbiased = (r - 1) / (n - 1) if n > 1 else 1.0
        lower = float(beta.ppf(alpha / 2, r, n - r + 1))
        upper = float(beta.ppf(1 - alpha / 2, r, n - r)) if n > r else 1.0
    else:
        paper = None
        unbiased = mle
        lower = float(beta.ppf(alpha / 2, s, n - s + 1)) if s > 0 else 0.0
        upper = float(beta.ppf(1 - alpha / 2, s + 1, n - s)) if s < n else 1.0
    p_hat = unbiased if stopped and r >= 2 else mle
    count = r if stopped else s
    rel_se = math.sqrt(max(0.0, 1 - p_hat) / count) if count > 0 else None
    return PassUntilEstimate(
        n=n,
        s=s,
        r=r,
        k_max=k_max,
        stop_reason=R_REACHED if stopped else BUDGET,
        paper=paper,
        unbiased=unbiased,
        mle=mle,
        censored=not stopped,
        upper_bound=3.0 / k_max if (not stopped and s == 0) else None,
        lower=lower,
        upper=upper,
        alpha=alpha,
        rel_se=rel_se,
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k, 1 − C(n−c, k)/C(n, k), in the Codex paper's stable product form."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, have {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def estimator_moments(p: float, r: int, k_max: int) -> dict[str, float]:
    """Exact means and variances of the estimators for true ``p``, from the outcome distribution.

    Outcomes: stopped at draw K (r ≤ K ≤ k_max) with r successes, P = C(K−1, r−1) p^r (1−p)^(K−r);
    or censored at k_max with s < r, P = C(k_max, s) p^s (1−p)^(k_max−s). ``paper_*`` are
    conditional on not being censored (r/K is undefined there).
    """
    k = np.arange(r, k_max + 1, dtype=np.float64)
    log_stop = gammaln(k) - gammaln(r) - gammaln(k - r + 1) + r * np.log(p) + (k - r) * np.log1p(-p)
    p_stop = np.exp(log_stop)
    s = np.arange(0, r, dtype=np.float64)
    log_cens = (
        gammaln(k_max + 1) - gammaln(s + 1) - gammaln(k_max - s + 1)
        + s * np.log(p) + (k_max - s) * np.log1p(-p)
    )  # fmt: skip
    p_cens = np.exp(log_cens)
    unb_stop = (r - 1) / np.maximum(k - 1, 1) if r > 1 else np.where(k == 1, 1.0, 0.0)
    unb_cens = s / k_max
    mean_u = float(np.sum(p_stop * unb_stop) + np.sum(p_cens * unb_cens))
    m2_u = float(np.sum(p_stop * unb_stop**2) + np.sum(p_cens * unb_cens**2))
    p_uncens = float(p_stop.sum())
    paper = r / k
    mean_p = float(np.sum(p_stop * paper) / p_uncens) if p_uncens > 0 else math.nan
    m2_p = float(np.sum(p_stop * paper**2) / p_uncens) if p_uncens > 0 else math.nan
    return {
        "unbiased_mean": mean_u,
        "unbiased_var": max(0.0, m2_u - mean_u**2),
        "paper_mean": mean_p,
        "paper_var": max(0.0, m2_p - mean_p**2),
        "p_censored": 1.0 - p_uncens,
        "expected_draws": float(np.sum(p_stop * k) + (1.0 - p_uncens) * k_max),
    }


def sample_seed(run_seed: int, key: str, round_index: int) -> int:
    """Deterministic per-(item, round) seed, independent of batching and of restarts."""
    digest = hashlib.sha256(f"{run_seed}:{key}:{round_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x3FFFFFFF


@dataclass
class _State:
    key: str
    prompt: str
    answer: str
    n: int = 0
    s: int = 0
    round: int = 0
    done: bool = False
    checks: list[bool] = field(default_factory=list)


def run_passuntil(
    engine: Engine,
    items: Sequence[tuple[str, str, str]],
    check: Callable[[str, str, str], bool],
    config: PassUntilConfig,
    *,
    seed: int = 0,
    on_done: Callable[[str, PassUntilEstimate], None] | None = None,
    on_samples: Callable[[int], None] | None = None,
    abandon: Callable[[str], bool] | None = None,
) -> dict[str, PassUntilEstimate]:
    """Run PassUntil over ``items`` = (key, prompt, answer); ``check(key, completion, answer)``.

    ``on_done`` is called as each item finishes (the runner writes it to the database then);
    ``on_samples`` with the number of samples drawn in each engine call (for progress bars);
    an item for which ``abandon(key)`` is true after a round finishes there, as it stands (the
    runner gives up on an item whose checker raised rather than draw up to ``k_max`` for it).
    """
    states = [_State(k, p, a) for k, p, a in items]
    results: dict[str, PassUntilEstimate] = {}
    while active := [st for st in states if not st.done]:
        requests = []
        for st in active:
            size = min(config.first_round * config.growth**st.round, config.k_max - st.n)
            requests.append(
                GenerateRequest(
                    prompt=st.prompt,
                    n=size,
                    temperature=config.temperature,
                    top_p=config.top_p,
                    max_tokens=config.max_tokens,
                    stop=config.stop,
                    seed=sample_seed(seed, st.key, st.round),
                )
            )
        for chunk in _chunks(list(zip(active, requests, strict=True)), config.max_batch_samples):
            outs = engine.generate([req for _, req in chunk])
            if on_samples:
                on_samples(sum(req.n for _, req in chunk))
            for (st, _), completions in zip(chunk, outs, strict=True):
                _absorb(st, completions, check, config)
                if abandon is not None and abandon(st.key):
                    st.done = True
                if st.done:
                    est = estimate(st.n, st.s, r=config.r, k_max=config.k_max, alpha=config.alpha)
                    results[st.key] = est
                    if on_done:
                        on_done(st.key, est)
    return results


def _absorb(
    st: _State, completions: list[str], check: Callable[[str, str, str], bool], cfg: PassUntilConfig
) -> None:
    for text in completions:
        st.n += 1
        if check(st.key, text, st.answer):
            st.s += 1
            if st.s >= cfg.r:
                st.done = True
                return
    st.round += 1
    if st.n >= cfg.k_max:
        st.done = True


def _chunks(pairs: list, max_samples: int) -> list[list]:
    """Group requests so each engine call draws at most ``max_samples`` (at least one request)."""
    out, cur, total = [], [], 0
    for st, req in pairs:
        if cur and total + req.n > max_samples:
            out.append(cur)
            cur, total = [], 0
        cur.append((st, req))
        total += req.n
    if cur:
        out.append(cur)
    return out


def task_estimate(estimates: Sequence[PassUntilEstimate]) -> dict[str, float | int]:
    """Task-level PU: mean over items of each estimator (paper's only over uncensored items)."""
    n = len(estimates)
    if n == 0:
        return {"n_items": 0}
    uncensored = [e.paper for e in estimates if e.paper is not None]
    return {
        "n_items": n,
        "pu": sum(e.point for e in estimates) / n,
        "pu_unbiased": sum(e.unbiased for e in estimates) / n,
        "pu_mle": sum(e.mle for e in estimates) / n,
        "pu_paper_uncensored": sum(uncensored) / len(uncensored) if uncensored else math.nan,
        "n_censored": sum(e.censored for e in estimates),
        "samples": sum(e.n for e in estimates),
    }
