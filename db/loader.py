"""Bulk, idempotent loading of an observations table into families, models, benchmarks and
measurements, inside the caller's transaction (it never commits).

Set-based on purpose: existing rows are fetched once per table for the names involved, only the
new rows are inserted with one executemany (or PostgreSQL ``COPY`` for big loads), so importing
the same file twice inserts nothing. A stored model attribute is only filled in where it was
missing; a different stored value, or a measurement key stored with another value, is an
:class:`ImportValidationError` naming the input line, and the caller's rollback leaves the
database as it was. ``uq_measurement_identity`` stays the safety net underneath.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from db import data_version
from db.errors import ImportValidationError
from db.models import Benchmark, Measurement, Model, ModelFamily
from db.observations import (
    LOWER_IS_BETTER_METRICS,
    OBSERVATION_COLUMNS,
    OPTIONAL_COLUMNS,
    RowFiles,
    validate_observations,
)

#: Above this many new measurements, PostgreSQL loads them with COPY instead of executemany.
COPY_THRESHOLD = 2000
_CHUNK = 900  # bound parameters per IN list (SQLite's historic limit is 999)
_KNOWN = {*OBSERVATION_COLUMNS, *OPTIONAL_COLUMNS}
_MODEL_ATTRS = ("n_params", "n_params_nonembed", "n_tokens", "flops", "release_date")


@dataclass
class LoadReport:
    """What one load did; ``to_dict()`` is what ``capcast import --json`` prints."""

    source: str
    rows: int = 0
    families_created: int = 0
    models_created: int = 0
    models_updated: int = 0
    benchmarks_created: int = 0
    measurements_inserted: int = 0
    measurements_unchanged: int = 0
    method: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.source}: {self.rows} rows -> {self.measurements_inserted} measurements "
            f"inserted, {self.measurements_unchanged} unchanged; {self.models_created} models "
            f"created, {self.models_updated} updated; {self.families_created} families and "
            f"{self.benchmarks_created} benchmarks created"
        )


def _chunks(values: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _select_in(session: Session, columns: Iterable[Any], key: Any, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for part in _chunks(values):
        out.extend(session.execute(select(*columns).where(key.in_(part))).all())
    return out


def _none(v: Any) -> Any:
    """NaN/NaT/NA -> None; numpy scalars -> Python (drivers and JSON want plain values)."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v.item() if hasattr(v, "item") else v


class _Origin(str):
    """The input's name, which knows each row's file when a converter read several."""

    files: RowFiles

    def __new__(cls, name: str, files: RowFiles) -> _Origin:
        obj = super().__new__(cls, name)
        obj.files = files
        return obj

    def at(self, pos: int) -> str:
        return self.files[pos]


def _file(origin: str, pos: int) -> str:
    return origin.at(pos) if isinstance(origin, _Origin) else origin


def _line(lines: np.ndarray, pos: int) -> int | None:
    """The input line of row ``pos``; None where the source has no lines (JSON documents)."""
    line = int(lines[pos])
    return line if line > 0 else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return bool(a == b)


def load_observations(
    session: Session,
    df: pd.DataFrame,
    *,
    source: str,
    benchmark_attrs: dict[str, dict[str, Any]] | None = None,
    create_benchmarks: bool = True,
    copy_threshold: int = COPY_THRESHOLD,
    model_conflicts: str = "error",
) -> LoadReport:
    """Load observations (validated, or validated here) and report what changed.

    ``source`` fills rows whose ``source`` is empty; ``benchmark_attrs`` gives attributes
    (kind, higher_is_better, chance, n_items, extra) of benchmarks created here;
    ``create_benchmarks=False`` makes an unknown benchmark name an error;
    ``model_conflicts="keep"`` keeps stored model attributes that differ from the input (noted in
    the report) instead of failing, for tables with rounded sizes (leaderboards).
    """
    if model_conflicts not in ("error", "keep"):
        raise ValueError(f"model_conflicts must be 'error' or 'keep', got {model_conflicts!r}")
    if "origin" not in df.attrs:
        df = validate_observations(df, "<observations>", known_metrics=None)
    origin = str(df.attrs.get("origin", "<observations>"))
    files = df.attrs.get("files")
    if isinstance(files, RowFiles) and len(files) == len(df):
        origin = _Origin(origin, files)
    lines = df.index.to_numpy() if df.index.name == "line" else np.arange(2, len(df) + 2)
    df = df.reset_index(drop=True)
    df.attrs = {}  # pandas deep-copies attrs on every derived frame: keep them off the hot path
    report = LoadReport(source=source, rows=len(df))
    if df["item"].notna().any():
        pos = int(np.flatnonzero(df["item"].notna().to_numpy())[0])
        raise ImportValidationError(
            _file(origin, pos),
            _line(lines, pos),
            "item",
            "an empty item (per-item results are imported with `capcast import lm-eval`)",
            df["item"].iat[pos],
            row=pos + 1 if _line(lines, pos) else None,
        )
    family_ids = _families(session, df, report)
    keep = model_conflicts == "keep"
    model_ids = _models(session, df, family_ids, report, origin, lines, keep)
    bench_ids = _benchmarks(
        session, df, report, origin, lines, benchmark_attrs or {}, create_benchmarks
    )
    new = _measurements(
        session, df, model_ids, bench_ids, report, origin, lines, source, copy_threshold
    )
    # the data versions of the new rows' (family, benchmark), in this transaction; the models'
    # updated attributes were bumped by the update itself (db/data_version.py's hook)
    data_version.bump(session, data_version.pairs_of(session, new))
    return report


def _families(session: Session, df: pd.DataFrame, report: LoadReport) -> dict[str, int]:
    names = sorted(df["family"].dropna().unique().tolist())
    ids = dict(_select_in(session, (ModelFamily.name, ModelFamily.id), ModelFamily.name, names))
    new = [n for n in names if n not in ids]
    if new:
        session.execute(insert(ModelFamily), [{"name": n} for n in new])
        ids.update(_select_in(session, (ModelFamily.name, ModelFamily.id), ModelFamily.name, new))
        report.families_created = len(new)
    return ids


def _model_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per model: its attributes, sizes at its final checkpoint, first input position."""
    order = df.assign(
        _pos=np.arange(len(df)),
        _step=df["checkpoint_step"].astype("Float64").fillna(np.inf).astype(float),
    ).sort_values(["model", "_step", "_pos"], kind="stable")
    grouped = order.groupby("model", sort=False)
    table = grouped[["family", *_MODEL_ATTRS]].last()
    table["first_pos"] = grouped["_pos"].min()
    table["has_steps"] = grouped["checkpoint_step"].count() > 0
    return table


def _models(
    session: Session,
    df: pd.DataFrame,
    family_ids: dict[str, int],
    report: LoadReport,
    origin: str,
    lines: np.ndarray,
    keep_stored: bool = False,
) -> dict[str, int]:
    """Insert new models, fill in missing attributes of stored ones; ids by name."""
    table = _model_table(df)
    kept = 0
    cols = (Model.name, Model.id, Model.family_id, *(getattr(Model, a) for a in _MODEL_ATTRS))
    stored = {r[0]: r for r in _select_in(session, cols, Model.name, table.index.tolist())}
    inserts, updates = [], []
    for name, row in table.iterrows():
        wanted = {a: _none(row[a]) for a in _MODEL_ATTRS}
        fam = _none(row["family"])
        wanted["family_id"] = family_ids.get(fam) if fam is not None else None
        if name not in stored:
            inserts.append({"name": name, **wanted})
            continue
        have = dict(zip(("family_id", *_MODEL_ATTRS), stored[name][2:], strict=True))
        changes = {}
        for attr, new in wanted.items():
            old = have[attr]
            if new is None or (old is not None and _same(old, new)):
                continue
            if old is None:
                changes[attr] = new
            elif keep_stored:
                kept += 1
            elif not (row["has_steps"] and attr in ("n_tokens", "flops")):
                pos = int(row["first_pos"])
                shown = "family " + repr(fam) if attr == "family_id" else new
                raise ImportValidationError(
                    _file(origin, pos),
                    _line(lines, pos),
                    "family" if attr == "family_id" else attr,
                    f"{_stored(session, attr, old)} as already stored for model {name!r}",
                    shown,
                    row=pos + 1 if _line(lines, pos) else None,
                )
        if changes:
            updates.append({"id": stored[name][1], **changes})
    if inserts:
        session.execute(insert(Model), inserts)
        report.models_created = len(inserts)
    for group in _by_keys(updates):
        session.execute(update(Model), group)
    report.models_updated = len(updates)
    if kept:
        report.notes.append(f"kept {kept} stored model attributes that differ from the input")
    ids = {r[0]: r[1] for r in stored.values()}
    if inserts:
        new_names = [r["name"] for r in inserts]
        ids.update(_select_in(session, (Model.name, Model.id), Model.name, new_names))
    return ids


def _stored(session: Session, attr: str, old: Any) -> str:
    if attr == "family_id":
        name = session.execute(select(ModelFamily.name).where(ModelFamily.id == old)).scalar()
        return f"family {name!r}"
    return str(old)


def _by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Bulk UPDATE by primary key wants the same keys in every dict of one call."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    return list(groups.values())


def _benchmarks(
    session: Session,
    df: pd.DataFrame,
    report: LoadReport,
    origin: str,
    lines: np.ndarray,
    attrs: dict[str, dict[str, Any]],
    create: bool,
) -> dict[str, int]:
    pairs = df[["benchmark", "metric"]].drop_duplicates()
    metrics: dict[str, set[str]] = {}
    for bench, metric in zip(pairs["benchmark"].tolist(), pairs["metric"].tolist(), strict=True):
        metrics.setdefault(str(bench), set()).add(str(metric))
    names = sorted(metrics)
    ids = dict(_select_in(session, (Benchmark.name, Benchmark.id), Benchmark.name, names))
    new = [n for n in names if n not in ids]
    if new and not create:
        name = new[0]
        pos = int(np.flatnonzero((df["benchmark"] == name).to_numpy())[0])
        known = session.execute(select(Benchmark.name)).scalars().all()
        close = difflib.get_close_matches(name, known, n=3)
        raise ImportValidationError(
            _file(origin, pos),
            _line(lines, pos),
            "benchmark",
            "a benchmark already in the database"
            + (f" (did you mean {', '.join(close)}?)" if close else ""),
            name,
            row=pos + 1 if _line(lines, pos) else None,
            detail="unknown benchmark name",
        )
    if new:
        rows = []
        for name in new:
            a = dict(attrs.get(name, {}))
            ms = metrics[name]
            a.setdefault("kind", "loss" if ms == {"loss"} else "multiple_choice")
            a.setdefault("higher_is_better", not ms <= LOWER_IS_BETTER_METRICS)
            rows.append({"name": name, **a})
        for group in _by_keys(rows):
            session.execute(insert(Benchmark), group)
        ids.update(_select_in(session, (Benchmark.name, Benchmark.id), Benchmark.name, new))
        report.benchmarks_created = len(new)
    return ids


def _extras(df: pd.DataFrame) -> list[Any]:
    cols = [c for c in df.columns if c not in _KNOWN]
    if not cols:
        return [None] * len(df)
    out = []
    for values in zip(*(df[c].to_numpy() for c in cols), strict=True):
        d = {c: _none(v) for c, v in zip(cols, values, strict=True) if _none(v) not in (None, "")}
        out.append(d or None)
    return out


def _measurements(
    session: Session,
    df: pd.DataFrame,
    model_ids: dict[str, int],
    bench_ids: dict[str, int],
    report: LoadReport,
    origin: str,
    lines: np.ndarray,
    source: str,
    copy_threshold: int,
) -> set[tuple[int, int]]:
    """Insert the new measurements; the (model id, benchmark id) pairs inserted."""
    mids = df["model"].map(model_ids).to_numpy()
    bids = df["benchmark"].map(bench_ids).to_numpy()
    steps = df["checkpoint_step"]
    step_key = steps.fillna(-1).astype("int64").to_numpy()
    sources = df["source"].fillna(source).to_numpy()
    metrics = df["metric"].to_numpy()
    values = df["value"].to_numpy(float)
    existing = _existing(session, sorted(set(model_ids.values())))
    new_pos: list[int] = []
    for pos, key in enumerate(
        zip(mids.tolist(), bids.tolist(), metrics, step_key.tolist(), sources, strict=True)
    ):
        old = existing.get(key)
        if old is None:
            new_pos.append(pos)
        elif math.isclose(old, values[pos], rel_tol=1e-12, abs_tol=0.0):
            report.measurements_unchanged += 1
        else:
            raise ImportValidationError(
                _file(origin, pos),
                _line(lines, pos),
                "value",
                f"{old} as already stored for model {df['model'].iat[pos]!r}, benchmark "
                f"{df['benchmark'].iat[pos]!r}, metric {metrics[pos]!r}, checkpoint_step "
                f"{'empty' if step_key[pos] < 0 else step_key[pos]}, source {sources[pos]!r}",
                values[pos],
                row=pos + 1 if _line(lines, pos) else None,
                detail="a different value for a stored measurement; delete it first to replace it",
            )
    if not new_pos:
        report.method = "none"
        return set()
    idx = np.asarray(new_pos)
    n_tokens = df["n_tokens"].where(steps.notna())
    extras = _extras(df)
    cols = (
        "model_id",
        "benchmark_id",
        "metric",
        "value",
        "stderr",
        "source",
        "checkpoint_step",
        "n_tokens",
        "extra",
    )
    data = zip(
        mids[idx].tolist(),
        bids[idx].tolist(),
        metrics[idx].tolist(),
        values[idx].tolist(),
        [_none(v) for v in df["stderr"].to_numpy()[idx]],
        sources[idx].tolist(),
        [_none(v) for v in steps.to_numpy()[idx]],
        [_none(v) for v in n_tokens.to_numpy()[idx]],
        [extras[i] for i in idx],
        strict=True,
    )
    if session.get_bind().dialect.name == "postgresql" and len(idx) >= copy_threshold:
        _copy(session, cols, data)
        report.method = "copy"
    else:
        session.execute(
            insert(_measurement_table()), [dict(zip(cols, r, strict=True)) for r in data]
        )
        report.method = "executemany"
    report.measurements_inserted = len(idx)
    return set(zip(mids[idx].tolist(), bids[idx].tolist(), strict=True))


def _measurement_table() -> Table:
    """The Core table (``Measurement.__table__`` is typed as any FromClause)."""
    return Measurement.metadata.tables[Measurement.__tablename__]


def _existing(session: Session, model_ids: list[int]) -> dict[tuple[Any, ...], float]:
    step = func.coalesce(Measurement.checkpoint_step, -1)
    cols = (
        Measurement.model_id,
        Measurement.benchmark_id,
        Measurement.metric,
        step,
        Measurement.source,
        Measurement.value,
    )
    return {tuple(r[:5]): r[5] for r in _select_in(session, cols, Measurement.model_id, model_ids)}


def _copy(session: Session, cols: tuple[str, ...], data: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL COPY FROM STDIN on the session's own connection (same transaction)."""
    import psycopg  # the one driver with COPY; only PostgreSQL loads get here

    raw = session.connection().connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"COPY needs a psycopg 3 connection, got {type(raw).__name__}")
    sql = f"COPY measurement ({', '.join(cols)}) FROM STDIN"
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in data:
            extra = row[-1]
            copy.write_row((*row[:-1], None if extra is None else json.dumps(extra)))
