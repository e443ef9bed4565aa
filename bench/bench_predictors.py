"""Time fitting every predictors-I method on a synthetic family: where does the time go?

Default workload (the issue's): 100 models x 50 benchmarks, 1,000 bootstrap resamples per fit.
Per method it prints a table of stages (row selection, the multi-start fit, the bootstrap refits,
prediction of 10 targets) and compares our bootstrap with a naive peer that refits every resample
with plain ``scipy.optimize.curve_fit`` from a cold start (default p0 = ones, as many scripts do),
as a ratio measured in the same run on the same resamples.

Usage: ``.venv/bin/python bench/bench_predictors.py [--benchmarks 50] [--resamples 1000]
[--peer-benchmarks 2]``. The peer is timed on ``--peer-benchmarks`` benchmarks (it is slow) and the
ratio is per resample, so it does not depend on how many benchmarks the peer saw.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from predictors.baselines import ExponentialCompute, SigmoidLogCompute, SingleStep
from predictors.ladder import TwoStepLadder
from predictors.laws import (
    chinchilla_loss,
    exponential_compute,
    gadre_loss,
    sigmoid_accuracy,
    sigmoid_log_compute,
    single_step_accuracy,
)
from predictors.loss_accuracy import GadreChain
from predictors.selection import final_checkpoint, select

CKPTS = 5


def synthetic(n_models: int, n_bench: int, seed: int = 0) -> pd.DataFrame:
    """``n_models`` models (10M-10B, 5-80 tokens/param, 5 checkpoints) on ``n_bench`` tasks."""
    rng = np.random.default_rng(seed)
    n = np.logspace(7, 10, n_models)
    mult = rng.choice([5.0, 10.0, 20.0, 40.0, 80.0], n_models)
    frames = []
    for step in range(1, CKPTS + 1):
        d = n * mult * step / CKPTS
        base = pd.DataFrame(
            {
                "model": [f"m{i:03d}" for i in range(n_models)],
                "family": "synth",
                "n_params": n,
                "n_params_nonembed": n,
                "n_tokens": d,
                "flops": 6 * n * d,
                "checkpoint_step": step,
            }
        )
        val = gadre_loss((n, d / n), 60.0, 90.0, -0.25, 1.9) + rng.normal(0, 0.01, n_models)
        frames.append(base.assign(benchmark="c4_val", metric="loss", value=val))
        for b in range(n_bench):
            p1 = (
                4.0 + rng.normal(0, 0.3),
                6.5 + rng.normal(0, 0.3),
                0.3,
                0.3,
                0.3 + 0.2 * rng.random(),
            )
            p2 = (-0.75 + 0.1 * rng.random(), 1.0, 4.0 + 2 * rng.random(), 0.6 + 0.6 * rng.random())
            bpb = chinchilla_loss((n, d), *p1) * np.exp(rng.normal(0, 0.01, n_models))
            acc = np.clip(sigmoid_accuracy(bpb, *p2) + rng.normal(0, 0.01, n_models), 0, 1)
            frames.append(base.assign(benchmark=f"t{b:02d}", metric="bpb", value=bpb))
            frames.append(base.assign(benchmark=f"t{b:02d}", metric="acc", value=acc))
    return pd.concat(frames, ignore_index=True)


def methods(bench: str, resamples: int) -> dict[str, object]:
    kw = dict(benchmark=bench, n_bootstrap=resamples)
    return {
        "gadre": GadreChain(metric="acc", loss_benchmark="c4_val", loss_metric="loss", **kw),
        "ladder": TwoStepLadder(**kw),
        "exponential": ExponentialCompute(**kw),
        "sigmoid": SigmoidLogCompute(**kw),
        "single_step": SingleStep(**kw),
    }


PEER = {  # the law refitted per resample and the data it sees (final checkpoints)
    "exponential": (exponential_compute, "flops"),
    "sigmoid": (sigmoid_log_compute, "flops"),
    "single_step": (single_step_accuracy, "nd"),
}


def peer_seconds_per_resample(
    obs: pd.DataFrame, bench: str, name: str, n: int
) -> tuple[float, int]:
    """Naive peer: cold-start ``curve_fit`` (bounded like ours) on each of ``n`` resamples."""
    func, kind = PEER[name]
    rows = final_checkpoint(select(obs, bench, "acc", "bench"))
    x = (
        rows["flops"].to_numpy()
        if kind == "flops"
        else (rows["n_params"].to_numpy(), rows["n_tokens"].to_numpy())
    )
    y = rows["value"].to_numpy()
    est = methods(bench, 0)[name]
    lo, hi = est._bounds(y)  # type: ignore[attr-defined]  # the curve estimators' own bounds
    p0 = np.clip(np.ones(len(lo)), lo, hi)
    rng = np.random.default_rng(0)
    fails = 0
    t0 = time.perf_counter()
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        xi = x[i] if kind == "flops" else (x[0][i], x[1][i])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                curve_fit(func, xi, y[i], p0=p0, bounds=(lo, hi), max_nfev=2000)
            except (RuntimeError, ValueError):
                fails += 1
    return (time.perf_counter() - t0) / n, fails


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--benchmarks", type=int, default=50)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--peer-benchmarks", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    obs = synthetic(args.models, args.benchmarks)
    print(
        f"synthetic observations: {len(obs):,} rows ({args.models} models x {args.benchmarks} benchmarks x "
        f"{CKPTS} checkpoints) in {time.perf_counter() - t0:.1f}s; {args.resamples} resamples per fit"
    )
    targets = pd.DataFrame(
        {
            "model": [f"T{i}" for i in range(10)],
            "n_params": np.logspace(10.3, 11, 10),
            "n_params_nonembed": np.logspace(10.3, 11, 10),
            "n_tokens": 20 * np.logspace(10.3, 11, 10),
        }
    )
    targets["flops"] = 6 * targets["n_params"] * targets["n_tokens"]
    stages: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    boot_ok: dict[str, int] = defaultdict(int)
    for b in range(args.benchmarks):
        bench = f"t{b:02d}"
        for name, est in methods(bench, 0).items():
            s = time.perf_counter()
            select(obs, bench, "acc", "bench")
            stages[name]["select rows"] += time.perf_counter() - s
            s = time.perf_counter()
            est.fit(obs)
            stages[name]["fit (multi-start, no bootstrap)"] += time.perf_counter() - s
        for name, est in methods(bench, args.resamples).items():
            s = time.perf_counter()
            est.fit(obs)
            stages[name]["fit + bootstrap"] += time.perf_counter() - s
            s = time.perf_counter()
            fs = est.predict(targets)
            stages[name]["predict 10 targets"] += time.perf_counter() - s
            boot_ok[name] += int(fs[0].diagnostics.get("n_bootstrap_ok", args.resamples) or 0)
        print(
            f"  benchmark {b + 1}/{args.benchmarks} done at {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    rows = []
    for name, st in stages.items():
        boot = st["fit + bootstrap"] - st["fit (multi-start, no bootstrap)"]
        total = st["fit + bootstrap"] + st["predict 10 targets"]
        for stage, sec in (
            ("select rows", st["select rows"]),
            ("fit (multi-start, no bootstrap)", st["fit (multi-start, no bootstrap)"]),
            ("bootstrap refits", boot),
            ("predict 10 targets", st["predict 10 targets"]),
        ):
            rows.append({"method": name, "stage": stage, "seconds": sec, "share": sec / total})
        rows.append({"method": name, "stage": "TOTAL", "seconds": total, "share": 1.0})
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(
        f"\n## Where the time goes ({args.benchmarks} benchmarks, {args.resamples} resamples each)"
    )
    print(df.round({"seconds": 2, "share": 3}).to_string(index=False))
    grand = df[df["stage"] == "TOTAL"]["seconds"].sum()
    print(f"all methods: {grand:.1f}s ({grand / args.benchmarks:.2f}s per benchmark)")
    print(
        "\n## Bootstrap refit vs naive peer (cold-start bounded curve_fit per resample), same machine/run"
    )
    cmp = []
    for name in PEER:
        ours = (
            stages[name]["fit + bootstrap"] - stages[name]["fit (multi-start, no bootstrap)"]
        ) / (args.benchmarks * args.resamples)
        per, fails = [], 0
        for b in range(args.peer_benchmarks):
            sec, f = peer_seconds_per_resample(obs, f"t{b:02d}", name, args.resamples)
            per.append(sec)
            fails += f
        peer = float(np.mean(per))
        cmp.append(
            {
                "method": name,
                "ours_ms_per_resample": 1e3 * ours,
                "peer_ms_per_resample": 1e3 * peer,
                "peer/ours": peer / ours if ours > 0 else float("nan"),
                "peer_failed": f"{fails}/{args.peer_benchmarks * args.resamples}",
            }
        )
    print(pd.DataFrame(cmp).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
