"""Synthetic per-item ladders with known structure, for tests, benches and examples.

Two generators. :func:`synthetic_cod_ladder` draws items from clusters that follow known COD laws
(plus outliers with no trend and items nobody passes) and samples n draws per item and checkpoint.
:func:`synthetic_passuntil_ladder` draws PassUntil (n, s) pairs for items whose pass rate follows
log(-log p) = F(log N) + item offset, with a budget that censors the hardest ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import pandas as pd

from predictors.cod_law import cod_curve


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster of ``size`` items following g + (1 - g) exp(-a C^-b - c), C in ``unit`` FLOPs
    (the generator's ``unit`` argument, 1e18 by default)."""

    size: int
    a: float
    b: float
    c: float
    g: float = 0.0


class _ModelRow(TypedDict):
    """The model columns every synthetic row of one model shares."""

    model: str
    family: str
    n_params: float
    n_params_nonembed: float
    n_tokens: float
    release_date: None


def _cluster_path(a: float, spec: ClusterSpec, unit: float) -> Callable[[float], float]:
    """An item's true pass rate at compute f: its cluster's law with the item's own ``a``."""

    def path(f: float) -> float:
        return float(cod_curve(f / unit, a, spec.b, spec.c, spec.g))

    return path


def _outlier_path(levels: np.ndarray, flops: np.ndarray) -> Callable[[float], float]:
    """An outlier's pass rate: a random level per ladder model, read at the nearest model."""
    ranks = np.argsort(np.argsort(flops))

    def path(f: float) -> float:
        return float(levels[ranks[int(np.argmin(np.abs(np.log(flops / f))))]])

    return path


def _zero_path(f: float) -> float:
    return 0.0


def _model_rows(name: str, flops: float, family: str) -> _ModelRow:
    n_params = float(np.sqrt(flops / 120.0))  # 20 tokens per parameter: C = 6 N (20 N)
    return {
        "model": name,
        "family": family,
        "n_params": n_params,
        "n_params_nonembed": 0.9 * n_params,
        "n_tokens": 20.0 * n_params,
        "release_date": None,
    }


def synthetic_cod_ladder(
    flops: Sequence[float],
    clusters: Sequence[ClusterSpec],
    *,
    n_outliers: int = 20,
    n_zero: int = 20,
    n_samples: int = 100,
    n_checkpoints: int = 3,
    jitter: float = 0.1,
    benchmark: str = "synthetic",
    family: str = "synthetic-ladder",
    unit: float = 1e18,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-item observations (metric pass_rate) and the truth (item, cluster, p at each model).

    Cluster items jitter their ``a`` by a log-normal factor of sd ``jitter``; outliers get a
    random, non-monotone pass-rate path; zero items are never passed. Checkpoint k of n is at
    compute (0.8 + 0.2 k / (n - 1)) x the model's final compute.
    """
    rng = np.random.default_rng(seed)
    truth_rows: list[dict[str, object]] = []
    paths: dict[str, Callable[[float], float]] = {}
    for k, spec in enumerate(clusters):
        for j in range(spec.size):
            a = spec.a * float(np.exp(rng.normal(0.0, jitter)))
            item = f"c{k}-{j}"
            paths[item] = _cluster_path(a, spec, unit)
            truth_rows.append({"item": item, "cluster": k})
    ladder = np.asarray(flops, float)
    for j in range(n_outliers):
        levels = rng.uniform(0.05, 0.95, len(flops))
        item = f"out-{j}"
        paths[item] = _outlier_path(levels, ladder)
        truth_rows.append({"item": item, "cluster": -1})
    for j in range(n_zero):
        paths[f"zero-{j}"] = _zero_path
        truth_rows.append({"item": f"zero-{j}", "cluster": -2})
    rows = []
    for m, f in enumerate(flops):
        base = _model_rows(f"m{m}", float(f), family)
        for ck in range(n_checkpoints):
            frac = 1.0 if n_checkpoints == 1 else 0.8 + 0.2 * ck / (n_checkpoints - 1)
            fc = float(f) * frac
            for item, path in paths.items():
                p = path(fc)
                s = int(rng.binomial(n_samples, p))
                rows.append(
                    {
                        **base,
                        "flops": fc,
                        "n_tokens": base["n_tokens"] * frac,
                        "checkpoint_step": 1000 * (ck + 1),
                        "benchmark": benchmark,
                        "metric": "pass_rate",
                        "value": s / n_samples,
                        "item": item,
                        "n_samples": n_samples,
                        "n_pass": s,
                    }
                )
    truth = pd.DataFrame(truth_rows)
    for m, f in enumerate(flops):
        truth[f"m{m}"] = [paths[i](float(f)) for i in truth["item"]]
    return pd.DataFrame(rows), truth


def passuntil_sample(
    p: float, rng: np.random.Generator, *, r: int = 2, k_max: int = 10_000
) -> tuple[int, int]:
    """(n, s): draw until ``r`` successes or ``k_max`` draws (then s < r: right-censored)."""
    if p * k_max < 1e-6:  # never reaches r within the budget (and NB sampling would underflow)
        return k_max, min(int(rng.binomial(k_max, max(p, 0.0))), r - 1)
    k = r + int(rng.negative_binomial(r, min(p, 1.0))) if p < 1 else r
    if k <= k_max:
        return k, r
    return k_max, min(int(rng.binomial(k_max, p)), r - 1)


def synthetic_passuntil_ladder(
    n_params: Sequence[float],
    F: Callable[[np.ndarray], np.ndarray],
    *,
    n_items: int = 60,
    item_sd: float = 0.3,
    r: int = 2,
    k_max: int = 10_000,
    benchmark: str = "synthetic-pu",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PassUntil rows (metric pu, value s/n, with n_samples and n_pass) and true p per item/model.

    log(-log p_i(N)) = F(log N) + delta_i, delta_i ~ Normal(0, item_sd).
    """
    rng = np.random.default_rng(seed)
    deltas = rng.normal(0.0, item_sd, n_items)
    rows, truth = [], []
    for m, n in enumerate(n_params):
        z = float(np.log(n))
        for i, d in enumerate(deltas):
            p = float(np.exp(-np.exp(F(np.array([z]))[0] + d)))
            n_draw, s = passuntil_sample(p, rng, r=r, k_max=k_max)
            rows.append(
                {
                    "model": f"pu{m}",
                    "family": "synthetic-pu",
                    "n_params": float(n),
                    "n_params_nonembed": float(n),
                    "n_tokens": 20.0 * float(n),
                    "flops": 120.0 * float(n) ** 2,
                    "release_date": None,
                    "checkpoint_step": 1000,
                    "benchmark": benchmark,
                    "metric": "pu",
                    "value": s / n_draw,
                    "item": f"i{i}",
                    "n_samples": n_draw,
                    "n_pass": s,
                }
            )
            truth.append({"model": f"pu{m}", "item": f"i{i}", "p": p})
    return pd.DataFrame(rows), pd.DataFrame(truth)
