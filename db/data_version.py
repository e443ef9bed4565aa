"""Data versions: a counter per (family, benchmark), bumped by every write of its data.

A stored forecast is found by (query, data version) with one small SELECT of these counters
instead of fetching and hashing every observation row (service/forecasting.py). That only holds
if every write that changes what the ``observations`` or ``item_results`` views show bumps the
counters of the (family, benchmark) pairs it touches, in the same transaction:

* bulk Core writes call :func:`bump` themselves (db/loader.py, db/results.py);
* ORM writes (``session.add(Measurement(...))``, a model's size or family changed through the
  ORM, an eval run's checkpoint) are caught by the ``before_flush`` hook below, and bulk
  ``update(Model)`` by primary key by the ``do_orm_execute`` hook.

The bump is one ``INSERT ... ON CONFLICT DO UPDATE SET n = n + 1`` (SQLite and PostgreSQL), with
the pairs sorted so that concurrent writers lock the rows in the same order. Writes outside
SQLAlchemy (hand-written SQL) do not bump: a forecast stored before them is served until the next
bump of its pairs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, event, inspect, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session

from db.models import (
    Benchmark,
    DataVersion,
    EvalRun,
    ItemResult,
    Measurement,
    Model,
    ModelFamily,
)

#: The ``family`` of a model without one.
NO_FAMILY = ""
#: Model columns the views show: changing one changes the model's observations.
_MODEL_VIEW_ATTRS = (
    "name",
    "family_id",
    "n_params",
    "n_params_nonembed",
    "n_tokens",
    "flops",
    "release_date",
    "checkpoint_step",
)
_RUN_VIEW_ATTRS = ("model_id", "benchmark_id", "checkpoint_step", "n_tokens", "mode", "engine")
_CHUNK = 300  # rows per upsert: 3 parameters each, under SQLite's historic 999


def bump(session: Session, pairs: Iterable[tuple[str | None, str]]) -> int:
    """Add one to the counter of each (family, benchmark) pair (created at 1); how many pairs."""
    rows = sorted({(family or NO_FAMILY, benchmark) for family, benchmark in pairs})
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    conn = session.connection()
    for start in range(0, len(rows), _CHUNK):
        values = [{"family": f, "benchmark": b, "n": 1} for f, b in rows[start : start + _CHUNK]]
        stmt = insert(DataVersion).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["family", "benchmark"], set_={"n": DataVersion.n + 1}
        )
        conn.execute(stmt)
    return len(rows)


def _family_name() -> ScalarSelect[str]:
    return select(ModelFamily.name).where(ModelFamily.id == Model.family_id).scalar_subquery()


def pairs_of_models(session: Session, model_ids: Iterable[int]) -> set[tuple[str, str]]:
    """The (family, benchmark) pairs that the given models' measurements and runs show in."""
    ids = sorted(set(model_ids))
    out: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        measured = (
            select(_family_name().label("family"), Benchmark.name)
            .select_from(Measurement)
            .join(Model, Model.id == Measurement.model_id)
            .join(Benchmark, Benchmark.id == Measurement.benchmark_id)
            .where(Measurement.model_id.in_(part))
        )
        evaluated = (
            select(_family_name().label("family"), Benchmark.name)
            .select_from(EvalRun)
            .join(Model, Model.id == EvalRun.model_id)
            .join(Benchmark, Benchmark.id == EvalRun.benchmark_id)
            .where(EvalRun.model_id.in_(part))
        )
        rows = session.connection().execute(union(measured, evaluated)).all()
        out.update((f or NO_FAMILY, b) for f, b in rows)
    return out


def pairs_of_runs(session: Session, run_ids: Iterable[int]) -> set[tuple[str, str]]:
    """The (family, benchmark) pair of each eval run's model and benchmark."""
    ids = sorted(set(run_ids))
    if not ids:
        return set()
    stmt = (
        select(_family_name(), Benchmark.name)
        .select_from(EvalRun)
        .join(Model, Model.id == EvalRun.model_id)
        .join(Benchmark, Benchmark.id == EvalRun.benchmark_id)
        .where(EvalRun.id.in_(ids))
    )
    return {(f or NO_FAMILY, b) for f, b in session.connection().execute(stmt).all()}


def pairs_of(session: Session, model_bench: Iterable[tuple[int, int]]) -> set[tuple[str, str]]:
    """(family, benchmark) names of (model id, benchmark id) pairs."""
    wanted = set(model_bench)
    if not wanted:
        return set()
    models = sorted({m for m, _ in wanted})
    benches = sorted({b for _, b in wanted})
    conn = session.connection()
    fam = dict(
        conn.execute(select(Model.id, _family_name()).where(Model.id.in_(models))).tuples().all()
    )
    names = dict(
        conn.execute(select(Benchmark.id, Benchmark.name).where(Benchmark.id.in_(benches)))
        .tuples()
        .all()
    )
    return {(fam.get(m) or NO_FAMILY, names[b]) for m, b in wanted if b in names}


def counters_of(benchmarks: Iterable[str], family: str | None) -> ColumnElement[bool]:
    """Which counters make up the data version of ``benchmarks`` in ``family`` (all if None)."""
    cond = DataVersion.benchmark.in_(sorted(set(benchmarks)))
    return cond if family is None else and_(cond, DataVersion.family == family)


def version_of(
    rows: Iterable[tuple[str, str, int]], benchmarks: Iterable[str], family: str | None
) -> str:
    """The data version from the (family, benchmark, n) counters :func:`counters_of` selects.

    A hash of the counters, so it changes whenever any of them is bumped or created.
    """
    scope = [family, sorted(set(benchmarks))]
    return hashlib.sha256(json.dumps([scope, sorted(rows)]).encode()).hexdigest()[:32]


def current(session: Session, benchmarks: Iterable[str], family: str | None) -> str:
    """The data version of ``benchmarks`` in ``family`` (all families if None): one SELECT."""
    stmt = select(DataVersion.family, DataVersion.benchmark, DataVersion.n).where(
        counters_of(benchmarks, family)
    )
    rows = [(f, b, n) for f, b, n in session.execute(stmt).tuples()]
    return version_of(rows, benchmarks, family)


def _changed(obj: Any, attrs: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in attrs)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Bump the pairs of ORM-written measurements, item results, models and runs."""
    measured: set[tuple[int, int]] = set()
    runs: set[int] = set()
    models: set[int] = set()
    families: set[int | None] = set()  # a model's old and new family, when it changed
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Measurement):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            if obj.model_id is not None and obj.benchmark_id is not None:
                measured.add((obj.model_id, obj.benchmark_id))
                old = inspect(obj).attrs.benchmark_id.history.deleted
                measured.update((obj.model_id, b) for b in old if b is not None)
        elif isinstance(obj, ItemResult):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            if obj.run_id is not None:
                runs.add(obj.run_id)
        elif isinstance(obj, Model) and obj not in session.new and obj.id is not None:
            if obj in session.deleted or _changed(obj, _MODEL_VIEW_ATTRS):
                models.add(obj.id)
                moved = inspect(obj).attrs.family_id.history
                families.update([*moved.added, *moved.deleted])
        elif (
            isinstance(obj, EvalRun)
            and obj not in session.new
            and obj.id is not None
            and (obj in session.deleted or _changed(obj, _RUN_VIEW_ATTRS))
        ):
            runs.add(obj.id)
    if not (measured or runs or models):
        return
    pairs = pairs_of(session, measured) | pairs_of_runs(session, runs)
    if models:
        # read before the UPDATE: the pairs under the stored family; a changed family moves
        # the rows to the new one (from the old one, or from "no family")
        touched = pairs_of_models(session, models)
        pairs |= touched
        names = _family_names(session, families)
        pairs |= {(f, b) for f in names for _, b in touched}
    bump(session, pairs)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_model_update(state: ORMExecuteState) -> Result[Any] | None:
    """``session.execute(update(Model), [{"id": ..., ...}])`` (ORM bulk UPDATE by primary key,
    as db/importers/commands.py fills release dates): bump the pairs of those models before and
    after (a new family moves its rows)."""
    if not state.is_update or state.bind_mapper is None or state.bind_mapper.class_ is not Model:
        return None
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    ids = [r["id"] for r in rows if isinstance(r, dict) and "id" in r]
    changes = {k for r in rows if isinstance(r, dict) for k in r if k != "id"}
    if not ids or not changes & set(_MODEL_VIEW_ATTRS):
        return None
    session = state.session
    before = pairs_of_models(session, ids)
    result = state.invoke_statement()
    bump(session, before | pairs_of_models(session, ids))
    return result


def _family_names(session: Session, ids: set[int | None]) -> set[str]:
    out = {NO_FAMILY} if None in ids else set()
    real = sorted(i for i in ids if i is not None)
    if real:
        stmt = select(ModelFamily.name).where(ModelFamily.id.in_(real))
        out.update(session.connection().execute(stmt).scalars())
    return out
