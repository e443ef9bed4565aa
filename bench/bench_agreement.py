"""Speed of agreement matrices: vectorised batches vs a per-pair scipy.stats.kendalltau loop.

The reference package (IBM benchbench) computes one Kendall tau per (pair, size, repeat) with
scipy, inside pandas queries. Here every repeat of a (pair, size) is one numpy batch. Both sides
below get the *same* subsets, so the values must agree to rounding; the table prints the times and
their ratio. Run: ``.venv/bin/python bench/bench_agreement.py [--pairs-for-scipy 300]``.

Catalogue: the current benchbench tables (``benchmarks/``), names normalised; the 58 scenarios
with the most scored models give the 58 x 58 matrix (1,653 unordered pairs), at sizes 5, 10, 20 and
all shared models, 100 repeats each. The scipy loop runs on a seeded sample of pairs (all pairs
with ``--pairs-for-scipy 0``) and its time is also scaled to the whole matrix.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from db.config import get_settings
from db.importers.benchbench import benchbench_scores
from predictors.agreement import _rng, kendall_tau_b, prepare_scores, subset_indices
from predictors.names import normalise_names

SIZES = (5, 10, 20, 0)
N_EXPS = 100
MIN_SHARED = 5


def catalogue_matrix(data_dir: Path, n_benchmarks: int) -> pd.DataFrame:
    df = benchbench_scores(data_dir / "benchbench")
    df = df[df["source_file"].str.startswith("benchbench/benchmarks/")]
    df = df.rename(columns={"scenario": "benchmark", "source_file": "source"})
    df, _ = normalise_names(df)
    matrix, _, _ = prepare_scores(df)
    keep = matrix.count().sort_values(ascending=False, kind="mergesort").index[:n_benchmarks]
    return matrix[keep]


def pair_jobs(matrix: pd.DataFrame) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """Every unordered pair with at least MIN_SHARED shared models, sorted by the second's rank."""
    cols, jobs = list(matrix.columns), []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            both = matrix[[a, b]].dropna().sort_values(b, ascending=False)
            if len(both) >= MIN_SHARED:
                jobs.append((a, b, both[a].to_numpy(), both[b].to_numpy()))
    return jobs


def subsets(a: str, b: str, n: int) -> list[np.ndarray]:
    return [subset_indices(n, s, "random", N_EXPS, _rng(0, a, b, s, "random")) for s in SIZES]


def run_vectorised(jobs) -> tuple[float, list[np.ndarray]]:
    t0 = time.perf_counter()
    out = []
    for a, b, x, y in jobs:
        for idx in subsets(a, b, len(x)):
            out.append(kendall_tau_b(x[idx], y[idx]))
    return time.perf_counter() - t0, out


def run_scipy(jobs) -> tuple[float, list[np.ndarray]]:
    t0 = time.perf_counter()
    out = []
    for a, b, x, y in jobs:
        for idx in subsets(a, b, len(x)):
            out.append(np.array([kendalltau(x[row], y[row]).statistic for row in idx]))
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=get_settings().data_dir)
    ap.add_argument("--benchmarks", type=int, default=58)
    ap.add_argument("--pairs-for-scipy", type=int, default=300, help="0 = all pairs")
    args = ap.parse_args()
    matrix = catalogue_matrix(args.data, args.benchmarks)
    jobs = pair_jobs(matrix)
    n_pairs_total = len(matrix.columns) * (len(matrix.columns) - 1) // 2
    rng = np.random.default_rng(0)
    sample = jobs
    if 0 < args.pairs_for_scipy < len(jobs):
        pick = rng.choice(len(jobs), size=args.pairs_for_scipy, replace=False)
        sample = [jobs[i] for i in sorted(pick)]
    t_vec_all, _ = run_vectorised(jobs)
    t_vec, vec = run_vectorised(sample)
    t_sci, sci = run_scipy(sample)
    diffs = [
        np.nanmax(np.abs(v - s)) if np.isfinite(v).any() else 0.0
        for v, s in zip(vec, sci, strict=True)
    ]
    same_nan = all((np.isnan(v) == np.isnan(s)).all() for v, s in zip(vec, sci, strict=True))
    n_tau = sum(len(v) for v in vec)
    scale = len(jobs) / len(sample)
    print(f"catalogue: {len(matrix.columns)} benchmarks, {n_pairs_total} pairs, "
          f"{len(jobs)} with >= {MIN_SHARED} shared models; sizes {SIZES} (0 = all), {N_EXPS} repeats")  # fmt: skip
    print(f"timed sample: {len(sample)} pairs, {n_tau} tau values; max |diff| vs scipy "
          f"{max(diffs):.2e}, NaNs identical: {same_nan}")  # fmt: skip
    print()
    print(f"{'method':34s} {'pairs':>6s} {'seconds':>9s} {'us/tau':>8s} {'ratio':>7s}")
    rows = [
        ("scipy.stats.kendalltau loop", len(sample), t_sci),
        ("vectorised numpy batches", len(sample), t_vec),
        ("vectorised, whole matrix", len(jobs), t_vec_all),
        ("scipy loop, scaled to matrix", len(jobs), t_sci * scale),
    ]
    for name, n, t in rows:
        per = 1e6 * t / (n_tau * n / len(sample))
        print(f"{name:34s} {n:6d} {t:9.3f} {per:8.2f} {t_sci / t * (n / len(sample)):7.1f}x")
    print(f"\nspeed-up (same pairs, same subsets): {t_sci / t_vec:.1f}x")


if __name__ == "__main__":
    main()
