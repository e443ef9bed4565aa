"""The forecast-quality leaderboard on the shipped data: the README's table, in one command.

    .venv/bin/python bench/report_leaderboard.py              # markdown on stdout
    .venv/bin/python bench/report_leaderboard.py --db board.sqlite   # keep (and reuse) the db
    .venv/bin/python bench/report_leaderboard.py --json out.json --n-bootstrap 100

Imports gadre-overtraining, pythia-evals and pythia-sampling (from CAPCAST_DATA_DIR, by default
``../shared/data``) and the ladder lab's committed export (``evals/ladder/reference``) into a
scratch SQLite database, reads the rows back as the service does (``observations`` plus per-item
``item_results``), and backtests every registered method with :mod:`predictors.leaderboard`.

To keep the run to minutes on 2 cores the benchmarks are restricted per dataset (``SELECTION``);
the table's caption says which.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from predictors.leaderboard import LeaderboardResult, leaderboard, merge  # noqa: E402

#: dataset -> (families, [(benchmark, metric), ...]) scored; None = every family of the dataset.
SELECTION: dict[str, tuple[list[str] | None, list[tuple[str, str]]]] = {
    "gadre-overtraining": (
        ["gadre-rpj", "gadre-c4_original", "gadre-rw_original"], [("avg17", "err")]
    ),
    "pythia-evals": (["pythia", "pythia-deduped"], [("lambada_openai", "acc"),
                                                     ("arc_easy", "acc")]),
    "pythia-sampling": (["pythia"], [("gsm8k", "pass_rate")]),
    "ladder lab": (["ladder-cpu"], [("ladder_add", "pass_rate"), ("ladder_mul", "pass_rate"),
                                    ("ladder_rev", "pass_rate"), ("ladder_add_mc", "acc")]),
}  # fmt: skip


def build_database(url: str) -> None:
    """Import the four datasets into the database at ``url`` (upgraded first)."""
    from db import migrate
    from db.importers import commands
    from db.importers.ladder import import_ladder
    from db.session import make_engine, transaction

    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        commands.import_gadre(engine)
        commands.import_pythia(engine)
        commands.import_pythia_sampling(engine)
        with transaction(engine) as session:
            import_ladder(session)
    finally:
        engine.dispose()


def run(url: str, *, n_bootstrap: int, methods: list[str] | None) -> LeaderboardResult:
    from db.session import make_engine, transaction
    from service.leaderboard import leaderboard_observations

    engine = make_engine(url)
    results = []
    try:
        for dataset, (families, cells) in SELECTION.items():
            with transaction(engine) as session:
                obs = leaderboard_observations(
                    session, families=families, benchmarks=[b for b, _ in cells]
                )
            for benchmark, metric in cells:
                t0 = time.perf_counter()
                result = leaderboard(
                    obs, methods=methods, families=families, benchmarks=[benchmark],
                    metrics=[metric], max_cells=10, n_bootstrap=n_bootstrap, dataset=dataset,
                )  # fmt: skip
                print(f"{dataset} {benchmark}/{metric}: {result.n_cells} cell(s), "
                      f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
                results.append(result)
    finally:
        engine.dispose()
    return merge(results)


def _num(v: object, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else format(v, fmt)


def markdown(result: LeaderboardResult) -> str:
    """The per-method table (pooled) and the per-dataset table, as markdown."""
    chosen = "; ".join(
        f"{d}: " + ", ".join(f"{b}/{m}" for b, m in cells) for d, (_, cells) in SELECTION.items()
    )
    head = "| method | cells | targets | predicted | refused | mean abs err | max abs err | 90% coverage |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    lines = [head, rule]
    for r in result.table().to_dict("records"):
        lines.append(
            f"| {r['method']} | {r['n_cells']} | {r['n']} | {r['n_predicted']} | {r['n_refused']} "
            f"| {_num(r['mean_abs_error'], '.4f')} | {_num(r['max_abs_error'], '.4f')} "
            f"| {_num(r['coverage'], '.0%')} |"
        )
    lines += ["", "| dataset | method | targets | predicted | refused | mean abs err | max abs err | 90% coverage |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in result.by_dataset().to_dict("records"):
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['n']} | {r['n_predicted']} | {r['n_refused']} "
            f"| {_num(r['mean_abs_error'], '.4f')} | {_num(r['max_abs_error'], '.4f')} "
            f"| {_num(r['coverage'], '.0%')} |"
        )
    caption = (f"{result.explanation()} Most refusals are cells that lack a method's inputs "
               "(no per-item rows for cod and passuntil, no c4_val loss for gadre, no bpb for "
               "ladder); the rest are fits that said they could not be trusted. Benchmarks "
               f"restricted to keep the run to minutes on 2 cores: {chosen}.")  # fmt: skip
    return "\n".join([*lines, "", caption])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db",
        type=Path,
        help="SQLite file to import into and keep; reused (no import) if it exists",
    )
    parser.add_argument("--n-bootstrap", type=int, default=100)
    parser.add_argument("--methods", help="comma-separated (default: every registered method)")
    parser.add_argument("--json", type=Path, help="also write the full leaderboard here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # fits on small ladders warn; the table carries refusals
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "leaderboard.sqlite"
        url = f"sqlite:///{path.resolve()}"
        t0 = time.perf_counter()
        if not path.exists():
            build_database(url)
            print(f"imported in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        result = run(url, n_bootstrap=args.n_bootstrap, methods=methods)
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    pd.set_option("display.width", 200)
    print(markdown(result))


if __name__ == "__main__":
    main()
