"""Canonical names for the Open LLM Leaderboard v2 sub-tasks of sloth's curated tables (issue 15),
and metric ``acc`` for the curated tables' six v2 columns

Sloth's ``data_v1.csv`` / ``data_v2.csv`` columns ``bbh_*``, ``gpqa_*``, ``math_*_hard`` and
``musr_*`` matched no canonical benchmark at 0005, so ``capcast import sloth`` stored them under
the column names with metric ``score``. ``db/benchmarks.yaml`` now names them as lm-eval's
leaderboard tasks do; this moves measurements already stored to those names, with the patterns as
they were at this revision (frozen below: a migration never changes after release):
``bbh_X/score`` -> ``leaderboard_bbh_X@3shot/acc_norm``, ``gpqa_X/score`` ->
``leaderboard_gpqa_X/acc_norm``, ``math_X_hard/score`` ->
``leaderboard_math_X_hard@4shot/exact_match``, ``musr_X/score`` ->
``leaderboard_musr_X/acc_norm``; values are unchanged (the columns hold the raw metric). Only
rows whose source is a sloth curated table (``sloth-openllm/``, not the leaderboard dumps) move.
A benchmark row left with no measurement, item or run is deleted, and the data versions of the
old and new names are bumped, as in 0005.

The curated tables' IFEval, BBH, MATH Lvl 5, GPQA, MUSR and MMLU-PRO columns are raw accuracies
(bloom-1b1's BBH 0.31 is the v2 dump's ``BBH Raw``, not its normalised ``BBH`` 4.04), but 0005
stored them with metric ``score``, the dumps' normalised score: two scales under one identity.
Their rows (``leaderboard_ifeval``, ``leaderboard_bbh@3shot``, ``leaderboard_math_hard@4shot``,
``leaderboard_gpqa``, ``leaderboard_musr``, ``leaderboard_mmlu_pro@5shot``; curated sources only)
get metric ``acc``, the dumps' ``<X> Raw`` rows' metric, with values unchanged; the dumps' own
``score`` rows stay. MMLU subject rows (``mmlu_<subject>@5shot``) that 0005's sloth import
created with kind ``leaderboard`` get the registry's kind (multiple_choice) and chance (0.25).
Where an ``acc`` row of the same model, benchmark, step and source already exists (not at 0005,
whose import stored no such row), it is kept and the ``score`` row deleted: it holds the same
column's value. The data versions of those benchmarks are bumped. No schema change.

Downgrade does nothing: moved measurements keep their canonical names (the old benchmark rows are
not recreated), as 0005's downgrade does, and renamed ones keep metric ``acc``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sloth column -> (task template, shots, metric "score" becomes, kind, chance)
PATTERNS = (
    (re.compile(r"^bbh_([a-z_]+)$"), "leaderboard_bbh_{0}", 3, "acc_norm", "multiple_choice", None),
    (re.compile(r"^gpqa_([a-z]+)$"), "leaderboard_gpqa_{0}", 0, "acc_norm", "multiple_choice", 0.25),
    (re.compile(r"^math_([a-z_]+)_hard$"), "leaderboard_math_{0}_hard", 4, "exact_match", "generative", 0.0),
    (re.compile(r"^musr_([a-z_]+)$"), "leaderboard_musr_{0}", 0, "acc_norm", "multiple_choice", None),
)  # fmt: skip


# the curated tables' Leaderboard v2 columns as 0005 named them: metric "score" becomes "acc"
PARENTS = (
    "leaderboard_ifeval",
    "leaderboard_bbh@3shot",
    "leaderboard_math_hard@4shot",
    "leaderboard_gpqa",
    "leaderboard_musr",
    "leaderboard_mmlu_pro@5shot",
)


def _curated(src: str) -> bool:
    """Whether a measurement's source is one of sloth's curated tables (not a leaderboard dump)."""
    return src.startswith("sloth-openllm/") and not src.startswith(
        "sloth-openllm/open-llm-leaderboard"
    )


def _target(src: str, name: str, metric: str) -> tuple[str, str, str, float | None] | None:
    """(canonical name, metric, kind, chance) of one stored measurement, None to leave it."""
    if not _curated(src):
        return None
    for regex, template, shots, new_metric, kind, chance in PATTERNS:
        m = regex.match(name)
        if m:
            task = template.format(*m.groups())
            new_name = task if shots == 0 else f"{task}@{shots}shot"
            return new_name, (new_metric if metric == "score" else metric), kind, chance
    return None


def upgrade() -> None:
    bind = op.get_bind()
    bench = sa.table(
        "benchmark",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("chance", sa.Float),
        sa.column("higher_is_better", sa.Boolean),
    )
    meas = sa.table(
        "measurement",
        sa.column("id", sa.Integer),
        sa.column("model_id", sa.Integer),
        sa.column("benchmark_id", sa.Integer),
        sa.column("metric", sa.String),
        sa.column("source", sa.String),
        sa.column("checkpoint_step", sa.Integer),
    )
    version = sa.table("data_version", sa.column("benchmark", sa.String), sa.column("n"))
    _parents_to_acc(bind, bench, meas, version)
    _mmlu_subject_kinds(bind, bench)
    names = dict(bind.execute(sa.select(bench.c.name, bench.c.id)).tuples().all())
    rows = bind.execute(
        sa.select(meas.c.id, meas.c.source, meas.c.metric, bench.c.name)
        .join(bench, bench.c.id == meas.c.benchmark_id)
        .where(
            meas.c.source.like("sloth-openllm/%"),
            sa.or_(*(bench.c.name.like(f"{p}%") for p in ("bbh", "gpqa", "math", "musr"))),
        )
    ).all()
    moved: set[int] = set()
    updates: list[dict[str, Any]] = []
    for mid, src, metric, name in rows:
        tgt = _target(src, name, metric)
        if tgt is None:
            continue
        new_name, new_metric, kind, chance = tgt
        if new_name not in names:
            bind.execute(
                sa.insert(bench).values(
                    name=new_name, kind=kind, chance=chance, higher_is_better=True
                )
            )
            names[new_name] = bind.execute(
                sa.select(bench.c.id).where(bench.c.name == new_name)
            ).scalar_one()
        moved |= {names[name], names[new_name]}
        updates.append({"mid": mid, "bid": names[new_name], "metric": new_metric})
    if not updates:
        return
    bind.execute(
        sa.update(meas)
        .where(meas.c.id == sa.bindparam("mid"))
        .values(benchmark_id=sa.bindparam("bid"), metric=sa.bindparam("metric")),
        updates,
    )
    # the moved rows change what both names' forecasts fit on: bump their data versions
    bind.execute(
        sa.update(version)
        .where(version.c.benchmark.in_(sorted(n for n, i in names.items() if i in moved)))
        .values(n=version.c.n + 1)
    )
    for bid in sorted(moved):
        used = bind.execute(
            sa.text(
                "SELECT (SELECT COUNT(*) FROM measurement WHERE benchmark_id = :b)"
                " + (SELECT COUNT(*) FROM item WHERE benchmark_id = :b)"
                " + (SELECT COUNT(*) FROM eval_run WHERE benchmark_id = :b)"
            ),
            {"b": bid},
        ).scalar_one()
        if not used:
            bind.execute(sa.delete(bench).where(bench.c.id == bid))


def _parents_to_acc(bind: Any, bench: Any, meas: Any, version: Any) -> None:
    """Metric ``score`` -> ``acc`` for the curated tables' rows of the six v2 benchmarks."""
    rows = bind.execute(
        sa.select(
            meas.c.id,
            meas.c.model_id,
            meas.c.benchmark_id,
            meas.c.checkpoint_step,
            meas.c.source,
            meas.c.metric,
            bench.c.name,
        )
        .join(bench, bench.c.id == meas.c.benchmark_id)
        .where(
            bench.c.name.in_(PARENTS),
            meas.c.metric.in_(("score", "acc")),
            meas.c.source.like("sloth-openllm/%"),
        )
    ).all()
    rows = [r for r in rows if _curated(r.source)]
    # (model, benchmark, step, source) of the acc rows already there: the unique identity
    have = {
        (r.model_id, r.benchmark_id, r.checkpoint_step, r.source) for r in rows if r.metric == "acc"
    }
    scores = [r for r in rows if r.metric == "score"]
    if not scores:
        return
    keyed = [(r.id, (r.model_id, r.benchmark_id, r.checkpoint_step, r.source)) for r in scores]
    twin = [mid for mid, key in keyed if key in have]
    rename = [mid for mid, key in keyed if key not in have]
    for i in range(0, len(twin), 500):
        bind.execute(sa.delete(meas).where(meas.c.id.in_(twin[i : i + 500])))
    for i in range(0, len(rename), 500):
        bind.execute(sa.update(meas).where(meas.c.id.in_(rename[i : i + 500])).values(metric="acc"))
    # what forecasts of (benchmark, "score") and (benchmark, "acc") fit on changed: bump them
    bind.execute(
        sa.update(version)
        .where(version.c.benchmark.in_(sorted({r.name for r in scores})))
        .values(n=version.c.n + 1)
    )


# sloth's MMLU subjects as 0005 named them (hendrycksTest-<subject> -> mmlu_<subject>@5shot)
MMLU_SUBJECT = re.compile(r"^mmlu_[a-z_]+@5shot$")


def _mmlu_subject_kinds(bind: Any, bench: Any) -> None:
    """The registry's kind and chance for MMLU subject rows a 0005 sloth import created as
    ``leaderboard`` (it overrode the attributes of every name that was not a named task)."""
    rows = bind.execute(
        sa.select(bench.c.id, bench.c.name).where(bench.c.kind == "leaderboard")
    ).all()
    ids = [i for i, name in rows if MMLU_SUBJECT.match(name)]
    for k in range(0, len(ids), 500):
        bind.execute(
            sa.update(bench)
            .where(bench.c.id.in_(ids[k : k + 500]))
            .values(kind="multiple_choice", chance=0.25)
        )


def downgrade() -> None:
    """Nothing to undo in the schema; moved measurements keep their canonical names and metric."""
