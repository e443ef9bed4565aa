"""Speed of agreement matrices: batched numpy engine vs a per-pair scipy.stats.kendalltau loop.

The reference package (IBM benchbench) computes one Kendall tau per (pair, size, repeat) with
scipy, inside pandas queries. Here :func:`predictors.agreement.all_pairs_agreement` evaluates all
cells of a catalogue in a few large numpy batches. Both sides below get the *same* subsets, so the
per-cell means must agree to rounding; the table prints the times and their ratio.

Run: ``.venv/bin/python bench/bench_agreement.py [--pairs-for-scipy 200]``.

Catalogue: the current benchbench tables (``benchmarks/``), names normalised; the 58 scenarios
with the most scored models give the 58 x 58 matrix (1,653 unordered pairs), at sizes 5, 10, 20 and
all shared models, 100 repeats each. The scipy loop runs on a seeded sample of pairs (all pairs
with ``--pairs-for-scipy 0``); its time is also scaled to the whole matrix.
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
from predictors.agreement import all_pairs_agreement, prepare_scores
from predictors.agreement_engine import _rng, _sorted_shared, agreement_cells, subset_indices
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


def scipy_loop(values: np.ndarray, names: list[str], pairs) -> tuple[float, list[float]]:
    """The straightforward way: one scipy call per (pair, size, repeat), same subsets."""
    t0 = time.perf_counter()
    means = []
    for i, j in pairs:
        x, r = _sorted_shared(values[:, i], values[:, j])
        if len(x) < MIN_SHARED:
            continue
        for size in SIZES:
            rng = _rng(0, names[i], names[j], size, "random")
            idx = subset_indices(len(x), size, "random", N_EXPS, rng)
            taus = [kendalltau(x[row], r[row]).statistic for row in idx]
            means.append(np.nanmean(taus) if np.isfinite(taus).any() else np.nan)
    return time.perf_counter() - t0, means


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=get_settings().data_dir)
    ap.add_argument("--benchmarks", type=int, default=58)
    ap.add_argument("--pairs-for-scipy", type=int, default=200, help="0 = all pairs")
    args = ap.parse_args()
    matrix = catalogue_matrix(args.data, args.benchmarks)
    names = [str(c) for c in matrix.columns]
    values = matrix.to_numpy(dtype=float)
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    present = ~np.isnan(values)
    usable = [p for p in pairs if (present[:, p[0]] & present[:, p[1]]).sum() >= MIN_SHARED]
    sample = usable
    if 0 < args.pairs_for_scipy < len(usable):
        pick = np.random.default_rng(0).choice(len(usable), args.pairs_for_scipy, replace=False)
        sample = [usable[k] for k in sorted(pick)]
    opts = {"n_exps": N_EXPS, "seed": 0}

    t0 = time.perf_counter()
    whole = all_pairs_agreement(matrix, sizes=SIZES, options=opts)
    t_whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    cells = agreement_cells(values, names, sample, sizes=SIZES, strategies=["random"], options=opts)
    t_vec = time.perf_counter() - t0
    t_sci, sci_means = scipy_loop(values, names, sample)

    vec_means = np.array([c["mean"] for c in cells], dtype=float)
    sci_means = np.array(sci_means, dtype=float)
    same_nan = bool((np.isnan(vec_means) == np.isnan(sci_means)).all())
    diff = float(np.nanmax(np.abs(vec_means - sci_means)))
    n_tau = sum(c["n_exps"] for c in cells)
    n_tau_whole = int(whole["n_exps"].sum())
    scale = n_tau_whole / n_tau
    print(f"catalogue: {len(names)} benchmarks, {len(pairs)} pairs, {len(usable)} with >= "
          f"{MIN_SHARED} shared models; sizes {SIZES} (0 = all), {N_EXPS} repeats, "
          f"{n_tau_whole} tau values in all")  # fmt: skip
    print(f"timed sample: {len(sample)} pairs, {n_tau} tau values; per-cell means vs scipy: "
          f"max |diff| {diff:.1e}, NaNs identical: {same_nan}\n")  # fmt: skip
    print(f"{'method':40s} {'pairs':>6s} {'seconds':>9s} {'us/tau':>8s} {'speed-up':>9s}")
    rows = [
        ("scipy.stats.kendalltau loop", len(sample), t_sci, n_tau, 1.0),
        ("batched numpy (agreement_cells)", len(sample), t_vec, n_tau, t_sci / t_vec),
        ("all_pairs_agreement, whole matrix", len(usable), t_whole, n_tau_whole,
         t_sci * scale / t_whole),
        ("scipy loop, scaled to the whole matrix", len(usable), t_sci * scale, n_tau_whole, 1.0),
    ]  # fmt: skip
    for name, n, t, taus, ratio in rows:
        print(f"{name:40s} {n:6d} {t:9.3f} {1e6 * t / taus:8.2f} {ratio:8.1f}x")


if __name__ == "__main__":
    main()
