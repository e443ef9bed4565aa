"""The closing-note table for benchmark agreement on the current benchbench catalogue.

Run: ``.venv/bin/python bench/report_agreement.py [--n-exps 100] [--seed 0]`` (about a minute on a
shared laptop core). Prints Markdown: the anchors of METHODS P5 next to what this data gives under
two definitions of the holistic aggregate, then every benchmark's agreement with the aggregate
(all shared models), its z-score and verdict, and where the reference package's behaviour differs.

Catalogue: ``benchbench/benchmarks/*.csv`` (the 40 tables the reference package loads at the pinned
commit, 83 scenario columns). Aggregate "holistic-6": the reference package's default list
(examples/scenarios_for_aggregate.txt) restricted to the scenarios that exist in the data;
"holistic-7" also maps "LiveBench 240829" to that file's column ``livebench_240725``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from db.config import get_settings
from db.importers.benchbench import benchbench_scores
from predictors.agreement import (
    AgreementTester,
    AgreementWarning,
    aggregate_reference,
    all_pairs_agreement,
    pair_agreement,
    prepare_scores,
)
from predictors.names import match_report, normalise_names

HOLISTIC_6 = ["helm_lite", "hf_open_llm_v2", "opencompass_academic", "arena_elo",
              "helm_classic", "alphacaeval_v2lc"]  # fmt: skip
HOLISTIC_7 = [*HOLISTIC_6, "livebench_240725"]


def load(data_dir: Path) -> tuple[pd.DataFrame, list]:
    df = benchbench_scores(data_dir / "benchbench")
    df = df[df["source_file"].str.startswith("benchbench/benchmarks/")]
    df = df.rename(columns={"scenario": "benchmark"})
    df["source"] = df["source_file"].map(lambda s: Path(s).stem)
    return normalise_names(df)


def fit(scores: pd.DataFrame, ref: list[str], args, method: str = "kendall") -> AgreementTester:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgreementWarning)
        return AgreementTester(
            reference_benchmarks=ref, n_exps=args.n_exps, seed=args.seed, method=method
        ).fit(scores)


def leave_one_out_shift(scores: pd.DataFrame, ref: list[str]) -> float:
    """Median |change| of tau (all shared models) when one reference benchmark is dropped."""
    matrix, _, _ = prepare_scores(scores)
    full = aggregate_reference(matrix, ref)
    base = {b: pair_agreement(matrix[b], full)[0]["mean"] for b in matrix.columns}
    shifts = []
    for drop in ref:
        agg = aggregate_reference(matrix, [r for r in ref if r != drop])
        for b in matrix.columns:
            new = pair_agreement(matrix[b], agg)[0]["mean"]
            if np.isfinite(new) and np.isfinite(base[b]):
                shifts.append(abs(new - base[b]))
    return float(np.median(shifts))


def reference_swap_shift(scores: pd.DataFrame, ref: list[str]) -> float:
    """Median |tau(B, R_i) - tau(B, R_j)| over benchmarks B and pairs of single references."""
    matrix, _, _ = prepare_scores(scores)
    shifts = []
    for b in matrix.columns:
        taus = [pair_agreement(matrix[b], matrix[r])[0]["mean"] for r in ref if r != b]
        taus = [t for t in taus if np.isfinite(t)]
        shifts += [abs(x - y) for i, x in enumerate(taus) for y in taus[i + 1 :]]
    return float(np.median(shifts))


def all_pairs_granularity(scores: pd.DataFrame, args) -> tuple[float, float]:
    """Mean tau over every benchmark pair at 5 models: random subsets vs adjacent windows."""
    matrix, _, _ = prepare_scores(scores)
    res = all_pairs_agreement(
        matrix, sizes=[5], strategies=["random", "adjacent"],
        options={"n_exps": args.n_exps, "seed": args.seed},
    )  # fmt: skip
    res = res[~res["refused"]]
    means = res.groupby("strategy")["mean"].mean()
    return float(means["random"]), float(means["adjacent"])


CORE_ROWS = [
    (("random", 5, "sd"), "≈ 0.25"),
    (("random", 10, "sd"), "0.12–0.13"),
    (("random", 20, "sd"), "0.055–0.065"),
    (("random", 5, "mean"), "0.36–0.43"),
    (("adjacent", 5, "mean"), "0.16–0.19"),
]


def core_spread(t: AgreementTester) -> dict:
    """Spread over the benchmarks outside the reference set sharing >= 10 models with it.

    With the holistic-6 aggregate these are 58 scenarios, the catalogue size METHODS P5 names.
    """
    keep = t.table_[(t.table_["n_shared"] >= 10) & ~t.table_["in_reference"]].index
    res = t.results_[t.results_["benchmark"].isin(keep) & (t.results_["size"] > 0)]
    res = res[res["size_taken"] == res["size"]]
    out = {}
    for (strategy, size, col), _ in CORE_ROWS:
        sub = res[(res["strategy"] == strategy) & (res["size"] == size)]
        out[(strategy, size, col)] = f"{sub[col].mean():.3f} ({len(sub)})"
    return out


def anchors(scores: pd.DataFrame, args) -> list[str]:
    lines = [
        "| quantity | METHODS P5 anchor | holistic-6 | holistic-7 |",
        "|---|---|---|---|",
    ]
    fits = {name: fit(scores, ref, args) for name, ref in (("6", HOLISTIC_6), ("7", HOLISTIC_7))}
    spreads = {k: t.spread_by_size().set_index(["strategy", "size"]) for k, t in fits.items()}

    def cell(k: str, strategy: str, size: int, col: str) -> str:
        s = spreads[k]
        return (
            f"{s.loc[(strategy, size), col]:.3f} ({int(s.loc[(strategy, size), 'n_benchmarks'])})"
        )

    for size, anchor in ((5, "≈ 0.25"), (10, "0.12–0.13"), (20, "0.055–0.065")):
        lines.append(f"| s.d. of τ over random subsets, {size} models (benchmarks) | {anchor} | "
                     f"{cell('6', 'random', size, 'sd')} | {cell('7', 'random', size, 'sd')} |")  # fmt: skip
    lines.append(f"| mean τ, random subsets of 5 | 0.36–0.43 | {cell('6', 'random', 5, 'mean')} | "
                 f"{cell('7', 'random', 5, 'mean')} |")  # fmt: skip
    lines.append(f"| mean τ, adjacent windows of 5 | 0.16–0.19 | {cell('6', 'adjacent', 5, 'mean')} "
                 f"| {cell('7', 'adjacent', 5, 'mean')} |")  # fmt: skip
    core = {k: core_spread(t) for k, t in fits.items()}
    for (strategy, size, col), anchor in CORE_ROWS:
        lines.append(
            f"| {col} of τ, {strategy} {size}, non-reference benchmarks with ≥ 10 shared models "
            f"| {anchor} | {core['6'][(strategy, size, col)]} | {core['7'][(strategy, size, col)]} |"
        )
    pear = {
        k: fit(scores, ref, args, "pearson") for k, ref in (("6", HOLISTIC_6), ("7", HOLISTIC_7))
    }
    gap = {
        k: float((pear[k].table_["agreement"] - fits[k].table_["agreement"]).mean()) for k in fits
    }
    lines.append(f"| Pearson − Kendall, all shared models (mean) | ≈ +0.1 | {gap['6']:+.3f} | "
                 f"{gap['7']:+.3f} |")  # fmt: skip
    loo = {k: leave_one_out_shift(scores, ref) for k, ref in (("6", HOLISTIC_6), ("7", HOLISTIC_7))}
    lines.append(f"| median abs(Δτ) dropping one reference benchmark | 0.24 | {loo['6']:.3f} | "
                 f"{loo['7']:.3f} |")  # fmt: skip
    swap = reference_swap_shift(scores, HOLISTIC_6)
    lines.append(f"| median abs(Δτ) swapping one single reference benchmark for another | 0.24 | "
                 f"{swap:.3f} | (same) |")  # fmt: skip
    rnd, adj = all_pairs_granularity(scores, args)
    lines.append(f"| every benchmark pair, mean τ at 5 models: random / adjacent | 0.36–0.43 / "
                 f"0.16–0.19 | {rnd:.3f} / {adj:.3f} | (no aggregate) |")  # fmt: skip
    n_agg = {k: t.n_aggregate_models_ for k, t in fits.items()}
    lines.append(f"| models in the aggregate (min appearances 2) | | {n_agg['6']} | {n_agg['7']} |")
    return lines, fits["6"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=get_settings().data_dir)
    ap.add_argument("--n-exps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    scores, kept = load(args.data)
    names = match_report(scores, kept_apart=kept)
    lines, tester = anchors(scores, args)
    print(f"## Benchmark agreement on the current benchbench catalogue "
          f"({scores.benchmark.nunique()} scenarios from {scores.source.nunique()} tables; "
          f"n_exps={args.n_exps}, seed={args.seed})\n")  # fmt: skip
    print("\n".join(lines))
    print(f"\nReference set (holistic-6): {', '.join(HOLISTIC_6)}. Names: "
          f"{len(names.matched)} matched across tables, {len(names.unmatched)} in one table only, "
          f"{len(names.near_misses)} near-misses reported (not merged), {len(kept)} groups kept "
          "apart that dropping the organisation would merge.\n")  # fmt: skip
    print("| benchmark | n shared | τ (all shared) | z | τ rnd-5 ± s.d. | τ adj-5 | verdict |")
    print("|---|---|---|---|---|---|---|")
    for name, r in tester.table_.iterrows():
        ref = " (ref)" if r["in_reference"] else ""
        print(f"| {name}{ref} | {int(r['n_shared'])} | {r['agreement']:.3f} | {r['z']:+.2f} | "
              f"{r['random_5_mean']:.2f} ± {r['random_5_sd']:.2f} | {r['adjacent_5_mean']:.2f} | "
              f"{r['verdict']} |")  # fmt: skip
    print("\nDifferences from the reference package:\n")
    for d in tester.differences_:
        print(f"- {d}")
    if kept:
        ex = "; ".join(" vs ".join(k["names"]) for k in kept)
        print(f"- names the reference package's normalisation would merge (kept apart here): {ex}")


if __name__ == "__main__":
    main()
