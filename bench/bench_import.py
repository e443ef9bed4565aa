"""Bulk import speed: capcast's loader vs a naive row-at-a-time ORM insert, on SQLite and PostgreSQL.

Tables: the Open LLM Leaderboard v1 dump (sloth-openllm/open-llm-leaderboard_old.csv, ~6.8k
models x 7 scores after keeping each model's latest submission) and pythia-evals (86,688 rows).
Each load goes into a fresh database (an SQLite file under /tmp; a PostgreSQL database created and
dropped on 127.0.0.1:5432). The peer inserts the same rows one at a time through the ORM
(get-or-create model and benchmark by query, add, flush), the way a first importer is often
written; it runs on the first PEER_ROWS rows only (it is slow) and is compared by rows/second.

    .venv/bin/python bench/bench_import.py [--peer-rows 3000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from db import migrate
from db.config import get_settings
from db.importers import pythia, sloth
from db.loader import load_observations
from db.models import Benchmark, Measurement, Model
from db.observations import validate_observations
from db.session import make_engine, transaction

PG_ADMIN = os.environ.get(
    "CAPCAST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def openllm_v1(data: Path) -> pd.DataFrame:
    frame, _ = sloth._dump(data / "sloth-openllm" / "open-llm-leaderboard_old.csv", "openllm_v1")
    frame.index.name = "line"
    return validate_observations(frame, "open-llm-leaderboard_old.csv")


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite"
            migrate.upgrade(url)
            yield url
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"capcast_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def naive_orm(session: Session, df: pd.DataFrame, source: str) -> None:
    """The peer: one ORM object and one flush per row, get-or-create by query."""
    for row in df.itertuples(index=False):
        model = session.scalars(select(Model).where(Model.name == row.model)).first()
        if model is None:
            model = Model(name=row.model, n_params=None if pd.isna(row.n_params) else row.n_params)
            session.add(model)
            session.flush()
        bench = session.scalars(select(Benchmark).where(Benchmark.name == row.benchmark)).first()
        if bench is None:
            bench = Benchmark(name=row.benchmark)
            session.add(bench)
            session.flush()
        step = None if pd.isna(row.checkpoint_step) else int(row.checkpoint_step)
        session.add(
            Measurement(
                model_id=model.id,
                benchmark_id=bench.id,
                metric=row.metric,
                value=float(row.value),
                stderr=None if pd.isna(row.stderr) else float(row.stderr),
                source=row.source or source,
                checkpoint_step=step,
                n_tokens=None if step is None else float(row.n_tokens),
            )
        )
        session.flush()


def timed(url: str, fn: Callable[..., object], *args: object) -> tuple[float, object]:
    """Seconds to run ``fn(session, *args)`` in one transaction on a new engine, and its result."""
    engine = make_engine(url)
    start = time.perf_counter()
    with transaction(engine) as session:
        result = fn(session, *args)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, result


def bulk(session: Session, df: pd.DataFrame, source: str) -> str:
    return load_observations(session, df, source=source).method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-rows", type=int, default=3000, help="rows the naive peer inserts")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    data = get_settings().data_dir
    tables = {}
    for name, make in (
        ("openllm_v1_dump", lambda: openllm_v1(data)),
        ("pythia_evals", lambda: pythia.pythia_observations(data / "pythia-evals")),
    ):
        start = time.perf_counter()
        tables[name] = make()
        print(
            f"read+validate {name}: {len(tables[name])} rows in {time.perf_counter() - start:.1f} s"
        )
    backends = ["sqlite"] if args.skip_postgres else ["sqlite", "postgresql"]
    rows = []
    for backend in backends:
        for name, df in tables.items():
            with fresh_database(backend) as url:
                t_bulk, method = timed(url, bulk, df, name)
                t_again, _ = timed(url, bulk, df, name)
            peer = df.iloc[: args.peer_rows]
            with fresh_database(backend) as url:
                t_peer, _ = timed(url, naive_orm, peer, name)
            bulk_rps, peer_rps = len(df) / t_bulk, len(peer) / t_peer
            rows.append(
                (
                    backend,
                    name,
                    len(df),
                    method,
                    t_bulk,
                    bulk_rps,
                    len(df) / t_again,
                    len(peer),
                    peer_rps,
                    bulk_rps / peer_rps,
                )
            )
    head = (
        "backend",
        "table",
        "rows",
        "method",
        "bulk s",
        "bulk rows/s",
        "re-import rows/s",
        "peer rows",
        "peer rows/s",
        "bulk/peer",
    )
    print()
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(
            f"{r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:,.0f} | {r[6]:,.0f} | {r[7]} | {r[8]:,.0f} | {r[9]:.0f}x"
        )


if __name__ == "__main__":
    main()
