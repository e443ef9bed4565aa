"""Writes of the evaluator: eval runs, items, per-item results and per-choice scores.

Everything here is idempotent so that a killed-and-restarted run can write again safely:
get-or-create by natural key (``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT``), and item
results / choice scores inserted with ``ON CONFLICT DO NOTHING`` on their unique keys, so an item
is never counted twice. Callers own the transaction (they commit once per finished item).

Item results are written strictly by default (the evaluator, the ladder and lm-eval importers all
go through :func:`write_item_results`): writing an item again with the same outcome changes
nothing, and writing it with another outcome is a :class:`ResultConflictError` naming the run and
the item, so a stored result is never silently kept over, or replaced by, a different one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import data_version
from db.models import Base, Benchmark, ChoiceScore, EvalRun, Item, ItemResult, Model

_Row = TypeVar("_Row", bound=Base)


def _insert(session: Session, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` on both backends we support."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _get_or_create(
    session: Session, model: type[_Row], key: dict[str, Any], values: dict[str, Any]
) -> _Row:
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
    n_tokens: int | None  # lm-eval logs carry no token counts (choice_score.n_tokens is nullable)
    n_bytes: int
    n_chars: int
    is_greedy: bool
    is_correct: bool


#: Item-result columns that make up an item's outcome (compared in strict mode).
RESULT_FIELDS = ("n_samples", "n_pass", "stop_reason", "greedy_correct", "estimate", "estimates")
#: Choice-score columns compared in strict mode.
CHOICE_FIELDS = ("logprob_sum", "n_tokens", "n_bytes", "n_chars", "is_greedy", "is_correct")


class ResultConflictError(ValueError):
    """A (run, item) or (run, item, choice) already stored with a different value.

    ``choice_index`` is None for the item result itself. Importers turn it into an
    ``ImportValidationError`` at the file line the item came from.
    """

    def __init__(
        self,
        run_id: int,
        item_id: int,
        field: str,
        stored: Any,
        given: Any,
        choice_index: int | None = None,
    ) -> None:
        self.run_id, self.item_id, self.field = run_id, item_id, field
        self.stored, self.given, self.choice_index = stored, given, choice_index
        where = f"run {run_id}, item {item_id}"
        if choice_index is not None:
            where += f", choice {choice_index}"
        super().__init__(
            f"{where}: {field} is stored as {stored!r}, got {given!r}; a stored result is "
            "never overwritten (start a new run to measure again)"
        )


@dataclass(frozen=True)
class ResultIn:
    """One item's result to write: the ``item_result`` values and its choice scores."""

    item_id: int
    result: dict[str, Any]
    choices: tuple[ChoiceRow, ...] = ()


@dataclass
class WriteCounts:
    results_inserted: int = 0
    results_unchanged: int = 0
    choices_inserted: int = 0
    choices_unchanged: int = 0


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats to 1e-9 relative (NaN equals NaN) and dicts/lists element-wise."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return bool(a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _result_row(run_id: int, item_id: int, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "item_id": item_id,
        "n_samples": int(result.get("n_samples", 0)),
        "n_pass": int(result.get("n_pass", 0)),
        "stop_reason": result.get("stop_reason"),
        "greedy_correct": result.get("greedy_correct"),
        "estimate": result.get("estimate"),
        "estimates": result.get("estimates"),
    }


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _stored_results(
    session: Session, run_id: int, item_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    cols = [getattr(ItemResult, f) for f in RESULT_FIELDS]
    for part in _chunks(sorted(set(item_ids))):
        stmt = select(ItemResult.item_id, *cols).where(
            ItemResult.run_id == run_id, ItemResult.item_id.in_(part)
        )
        for item_id, *values in session.execute(stmt).tuples():
            out[item_id] = dict(zip(RESULT_FIELDS, values, strict=True))
    return out


def _stored_choices(
    session: Session, run_id: int, item_ids: Sequence[int]
) -> dict[tuple[int, int], dict[str, Any]]:
    out: dict[tuple[int, int], dict[str, Any]] = {}
    cols = [getattr(ChoiceScore, f) for f in CHOICE_FIELDS]
    for part in _chunks(sorted(set(item_ids))):
        stmt = select(ChoiceScore.item_id, ChoiceScore.choice_index, *cols).where(
            ChoiceScore.run_id == run_id, ChoiceScore.item_id.in_(part)
        )
        for item_id, idx, *values in session.execute(stmt).tuples():
            out[(item_id, idx)] = dict(zip(CHOICE_FIELDS, values, strict=True))
    return out


def _compare(
    run_id: int,
    item_id: int,
    stored: dict[str, Any],
    given: dict[str, Any],
    fields: Sequence[str],
    idx: int | None,
) -> None:
    for f in fields:
        if not _same(stored[f], given[f]):
            raise ResultConflictError(run_id, item_id, f, stored[f], given[f], idx)


def write_item_results(
    session: Session, run_id: int, entries: Sequence[ResultIn], *, strict: bool = True
) -> WriteCounts:
    """Insert item results and choice scores of one run in bulk; the same again is unchanged.

    ``strict`` (the default) raises :class:`ResultConflictError` before writing anything when an
    item (or one of its choices) is already stored, or given twice, with another value; without
    it the first stored value is kept silently. Rows another writer inserts concurrently are
    checked after the insert, so strictness holds under a race too (the caller then rolls back).
    """
    counts = WriteCounts()
    rows: dict[int, dict[str, Any]] = {}
    choice_rows: dict[tuple[int, int], dict[str, Any]] = {}
    for e in entries:
        row = _result_row(run_id, e.item_id, e.result)
        first = rows.setdefault(e.item_id, row)
        if strict and first is not row:
            _compare(run_id, e.item_id, first, row, RESULT_FIELDS, None)
        for c in e.choices:
            crow = {"run_id": run_id, "item_id": e.item_id, **asdict(c)}
            cfirst = choice_rows.setdefault((e.item_id, c.choice_index), crow)
            if strict and cfirst is not crow:
                _compare(run_id, e.item_id, cfirst, crow, CHOICE_FIELDS, c.choice_index)
    stored = _stored_results(session, run_id, list(rows))
    stored_choices = _stored_choices(session, run_id, list(rows)) if choice_rows else {}
    if strict:
        _check_stored(run_id, rows, choice_rows, stored, stored_choices)
    new_rows = [r for i, r in rows.items() if i not in stored]
    new_choices = [r for k, r in choice_rows.items() if k not in stored_choices]
    counts.results_unchanged = len(rows) - len(new_rows)
    counts.choices_unchanged = len(choice_rows) - len(new_choices)
    for part in _chunks(new_choices):
        res = session.execute(
            _insert(session, ChoiceScore)
            .values(list(part))
            .on_conflict_do_nothing()
            .returning(ChoiceScore.id)
        )
        counts.choices_inserted += len(res.all())
    inserted: set[int] = set()
    for part in _chunks(new_rows):
        res = session.execute(
            _insert(session, ItemResult)
            .values(list(part))
            .on_conflict_do_nothing()
            .returning(ItemResult.item_id)
        )
        inserted.update(res.scalars())
    counts.results_inserted = len(inserted)
    if inserted:  # the item_results view changed: stored forecasts on it are stale
        data_version.bump(session, data_version.pairs_of_runs(session, [run_id]))
    raced = [r["item_id"] for r in new_rows if r["item_id"] not in inserted]
    lost_choices = len(new_choices) - counts.choices_inserted
    if raced or lost_choices:  # another writer got there between our read and our insert
        counts.results_unchanged += len(raced)
        counts.choices_unchanged += lost_choices
        if strict:
            ids = [r["item_id"] for r in new_rows]
            _check_stored(
                run_id,
                rows,
                choice_rows,
                _stored_results(session, run_id, ids),
                _stored_choices(session, run_id, ids) if choice_rows else {},
            )
    return counts


def _check_stored(
    run_id: int,
    rows: dict[int, dict[str, Any]],
    choice_rows: dict[tuple[int, int], dict[str, Any]],
    stored: dict[int, dict[str, Any]],
    stored_choices: dict[tuple[int, int], dict[str, Any]],
) -> None:
    for item_id, old in stored.items():
        if item_id in rows:
            _compare(run_id, item_id, old, rows[item_id], RESULT_FIELDS, None)
    for key, old in stored_choices.items():
        if key in choice_rows:
            _compare(run_id, key[0], old, choice_rows[key], CHOICE_FIELDS, key[1])


def write_item_result(
    session: Session,
    *,
    run_id: int,
    item_id: int,
    result: dict[str, Any],
    choices: Iterable[ChoiceRow] = (),
    strict: bool = True,
) -> bool:
    """Insert one item's result (and its choice scores); False if it was already stored.

    Strict by default: the item stored with another outcome is a :class:`ResultConflictError`.
    """
    counts = write_item_results(
        session, run_id, [ResultIn(item_id, result, tuple(choices))], strict=strict
    )
    return counts.results_inserted == 1


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
