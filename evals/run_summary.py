"""A run's task-level numbers, recomputed from its stored rows, and the measurements they become.

Items stored as ``checker_error`` (see :mod:`evals.run_checks`) carry no estimate: the metrics
leave them out and count them as ``checker_errors``.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import results as R
from db.models import Measurement
from evals.choices import aggregate, item_metrics
from evals.passuntil import PassUntilEstimate, task_estimate
from evals.run_checks import CHECKER_ERROR
from evals.tasks import Task

_MEASURED = {"acc": "acc", "acc_norm": "acc_norm", "brier": "brier", "bpb": "bpb", "pu": "pu"}


def summarise(s: Session, run_id: int, mode: str, task: Task) -> dict[str, Any]:
    """Task-level metrics recomputed from what is stored (never from in-memory state)."""
    rows = R.run_results(s, run_id)
    if mode == "choices":
        scores = R.run_choice_scores(s, run_id)
        metrics = []
        for item, _ in rows:
            cs = scores.get(item.id, [])
            gold = next(c.choice_index for c in cs if c.is_correct)
            metrics.append(item_metrics([c.logprob_sum for c in cs], item.choices or [], gold))
        return aggregate(metrics)
    checked = [r for _, r in rows if r.stop_reason != CHECKER_ERROR]
    errors = {"checker_errors": len(rows) - len(checked)}
    if mode == "passuntil":
        ests = [PassUntilEstimate(**_est_fields(r.estimates)) for r in checked if r.estimates]
        out = task_estimate(ests)
        if ests:  # samples spent, on checker_error items too (task_estimate sees only the rest)
            out["samples"] = sum(r.n_samples for _, r in rows)
        return out | errors
    rates = [r.estimate for r in checked if r.estimate is not None]
    out: dict[str, Any] = {"n_items": len(rates)}
    out["pass_rate"] = sum(rates) / len(rates) if rates else math.nan
    out["samples"] = sum(r.n_samples for _, r in rows)
    return out | errors


def _est_fields(d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(PassUntilEstimate)}
    return {k: v for k, v in d.items() if k in names}


def write_measurements(
    s: Session,
    model_id: int,
    bench_id: int,
    run_id: int,
    metrics: dict[str, Any],
    cfg: dict[str, Any],
) -> None:
    """Aggregate numbers go to ``measurement`` (source ``capcast-eval:<run>``) for predictors."""
    source = f"capcast-eval:{run_id}"
    wanted = {m: metrics[k] for k, m in _MEASURED.items() if k in metrics}
    if "pass_rate" in metrics:
        wanted["pass_rate"] = metrics["pass_rate"]
    for metric, value in wanted.items():
        if value is None or not math.isfinite(float(value)):
            continue
        exists = s.scalar(
            select(Measurement.id).where(
                Measurement.model_id == model_id,
                Measurement.benchmark_id == bench_id,
                Measurement.metric == metric,
                Measurement.source == source,
            )
        )
        if exists is None:
            s.add(
                Measurement(
                    model_id=model_id,
                    benchmark_id=bench_id,
                    metric=metric,
                    value=float(value),
                    stderr=metrics.get(f"{metric}_stderr"),
                    source=source,
                    checkpoint_step=cfg.get("checkpoint_step"),
                    n_tokens=cfg.get("n_tokens"),
                )
            )
