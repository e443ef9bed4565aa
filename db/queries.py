"""Read-side helpers: the observations and per-item results out of the database's views."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from db.observations import OBSERVATION_COLUMNS

_COLUMNS = (*OBSERVATION_COLUMNS, "stderr", "source")


def _select(
    view: str, columns: tuple[str, ...] | None, **filters: str | list[str] | None
) -> tuple[str, dict[str, list[str]]]:
    """``SELECT`` from a view with ``col IN (...)`` filters (bind them as expanding)."""
    where, params = [], {}
    for col, val in filters.items():
        if val is None:
            continue
        values = [val] if isinstance(val, str) else list(val)
        if not values:  # an empty filter selects nothing (and an empty IN breaks PostgreSQL)
            where.append("1 = 0")
            continue
        where.append(f"{col} IN :{col}")
        params[col] = values
    sql = f"SELECT {', '.join(columns) if columns else '*'} FROM {view}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def fetch_observations(
    session: Session,
    *,
    benchmark: str | list[str] | None = None,
    family: str | list[str] | None = None,
    metric: str | list[str] | None = None,
    final_only: bool = False,
) -> pd.DataFrame:
    """Rows of the ``observations`` view, filtered, typed as ``read_observations`` types them.

    ``final_only`` keeps each (model, benchmark, metric, source)'s row at its largest
    checkpoint_step (rows without a step count as final), what a predicted model is scored at.
    """
    sql, params = _select(
        "observations", _COLUMNS, benchmark=benchmark, family=family, metric=metric
    )
    sql += " ORDER BY family, model, benchmark, metric, checkpoint_step"
    stmt = text(sql).bindparams(*(bindparam(k, expanding=True) for k in params))
    rows = session.execute(stmt, params).all()
    df = pd.DataFrame(rows, columns=list(_COLUMNS))
    for col in ("n_params", "n_params_nonembed", "n_tokens", "flops", "value", "stderr"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["checkpoint_step"] = pd.to_numeric(df["checkpoint_step"]).astype("Int64")
    df["release_date"] = pd.to_datetime(df["release_date"])
    if final_only and len(df):
        step = df["checkpoint_step"].fillna(-1).astype("int64")
        last = step.groupby([df["model"], df["benchmark"], df["metric"], df["source"]]).transform(
            "max"
        )
        df = df[(step == last) | df["checkpoint_step"].isna()].reset_index(drop=True)
    return df


def fetch_item_results(
    session: Session,
    *,
    benchmark: str | list[str] | None = None,
    family: str | list[str] | None = None,
) -> pd.DataFrame:
    """Rows of the ``item_results`` view (one per item and run), filtered; the item-level
    predictors read them through ``predictors.item_data.item_results_to_observations``."""
    sql, params = _select("item_results", None, benchmark=benchmark, family=family)
    sql += " ORDER BY family, model, benchmark, checkpoint_step, run_id, item"
    stmt = text(sql).bindparams(*(bindparam(k, expanding=True) for k in params))
    return pd.read_sql(stmt, session.connection(), params=params)


#: Tables an import may write, in dependency order.
IMPORT_TABLES = (
    "model_family",
    "model",
    "benchmark",
    "measurement",
    "item",
    "eval_run",
    "item_result",
    "choice_score",
)


def table_counts(session: Session) -> dict[str, int]:
    """Row count of every table an import writes (tests compare these before and after)."""
    return {
        t: int(session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
        for t in IMPORT_TABLES
    }
