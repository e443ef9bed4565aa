"""Analyses served as resources: benchmark agreement, capacity density, per-choice metrics.

Each reads what it needs from the database views and hands it to the predictor, which does all
the computing. A ValueError from a predictor means the data cannot answer the question: it
becomes a 422 naming the request field it is about.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import Benchmark
from service.errors import ApiError
from service.forecasting import jsonable
from service.schemas import AgreementQuery, DensingQuery


def agreement(session: Session, query: AgreementQuery) -> Any:
    """A fitted AgreementTester over the final scores the query selects."""
    from db.queries import fetch_observations
    from predictors.agreement import AgreementTester

    obs = fetch_observations(
        session, benchmark=query.benchmarks or None, family=query.family, metric=query.metric,
        final_only=True,
    )  # fmt: skip
    if query.source is not None:
        obs = obs[obs["source"] == query.source]
    if obs.empty:
        raise ApiError(422, f"no final {query.metric} scores match the query", where="body")
    better = dict(session.execute(select(Benchmark.name, Benchmark.higher_is_better)).all())
    scores = pd.DataFrame({"benchmark": obs["benchmark"], "model": obs["model"],
                           "score": obs["value"]})  # fmt: skip
    scores["higher_is_better"] = scores["benchmark"].map(better).fillna(True).astype(bool)
    reference = query.reference_benchmarks or sorted(scores["benchmark"].unique())
    tester = AgreementTester(reference_benchmarks=reference, sizes=query.sizes,
                             n_exps=query.n_exps, method=query.method, seed=query.seed)  # fmt: skip
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tester.fit(scores)
    except ValueError as exc:
        raise ApiError(422, f"agreement: {exc}", where="body") from None
    tester.warnings_ = [str(w.message) for w in caught]
    return tester


def agreement_dict(tester: Any) -> dict[str, Any]:
    result = tester.to_dict()
    result.pop("results", None)  # per-subset rows: large, and in the CLI's output already
    result["warnings"] = list(getattr(tester, "warnings_", []))
    return jsonable(result)


def densing(session: Session, query: DensingQuery) -> Any:
    """The densing law of every model but the reference family's (or of ``families``).

    The ceiling defaults to the registry's (:func:`service.densing_defaults.resolve_ceiling`);
    the reference family's own models are left out by default: their density is 1 by
    construction and says nothing about the trend.
    """
    from dataclasses import replace

    from db.queries import fetch_observations
    from predictors.base import FitError
    from predictors.densing import DensityReference, density_table, fit_densing_law
    from service.densing_defaults import resolve_ceiling

    obs = fetch_observations(session, benchmark=[query.benchmark, query.loss_benchmark])
    ceiling, ceiling_note = resolve_ceiling(query.ceiling, query.benchmark, query.metric)
    finals = fetch_observations(session, benchmark=query.benchmark, metric=query.metric,
                                family=query.families or None, final_only=True)  # fmt: skip
    if not query.families:
        finals = finals[finals["family"] != query.reference_family]
    size_column = query.size_column or densing_size_column(finals)
    reference = DensityReference(
        reference_family=query.reference_family, benchmark=query.benchmark, metric=query.metric,
        loss_benchmark=query.loss_benchmark, loss_metric=query.loss_metric,
        size_column=size_column, d0=query.d0, ceiling=ceiling,
    )  # fmt: skip
    try:
        reference.fit(obs)
        models = pd.DataFrame({"model": finals["model"], "family": finals["family"],
                               "n_params": finals[size_column],
                               "release_date": finals["release_date"], "score": finals["value"]})  # fmt: skip
        models = models.dropna(subset=["n_params"]).drop_duplicates("model", keep="last")
        table = density_table(reference, models)
        result = fit_densing_law(table, reference.describe(), alpha=query.alpha)
        size_note = f"size measure {size_column}" + ("" if query.size_column else " (default)")
        return replace(result, notes=(*result.notes, ceiling_note, size_note))
    except (ValueError, FitError) as exc:  # the data cannot answer: as the CLI, not a bug
        raise ApiError(422, f"densing: {exc}", where="body") from None


def densing_size_column(targets: pd.DataFrame) -> str:
    """Non-embedding parameters when every target row has them (the densing paper's N), else
    total parameters: public tables other than Pythia's give only the total."""
    if len(targets) and bool(targets["n_params_nonembed"].notna().all()):
        return "n_params_nonembed"
    return "n_params"


def perchoice(session: Session, family: str, benchmark: str) -> dict[str, Any]:
    from predictors.perchoice import perchoice_analysis

    rows = session.execute(
        text("SELECT * FROM choice_scores WHERE family = :f AND benchmark = :b"),
        {"f": family, "b": benchmark},
    ).mappings().all()  # fmt: skip
    if not rows:
        raise ApiError(
            404, f"no per-choice scores for family {family!r} on {benchmark!r}", where="query"
        )
    frame = pd.DataFrame([dict(r) for r in rows])
    try:
        return jsonable(perchoice_analysis(frame, family=family, benchmark=benchmark).to_dict())
    except ValueError as exc:
        raise ApiError(422, f"per-choice analysis: {exc}", where="query") from None
