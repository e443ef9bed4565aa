"""Defaults of a densing analysis read from the database: ceiling, reference, benchmark, loss set.

Why: after the public imports a user should see the densing law without knowing that Pythia's
Winogrande is 5-shot, that its loss set is a perplexity, or that a fitted score ceiling leaves
most models uninvertible. The CLI (``capcast densing --from-db``), ``POST /v1/densing`` and
``/dashboard/densing`` take their defaults from here, so they answer the same question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from db.benchmark_registry import score_ceiling, task_of

#: Xiao et al. 2024 ("Densing Law of LLMs"): ln ρ_max grows by A ≈ 0.0073 per day, so density
#: doubles every ln 2 / A ≈ 95 days. Shown beside our fit; not used by it.
PAPER_SLOPE_PER_DAY = 0.0073
PAPER_DOUBLING_DAYS = math.log(2) / PAPER_SLOPE_PER_DAY

#: Loss metrics a reference family's loss set may carry, in order of preference (METHODS P4
#: wants the conditional loss on the task; a perplexity stands in, fitted in log).
LOSS_METRICS = ("loss", "bpb", "ppl")

#: A reference family must leave chance on a task before its score curve can be inverted: its
#: best model must be this fraction of the way from chance to a perfect score (Pythia on 5-shot
#: MMLU reaches 0.30 against 0.25, 7% of the way; on Winogrande 0.66 against 0.5, 31%).
MIN_HEADROOM = 0.1

_SHOTS = re.compile(r"@(\d+|unknown)shot$")

CeilingArg = float | Literal["auto", "fitted"]


def resolve_ceiling(ceiling: CeilingArg, benchmark: str, metric: str) -> tuple[float | None, str]:
    """The ceiling to fit with, and where it came from (said in the result's notes).

    ``"auto"`` is 1.0 for a bounded accuracy of the benchmark registry and fitted otherwise
    (:func:`db.benchmark_registry.score_ceiling`); ``"fitted"`` always fits it; a number fixes it.

    >>> resolve_ceiling("auto", "winogrande@5shot", "acc")[0], resolve_ceiling("auto", "x", "acc")[0]
    (1.0, None)
    """
    if ceiling == "fitted":
        return None, "score ceiling fitted (asked)"
    if ceiling == "auto":
        value = score_ceiling(benchmark, metric)
        if value is None:
            return None, f"score ceiling fitted: {benchmark}/{metric} is not a bounded accuracy"
        return value, f"score ceiling {value:g}: {benchmark}/{metric} is a bounded accuracy"
    return float(ceiling), f"score ceiling {float(ceiling):g} (asked)"


def parse_ceiling(text: str) -> CeilingArg:
    """``auto``, ``fitted`` or a finite number above 0 (the CLI's ``--ceiling``)."""
    if text == "auto":
        return "auto"
    if text == "fitted":
        return "fitted"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected auto, fitted or a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1e6):
        raise ValueError(f"a ceiling must be finite, above 0 and at most 1e6, got {text!r}")
    return value


@dataclass(frozen=True)
class DensingDefault:
    """What a densing analysis uses when it is asked with no names."""

    reference_family: str
    benchmark: str
    loss_benchmark: str
    loss_metric: str
    size_column: str
    n_targets: int  # models outside the reference family with a score, a size and a date

    def as_query(self) -> dict[str, str]:
        return {
            "reference_family": self.reference_family,
            "benchmark": self.benchmark,
            "loss_benchmark": self.loss_benchmark,
            "loss_metric": self.loss_metric,
            "size_column": self.size_column,
        }


def _headroom_ok(best: float, benchmark: str) -> bool:
    spec = task_of(benchmark)
    if spec is None or spec.chance is None or not spec.higher_is_better:
        return True  # nothing to compare with: let the fit decide
    return best >= spec.chance + MIN_HEADROOM * (1.0 - spec.chance)


def pick_default(
    summary: pd.DataFrame, *, metric: str = "acc", loss_metric: str | None = None
) -> DensingDefault | None:
    """The reference family, task, loss set and size column for a densing analysis, or None.

    ``summary`` has one row per (family, model, benchmark, metric) with ``best`` (the highest
    value), ``dated``, ``sized`` and ``sized_nonembed`` (booleans). The reference family is the
    one with task and loss rows and the most models; its task is the one with the most dated,
    sized models outside it among tasks it leaves chance on (:data:`MIN_HEADROOM`); its loss set
    has the task's shot count if it can, then the preferred loss metric, then the most models.
    The size is non-embedding when every target carries one, else total parameters.
    """
    losses = (loss_metric,) if loss_metric else LOSS_METRICS
    s = summary[summary["family"].notna()]
    task = s[s["metric"] == metric]
    loss = s[s["metric"].isin(losses)]
    refs = sorted(set(task["family"]) & set(loss["family"]))
    if not refs:
        return None
    size = s[s["family"].isin(refs)].groupby("family")["model"].nunique()
    family = sorted(refs, key=lambda f: (-int(size[f]), f))[0]
    mine = task[task["family"] == family]
    others = summary[(summary["family"] != family) & (summary["metric"] == metric)]
    others = others[others["dated"].astype(bool) & others["sized"].astype(bool)]
    n_targets = others.groupby("benchmark")["model"].nunique()
    best = mine.groupby("benchmark")["best"].max()
    names = sorted(best.index)
    usable = [b for b in names if _headroom_ok(float(best[b]), b)] or names
    benchmark = sorted(usable, key=lambda b: (-int(n_targets.get(b, 0)), b))[0]
    shots = _SHOTS.search(benchmark)
    fam_loss = loss[loss["family"] == family]
    counts = fam_loss.groupby(["benchmark", "metric"])["model"].nunique()

    def rank(key: tuple[str, str]) -> tuple[bool, int, int, str]:
        b, m = key
        own = _SHOTS.search(b)
        same = (own.group(1) if own else None) == (shots.group(1) if shots else None)
        return (not same, losses.index(m), -int(counts[key]), b)

    loss_benchmark, chosen_metric = sorted(counts.index, key=rank)[0]
    tgt = others[others["benchmark"] == benchmark]
    nonembed = bool(len(tgt)) and bool(tgt["sized_nonembed"].astype(bool).all())
    return DensingDefault(
        reference_family=str(family),
        benchmark=str(benchmark),
        loss_benchmark=str(loss_benchmark),
        loss_metric=str(chosen_metric),
        size_column="n_params_nonembed" if nonembed else "n_params",
        n_targets=int(n_targets.get(benchmark, 0)),
    )


SUMMARY_SQL = (
    "SELECT family, model, benchmark, metric, MAX(value) AS best,"
    " MAX(CASE WHEN release_date IS NOT NULL THEN 1 ELSE 0 END) AS dated,"
    " MAX(CASE WHEN n_params IS NOT NULL THEN 1 ELSE 0 END) AS sized,"
    " MAX(CASE WHEN n_params_nonembed IS NOT NULL THEN 1 ELSE 0 END) AS sized_nonembed"
    " FROM observations WHERE metric IN ({metrics}) GROUP BY family, model, benchmark, metric"
)


def summarise(obs: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """:func:`pick_default`'s input from an observations frame (what SUMMARY_SQL gives)."""
    o = obs[obs["metric"].isin(metrics)].assign(
        dated=obs["release_date"].notna(),
        sized=obs["n_params"].notna(),
        sized_nonembed=obs["n_params_nonembed"].notna(),
    )
    keys = ["family", "model", "benchmark", "metric"]
    return (
        o.groupby(keys, dropna=False)
        .agg(
            best=("value", "max"),
            dated=("dated", "max"),
            sized=("sized", "max"),
            sized_nonembed=("sized_nonembed", "max"),
        )
        .reset_index()
    )
