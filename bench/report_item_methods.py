"""Item-level methods (COD, the PassUntil law) on real per-item data, next to the baselines.

Reads ``pythia-sampling`` (9 Pythia sizes x 9 checkpoints x 128 GSM8K problems, draws and correct
draws per problem) the way ``capcast import pythia-sampling`` stores it, converted by
``predictors.item_data.item_results_to_observations``, and backtests two splits (issue 14):

- sizes: fit on the sizes up to 2.8B (all checkpoints), predict 6.9B and 12B at 300B tokens;
- trajectory: per size, fit on its checkpoints up to step 30,000 (~63B tokens), predict its
  final checkpoint (step 143,000, ~300B tokens).

Every method runs with its defaults (the baselines fit every checkpoint, ``checkpoints="all"``,
as they would otherwise see one point per model). The actual is the target's mean per-problem
pass rate; errors are absolute, in points (x 100). A method that refuses shows "refused".

    .venv/bin/python bench/report_item_methods.py [--data DIR] [--bootstrap 50]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.importers.pythia_sampling import read_models, read_results  # noqa: E402
from predictors.base import FitError  # noqa: E402
from predictors.item_data import item_results_to_observations  # noqa: E402
from predictors.registry import make_predictor  # noqa: E402

BENCHMARK, METRIC = "gsm8k", "pass_rate"
FINAL_STEP, EARLY_STEP = 143_000, 30_000
SPLIT_SIZE = 3e9  # fit on sizes below it (up to 2.8B)
METHODS: dict[str, dict[str, object]] = {
    "cod": {},
    "passuntil": {"metric": METRIC},
    "exponential": {"metric": METRIC, "checkpoints": "all"},
    "sigmoid": {"metric": METRIC, "checkpoints": "all"},
}


def load(directory: Path) -> pd.DataFrame:
    """Per-item observations, as the ``item_results`` view would return them after import."""
    models = read_models(directory)
    results = read_results(directory, models)
    df = results.merge(models, on="nickname")
    rows = pd.DataFrame(
        {
            "family": "pythia",
            "model": df["model"],
            "n_params": df["n_params"],
            "n_params_nonembed": df["n_params_nonembed"],
            "n_tokens": df["n_tokens"],
            "flops": 6.0 * df["n_params"] * df["n_tokens"],
            "checkpoint_step": df["step"],
            "benchmark": BENCHMARK,
            "item": df["item"],
            "n_samples": df["n_samples"],
            "n_pass": df["n_pass"],
            "mode": "samples",
        }
    )
    return item_results_to_observations(rows)


def splits(obs: pd.DataFrame) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """(name, fit rows, target models) for both splits."""
    out = [("sizes <= 2.8B -> 6.9B, 12B", obs[obs["n_params"] < SPLIT_SIZE], [])]
    out[0][2].extend(
        sorted(obs.loc[obs["n_params"] >= SPLIT_SIZE, "model"].unique(), key=_size(obs))
    )
    for model in sorted(obs["model"].unique(), key=_size(obs)):
        rows = obs[(obs["model"] == model) & (obs["checkpoint_step"] <= EARLY_STEP)]
        out.append((f"{model} <= step {EARLY_STEP:,} -> final", rows, [model]))
    return out


def _size(obs: pd.DataFrame) -> object:
    sizes = obs.groupby("model")["n_params"].first()
    return lambda m: float(sizes[m])


def target_frame(obs: pd.DataFrame, models: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    final = obs[obs["model"].isin(models) & (obs["checkpoint_step"] == FINAL_STEP)]
    cols = ["model", "n_params", "n_params_nonembed", "n_tokens", "flops", "checkpoint_step"]
    return final.drop_duplicates("model")[cols], final.groupby("model")["value"].mean()


def run(obs: pd.DataFrame, n_bootstrap: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, fit, models in splits(obs):
        targets, actual = target_frame(obs, models)
        for method, params in METHODS.items():
            t0 = time.perf_counter()
            try:
                est = make_predictor(method, benchmark=BENCHMARK, n_bootstrap=n_bootstrap, **params)
                forecasts = {f.target: f for f in est.fit(fit).predict(targets)}
            except (FitError, ValueError) as exc:
                forecasts, why = {}, str(exc)
            seconds = time.perf_counter() - t0
            for model in models:
                f = forecasts.get(model)
                truth = float(actual[model])
                ok = f is not None and math.isfinite(f.point)
                rows.append(
                    {
                        "split": name,
                        "target": model,
                        "method": method,
                        "actual": truth,
                        "point": f.point if ok and f else math.nan,
                        "covered": bool(ok and f and f.lower <= truth <= f.upper),
                        "fallback": bool(f and any(n.startswith("FALLBACK") for n in f.notes)),
                        "why": "" if ok else (why if f is None else "; ".join(f.notes)),
                        "seconds": seconds,
                    }
                )
    return rows


def _cell(r: pd.Series) -> str:
    if not math.isfinite(float(r["point"])):
        return "refused"
    err = 100 * abs(float(r["point"]) - float(r["actual"]))
    flag = "†" if r["fallback"] else ""
    return f"{100 * float(r['point']):.2f} ({err:.2f}){'' if r['covered'] else '*'}{flag}"


def markdown(rows: list[dict[str, object]]) -> str:
    df = pd.DataFrame(rows)
    methods = list(METHODS)
    lines = [
        "| split | target | actual | " + " | ".join(methods) + " |",
        "|---|---|---|" + "---|" * len(methods),
    ]
    for (split, target), g in df.groupby(["split", "target"], sort=False):
        cells = [_cell(g[g["method"] == m].iloc[0]) for m in methods]
        actual = 100 * float(g["actual"].iloc[0])
        lines.append(f"| {split} | {target} | {actual:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "| split | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    df["err"] = 100 * (df["point"] - df["actual"]).abs()
    df["group"] = np.where(df["split"].str.startswith("sizes"), "sizes", "trajectory")
    for group, g in df.groupby("group", sort=False):
        cells = []
        for m in methods:
            e = g.loc[g["method"] == m, "err"]
            n_ref = int(e.isna().sum())
            cells.append(
                f"{e.mean():.2f} / {e.max():.2f}" + (f", {n_ref} refused" if n_ref else "")
            )
        lines.append(f"| {group}: mean / max abs. error (points) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: forecast in points (absolute error); * = the 90% interval misses the actual;",
        "† = COD's fallback (no cluster passed the extrapolability filter).",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("CAPCAST_DATA_DIR", ROOT.parent / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=default / "pythia-sampling")
    ap.add_argument("--bootstrap", type=int, default=50)
    args = ap.parse_args()
    rows = run(load(args.data), args.bootstrap)
    print(markdown(rows))
    for r in rows:
        if r["why"]:
            print(f"- {r['method']} on {r['split']}: {r['why']}")


if __name__ == "__main__":
    main()
