"""``capcast perchoice``: per-choice metric predictability for a family on a benchmark (P6)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import emit_json, fail

if TYPE_CHECKING:  # pandas and predictors.perchoice load in the command, not at CLI start-up
    import pandas as pd

CHOICE_COLUMNS = (
    "family, model, n_params, n_tokens, flops, benchmark, item, choice_index, logprob_sum, "
    "n_chars, n_bytes, is_correct"
)


def read_choice_scores_db(url: str, *, family: str | None, benchmark: str | None) -> pd.DataFrame:
    """Rows of the database's ``choice_scores`` view for one family and benchmark."""
    import pandas as pd
    from sqlalchemy import text

    from db.session import make_engine

    where, params = [], {}
    if family is not None:
        where.append("family = :family")
        params["family"] = family
    if benchmark is not None:
        where.append("benchmark = :benchmark")
        params["benchmark"] = benchmark
    sql = f"SELECT {CHOICE_COLUMNS}, run_id FROM choice_scores"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY run_id, item, choice_index"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            df = pd.read_sql(text(sql), conn, params=params)
    finally:
        engine.dispose()
    df["is_correct"] = df["is_correct"].astype(bool)
    return df


def read_choice_scores_file(path: Path) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if df["is_correct"].dtype == object:
        df["is_correct"] = df["is_correct"].astype(str).str.lower().isin(["true", "1", "t"])
    return df


def perchoice(
    family: Annotated[str | None, typer.Option(help="model family to analyse")] = None,
    benchmark: Annotated[str | None, typer.Option(help="benchmark to analyse")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="CSV/Parquet shaped like choice_scores")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="default: CAPCAST_DATABASE_URL")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
) -> None:
    """Correlate log p_vocab, p_vocab, p_choices, Brier and accuracy with log-compute, per item."""
    from predictors.perchoice import perchoice_analysis

    if file is not None:
        if not file.is_file():
            fail(f"--file {file}: no such file")
        scores = read_choice_scores_file(file)
    else:
        from db.config import get_settings

        url = database_url or get_settings().database_url
        scores = read_choice_scores_db(url, family=family, benchmark=benchmark)
    if scores.empty:
        fail(f"no per-choice scores for family={family!r}, benchmark={benchmark!r}")
    try:
        result = perchoice_analysis(scores, family=family, benchmark=benchmark)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result.to_dict())
    else:
        typer.echo(result.summary())
