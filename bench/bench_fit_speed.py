"""Fit plus interval per method on the shipped families: today's predictors vs the peer, same run.

Issue 14 (part 7) asks for fit + interval of every method in at most 1 s on the shipped families
with the default ``n_bootstrap``. This bench times ``fit(...)`` then ``predict(targets)`` for each
curve method on gadre-overtraining (each training set: fit on runs < 1e9 parameters, predict the
1.4B and 6.9B runs' 17-task error) and pythia-evals (fit on models <= 1.4B at every checkpoint,
predict the 2.8B-12B final checkpoints), and prints per method the peer's seconds, ours, their
ratio, and how far our interval endpoints moved, as a share of the interval's width (the Monte
Carlo error of a 90% percentile endpoint from 200 draws is about 0.05 of the width).

The peer is the predictors package at ``--peer-rev`` (default: the commit before the batched
bootstrap), exported with ``git archive`` into a temporary folder and run in a subprocess whose
``PYTHONPATH`` puts it first; ours runs the same worker code against the working tree. Both
sides get ``OPENBLAS_NUM_THREADS=1`` (the batched solves are tiny; BLAS threads only contend on
a 2-core machine) and the same pickled observations. COD and the PassUntil law need per-item
rows, which these families lack, so they are not timed here (bench/bench_passuntil.py).

Usage: ``.venv/bin/python bench/bench_fit_speed.py [--peer-rev REV] [--pythia-tasks arc_easy,piqa]
[--repeat 1]``; each (case, method) keeps the fastest of ``--repeat`` runs per side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
#: The last commit whose predictors refit every bootstrap resample with its own scipy call.
PEER_REV = "91bc241"
METHODS = ("gadre", "ladder", "exponential", "sigmoid", "single_step")
GADRE_SETS = ("rpj", "c4_original", "rw_original")


def load_observations(data: Path, out: Path) -> None:
    """Both families as observations, pickled once so that both sides read identical rows."""
    sys.path.insert(0, str(ROOT))
    from db.importers.gadre import gadre_observations
    from db.importers.pythia import pythia_observations

    pd.to_pickle(
        {
            "gadre": gadre_observations(data / "gadre-overtraining"),
            "pythia": pythia_observations(data / "pythia-evals"),
        },
        out,
    )


def _estimators(family: str, task: str) -> dict[str, Any]:
    """Each method with its defaults (n_bootstrap=200), set up for the family's columns."""
    from predictors.baselines import ExponentialCompute, SigmoidLogCompute, SingleStep
    from predictors.ladder import TwoStepLadder
    from predictors.loss_accuracy import GadreChain

    if family == "gadre":
        common: dict[str, Any] = {"benchmark": "avg17", "metric": "err"}
        return {
            "gadre": GadreChain(),
            "ladder": TwoStepLadder(
                intermediate_benchmark="c4_val", intermediate_metric="loss", **common
            ),
            "exponential": ExponentialCompute(**common),
            "sigmoid": SigmoidLogCompute(**common),
            "single_step": SingleStep(**common),
        }
    common = {"benchmark": task, "metric": "acc"}
    return {
        "gadre": GadreChain(
            loss_benchmark="lambada_openai", loss_metric="ppl", checkpoints="all", **common
        ),
        "ladder": TwoStepLadder(
            intermediate_benchmark="lambada_openai",
            intermediate_metric="ppl",
            step1_points="all",
            **common,
        ),
        "exponential": ExponentialCompute(checkpoints="all", **common),
        "sigmoid": SigmoidLogCompute(checkpoints="all", **common),
        "single_step": SingleStep(checkpoints="all", **common),
    }


def _cases(obs: dict[str, pd.DataFrame], tasks: list[str]) -> list[tuple[str, str, Any, Any]]:
    """(case, estimator family, fit rows, target rows) on the standard splits."""
    out = []
    g = obs["gadre"]
    for ds in GADRE_SETS:
        o = g[g["family"] == f"gadre-{ds}"]
        targets = o[(o["n_params"] > 1e9) & (o["benchmark"] == "avg17")]
        out.append((f"gadre-{ds}", "gadre", o[o["n_params"] < 1e9], targets))
    p = obs["pythia"]
    o = p[(p["family"] == "pythia") & (p["checkpoint_step"] > 0)]
    for task in tasks:
        t = o[(o["n_params"] > 2e9) & (o["benchmark"] == task) & (o["metric"] == "acc")]
        t = t.sort_values("checkpoint_step").drop_duplicates("model", keep="last")
        out.append((f"pythia/{task}", task, o[o["n_params"] <= 1.5e9], t))
    return out


def worker(pickle_path: Path, tasks: list[str]) -> None:
    """Time fit + predict of every method on every case; print one JSON line per result."""
    import predictors

    obs = pd.read_pickle(pickle_path)
    print(json.dumps({"predictors": str(Path(predictors.__file__).parent)}), flush=True)
    for case, kind, fit_rows, targets in _cases(obs, tasks):
        for method in METHODS:
            est = _estimators("gadre" if kind == "gadre" else "pythia", kind)[method]
            t0 = time.perf_counter()
            forecasts = est.fit(fit_rows).predict(targets)
            secs = time.perf_counter() - t0
            row = {
                "case": case,
                "method": method,
                "secs": secs,
                "forecasts": [[f.point, f.lower, f.upper] for f in forecasts],
            }
            print(json.dumps(row), flush=True)


def run_side(pythonpath: str, pickle_path: Path, tasks: list[str]) -> dict[tuple[str, str], Any]:
    env = {**os.environ, "PYTHONPATH": pythonpath, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        str(pickle_path),
        "--pythia-tasks",
        ",".join(tasks),
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    print(f"  predictors from {lines[0]['predictors']}", file=sys.stderr)
    return {(r["case"], r["method"]): r for r in lines[1:]}


def _moved(ours: list[list[float]], peer: list[list[float]]) -> float:
    """Largest endpoint change over the targets, as a share of the peer interval's width."""
    worst = 0.0
    for (_, lo, hi), (_, plo, phi) in zip(ours, peer, strict=True):
        width = phi - plo
        if width > 0:
            worst = max(worst, abs(lo - plo) / width, abs(hi - phi) / width)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-rev", default=PEER_REV)
    ap.add_argument("--pythia-tasks", default="arc_easy,piqa")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--data", default=os.environ.get("CAPCAST_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    tasks = [t for t in args.pythia_tasks.split(",") if t]
    if args.worker:
        worker(Path(args.worker), tasks)
        return
    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / "obs.pkl"
        load_observations(Path(args.data), pkl)
        peer_dir = Path(tmp) / "peer"
        peer_dir.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.peer_rev, "predictors"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(peer_dir)], input=archive.stdout, check=True)
        ours: dict[tuple[str, str], Any] = {}
        peer: dict[tuple[str, str], Any] = {}
        for _ in range(args.repeat):  # alternate the sides so that load drift hits both
            for side, path in ((ours, str(ROOT)), (peer, f"{peer_dir}{os.pathsep}{ROOT}")):
                for key, row in run_side(path, pkl, tasks).items():
                    if key not in side or row["secs"] < side[key]["secs"]:
                        side[key] = row
    print(
        f"fit + predict with default n_bootstrap=200, OPENBLAS_NUM_THREADS=1; peer = predictors "
        f"at {args.peer_rev}; best of {args.repeat}"
    )
    pd.set_option("display.width", 160)
    for method in METHODS:
        rows = []
        for (case, m), r in ours.items():
            if m != method:
                continue
            p = peer[(case, m)]
            rows.append(
                {
                    "case": case,
                    "peer_s": p["secs"],
                    "ours_s": r["secs"],
                    "peer/ours": p["secs"] / r["secs"],
                    "ours<=1s": r["secs"] <= 1.0,
                    "endpoint_moved/width": _moved(r["forecasts"], p["forecasts"]),
                }
            )
        print(f"\n## {method}")
        print(
            pd.DataFrame(rows)
            .round({"peer_s": 3, "ours_s": 3, "peer/ours": 2, "endpoint_moved/width": 4})
            .to_string(index=False)
        )


if __name__ == "__main__":
    main()
