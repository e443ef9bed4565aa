"""Writes of the evaluator: eval runs, items, per-item results and per-choice scores.

Everything here is idempotent so that a killed-and-restarted run can write again safely:
get-or-create by natural key (``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT``), and item
results / choice scores inserted with ``ON CONFLICT DO NOTHING`` on their unique keys, so an item
is never counted twice. Callers own the transaction (they commit once per finished item).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import Benchmark, ChoiceScore, EvalRun, Item, ItemResult, Model


def _insert(session: Session, table: Any):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _get_or_create(
    session: Session, model: Any, key: dict[str, Any], values: dict[str, Any]
) -> Any:
    stmt = _insert(session, model).values(**key, **values).on_conflict_do_nothing()
    session.execute(stmt)
    return session.scalars(select(model).filter_by(**key)).one()


def get_or_create_model(session: Session, *, name: str, uri: str | None = None) -> Model:
    return _get_or_create(session, Model, {"name": name}, {"uri": uri})


def get_or_create_benchmark(
    session: Session, *, name: str, kind: str, n_items: int, version: str | None = None
) -> Benchmark:
    return _get_or_create(
        session, Benchmark, {"name": name}, {"kind": kind, "n_items": n_items, "version": version}
    )


@dataclass(frozen=True)
class ItemRow:
    key: str
    prompt: str
    choices: list[str] | None
    answer: str | None
    meta: dict[str, Any] | None = None


def upsert_items(session: Session, benchmark_id: int, items: Sequence[ItemRow]) -> dict[str, int]:
    """Insert missing items of a benchmark; return ``{key: item_id}`` for all of them."""
    rows = [
        {
            "benchmark_id": benchmark_id,
            "key": it.key,
            "prompt": it.prompt,
            "choices": it.choices,
            "answer": it.answer,
            "meta": it.meta,
        }
        for it in items
    ]
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        session.execute(_insert(session, Item).values(chunk).on_conflict_do_nothing())
    found = session.execute(
        select(Item.key, Item.id).where(Item.benchmark_id == benchmark_id)
    ).all()
    return {k: i for k, i in found}


def get_or_create_run(
    session: Session,
    *,
    model_id: int,
    benchmark_id: int,
    config: dict[str, Any],
    config_hash: str,
    engine: str,
    engine_version: str,
    checkpoint_step: int | None = None,
    n_tokens: float | None = None,
) -> EvalRun:
    key = {"model_id": model_id, "benchmark_id": benchmark_id, "config_hash": config_hash}
    values = {
        "mode": config["mode"],
        "engine": engine,
        "engine_version": engine_version,
        "config": config,
        "status": "pending",
        "checkpoint_step": checkpoint_step,
        "n_tokens": n_tokens,
    }
    return _get_or_create(session, EvalRun, key, values)


def set_run_status(session: Session, run_id: int, status: str, error: str | None = None) -> None:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {"status": status, "error": error}
    if status == "running":
        values["started_at"] = now
    if status in ("done", "failed"):
        values["finished_at"] = now
    session.execute(update(EvalRun).where(EvalRun.id == run_id).values(**values))


def done_item_ids(session: Session, run_id: int) -> set[int]:
    return set(session.scalars(select(ItemResult.item_id).where(ItemResult.run_id == run_id)))


@dataclass(frozen=True)
class ChoiceRow:
    choice_index: int
    logprob_sum: float
    n_tokens: int
    n_bytes: int
    n_chars: int
    is_greedy: bool
    is_correct: bool


def write_item_result(
    session: Session,
    *,
    run_id: int,
    item_id: int,
    result: dict[str, Any],
    choices: Iterable[ChoiceRow] = (),
) -> bool:
    """Insert one item's result (and its choice scores); False if it was already stored."""
    row = {
        "run_id": run_id,
        "item_id": item_id,
        "n_samples": int(result.get("n_samples", 0)),
        "n_pass": int(result.get("n_pass", 0)),
        "stop_reason": result.get("stop_reason"),
        "greedy_correct": result.get("greedy_correct"),
        "estimate": result.get("estimate"),
        "estimates": result.get("estimates"),
    }
    choice_rows = [{"run_id": run_id, "item_id": item_id, **c.__dict__} for c in choices]
    if choice_rows:
        session.execute(_insert(session, ChoiceScore).values(choice_rows).on_conflict_do_nothing())
    res = session.execute(
        _insert(session, ItemResult).values(**row).on_conflict_do_nothing().returning(ItemResult.id)
    )
    return res.first() is not None


def run_results(session: Session, run_id: int) -> list[tuple[Item, ItemResult]]:
    """Item and result rows of a run, ordered by item id."""
    stmt = (
        select(Item, ItemResult)
        .join(ItemResult, ItemResult.item_id == Item.id)
        .where(ItemResult.run_id == run_id)
        .order_by(Item.id)
    )
    return [(i, r) for i, r in session.execute(stmt).all()]


def run_choice_scores(session: Session, run_id: int) -> dict[int, list[ChoiceScore]]:
    """Per-choice scores of a run, ``{item_id: [scores by choice index]}``."""
    stmt = (
        select(ChoiceScore)
        .where(ChoiceScore.run_id == run_id)
        .order_by(ChoiceScore.item_id, ChoiceScore.choice_index)
    )
    out: dict[int, list[ChoiceScore]] = {}
    for cs in session.scalars(stmt):
        out.setdefault(cs.item_id, []).append(cs)
    return out
