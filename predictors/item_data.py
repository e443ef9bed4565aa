"""Per-item data for the item-level predictors (COD, PassUntil): from the database's shape to theirs.

Two pure helpers. :func:`item_results_to_observations` turns rows shaped like the ``item_results``
view (db/views.sql) into per-item observation rows (exchange format plus ``item``, ``n_samples``,
``n_pass``), so the CLI and the service can feed predictors straight from the database.
:func:`item_matrix` pivots per-item observations into the items x models matrix COD clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictors.base import require_columns

ITEM_RESULT_COLUMNS = (
    "family",
    "model",
    "n_params",
    "flops",
    "checkpoint_step",
    "benchmark",
    "item",
)
_MODE_METRIC = {"samples": "pass_rate", "passuntil": "pu", "greedy": "acc"}


def item_results_to_observations(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-item observations from ``item_results``-view rows.

    ``mode`` (when present) names the metric: samples -> ``pass_rate`` (value n_pass/n_samples),
    passuntil -> ``pu`` (value the stored estimate, else n_pass/n_samples), greedy -> ``acc``
    (value greedy_correct). Without ``mode`` every row is ``pass_rate``. Rows with no samples and
    no estimate are dropped: they measured nothing.
    """
    require_columns(rows, ITEM_RESULT_COLUMNS, "item_results_to_observations")
    df = rows.copy()
    if "stop_reason" in df:  # the checker failed, not the model: no outcome was measured
        df = df[df["stop_reason"].astype("string").fillna("") != "checker_error"]
    mode = df["mode"] if "mode" in df else pd.Series("samples", index=df.index)
    df["metric"] = mode.map(_MODE_METRIC).fillna("pass_rate")
    nan = pd.Series(np.nan, index=df.index, dtype=float)
    n = pd.to_numeric(df["n_samples"], errors="coerce") if "n_samples" in df else nan
    s = pd.to_numeric(df["n_pass"], errors="coerce") if "n_pass" in df else nan
    rate = df["pass_rate"] if "pass_rate" in df else s / n
    value = pd.Series(np.asarray(rate, dtype=float), index=df.index)
    if "estimate" in df:
        est = pd.to_numeric(df["estimate"], errors="coerce")
        value = value.where(~((df["metric"] == "pu") & est.notna()), est)
    if "greedy_correct" in df:
        greedy = pd.to_numeric(df["greedy_correct"], errors="coerce").astype(float)
        value = value.where(df["metric"] != "acc", greedy)
    df["value"] = value
    df["n_samples"] = n
    df["n_pass"] = s
    for col in ("n_params_nonembed", "n_tokens", "release_date"):
        if col not in df:
            df[col] = np.nan
    df["item"] = df["item"].astype(str)
    cols = [
        "model", "family", "n_params", "n_params_nonembed", "n_tokens", "flops", "release_date",
        "checkpoint_step", "benchmark", "metric", "value", "item", "n_samples", "n_pass",
    ]  # fmt: skip
    cols += [
        c for c in ("stop_reason", "run_id") if c in df.columns
    ]  # PassUntil's estimator uses it
    return df.loc[df["value"].notna(), cols].reset_index(drop=True)


def model_flops(df: pd.DataFrame) -> pd.Series:
    """FLOPs per row: ``flops`` when given, else 6 * n_params * n_tokens.

    >>> model_flops(pd.DataFrame({"n_params": [1e8], "n_tokens": [2e9]})).tolist()
    [1.2e+18]
    """
    flops: pd.Series = (
        pd.to_numeric(df["flops"], errors="coerce").astype(float)
        if "flops" in df
        else pd.Series(np.nan, index=df.index, dtype=float)
    )
    if "n_params" in df and "n_tokens" in df:
        six_nd = (
            6.0
            * pd.to_numeric(df["n_params"], errors="coerce")
            * pd.to_numeric(df["n_tokens"], errors="coerce")
        )
        flops = flops.fillna(six_nd)
    return flops


@dataclass(frozen=True)
class ItemMatrix:
    """Pass rates, items x ladder points (increasing compute), and each point's compute.

    A ladder point is a model (its last checkpoints averaged) or, with ``by="checkpoint"``, one
    checkpoint of a model, named ``model@step``. ``dropped_models`` are points that measured too
    few of the items to keep (see :data:`MIN_ITEM_COVERAGE`).
    """

    rates: pd.DataFrame
    flops: pd.Series
    n_checkpoints: pd.Series
    dropped_items: tuple[str, ...] = ()
    dropped_models: tuple[str, ...] = ()


#: A ladder point that measured fewer than this share of the benchmark's items is dropped before
#: items are: else one sparse checkpoint (Pythia 12B at 2M tokens has 30 of 128 problems) would
#: remove every item it lacks from the whole fit.
MIN_ITEM_COVERAGE = 0.5


def _last_steps(df: pd.DataFrame, window: int) -> pd.DataFrame:
    """Keep each model's last ``window`` checkpoints (a model without steps keeps all its rows)."""
    step = pd.to_numeric(df["checkpoint_step"], errors="coerce")
    df = df.assign(_step=step.fillna(-1.0))
    ranks = df.groupby("model")["_step"].rank(method="dense", ascending=False)
    return df.loc[ranks <= window]


def checkpoint_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows relabelled so that each (model, checkpoint) is its own ladder point ``model@step``.

    >>> checkpoint_points(pd.DataFrame({"model": ["a", "a"], "checkpoint_step": [10, 20]}))["model"].tolist()
    ['a@10', 'a@20']
    """
    step = (
        pd.to_numeric(rows["checkpoint_step"], errors="coerce")
        if "checkpoint_step" in rows
        else pd.Series(np.nan, index=rows.index, dtype=float)
    )
    label = step.map(lambda v: "final" if pd.isna(v) else str(int(v)))
    return rows.assign(model=rows["model"].astype(str) + "@" + label, checkpoint_step=step)


def item_matrix(
    obs: pd.DataFrame,
    *,
    benchmark: str,
    metric: str = "pass_rate",
    checkpoint_window: int = 3,
    by: str = "model",
) -> ItemMatrix:
    """Average each item's pass rate over a model's last ``checkpoint_window`` checkpoints.

    A model's compute is the geometric mean of those checkpoints' FLOPs, the compute the averaged
    pass rate belongs to. ``by="checkpoint"`` makes every checkpoint its own ladder point (no
    averaging): a training trajectory is then a ladder. Points measuring fewer than
    :data:`MIN_ITEM_COVERAGE` of the items are dropped, then items not measured on every
    remaining point (both listed).
    """
    require_columns(obs, ("model", "benchmark", "metric", "value", "item"), "item_matrix")
    rows = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric) & obs["item"].notna()]
    if rows.empty:
        have = sorted({f"{b}/{m}" for b, m in zip(obs["benchmark"], obs["metric"], strict=True)})[
            :20
        ]
        raise ValueError(
            f"no per-item rows for benchmark={benchmark!r}, metric={metric!r}; present: {have}"
        )
    if by == "checkpoint":
        rows, checkpoint_window = checkpoint_points(rows), 1
    if "checkpoint_step" not in rows:
        rows = rows.assign(checkpoint_step=np.nan)
    rows = _last_steps(
        rows.assign(flops=model_flops(rows), item=rows["item"].astype(str)), checkpoint_window
    )
    if rows["flops"].isna().any():
        bad = sorted(rows.loc[rows["flops"].isna(), "model"].unique())
        raise ValueError(f"models {bad} have neither flops nor n_params and n_tokens")
    rates = rows.pivot_table(index="item", columns="model", values="value", aggfunc="mean")
    coverage = rates.notna().mean(axis=0)
    sparse = tuple(str(c) for c in rates.columns[coverage < MIN_ITEM_COVERAGE])
    if sparse and len(sparse) < rates.shape[1]:
        rates = rates.drop(columns=list(sparse))
    else:
        sparse = ()
    n_ckpt = rows.groupby("model")["_step"].nunique()
    comp = (
        rows.drop_duplicates(["model", "_step"])
        .groupby("model")["flops"]
        .apply(lambda f: float(np.exp(np.mean(np.log(f.astype(float))))))
    )
    comp = comp[rates.columns]
    order = comp.sort_values(kind="stable").index
    rates = rates[order]
    complete = rates.notna().all(axis=1)
    dropped = tuple(rates.index[~complete])
    return ItemMatrix(rates[complete], comp[order], n_ckpt[order], dropped, sparse)
