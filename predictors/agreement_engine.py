"""The numeric core of agreement testing: batched correlation kernels, seeded subsets, and an
engine that evaluates many (pair, size, strategy) cells in a few large numpy operations.

Every cell's subsets come from its own generator (seed, both names, size, strategy), so batching
changes speed only: a pair's numbers are the same alone or inside a 58 x 58 catalogue.
"""

from __future__ import annotations

import warnings
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

ALL = 0  #: subset size meaning "all shared models"
STRATEGIES = ("random", "adjacent")
DEFAULTS: dict[str, Any] = {"method": "kendall", "n_exps": 100, "seed": 0, "alpha": 0.05,
                            "min_shared": 5, "warn_shared": 10}  # fmt: skip
#: Elements of one (rows, k, k) sign array per kernel call; bigger batches are chunked.
_CHUNK_ELEMENTS = 4_000_000


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b for each row of ``x`` against the same row of ``y`` (shape ``(n, k)``).

    tau_b = (C - D) / sqrt((P - T_x)(P - T_y)), P = k(k-1)/2 pairs, T = pairs tied in one
    variable; NaN where a row is constant (as scipy.stats.kendalltau).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n, k = x.shape
    step = max(1, _CHUNK_ELEMENTS // max(1, k * k))
    if n > step:
        return np.concatenate([kendall_tau_b(x[i : i + step], y[i : i + step])
                               for i in range(0, n, step)])  # fmt: skip
    dx = np.sign(x[:, :, None] - x[:, None, :])
    dy = np.sign(y[:, :, None] - y[:, None, :])
    s = np.einsum("nij,nij->n", dx, dy) / 2.0
    pairs = k * (k - 1) / 2.0
    tx = ((dx == 0).sum(axis=(1, 2)) - k) / 2.0
    ty = ((dy == 0).sum(axis=(1, 2)) - k) / 2.0
    denom = np.sqrt((pairs - tx) * (pairs - ty))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, s / np.where(denom > 0, denom, 1.0), np.nan)


def pearson_r(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r row by row (shape ``(n, k)``); NaN where a row is constant."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


CORRELATIONS = {"kendall": kendall_tau_b, "pearson": pearson_r}


def _rng(seed: int, a: str, b: str, size: int, strategy: str) -> np.random.Generator:
    """A generator private to one (pair, size, strategy): results never depend on the catalogue."""
    words = [zlib.crc32(s.encode()) for s in (a, b, strategy)]
    return np.random.default_rng([seed, *words, size])


def subset_indices(
    n_shared: int, size: int, strategy: str, n_exps: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices (``(n_exps, size)``) into the shared models, which are sorted by reference rank.

    ``random``: uniform subsets without replacement; ``adjacent``: windows of ``size`` consecutive
    reference ranks at a uniformly drawn start. A size of 0 or above ``n_shared`` means all shared
    models (one row: every repeat would be the same).
    """
    if size <= 0 or size >= n_shared:
        return np.arange(n_shared)[None, :]
    if strategy == "random":
        return np.argsort(rng.random((n_exps, n_shared)), axis=1)[:, :size]
    if strategy == "adjacent":
        starts = rng.integers(0, n_shared - size + 1, size=n_exps)
        return starts[:, None] + np.arange(size)[None, :]
    raise ValueError(f"unknown subset strategy {strategy!r}; known: {STRATEGIES}")


def _sorted_shared(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shared models' scores, sorted by the reference (then the benchmark), best first; stable."""
    ok = ~(np.isnan(x) | np.isnan(r))
    x, r = x[ok], r[ok]
    order = np.lexsort((-x, -r))
    return x[order], r[order]


def _row_quantiles(vals: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Linear-interpolation quantiles of each row, NaNs left out (np.nanquantile, vectorised)."""
    srt = np.sort(vals, axis=1)  # NaNs sort last
    count = np.isfinite(vals).sum(axis=1)
    out = []
    for q in qs:
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        a = np.take_along_axis(srt, lo[:, None], axis=1)[:, 0]
        b = np.take_along_axis(srt, hi[:, None], axis=1)[:, 0]
        out.append(np.where(count > 0, a + (b - a) * (pos - lo), np.nan))
    return out


def _describe_rows(vals: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """Per row of ``vals`` (cells x repeats): mean, sd (ddof=1; 0 for one repeat), interval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        count = np.isfinite(vals).sum(axis=1)
        mean = np.nanmean(vals, axis=1)
        sd = np.where(count > 1, np.nanstd(vals, axis=1, ddof=1), np.where(count == 1, 0.0, np.nan))
    lo, hi = _row_quantiles(vals, [alpha / 2, 1 - alpha / 2])
    return {"mean": mean, "sd": sd, "lower": lo, "upper": hi}


def agreement_cells(
    values: np.ndarray,
    names: Sequence[str],
    pairs: Iterable[tuple[int, int]],
    *,
    sizes: Sequence[int],
    strategies: Sequence[str],
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One record per (pair, size, strategy) for columns ``values[:, i]`` vs ``values[:, j]``.

    The second column of a pair is the reference: shared models are ranked by it for adjacent
    windows. Cells are grouped by subset width and evaluated in large batches.
    """
    opt = {**DEFAULTS, **(options or {})}
    corr = CORRELATIONS[opt["method"]]
    n_exps, seed = int(opt["n_exps"]), int(opt["seed"])
    records: list[dict[str, Any]] = []
    batches: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)
    for i, j in pairs:
        a, b = str(names[i]), str(names[j])
        x, r = _sorted_shared(values[:, i], values[:, j])
        n = len(x)
        base = {"benchmark": a, "reference": b, "n_shared": n, "method": opt["method"]}
        if n < opt["min_shared"]:
            note = f"only {n} shared models (< {opt['min_shared']}): refused"
            records += [{**base, "size": s, "strategy": st, "size_taken": None, "mean": np.nan,
                         "sd": np.nan, "lower": np.nan, "upper": np.nan, "n_exps": 0,
                         "refused": True, "notes": [note]}
                        for s in sizes for st in strategies]  # fmt: skip
            continue
        for size in sizes:
            for strategy in strategies:
                notes = []
                if n < opt["warn_shared"]:
                    notes.append(f"only {n} shared models (< {opt['warn_shared']}): unreliable")
                if size > n:
                    notes.append(f"subset of {size} shrunk to the {n} shared models")
                idx = subset_indices(n, size, strategy, n_exps, _rng(seed, a, b, size, strategy))
                batches[idx.shape].append((len(records), x[idx], r[idx]))
                records.append({**base, "size": size, "strategy": strategy,
                                "size_taken": int(idx.shape[1]), "refused": False,
                                "n_exps": int(idx.shape[0]), "notes": notes})  # fmt: skip
    for (rows, _), cells in batches.items():
        vals = corr(np.concatenate([c[1] for c in cells]), np.concatenate([c[2] for c in cells]))
        stats = _describe_rows(vals.reshape(len(cells), rows), float(opt["alpha"]))
        for pos, (rec_i, _, _) in enumerate(cells):
            records[rec_i].update({k: float(v[pos]) for k, v in stats.items()})
    return records


def pair_agreement(
    a: pd.Series,
    r: pd.Series,
    *,
    sizes: Iterable[int] = (ALL,),
    strategies: Iterable[str] = ("random",),
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Agreement of benchmark ``a`` with reference ``r`` on their shared models, per size/strategy.

    ``options``: ``method`` (kendall), ``n_exps`` (100), ``seed`` (0), ``alpha`` (0.05: the
    interval holds the central 95% of subsets), ``min_shared`` (5: refuse below),
    ``warn_shared`` (10: warn below). Each record: size requested and taken, n_shared, n_exps,
    mean, sd (ddof=1 over subsets), lower, upper, and notes.
    """
    both = pd.concat([a.rename("a"), r.rename("r")], axis=1)
    return agreement_cells(
        both.to_numpy(dtype=float), [str(a.name), str(r.name)], [(0, 1)],
        sizes=list(sizes), strategies=list(strategies), options=options,
    )  # fmt: skip


def all_pairs_agreement(
    matrix: pd.DataFrame,
    *,
    sizes: Sequence[int] = (ALL,),
    strategies: Sequence[str] = ("random",),
    options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Agreement of every unordered pair of columns of ``matrix`` (the catalogue's matrix view).

    The later column of each pair is its reference. Pairs below ``min_shared`` are refused.
    """
    cols = [str(c) for c in matrix.columns]
    pairs = [(i, j) for i in range(len(cols)) for j in range(i + 1, len(cols))]
    recs = agreement_cells(
        matrix.to_numpy(dtype=float), cols, pairs, sizes=sizes, strategies=strategies,
        options=options,
    )  # fmt: skip
    return pd.DataFrame(recs)
