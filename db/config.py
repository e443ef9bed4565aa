"""Settings shared by every part of capcast, read once from ``CAPCAST_*`` environment variables.

Defaults make a fresh machine work with nothing set: an SQLite file in the per-user data
directory and the public data in ``../shared/data`` when that folder exists.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else Path(user_cache_dir("capcast")) / "public-data"


def _default_database_url() -> str:
    path = Path(user_data_dir("capcast")) / "capcast.sqlite"
    return f"sqlite:///{path}"


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``CAPCAST_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CAPCAST_", extra="ignore")

    database_url: str = _default_database_url()
    data_dir: Path = _default_data_dir()
    cache_dir: Path = Path(user_cache_dir("capcast"))
    public_reads: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    #: Seconds one request's fit (and its backtest) may take, slot wait included; then 503.
    fit_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    #: Fits running at once per server process; more wait for a slot within their budget.
    max_concurrent_fits: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    #: Seconds POST /v1/forecasts waits for a fit before answering 202 with a Location to poll.
    sync_fit_wait_s: float = Field(default=5.0, ge=0, le=3600)
    #: Directories job paths (model, task, import file, watched dir) must resolve inside;
    #: a JSON list or os.pathsep-separated. Empty: data_dir, cache_dir and the working directory.
    job_paths: Annotated[list[Path], NoDecode] = []
    #: Largest request body the API reads (bytes); larger is a 413. 50,000 measurement rows fit.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=1 << 30)
    #: Bytes of repeated forecast answers kept per server process (service/answer_cache.py); 0
    #: turns the shortcut off.
    answer_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0, le=1 << 32)
    #: Ray clusters an evaluation job may join (``payload.ray_address``); a JSON list or
    #: comma-separated. Ray's client protocol exchanges pickles: list only clusters you run.
    ray_addresses: Annotated[list[str], NoDecode] = ["auto"]

    @field_validator("job_paths", "ray_addresses", mode="before")
    @classmethod
    def _env_list(cls, value: object, info: ValidationInfo) -> object:
        """A list from the environment: JSON, or separated (paths by ``:``, addresses by ``,``)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        sep = os.pathsep if info.field_name == "job_paths" else ","
        return [part.strip() for part in text.split(sep) if part.strip()]

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"CAPCAST_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://...; got {url!r}"
            )
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
