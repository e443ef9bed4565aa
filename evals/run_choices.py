"""Mode ``choices`` (METHODS E1): per-choice log-likelihoods of multiple-choice items.

The engine and the database work in turn on different batches: while the engine scores batch
k + 1, a writer thread commits batch k (one transaction, bulk statements). At most one batch waits
for the writer, so a killed run loses at most the two batches in flight, and progress (which is
also the job's cancellation checkpoint) is reported from the calling thread once a batch is stored.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from db import results as R
from evals.choices import item_metrics
from evals.engines import ChoiceRequest, ChoiceScores, Engine
from evals.run_context import Entry, RunContext
from evals.tasks import Task, TaskItem


def run_choices(
    ctx: RunContext, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict[str, Any]
) -> None:
    """Score every choice of each pending item, ``batch_items`` items per engine call."""
    batch = int(cfg.get("batch_items") or 64)
    in_flight: tuple[Future[None], int] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="capcast-writer") as writer:
        for start in range(0, len(pending), batch):
            chunk = pending[start : start + batch]
            reqs = [
                ChoiceRequest(it.prompt, tuple(task.continuation(c) for c in it.choices))
                for it in chunk
            ]
            entries = _entries(chunk, eng.score_choices(reqs))
            if in_flight is not None:
                _settle(ctx, *in_flight)
            in_flight = (writer.submit(ctx.commit, entries), len(entries))
        if in_flight is not None:
            _settle(ctx, *in_flight)


def _settle(ctx: RunContext, stored: Future[None], n: int) -> None:
    """Wait for a batch's commit (re-raising its error here), then count it and report."""
    stored.result()
    ctx.done += n
    ctx.report()


def _entries(chunk: list[TaskItem], scores: list[ChoiceScores]) -> list[Entry]:
    entries: list[Entry] = []
    for it, sc in zip(chunk, scores, strict=True):
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
    return entries
