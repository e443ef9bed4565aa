"""What the agreement and densing pages show, as pure data: no request, no template.

The agreement table is made readable: benchmarks without a finite agreement are dropped (and
counted), subset-size columns that every benchmark fills with its whole shared set (so they equal
"all") are shown once as "all", rows are grouped by prefix or setting (``mmlu_*``, ``*@5shot``),
and can be sorted and filtered. The densing page picks its default reference from what the
database holds, so it is never empty.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

SORTS = ("tau", "z", "name")
OTHER = "other"


# -- agreement -----------------------------------------------------------------------------------


@dataclass
class AgreementView:
    """The rows and columns the agreement page shows, and what it left out and why."""

    matrix: pd.DataFrame  # rows: benchmarks (grouped, sorted, filtered); columns: sizes then "all"
    rows: list[dict[str, Any]]  # one per shown benchmark: name, group, tau, z, n_shared, verdict
    columns: list[str]
    groups: list[tuple[str, int]]  # (group, number of rows shown) in the order shown
    dropped: list[str] = field(default_factory=list)  # benchmarks with no finite agreement
    merged_sizes: list[int] = field(default_factory=list)  # sizes equal to "all": not shown
    filtered_out: int = 0
    notes: list[str] = field(default_factory=list)


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _cells(row: pd.Series, n_shared: int) -> list[dict[str, Any]]:
    """A row's cells: the value, or ``same_as_all`` where the subset is the whole shared set."""
    out = []
    for col, v in row.items():
        size = int(str(col).split()[0]) if col != "all" else None
        out.append({"value": float(v) if _finite(v) else None,
                    "same_as_all": size is not None and size >= n_shared})  # fmt: skip
    return out


def group_of(name: str, names: set[str] | list[str]) -> str:
    """The group a benchmark is shown in: ``*@setting`` for ``task@setting``, else ``prefix_*``.

    A prefix is the text before the first ``_`` and makes a group only when another benchmark
    shares it (a lone ``arc_easy`` is not a group of one); the rest go to "other".
    """
    if "@" in name:
        return "*@" + name.split("@", 1)[1]
    prefix = re.split(r"[_\-:/]", name, maxsplit=1)[0]
    if prefix != name:
        peers = sum(
            1 for n in names if "@" not in n and re.split(r"[_\-:/]", n, maxsplit=1)[0] == prefix
        )
        if peers >= 2:
            return f"{prefix}_*"
    return OTHER


def agreement_view(
    table: pd.DataFrame, *, sort: str = "tau", q: str | None = None
) -> AgreementView:
    """The readable agreement table from a fitted tester's ``table_`` (index: benchmark).

    ``sort`` orders rows within each group (``tau`` and ``z`` descending, ``name`` ascending);
    ``q`` keeps benchmarks whose name contains it (case-insensitive, a plain substring).
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
    finite = table["agreement"].map(_finite)
    dropped = sorted(str(b) for b in table.index[~finite])
    kept = table[finite]
    sizes = sorted(
        int(c.split("_")[1])
        for c in kept.columns
        if c.startswith("random_") and c.endswith("_mean")
    )
    most_shared = int(kept["n_shared"].max()) if len(kept) else 0
    shown_sizes = [s for s in sizes if s < most_shared]
    merged = [s for s in sizes if s >= most_shared]
    matrix = pd.DataFrame(index=kept.index)
    for s in shown_sizes:  # a benchmark sharing no more than s models: its cell is "all" again
        col = kept[f"random_{s}_mean"].where(kept["n_shared"] > s)
        matrix[f"{s} models"] = col.astype(float)
    matrix["all"] = kept["agreement"].astype(float)
    names = [str(b) for b in kept.index]
    needle = (q or "").strip().lower()
    keep = [n for n in names if needle in n.lower()] if needle else names
    groups: dict[str, list[str]] = {}
    for n in keep:
        groups.setdefault(group_of(n, names), []).append(n)

    def order(members: list[str]) -> list[str]:
        if sort == "name":
            return sorted(members)
        key = "agreement" if sort == "tau" else "z"
        vals = {n: kept.loc[n, key] for n in members}
        return sorted(members, key=lambda n: (not _finite(vals[n]), -float(vals[n] or 0), n))

    group_names = sorted(groups, key=lambda g: (g == OTHER, g))
    ordered: list[str] = []
    rows: list[dict[str, Any]] = []
    for g in group_names:
        for n in order(groups[g]):
            ordered.append(n)
            r = kept.loc[n]
            rows.append({"benchmark": n, "group": g,
                         "agreement": float(r["agreement"]),
                         "z": float(r["z"]) if _finite(r.get("z")) else None,
                         "n_shared": int(r["n_shared"]), "verdict": str(r.get("verdict", "")),
                         "cells": _cells(matrix.loc[n], int(r["n_shared"]))})  # fmt: skip
    notes = []
    if dropped:
        notes.append(
            f"{len(dropped)} benchmark(s) dropped: no finite agreement with the aggregate (too "
            f"few models shared with it, or scores that do not vary): {', '.join(dropped)}"
        )
    if merged:
        notes.append(
            f"subset size(s) {', '.join(map(str, merged))} not shown: no benchmark shares more "
            f'than {most_shared} models with the aggregate, so they equal the "all" column'
        )
    return AgreementView(
        matrix=matrix.loc[ordered],
        rows=rows,
        columns=list(matrix.columns),
        groups=[(g, len(groups[g])) for g in group_names],
        dropped=dropped,
        merged_sizes=merged,
        filtered_out=len(names) - len(keep),
        notes=notes,
    )


# -- densing -------------------------------------------------------------------------------------


@dataclass
class DensingChoices:
    """What the database offers the densing page, and the pre-selected default."""

    families: list[str]  # with both task and loss rows: can be the reference
    benchmarks: list[str]  # task benchmarks (``metric``) of those families
    loss_benchmarks: list[str]
    dated_models: int  # models with a release date and a task score
    default: dict[str, str] | None
    message: str | None = None


def densing_choices(
    session: Session, metric: str = "acc", loss_metric: str | None = None
) -> DensingChoices:
    """Reference families, benchmarks and loss sets the database holds, and a default among them.

    The default is :func:`service.densing_defaults.pick_default`'s, the same as the CLI's: the
    family with task and loss rows and the most models, its task with the most dated, sized
    models outside it among those it scores clearly above chance on, and its loss set (any of
    loss, bpb, ppl unless ``loss_metric`` names one) with the task's shot count.
    """
    from service.densing_defaults import LOSS_METRICS, SUMMARY_SQL, pick_default

    losses = (loss_metric,) if loss_metric else LOSS_METRICS
    loss_label = loss_metric or "loss"
    names = [f":m{i}" for i in range(len(losses) + 1)]
    params = dict(zip((n[1:] for n in names), (metric, *losses), strict=True))
    rows = session.execute(text(SUMMARY_SQL.format(metrics=", ".join(names))), params).all()
    columns = ["family", "model", "benchmark", "metric", "best", "dated", "sized", "sized_nonembed"]
    frame = pd.DataFrame(rows, columns=columns)
    has_family = frame[frame["family"].notna()]
    task = has_family[has_family["metric"] == metric]
    loss = has_family[has_family["metric"].isin(losses)]
    refs = sorted(set(task["family"]) & set(loss["family"]))
    if frame.empty:
        message = (
            f"The database holds no {metric} or {loss_label} scores yet: import data first "
            "(`capcast demo` loads the public demo sets; release dates come from the Epoch importer)."
        )
        return DensingChoices([], [], [], 0, None, message)
    if not refs:
        message = (
            f"No family has both {metric} scores and {'/'.join(losses)} rows, so none can be the "
            "reference family (its loss-to-score curve turns scores into effective sizes)."
        )
        dated_any = int(frame.loc[frame["metric"] == metric, "dated"].astype(bool).sum())
        return DensingChoices([], sorted(set(task["benchmark"])), sorted(set(loss["benchmark"])),
                              dated_any, None, message)  # fmt: skip
    picked = pick_default(frame, metric=metric, loss_metric=loss_metric)
    assert picked is not None  # refs is not empty, so a reference exists
    benchmarks = sorted(set(task.loc[task["family"] == picked.reference_family, "benchmark"]))
    losses_held = sorted(set(loss.loc[loss["family"].isin(refs), "benchmark"]))
    on_task = frame[(frame["metric"] == metric) & (frame["benchmark"] == picked.benchmark)]
    n_dated = int(on_task.loc[on_task["dated"].astype(bool), "model"].nunique())
    message = None
    if n_dated == 0:
        message = (
            "No model in the database has a release date, and the densing law is a trend over "
            "release dates: import dated models (the Epoch importer) to fill this page."
        )
    return DensingChoices(refs, benchmarks, losses_held, n_dated, picked.as_query(), message)
