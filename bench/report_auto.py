"""``auto`` against every single method on the shipped data: error, coverage, time (issue 14).

For each dataset cell (family, benchmark, metric) the largest model sizes are held out (the
service's rule: 2 of 5-7 sizes, 3 of 8 or more) and every method, and ``auto`` under each
weighting rule, is backtested on the same split. Prints per dataset the mean absolute error of
each method over its cells, the ratio of auto's error to the best single method's, the pooled
coverage of the 90% intervals, and auto's fit time per cell.

    .venv/bin/python bench/report_auto.py                 # gadre-overtraining and pythia-evals
    .venv/bin/python bench/report_auto.py --quick         # two cells per dataset
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.config import get_settings  # noqa: E402
from predictors.backtest import backtest  # noqa: E402
from predictors.filters import parse_filter  # noqa: E402
from predictors.registry import make_predictor  # noqa: E402

DATA = Path(get_settings().data_dir)
SINGLE = ("gadre", "exponential", "sigmoid", "single_step")
PYTHIA_TASKS = ("arc_easy", "arc_challenge", "piqa", "sciq", "logiqa", "winogrande")


def cells(quick: bool) -> list[tuple[str, pd.DataFrame, str, str, str]]:
    """(dataset, observations, benchmark, metric, size cut) per cell."""
    from db.importers.gadre import gadre_observations
    from db.importers.pythia import pythia_observations

    out = []
    g = gadre_observations(DATA / "gadre-overtraining")
    fams = sorted(g["family"].unique())
    for fam in fams[:1] if quick else fams:
        for bench, metric in (("avg17", "err"), ("avg46", "err"))[: 1 if quick else 2]:
            out.append(("gadre-overtraining", g[g["family"] == fam], bench, metric, "1e9"))
    p = pythia_observations(DATA / "pythia-evals")
    for task in PYTHIA_TASKS[:1] if quick else PYTHIA_TASKS:
        out.append(("pythia-evals", p, task, "acc", "2e9"))
    return out


def score(method: str, obs: pd.DataFrame, bench: str, metric: str, cut: str, **kw: object) -> dict:
    est = make_predictor(method, benchmark=bench, metric=metric, **kw)
    t = time.perf_counter()
    try:
        res = backtest(
            est,
            obs,
            fit=parse_filter(f"n_params < {cut}"),
            predict=parse_filter(f"n_params >= {cut}"),
        )
    except ValueError as exc:
        return {
            "mae": math.nan,
            "cov": math.nan,
            "n": 0,
            "s": time.perf_counter() - t,
            "why": str(exc),
        }
    s = res.summary
    rows = res.rows
    ok = rows[np.isfinite(rows["lower"].astype(float))]
    inside = ((ok["actual"] >= ok["lower"]) & (ok["actual"] <= ok["upper"])).sum()
    return {
        "mae": s["mean_abs_error"],
        "inside": int(inside),
        "n_iv": len(ok),
        "n": s["n_predicted"],
        "s": time.perf_counter() - t,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rules", default="separated,median,inverse_mse,best")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rules = args.rules.split(",")
    table: list[dict] = []
    for dataset, obs, bench, metric, cut in cells(args.quick):
        row: dict = {"dataset": dataset, "cell": f"{obs['family'].iloc[0]}/{bench}/{metric}"}
        for m in SINGLE:
            row[m] = score(m, obs, bench, metric, cut, n_bootstrap=100)
        for rule in rules:
            row[f"auto:{rule}"] = score("auto", obs, bench, metric, cut, rule=rule)
        table.append(row)
        print(
            row["cell"],
            " ".join(f"{k}={v['mae']:.4f}" for k, v in row.items() if isinstance(v, dict)),
            " auto s: " + ", ".join(f"{row[f'auto:{r}']['s']:.1f}" for r in rules),
            file=sys.stderr,
        )
    methods = [*SINGLE, *(f"auto:{r}" for r in rules)]
    print(f"{'dataset':20s} " + " ".join(f"{m:>16s}" for m in methods) + "  auto/best  coverage")
    for dataset in dict.fromkeys(r["dataset"] for r in table):
        rows = [r for r in table if r["dataset"] == dataset]
        maes = {m: float(np.nanmean([r[m]["mae"] for r in rows])) for m in methods}
        best = min(maes[m] for m in SINGLE if math.isfinite(maes[m]))
        cov = {
            r: sum(x[f"auto:{r}"].get("inside", 0) for x in rows)
            / max(1, sum(x[f"auto:{r}"].get("n_iv", 0) for x in rows))
            for r in rules
        }
        ratio = ", ".join(f"{maes[f'auto:{r}'] / best:.2f}" for r in rules)
        print(
            f"{dataset:20s} "
            + " ".join(f"{maes[m]:16.4f}" for m in methods)
            + f"  {ratio}  "
            + ", ".join(f"{cov[r]:.2f}" for r in rules)
        )


if __name__ == "__main__":
    main()
