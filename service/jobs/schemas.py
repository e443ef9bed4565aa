"""REST schemas for jobs and schedules (apart from the ORM rows in ``db/models.py``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from service.schemas import JsonDict, Name, Schema, _text

JobKind = Literal["evaluation", "import", "forecast_refresh", "sleep", "noop"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Path_ = _text(4096, 1)

#: vLLM engine options a job payload may set (``config.engine_opts``); anything else, such as
#: ``trust_remote_code`` or a ``tokenizer``/``download_dir`` path, is refused.
ENGINE_OPTS = frozenset(
    {
        "dtype",
        "tensor_parallel_size",
        "max_model_len",
        "kv_cache_memory_bytes",
        "gpu_memory_utilization",
        "enforce_eager",
        "max_num_seqs",
    }
)


def eval_modes() -> tuple[str, ...]:
    """The modes ``capcast eval`` accepts: one list, :data:`evals.runner.MODES`.

    Imported when called: evals.runner loads scipy, which the API otherwise does not need at start.
    """
    from evals.runner import MODES

    return tuple(MODES)


def check_engine_opts(payload: dict[str, Any], prefix: str = "payload") -> None:
    """Refuse engine options outside :data:`ENGINE_OPTS` (the worker checks again)."""
    places = {"engine_opts": payload.get("engine_opts")}
    config = payload.get("config")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"{prefix}.config must be an object")
    places["config.engine_opts"] = (config or {}).get("engine_opts")
    for place, opts in places.items():
        if opts is None:
            continue
        if not isinstance(opts, dict):
            raise ValueError(f"{prefix}.{place} must be an object")
        bad = sorted(set(opts) - ENGINE_OPTS)
        if bad:
            raise ValueError(
                f"{prefix}.{place}.{bad[0]} is not an accepted engine option; "
                f"accepted: {', '.join(sorted(ENGINE_OPTS))}"
            )


#: An lm-eval task, group or tag name (what ``lm_eval --tasks`` takes, one at a time).
_LM_EVAL_TASK = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


def check_lm_eval_fields(payload: dict[str, Any]) -> None:
    """``payload.task`` (an lm-eval task name, instead of ``task_path``), ``data_dir`` and
    ``num_fewshot``. A directory of task YAMLs is refused: its ``!function`` Python would be
    imported by the worker, so only the command line takes one (``--include-path``)."""
    if "include_path" in payload:
        raise ValueError(
            "payload.include_path is not accepted: task YAMLs may hold Python that the worker "
            "would import; name a task lm-eval ships (payload.task), or use `capcast eval`"
        )
    task = payload.get("task")
    if task is None:
        for key in ("data_dir", "num_fewshot"):
            if key in payload:
                raise ValueError(f"payload.{key} goes with payload.task (an lm-eval task)")
        return
    if payload.get("task_path"):
        raise ValueError("payload.task and payload.task_path: give one")
    if not isinstance(task, str) or not _LM_EVAL_TASK.fullmatch(task):
        raise ValueError("payload.task must be an lm-eval task name (letters, digits, _ . -)")
    shots = payload.get("num_fewshot")
    if shots is not None and (
        not isinstance(shots, int) or isinstance(shots, bool) or not 0 <= shots <= 1000
    ):
        raise ValueError("payload.num_fewshot must be a whole number in [0, 1000]")


def check_payload(kind: str, payload: dict[str, Any], *, needs_model: bool = True) -> None:
    """Refuse a payload its handler would fail on, naming the field (schedules and jobs share it).

    Paths are checked against the job roots separately (:mod:`service.jobs.paths`): the roots
    are a setting, which the REST routes and the worker know and a schema does not.
    """
    if kind == "evaluation":
        required = ("model_path", "task_path", "mode") if needs_model else ("task_path", "mode")
        given = {k for k, v in payload.items() if v} | (
            {"task_path"} if payload.get("task") else set()
        )
        missing = [k for k in required if k not in given]
        if missing:
            hint = " (or payload.task, an lm-eval task name)" if missing[0] == "task_path" else ""
            raise ValueError(f"an evaluation needs payload.{missing[0]}{hint}")
        check_lm_eval_fields(payload)
        modes = eval_modes()
        if payload["mode"] not in modes:
            raise ValueError(f"payload.mode must be one of {', '.join(modes)}")
        check_engine_opts(payload)
        from evals.runner import check_limits

        try:
            check_limits(payload.get("config") or {})
        except ValueError as exc:  # the message names config.<setting>
            raise ValueError(f"payload.{exc}") from None
    if kind == "import" and not (payload.get("source") and payload.get("path")):
        raise ValueError("an import needs payload.source and payload.path")
    if kind == "forecast_refresh":
        check_forecast_query(payload.get("query"))
    if kind in ("sleep", "noop"):
        allowed = {"seconds": 60, "steps": 1000, "fail_attempts": 100}
        for key, value in payload.items():
            if key not in allowed:  # ``record`` writes a file: only for tests and benches
                raise ValueError(f"payload.{key} is not accepted for a {kind} job over the API")
            if not isinstance(value, int | float) or not 0 <= value <= allowed[key]:
                raise ValueError(f"payload.{key} must be a number in [0, {allowed[key]}]")


def check_forecast_query(query: Any) -> None:
    """Validate a forecast_refresh query as ``POST /v1/forecasts`` validates its body."""
    from pydantic import ValidationError

    from service.jobs.forecast_refresh import query_error
    from service.schemas import ForecastQuery

    if not isinstance(query, dict) or not query:
        raise ValueError("a forecast_refresh needs payload.query (a POST /v1/forecasts body)")
    try:
        ForecastQuery.model_validate(query)
    except ValidationError as exc:
        raise ValueError(query_error(exc)) from None


class JobCreate(Schema):
    """Queue a job; the default kind is an evaluation of ``model_path`` on ``task_path``."""

    kind: JobKind = "evaluation"
    payload: JsonDict = Field(
        description="evaluation: model_path, task_path, mode, engine, config, ray_address"
    )
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3

    @field_validator("payload")
    @classmethod
    def _payload(cls, payload: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """A field validator, so a refusal is reported at ``body.payload`` naming the key."""
        if "kind" in info.data:  # else the kind was refused, and that error says so
            check_payload(info.data["kind"], payload)
        return payload


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
    job_payload: JsonDict = Field(default_factory=dict, validate_default=True)
    enabled: bool = True

    @field_validator("job_payload")
    @classmethod
    def _payload(cls, payload: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "job_kind" in info.data and "kind" in info.data:
            check_payload(info.data["job_kind"], payload, needs_model=info.data["kind"] != "watch")
        return payload

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str | None) -> str | None:
        from service.jobs.scheduler import validate_cron

        if cron:
            validate_cron(cron)
        return cron

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleCreate:
        if self.kind == "cron" and not self.cron:
            raise ValueError("a cron schedule needs cron")
        if self.kind == "watch" and not self.watch_path:
            raise ValueError("a watch schedule needs watch_path")
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
