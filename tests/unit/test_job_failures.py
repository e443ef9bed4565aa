"""What a failed job's row says, by the class of what failed (service/jobs/failures.py)."""

from __future__ import annotations

import re

from evals.run_checks import CheckerErrorRateExceeded
from predictors.base import FitError
from service.jobs.failures import describe


def test_a_run_failed_by_its_checkers_says_so_and_is_not_retried() -> None:
    exc = CheckerErrorRateExceeded("gsm", 20, {"regex:(9": (2, "missing ), unterminated")}, 0.05)
    failure = describe(exc, "abc123")
    assert failure.kind == "run" and failure.retry is False
    assert failure.message.startswith("task 'gsm': 2 of 20 items had checker errors (10.0%)")
    assert failure.message.endswith("(error id abc123)")


def test_input_internal_and_fit_failures_are_told_apart() -> None:
    assert describe(ValueError("bad size column"), "e1").message == "bad size column (error id e1)"
    assert describe(FitError("no start converged"), "e2").kind == "input"
    internal = describe(AttributeError("'NoneType' has no attribute 'x'"), "e3")
    assert (internal.kind, internal.message) == ("internal", "internal error (error id e3)")
    assert re.fullmatch(r"[0-9a-f]{12}", describe(KeyError("k")).error_id)
