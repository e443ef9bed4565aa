"""REST schemas for jobs and schedules (apart from the ORM rows in ``db/models.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from service.schemas import JsonDict, Name, Schema, _text

JobKind = Literal["evaluation", "import", "forecast_refresh", "sleep", "noop"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
EvalMode = ("choices", "passuntil", "samples")
Path_ = _text(4096, 1)


def check_payload(kind: str, payload: dict[str, Any], *, needs_model: bool = True) -> None:
    """Refuse a payload its handler would fail on, naming the field (schedules and jobs share it)."""
    if kind == "evaluation":
        required = ("model_path", "task_path", "mode") if needs_model else ("task_path", "mode")
        missing = [k for k in required if not payload.get(k)]
        if missing:
            raise ValueError(f"an evaluation needs payload.{missing[0]}")
        if payload["mode"] not in EvalMode:
            raise ValueError(f"payload.mode must be one of {', '.join(EvalMode)}")
    if kind == "import" and not (payload.get("source") and payload.get("path")):
        raise ValueError("an import needs payload.source and payload.path")
    if kind == "forecast_refresh" and not payload.get("query"):
        raise ValueError("a forecast_refresh needs payload.query (a forecast query)")
    if kind in ("sleep", "noop"):
        allowed = {"seconds": 60, "steps": 1000, "fail_attempts": 100}
        for key, value in payload.items():
            if key not in allowed:  # ``record`` writes a file: only for tests and benches
                raise ValueError(f"payload.{key} is not accepted for a {kind} job over the API")
            if not isinstance(value, int | float) or not 0 <= value <= allowed[key]:
                raise ValueError(f"payload.{key} must be a number in [0, {allowed[key]}]")


class JobCreate(Schema):
    """Queue a job; the default kind is an evaluation of ``model_path`` on ``task_path``."""

    kind: JobKind = "evaluation"
    payload: JsonDict = Field(
        description="evaluation: model_path, task_path, mode, engine, config, ray_address"
    )
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3

    @model_validator(mode="after")
    def _payload(self) -> JobCreate:
        check_payload(self.kind, self.payload)
        return self


class JobPublic(Schema):
    id: int
    kind: str
    payload: dict[str, Any]
    status: str
    priority: int
    attempts: int
    max_attempts: int
    progress: float | None
    progress_detail: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    lease_owner: str | None
    lease_expires_at: dt.datetime | None
    run_after: dt.datetime
    cancel_requested: bool
    schedule_id: int | None
    dedupe_key: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobProgress(Schema):
    id: int
    status: str
    progress: float | None
    progress_detail: dict[str, Any] | None
    attempts: int
    error: str | None


class ScheduleCreate(Schema):
    """A cron schedule (``cron``) or a checkpoint watch (``watch_path``) and the job it enqueues."""

    name: Name
    kind: Literal["cron", "watch"] = "cron"
    cron: _text(120, 1) | None = Field(None, description="5 fields, or 6 with seconds last")
    watch_path: Path_ | None = Field(None, description="Directory whose new subdirectories count")
    job_kind: JobKind = "evaluation"
    job_payload: JsonDict = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleCreate:
        from service.jobs.scheduler import validate_cron

        if self.kind == "cron":
            if not self.cron:
                raise ValueError("a cron schedule needs cron")
            validate_cron(self.cron)
        if self.kind == "watch" and not self.watch_path:
            raise ValueError("a watch schedule needs watch_path")
        check_payload(self.job_kind, self.job_payload, needs_model=self.kind != "watch")
        return self


class ScheduleUpdate(Schema):
    cron: _text(120, 1) | None = None
    watch_path: Path_ | None = None
    job_payload: JsonDict | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _cron(self) -> ScheduleUpdate:
        from service.jobs.scheduler import validate_cron

        if self.cron:
            validate_cron(self.cron)
        return self


class SchedulePublic(Schema):
    id: int
    name: str
    kind: str
    cron: str | None
    watch_path: str | None
    job_kind: str
    job_payload: dict[str, Any]
    enabled: bool
    last_tick_at: dt.datetime | None
    created_at: dt.datetime
