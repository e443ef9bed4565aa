"""The forecast-quality leaderboard: every method backtested on every family and benchmark.

No tool publishes how its forecasts would have done; this one does, on whatever data it is given.
For every cell (family, benchmark, metric) of an observations frame and every method, three
standard splits are scored by the same rule as :func:`predictors.backtest.backtest`:

``largest``
    the model(s) with the largest training compute held out; fit on the family's other models.
``two_largest``
    the two largest compute values held out (needs at least three).
``checkpoints``
    only for families with checkpoints (several ``checkpoint_step`` values per model): every
    model's final checkpoint predicted from the family's rows in the first ``checkpoint_fraction``
    of each model's training (by tokens, else by step).

With ``pooled=True`` a cell spans every family instead (family ``"(all families)"``), for the
methods that learn across families (``observational``) and the baselines they must beat:

``cutoff``
    the models above the 75% quantile of training compute across families held out; fit on
    every family's other models.
``lofo`` (``pooled_split="lofo"``)
    leave one family out: each family's models held out in turn (one split per family, at most
    :data:`MAX_LOFO_FAMILIES`), fit on the other families: a family nobody has measured yet.

A method that raises :class:`~predictors.base.FitError` or ``ValueError``, or returns a forecast
without a finite point, *refused* that target: refusals are counted and their messages kept,
never dropped, since a method that refuses hard cells would otherwise look better than it is.
The work is capped (``max_cells``, ``n_bootstrap``) and seeded (``random_state``), so the same
frame gives the same table.

>>> import numpy as np, pandas as pd
>>> n = np.geomspace(1e8, 1e10, 6)
>>> obs = pd.DataFrame({"model": [f"m{i}" for i in range(6)], "family": "f", "n_params": n,
...                     "n_tokens": 20 * n, "benchmark": "b", "metric": "acc",
...                     "value": 0.25 + 0.5 * np.log10(n / 1e8) / 2})
>>> board = leaderboard(obs, methods=["exponential"], n_bootstrap=0)
>>> board.table()["method"].tolist()
['exponential']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from predictors.backtest import backtest
from predictors.base import (
    MAX_BOOTSTRAP,
    FitError,
    Forecast,
    Forecaster,
    clone,
    require_columns,
)
from predictors.filters import parse_filter
from predictors.selection import final_checkpoint, task_level

#: The splits, in table order.
SPLITS: tuple[str, ...] = ("largest", "two_largest", "checkpoints", "cutoff")
#: The family label of a cell that spans every family (``pooled=True``).
POOLED = "(all families)"
#: Fewest families with scores on a (benchmark, metric) for it to get a pooled cell.
MIN_POOLED_FAMILIES = 3
#: The pooled ``cutoff`` split holds out the models above this quantile of training compute.
CUTOFF_QUANTILE = 0.75
#: The pooled cells' splits; ``lofo`` is one fit per family, so it is asked for by name.
POOLED_SPLITS = ("cutoff", "lofo")
#: Most families a pooled ``lofo`` cell holds out (in name order; the rest are counted).
MAX_LOFO_FAMILIES = 50
#: Most (family, benchmark, metric) cells one leaderboard scores; the rest are counted, not run.
MAX_CELLS = 500
#: Default cells per call: a dashboard page or REST request stays within a fit budget.
DEFAULT_MAX_CELLS = 24
#: Default bootstrap resamples per fit (each method's own default is 200-1000; this bounds work).
DEFAULT_N_BOOTSTRAP = 100
#: Longest refusal message kept per row.
MAX_MESSAGE = 300
#: The share of each model's training whose checkpoints the ``checkpoints`` split fits on.
CHECKPOINT_FRACTION = 0.6

ROW_COLUMNS = (
    "dataset", "family", "benchmark", "metric", "split", "method", "model",
    "predicted", "lower", "upper", "actual", "abs_error", "inside", "refusal",
)  # fmt: skip
#: What a method raises when the data cannot support it: a refusal, counted. Anything else is a bug.
REFUSALS: tuple[type[Exception], ...] = (FitError, ValueError, ArithmeticError)
#: The target columns a method may read (as in the backtest harness).
TARGET_COLUMNS = ("model", "family", "n_params", "n_params_nonembed", "n_tokens", "flops",
                  "release_date")  # fmt: skip


@dataclass(frozen=True)
class Split:
    """One backtest split of one cell: the rows to fit on and the final rows to predict."""

    name: str
    fit: pd.DataFrame
    actual: pd.DataFrame
    description: str


def _compute(rows: pd.DataFrame, params_fallback: bool = True) -> pd.Series:
    """Training compute per model at its final checkpoint: ``flops``, else 6·N·D, else N (only
    within a family, where N ranks models as compute does: ``params_fallback``)."""
    final = final_checkpoint(rows)
    if "n_params" not in final.columns:
        raise ValueError("leaderboard: observations lack n_params to rank models by size")
    n = pd.to_numeric(final["n_params"], errors="coerce")
    d = pd.to_numeric(final["n_tokens"], errors="coerce") if "n_tokens" in final else np.nan
    c = 6.0 * n * d
    if "flops" in final:
        f = pd.to_numeric(final["flops"], errors="coerce")
        c = f.where(np.isfinite(f), c)
    if params_fallback:
        c = c.where(np.isfinite(c), n)
    return pd.Series(c.astype(float).to_numpy(), index=final["model"].astype(str).to_numpy())


def largest_splits(family_obs: pd.DataFrame, benchmark: str, metric: str) -> list[Split]:
    """The ``largest`` and ``two_largest`` splits of one cell: the family's rows without the
    held-out models, and those models' final rows on the cell.

    Models are ranked by final training compute; ties at a cut are held out together. A split
    whose fit side would keep fewer than two compute values is left out.
    """
    cell = family_obs[(family_obs["benchmark"] == benchmark) & (family_obs["metric"] == metric)]
    compute = _compute(task_level(cell)).dropna()
    levels = np.sort(compute.unique())
    out = []
    for name, k in (("largest", 1), ("two_largest", 2)):
        if len(levels) < k + 2:
            continue
        cut = float(levels[-k])
        held = sorted(str(m) for m in compute.index[compute >= cut])
        fit = family_obs[~family_obs["model"].astype(str).isin(held)]
        actual = final_checkpoint(task_level(cell[cell["model"].astype(str).isin(held)]))
        out.append(Split(name, fit, actual, f"hold out {', '.join(held)}"))
    return out


def cutoff_split(
    obs: pd.DataFrame, benchmark: str, metric: str, quantile: float = CUTOFF_QUANTILE
) -> Split | None:
    """The models above the ``quantile`` of final training compute, across every family, held
    out; fit on all rows of the others (every benchmark: the base scores a cross-family method
    reads). Compute is FLOPs, else 6·N·D (parameters alone do not compare across families);
    models without it are left out on both sides, so every method sees the same models. None
    when fewer than two compute values would stay, or none would be held out."""
    cell = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    compute = _compute(task_level(cell), params_fallback=False).dropna()
    if compute.empty:
        return None
    cut = float(np.quantile(compute.to_numpy(), quantile))
    held = sorted(str(m) for m in compute.index[compute > cut])
    if not held or compute[compute <= cut].nunique() < 2:
        return None
    measured = _compute(task_level(obs), params_fallback=False).dropna().index.astype(str)
    models = obs["model"].astype(str)
    fit = obs[models.isin(measured) & ~models.isin(held)]
    actual = final_checkpoint(task_level(cell[cell["model"].astype(str).isin(held)]))
    return Split("cutoff", fit, actual, f"hold out {len(held)} models above {cut:.3g} compute")


def lofo_splits(obs: pd.DataFrame, benchmark: str, metric: str) -> list[Split]:
    """Leave one family out: per family with scores on the cell, its models held out and every
    row of the other families' models fitted (compute measured as in :func:`cutoff_split`). A
    family whose removal leaves fewer than two compute values is skipped."""
    cell = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    rows = task_level(cell)
    compute = _compute(rows, params_fallback=False).dropna()
    family_of = rows.groupby(rows["model"].astype(str))["family"].first()
    family_of = family_of.reindex(compute.index).dropna().astype(str)
    measured = _compute(task_level(obs), params_fallback=False).dropna().index.astype(str)
    models = obs["model"].astype(str)
    out = []
    for family in sorted(family_of.unique()):
        held = sorted(family_of.index[family_of == family])
        if compute.drop(held).nunique() < 2:
            continue
        fit = obs[models.isin(measured) & (obs["family"].astype(str) != family)]
        actual = final_checkpoint(task_level(cell[cell["model"].astype(str).isin(held)]))
        out.append(Split("lofo", fit, actual, f"hold out family {family} ({len(held)} models)"))
    return out


def _progress(rows: pd.DataFrame) -> tuple[str, pd.Series] | None:
    """(column, values) that measure training progress: ``n_tokens`` where every row has it."""
    for col in ("n_tokens", "checkpoint_step"):
        if col in rows.columns:
            v = pd.to_numeric(rows[col], errors="coerce")
            if v.notna().all():
                return col, v.astype(float)
    return None


def checkpoint_split(
    family_obs: pd.DataFrame,
    benchmark: str,
    metric: str,
    fraction: float = CHECKPOINT_FRACTION,
) -> Split | None:
    """Each model's final checkpoint from the family's rows in the first ``fraction`` of its
    training (by tokens, else step); None unless some model has several checkpoints and an
    early one on this benchmark (a ladder evaluated only near its end has no such split)."""
    if "checkpoint_step" not in family_obs.columns:
        return None
    cell = family_obs[(family_obs["benchmark"] == benchmark) & (family_obs["metric"] == metric)]
    steps = cell.dropna(subset=["checkpoint_step"]).groupby("model")["checkpoint_step"].nunique()
    if steps.empty or steps.max() < 2:
        return None
    progress = _progress(family_obs)
    if progress is None:
        return None
    col, value = progress
    end = value.groupby(family_obs["model"]).transform("max")
    fit = family_obs[value <= fraction * end]
    actual = final_checkpoint(task_level(cell))
    models_end = end.groupby(family_obs["model"]).max()
    actual = actual[actual["model"].map(models_end).gt(0)]  # a model with no training to cut
    early = fit[(fit["benchmark"] == benchmark) & (fit["metric"] == metric)]
    actual = actual[actual["model"].isin(early["model"])]  # a model with no early cell row: none
    if actual.empty:
        return None
    return Split("checkpoints", fit, actual, f"fit on {col} <= {fraction:g} x each model's final")


def _short(message: str) -> str:
    """A refusal message cut to :data:`MAX_MESSAGE` characters (some list every column)."""
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def _rows_of(forecasts: Sequence[Forecast], actual: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for f, (_, a) in zip(forecasts, actual.iterrows(), strict=True):
        y = float(a["value"])
        ok = math.isfinite(f.point)
        has_iv = ok and math.isfinite(f.lower) and math.isfinite(f.upper)
        refusal = "" if ok else _short("; ".join(f.notes) or "no finite forecast")
        rows.append({
            "model": str(a["model"]), "predicted": f.point, "lower": f.lower, "upper": f.upper,
            "actual": y, "abs_error": abs(f.point - y) if ok else math.nan,
            "inside": (f.lower <= y <= f.upper) if has_iv else None, "refusal": refusal,
        })  # fmt: skip
    return rows


def score_split(estimator: Forecaster, split: Split) -> list[dict[str, Any]]:
    """Per-target rows of one method on one split; a refusal becomes rows that say why.

    The ``largest`` splits go through :func:`predictors.backtest.backtest` itself; the
    ``checkpoints`` split predicts models that are also in the fit rows (their early
    checkpoints), which that harness refuses, so it is scored here by the same rule.
    """
    try:
        if split.name == "checkpoints":
            fitted = clone(estimator).fit(split.fit)
            targets = split.actual[[c for c in TARGET_COLUMNS if c in split.actual.columns]]
            forecasts = fitted.predict(targets.reset_index(drop=True))
            actual = split.actual
        else:
            listed = "[" + ", ".join(repr(m) for m in split.actual["model"].unique()) + "]"
            result = backtest(
                estimator,
                pd.concat([split.fit, split.actual], ignore_index=True),
                fit=parse_filter(f"not (model in {listed})"),
                predict=parse_filter(f"model in {listed}"),
            )
            forecasts = list(result.forecasts)
            actual = result.rows.rename(columns={"actual": "value"})
    except REFUSALS as exc:
        why = _short(f"{type(exc).__name__}: {exc}")
        return [
            {"model": str(m), "predicted": math.nan, "lower": math.nan, "upper": math.nan,
             "actual": float(v), "abs_error": math.nan, "inside": None, "refusal": why}
            for m, v in zip(split.actual["model"], split.actual["value"], strict=True)
        ]  # fmt: skip
    return _rows_of(forecasts, actual)


def _summary(rows: pd.DataFrame) -> dict[str, Any]:
    """n, predicted, refused, mean/max abs error and 90%-interval coverage of some rows."""
    ok = rows[rows["refusal"] == ""]
    iv = ok["inside"].dropna()
    return {
        "n": len(rows),
        "n_predicted": len(ok),
        "n_refused": int((rows["refusal"] != "").sum()),
        "mean_abs_error": float(ok["abs_error"].mean()) if len(ok) else math.nan,
        "max_abs_error": float(ok["abs_error"].max()) if len(ok) else math.nan,
        "coverage": float(iv.astype(bool).mean()) if len(iv) else math.nan,
        "n_intervals": len(iv),
    }


@dataclass(frozen=True)
class LeaderboardResult:
    """Per-target rows of every (cell, split, method), with aggregates and what was capped.

    ``rows`` has one row per target per (cell, split, method): predicted, interval, actual,
    absolute error, whether the interval covered it, and the refusal message ("" if none).
    """

    rows: pd.DataFrame
    methods: tuple[str, ...]
    alpha: float
    n_bootstrap: int
    random_state: int
    n_cells: int
    n_cells_total: int
    notes: tuple[str, ...] = field(default=())

    def _grouped(self, keys: list[str]) -> pd.DataFrame:
        if self.rows.empty:
            return pd.DataFrame(columns=[*keys, *_summary(self.rows.iloc[:0]).keys()])
        out = [
            {**dict(zip(keys, k if isinstance(k, tuple) else (k,), strict=True)), **_summary(g)}
            for k, g in self.rows.groupby(keys, sort=False)
        ]
        return pd.DataFrame(out)

    def table(self) -> pd.DataFrame:
        """Per method, pooled over every cell and split: sorted by mean absolute error."""
        t = self._grouped(["method"])
        cells = self.rows.groupby("method")[["family", "benchmark", "metric"]].apply(
            lambda g: len(g.drop_duplicates())
        ) if len(self.rows) else pd.Series(dtype=int)  # fmt: skip
        t["n_cells"] = t["method"].map(cells).fillna(0).astype(int)
        return t.sort_values(["mean_abs_error", "method"], na_position="last").reset_index(
            drop=True
        )

    def by_dataset(self) -> pd.DataFrame:
        """Per dataset and method, pooled over that dataset's cells and splits."""
        return self._grouped(["dataset", "method"]).sort_values(["dataset", "mean_abs_error"])

    def by_split(self) -> pd.DataFrame:
        """Per split and method."""
        return self._grouped(["split", "method"])

    def cells(self) -> pd.DataFrame:
        """Per (cell, split, method): the numbers one backtest gives, and its first refusal."""
        keys = ["dataset", "family", "benchmark", "metric", "split", "method"]
        t = self._grouped(keys)
        if len(t):
            first = self.rows[self.rows["refusal"] != ""].groupby(keys, sort=False)["refusal"]
            t = t.merge(first.first().rename("refusal").reset_index(), on=keys, how="left")
            t["refusal"] = t["refusal"].fillna("")
        return t

    def explanation(self) -> str:
        """What the numbers are, in two sentences, for a table's caption."""
        return (
            f"{self.n_cells} of {self.n_cells_total} (family, benchmark, metric) cells, each "
            "backtested with the largest model(s) held out, the two largest held out, and (with "
            f"checkpoints) each model's final checkpoint from its first {CHECKPOINT_FRACTION:.0%} "
            "of training. Errors are absolute, in the metric's units, pooled over predicted "
            f"targets; coverage is the share of actuals inside the {1 - self.alpha:.0%} interval "
            f"({self.n_bootstrap} bootstrap resamples, seed {self.random_state}); refused counts "
            "targets a method gave no forecast for."
        )

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            clean = df.astype(object).where(pd.notna(df), None)
            return [{str(k): v for k, v in r.items()} for r in clean.to_dict("records")]

        return {
            "methods": list(self.methods),
            "alpha": self.alpha,
            "n_bootstrap": self.n_bootstrap,
            "random_state": self.random_state,
            "n_cells": self.n_cells,
            "n_cells_total": self.n_cells_total,
            "explanation": self.explanation(),
            "notes": list(self.notes),
            "table": records(self.table()),
            "by_dataset": records(self.by_dataset()),
            "by_split": records(self.by_split()),
            "cells": records(self.cells()),
            "rows": records(self.rows),
        }


def merge(results: Sequence[LeaderboardResult]) -> LeaderboardResult:
    """One leaderboard of several (e.g. one per dataset, each with its own selection)."""
    if not results:
        raise ValueError("merge: no leaderboard to merge")
    first = results[0]
    methods = tuple(dict.fromkeys(m for r in results for m in r.methods))
    return LeaderboardResult(
        rows=pd.concat([r.rows for r in results], ignore_index=True), methods=methods,
        alpha=first.alpha, n_bootstrap=first.n_bootstrap, random_state=first.random_state,
        n_cells=sum(r.n_cells for r in results),
        n_cells_total=sum(r.n_cells_total for r in results),
        notes=tuple(n for r in results for n in r.notes),
    )  # fmt: skip


def _estimator(
    method: str, benchmark: str, metric: str, alpha: float, n_bootstrap: int, random_state: int
) -> Forecaster:
    from predictors.registry import METHODS, make_predictor

    wanted = {"benchmark": benchmark, "metric": metric, "alpha": alpha,
              "n_bootstrap": n_bootstrap, "random_state": random_state}  # fmt: skip
    accepted = set(METHODS[method]._param_names())
    return make_predictor(method, **{k: v for k, v in wanted.items() if k in accepted})


def _datasets(obs: pd.DataFrame) -> dict[str, str]:
    """family -> dataset: the family's most common ``source``, else the family itself."""
    out = {}
    for fam, g in obs.groupby("family", sort=True):
        src = g["source"].dropna() if "source" in g.columns else pd.Series(dtype=object)
        out[str(fam)] = str(src.mode().iat[0]) if len(src) else str(fam)
    return out


def _pooled_dataset(obs: pd.DataFrame, benchmark: str, metric: str) -> str:
    """A pooled cell's dataset: the most common ``source`` of its rows, else "pooled"."""
    cell = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    src = cell["source"].dropna() if "source" in cell.columns else pd.Series(dtype=object)
    return str(src.mode().iat[0]) if len(src) else "pooled"


def _pooled_splits(
    obs: pd.DataFrame, benchmark: str, metric: str, split: str, notes: list[str]
) -> list[Split]:
    """A pooled cell's splits: the cut-off, or one per family (capped; the rest noted)."""
    if split == "cutoff":
        cut = cutoff_split(obs, benchmark, metric)
        return [cut] if cut is not None else []
    splits = lofo_splits(obs, benchmark, metric)
    if len(splits) > MAX_LOFO_FAMILIES:
        notes.append(
            f"{benchmark}/{metric}: {len(splits) - MAX_LOFO_FAMILIES} of {len(splits)} "
            f"families not held out (MAX_LOFO_FAMILIES={MAX_LOFO_FAMILIES})"
        )
    return splits[:MAX_LOFO_FAMILIES]


def leaderboard(
    observations: pd.DataFrame,
    *,
    methods: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    alpha: float = 0.1,
    random_state: int = 0,
    dataset: str | None = None,
    pooled: bool = False,
    pooled_split: str = "cutoff",
) -> LeaderboardResult:
    """Backtest ``methods`` (default: every registered one) on every cell of ``observations``.

    Cells are taken in sorted (family, benchmark, metric) order up to ``max_cells``
    (at most :data:`MAX_CELLS`); those left out are counted in the notes. A ValueError names a
    bad argument (unknown method, cap exceeded, no cell selected). ``dataset`` labels every
    cell (default: the family's most common ``source``, else the family). ``pooled``: one cell
    per (benchmark, metric) that at least :data:`MIN_POOLED_FAMILIES` of the selected families
    have scores on, scored on ``pooled_split`` (``cutoff`` or ``lofo``; module docstring).
    """
    from predictors.registry import METHODS

    require_columns(
        observations, ["model", "family", "benchmark", "metric", "value"], "leaderboard"
    )
    chosen = list(methods) if methods else list(METHODS)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise ValueError(f"leaderboard: unknown method(s) {unknown}; known: {sorted(METHODS)}")
    if not 1 <= max_cells <= MAX_CELLS:
        raise ValueError(f"leaderboard: max_cells={max_cells} outside [1, {MAX_CELLS}]")
    if not 0 <= n_bootstrap <= MAX_BOOTSTRAP:
        raise ValueError(f"leaderboard: n_bootstrap={n_bootstrap} outside [0, {MAX_BOOTSTRAP}]")
    if not 0 < alpha < 1:
        raise ValueError(f"leaderboard: alpha={alpha} must be strictly between 0 and 1")
    if pooled_split not in POOLED_SPLITS:
        raise ValueError(
            f"leaderboard: pooled_split={pooled_split!r} is not one of {list(POOLED_SPLITS)}"
        )
    if pooled_split != "cutoff" and not pooled:
        raise ValueError(f"leaderboard: pooled_split={pooled_split!r} needs pooled=True")
    obs = observations[observations["family"].notna()]
    keep = pd.Series(True, index=obs.index)
    for col, wanted in (("family", families), ("benchmark", benchmarks), ("metric", metrics)):
        if wanted:
            keep &= obs[col].isin(list(wanted))
    cell_keys = sorted(set(zip(obs.loc[keep, "family"], obs.loc[keep, "benchmark"],
                               obs.loc[keep, "metric"], strict=True)))  # fmt: skip
    notes = []
    if pooled:
        if families:
            obs = obs[obs["family"].isin(list(families))]
        count = obs.loc[keep.loc[obs.index]].groupby(["benchmark", "metric"])["family"].nunique()
        wide = count[count >= MIN_POOLED_FAMILIES]
        cell_keys = [(POOLED, str(b), str(m)) for b, m in sorted(wide.index)]
        if not cell_keys:
            most = int(count.max()) if len(count) else 0
            raise ValueError(
                f"leaderboard: pooled cells need a benchmark with scores from at least "
                f"{MIN_POOLED_FAMILIES} families; the most any has is {most}"
            )
        notes.append(
            f"pooled: one cell per benchmark over every family, the models above the "
            f"{CUTOFF_QUANTILE:.0%} quantile of training compute held out"
            if pooled_split == "cutoff"
            else "pooled: one cell per benchmark over every family, each family held out in "
            "turn (lofo) and forecast from the others"
        )
    if not cell_keys:
        raise ValueError("leaderboard: no (family, benchmark, metric) cell matches the selection")
    datasets = _datasets(obs)
    run = cell_keys[:max_cells]
    if len(cell_keys) > len(run):
        notes.append(
            f"{len(cell_keys) - len(run)} of {len(cell_keys)} cells left out by max_cells="
            f"{max_cells} (narrow with families/benchmarks/metrics, or raise it to {MAX_CELLS})"
        )
    rows: list[dict[str, Any]] = []
    by_family = {str(f): g for f, g in obs.groupby("family", sort=False)}
    for family, benchmark, metric in run:
        if family == POOLED:
            splits = _pooled_splits(obs, benchmark, metric, pooled_split, notes)
            label = dataset or _pooled_dataset(obs, benchmark, metric)
        else:
            fam = by_family[str(family)]
            splits = largest_splits(fam, benchmark, metric)
            ckpt = checkpoint_split(fam, benchmark, metric)
            splits += [ckpt] if ckpt is not None else []
            label = dataset or datasets[str(family)]
        if not splits:
            notes.append(f"{family}/{benchmark}/{metric}: fewer than three model sizes, no split")
        for split in splits:
            for method in chosen:
                est = _estimator(method, benchmark, metric, alpha, n_bootstrap, random_state)
                cell = {"dataset": label, "family": str(family),
                        "benchmark": str(benchmark), "metric": str(metric),
                        "split": split.name, "method": method}  # fmt: skip
                rows += [{**cell, **r} for r in score_split(est, split)]
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return LeaderboardResult(
        rows=frame, methods=tuple(chosen), alpha=alpha, n_bootstrap=n_bootstrap,
        random_state=random_state, n_cells=len(run), n_cells_total=len(cell_keys),
        notes=tuple(notes),
    )  # fmt: skip
