"""The runner's item selection (limit, stride) and checkpoint bookkeeping, with an engine that
echoes a fixed answer: what is evaluated, what is hashed, and where the checkpoint is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from db import results as R
from db.models import EvalRun, Measurement
from db.session import make_engine, session_factory
from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest
from evals.runner import config_hash, resolve_config, run_eval


class AnswerEngine:
    """Answers "9" to every prompt: items whose answer is 9 pass."""

    name, version, model_path = "answer", "answer-1", "answer"

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        return [["9"] * r.n for r in requests]

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def task(tmp_path: Path) -> Path:
    path = tmp_path / "digits.jsonl"
    docs = [{"prompt": f"q{i}=", "answer": str(i)} for i in range(30)]
    header = {"_task": {"name": "digits", "stop": ["\n"], "max_tokens": 2}}
    path.write_text("\n".join(json.dumps(d) for d in [header, *docs]) + "\n")
    return path


def _run(db_url: str, task: Path, **config):
    return run_eval(
        session_factory=session_factory(make_engine(db_url)),
        model_path="/nonexistent/answer-model",
        task_path=task,
        mode="greedy",
        engine=AnswerEngine(),
        config=config,
    )


def test_stride_takes_every_kth_item_after_limit(db_url: str, task: Path) -> None:
    res = _run(db_url, task, limit=20, stride=3)
    with session_factory(make_engine(db_url))() as s:
        prompts = sorted(item.prompt for item, _ in R.run_results(s, res.run_id))
    assert prompts == sorted(f"q{i}=" for i in range(0, 20, 3))
    assert res.metrics["pass_rate"] == pytest.approx(1 / 7)  # q9 of q0, q3, ..., q18


def test_stride_must_be_positive(db_url: str, task: Path) -> None:
    with pytest.raises(ValueError, match="stride"):
        _run(db_url, task, stride=0)


def test_default_stride_and_checkpoint_leave_the_hash_alone() -> None:
    model, fp = {"uri": "m"}, "task-fp"
    base = resolve_config("greedy", "e", {})
    old = {k: v for k, v in base.items() if k != "stride"}  # a run hashed before stride existed
    assert config_hash(base, model, fp) == config_hash(old, model, fp)
    ck = resolve_config("greedy", "e", {"checkpoint_step": 80, "n_tokens": 1.6e4})
    assert config_hash(ck, model, fp) == config_hash(base, model, fp)
    assert config_hash(resolve_config("greedy", "e", {"stride": 2}), model, fp) != config_hash(
        base, model, fp
    )
    # the checker-error limit decides only whether a run is accepted: the same run either way
    lenient = resolve_config("greedy", "e", {"max_checker_error_rate": 0.5})
    assert config_hash(lenient, model, fp) == config_hash(base, model, fp)


def test_checkpoint_is_stored_on_the_run_and_its_measurements(db_url: str, task: Path) -> None:
    res = _run(db_url, task, checkpoint_step=80, n_tokens=16_000.0)
    with session_factory(make_engine(db_url))() as s:
        run = s.get(EvalRun, res.run_id)
        assert (run.checkpoint_step, run.n_tokens) == (80, 16_000.0)
        steps = s.execute(
            select(Measurement.checkpoint_step, Measurement.n_tokens).where(
                Measurement.source == f"capcast-eval:{res.run_id}"
            )
        ).all()
    assert steps and set(steps) == {(80, 16_000.0)}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"n": 1_000_000_000}, r"config.n=1000000000 is outside \[1, 100000\]"),
        ({"k_max": 10_000_001}, r"config.k_max=10000001 is outside"),
        ({"k_max": 1e4}, "config.k_max must be a whole number"),
        ({"r": True}, "config.r must be a whole number"),
        ({"temperature": float("nan")}, "config.temperature must be a finite number"),
        ({"top_p": 1.5}, r"config.top_p=1.5 is outside \[0, 1\]"),
        ({"max_tokens": 10**9}, "config.max_tokens"),
        ({"stride": 0}, "config.stride=0"),
        ({"max_checker_error_rate": 1.5}, r"config.max_checker_error_rate=1.5 is outside \[0, 1\]"),
        (
            {"max_checker_error_rate": "0.1"},
            "config.max_checker_error_rate must be a finite number",
        ),
    ],
)
def test_costly_or_malformed_settings_are_refused(config: dict, message: str) -> None:
    from evals.runner import resolve_config

    with pytest.raises(ValueError, match=message):
        resolve_config("samples", "hf", config)
    assert resolve_config("samples", "hf", {"n": 100_000, "k_max": 1_000_000})["n"] == 100_000
