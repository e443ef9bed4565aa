"""The forecast-quality leaderboard over the database: read the rows, backtest in a fit process.

The rows are the ``observations`` view plus per-item rows from ``item_results`` (so COD and the
PassUntil law are scored where a family has them). The backtests run in a child process of the
app's :class:`~service.fit_pool.FitPool` within ``CAPCAST_FIT_TIMEOUT_S``, like a forecast's fit:
a request that asks for more work than that gets a 503 that says how to ask for less.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from service.errors import ApiError
from service.fit_pool import PROCESS_DIED, FitCancelled, FitFailed, FitPool, FitTimeout
from service.forecasting import item_observations, jsonable
from service.schemas import LeaderboardQuery

log = logging.getLogger("capcast.service")


class LeaderboardBug(Exception):
    """The leaderboard failed in a way no data should cause; the message is the traceback."""


def leaderboard_observations(
    session: Session,
    *,
    families: list[str] | None = None,
    benchmarks: list[str] | None = None,
) -> pd.DataFrame:
    """Task-level and per-item rows of ``families`` (all when None); every benchmark a method
    may need beside the cell's (loss sets, bpb) is kept, so ``benchmarks`` only narrows items."""
    from db.queries import fetch_observations

    obs = fetch_observations(session, family=families or None)
    items = item_observations(session, benchmark=benchmarks or None, family=families or None)
    if len(items):
        obs = pd.concat([obs, items], ignore_index=True)
    return obs


def compute(obs: pd.DataFrame, query: dict[str, Any]) -> dict[str, Any]:
    """The leaderboard of ``obs`` as JSON-ready data (run in a fit process or in-process).

    ValueError (a bad selection) passes through; anything else is :class:`LeaderboardBug`.
    """
    from predictors.leaderboard import leaderboard

    try:
        result = leaderboard(obs, **query)
    except ValueError:
        raise
    except Exception as exc:
        raise LeaderboardBug(traceback.format_exc()) from exc
    out = result.to_dict()
    out.pop("rows")  # per-target rows: large; ``cells`` carries every backtest's numbers
    return dict(jsonable(out))


def predictor_args(query: LeaderboardQuery) -> dict[str, Any]:
    """The :func:`predictors.leaderboard.leaderboard` keyword arguments of ``query``."""
    return {
        "methods": query.methods or None,
        "families": [query.family] if query.family else None,
        "benchmarks": [query.benchmark] if query.benchmark else None,
        "metrics": [query.metric] if query.metric else None,
        "max_cells": query.max_cells,
        "n_bootstrap": query.n_bootstrap,
        "alpha": query.alpha,
        "random_state": query.random_state,
        "pooled": query.pooled,
        "pooled_split": query.pooled_split,
    }


def leaderboard(
    session: Session, query: LeaderboardQuery, *, pool: FitPool, timeout_s: float
) -> dict[str, Any]:
    """The leaderboard ``query`` asks for, computed in ``pool`` within ``timeout_s``."""
    from predictors.registry import METHODS

    unknown = [m for m in query.methods if m not in METHODS]
    if unknown:
        raise ApiError(
            422, f"unknown method(s) {unknown}; known: {sorted(METHODS)}", where="query.methods"
        )
    obs = leaderboard_observations(
        session,
        families=[query.family] if query.family else None,
        benchmarks=[query.benchmark] if query.benchmark else None,
    )
    if obs.empty:
        raise ApiError(404, "no observations match the query", where="query")
    session.commit()  # the connection goes back to the pool for the seconds the backtests take
    try:
        return dict(pool.run(compute, obs, predictor_args(query), timeout=timeout_s))
    except FitTimeout:
        exc = ApiError(
            503,
            f"the leaderboard did not finish within {timeout_s:g} s (CAPCAST_FIT_TIMEOUT_S): ask "
            "for less work (one family or benchmark, fewer methods, a smaller max_cells or "
            "n_bootstrap), or run `capcast leaderboard`, which has no budget",
            where="query",
        )
        exc.headers = {"Retry-After": str(max(1, round(timeout_s / 2)))}
        raise exc from None
    except FitCancelled as exc:
        raise ApiError(503, f"the leaderboard was stopped: {exc}", where="server") from None
    except FitFailed as exc:
        if exc.kind in ("ValueError", "FilterError"):
            raise ApiError(422, str(exc), where="query") from None
        if exc.kind == PROCESS_DIED:
            raise ApiError(503, f"{exc}; retry later", where="server") from None
        error_id = uuid.uuid4().hex[:12]
        log.error("leaderboard failed (error id %s):\n%s", error_id, exc)
        raise ApiError(
            500, f"internal error (error id {error_id}): the leaderboard hit a bug in capcast"
        ) from None
