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
    PassUntilEstimate,
    estimate,
    estimator_moments,
    pass_at_k,
    run_passuntil,
    sample_seed,
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


def test_paper_estimator_bias_matches_closed_forms() -> None:
    """r/K over-estimates: estimator_moments against closed forms of E[r/K] (METHODS E2).

    With q = 1 - p, for r = 1 (geometric K) E[1/K] = -p ln(p) / q, so E[r/K]/p = ln(1/p)/q ≈ 6.9
    at p = 1e-3 (11.5 at 1e-5); for r = 2, E[2/K] = 2 p^2 (q^2/p + q + ln p) / q^2 (sum over
    k >= 2 of (k-1)/k p^2 q^(k-2)). k_max = 2e5 leaves P(censored) < 1e-80, so the truncated
    sums equal the series to rounding: rel 1e-9.
    """
    p, k_max = 1e-3, 200_000
    q = 1 - p
    closed = {1: -math.log(p) / q, 2: 2 * p * (q * q / p + q + math.log(p)) / (q * q)}
    for r, ratio in closed.items():
        m = estimator_moments(p, r, k_max)
        assert m["p_censored"] == pytest.approx(0.0, abs=1e-12)
        assert m["paper_mean"] / p == pytest.approx(ratio, rel=1e-9), r
    assert closed[1] == pytest.approx(6.9146, abs=1e-4) and closed[2] == pytest.approx(
        1.9882, abs=1e-4
    )


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


# --- exact values of every field, against references computed apart from evals.passuntil -------


def _inverse_sampling_interval(n: int, r: int, alpha: float) -> tuple[float, float]:
    """Exact interval for p when the r-th success came at draw n, by root-finding on the
    negative binomial itself (scipy counts failures): P(K <= n; p_lo) = alpha/2 and
    P(K >= n; p_hi) = alpha/2."""
    from scipy.optimize import brentq
    from scipy.stats import nbinom

    lo = brentq(lambda p: nbinom.cdf(n - r, r, p) - alpha / 2, 1e-12, 1 - 1e-12, xtol=1e-14)
    if n == r:
        return lo, 1.0
    hi = brentq(lambda p: nbinom.sf(n - r - 1, r, p) - alpha / 2, 1e-12, 1 - 1e-12, xtol=1e-14)
    return lo, hi


def _clopper_pearson(s: int, n: int, alpha: float) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(s, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    return ci.low, ci.high


@pytest.mark.parametrize(
    ("n", "r", "alpha"), [(10, 2, 0.1), (57, 3, 0.2), (400, 2, 0.05), (3, 2, 0.1), (5, 1, 0.1)]
)
def test_stopped_item_fields_match_references(n: int, r: int, alpha: float) -> None:
    e = estimate(n, r, r=r, k_max=1000, alpha=alpha)
    assert (e.n, e.s, e.r, e.k_max, e.alpha) == (n, r, r, 1000, alpha)
    assert e.stop_reason == R_REACHED and not e.censored and e.upper_bound is None
    assert e.paper == r / n and e.mle == r / n
    assert e.unbiased == pytest.approx((r - 1) / (n - 1), abs=1e-15)
    assert e.point == (e.unbiased if r >= 2 else e.mle)
    lo, hi = _inverse_sampling_interval(n, r, alpha)
    assert (e.lower, e.upper) == pytest.approx((lo, hi), rel=1e-7)
    p_hat = e.unbiased if r >= 2 else e.mle
    assert e.rel_se == pytest.approx(math.sqrt((1 - p_hat) / r), rel=1e-12)
    d = e.to_dict()
    assert d["point"] == e.point and d["lower"] == e.lower and d["stop_reason"] == R_REACHED
    assert set(d) == {*PassUntilEstimate.__dataclass_fields__, "point"}


@pytest.mark.parametrize(("n", "s", "r", "alpha"), [(1000, 1, 2, 0.1), (500, 2, 3, 0.2),
                                                    (800, 0, 2, 0.1), (1, 1, 2, 0.1)])  # fmt: skip
def test_censored_item_fields_match_references(n: int, s: int, r: int, alpha: float) -> None:
    e = estimate(n, s, r=r, k_max=n, alpha=alpha)
    assert (e.n, e.s, e.k_max, e.alpha) == (n, s, n, alpha)
    assert e.censored and e.stop_reason == BUDGET and e.paper is None
    assert e.unbiased == e.mle == s / n
    lo, hi = _clopper_pearson(s, n, alpha)
    assert (e.lower, e.upper) == pytest.approx((lo, hi), rel=1e-7, abs=1e-15)
    assert e.upper_bound == (3.0 / n if s == 0 else None)
    assert e.rel_se == (None if s == 0 else pytest.approx(math.sqrt((1 - s / n) / s)))


def test_smallest_stopped_items() -> None:
    """K = 1 and K = 2 with r = 1: (r-1)/(K-1) is 0/0 at K = 1 (the first draw passed: 1)."""
    one = estimate(1, 1, r=1, k_max=10)
    assert one.unbiased == 1.0 and one.upper == 1.0 and one.rel_se == 0.0
    two = estimate(2, 1, r=1, k_max=10)
    assert two.unbiased == 0.0 and two.point == two.mle == 0.5
    both = estimate(2, 2, r=2, k_max=10)
    assert both.unbiased == 1.0 and both.upper == 1.0
    with pytest.raises(ValueError, match=r"need n >= 1 and 0 <= s <= n, got n=0, s=0"):
        estimate(0, 0, r=2, k_max=10)
    with pytest.raises(ValueError, match="got n=3, s=4"):
        estimate(3, 4, r=2, k_max=10)


def test_task_estimate_means_by_hand() -> None:
    a = estimate(10, 2, r=2, k_max=100)  # unbiased 1/9, mle 0.2, paper 0.2
    b = estimate(100, 1, r=2, k_max=100)  # censored: 0.01 for all, no paper
    c = estimate(4, 2, r=2, k_max=100)  # unbiased 1/3, mle 0.5, paper 0.5
    t = task_estimate([a, b, c])
    assert t == {
        "n_items": 3,
        "pu": pytest.approx((1 / 9 + 0.01 + 1 / 3) / 3),
        "pu_unbiased": pytest.approx((1 / 9 + 0.01 + 1 / 3) / 3),
        "pu_mle": pytest.approx((0.2 + 0.01 + 0.5) / 3),
        "pu_paper_uncensored": pytest.approx((0.2 + 0.5) / 2),
        "n_censored": 1,
        "samples": 114,
    }
    only_censored = task_estimate([b])
    assert math.isnan(only_censored["pu_paper_uncensored"]) and only_censored["pu"] == 0.01
    assert task_estimate([]) == {"n_items": 0}


@pytest.mark.parametrize(("p", "r", "k_max"), [(0.05, 2, 150), (0.3, 1, 20), (0.002, 3, 900)])
def test_estimator_moments_every_field_by_enumeration(p: float, r: int, k_max: int) -> None:
    """All six fields against sums over _outcomes (which uses math.comb, not gammaln)."""
    outs = list(_outcomes(p, r, k_max))
    stop = [(n, pr) for n, s, pr in outs if s == r]
    p_unc = sum(pr for _, pr in stop)
    mean_p = sum(pr * r / n for n, pr in stop) / p_unc
    var_p = sum(pr * (r / n - mean_p) ** 2 for n, pr in stop) / p_unc
    ests = [(estimate(n, s, r=r, k_max=k_max).unbiased, pr) for n, s, pr in outs]
    mean_u = sum(u * pr for u, pr in ests)
    m = estimator_moments(p, r, k_max)
    assert set(m) == {"unbiased_mean", "unbiased_var", "paper_mean", "paper_var",
                      "p_censored", "expected_draws"}  # fmt: skip
    assert m["unbiased_mean"] == pytest.approx(mean_u, rel=1e-9)
    assert m["unbiased_mean"] == pytest.approx(p, rel=1e-9)  # unbiased, including r = 1
    assert m["unbiased_var"] == pytest.approx(
        sum((u - mean_u) ** 2 * pr for u, pr in ests), rel=1e-7
    )
    assert m["paper_mean"] == pytest.approx(mean_p, rel=1e-9)
    assert m["paper_var"] == pytest.approx(var_p, rel=1e-7)
    assert m["p_censored"] == pytest.approx(1 - p_unc, abs=1e-12)
    assert m["expected_draws"] == pytest.approx(sum(n * pr for n, _, pr in outs), rel=1e-9)


def test_config_refuses_each_bad_setting_alone() -> None:
    PassUntilConfig(r=1, k_max=1, first_round=1, growth=1)  # the smallest valid settings
    for bad in ({"r": 0}, {"r": 3, "k_max": 2}, {"first_round": 0}, {"growth": 0}):
        with pytest.raises(ValueError, match="invalid PassUntil settings"):
            PassUntilConfig(**bad)


def test_sample_seed_is_sha256_of_the_key() -> None:
    import hashlib

    digest = hashlib.sha256(b"7:item3:2").digest()
    assert sample_seed(7, "item3", 2) == int.from_bytes(digest[:4], "big") & 0x3FFFFFFF


def test_pass_at_k_edges() -> None:
    assert pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k: every draw of 5 holds a pass
    assert pass_at_k(10, 5, 5) == pytest.approx(1 - 1 / comb(10, 5), abs=1e-15)
    assert pass_at_k(5, 0, 5) == 0.0


class RecordingEngine(BernoulliEngine):
    def __init__(self, p: dict[str, float]) -> None:
        super().__init__(p)
        self.requests: list[GenerateRequest] = []

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        self.requests += requests
        return super().generate(requests)


def test_rounds_requests_callbacks_and_chunks_by_hand() -> None:
    """p = 1: every item stops at draw r. p = 0: rounds 4, 8, 16 then the budget's last 2."""
    engine = RecordingEngine({"yes": 1.0, "no": 0.0})
    cfg = PassUntilConfig(r=2, k_max=30, first_round=4, growth=2, temperature=0.7, top_p=0.9,
                          max_tokens=12, stop=("\n",), alpha=0.2, max_batch_samples=6)  # fmt: skip
    done: list[tuple[str, int, int]] = []
    drawn: list[int] = []
    keys: list[str] = []

    def check(key: str, text: str, answer: str) -> bool:
        keys.append(key)
        return text == answer

    res = run_passuntil(
        engine,
        [("a", "yes", "1"), ("b", "no", "1")],
        check,
        cfg,
        seed=9,
        on_done=lambda k, e: done.append((k, e.n, e.s)),
        on_samples=drawn.append,
    )
    assert (res["a"].n, res["a"].s, res["b"].n, res["b"].s) == (2, 2, 30, 0)
    assert res["a"].alpha == 0.2 and res["b"].k_max == 30 and res["b"].censored
    assert done == [("a", 2, 2), ("b", 30, 0)]
    assert set(keys) == {"a", "b"}
    assert [r.n for r in engine.requests] == [4, 4, 8, 16, 2]  # round 1 both, then b alone
    # max_batch_samples=6: round 1's two requests of 4 go in separate calls; one call each after
    assert drawn == [4, 4, 8, 16, 2] and engine.calls == [1, 1, 1, 1, 1]
    first = engine.requests[0]
    assert (first.temperature, first.top_p, first.max_tokens, first.stop) == (0.7, 0.9, 12, ("\n",))
    assert first.seed == sample_seed(9, "a", 0) and engine.requests[2].seed == sample_seed(
        9, "b", 1
    )
    assert run_passuntil(engine, [("c", "yes", "1")], check, cfg)["c"].n == 2  # default seed 0
    assert engine.requests[-1].seed == sample_seed(0, "c", 0)


def _req(n: int) -> GenerateRequest:
    return GenerateRequest(
        prompt="p", n=n, temperature=1.0, top_p=1.0, max_tokens=1, stop=(), seed=0
    )


@pytest.mark.parametrize(
    ("sizes", "max_samples", "expected"),
    [
        ([3, 2], 5, [[3, 2]]),  # exactly full: one call
        ([2, 2, 2], 5, [[2, 2], [2]]),  # the running total, not the last size, decides
        ([4, 4, 1], 5, [[4], [4, 1]]),  # a new chunk starts from 0
        ([9, 1], 5, [[9], [1]]),  # one request over the cap still goes alone
    ],
)
def test_chunks_fill_each_call_up_to_the_cap(
    sizes: list[int], max_samples: int, expected: list[list[int]]
) -> None:
    from evals.passuntil import _chunks

    chunks = _chunks([(i, _req(n)) for i, n in enumerate(sizes)], max_samples)
    assert [[req.n for _, req in c] for c in chunks] == expected


def test_more_successes_than_r_keep_their_count() -> None:
    """estimate accepts s > r (rows written by hand); rel_se then uses r, as for any stopped item."""
    e = estimate(10, 3, r=2, k_max=100)
    assert e.stop_reason == R_REACHED and e.rel_se == pytest.approx(math.sqrt((1 - 1 / 9) / 2))


def test_an_engine_that_drops_a_request_is_an_error() -> None:
    class Lossy(BernoulliEngine):
        def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
            return super().generate(requests)[:-1]

    with pytest.raises(ValueError, match="zip"):
        run_passuntil(Lossy({"a": 0.5, "b": 0.5}), [("a", "a", "1"), ("b", "b", "1")],
                      lambda _k, t, a: t == a, PassUntilConfig(r=2, k_max=100))  # fmt: skip


def test_abandoned_items_stop_after_the_round_as_they_stand() -> None:
    engine = BernoulliEngine({"hard": 0.0, "easy": 0.0})
    asked: list[str] = []

    def abandon(key: str) -> bool:
        asked.append(key)
        return key == "hard"

    res = run_passuntil(
        engine,
        [("hard", "hard", "1"), ("easy", "easy", "1")],
        lambda _k, t, a: t == a,
        PassUntilConfig(r=2, k_max=48, first_round=16),
        abandon=abandon,
    )
    assert (res["hard"].n, res["hard"].s, res["hard"].censored) == (16, 0, True)
    assert res["easy"].n == 48  # 16 + 32: ran to its budget
    assert asked[:2] == ["hard", "easy"] and asked.count("hard") == 1
