"""Per-choice metric degradation (METHODS P6; Schaeffer et al. 2024).

Why do downstream scores scale less predictably than losses? Each step from the correct choice's
log-probability to accuracy throws information away: p_choices(correct) also depends on the mass
on the *incorrect* choices (which grows with compute too), Brier mixes every choice in, and accuracy
is a threshold. Correlating each metric with log-compute across one family, item by item, shows
where predictability is lost; the expected order is
log p_vocab >= p_vocab > p_choices > Brier > accuracy.

Input: per-choice scores shaped like the database's ``choice_scores`` view (family, model, n_params,
n_tokens, flops, benchmark, item, choice_index, logprob_sum, is_correct; n_chars/n_bytes optional).
Compute is ``flops`` where given, else 6·N·D. Families that scale N and families that scale D answer
different questions, so :func:`perchoice_analysis` refuses to pool them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from predictors.agreement import kendall_tau_b, pearson_r

METRICS = ("log_p_vocab", "p_vocab", "p_choices", "neg_brier", "acc")
CORRELATIONS = ("kendall", "pearson", "spearman")
REQUIRED = ("model", "item", "choice_index", "logprob_sum", "is_correct")
#: A size that varies by less than this factor across a family counts as held fixed.
FIXED_RATIO = 1.05


def item_metrics(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (model, item): every metric of METHODS E1 recomputed from the stored log-probabilities.

    Brier is the *mean* over choices of (p_choices_i - 1[i = correct])^2, as Schaeffer et al. coded
    it (not the sum); ``neg_brier`` is its negation so that higher is better for every metric.
    Accuracy's argmax takes the first of tied choices (numpy's argmax, as lm-eval).
    """
    missing = [c for c in REQUIRED if c not in scores.columns]
    if missing:
        raise ValueError(f"per-choice scores lack column(s) {missing}; have {list(scores.columns)}")
    df = scores.sort_values(["model", "item", "choice_index"], kind="mergesort")
    n_correct = df.groupby(["model", "item"], sort=False)["is_correct"].transform("sum")
    bad = df.loc[n_correct != 1, ["model", "item"]].drop_duplicates()
    if len(bad):
        first = bad.iloc[0]
        raise ValueError(
            f"{len(bad)} (model, item) groups do not have exactly one correct choice, e.g. "
            f"model {first['model']!r}, item {first['item']!r}"
        )
    keys = ["model", "item"]
    df = df.reset_index(drop=True)
    lp = df["logprob_sum"].astype(float)
    by = [df["model"], df["item"]]
    shifted = pd.Series(np.exp(lp - lp.groupby(by, sort=False).transform("max")), index=lp.index)
    p = shifted / shifted.groupby(by, sort=False).transform("sum")
    target = df["is_correct"].astype(bool)
    out = pd.DataFrame(
        {"model": df["model"], "item": df["item"], "lp": lp, "p": p, "target": target}
    )
    out["sq"] = (p - target.astype(float)) ** 2
    g = out.groupby(keys, sort=False)
    first_max = g["lp"].idxmax()  # the first of tied maxima, like numpy's argmax
    correct = out[out.target].set_index(keys)
    res = pd.DataFrame({"log_p_vocab": correct["lp"], "p_choices": correct["p"]})
    res["acc"] = pd.Series(out.loc[first_max.to_numpy(), "target"].to_numpy(float), first_max.index)
    res["neg_brier"] = -g["sq"].mean()
    wrong = out[~out.target]
    res["p_incorrect_vocab"] = np.exp(wrong["lp"]).groupby([wrong.model, wrong.item]).sum()
    res["p_incorrect_vocab"] = res["p_incorrect_vocab"].fillna(0.0)
    res["p_vocab"] = np.exp(res["log_p_vocab"])
    res["p_incorrect_choices"] = 1.0 - res["p_choices"]
    return res.reset_index()


def log_compute(scores: pd.DataFrame) -> pd.Series:
    """log10 of training compute per model: ``flops`` where given, else 6·n_params·n_tokens."""
    models = scores.drop_duplicates("model").set_index("model")

    def column(name: str) -> pd.Series:
        nan = pd.Series(np.nan, index=models.index, dtype=float)
        return models[name].astype(float) if name in models else nan

    c = column("flops").fillna(6.0 * column("n_params") * column("n_tokens"))
    bad = c[~(c > 0)]
    if len(bad):
        raise ValueError(
            f"no compute for model(s) {sorted(bad.index)[:5]}: give flops or n_params and n_tokens"
        )
    return pd.Series(np.log10(c.to_numpy(float)), index=c.index, name="log10_compute")


def scaling_kind(scores: pd.DataFrame) -> str:
    """What a family varies: 'N' (parameters), 'D' (tokens), 'N+D' (both), or 'none'."""
    models = scores.drop_duplicates("model")

    def varies(col: str) -> bool:
        v = models[col].astype(float).dropna() if col in models else pd.Series(dtype=float)
        return len(v) > 1 and v.min() > 0 and v.max() / v.min() >= FIXED_RATIO

    n, d = varies("n_params"), varies("n_tokens")
    return {(True, False): "N", (False, True): "D", (True, True): "N+D"}.get((n, d), "none")


def _rowwise(values: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Kendall, Pearson and Spearman of each row of ``values`` with ``x``."""
    xs = np.broadcast_to(x, values.shape)
    return {
        "kendall": kendall_tau_b(values, xs),
        "pearson": pearson_r(values, xs),
        "spearman": pearson_r(rankdata(values, axis=1), rankdata(xs, axis=1)),
    }


def ccdf_auc(values: np.ndarray, grid: int = 2001) -> float:
    """Area under the complementary CDF of the per-item correlations on [-1, 1].

    P(corr > t) counts a NaN item (the metric did not move across the family) as exceeding no
    threshold: an item whose metric is constant tells nothing about scaling. So the area is
    (1 - nan_fraction) * (mean + 1); higher means more items scale predictably.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan")
    ok = np.sort(v[np.isfinite(v)])
    t = np.linspace(-1.0, 1.0, grid)
    surv = (ok.size - np.searchsorted(ok, t, side="right")) / v.size
    return float(np.trapezoid(surv, t))


@dataclass
class PerChoiceResult:
    """Per-item correlations with compute, their per-metric summary, and incorrect-choice mass."""

    family: str
    benchmark: str
    scaling: str
    n_models: int
    n_items: int
    per_item: pd.DataFrame
    summary_table: pd.DataFrame
    mass_by_model: pd.DataFrame
    incorrect_trend: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def ordering(self, correlation: str = "kendall", stat: str = "auc") -> list[str]:
        """Metrics from most to least predictable by ``stat`` of ``correlation``."""
        sub = self.summary_table[self.summary_table.correlation == correlation]
        return sub.sort_values(stat, ascending=False, kind="mergesort")["metric"].tolist()

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "benchmark": self.benchmark,
            "scaling": self.scaling,
            "n_models": self.n_models,
            "n_items": self.n_items,
            "brier": "mean over choices of (p_choices_i - 1[i = correct])^2, negated",
            "summary": self.summary_table.to_dict(orient="records"),
            "ordering_kendall_auc": self.ordering(),
            "mass_by_model": self.mass_by_model.to_dict(orient="records"),
            "incorrect_choices": self.incorrect_trend,
            "per_item": self.per_item.to_dict(orient="records"),
            "notes": self.notes,
        }

    def summary(self) -> str:
        lines = [
            f"Per-choice metric predictability: {self.family} ({self.scaling}-scaling, "
            f"{self.n_models} models) on {self.benchmark}, {self.n_items} items",
            f"{'metric':12s} {'corr':9s} {'mean':>7s} {'median':>7s} {'nan':>6s} {'auc':>6s}",
        ]
        for _, r in self.summary_table.iterrows():
            lines.append(
                f"{r['metric']:12s} {r['correlation']:9s} {r['mean']:7.3f} {r['median']:7.3f} "
                f"{r['nan_fraction']:6.2f} {r['auc']:6.3f}"
            )
        lines.append("order (Kendall, AUC): " + " > ".join(self.ordering()))
        lines += [f"  [{i}] {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(lines)


def perchoice_analysis(
    scores: pd.DataFrame, *, family: str | None = None, benchmark: str | None = None
) -> PerChoiceResult:
    """Correlate every per-item metric with log10 compute across a family's models (METHODS P6).

    Several families may be analysed together only if they scale the same way; pooling an
    N-scaling family with a D-scaling one raises ValueError. Items not scored for every model are
    left out (and counted in the notes).
    """
    df = scores
    if family is not None:
        df = df[df["family"] == family]
    if benchmark is not None:
        df = df[df["benchmark"] == benchmark]
    if df.empty:
        raise ValueError(f"no per-choice scores for family={family!r}, benchmark={benchmark!r}")
    benches = sorted(df["benchmark"].astype(str).unique()) if "benchmark" in df else ["?"]
    if len(benches) > 1:
        raise ValueError(f"choose one benchmark; these scores hold {benches}")
    fams = sorted(df["family"].astype(str).unique()) if "family" in df else ["?"]
    kinds = {f: scaling_kind(df[df["family"] == f]) for f in fams} if "family" in df else {}
    if len(set(kinds.values())) > 1:
        raise ValueError(
            "refusing to pool families that scale different things (N = parameters, D = tokens): "
            + ", ".join(f"{f}: {k}" for f, k in kinds.items())
        )
    notes: list[str] = []
    dup = df.duplicated(["model", "item", "choice_index"], keep="last")
    if dup.any():
        notes.append(f"{int(dup.sum())} repeated per-choice rows (several runs): kept the last")
        df = df[~dup]
    logc = log_compute(df)
    kind = scaling_kind(df)
    if len(logc) < 3:
        raise ValueError(f"need at least 3 models to correlate with compute, got {len(logc)}")
    if logc.nunique() < 2:
        raise ValueError("every model has the same compute: nothing to correlate with")
    met = item_metrics(df)
    order = logc.sort_values().index
    per_item_rows = []
    n_items = 0
    for metric in METRICS:
        wide = met.pivot(index="item", columns="model", values=metric).reindex(columns=order)
        complete = wide.dropna()
        if metric == METRICS[0] and len(complete) < len(wide):
            notes.append(f"{len(wide) - len(complete)} items not scored for every model: left out")
        n_items = len(complete)
        corr = _rowwise(complete.to_numpy(dtype=float), logc[order].to_numpy())
        per_item_rows.append(pd.DataFrame({"item": complete.index, "metric": metric, **corr}))
    per_item = pd.concat(per_item_rows, ignore_index=True)
    summary = _summarise(per_item)
    mass = _mass_by_model(met, logc)
    trend = _incorrect_trend(df, logc)
    notes.append(
        "NaN correlations come from metrics constant across the family (often accuracy): "
        "counted in nan_fraction, left out of mean and median, and counted as exceeding no "
        "threshold in the AUC"
    )
    return PerChoiceResult(
        family=",".join(fams), benchmark=benches[0], scaling=kind, n_models=len(logc),
        n_items=n_items, per_item=per_item, summary_table=summary, mass_by_model=mass,
        incorrect_trend=trend, notes=notes,
    )  # fmt: skip


def _summarise(per_item: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for metric in METRICS:
        sub = per_item[per_item.metric == metric]
        for corr in CORRELATIONS:
            v = sub[corr].to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            rows.append({
                "metric": metric, "correlation": corr,
                "mean": float(ok.mean()) if ok.size else np.nan,
                "median": float(np.median(ok)) if ok.size else np.nan,
                "nan_fraction": float(1 - ok.size / v.size) if v.size else np.nan,
                "auc": ccdf_auc(v),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _mass_by_model(met: pd.DataFrame, logc: pd.Series) -> pd.DataFrame:
    cols = ["p_vocab", "p_incorrect_vocab", "p_choices", "p_incorrect_choices", "acc"]
    out = met.groupby("model")[cols].mean().join(logc).sort_values("log10_compute")
    return out.reset_index()


def _incorrect_trend(df: pd.DataFrame, logc: pd.Series) -> dict[str, Any]:
    """Does each incorrect choice gain vocabulary probability with compute? (Spearman per choice)."""
    wrong = df[~df["is_correct"].astype(bool)]
    wide = wrong.pivot_table(
        index=["item", "choice_index"], columns="model", values="logprob_sum", aggfunc="last"
    ).reindex(columns=logc.sort_values().index)
    wide = wide.dropna()
    if wide.empty:
        return {"n_incorrect_choices": 0}
    rho = _rowwise(wide.to_numpy(dtype=float), logc.sort_values().to_numpy())["spearman"]
    ok = rho[np.isfinite(rho)]
    return {
        "n_incorrect_choices": len(wide),
        "fraction_rising": float((ok > 0).mean()) if ok.size else np.nan,
        "median_spearman": float(np.median(ok)) if ok.size else np.nan,
        "meaning": "share of incorrect choices whose p_vocab rises with compute; mass that "
        "rises on wrong answers is what makes p_choices, Brier and accuracy less predictable",
    }
