"""Modes ``samples`` (n draws per item at (T, top_p)) and ``greedy`` (one temperature-0 answer)."""

from __future__ import annotations

from typing import Any

from evals.engines import Engine, GenerateRequest
from evals.passuntil import pass_at_k, sample_seed
from evals.run_checks import CHECKER_ERROR, ItemChecker
from evals.run_context import Entry, RunContext, gen_settings
from evals.tasks import Task, TaskItem


def run_samples(
    ctx: RunContext, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict[str, Any]
) -> None:
    """Draw and check each pending item's completions; an item whose checker raised is stored
    as ``checker_error`` (see :mod:`evals.run_checks`), every completion still checked."""
    gen = gen_settings(task, cfg)
    greedy = cfg["mode"] == "greedy"
    n = 1 if greedy else int(cfg["n"])
    check = ItemChecker(task, pending)
    batch = max(1, int(cfg.get("batch_items") or max(1, 4096 // n)))
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        reqs = [
            GenerateRequest(
                prompt=it.prompt,
                n=n,
                temperature=0.0 if greedy else float(cfg["temperature"]),
                top_p=1.0 if greedy else float(cfg["top_p"]),
                seed=sample_seed(int(cfg["seed"]), it.key, 0),
                **gen,
            )
            for it in chunk
        ]
        outs = eng.generate(reqs)
        ctx.samples += n * len(chunk)
        entries: list[Entry] = []
        for it, texts in zip(chunk, outs, strict=True):
            passed = [check(it, t) for t in texts]
            entries.append((it.key, _result(it, texts, passed, n, greedy, check), []))
        ctx.write(entries)


def _result(
    it: TaskItem, texts: list[str], passed: list[bool], n: int, greedy: bool, check: ItemChecker
) -> dict[str, Any]:
    c = sum(passed)
    if check.failed(it.key):  # n_pass: completions the checker accepted; no estimate
        return {
            "n_samples": n,
            "n_pass": c,
            "stop_reason": CHECKER_ERROR,
            "greedy_correct": None,
            "estimate": None,
            "estimates": check.error_fields(it.key) | {"completions": texts[:3]},
        }
    est: dict[str, Any] = {"pass_rate": c / n, "completions": texts[:3]}
    est |= {f"pass@{k}": pass_at_k(n, c, k) for k in (1, 10, 100) if k <= n}
    return {
        "n_samples": n,
        "n_pass": c,
        "stop_reason": "greedy" if greedy else "fixed",
        "greedy_correct": bool(passed[0]) if greedy else None,
        "estimate": c / n,
        "estimates": est,
    }
