"""Integration fixtures: ``cli``, a ``capcast`` runner bound to the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from db.config import get_settings


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose ``capcast`` uses the test database (settings are cached per process)."""
    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "400")  # keep long error messages on one line
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
