"""SQLAlchemy 2.0 typed models: the tables analysts query (keep names stable).

Uniqueness constraints are what make retries and re-imports safe: an item result is unique per
(run, item), a per-choice score per (run, item, choice), a measurement per
(model, benchmark, metric, step, source).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    literal_column,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
        dt.datetime: DateTime(timezone=True),
    }


class ModelFamily(Base):
    """A ladder trained with one recipe, or a released family of models."""

    __tablename__ = "model_family"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    recipe: Mapped[dict[str, Any] | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    models: Mapped[list[Model]] = relationship(back_populates="family")


class Model(Base):
    __tablename__ = "model"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    family_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_family.id", ondelete="SET NULL"), index=True
    )
    n_params: Mapped[float | None]
    n_params_nonembed: Mapped[float | None]
    n_tokens: Mapped[float | None]
    flops: Mapped[float | None]
    release_date: Mapped[dt.date | None]
    checkpoint_step: Mapped[int | None]
    uri: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    family: Mapped[ModelFamily | None] = relationship(back_populates="models")


class Benchmark(Base):
    """A task, a leaderboard column, or a loss set (kind='loss')."""

    __tablename__ = "benchmark"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    version: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40), default="multiple_choice")
    n_items: Mapped[int | None]
    chance: Mapped[float | None]
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    extra: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("benchmark_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmark.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    prompt: Mapped[str | None] = mapped_column(Text)
    choices: Mapped[list[Any] | None]
    answer: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None]


class EvalRun(Base):
    """One evaluation of a model on a benchmark with one configuration.

    ``config_hash`` covers the model identity (name, uri, revision) and every setting that
    changes results, so re-running the same configuration resumes instead of duplicating.
    """

    __tablename__ = "eval_run"
    __table_args__ = (UniqueConstraint("model_id", "benchmark_id", "config_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    benchmark_id: Mapped[int] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(40))
    engine: Mapped[str] = mapped_column(String(40))
    engine_version: Mapped[str | None] = mapped_column(String(80))
    config: Mapped[dict[str, Any]]
    config_hash: Mapped[str] = mapped_column(String(64))
    # The checkpoint evaluated, when the model row stands for several (a ladder's sizes): the
    # views give the run's items this step, these tokens and the FLOPs they imply.
    checkpoint_step: Mapped[int | None]
    n_tokens: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class ItemResult(Base):
    __tablename__ = "item_result"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_run.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    n_pass: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    greedy_correct: Mapped[bool | None]
    estimate: Mapped[float | None]
    estimates: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class ChoiceScore(Base):
    __tablename__ = "choice_score"
    __table_args__ = (UniqueConstraint("run_id", "item_id", "choice_index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_run.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    choice_index: Mapped[int]
    logprob_sum: Mapped[float]
    n_tokens: Mapped[int | None]
    n_bytes: Mapped[int | None]
    n_chars: Mapped[int | None]
    is_greedy: Mapped[bool | None]
    is_correct: Mapped[bool]


class Measurement(Base):
    """An aggregate number from any source (import, evaluator, training dashboard)."""

    __tablename__ = "measurement"
    __table_args__ = (
        Index("ix_measurement_benchmark_metric", "benchmark_id", "metric"),
        Index(
            "uq_measurement_identity",
            "model_id",
            "benchmark_id",
            "metric",
            func.coalesce(literal_column("checkpoint_step"), -1),
            "source",
            unique=True,
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmark.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[float]
    stderr: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(200), default="", server_default="")
    checkpoint_step: Mapped[int | None]
    n_tokens: Mapped[float | None]
    extra: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class ModelAlias(Base):
    """Another source's name for a stored model (db/model_identity.py): its rows were stored
    under ``model_id``; ``key`` is the normalised name that matched, for review."""

    __tablename__ = "model_alias"
    __table_args__ = (UniqueConstraint("source", "alias"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(40), default="normalised-name")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class ModelValueSource(Base):
    """Which source gave a model its n_params, n_tokens, flops or release_date (first one wins,
    as the loader only fills missing values)."""

    __tablename__ = "model_value_source"
    __table_args__ = (UniqueConstraint("model_id", "attribute"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class Forecast(Base):
    """A stored forecast, reproducible from ``query`` and ``data_fingerprint``; found again by
    (method, params_hash, data_version) without reading the observations."""

    __tablename__ = "forecast"
    __table_args__ = (
        Index("ix_forecast_cache", "method", "params_hash", "data_fingerprint"),
        Index("ix_forecast_version", "method", "params_hash", "data_version"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(60))
    benchmark: Mapped[str | None] = mapped_column(String(300))
    metric: Mapped[str | None] = mapped_column(String(40))
    query: Mapped[dict[str, Any]]
    params_hash: Mapped[str] = mapped_column(String(64))
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    # The data version (db/data_version.py) it was fitted on; "" when the data changed while it
    # was read, so that no later lookup by version finds it.
    data_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    point: Mapped[float | None]
    lower: Mapped[float | None]
    upper: Mapped[float | None]
    alpha: Mapped[float | None]
    fitted_params: Mapped[dict[str, Any] | None]
    diagnostics: Mapped[dict[str, Any] | None]
    backtest: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class DataVersion(Base):
    """A counter per (family, benchmark) that every write of its observations or item results
    bumps in the same transaction, so a stored forecast is found without reading the data.

    Keyed by names, as forecasts ask by name; ``family`` is "" for models without a family.
    """

    __tablename__ = "data_version"
    family: Mapped[str] = mapped_column(String(200), primary_key=True)
    benchmark: Mapped[str] = mapped_column(String(300), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Job(Base):
    """Queued work; this row is the source of truth for status, progress and lease."""

    __tablename__ = "job"
    # AUTOINCREMENT on SQLite: a deleted job's id is never handed out again (PostgreSQL's
    # sequences never reuse one anyway), so logs and links that name a job keep meaning it.
    __table_args__ = (
        Index("ix_job_claim", "status", "priority", "run_after"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress: Mapped[float | None]
    progress_detail: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None]
    run_after: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule.id", ondelete="SET NULL"), index=True
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class Schedule(Base):
    """A cron expression or a checkpoint watch that enqueues jobs from a template."""

    __tablename__ = "schedule"
    # AUTOINCREMENT on SQLite: a deleted schedule's id is never reused, so the jobs and dedupe
    # keys (``schedule:<id>:<tick>``) of the old schedule never pass for the new one's.
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30), default="cron")
    cron: Mapped[str | None] = mapped_column(String(120))
    watch_path: Mapped[str | None] = mapped_column(Text)
    job_kind: Mapped[str] = mapped_column(String(40))
    job_payload: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_tick_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class ApiKey(Base):
    """An API key, stored only as a hash; ``prefix`` lets a person recognise it.

    ``expires_at`` (optional) ends a key like a revocation; ``last_used_at`` is refreshed at most
    once a minute on a successful authentication (service/auth.py), so polling costs no writes.
    """

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[list[Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]


# Registers the session hook that bumps data versions on ORM writes (needs the classes above).
import db.data_version  # noqa: E402, F401
