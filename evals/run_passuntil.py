"""Mode ``passuntil`` (METHODS E2): adaptive sampling per item until r passes or ``k_max``."""

from __future__ import annotations

from typing import Any

from evals.engines import Engine
from evals.passuntil import PassUntilConfig, PassUntilEstimate, run_passuntil
from evals.run_checks import CHECKER_ERROR, ItemChecker
from evals.run_context import RunContext, gen_settings
from evals.tasks import Task, TaskItem


def run_passuntil_mode(
    ctx: RunContext, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict[str, Any]
) -> None:
    """Run PassUntil over the pending items, writing each as it finishes.

    An item whose checker raised stops drawing after that round (its outcome is unknown, so more
    samples would be wasted) and is stored as ``checker_error`` (see :mod:`evals.run_checks`).
    """
    pu = PassUntilConfig(
        r=int(cfg["r"]),
        k_max=int(cfg["k_max"]),
        first_round=int(cfg["first_round"]),
        temperature=float(cfg["temperature"]),
        top_p=float(cfg["top_p"]),
        alpha=float(cfg["alpha"]),
        max_batch_samples=int(cfg.get("max_batch_samples") or 65_536),
        **gen_settings(task, cfg),
    )
    by_key = {it.key: it for it in pending}
    check = ItemChecker(task, pending)

    def on_done(key: str, est: PassUntilEstimate) -> None:
        result: dict[str, Any] = {
            "n_samples": est.n,
            "n_pass": est.s,
            "stop_reason": est.stop_reason,
            "estimate": est.point,
            "estimates": est.to_dict(),
        }
        if check.failed(key):  # n_pass: completions the checker accepted; no estimate
            result |= {
                "stop_reason": CHECKER_ERROR,
                "estimate": None,
                "estimates": check.error_fields(key),
            }
        ctx.write([(key, result, [])])

    run_passuntil(
        eng,
        [(it.key, it.prompt, it.answer or "") for it in pending],
        lambda key, text, _answer: check(by_key[key], text),
        pu,
        seed=int(cfg["seed"]),
        on_done=on_done,
        on_samples=ctx.add_samples,
        abandon=check.failed,
    )
