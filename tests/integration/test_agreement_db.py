"""``capcast agreement`` without --data reads final scores from the database (SQLite, PostgreSQL)."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from db.models import Benchmark, Measurement, Model
from db.session import make_engine, transaction
from service.cli import app


def test_agreement_reads_scores_and_directions_from_the_database(db_url: str) -> None:
    rng = np.random.default_rng(0)
    skill = rng.normal(size=25)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        models = [Model(name=f"m{i}") for i in range(25)]
        benches = {
            "R1": Benchmark(name="R1", kind="leaderboard"),
            "R2": Benchmark(name="R2", kind="leaderboard"),
            "good": Benchmark(name="good", kind="leaderboard"),
            "safety": Benchmark(name="safety", kind="leaderboard", higher_is_better=False),
            "task": Benchmark(name="task", kind="multiple_choice"),
        }
        s.add_all([*models, *benches.values()])
        s.flush()
        for i, m in enumerate(models):
            vals = {
                ("R1", "score"): skill[i] + rng.normal(0, 0.3),
                ("R2", "score"): skill[i] + rng.normal(0, 0.3),
                ("good", "score"): skill[i] + rng.normal(0, 0.2),
                ("safety", "score"): -skill[i] + rng.normal(0, 0.2),  # lower is better
                ("task", "acc"): skill[i] + rng.normal(0, 0.2),
                ("task", "err"): -skill[i] + rng.normal(0, 0.2),  # err: lower is better
            }
            s.add_all(
                Measurement(model_id=m.id, benchmark_id=benches[b].id, metric=metric, value=v)
                for (b, metric), v in vals.items()
            )
    engine.dispose()
    args = ["agreement", "--database-url", db_url, "--reference-benchmarks", "R1,R2"]
    res = CliRunner().invoke(app, [*args, "--n-exps", "20", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert sorted(out["lower_is_better_flipped"]) == ["safety", "task:err"]
    rows = {r["benchmark"]: r for r in out["benchmarks"]}
    assert set(rows) == {"R1", "R2", "good", "safety", "task:acc", "task:err"}
    for name in ("good", "safety", "task:acc", "task:err"):
        assert rows[name]["n_shared"] == 25 and rows[name]["agreement"] > 0.5
