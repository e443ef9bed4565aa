"""Write parsed lm-eval samples as items, one eval run, item results and per-choice scores.

Idempotent like the loader: the run is found again by (model, benchmark, config hash), items by
(benchmark, doc_hash), and only missing item results and choice scores are inserted (bulk). A
stored choice score with another log-probability is an :class:`ImportValidationError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.errors import ImportValidationError
from db.importers.lmeval import Sample
from db.loader import _chunks
from db.models import Benchmark, ChoiceScore, EvalRun, Item, ItemResult, Model, ModelFamily


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
    _item_results(session, samples, item_ids, report)
    _choice_scores(session, samples, item_ids, report)
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


def _item_results(
    session: Session, samples: list[Sample], item_ids: dict[str, int], report: SamplesReport
) -> None:
    have = set(
        session.execute(
            select(ItemResult.item_id).where(ItemResult.run_id == report.run_id)
        ).scalars()
    )
    rows = []
    for s in samples:
        if item_ids[s.key] in have:
            continue
        if s.choices:
            best = max(range(len(s.logprobs)), key=s.logprobs.__getitem__)
            correct = best == s.correct
        else:
            first = next(iter(s.metrics.values()), None)
            correct = None if first is None else first >= 1.0
        estimate = s.metrics.get("acc", next(iter(s.metrics.values()), None))
        rows.append(
            {
                "run_id": report.run_id,
                "item_id": item_ids[s.key],
                "n_samples": 1,
                "n_pass": int(bool(correct)),
                "stop_reason": "r_reached",
                "greedy_correct": correct,
                "estimate": estimate,
                "estimates": s.metrics or None,
            }
        )
    if rows:
        session.execute(insert(ItemResult), rows)
    report.item_results_inserted = len(rows)


def _choice_scores(
    session: Session, samples: list[Sample], item_ids: dict[str, int], report: SamplesReport
) -> None:
    stmt = select(ChoiceScore.item_id, ChoiceScore.choice_index, ChoiceScore.logprob_sum).where(
        ChoiceScore.run_id == report.run_id
    )
    have = {(i, c): lp for i, c, lp in session.execute(stmt).tuples()}
    rows = []
    for s in samples:
        item_id = item_ids[s.key]
        for idx, (text, lp, greedy) in enumerate(zip(s.choices, s.logprobs, s.greedy, strict=True)):
            old = have.get((item_id, idx))
            if old is not None:
                if not math.isclose(old, lp, rel_tol=1e-9, abs_tol=1e-12):
                    raise ImportValidationError(
                        report.file,
                        s.line,
                        f"filtered_resps[{idx}]",
                        f"{old} as already stored for this run, item and choice",
                        lp,
                    )
                report.choice_scores_unchanged += 1
                continue
            rows.append(
                {
                    "run_id": report.run_id,
                    "item_id": item_id,
                    "choice_index": idx,
                    "logprob_sum": lp,
                    "n_tokens": None,
                    "n_bytes": len(text.encode("utf-8")),
                    "n_chars": len(text),
                    "is_greedy": greedy,
                    "is_correct": idx == s.correct,
                }
            )
    if rows:
        session.execute(insert(ChoiceScore), rows)
    report.choice_scores_inserted = len(rows)
