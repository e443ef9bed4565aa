"""Regenerate the predictors-I tables (issue 3): Gadre reproduction, beyond-the-paper, Pythia, densing.

Usage: ``.venv/bin/python bench/report_predictors_i.py {gadre|beyond|pythia|densing|all}``
Data come from ``$CAPCAST_DATA_DIR`` (default ../shared/data) through the db importers; parsed
tables are cached under /tmp/capcast-report-cache. The densing plot goes to /tmp/densing_pythia.png.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from db.config import get_settings
from predictors.backtest import backtest
from predictors.baselines import ExponentialCompute, SigmoidLogCompute, SingleStep
from predictors.densing import DensityReference, density_table, fit_densing_law, plot_densing
from predictors.filters import FILTER_COLUMNS, parse_filter
from predictors.ladder import TwoStepLadder
from predictors.loss_accuracy import GadreChain

CACHE = Path("/tmp/capcast-report-cache")
DATA = Path(get_settings().data_dir)

# Gadre et al. Table: published relative errors (%) of the 17-task average error.
PUBLISHED_ERR = {
    ("rpj", "1.4B"): 3.6,
    ("rpj", "6.9B"): 0.05,
    ("c4_original", "1.4B"): 9.6,
    ("c4_original", "6.9B"): 0.14,
    ("rw_original", "1.4B"): 5.6,
    ("rw_original", "6.9B"): 2.9,
}
_PAPER_LOSS = "(n_params < 5e8 and M == 20) or (n_params < 2e7 and M == 320)"
#: ``M`` (tokens per parameter, rounded) is a column this report adds to the observations.
PAPER_LOSS_FIT = parse_filter(_PAPER_LOSS, columns=FILTER_COLUMNS | {"M"})
PAPER_ERROR_FIT = parse_filter(
    _PAPER_LOSS + " or (n_params > 1e9 and n_params < 2e9 and M == 20)",
    columns=FILTER_COLUMNS | {"M"},
)
BEYOND_LOSS_FIT = parse_filter(
    "n_params < 5e8 or (n_params > 1e9 and n_params < 2e9 and M == 20)",
    columns=FILTER_COLUMNS | {"M"},
)
DATASETS = ("rpj", "c4_original", "rw_original")
PYTHIA_TASKS = (
    "arc_easy",
    "arc_challenge",
    "piqa",
    "sciq",
    "logiqa",
    "winogrande",
    "wsc",
    "lambada_openai",
)


def _cached(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}.pkl"
    if path.exists():
        return pd.read_pickle(path)
    df = build()
    df.to_pickle(path)
    return df


def gadre_obs() -> pd.DataFrame:
    from db.importers.gadre import gadre_observations

    obs = _cached("gadre", lambda: gadre_observations(DATA / "gadre-overtraining"))
    return obs.assign(M=(obs["n_tokens"] / obs["n_params"]).round(3))


def pythia_obs() -> pd.DataFrame:
    from db.importers.pythia import pythia_observations

    return _cached("pythia", lambda: pythia_observations(DATA / "pythia-evals"))


def _gadre_targets(o: pd.DataFrame) -> pd.DataFrame:
    f = o[o["benchmark"] == "avg17"]
    one = f[(f["n_params"] > 1e9) & (f["n_params"] < 2e9)].sort_values("M").tail(1)
    return pd.concat([one, f[f["n_params"] > 5e9]])


def _actual(o: pd.DataFrame, model: str, bench: str, metric: str) -> float:
    r = o[(o["model"] == model) & (o["benchmark"] == bench) & (o["metric"] == metric)]
    return float(r["value"].iloc[0])


def _chain_rows(est: GadreChain, o: pd.DataFrame, ds: str) -> list[dict]:
    tg = _gadre_targets(o)
    rows = []
    for f, (_, t) in zip(est.predict(tg), tg.iterrows(), strict=True):
        loss_true = _actual(o, t["model"], "c4_val", "loss")
        size = "1.4B" if t["n_params"] < 2e9 else "6.9B"
        rows.append(
            {
                "dataset": ds,
                "target": f"{size} M={t['M']:g}",
                "loss_rel_%": 100 * abs(f.diagnostics["predicted_loss"] - loss_true) / loss_true,
                "err_pred": f.point,
                "err_true": t["value"],
                "err_rel_%": 100 * abs(f.point - t["value"]) / t["value"],
                "published_%": PUBLISHED_ERR[(ds, size)],
                "lo90": f.lower,
                "hi90": f.upper,
                "covered": bool(f.lower <= t["value"] <= f.upper),
                "fit_compute_frac": f.diagnostics["fit_flops_fraction"],
            }
        )
    return rows


def report_gadre() -> pd.DataFrame:
    o = gadre_obs()
    rows = []
    for ds in DATASETS:
        od = o[o["family"] == f"gadre-{ds}"]
        est = GadreChain(loss_fit=PAPER_LOSS_FIT, error_fit=PAPER_ERROR_FIT, n_bootstrap=1000).fit(
            od
        )
        rows += _chain_rows(est, od, ds)
    df = pd.DataFrame(rows)
    df["diff_pp"] = df["err_rel_%"] - df["published_%"]
    print(
        "\n## Gadre et al. reproduction: paper's fit set, C4-eval loss, 17-task error (relative errors %)"
    )
    print(
        df[["dataset", "target", "loss_rel_%", "err_rel_%", "published_%", "diff_pp"]]
        .round(3)
        .to_string(index=False)
    )
    print(f"max |diff| vs published: {df['diff_pp'].abs().max():.3f} pp")
    return df


def report_beyond() -> pd.DataFrame:
    o = gadre_obs()
    out = []
    for name, kw in {
        "paper recipe": dict(loss_fit=PAPER_LOSS_FIT, error_fit=PAPER_ERROR_FIT),
        "capcast": dict(
            loss_fit=BEYOND_LOSS_FIT,
            error_fit=PAPER_ERROR_FIT,
            error_on_predicted_loss=True,
            bootstrap="residuals",
        ),
    }.items():
        for ds in DATASETS:
            od = o[o["family"] == f"gadre-{ds}"]
            est = GadreChain(n_bootstrap=1000, **kw).fit(od)
            out += [{"predictor": name, **r} for r in _chain_rows(est, od, ds)]
    df = pd.DataFrame(out)
    print(
        "\n## Beyond the paper: paper's fit set + all runs < 0.5B params (90% bootstrap intervals)"
    )
    print(
        "capcast = loss law on every run < 0.5B (+ the paper's 1.4B M=20 point), error law on the"
    )
    print("paper's error points fitted against the loss law's *predicted* losses")
    cols = [
        "predictor",
        "dataset",
        "target",
        "err_pred",
        "err_true",
        "err_rel_%",
        "lo90",
        "hi90",
        "covered",
        "fit_compute_frac",
    ]
    print(df[cols].round(4).to_string(index=False))
    df["width90"] = df["hi90"] - df["lo90"]
    s = df.groupby("predictor").agg(
        mean_err_rel=("err_rel_%", "mean"),
        max_err_rel=("err_rel_%", "max"),
        covered=("covered", "sum"),
        n=("covered", "size"),
        mean_width90=("width90", "mean"),
    )
    print(s.round(3).to_string())
    return df


def _pythia_estimators(task: str) -> dict[str, object]:
    common = dict(benchmark=task, metric="acc", n_bootstrap=100)
    return {
        "gadre(lambada ppl)": GadreChain(
            loss_benchmark="lambada_openai", loss_metric="ppl", checkpoints="all", **common
        ),
        "ladder(lambada ppl)": TwoStepLadder(
            intermediate_benchmark="lambada_openai",
            intermediate_metric="ppl",
            step1_points="all",
            **common,
        ),
        "exponential": ExponentialCompute(checkpoints="all", **common),
        "sigmoid": SigmoidLogCompute(checkpoints="all", **common),
        "single_step": SingleStep(checkpoints="all", **common),
    }


def report_pythia(family: str = "pythia") -> pd.DataFrame:
    o = pythia_obs()
    o = o[(o["family"] == family) & (o["checkpoint_step"] > 0)]
    fit, pred = parse_filter("n_params <= 1.5e9"), parse_filter("n_params > 2e9")
    rows = []
    for task in PYTHIA_TASKS:
        for name, est in _pythia_estimators(task).items():
            t0 = time.perf_counter()
            try:
                res = backtest(est, o, fit=fit, predict=pred)
            except Exception as exc:  # report, don't hide
                rows.append({"predictor": name, "task": task, "model": "-", "error": str(exc)})
                continue
            print(
                f"  {task:15s} {name:20s} {time.perf_counter() - t0:6.1f}s",
                file=sys.stderr,
                flush=True,
            )
            for _, r in res.rows.iterrows():
                rows.append(
                    {
                        "predictor": name,
                        "task": task,
                        "model": r["model"],
                        "pred": r["predicted"],
                        "actual": r["actual"],
                        "abs_pts": 100 * r["abs_error"],
                        "covered": bool(r["lower"] <= r["actual"] <= r["upper"]),
                        "secs": time.perf_counter() - t0,
                    }
                )
    df = pd.DataFrame(rows)
    print(
        f"\n## Pythia ({family}): fit on models <= 1.4B (all checkpoints > 0), predict 2.8B/6.9B/12B final, 8 tasks, acc"
    )
    s = df.groupby("predictor").agg(
        mean_abs_pts=("abs_pts", "mean"),
        max_abs_pts=("abs_pts", "max"),
        coverage90=("covered", "mean"),
        n=("abs_pts", "size"),
    )
    print(s.sort_values("mean_abs_pts").round(2).to_string())
    per = df.pivot_table(index="task", columns="predictor", values="abs_pts", aggfunc="mean")
    print("\nmean abs error (points) per task over the three targets:")
    print(per.round(2).to_string())
    return df


def _densing_targets(bench: str) -> pd.DataFrame:
    from db.importers.epoch import epoch_release_dates, normalise_name
    from db.importers.sloth import sloth_observations

    s = _cached("sloth", lambda: sloth_observations(DATA / "sloth-openllm", dumps=False))
    cur = pd.read_csv(DATA / "sloth-openllm" / "data_v1.csv")
    base = set(cur.loc[~cur["Instruct"].astype(bool), "Model"])
    s = s[
        (s["source"].str.endswith("data_v1.csv"))
        & s["model"].isin(base)
        & (s["benchmark"] == bench)
    ]
    dates = epoch_release_dates(DATA / "epoch-benchmarks").dropna(subset=["release_date"])
    dates["key"] = dates["model_version"].map(normalise_name)
    dates = dates.sort_values("release_date").drop_duplicates("key")
    s = s.assign(key=s["model"].map(normalise_name)).merge(
        dates[["key", "release_date"]], on="key", suffixes=("_x", "")
    )
    return pd.DataFrame(
        {
            "model": s["model"],
            "n_params": s["n_params"],
            "release_date": s["release_date"],
            "score": s["value"],
        }
    ).drop_duplicates("model")


def report_densing() -> None:
    o = pythia_obs()
    print(
        "\n## Densing law, reference family Pythia (standard), L = log LAMBADA perplexity (proxy, see notes)"
    )
    print(
        "targets: base models of sloth-openllm data_v1 (params) dated by epoch-benchmarks model_versions.csv"
    )
    pairs = (("winogrande@5shot", "Winogrande", "acc"), ("arc_challenge@5shot", "ARC", "acc_norm"))
    for (ref_bench, tgt_bench, metric), ceiling in itertools.product(pairs, (None, 1.0)):
        ref = DensityReference(
            reference_family="pythia",
            ceiling=ceiling,
            benchmark=ref_bench,
            metric=metric,
            loss_benchmark="lambada_openai@5shot",
            loss_metric="ppl",
            size_column="n_params",
        )
        ref.fit(o[o["checkpoint_step"] > 0])
        tg = _densing_targets(tgt_bench)
        table = density_table(ref, tg)
        n_ok = int(np.isfinite(table["density"]).sum())
        print(
            f"\n### score {ref_bench} (Pythia) ~ {tgt_bench} (leaderboard), ceiling {ceiling}: loss fit "
            f"{ref.loss_fit_.status}, score fit {ref.score_fit_.status} {ref.score_fit_.as_dict()}"
        )
        print(
            f"reference score range {ref.score_range_}; {n_ok} of {len(table)} dated targets invertible"
        )
        try:
            res = fit_densing_law(table, ref.describe(), alpha=0.1)
        except ValueError as exc:
            print(f"densing law not fitted: {exc}")
            continue
        print(res.summary())
        print(
            f"paper: A ≈ 0.0073/day, doubling ≈ 95-100 days; ours/paper slope = {res.slope / 0.0073:.2f}"
        )
        path = Path(f"/tmp/densing_pythia_{tgt_bench.lower()}{'_ceiling1' if ceiling else ''}.png")
        plot_densing(res).savefig(path, dpi=150)
        print(f"plot: {path}")
        show = res.points[
            ["model", "release_date", "n_params", "score", "effective_size", "density", "note"]
        ]
        print(
            show.assign(release_date=show["release_date"].dt.date).round(4).to_string(index=False)
        )


def main(argv: list[str]) -> None:
    what = argv[1] if len(argv) > 1 else "all"
    pd.set_option("display.width", 200)
    if what in ("gadre", "all"):
        report_gadre()
    if what in ("beyond", "all"):
        report_beyond()
    if what in ("pythia", "all"):
        report_pythia("pythia")
    if what == "pythia-deduped":
        report_pythia("pythia-deduped")
    if what in ("densing", "all"):
        report_densing()
    if what not in ("gadre", "beyond", "pythia", "pythia-deduped", "densing", "all"):
        sys.exit(
            f"unknown section {what!r}; use gadre, beyond, pythia, pythia-deduped, densing or all"
        )


if __name__ == "__main__":
    main(sys.argv)
