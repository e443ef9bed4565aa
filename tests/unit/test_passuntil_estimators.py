"""PassUntil estimators (METHODS E2): exact expectations under the stopping rule, interval coverage
over a few hundred simulated items with p from 1e-1 to 1e-4, censoring, pass@k, and seeds that
make results independent of batching."""

from __future__ import annotations

import math
from math import comb

import numpy as np
import pytest

from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest
from evals.passuntil import (
    BUDGET,
    R_REACHED,
    PassUntilConfig,
    estimate,
    estimator_moments,
    pass_at_k,
    run_passuntil,
    task_estimate,
)


def _outcomes(p: float, r: int, k_max: int):
    """Every way a PassUntil item can end, with its probability: (n, s, prob)."""
    for k in range(r, k_max + 1):
        yield k, r, comb(k - 1, r - 1) * p**r * (1 - p) ** (k - r)
    for s in range(r):
        yield k_max, s, comb(k_max, s) * p**s * (1 - p) ** (k_max - s)


@pytest.mark.parametrize("p", [0.3, 0.05, 0.01, 0.002])
@pytest.mark.parametrize(("r", "k_max"), [(2, 200), (3, 400), (2, 1000)])
def test_unbiased_estimator_is_exactly_unbiased(p: float, r: int, k_max: int) -> None:
    outcomes = list(_outcomes(p, r, k_max))
    assert sum(pr for *_, pr in outcomes) == pytest.approx(1.0, abs=1e-12)
    mean = sum(pr * estimate(n, s, r=r, k_max=k_max).unbiased for n, s, pr in outcomes)
    assert mean == pytest.approx(p, rel=1e-9)


def test_paper_estimator_is_biased_upward() -> None:
    """r/K over-estimates; with r = 1 and p = 1e-5 about 11x (METHODS E2: E[1/K] ≈ p ln(1/p))."""
    p, k_max = 1e-3, 200_000
    for r, lo in ((1, 5.0), (2, 1.3)):
        # with this budget censoring is negligible (P < 1e-80): E[r/K] over the NB distribution
        k = np.arange(r, k_max + 1, dtype=np.float64)
        logpmf = (
            np.array([math.lgamma(x) for x in k])
            - math.lgamma(r)
            - np.array([math.lgamma(x - r + 1) for x in k])
            + r * math.log(p)
            + (k - r) * math.log1p(-p)
        )
        ratio = float(np.sum(np.exp(logpmf) * r / k)) / p
        assert ratio > lo


def test_estimate_fields_and_censoring() -> None:
    e = estimate(10, 2, r=2, k_max=1000)
    assert e.stop_reason == R_REACHED and not e.censored
    assert (e.paper, e.unbiased, e.mle) == (0.2, 1 / 9, 0.2)
    assert e.lower < e.unbiased < e.upper
    assert e.rel_se == pytest.approx(math.sqrt((1 - 1 / 9) / 2))
    c = estimate(1000, 0, r=2, k_max=1000)
    assert c.censored and c.stop_reason == BUDGET
    assert c.paper is None and c.unbiased == 0.0 and c.upper_bound == pytest.approx(3e-3)
    assert c.upper == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)  # one-sided 95% = alpha/2
    one = estimate(1000, 1, r=2, k_max=1000)
    assert one.censored and one.unbiased == one.mle == 1e-3 and one.upper_bound is None
    with pytest.raises(ValueError):
        estimate(0, 0, r=2, k_max=10)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 0, 1), (10, 3, 1), (10, 3, 5), (100, 1, 10), (5, 5, 5), (20, 15, 10)]
)
def test_pass_at_k_matches_combinatorial_definition(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_k_needs_k_samples() -> None:
    with pytest.raises(ValueError, match="at least 20 samples"):
        pass_at_k(10, 1, 20)


class BernoulliEngine:
    """Completion "1" with probability p(prompt), seeded per request like a real engine."""

    name, version, model_path = "bernoulli", "1", "-"

    def __init__(self, p: dict[str, float]) -> None:
        self.p = p
        self.calls: list[int] = []

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        self.calls.append(len(requests))
        out = []
        for r in requests:
            rng = np.random.default_rng(r.seed)
            hits = rng.random(r.n) < self.p[r.prompt]
            out.append(["1" if h else "0" for h in hits])
        return out

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _simulate(n_items: int, seed: int, **cfg):
    rng = np.random.default_rng(seed)
    ps = 10 ** rng.uniform(-4, -1, n_items)
    prompts = {f"item{i}": float(p) for i, p in enumerate(ps)}
    engine = BernoulliEngine(prompts)
    config = PassUntilConfig(**({"r": 2, "k_max": 200_000, "alpha": 0.1} | cfg))
    res = run_passuntil(
        engine,
        [(k, k, "1") for k in prompts],
        lambda _key, text, ans: text == ans,
        config,
        seed=seed,
    )
    return prompts, res, engine


def test_intervals_cover_at_promised_rate_and_r_over_k_is_biased() -> None:
    prompts, res, _ = _simulate(400, seed=3)
    truth = np.array([prompts[k] for k in res])
    est = list(res.values())
    inside = np.array([e.lower <= p <= e.upper for e, p in zip(est, truth, strict=True)])
    n = len(est)
    # 90% intervals: coverage within 3 binomial standard errors of 0.9 (or above: they are exact)
    assert inside.mean() >= 0.9 - 3 * math.sqrt(0.09 / n)
    unbiased = np.array([e.unbiased for e in est]) / truth
    paper = np.array([e.paper for e in est]) / truth
    se = unbiased.std(ddof=1) / math.sqrt(n)
    assert abs(unbiased.mean() - 1) < 3 * se
    # r/K over-estimates by about r/(r-1) = 2 for r = 2 and small p (K ≫ 1)
    assert paper.mean() > 1.5
    assert all(e.stop_reason == R_REACHED for e in est)
    assert task_estimate(est)["n_items"] == n


def test_budget_censoring_reports_upper_bound() -> None:
    engine = BernoulliEngine({"hard": 1e-7, "easy": 0.5})
    res = run_passuntil(
        engine,
        [("hard", "hard", "1"), ("easy", "easy", "1")],
        lambda _k, t, a: t == a,
        PassUntilConfig(r=2, k_max=2000),
        seed=0,
    )
    hard = res["hard"]
    assert hard.censored and hard.n == 2000 and hard.s == 0 and hard.upper_bound == 3 / 2000
    assert res["easy"].stop_reason == R_REACHED and res["easy"].s == 2


def test_results_do_not_depend_on_batching() -> None:
    _, a, ea = _simulate(40, seed=5)
    _, b, eb = _simulate(40, seed=5, max_batch_samples=64)
    assert {k: (v.n, v.s) for k, v in a.items()} == {k: (v.n, v.s) for k, v in b.items()}
    assert len(eb.calls) > len(ea.calls)
    _, c, _ = _simulate(40, seed=6)
    assert {k: v.n for k, v in a.items()} != {k: v.n for k, v in c.items()}


@pytest.mark.parametrize(("p", "r", "k_max"), [(0.05, 2, 150), (0.01, 3, 400), (0.002, 2, 900)])
def test_estimator_moments_match_enumeration(p: float, r: int, k_max: int) -> None:
    outcomes = list(_outcomes(p, r, k_max))
    ests = [(estimate(n, s, r=r, k_max=k_max), pr) for n, s, pr in outcomes]
    mean_u = sum(e.unbiased * pr for e, pr in ests)
    var_u = sum((e.unbiased - mean_u) ** 2 * pr for e, pr in ests)
    p_unc = sum(pr for e, pr in ests if e.paper is not None)
    mean_p = sum(e.paper * pr for e, pr in ests if e.paper is not None) / p_unc
    m = estimator_moments(p, r, k_max)
    assert m["unbiased_mean"] == pytest.approx(mean_u, rel=1e-9)
    assert m["unbiased_var"] == pytest.approx(var_u, rel=1e-7)
    assert m["paper_mean"] == pytest.approx(mean_p, rel=1e-9)
    assert m["p_censored"] == pytest.approx(1 - p_unc, abs=1e-12)
    assert m["paper_mean"] > p  # the r/K bias, exactly
