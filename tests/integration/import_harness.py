"""What the importer tests share: CLI calls, table row counts, small copies of data sets.

The ``cli`` fixture (a runner bound to the test database) lives in ``conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from db.queries import table_counts
from db.session import make_engine, transaction
from service.cli import app


def counts(db_url: str) -> dict[str, int]:
    """Row counts of every table: equal before and after a failed import."""
    engine = make_engine(db_url)
    with transaction(engine) as s:
        out = table_counts(s)
    engine.dispose()
    return out


def run(cli: CliRunner, *args: str) -> dict:
    res = cli.invoke(app, ["import", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def fails(cli: CliRunner, *args: str) -> str:
    """The error message of an import that must exit 2, whitespace folded."""
    res = cli.invoke(app, ["import", *args])
    assert res.exit_code == 2, res.output
    return " ".join(res.stderr.split())


def small_copy(src: Path, dst: Path, files: dict[str, int]) -> Path:
    """The first n lines of each named file (n=0: the whole file)."""
    dst.mkdir(parents=True)
    for name, n in files.items():
        lines = (src / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (dst / name).write_text("".join(lines[:n] if n else lines), encoding="utf-8")
    return dst
