"""Settings shared by every part of capcast, read once from ``CAPCAST_*`` environment variables.

Defaults make a fresh machine work with nothing set: an SQLite file in the per-user data
directory and the public data in ``../shared/data`` when that folder exists.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
