"""Model identity and canonical benchmark names (issue 15)

Adds ``model_alias`` (another source's name for a stored model) and ``model_value_source``
(which source gave a model its size, tokens, FLOPs or release date), and moves measurements
stored under a source's own benchmark name to the canonical name of ``db/benchmarks.yaml`` as it
was at this revision (frozen below: a migration never changes after release). Sloth, Open LLM
Leaderboard dumps, BenchBench and Epoch rows move (Epoch by the shot count in the measurement's
``extra``); Pythia, lm-eval and observation files already used canonical names and stay. A
benchmark row left with no measurement, item or run is deleted. The views are unchanged. The
downgrade drops the two tables; moved measurements keep their canonical names.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (source, name) -> (task, shots, metric it is called, metric it is, scale)
FIXED = {
    ("benchbench", "arena_elo"): ("arena_elo", 0, "score", "elo", 1.0),
    ("benchbench", "hf_open_llm_v1"): ("openllm_v1_average", 0, None, None, 0.01),
    ("benchbench", "hf_open_llm_v2"): ("openllm_v2_average", 0, None, None, 0.01),
    ("benchbench", "mt_bench"): ("mt_bench", 0, None, None, 1.0),
    ("openllm_v1", "ARC"): ("arc_challenge", 25, "score", "acc_norm", 1.0),
    ("openllm_v1", "GSM8K"): ("gsm8k", 5, "score", "exact_match", 1.0),
    ("openllm_v1", "HellaSwag"): ("hellaswag", 10, "score", "acc_norm", 1.0),
    ("openllm_v1", "MMLU"): ("mmlu", 5, "score", "acc", 1.0),
    ("openllm_v1", "TruthfulQA"): ("truthfulqa_mc2", 0, "score", "mc2", 1.0),
    ("openllm_v1", "Winogrande"): ("winogrande", 5, "score", "acc", 1.0),
    ("openllm_v1", "openllm_v1_average"): ("openllm_v1_average", 0, None, None, 1.0),
    ("openllm_v2", "BBH"): ("leaderboard_bbh", 3, None, None, 1.0),
    ("openllm_v2", "GPQA"): ("leaderboard_gpqa", 0, None, None, 1.0),
    ("openllm_v2", "IFEval"): ("leaderboard_ifeval", 0, None, None, 1.0),
    ("openllm_v2", "MATH Lvl 5"): ("leaderboard_math_hard", 4, None, None, 1.0),
    ("openllm_v2", "MMLU-PRO"): ("leaderboard_mmlu_pro", 5, None, None, 1.0),
    ("openllm_v2", "MUSR"): ("leaderboard_musr", 0, None, None, 1.0),
    ("openllm_v2", "openllm_v2_average"): ("openllm_v2_average", 0, None, None, 1.0),
    ("sloth", "ARC"): ("arc_challenge", 25, "score", "acc_norm", 1.0),
    ("sloth", "Arena-Elo"): ("arena_elo", 0, None, None, 1.0),
    ("sloth", "BBH"): ("leaderboard_bbh", 3, None, None, 1.0),
    ("sloth", "GPQA"): ("leaderboard_gpqa", 0, None, None, 1.0),
    ("sloth", "GSM8K"): ("gsm8k", 5, "score", "exact_match", 1.0),
    ("sloth", "HellaSwag"): ("hellaswag", 10, "score", "acc_norm", 1.0),
    ("sloth", "HumanEval"): ("humaneval", 0, "score", "pass_rate", 1.0),
    ("sloth", "IFEval"): ("leaderboard_ifeval", 0, None, None, 1.0),
    ("sloth", "MATH Lvl 5"): ("leaderboard_math_hard", 4, None, None, 1.0),
    ("sloth", "MMLU"): ("mmlu", 5, "score", "acc", 1.0),
    ("sloth", "MMLU-PRO"): ("leaderboard_mmlu_pro", 5, None, None, 1.0),
    ("sloth", "MTBench"): ("mt_bench", 0, None, None, 1.0),
    ("sloth", "MUSR"): ("leaderboard_musr", 0, None, None, 1.0),
    ("sloth", "TruthfulQA"): ("truthfulqa_mc2", 0, "score", "mc2", 1.0),
    ("sloth", "Winogrande"): ("winogrande", 5, "score", "acc", 1.0),
    ("sloth", "XWinograd"): ("xwinograd", 0, "score", "acc", 1.0),
}
ALIASES = {
    ("benchbench", "ai2_reasoning_challenge_arc"): "arc_challenge",
    ("benchbench", "arc"): "arc_challenge",
    ("benchbench", "arc_challenge"): "arc_challenge",
    ("benchbench", "arc_easy"): "arc_easy",
    ("benchbench", "bbh"): "bbh",
    ("benchbench", "boolq"): "boolq",
    ("benchbench", "gpqa"): "leaderboard_gpqa",
    ("benchbench", "gsm8k"): "gsm8k",
    ("benchbench", "hellaswag"): "hellaswag",
    ("benchbench", "helm_mmlu"): "mmlu",
    ("benchbench", "humaneval"): "humaneval",
    ("benchbench", "ifeval"): "leaderboard_ifeval",
    ("benchbench", "lambada"): "lambada",
    ("benchbench", "mmlu"): "mmlu",
    ("benchbench", "mmlu_pro"): "leaderboard_mmlu_pro",
    ("benchbench", "musr"): "leaderboard_musr",
    ("benchbench", "openbookqa"): "openbookqa",
    ("benchbench", "piqa"): "piqa",
    ("benchbench", "triviaqa"): "triviaqa",
    ("benchbench", "truthfulqa"): "truthfulqa_mc2",
    ("benchbench", "winogrande"): "winogrande",
    ("epoch", "anli"): "anli",
    ("epoch", "arc_challenge"): "arc_challenge",
    ("epoch", "arc_easy"): "arc_easy",
    ("epoch", "bbh"): "bbh",
    ("epoch", "boolq"): "boolq",
    ("epoch", "csqa2"): "csqa2",
    ("epoch", "gsm8k"): "gsm8k",
    ("epoch", "hellaswag"): "hellaswag",
    ("epoch", "lambada"): "lambada",
    ("epoch", "mmlu"): "mmlu",
    ("epoch", "openbookqa"): "openbookqa",
    ("epoch", "piqa"): "piqa",
    ("epoch", "scienceqa"): "scienceqa",
    ("epoch", "superglue"): "superglue",
    ("epoch", "triviaqa"): "triviaqa",
    ("epoch", "winogrande"): "winogrande",
}
SPECS = {
    "anli": ("multiple_choice", 0.3333, True),
    "arc_challenge": ("multiple_choice", 0.25, True),
    "arc_easy": ("multiple_choice", 0.25, True),
    "arena_elo": ("leaderboard", None, True),
    "bbh": ("generative", None, True),
    "boolq": ("multiple_choice", 0.5, True),
    "csqa2": ("multiple_choice", 0.5, True),
    "gsm8k": ("generative", 0.0, True),
    "hellaswag": ("multiple_choice", 0.25, True),
    "humaneval": ("code", 0.0, True),
    "lambada": ("generative", 0.0, True),
    "lambada_openai": ("generative", 0.0, True),
    "leaderboard_bbh": ("multiple_choice", None, True),
    "leaderboard_gpqa": ("multiple_choice", 0.25, True),
    "leaderboard_ifeval": ("generative", 0.0, True),
    "leaderboard_math_hard": ("generative", 0.0, True),
    "leaderboard_mmlu_pro": ("multiple_choice", 0.1, True),
    "leaderboard_musr": ("multiple_choice", None, True),
    "logiqa": ("multiple_choice", 0.25, True),
    "mmlu": ("multiple_choice", 0.25, True),
    "mt_bench": ("leaderboard", None, True),
    "openbookqa": ("multiple_choice", 0.25, True),
    "openllm_v1_average": ("leaderboard", None, True),
    "openllm_v2_average": ("leaderboard", None, True),
    "piqa": ("multiple_choice", 0.5, True),
    "scienceqa": ("multiple_choice", None, True),
    "sciq": ("multiple_choice", 0.25, True),
    "superglue": ("leaderboard", None, True),
    "triviaqa": ("generative", 0.0, True),
    "truthfulqa_mc2": ("multiple_choice", None, True),
    "winogrande": ("multiple_choice", 0.5, True),
    "wsc": ("multiple_choice", 0.5, True),
    "xwinograd": ("multiple_choice", 0.5, True),
}


_MMLU = re.compile(r"^hendrycksTest-([a-z_]+)$")


def _source(src: str) -> str | None:
    if src.startswith("sloth-openllm/open-llm-leaderboard_old"):
        return "openllm_v1"
    if src.startswith("sloth-openllm/open-llm-leaderboard_new"):
        return "openllm_v2"
    if src.startswith("sloth-openllm/"):
        return "sloth"
    if src.startswith("benchbench/"):
        return "benchbench"
    if src == "epoch-benchmarks":
        return "epoch"
    return None


def _name(task: str, shots: Any) -> str:
    text = str(shots).strip() if shots is not None else ""
    if not text.isdigit():
        return f"{task}@unknownshot"
    return task if int(text) == 0 else f"{task}@{int(text)}shot"


def _target(src: str, name: str, metric: str, extra: Any) -> tuple[str, str, float, str] | None:
    """(canonical name, metric, scale, task) of one stored measurement, None to leave it."""
    kind = _source(src)
    if kind is None:
        return None
    hit = FIXED.get((kind, name))
    if hit is not None:
        task, shots, m_from, m_to, scale = hit
        ok = m_from in (None, metric)
        return _name(task, shots), (m_to if m_to and ok else metric), (scale if ok else 1.0), task
    task = ALIASES.get((kind, name))
    if task is not None:
        shots = extra.get("shots") if kind == "epoch" and isinstance(extra, dict) else None
        return _name(task, shots), metric, 1.0, task
    m = _MMLU.match(name)
    if kind == "sloth" and m:
        task = f"mmlu_{m.group(1)}"
        return _name(task, 5), ("acc" if metric == "score" else metric), 1.0, task
    return None


def upgrade() -> None:
    op.create_table(
        "model_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(300), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["model.id"],
            name=op.f("fk_model_alias_model_id_model"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_alias")),
        sa.UniqueConstraint("source", "alias", name=op.f("uq_model_alias_source_alias")),
    )
    op.create_index(op.f("ix_model_alias_model_id"), "model_alias", ["model_id"])
    op.create_table(
        "model_value_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.String(40), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["model.id"],
            name=op.f("fk_model_value_source_model_id_model"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_value_source")),
        sa.UniqueConstraint(
            "model_id", "attribute", name=op.f("uq_model_value_source_model_id_attribute")
        ),
    )
    _move_measurements()


def _move_measurements() -> None:
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
        sa.column("benchmark_id", sa.Integer),
        sa.column("metric", sa.String),
        sa.column("value", sa.Float),
        sa.column("source", sa.String),
        sa.column("extra", sa.JSON),
    )
    names = dict(bind.execute(sa.select(bench.c.name, bench.c.id)).tuples().all())
    rows = bind.execute(
        sa.select(meas.c.id, meas.c.source, meas.c.metric, meas.c.value, meas.c.extra, bench.c.name)
        .join(bench, bench.c.id == meas.c.benchmark_id)
        .where(
            sa.or_(
                meas.c.source.like("sloth-openllm/%"),
                meas.c.source.like("benchbench/%"),
                meas.c.source == "epoch-benchmarks",
            )
        )
    ).all()
    moved_from: set[int] = set()
    updates: list[dict[str, Any]] = []
    for mid, src, metric, value, extra, name in rows:
        tgt = _target(src, name, metric, extra)
        if tgt is None or (tgt[0] == name and tgt[1] == metric and tgt[2] == 1.0):
            continue
        new_name, new_metric, scale, task = tgt
        if new_name not in names:
            kind, chance, hib = SPECS.get(task, ("multiple_choice", None, True))
            bind.execute(
                sa.insert(bench).values(
                    name=new_name, kind=kind, chance=chance, higher_is_better=hib
                )
            )
            names[new_name] = bind.execute(
                sa.select(bench.c.id).where(bench.c.name == new_name)
            ).scalar_one()
        moved_from.add(names[name])
        updates.append(
            {"mid": mid, "bid": names[new_name], "metric": new_metric, "value": value * scale}
        )
    if updates:
        bind.execute(
            sa.update(meas)
            .where(meas.c.id == sa.bindparam("mid"))
            .values(
                benchmark_id=sa.bindparam("bid"),
                metric=sa.bindparam("metric"),
                value=sa.bindparam("value"),
            ),
            updates,
        )
    if updates:  # the moved rows change what both names' forecasts fit on: bump their versions
        moved_names = [n for n, i in names.items() if i in moved_from or i in targets_of(updates)]
        version = sa.table("data_version", sa.column("benchmark", sa.String), sa.column("n"))
        bind.execute(
            sa.update(version).where(version.c.benchmark.in_(moved_names)).values(n=version.c.n + 1)
        )
    for bid in sorted(moved_from):
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


def targets_of(updates: list[dict[str, Any]]) -> set[int]:
    return {u["bid"] for u in updates}


def downgrade() -> None:
    op.drop_table("model_value_source")
    op.drop_index(op.f("ix_model_alias_model_id"), table_name="model_alias")
    op.drop_table("model_alias")
