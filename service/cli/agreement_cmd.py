"""``capcast agreement``: benchmark agreement testing (METHODS P5) from files or the database."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.cli.common import emit_json, err_console, fail, positive_ints

if TYPE_CHECKING:  # pandas and predictors.agreement load in the command, not at CLI start-up
    import pandas as pd

#: The reference package's default "holistic" aggregate (examples/scenarios_for_aggregate.txt), as
#: display name -> scenario id in the data. "LiveBench 240829" names no scenario (its file's column
#: is livebench_240725) and "WildBench Elo LC" exists only in the old tables.
HOLISTIC_REFERENCE: dict[str, str | None] = {
    "Helm Lite": "helm_lite",
    "HF OpenLLM v2": "hf_open_llm_v2",
    "OpenCompass Academic": "opencompass_academic",
    "LMSys Arena": "arena_elo",
    "Helm Classic": "helm_classic",
    "AlphacaEval v2lc": "alphacaeval_v2lc",
    "LiveBench 240829": None,
    "WildBench Elo LC": "wb_elo_lc",
}

#: Sources the benchbench data lists as lower-is-better (lower_is_better_benchmarks.txt).
LOWER_IS_BETTER_SOURCES = ("helm_airbench_240916", "llm_trustworthy_241001")


def read_benchbench_dir(root: Path) -> pd.DataFrame:
    """The current benchbench catalogue as long scores: every table under ``benchmarks/``.

    ``benchmarks/`` is the catalogue the reference package loads at the pinned commit (40 wide
    tables, 83 scenario columns); ``benchmarks_old/`` and ``historical/`` are earlier snapshots of
    the same leaderboards (and hold the mislabelled ``chatbot_arena_240829``), so they are left out.
    Uses the importer's converter (``db.importers.benchbench``) when ``root`` is the data folder,
    else reads ``root/*.csv`` here. Columns: benchmark, model, score, source, higher_is_better.
    """
    import pandas as pd

    if (root / "benchmarks").is_dir():
        from db.importers.benchbench import benchbench_scores

        df = benchbench_scores(root)
        df = df[df["source_file"].str.startswith("benchbench/benchmarks/")]
        df = df.rename(columns={"scenario": "benchmark"})
        df["source"] = df["source_file"].map(lambda s: Path(str(s)).stem)
        cols = ["benchmark", "model", "score", "source", "higher_is_better"]
        return df[cols].reset_index(drop=True)
    frames = []
    for path in sorted(root.glob("*.csv")):
        wide = pd.read_csv(path, na_values=["-", ""])
        wide = wide.rename(columns={wide.columns[0]: "model"})
        if "scenario" in wide.columns:
            long = wide[["model", "scenario", "score"]].rename(columns={"scenario": "benchmark"})
        else:
            long = wide.melt(id_vars="model", var_name="benchmark", value_name="score")
        long["source"] = path.stem
        long["higher_is_better"] = not path.stem.startswith(LOWER_IS_BETTER_SOURCES)
        frames.append(long.dropna(subset=["score"]))
    if not frames:
        fail(f"{root}: no CSV files")
    return pd.concat(frames, ignore_index=True)


def read_scores_file(path: Path) -> pd.DataFrame:
    """A long file [benchmark|scenario, model, score(, higher_is_better)] or a wide one."""
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, na_values=["-"])
    df = df.rename(columns={"scenario": "benchmark"})
    if not {"benchmark", "score"} <= set(df.columns):
        df = df.rename(columns={df.columns[0]: "model"})
        df = df.melt(id_vars="model", var_name="benchmark", value_name="score")
    if "model" not in df.columns:
        fail(f"{path}: needs a 'model' column; have {list(df.columns)}")
    df["source"] = df.get("source", path.stem)
    return df


#: Metrics where a smaller number is better, whatever the benchmark row says.
LOWER_IS_BETTER_METRICS = ("err", "loss", "bpb", "brier")


def read_scores_db(url: str, *, metric: str | None = None) -> pd.DataFrame:
    """Every final-checkpoint score in the database (``model_scores``), with its direction.

    A benchmark measured with several metrics becomes one column per metric (``name:metric``)
    unless ``metric`` picks one.
    """
    import pandas as pd
    from sqlalchemy import text

    from db.session import make_engine

    sql = (
        "SELECT ms.model, ms.benchmark, ms.metric, ms.value AS score, ms.source, "
        "b.higher_is_better FROM model_scores ms JOIN benchmark b ON b.name = ms.benchmark"
    )
    params = {}
    if metric is not None:
        sql += " WHERE ms.metric = :metric"
        params["metric"] = metric
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            df = pd.read_sql(text(sql), conn, params=params)
    finally:
        engine.dispose()
    df["higher_is_better"] = df["higher_is_better"].astype(bool) & ~df["metric"].isin(
        LOWER_IS_BETTER_METRICS
    )
    several = df.groupby("benchmark")["metric"].transform("nunique") > 1
    df.loc[several, "benchmark"] = df["benchmark"] + ":" + df["metric"]
    df["source"] = df["source"].fillna("").replace("", "database")
    return df


def resolve_reference(spec: str, extra: str | None, benchmarks: list[str]) -> tuple[list, list]:
    """Reference benchmark names present in the data, and the requested ones that are not."""
    lower = {b.lower(): b for b in benchmarks}
    if extra:
        wanted = [s.strip() for s in extra.split(",") if s.strip()]
    elif spec == "aggregate":
        wanted = [v or k for k, v in HOLISTIC_REFERENCE.items()]
    else:
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
    found = [lower[w.lower()] for w in wanted if w.lower() in lower]
    missing = [w for w in wanted if w.lower() not in lower]
    return found, missing


def pair_result(scores: pd.DataFrame, pair: str, sizes: list[int], opts: dict) -> dict:
    """Agreement of two named benchmarks at every size, random and adjacent (sorted by B)."""
    from predictors.agreement import ALL, STRATEGIES, pair_agreement, prepare_scores

    names = [p.strip() for p in pair.split(",")]
    matrix, flipped, _ = prepare_scores(scores)
    lower = {c.lower(): c for c in matrix.columns}
    if len(names) != 2 or any(n.lower() not in lower for n in names):
        fail(f"--pair {pair!r}: expected two of the benchmarks in the data, e.g. {list(lower)[:5]}")
    a, b = (lower[n.lower()] for n in names)
    recs = pair_agreement(
        matrix[a], matrix[b], sizes=[*sizes, ALL], strategies=STRATEGIES, options=opts
    )
    recs = [r for r in recs if r["size"] != ALL or r["strategy"] == "random"]
    return {"benchmark": a, "reference": b, "flipped": [x for x in (a, b) if x in flipped],
            "results": recs}  # fmt: skip


def agreement(
    data: Annotated[Path | None, typer.Option(help="benchbench dir, or a scores file")] = None,
    reference: Annotated[str, typer.Option(help="'aggregate' (holistic) or names")] = "aggregate",
    reference_benchmarks: Annotated[str | None, typer.Option(help="comma-separated")] = None,
    sizes: Annotated[str, typer.Option(help="subset sizes, comma-separated")] = "5,10,20",
    n_exps: Annotated[int, typer.Option(help="repeats per size")] = 100,
    seed: Annotated[int, typer.Option(help="seed of the random and adjacent subsets")] = 0,
    method: Annotated[str, typer.Option(help="kendall or pearson")] = "kendall",
    min_appearances: Annotated[
        int | None, typer.Option(help="reference benchmarks a model must appear in (default 2)")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="database only: one metric")] = None,
    pair: Annotated[str | None, typer.Option(help="'A,B': agreement of two benchmarks")] = None,
    database_url: Annotated[str | None, typer.Option(help="default: CAPCAST_DATABASE_URL")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
) -> None:
    """Agreement of every benchmark with an aggregate reference: tau, z-scores and verdicts."""
    from predictors.agreement import AgreementTester, AgreementWarning
    from predictors.names import match_report, normalise_names

    size_list = positive_ints("--sizes", sizes)
    if n_exps < 1:
        fail(f"--n-exps: {n_exps} must be at least 1")
    if min_appearances is not None and min_appearances < 1:
        fail(f"--min-appearances: {min_appearances} must be at least 1")
    if data is None:
        from db.config import get_settings

        scores = read_scores_db(database_url or get_settings().database_url, metric=metric)
        if scores.empty:
            fail("no scores in the database; import some or pass --data")
    elif data.is_dir():
        scores = read_benchbench_dir(data)
    elif data.is_file():
        scores = read_scores_file(data)
    else:
        fail(f"--data {data}: no such file or directory")
    scores, kept_apart = normalise_names(scores)
    names = match_report(scores, kept_apart=kept_apart)
    if pair is not None:
        emit_json(pair_result(scores, pair, size_list, {"n_exps": n_exps, "seed": seed,
                                                         "method": method}))  # fmt: skip
        return
    ref, missing = resolve_reference(
        reference, reference_benchmarks, sorted(scores.benchmark.unique())
    )
    if not ref:
        fail(f"none of the reference benchmarks {missing} are in the data")
    tester = AgreementTester(
        reference_benchmarks=ref, sizes=size_list, n_exps=n_exps, seed=seed, method=method,
        min_appearances=min_appearances,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AgreementWarning)
        try:
            tester.fit(scores)
        except ValueError as exc:
            fail(str(exc))
    if kept_apart:
        tester.differences_.append(
            f"{len(kept_apart)} groups of distinct names in one source would collide once the "
            "organisation is dropped (the reference package merges them and keeps the max); "
            "they keep their organisation here"
        )
    result: dict[str, Any] = tester.to_dict()
    result["reference_requested_but_missing"] = missing
    result["warnings"] = [str(w.message) for w in caught]
    result["names"] = names.to_dict()
    if as_json:
        emit_json(result)
        return
    typer.echo(tester.summary())
    if missing:
        err_console.print(f"reference benchmarks not in the data (skipped): {missing}")
