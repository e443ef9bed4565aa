"""Mode ``choices`` with the engine and the database writer pipelined (evals.run_choices), on the
transformers reference engine and the tiny model, SQLite and PostgreSQL: many small batches store
exactly what one batch stores, progress comes from the calling thread in batch steps, and a
failing commit fails the run with the batches before it kept."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from db import results as R
from db.session import session_factory
from evals.engines.base import encode_pair, encode_pairs, split_whitespace
from evals.runner import run_eval
from evals.testing import build_tiny_model

TASK = Path(__file__).resolve().parents[2] / "evals" / "example_tasks" / "mc_facts.jsonl"
N_ITEMS = 16  # items in mc_facts.jsonl


@pytest.fixture(scope="module")
def hf_engine():
    from evals.engines.hf_engine import HfEngine

    return HfEngine(build_tiny_model())


def _scores(engine: Engine, run_id: int) -> dict[str, list[tuple[float, int | None, bool]]]:
    with session_factory(engine)() as s:
        by_item = R.run_choice_scores(s, run_id)
        return {
            item.key: [(c.logprob_sum, c.n_tokens, c.is_greedy) for c in by_item[item.id]]
            for item, _ in R.run_results(s, run_id)
        }


def _run(engine: Engine, eng: Any, name: str, batch: int, progress: Any = None) -> Any:
    return run_eval(
        session_factory=session_factory(engine),
        model_path=build_tiny_model(),
        task_path=TASK,
        mode="choices",
        engine=eng,
        config={"batch_items": batch, "model_name": name},
        progress=progress,
    )


def test_small_batches_store_what_one_batch_stores(db_engine: Engine, hf_engine) -> None:
    seen: list[tuple[int, str]] = []

    def progress(*, done: int, total: int, **_: Any) -> None:
        seen.append((done, threading.current_thread().name))

    piped = _run(db_engine, hf_engine, "piped", 3, progress)
    whole = _run(db_engine, hf_engine, "whole", 64)
    assert piped.n_new == whole.n_new == N_ITEMS
    # same engine, same items: the stored numbers are identical, not merely close
    assert _scores(db_engine, piped.run_id) == _scores(db_engine, whole.run_id)
    assert piped.metrics == whole.metrics
    # one report before scoring, then one per stored batch of 3 (the last holds the 1 left over)
    assert [d for d, _ in seen] == [0, 3, 6, 9, 12, 15, 16]
    assert {t for _, t in seen} == {threading.main_thread().name}


def test_a_failing_commit_fails_the_run_and_keeps_earlier_batches(
    db_engine: Engine, hf_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = R.write_item_results
    calls = [0]

    def flaky(*args: Any, **kwargs: Any) -> R.WriteCounts:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(R, "write_item_results", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        _run(db_engine, hf_engine, "flaky", 4)
    monkeypatch.setattr(R, "write_item_results", real)
    with session_factory(db_engine)() as s:
        run = s.scalars(select(R.EvalRun)).one()
        assert run.status == "failed" and "disk full" in (run.error or "")
        # batches 1 and 2 were committed before the third commit failed; the fourth never ran
        assert len(R.done_item_ids(s, run.id)) == 8
    # started again, the run resumes: only the 8 missing items are scored
    again = _run(db_engine, hf_engine, "flaky", 4)
    assert (again.n_new, again.n_reused) == (8, 8)


def test_encode_pairs_matches_one_call_per_pair() -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(build_tiny_model())
    pairs = [
        ("Question: What is 12 + 30?\nAnswer:", " 42"),
        ("Question: What is 12 + 30?\nAnswer:", " forty two"),
        ("Pick a colour: ", "green blue"),
        ("def f(x):\n    return", "(x)"),
        ("naïve ", " café"),
    ]
    batch = encode_pairs(tok, pairs)
    assert batch == [encode_pair(tok, c, k) for c, k in pairs]
    for (context, cont), enc in zip(pairs, batch, strict=True):
        ctx, cont = split_whitespace(context, cont)
        whole = tok(ctx + cont)["input_ids"]
        assert list(enc.ids) == whole
        # lm-eval's split: the continuation is what follows the context's own encoding
        assert list(enc.cont_ids) == whole[len(tok(ctx)["input_ids"]) :]
    with pytest.raises(ValueError, match="empty continuation"):
        encode_pairs(tok, [("a", " b"), ("a", "")])
    assert encode_pairs(tok, []) == []
