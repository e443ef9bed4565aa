"""Request and response schemas (pydantic v2), kept apart from the ORM models in ``db/models.py``.

Families follow the FastAPI template: ``XCreate`` (what a client sends), ``XPublic`` (what it gets
back) and ``XList`` (``{data, count}``). Limits mirror the database columns so that bad input is a
422 naming the field, never a database error (PostgreSQL refuses NUL characters, over-long
strings and 32-bit overflows that SQLite would silently accept).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

INT32_MAX = 2**31 - 1
T = TypeVar("T")

#: Text without NUL characters (PostgreSQL refuses them), up to n characters.
NO_NUL = r"^[^\x00]*$"


def validation_summary(exc: Any, *, prefix: str = "", limit: int = 3) -> str:
    """A pydantic ValidationError as ``field: message; ...`` (first ``limit``; no URLs, no input
    echo), each place written as ``prefix.rows[3].value``."""
    errors = exc.errors()
    parts = []
    for err in errors[:limit]:
        loc = prefix
        for part in err.get("loc", ()):
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc or 'value'}: {message}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more


def _text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)
    ]


Name = _text(200, 1)
LongName = _text(300, 1)
Short = _text(40, 1)
Text = _text(100_000)
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
NonNeg = Annotated[float, Field(ge=0)]
#: Physical bounds keep 6·N·D finite (a 1e305-parameter model is a typo, and an overflow).
Params = Annotated[float, Field(ge=0, le=1e16, description="Parameters (at most 1e16)")]
Tokens = Annotated[float, Field(ge=0, le=1e18, description="Training tokens (at most 1e18)")]
Flops = Annotated[float, Field(ge=0, le=1e40, description="Training FLOPs (at most 1e40)")]


def _no_nul_json(value: Any, where: str = "") -> Any:
    """Reject NUL characters anywhere in a JSON document (PostgreSQL's JSONB refuses them)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"text{' at ' + where if where else ''} must not contain NUL characters")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul_json(k, where)
            _no_nul_json(v, f"{where}.{k}" if where else str(k))
    if isinstance(value, list):
        for i, v in enumerate(value):
            _no_nul_json(v, f"{where}[{i}]")
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes (stored in UTC): mark them UTC, as RFC 3339 requires."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


#: A timestamp always sent with its offset ("2026-01-02T03:04:05+00:00").
UtcDateTime = Annotated[dt.datetime, AfterValidator(_utc)]
JsonDict = Annotated[dict[str, Any], AfterValidator(_no_nul_json)]
JsonList = Annotated[list[Any], AfterValidator(_no_nul_json)]


class Schema(BaseModel):
    """Base for every schema: no NaN/inf in JSON, unknown fields are an error, ORM-readable."""

    model_config = ConfigDict(
        from_attributes=True, allow_inf_nan=False, extra="forbid", protected_namespaces=()
    )

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        """Every timestamp leaves with its UTC offset, whichever schema declares it."""
        return _utc(value) if isinstance(value, dt.datetime) else value


class Page(Schema, Generic[T]):
    data: list[T]
    count: int = Field(description="Rows matching the filters (all pages).")


class ErrorDetail(Schema):
    where: str | None = Field(None, description="Where the problem is, e.g. body.rows[17].value")
    message: str


class ErrorOut(Schema):
    """Every error the API returns (4xx; a 5xx is a bug)."""

    error: str = Field(description="Short machine-readable code, e.g. not_found, validation_error")
    message: str = Field(description="What was wrong, for a person")
    where: str | None = Field(None, description="Where: a field path, row index or parameter")
    errors: list[ErrorDetail] = Field(default_factory=list)


# --- families ---------------------------------------------------------------------------------


class FamilyCreate(Schema):
    name: Name
    recipe: JsonDict | None = None
    notes: Text | None = None


class FamilyPublic(FamilyCreate):
    id: int
    created_at: UtcDateTime


# --- models -----------------------------------------------------------------------------------


class ModelCreate(Schema):
    name: LongName
    family: Name | None = Field(None, description="Family name; created if new.")
    n_params: Params | None = None
    n_params_nonembed: Params | None = None
    n_tokens: Tokens | None = None
    flops: Flops | None = None
    release_date: dt.date | None = None
    checkpoint_step: Int32 | None = None
    uri: Text | None = None
    revision: _text(200) | None = None
    extra: JsonDict | None = None


class ModelPublic(Schema):
    id: int
    name: str
    family_id: int | None
    family: str | None = None
    n_params: float | None
    n_params_nonembed: float | None
    n_tokens: float | None
    flops: float | None
    release_date: dt.date | None
    checkpoint_step: int | None
    uri: str | None
    revision: str | None
    extra: dict[str, Any] | None
    created_at: UtcDateTime


# --- benchmarks and items ---------------------------------------------------------------------

BenchmarkKind = Literal["multiple_choice", "generative", "code", "loss", "aggregate", "other"]


class BenchmarkCreate(Schema):
    name: LongName
    version: _text(100) | None = None
    kind: BenchmarkKind = "multiple_choice"
    n_items: Int32 | None = None
    chance: Annotated[float, Field(ge=0, le=1)] | None = None
    higher_is_better: bool = True
    extra: JsonDict | None = None


class BenchmarkPublic(Schema):
    id: int
    name: str
    version: str | None
    kind: str
    n_items: int | None
    chance: float | None
    higher_is_better: bool
    extra: dict[str, Any] | None
    created_at: UtcDateTime


class ItemCreate(Schema):
    benchmark_id: Annotated[int, Field(ge=1, le=INT32_MAX)]
    key: _text(128, 1)
    prompt: Text | None = None
    choices: JsonList | None = None
    answer: Text | None = None
    meta: JsonDict | None = None


class ItemPublic(Schema):
    id: int
    benchmark_id: int
    key: str
    prompt: str | None
    choices: list[Any] | None
    answer: str | None
    meta: dict[str, Any] | None


# --- measurements -----------------------------------------------------------------------------

Metric = _text(40, 1)


class MeasurementIn(Schema):
    """One row from a training dashboard; model, family and benchmark are created when new."""

    model: LongName
    benchmark: LongName
    metric: Metric
    value: float
    stderr: NonNeg | None = None
    checkpoint_step: Int32 | None = None
    n_tokens: Tokens | None = None
    family: Name | None = None
    n_params: Params | None = None
    n_params_nonembed: Params | None = None
    flops: Flops | None = None
    source: _text(200) | None = Field(None, description="Defaults to the batch's source.")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        """File import's vocabulary (``db.observations.KNOWN_METRICS``), so both accept the same."""
        from db.observations import KNOWN_METRICS  # pandas loads with the router, not the CLI

        if value not in KNOWN_METRICS:
            raise ValueError(
                f"unknown metric {value!r}; accepted: {', '.join(sorted(KNOWN_METRICS))}"
            )
        return value


class MeasurementBatch(Schema):
    source: _text(200) = Field("api", description="Part of each row's identity.")
    rows: Annotated[list[MeasurementIn], Field(min_length=1, max_length=50_000)]


class MeasurementLoadOut(Schema):
    received: int
    inserted: int
    unchanged: int
    report: dict[str, Any] = Field(default_factory=dict)


class MeasurementPublic(Schema):
    id: int
    model: str
    benchmark: str
    metric: str
    value: float
    stderr: float | None
    source: str
    checkpoint_step: int | None
    n_tokens: float | None
    created_at: UtcDateTime


# --- eval runs --------------------------------------------------------------------------------


class RunPublic(Schema):
    id: int
    model_id: int
    model: str | None = None
    benchmark_id: int
    benchmark: str | None = None
    mode: str
    engine: str
    engine_version: str | None
    config: dict[str, Any]
    config_hash: str
    status: str
    error: str | None
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class ItemResultPublic(Schema):
    id: int
    run_id: int
    item_id: int
    item_key: str
    n_samples: int
    n_pass: int
    pass_rate: float | None
    stop_reason: str | None
    greedy_correct: bool | None
    estimate: float | None
    estimates: dict[str, Any] | None


# --- forecasts --------------------------------------------------------------------------------


class Target(Schema):
    """Where to forecast: parameters and tokens, or compute, or a loss."""

    model: _text(300) = "target"
    family: Name | None = Field(
        None,
        description="The planned model's family, for methods with a per-family compute "
        "efficiency (observational); other methods ignore it",
    )
    n_params: Annotated[Params, Field(gt=0)] | None = None
    n_params_nonembed: Annotated[Params, Field(gt=0)] | None = None
    n_tokens: Annotated[Tokens, Field(gt=0)] | None = None
    flops: Annotated[Flops, Field(gt=0)] | None = None
    loss: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _enough(self) -> Target:
        sized = self.n_params is not None and self.n_tokens is not None
        if not (sized or self.flops is not None or self.loss is not None):
            raise ValueError("give n_params and n_tokens, or flops, or loss")
        return self


class ForecastQuery(Schema):
    method: Name = Field(
        "auto",
        description="A predictor from predictors.registry, e.g. exponential; the default, auto, "
        "backtests every applicable method on the fit data, takes the one that beats all others "
        "there (else the median of their forecasts) and calibrates the interval",
    )
    benchmark: LongName
    metric: Metric = "acc"
    family: Name | None = Field(None, description="Fit on this family's models only")
    fit: _text(2000) | None = Field(
        None,
        description="Row filter selecting the fit rows (columns, literals, comparisons, "
        "and/or/not, in [...], + - * /), e.g. n_params < 2e9",
    )
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.1
    params: JsonDict = Field(
        default_factory=dict,
        description="Extra predictor parameters, checked against the method's (n_bootstrap at "
        "most 10,000; filter parameters such as loss_fit in the fit filter's language)",
    )
    target: Target

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        from predictors.registry import METHODS

        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(sorted(METHODS))}")
        return method

    @field_validator("fit")
    @classmethod
    def _parsed_fit(cls, fit: str | None) -> str | None:
        """Refused here, before any data is read: the text is parsed, never evaluated."""
        from predictors.filters import parse_filter

        if fit is not None and fit.strip():
            parse_filter(fit)  # FilterError is a ValueError: a 422 at body.fit
        return fit

    @field_validator("params")
    @classmethod
    def _checked_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The predictor is built once here, so unknown names, ranges, cost caps and filter
        parameters are a 422 at ``body.params`` before any fit starts."""
        from predictors.registry import make_predictor

        if "method" not in info.data:  # the method itself was refused: that error says it
            return params
        reserved = sorted({"benchmark", "metric", "alpha"} & set(params))
        if reserved:
            raise ValueError(f"set {', '.join(reserved)} in the query, not in params")
        fixed = {k: info.data[k] for k in ("benchmark", "metric", "alpha") if k in info.data}
        make_predictor(info.data["method"], **params, **fixed)
        return params


class ForecastPublic(Schema):
    id: int
    method: str
    benchmark: str | None
    metric: str | None
    query: dict[str, Any]
    data_fingerprint: str
    point: float | None
    lower: float | None
    upper: float | None
    alpha: float | None
    fitted_params: dict[str, Any] | None
    diagnostics: dict[str, Any] | None
    backtest: dict[str, Any] | None
    created_at: UtcDateTime
    cache_hit: bool = Field(False, description="Whether a fitted predictor was reused")


class ScoredForecast(Schema):
    """A stored forecast beside the measurement of its target (service/track_record.py)."""

    forecast_id: int
    method: str
    benchmark: str | None
    metric: str | None
    family: str | None
    target: str = Field(description='The target\'s model name ("target" when unnamed)')
    point: float
    lower: float | None
    upper: float | None
    alpha: float | None
    created_at: UtcDateTime
    matched_by: Literal["model", "size"] = Field(
        description="model: the target's name; size: n_params and n_tokens (or flops) within "
        "1% in the query's family"
    )
    measured_model: str
    n_measurements: int = Field(description="Measurement rows averaged into actual")
    actual: float
    abs_error: float
    inside: bool | None = Field(None, description="actual within [lower, upper]")
    prospective: bool = Field(description="Measured after the forecast was stored")


class MethodRecord(Schema):
    method: str
    n: int
    n_prospective: int
    mean_abs_error: float
    max_abs_error: float
    n_intervals: int
    coverage: float | None = Field(None, description="Share of actuals inside the interval")
    nominal_coverage: float | None = Field(None, description="Mean 1 - alpha of those intervals")


class TrackRecordOut(Schema):
    n_forecasts: int = Field(description="Stored forecasts read (after the filters)")
    n_scored: int = Field(description="Those whose target has a measurement")
    methods: list[MethodRecord]
    forecasts: list[ScoredForecast]


# --- API keys ---------------------------------------------------------------------------------

#: service.auth.SCOPES: each grants itself and those before it (forecast: compute and store
#: forecasts; write: create and change resources; admin: manage keys).
Scope = Literal["read", "forecast", "write", "admin"]


class KeyCreate(Schema):
    name: Name
    scopes: Annotated[list[Scope], Field(min_length=1)] = ["read"]
    expires_at: UtcDateTime | None = Field(
        None, description="When the key stops working (RFC 3339, in the future); none: never"
    )

    @field_validator("expires_at")
    @classmethod
    def _in_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and _utc(value) <= dt.datetime.now(dt.UTC):
            raise ValueError(f"expires_at {value.isoformat()} is not in the future")
        return value


class KeyPublic(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None
    last_used_at: UtcDateTime | None = Field(
        None, description="Last successful authentication (updated at most once a minute)"
    )
    expires_at: UtcDateTime | None = None


class KeyCreated(KeyPublic):
    token: str = Field(description="The key itself; shown once, stored only as a hash")


class Health(Schema):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str


# --- analyses (agreement, densing, per-choice) --------------------------------------------------


class AgreementQuery(Schema):
    """Benchmark agreement testing over the stored final scores (METHODS P5)."""

    metric: Metric = "acc"
    benchmarks: Annotated[list[LongName], Field(min_length=1, max_length=500)] | None = Field(
        None, description="Benchmarks to test (default: every one with this metric)"
    )
    reference_benchmarks: Annotated[list[LongName], Field(min_length=1, max_length=500)] | None = (
        Field(None, description="The aggregate reference (default: all tested benchmarks)")
    )
    family: Name | None = None
    source: _text(200) | None = None
    sizes: Annotated[list[Annotated[int, Field(ge=2, le=10_000)]], Field(max_length=10)] = [
        5,
        10,
        20,
    ]
    n_exps: Annotated[int, Field(ge=1, le=1000)] = 100
    method: Literal["kendall", "pearson"] = "kendall"
    seed: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0


class DensingQuery(Schema):
    """Capacity density relative to a reference family, and the densing law (METHODS P4)."""

    reference_family: Name
    benchmark: LongName
    metric: Metric = "acc"
    loss_benchmark: LongName
    loss_metric: Metric = "loss"
    size_column: Literal["n_params", "n_params_nonembed"] | None = Field(
        None,
        description="Size measure of the reference and the targets (default: non-embedding "
        "parameters when every target model has them, else total parameters)",
    )
    d0: Annotated[float, Field(gt=0, le=1e18)] = 1e12
    families: Annotated[list[Name], Field(min_length=1, max_length=500)] | None = Field(
        None, description="Families whose models get a density (default: all but the reference)"
    )
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.1
    ceiling: Annotated[float, Field(gt=0, le=1e6)] | Literal["auto", "fitted"] = Field(
        "auto",
        description="Score curve's upper asymptote: auto (1.0 for a bounded accuracy of the "
        "benchmark registry, else fitted), fitted, or a number",
    )


class AnalysisOut(Schema):
    """An analysis result as its predictor reports it (``to_dict()``), NaN as null."""

    kind: Literal["agreement", "densing", "perchoice"]
    result: dict[str, Any]


# --- forecast-quality leaderboard ------------------------------------------------------------


class LeaderboardQuery(Schema):
    """Which cells and methods the leaderboard backtests (predictors/leaderboard.py), and its caps."""

    methods: Annotated[list[Short], Field(max_length=50)] = Field(
        default_factory=list, description="Methods to score (default: every registered one)"
    )
    family: Name | None = None
    benchmark: LongName | None = None
    metric: Metric | None = None
    max_cells: Annotated[int, Field(ge=1, le=500)] = Field(
        24, description="Most (family, benchmark, metric) cells scored; the rest are counted"
    )
    n_bootstrap: Annotated[int, Field(ge=0, le=1000)] = Field(
        100, description="Bootstrap resamples per fit"
    )
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.1
    random_state: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0
    pooled: bool = Field(
        False,
        description="One cell per benchmark over every family (at least 3), the models above "
        "the 75% quantile of training FLOPs held out (for observational)",
    )
    pooled_split: Literal["cutoff", "lofo"] = Field(
        "cutoff",
        description="The pooled cells' split: 'cutoff', or 'lofo' (each family held out in "
        "turn, forecast from the others); 'lofo' needs pooled",
    )


class LeaderboardRow(Schema):
    """One method's backtests pooled (over all cells, or one dataset's, or one cell's split)."""

    method: str
    dataset: str | None = None
    family: str | None = None
    benchmark: str | None = None
    metric: str | None = None
    split: str | None = None
    n: int = Field(description="Targets (held-out models or final checkpoints)")
    n_predicted: int
    n_refused: int = Field(description="Targets the method gave no forecast for")
    mean_abs_error: float | None = None
    max_abs_error: float | None = None
    coverage: float | None = Field(None, description="Share of actuals inside the interval")
    n_intervals: int
    n_cells: int | None = None
    refusal: str | None = Field(None, description="The first refusal's message in this cell")


class LeaderboardOut(Schema):
    """The leaderboard: per method, per dataset, per split and per cell, with its caps."""

    methods: list[str]
    alpha: float
    n_bootstrap: int
    random_state: int
    n_cells: int = Field(description="Cells scored")
    n_cells_total: int = Field(description="Cells that matched the query (before max_cells)")
    explanation: str
    notes: list[str]
    table: list[LeaderboardRow]
    by_dataset: list[LeaderboardRow]
    by_split: list[LeaderboardRow]
    cells: list[LeaderboardRow]
