"""COD and the PassUntil law on a ladder: the tables of issue 9's closing note.

For every task with per-item pass rates, predict the largest model (and, separately, the two
largest) from the rest with COD, its ablations and the baselines; print mean and max absolute
error in points and interval coverage; then the PassUntil law's prediction of the largest model's
pass rate per task with its relative error and the emergence shape.

    .venv/bin/python bench/report_cod.py                       # the ladder lab's committed results
    .venv/bin/python bench/report_cod.py --observations FILE_OR_DIR
    .venv/bin/python bench/report_cod.py --synthetic           # a synthetic CPU-scale ladder
    .venv/bin/python bench/report_cod.py --database sqlite:///ladder.db --family ladder-cpu

Every method is scored against the same actual: the target's mean per-item pass rate (samples
mode) at its final checkpoint. The compute unit of COD's filter: the paper reads its thresholds
with C in 1e18 FLOPs on a ladder of billion-parameter models; a CPU ladder sits 4-6 orders of
magnitude lower, where those thresholds reject every cluster (the "COD, unit 1e18" column shows
it). "COD" here uses ``compute_unit = smallest ladder compute / 100`` (our assumption: the unit
sits about two orders of magnitude below the smallest ladder model), stated in the output.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from predictors.base import BaseEstimator  # noqa: E402
from predictors.item_data import item_results_to_observations, model_flops  # noqa: E402
from predictors.passuntil import PassUntilForecaster, item_estimates  # noqa: E402
from predictors.registry import make_predictor  # noqa: E402
from predictors.synthetic_items import (  # noqa: E402
    ClusterSpec,
    passuntil_sample,
    synthetic_cod_ladder,
)

REFERENCE = ROOT / "evals" / "ladder" / "reference"
UNIT_BELOW_LADDER = 100.0


# ----------------------------------------------------------------------------- data
def _read_one(path: Path) -> pd.DataFrame:
    name = path.name
    if name.endswith(".parquet"):
        df = pd.read_parquet(path)
    elif name.endswith((".jsonl", ".jsonl.gz")):
        df = pd.read_json(path, lines=True)
    else:
        df = pd.read_csv(path)
    if "metric" not in df.columns and {"n_pass", "item", "model"} <= set(df.columns):
        df = item_results_to_observations(df)  # item_results-shaped file
    return df


def load_ladder_export(path: Path) -> pd.DataFrame:
    """The ladder lab's committed export (manifest.json + Parquet files, checked by hash):
    task metrics and losses from ``measurements``, per-item rows from ``results``."""
    from db.importers.ladder import observations_frame, read_reference

    manifest, frames = read_reference(path)
    meas = observations_frame(manifest, frames["measurements"])
    res = frames["results"].copy()
    sizes = pd.DataFrame(manifest["sizes"]).set_index("model")
    res["family"] = manifest["family"]
    for col in ("n_params", "n_params_nonembed"):
        res[col] = res["model"].map(sizes[col]).astype(float)
    final_tokens = res["model"].map(sizes["n_tokens"]).astype(float)
    res["flops"] = res["model"].map(sizes["flops"]).astype(float) * res["n_tokens"] / final_tokens
    items = item_results_to_observations(res)
    return pd.concat([meas, items], ignore_index=True)


def load_ladder(path: Path) -> pd.DataFrame:
    """Observations from the ladder export, a file, or every table file in a directory."""
    if path.is_dir() and (path / "manifest.json").exists():
        return load_ladder_export(path)
    suffixes = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz")
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.rglob("*") if p.name.endswith(suffixes))
    )
    frames = [
        f
        for f in (_read_one(p) for p in files)
        if {"model", "benchmark", "metric"} <= set(f.columns)
    ]
    if not frames:
        raise SystemExit(f"no observation tables under {path}")
    return pd.concat(frames, ignore_index=True)


def load_database(url: str, family: str | None) -> pd.DataFrame:
    """Observations (loss rows and task-level values) plus per-item rows from a capcast database."""
    from db.queries import fetch_observations
    from db.session import make_engine, session_factory
    from service.forecasting import item_observations

    with session_factory(make_engine(url))() as s:
        obs = fetch_observations(s, family=family)
        items = item_observations(s, family=family)
    return pd.concat([obs, items], ignore_index=True) if len(items) else obs


def synthetic_ladder(seed: int = 0) -> pd.DataFrame:
    """A CPU-scale ladder (7 sizes, 2.5 decades of compute) with four tasks of graded difficulty,
    PassUntil rows drawn from the same true pass rates, and a validation loss."""
    flops = list(np.geomspace(2e12, 6e14, 7))
    u = 1e12
    tasks = {
        "next_line": ([ClusterSpec(120, 0.4, 0.4, 0.05), ClusterSpec(120, 3.0, 0.35, 0.1),
                       ClusterSpec(100, 12.0, 0.4, 0.2), ClusterSpec(80, 25.0, 0.3, 0.3),
                       ClusterSpec(60, 0.8, 0.05, 1.6)], 40, 120),
        "add": ([ClusterSpec(60, 0.5, 0.6, 0.0), ClusterSpec(60, 4.0, 0.5, 0.0),
                 ClusterSpec(60, 20.0, 0.5, 0.1), ClusterSpec(40, 60.0, 0.45, 0.2)], 15, 30),
        "mul": ([ClusterSpec(60, 2.0, 0.5, 0.1), ClusterSpec(60, 15.0, 0.4, 0.3),
                 ClusterSpec(50, 40.0, 0.35, 0.5)], 15, 80),
        "rev": ([ClusterSpec(80, 1.0, 0.5, 0.0), ClusterSpec(80, 8.0, 0.45, 0.05),
                 ClusterSpec(60, 30.0, 0.4, 0.1), ClusterSpec(40, 1.0, 0.08, 1.2)], 20, 20),
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    parts = []
    for k, (task, (specs, n_out, n_zero)) in enumerate(tasks.items()):
        obs, truth = synthetic_cod_ladder(
            flops, specs, n_outliers=n_out, n_zero=n_zero, benchmark=task, unit=u,
            family="synthetic-cpu-ladder", jitter=0.2, seed=seed + k,
        )  # fmt: skip
        parts.append(obs)
        final = obs[obs["checkpoint_step"] == obs["checkpoint_step"].max()].drop_duplicates("model")
        for _, m in final.iterrows():
            for item, p in zip(truth["item"], truth[m["model"]], strict=True):
                n, s = passuntil_sample(float(p), rng, r=2, k_max=10_000)
                parts.append(pd.DataFrame([{**m.to_dict(), "metric": "pu", "item": item,
                                            "value": s / n, "n_samples": n, "n_pass": s}]))  # fmt: skip
    models = pd.concat(parts).drop_duplicates(["model", "checkpoint_step"])
    loss = models.assign(
        benchmark="val", metric="loss", item=np.nan, n_samples=np.nan, n_pass=np.nan,
        value=1.2 + 9.0 * (models["flops"] / u) ** -0.12 + rng.normal(0, 0.005, len(models)),
    )  # fmt: skip
    return pd.concat([*parts, loss], ignore_index=True)


# ---------------------------------------------------------------------------- scoring
def final_rows(obs: pd.DataFrame) -> pd.DataFrame:
    step = pd.to_numeric(obs["checkpoint_step"], errors="coerce").fillna(-1)
    return obs[step == step.groupby(obs["model"]).transform("max")]


def actual_pass_rate(obs: pd.DataFrame, task: str, model: str) -> float:
    rows = obs[
        (obs["benchmark"] == task) & (obs["metric"] == "pass_rate") & (obs["model"] == model)
    ]
    rows = rows[rows["item"].notna()]
    return float(final_rows(rows)["value"].mean())


def loss_benchmark(obs: pd.DataFrame) -> str | None:
    """The validation loss set: a held-out/validation name if there is one, else the commonest."""
    loss = obs[obs["metric"] == "loss"]
    if loss.empty:
        return None
    names = loss["benchmark"].value_counts().index.astype(str)
    held = [b for b in names if any(k in b.lower() for k in ("heldout", "held_out", "val"))]
    return held[0] if held else names[0]


def methods(
    obs: pd.DataFrame, unit: float, n_boot: int
) -> dict[str, Callable[[str], BaseEstimator]]:
    pu_tasks = set(obs.loc[(obs["metric"] == "pu") & obs["item"].notna(), "benchmark"])

    def pu_metric(t: str) -> str:  # PassUntil rows where the task has them, else the samples
        return "pu" if t in pu_tasks else "pass_rate"

    val = loss_benchmark(obs)
    cod = {"n_bootstrap": n_boot, "compute_unit": unit}
    out: dict[str, Callable[[str], BaseEstimator]] = {
        "COD": lambda t: make_predictor("cod", benchmark=t, **cod),
        "COD, linear tail": lambda t: make_predictor(
            "cod", benchmark=t, mapping_tail="linear", **cod
        ),
        "COD, no mapping": lambda t: make_predictor("cod", benchmark=t, use_mapping=False, **cod),
        "COD, KMeans": lambda t: make_predictor("cod", benchmark=t, clustering="kmeans", **cod),
        "COD, no thresholds": lambda t: make_predictor("cod", benchmark=t, use_filter=False, **cod),
        "COD, unit 1e18": lambda t: make_predictor("cod", benchmark=t, n_bootstrap=n_boot),
        "exponential in C": lambda t: make_predictor(
            "exponential", benchmark=t, metric="pass_rate", n_bootstrap=n_boot
        ),
        "PassUntil, dataset": lambda t: PassUntilForecaster(
            benchmark=t, metric=pu_metric(t), x="flops", n_bootstrap=n_boot
        ),
        "PassUntil, instance": lambda t: PassUntilForecaster(
            benchmark=t, metric=pu_metric(t), x="flops", scheme="instance", n_bootstrap=n_boot
        ),
    }
    if val is not None:
        out["loss-intermediate"] = lambda t: make_predictor(
            "ladder", benchmark=t, metric="pass_rate", intermediate_benchmark=val,
            intermediate_metric="loss", input="flops", smooth=1, last_n=1, drop_first=0.0,
            n_bootstrap=n_boot,
        )  # fmt: skip
    return out


def run_setting(obs: pd.DataFrame, tasks: list[str], n_targets: int, n_boot: int) -> pd.DataFrame:
    """One row per (task, target, method): predicted, interval, actual, error in points."""
    sizes = final_rows(obs).assign(f=model_flops(final_rows(obs))).groupby("model")["f"].max()
    sizes = sizes.sort_values()
    targets = list(sizes.index[-n_targets:])
    fit = obs[~obs["model"].isin(targets)]
    unit = float(sizes.iloc[: len(sizes) - n_targets].min()) / UNIT_BELOW_LADDER
    tgt = final_rows(obs[obs["model"].isin(targets)]).drop_duplicates("model").set_index("model")
    tgt = tgt.loc[targets].reset_index()
    rows = []
    for task in tasks:
        for name, make in methods(obs, unit, n_boot).items():
            t0 = time.perf_counter()
            est = make(task)
            try:
                fcs = est.fit(fit).predict(tgt)
                err = ""
            except Exception as exc:  # a failed fit is a result too: reported, never hidden
                fcs, err = [], f"{type(exc).__name__}: {exc}"
            secs = time.perf_counter() - t0
            for i, model in enumerate(targets):
                actual = actual_pass_rate(obs, task, model)
                f = fcs[i] if fcs else None
                point = f.point if f else math.nan
                if f is not None and not math.isfinite(point):
                    err = err or "no finite prediction: " + "; ".join(f.notes)[:300]
                rows.append({
                    "task": task, "target": model, "method": name, "predicted": point,
                    "lower": f.lower if f else math.nan, "upper": f.upper if f else math.nan,
                    "actual": actual, "abs_error_pts": 100 * abs(point - actual),
                    "covered": bool(f and f.lower <= actual <= f.upper), "error": err,
                    "seconds": secs, "unit": unit,
                    **subset_check(obs, est, task, model, f),
                })  # fmt: skip
    return pd.DataFrame(rows)


def subset_check(obs: pd.DataFrame, est: BaseEstimator, task: str, model: str, f) -> dict:
    """COD only: the predictable subset's predicted and measured accuracy on the target, which
    splits COD's error into the laws' part (subset) and the mapping's part (subset -> full)."""
    if f is None or not hasattr(est, "subset_items_"):
        return {}
    rows = obs[
        (obs["benchmark"] == task) & (obs["metric"] == "pass_rate") & (obs["model"] == model)
    ]
    rows = final_rows(rows[rows["item"].notna()]).set_index("item")["value"]
    subset = rows.reindex(est.subset_items_).mean()
    return {
        "subset_predicted": f.diagnostics["subset_prediction"],
        "subset_actual": float(subset),
        "predictable_fraction": f.diagnostics["predictable_fraction"],
        "kept_clusters": f"{f.diagnostics['n_kept_clusters']}/{f.diagnostics['n_clusters']}",
    }


def decomposition(res: pd.DataFrame) -> pd.DataFrame:
    """COD's error split: laws (subset predicted vs measured) and mapping (the rest)."""
    if "subset_predicted" not in res.columns:
        return pd.DataFrame()
    cod = res[res["method"] == "COD"].dropna(subset=["subset_predicted"])
    if cod.empty:
        return cod
    return pd.DataFrame({
        "task": cod["task"], "target": cod["target"], "kept clusters": cod["kept_clusters"],
        "predictable fraction": cod["predictable_fraction"],
        "subset pred": cod["subset_predicted"], "subset actual": cod["subset_actual"],
        "law error (pts)": 100 * (cod["subset_predicted"] - cod["subset_actual"]),
        "full pred": cod["predicted"], "full actual": cod["actual"],
        "total error (pts)": 100 * (cod["predicted"] - cod["actual"]),
    })  # fmt: skip


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    g = res.groupby("method", sort=False)
    return pd.DataFrame({
        "mean abs err (pts)": g["abs_error_pts"].mean(),
        "max abs err (pts)": g["abs_error_pts"].max(),
        "coverage": g["covered"].mean(),
        "failed fits": g["error"].apply(lambda e: int((e != "").sum())),
    })  # fmt: skip


def passuntil_table(obs: pd.DataFrame, tasks: list[str], n_boot: int) -> pd.DataFrame:
    """Largest model's task PU: dataset-level law from the rest vs measured; emergence shape."""
    pu_tasks = set(obs.loc[(obs["metric"] == "pu") & obs["item"].notna(), "benchmark"])
    fr = final_rows(obs)
    sizes = fr.assign(f=model_flops(fr)).groupby("model")["f"].max().sort_values()
    target = sizes.index[-1]
    rows = []
    for task in tasks:
        metric = "pu" if task in pu_tasks else "pass_rate"
        rec: dict[str, object] = {"task": task, "target": target, "rows": metric}
        try:
            est = PassUntilForecaster(benchmark=task, metric=metric, x="flops", n_bootstrap=n_boot)
            est.fit(obs[obs["model"] != target])
            tgt = fr[fr["model"] == target].drop_duplicates("model")
            f = est.predict(tgt)[0]
            full = PassUntilForecaster(benchmark=task, metric=metric, x="flops", n_bootstrap=n_boot)
            full.fit(obs)
            t_rows = fr[
                (fr["model"] == target) & (fr["benchmark"] == task) & (fr["metric"] == metric)
            ]
            t_rows = t_rows[t_rows["item"].notna()]
            n, s = t_rows["n_samples"].to_numpy(float), t_rows["n_pass"].to_numpy(float)
            rr = (s >= 2) & (n < n.max()) if metric == "pu" else np.zeros_like(s, bool)
            measured = float(np.mean(item_estimates(n, s, rr)))
            cur = full.curvature_
            rec.update({
                "predicted": f.point, "lower": f.lower, "upper": f.upper, "measured": measured,
                "rel_error": abs(f.point - measured) / measured if measured else math.nan,
                "shape (all models)": cur.label, "quad coef": cur.quadratic,
                "quad CI": f"[{cur.quadratic_ci[0]:.3g}, {cur.quadratic_ci[1]:.3g}]",
                "dAIC lin-quad": cur.aic_linear - cur.aic_quadratic,
                "shape (fit set)": est.curvature_.label,
            })  # fmt: skip
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(rec)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observations", type=Path, default=None, help="file or directory")
    ap.add_argument("--synthetic", action="store_true", help="use a synthetic CPU-scale ladder")
    ap.add_argument("--database", default=None, help="read a capcast database (URL) instead")
    ap.add_argument("--family", default=None, help="with --database: the ladder's family")
    ap.add_argument("--n-bootstrap", type=int, default=100)
    ap.add_argument("--json", type=Path, default=None, help="also write every row here")
    args = ap.parse_args(argv)
    if args.synthetic:
        obs, source = synthetic_ladder(), "synthetic CPU-scale ladder (predictors.synthetic_items)"
    elif args.database:
        obs, source = load_database(args.database, args.family), args.database
    else:
        path = args.observations or REFERENCE
        if not path.exists():
            print(f"{path} does not exist; pass --observations or --synthetic", file=sys.stderr)
            return 2
        obs, source = load_ladder(path), str(path)
    items = obs[obs["item"].notna() & (obs["metric"] == "pass_rate")]
    tasks = sorted(items["benchmark"].unique())
    fr = final_rows(obs)
    sizes = fr.assign(f=model_flops(fr)).groupby("model")["f"].max().sort_values()
    print(f"# COD and PassUntil report\n\nsource: {source}\nmodels (final compute, FLOPs):")
    print(", ".join(f"{m} {f:.3g}" for m, f in sizes.items()))
    print(f"tasks: {', '.join(tasks)}\n")
    out = {}
    for n_targets in (1, 2):
        t0 = time.perf_counter()
        res = run_setting(obs, tasks, n_targets, args.n_bootstrap)
        what = "largest model" if n_targets == 1 else "two largest models"
        print(
            f"## Predict the {what} from the rest (compute unit for COD {res['unit'].iloc[0]:.3g} FLOPs)\n"
        )
        print(summarise(res).to_markdown(floatfmt=".3g"))
        print("\nper task, abs error in points:\n")
        print(
            res.pivot_table(
                index="method", columns="task", values="abs_error_pts", sort=False
            ).to_markdown(floatfmt=".3g")
        )
        dec = decomposition(res)
        if not dec.empty:
            print(
                "\nCOD's error split (signed, points): the laws' part on the predictable subset, and the total\n"
            )
            print(dec.to_markdown(index=False, floatfmt=".3g"))
        errs = res[res["error"] != ""].drop_duplicates(["task", "method"])
        for _, e in errs.iterrows():
            print(f"- {e['method']} on {e['task']}: {e['error'][:200]}")
        print(f"\n({time.perf_counter() - t0:.0f} s)\n")
        out[f"targets_{n_targets}"] = res.to_dict(orient="records")
    pu = passuntil_table(obs, tasks, args.n_bootstrap)
    print("## PassUntil law: largest model's task pass rate, dataset level from the rest\n")
    print(pu.to_markdown(index=False, floatfmt=".4g"))
    accel = pu.loc[
        pu.get("shape (all models)", pd.Series(dtype=str)) == "accelerated emergence", "task"
    ]
    print(f"\naccelerated emergence: {', '.join(accel) if len(accel) else 'none'}")
    out["passuntil"] = pu.to_dict(orient="records")
    if args.json:
        args.json.write_text(json.dumps(out, default=str, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
