"""Checking completions during a run, with checker crashes counted instead of hidden.

A checker that raises says nothing about the answer: counting it as a failed answer (as the
runner once did) turns a misconfigured checker into a pass rate of 0, which COD then reads as
items never passed. So an item on which its checker raised at least once is stored with
``stop_reason = "checker_error"`` and ``estimate = None``; its ``n_pass`` counts only the
completions the checker accepted (a lower bound: the ones it raised on are not counted), and its
``estimates`` say how many checks raised, the first error and the checker's spec. Task-level
metrics leave these items out and report their number as ``checker_errors``.

Leaving out a fraction f of the items moves a task's pass rate by at most f (it is a mixture
(1 - f)·p_kept + f·p_left_out), so a run may have at most ``max_checker_error_rate`` (default 0.05)
of its items with checker errors; above that it fails with :class:`CheckerErrorRateExceeded`
and writes no measurements. A crash never stops a run mid-item: it is counted, and logged once
per (task, checker) with its traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evals.checkers import Code, make_checker
from evals.tasks import Task, TaskItem

log = logging.getLogger(__name__)

CHECKER_ERROR = "checker_error"


class CheckerErrorRateExceeded(RuntimeError):
    """Too many items' checkers raised: the run's numbers would not be worth storing.

    Not a ValueError: a checker that raises may be a bug in capcast's own checker code, and an
    input error would blame the user for it.
    """

    def __init__(
        self, task: str, n_items: int, by_checker: dict[str, tuple[int, str]], limit: float
    ) -> None:
        self.task, self.n_items, self.limit = task, n_items, limit
        self.by_checker = by_checker
        self.count = sum(n for n, _ in by_checker.values())
        parts = [
            f"checker {spec} on {n} (first error: {first})"
            for spec, (n, first) in sorted(by_checker.items())
        ]
        super().__init__(
            f"task {task!r}: {self.count} of {n_items} items had checker errors "
            f"({self.count / n_items:.1%}), above max_checker_error_rate={limit:g}: "
            f"{'; '.join(parts)}. The items are stored with stop_reason {CHECKER_ERROR!r}; "
            "no measurements were written"
        )


def spec_key(spec: dict[str, Any] | None) -> str:
    """A checker spec as canonical JSON: the cache key, and how messages name the checker."""
    return json.dumps(spec, sort_keys=True)


class ItemChecker:
    """``checker(item, completion) -> bool`` for one run, counting checks that raise per item.

    Every distinct checker spec of ``items`` is built up front, so a spec that cannot be built
    fails the run (ValueError) before any sampling.
    """

    def __init__(self, task: Task, items: Iterable[TaskItem]) -> None:
        self.task = task
        self._built: dict[str, Callable[..., bool]] = {}
        self._logged: set[str] = set()
        self._errors: dict[str, int] = {}  # item key -> checks that raised
        self._first: dict[str, tuple[str, str]] = {}  # item key -> (spec key, "Type: message")
        for it in items:
            self._checker(it)

    def _checker(self, it: TaskItem) -> tuple[str, Callable[..., bool]]:
        key = spec_key(it.checker or self.task.checker)
        fn = self._built.get(key)
        if fn is None:  # built once per spec, never per call
            fn = self._built[key] = make_checker(it.checker or self.task.checker)
        return key, fn

    def __call__(self, it: TaskItem, completion: str) -> bool:
        spec = it.checker or self.task.checker
        key, fn = self._checker(it)
        try:
            if isinstance(fn, Code) and spec.get("include_prompt", True):
                return fn(completion, it.answer or "", prefix=it.prompt)
            return bool(fn(completion, it.answer or ""))
        except (
            Exception
        ) as e:  # not hidden: counted on the item, logged, fails the run past the limit
            self._record(it, key, e)
            return False

    def _record(self, it: TaskItem, key: str, e: Exception) -> None:
        self._errors[it.key] = self._errors.get(it.key, 0) + 1
        self._first.setdefault(it.key, (key, f"{type(e).__name__}: {e}"))
        if key not in self._logged:
            self._logged.add(key)
            log.error(
                "task %r: checker %s raised on item %s; the item is stored as %s (later errors "
                "of this checker are counted, not logged)",
                self.task.name,
                key,
                it.key,
                CHECKER_ERROR,
                exc_info=e,
            )

    def failed(self, key: str) -> bool:
        """Whether a check of item ``key`` has raised."""
        return key in self._errors

    def error_fields(self, key: str) -> dict[str, Any]:
        """What a checker_error item's ``estimates`` hold: count, first error, the checker."""
        spec, first = self._first[key]
        return {"checker_errors": self._errors[key], "checker_error": first, "checker": spec}


def check_error_rate(
    task: str, rows: Sequence[tuple[str | None, dict[str, Any] | None]], limit: float
) -> CheckerErrorRateExceeded | None:
    """The error to raise when more than ``limit`` of the stored items had checker errors."""
    by_checker: dict[str, tuple[int, str]] = {}
    for reason, est in rows:
        if reason != CHECKER_ERROR:
            continue
        spec = str((est or {}).get("checker", "?"))
        n, first = by_checker.get(spec, (0, str((est or {}).get("checker_error", "?"))))
        by_checker[spec] = (n + 1, first)
    count = sum(n for n, _ in by_checker.values())
    if not rows or count / len(rows) <= limit:
        return None
    return CheckerErrorRateExceeded(task, len(rows), by_checker, limit)
