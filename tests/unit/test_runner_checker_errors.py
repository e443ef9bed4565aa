"""A checker that raises is counted per item, reported, and fails the run past the limit.

Real runner, real database, real checkers: the raising checker is a misconfigured regex spec
(``"(9"`` does not compile, so every call raises ``re.error``) given to some items of a task whose
other items use exact match. The engine answers "9" to every prompt, so of items q0..q19 only q9
passes: every expected number below is a count over those items, exact, no tolerance.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from db import results as R
from db.models import EvalRun, Measurement
from db.session import make_engine, session_factory
from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest
from evals.run_checks import CHECKER_ERROR, CheckerErrorRateExceeded
from evals.runner import run_eval

BAD = {"kind": "regex", "pattern": "(9"}
N_ITEMS = 20


class AnswerEngine:
    """Answers "9" to every prompt: only the item whose answer is 9 passes."""

    name, version, model_path = "answer", "answer-1", "answer"

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        return [["9"] * r.n for r in requests]

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _task(tmp_path: Path, bad: set[int]) -> Path:
    """Items q0..q19 with answer i; the items in ``bad`` get the raising checker."""
    path = tmp_path / "digits.jsonl"
    docs = [
        {"prompt": f"q{i}=", "answer": str(i)} | ({"checker": BAD} if i in bad else {})
        for i in range(N_ITEMS)
    ]
    header = {"_task": {"name": "digits", "stop": ["\n"], "max_tokens": 2}}
    path.write_text("\n".join(json.dumps(d) for d in [header, *docs]) + "\n")
    return path


def _run(db_url: str, task: Path, mode: str = "greedy", **config: object):
    return run_eval(
        session_factory=session_factory(make_engine(db_url)),
        model_path="/nonexistent/answer-model",
        task_path=task,
        mode=mode,
        engine=AnswerEngine(),
        config=config,
    )


def _rows(db_url: str, run_id: int) -> dict[str, R.ItemResult]:
    with session_factory(make_engine(db_url))() as s:
        return {item.prompt: r for item, r in R.run_results(s, run_id)}


def _measurements(db_url: str, run_id: int) -> dict[str, float]:
    with session_factory(make_engine(db_url))() as s:
        found = s.execute(
            select(Measurement.metric, Measurement.value).where(
                Measurement.source == f"capcast-eval:{run_id}"
            )
        ).all()
    return dict(found)


def test_below_the_limit_the_run_succeeds_and_reports_the_count(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 1 of 20 items = 5%, not above the default limit of 0.05
    with caplog.at_level(logging.ERROR, logger="evals.run_checks"):
        res = _run(db_url, _task(tmp_path, bad={3}))
    assert res.checker_errors == 1
    assert res.metrics["checker_errors"] == 1
    # q3 is left out, not counted as a failure: 1 pass (q9) of 19 checked, not 1 of 20
    assert res.metrics["n_items"] == N_ITEMS - 1
    assert res.metrics["pass_rate"] == pytest.approx(1 / 19, rel=1e-12)
    assert _measurements(db_url, res.run_id) == {"pass_rate": pytest.approx(1 / 19, rel=1e-12)}
    rows = _rows(db_url, res.run_id)
    assert len(rows) == N_ITEMS
    bad = rows["q3="]
    assert (bad.stop_reason, bad.n_samples, bad.n_pass) == (CHECKER_ERROR, 1, 0)
    assert bad.estimate is None and bad.greedy_correct is None
    assert bad.estimates["checker_errors"] == 1
    assert bad.estimates["checker"] == json.dumps(BAD, sort_keys=True)
    assert "unterminated subpattern" in bad.estimates["checker_error"]
    assert [r.stop_reason for p, r in rows.items() if p != "q3="] == ["greedy"] * 19
    assert rows["q9="].greedy_correct is True
    logged = [r for r in caplog.records if r.name == "evals.run_checks"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "digits" in logged[0].getMessage() and '"pattern": "(9"' in logged[0].getMessage()


def test_above_the_limit_the_run_fails_keeping_items_and_writing_no_measurements(
    db_url: str, tmp_path: Path
) -> None:
    task = _task(tmp_path, bad={3, 9})  # 2 of 20 = 10% > 5%
    expected = (
        r"task 'digits': 2 of 20 items had checker errors \(10\.0%\), above "
        r'max_checker_error_rate=0\.05: checker \{"kind": "regex", "pattern": "\(9"\} on 2'
    )
    with pytest.raises(CheckerErrorRateExceeded, match=expected) as failed:
        _run(db_url, task)
    assert failed.value.count == 2 and failed.value.task == "digits"
    with session_factory(make_engine(db_url))() as s:
        run = s.scalars(select(EvalRun)).one()
        assert run.status == "failed" and run.error == str(failed.value)
        run_id = run.id
    rows = _rows(db_url, run_id)
    assert len(rows) == N_ITEMS
    assert {p for p, r in rows.items() if r.stop_reason == CHECKER_ERROR} == {"q3=", "q9="}
    assert _measurements(db_url, run_id) == {}

    # the limit is not hashed: a higher one resumes the same run, reusing every stored item
    again = _run(db_url, task, max_checker_error_rate=0.1)
    assert (again.run_id, again.n_new, again.n_reused) == (run_id, 0, N_ITEMS)
    assert again.checker_errors == 2
    assert again.metrics["pass_rate"] == 0.0  # q9, the only passing answer, is left out
    assert _measurements(db_url, run_id) == {"pass_rate": 0.0}


def test_samples_count_every_raising_check_and_log_once_per_checker(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="evals.run_checks"):
        res = _run(db_url, _task(tmp_path, bad={1}), mode="samples", n=4)
    rows = _rows(db_url, res.run_id)
    bad = rows["q1="]
    assert (bad.stop_reason, bad.n_samples, bad.n_pass) == (CHECKER_ERROR, 4, 0)
    assert bad.estimates["checker_errors"] == 4  # all 4 completions were checked, all raised
    assert res.metrics["samples"] == 4 * N_ITEMS
    assert res.metrics["pass_rate"] == pytest.approx(1 / 19, rel=1e-12)
    assert sum(r.name == "evals.run_checks" for r in caplog.records) == 1


def test_passuntil_stops_drawing_for_an_item_whose_checker_raised(
    db_url: str, tmp_path: Path
) -> None:
    # rounds of 16, 32, 16 reach k_max = 64 for an item that never passes
    res = _run(db_url, _task(tmp_path, bad={4}), mode="passuntil", r=2, k_max=64, first_round=16)
    rows = _rows(db_url, res.run_id)
    assert (rows["q4="].stop_reason, rows["q4="].n_samples) == (CHECKER_ERROR, 16)
    assert rows["q4="].estimate is None
    assert (rows["q0="].stop_reason, rows["q0="].n_samples) == ("budget", 64)
    assert (rows["q9="].stop_reason, rows["q9="].n_samples) == ("r_reached", 2)
    # pu: q9's unbiased (r-1)/(K-1) = 1, the 18 other checked items 0; q4 left out
    assert res.metrics["n_items"] == N_ITEMS - 1
    assert res.metrics["pu"] == pytest.approx(1 / 19, rel=1e-12)
    assert res.checker_errors == 1
    assert res.metrics["samples"] == 16 + 2 + 18 * 64  # stored: q9 stops at its 2nd draw
    assert res.samples == 20 * 16 + 18 * (32 + 16)  # drawn: q9's first round all drawn


def test_a_zero_limit_fails_on_one_error(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(CheckerErrorRateExceeded, match=r"1 of 20 items .* \(5\.0%\)"):
        _run(db_url, _task(tmp_path, bad={0}), max_checker_error_rate=0.0)
