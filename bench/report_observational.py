"""Backtests of the ``observational`` predictor (issue 15) on sloth-openllm and the leaderboard dumps.

Usage: ``.venv/bin/python bench/report_observational.py [--quick | --leaderboard]``
(``--leaderboard``: the pooled leaderboard of the curated table instead, below).

Data come from ``$CAPCAST_DATA_DIR/sloth-openllm`` through the sloth importer and the benchmark
registry (the names ``capcast import sloth`` stores). Two tables:

- ``curated``: the 121 base (not instruct) models of ``data_v1.csv`` with family, params, tokens,
  FLOPs; base = the Leaderboard v1 six, targets = the Leaderboard v2 six (+ HumanEval), metric
  ``acc``: the table holds their raw accuracies.
- ``dumps``: pretrained models (type "pretrained") in both raw leaderboard dumps; no FLOPs or
  family there, so parameters stand in for compute and the organisation (``org/``) for family.
  Targets are the Leaderboard v2 six's normalised ``score``.

Splits, per target benchmark: ``cutoff`` (fit models up to the cutoff, predict those above: FLOPs
8.4e22 on ``curated`` as in the issue; on ``dumps`` the 75th percentile of parameters, a fixed rule)
and ``lofo`` (leave one family out, every family with a target score). Methods: ``sigmoid`` (log
FLOPs alone), ``family_sigmoid`` (per family when its training part has 3+ models with the target,
else the pooled sigmoid), ``ruan`` (PCA-3 of raw mean-imputed scores, sigmoid link 0..1, no
family effect, nothing else), ``obs`` (this predictor with its defaults, existing models from
their base scores, plus their family's effect where the fit finds one) and ``obs_planned`` (the same fit, targets given only family and FLOPs). Every method uses the same
number of bootstrap refits (``N_BOOT``); nothing else is set per data set.

``--leaderboard`` scores the curated table's targets with :mod:`predictors.leaderboard`'s pooled
cells (``capcast leaderboard --pooled``), on both its splits: the models above the 75% quantile of
FLOPs held out, then each family in turn (``--pooled-split lofo``); ``observational`` forecasts
them as planned models, beside ``sigmoid``, ``exponential`` and ``auto`` (100 bootstrap
resamples, seed 0).
"""

from __future__ import annotations

import hashlib
import math
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.benchmark_registry import registry
from db.config import get_settings
from db.importers import sloth
from predictors.base import FitError, Forecast, Forecaster
from predictors.baselines import SigmoidLogCompute
from predictors.observational import OPENLLM_V1, ObservationalScaling

CACHE_DIR = Path("/tmp/capcast-report-cache")
N_BOOT = 50
CUTOFF_FLOPS = 8.4e22
V2 = (
    "leaderboard_ifeval",
    "leaderboard_bbh@3shot",
    "leaderboard_math_hard@4shot",
    "leaderboard_gpqa",
    "leaderboard_musr",
    "leaderboard_mmlu_pro@5shot",
)
# The metric of the Leaderboard v2 six per data set: the curated table holds raw accuracies
# (stored as "acc", as the dumps' "<X> Raw" columns), the dumps' targets are the normalised score.
V2_METRIC = {"curated": "acc", "dumps": "score"}
TARGETS = {
    name: (*(f"{b}/{metric}" for b in V2), "humaneval/pass_rate")
    for name, metric in V2_METRIC.items()
}
METHODS = ("sigmoid", "family_sigmoid", "ruan", "obs", "obs_planned")


def load() -> dict[str, pd.DataFrame]:
    """Observations with canonical names: the curated base models, and the dumps' pretrained."""
    directory = Path(get_settings().data_dir) / "sloth-openllm"
    # named by the registry that mapped it: a changed registry (a metric renamed) maps afresh
    spec = resources.files("db").joinpath("benchmarks.yaml").read_bytes()
    cache = CACHE_DIR / f"observational-{hashlib.sha256(spec).hexdigest()[:12]}.parquet"
    if cache.is_file():
        obs = pd.read_parquet(cache)
    else:
        raw = sloth.sloth_observations(directory)
        obs, _ = registry().map_observations(raw, sloth.registry_sources(raw["source"]))
        obs = pd.DataFrame(obs).reset_index(drop=True)
        obs.attrs = {}
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        obs.to_parquet(cache)
    cur = pd.read_csv(directory / "data_v1.csv")
    base_models = set(cur.loc[~cur["Instruct"].astype(bool), "Model"].str.strip())
    curated = obs[obs["source"].str.endswith("data_v1.csv") & obs["model"].isin(base_models)]
    pre = set()
    for name in ("open-llm-leaderboard_old.csv", "open-llm-leaderboard_new.csv"):
        d = pd.read_csv(directory / name)
        pre.add(frozenset(d.loc[d["Type"].astype(str).str.contains("pretrained"), "Model"]))
    both = set.intersection(*(set(p) for p in pre))
    dumps = obs[obs["source"].str.contains("open-llm-leaderboard") & obs["model"].isin(both)]
    dumps = dumps.assign(family=dumps["model"].str.split("/").str[0], flops=dumps["n_params"])
    return {"curated": curated.copy(), "dumps": dumps[dumps["n_params"] > 0].copy()}


def wide(obs: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """Model x ``benchmark/metric`` table of one value each (mean of duplicates)."""
    key = obs["benchmark"] + "/" + obs["metric"]
    sub = obs[key.isin(labels)].assign(key=key)
    return sub.pivot_table(index="model", columns="key", values="value", aggfunc="mean")


def _targets(
    test: pd.DataFrame, meta: pd.DataFrame, base: pd.DataFrame, with_base: bool
) -> pd.DataFrame:
    t = meta.loc[test.index, ["family", "n_params", "n_tokens", "flops"]].reset_index()
    if with_base:
        t = t.join(base.reindex(test.index).reset_index(drop=True))
    return t


def predict(
    method: str,
    train_obs: pd.DataFrame,
    test: pd.DataFrame,
    meta: pd.DataFrame,
    base: pd.DataFrame,
    bench: str,
    metric: str,
) -> list[Forecast]:
    """One method's forecasts of the test models (``test``: index model, column value)."""
    est: Forecaster
    if method in ("sigmoid", "family_sigmoid"):  # compute-only methods fit models with FLOPs
        train_obs = train_obs[np.isfinite(train_obs["flops"].astype(float))]
    if method == "sigmoid":
        est = SigmoidLogCompute(benchmark=bench, metric=metric, n_bootstrap=N_BOOT)
        return est.fit(train_obs).predict(_targets(test, meta, base, False))
    if method == "family_sigmoid":
        pooled: list[Forecast] | None = None
        out: dict[str, Forecast] = {}
        for fam, part in test.groupby(meta.loc[test.index, "family"].to_numpy()):
            own = train_obs[train_obs["family"] == fam]
            n = own[(own["benchmark"] == bench) & (own["metric"] == metric)]["model"].nunique()
            fs: list[Forecast] = []
            if n >= 3:
                est = SigmoidLogCompute(benchmark=bench, metric=metric, n_bootstrap=N_BOOT)
                fs = est.fit(own).predict(_targets(part, meta, base, False))
            if not fs or not all(np.isfinite(f.point) for f in fs):  # no fit: pooled
                if pooled is None:
                    pooled = predict("sigmoid", train_obs, test, meta, base, bench, metric)
                fs = [pooled[list(test.index).index(m)] for m in part.index]
            out |= {m: f for m, f in zip(part.index, fs, strict=True)}
        return [out[m] for m in test.index]
    if method == "ruan":
        est = ObservationalScaling(
            benchmark=bench,
            metric=metric,
            n_components=3,
            imputer="mean",
            standardize=False,
            floor=0.0,
            ceiling=1.0,
            family_effect=False,
            n_bootstrap=N_BOOT,
        )
        return est.fit(train_obs).predict(_targets(test, meta, base, True))
    est = ObservationalScaling(benchmark=bench, metric=metric, n_bootstrap=N_BOOT).fit(train_obs)
    if method == "obs+planned":  # one fit, both cases: existing first, then planned
        return est.predict(_targets(test, meta, base, True)) + est.predict(
            _targets(test, meta, base, False)
        )
    return est.predict(_targets(test, meta, base, method == "obs"))


def splits(
    obs: pd.DataFrame, name: str, y: pd.Series, meta: pd.DataFrame
) -> list[tuple[str, list[str]]]:
    """(split, held-out models) pairs for one target."""
    size = meta.loc[y.index, "flops"].astype(float)
    cut = CUTOFF_FLOPS if name == "curated" else float(np.nanpercentile(meta["flops"], 75))
    out = [("cutoff", sorted(size.index[size > cut]))]
    fams = meta.loc[y.index, "family"].dropna()
    counts = fams.value_counts()
    keep = counts.index if name == "curated" else counts.index[counts >= 3]  # orgs: 3+ models
    out += [("lofo", sorted(fams.index[fams == f])) for f in sorted(keep)]
    return out


def run(name: str, obs: pd.DataFrame, quick: bool) -> pd.DataFrame:
    meta = obs.groupby("model")[["family", "n_params", "n_tokens", "flops"]].first()
    base = wide(obs, OPENLLM_V1)
    rows: list[dict[str, Any]] = []
    for target in TARGETS[name][:2] if quick else TARGETS[name]:
        bench, _, metric = target.rpartition("/")
        y = wide(obs, (target,)).get(target)
        if y is None or y.notna().sum() < 10:
            continue
        y = y.dropna()
        y = y[np.isfinite(meta.loc[y.index, "flops"].astype(float))]  # every method can predict
        for split, held in splits(obs, name, y, meta):
            if not held:
                continue
            train_obs = obs[~obs["model"].isin(held)]
            test = y.loc[held].to_frame("value")
            for method in ("sigmoid", "family_sigmoid", "ruan", "obs+planned"):
                if name == "dumps" and method == "family_sigmoid" and split == "lofo":
                    continue  # an organisation is no family: nothing to learn per family
                try:
                    fs = predict(method, train_obs, test, meta, base, bench, metric)
                except (ValueError, FitError, RuntimeError, np.linalg.LinAlgError) as exc:
                    # a refusal (or scipy's "no convergence") is counted, not hidden
                    print(
                        f"{name} {target} {split} {method}: refused: {exc}"[:200], file=sys.stderr
                    )
                    continue
                names = ["obs", "obs_planned"] if method == "obs+planned" else [method]
                for k, label in enumerate(names):
                    part = fs[k * len(test) : (k + 1) * len(test)]
                    for f, (m, v) in zip(part, test["value"].items(), strict=True):
                        rows.append(
                            {
                                "data": name,
                                "target": bench,
                                "split": split,
                                "method": label,
                                "model": m,
                                "actual": v,
                                "point": f.point,
                                "lower": f.lower,
                                "upper": f.upper,
                            }
                        )
        print(f"{name} {target}: done", file=sys.stderr)
    return pd.DataFrame(rows)


def table(res: pd.DataFrame) -> str:
    """Markdown: MAE (points) and 90% coverage per data/target/split, methods side by side."""
    res = res.assign(
        err=100 * (res["point"] - res["actual"]).abs(),
        inside=(res["actual"] >= res["lower"]) & (res["actual"] <= res["upper"]),
    )
    g = res.groupby(["data", "split", "target", "method"]).agg(
        mae=("err", "mean"), cov=("inside", "mean"), n=("err", "size")
    )
    lines = [
        "| data | split | target | n | " + " | ".join(METHODS) + " |",
        "|---|---|---|---|" + "---|" * len(METHODS),
    ]
    for (data, split, target), sub in g.groupby(level=[0, 1, 2]):
        sub = sub.droplevel([0, 1, 2])
        cells = [
            f"{sub.loc[m, 'mae']:.1f} ({100 * sub.loc[m, 'cov']:.0f}%)" if m in sub.index else "—"
            for m in METHODS
        ]
        n = int(sub["n"].max())
        lines.append(f"| {data} | {split} | {target} | {n} | " + " | ".join(cells) + " |")
    overall = res.groupby(["data", "split", "method"]).agg(
        mae=("err", "mean"), cov=("inside", "mean")
    )
    for (data, split), sub in overall.groupby(level=[0, 1]):
        sub = sub.droplevel([0, 1])
        best = round(float(sub["mae"].min()), 1)  # the lowest overall MAE is in bold

        def cell(m: str, sub: pd.DataFrame = sub, best: float = best) -> str:
            mae = round(float(sub.loc[m, "mae"]), 1)
            text = f"**{mae:.1f}**" if mae == best else f"{mae:.1f}"
            return f"{text} ({100 * sub.loc[m, 'cov']:.0f}%)"

        cells = [cell(m) if m in sub.index else "—" for m in METHODS]
        lines.append(f"| {data} | {split} | all | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(res: pd.DataFrame, method: str = "obs", against: str = "ruan") -> str:
    """Markdown: ``method``'s absolute error minus ``against``'s, per data and split, with a 90%
    interval from resampling the held-out models (all of a model's targets together)."""
    res = res.assign(err=100 * (res["point"] - res["actual"]).abs())
    key = ["data", "split", "target", "model"]
    both = res.pivot_table(index=key, columns="method", values="err").dropna(
        subset=[method, against]
    )
    rng = np.random.default_rng(0)
    lines = [
        f"| data | split | pairs | {method} - {against} (points) | 90% interval | {method} better |",
        "|---|---|---:|---:|---|---:|",
    ]
    for (data, split), sub in both.groupby(level=[0, 1]):
        diff = (sub[method] - sub[against]).to_numpy()
        models = sub.index.get_level_values("model").to_numpy()
        groups = [np.flatnonzero(models == m) for m in np.unique(models)]
        means = [
            diff[
                np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
            ].mean()
            for _ in range(2000)
        ]
        lo, hi = np.percentile(means, [5, 95])
        lines.append(
            f"| {data} | {split} | {len(diff)} | {diff.mean():+.2f} | [{lo:+.2f}, {hi:+.2f}] "
            f"| {np.mean(diff < 0):.0%} |"
        )
    return "\n".join(lines)


def pooled_leaderboard(curated: pd.DataFrame, split: str = "cutoff") -> str:
    """Markdown: the pooled leaderboard of the curated table's targets on ``split`` (``cutoff``
    or ``lofo``), per method and target."""
    from predictors.leaderboard import leaderboard

    board = leaderboard(
        curated,
        methods=["observational", "sigmoid", "exponential", "auto"],
        benchmarks=[t.rpartition("/")[0] for t in TARGETS["curated"]],
        metrics=sorted({t.rpartition("/")[2] for t in TARGETS["curated"]}),
        pooled=True,
        pooled_split=split,
    )
    t = board.table()
    lines = ["| method | targets | refused | mean abs err (points) | max | 90% coverage |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in t.to_dict("records"):
        lines.append(
            f"| {r['method']} | {r['n']} | {r['n_refused']} | {100 * r['mean_abs_error']:.1f} "
            f"| {100 * r['max_abs_error']:.1f} | {r['coverage']:.0%} |"
        )
    per = board.cells().pivot_table(index="benchmark", columns="method", values="mean_abs_error")
    lines += [
        "",
        "| target | " + " | ".join(per.columns) + " |",
        "|---|" + "---:|" * len(per.columns),
    ]
    for bench, row in per.iterrows():
        lines.append(f"| {bench} | " + " | ".join(f"{100 * v:.1f}" for v in row) + " |")
    return "\n".join(lines)


def main() -> None:
    quick = "--quick" in sys.argv
    data = load()
    if "--leaderboard" in sys.argv:
        for split in ("cutoff", "lofo"):
            print(f"\nsplit {split}\n")
            print(pooled_leaderboard(data["curated"], split))
        return
    res = pd.concat([run(name, obs, quick) for name, obs in data.items()], ignore_index=True)
    res.to_csv(CACHE_DIR / "observational_rows.csv", index=False)
    print("MAE in points (90%-interval coverage); n = predicted models (LOFO: all families)\n")
    print(table(res))
    print("\nPaired: the same held-out (model, target) pairs\n")
    print(paired(res))
    if not math.isfinite(float(res["point"].astype(float).mean())):
        print("\nsome forecasts had no finite point", file=sys.stderr)


if __name__ == "__main__":
    main()
