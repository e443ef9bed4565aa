"""Mode ``choices`` (METHODS E1): per-choice log-likelihoods of multiple-choice items."""

from __future__ import annotations

from typing import Any

from db import results as R
from evals.choices import item_metrics
from evals.engines import ChoiceRequest, Engine
from evals.run_context import Entry, RunContext
from evals.tasks import Task, TaskItem


def run_choices(
    ctx: RunContext, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict[str, Any]
) -> None:
    """Score every choice of each pending item, ``batch_items`` items per engine call."""
    batch = int(cfg.get("batch_items") or 64)
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        reqs = [
            ChoiceRequest(it.prompt, tuple(task.continuation(c) for c in it.choices))
            for it in chunk
        ]
        entries: list[Entry] = []
        for it, sc in zip(chunk, eng.score_choices(reqs), strict=True):
            m = item_metrics(sc.logprob_sum, it.choices, it.gold or 0)
            rows = [
                R.ChoiceRow(
                    choice_index=j,
                    logprob_sum=sc.logprob_sum[j],
                    n_tokens=sc.n_tokens[j],
                    n_bytes=len(c.encode("utf-8")),
                    n_chars=len(c),
                    is_greedy=sc.is_greedy[j],
                    is_correct=j == it.gold,
                )
                for j, c in enumerate(it.choices)
            ]
            result = {"greedy_correct": bool(m.acc), "estimate": m.acc, "estimates": m.to_dict()}
            entries.append((it.key, result, rows))
        ctx.write(entries)
