"""Write parsed lm-eval samples as items, one eval run, item results and per-choice scores.

Idempotent like the loader: the run is found again by (model, benchmark, config hash), items by
(benchmark, doc_hash), and item results and choice scores are written through
``db.results.write_item_results`` in strict mode, like the evaluator's: missing ones are inserted
(bulk), identical ones are unchanged, and a stored result or choice score with another value is an
:class:`ImportValidationError` at the sample's line (the caller's transaction writes nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db import results as R
from db.errors import ImportValidationError
from db.importers.lmeval import Sample
from db.loader import _chunks
from db.models import Benchmark, EvalRun, Item, Model, ModelFamily


@dataclass
class SamplesReport:
    file: str
    benchmark: str
    model: str
    run_id: int = 0
    run_created: bool = False
    items_inserted: int = 0
    item_results_inserted: int = 0
    choice_scores_inserted: int = 0
    choice_scores_unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.file}: run {self.run_id} ({'new' if self.run_created else 'existing'}) of "
            f"{self.model} on {self.benchmark}: {self.items_inserted} items, "
            f"{self.item_results_inserted} item results, {self.choice_scores_inserted} choice "
            f"scores inserted, {self.choice_scores_unchanged} unchanged"
        )


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _get_or_create(session: Session, cls: Any, name: str, **attrs: Any) -> int:
    found = session.execute(select(cls.id).where(cls.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(
        session.execute(insert(cls).values(name=name, **attrs).returning(cls.id)).scalar_one()
    )


def load_samples(
    session: Session,
    samples: list[Sample],
    *,
    model: str,
    benchmark: str,
    config: dict[str, Any],
    file: str,
    family: str | None = None,
) -> SamplesReport:
    """Store one samples file as one eval run (engine ``lm-eval``) in the caller's transaction."""
    report = SamplesReport(file=file, benchmark=benchmark, model=model)
    fam_id = _get_or_create(session, ModelFamily, family) if family else None
    model_id = _get_or_create(
        session, Model, model, family_id=fam_id, revision=config.get("revision")
    )
    choices = any(s.choices for s in samples)
    bench_id = _get_or_create(
        session, Benchmark, benchmark, kind="multiple_choice" if choices else "generative"
    )
    identity = {"model": model, "benchmark": benchmark, **config}
    chash = config_hash(identity)
    run_id = session.execute(
        select(EvalRun.id).where(
            EvalRun.model_id == model_id,
            EvalRun.benchmark_id == bench_id,
            EvalRun.config_hash == chash,
        )
    ).scalar()
    if run_id is None:
        now = dt.datetime.now(dt.UTC)
        run_id = session.execute(
            insert(EvalRun)
            .values(
                model_id=model_id,
                benchmark_id=bench_id,
                mode="choices" if choices else "samples",
                engine="lm-eval",
                engine_version=config.get("lm_eval_version"),
                config=identity,
                config_hash=chash,
                status="done",
                started_at=now,
                finished_at=now,
            )
            .returning(EvalRun.id)
        ).scalar_one()
        report.run_created = True
    report.run_id = int(run_id)
    item_ids = _items(session, samples, bench_id, report)
    _results(session, samples, item_ids, report)
    return report


def _items(
    session: Session, samples: list[Sample], bench_id: int, report: SamplesReport
) -> dict[str, int]:
    keys = [s.key for s in samples]
    ids: dict[str, int] = {}
    for part in _chunks(keys):
        stmt = select(Item.key, Item.id).where(Item.benchmark_id == bench_id, Item.key.in_(part))
        ids.update(session.execute(stmt).tuples().all())
    new = [s for s in samples if s.key not in ids]
    if new:
        rows = [
            {
                "benchmark_id": bench_id,
                "key": s.key,
                "prompt": s.prompt,
                "choices": s.choices or None,
                "answer": s.target,
                "meta": {"doc_id": s.doc_id, "doc": s.doc},
            }
            for s in new
        ]
        session.execute(insert(Item), rows)
        for part in _chunks([s.key for s in new]):
            stmt = select(Item.key, Item.id).where(
                Item.benchmark_id == bench_id, Item.key.in_(part)
            )
            ids.update(session.execute(stmt).tuples().all())
        report.items_inserted = len(new)
    return ids


def _item_result(s: Sample) -> dict[str, Any]:
    """One sample as an item result: greedy correctness and lm-eval's own per-item metrics."""
    if s.choices:
        best = max(range(len(s.logprobs)), key=s.logprobs.__getitem__)
        correct: bool | None = best == s.correct
    else:
        first = next(iter(s.metrics.values()), None)
        correct = None if first is None else first >= 1.0
    return {
        "n_samples": 1,
        "n_pass": int(bool(correct)),
        "stop_reason": "r_reached",
        "greedy_correct": correct,
        "estimate": s.metrics.get("acc", next(iter(s.metrics.values()), None)),
        "estimates": s.metrics or None,
    }


def _choice_rows(s: Sample) -> tuple[R.ChoiceRow, ...]:
    return tuple(
        R.ChoiceRow(
            choice_index=idx,
            logprob_sum=lp,
            n_tokens=None,
            n_bytes=len(text.encode("utf-8")),
            n_chars=len(text),
            is_greedy=greedy,
            is_correct=idx == s.correct,
        )
        for idx, (text, lp, greedy) in enumerate(zip(s.choices, s.logprobs, s.greedy, strict=True))
    )


#: Where in a sample each item-result field comes from, for messages about a changed sample.
_SAMPLE_FIELD = {
    "greedy_correct": "filtered_resps",
    "n_pass": "filtered_resps",
    "estimate": "metrics",
    "estimates": "metrics",
}


def _results(
    session: Session, samples: list[Sample], item_ids: dict[str, int], report: SamplesReport
) -> None:
    """Item results and choice scores through ``db.results`` (strict): a changed one is an error."""
    entries = [R.ResultIn(item_ids[s.key], _item_result(s), _choice_rows(s)) for s in samples]
    try:
        counts = R.write_item_results(session, report.run_id, entries, strict=True)
    except R.ResultConflictError as exc:
        sample = next(s for s in samples if item_ids[s.key] == exc.item_id)
        if exc.choice_index is not None:
            column = f"filtered_resps[{exc.choice_index}]"
            where = "for this run, item and choice"
        else:
            column = _SAMPLE_FIELD.get(exc.field, exc.field)
            where = f"as the {exc.field} of this run and item"
        raise ImportValidationError(
            report.file,
            sample.line,
            column,
            f"{exc.stored} as already stored {where}",
            exc.given,
            detail=f"run {exc.run_id}, item {sample.key}: a stored result is never overwritten",
        ) from None
    report.item_results_inserted = counts.results_inserted
    report.choice_scores_inserted = counts.choices_inserted
    report.choice_scores_unchanged = counts.choices_unchanged
