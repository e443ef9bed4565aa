"""Open LLM Leaderboard v2 sub-tasks: sloth's column names and lm-eval's task names resolve to one
canonical benchmark per (sub-task, shots), with the metric lm-eval's leaderboard task reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.benchmark_registry import registry, score_ceiling, task_of
from db.importers import sloth

# (sloth column, lm-eval results name, canonical name, metric, kind, chance)
FAMILIES = [
    ("bbh_boolean_expressions", "leaderboard_bbh_boolean_expressions@3shot",
     "leaderboard_bbh_boolean_expressions@3shot", "acc_norm", "multiple_choice", None),
    ("gpqa_diamond", "leaderboard_gpqa_diamond",
     "leaderboard_gpqa_diamond", "acc_norm", "multiple_choice", 0.25),
    ("math_counting_and_prob_hard", "leaderboard_math_counting_and_prob_hard@4shot",
     "leaderboard_math_counting_and_prob_hard@4shot", "exact_match", "generative", 0.0),
    ("musr_team_allocation", "leaderboard_musr_team_allocation",
     "leaderboard_musr_team_allocation", "acc_norm", "multiple_choice", None),
]  # fmt: skip


@pytest.mark.parametrize(("column", "lm_eval", "canonical", "metric", "kind", "chance"), FAMILIES)
def test_sloth_and_lm_eval_names_resolve_to_one_benchmark(
    column: str, lm_eval: str, canonical: str, metric: str, kind: str, chance: float | None
) -> None:
    reg = registry()
    got = reg.resolve("sloth", column, "score")
    assert got is not None
    assert (got.benchmark, got.metric, got.scale) == (canonical, metric, 1.0)
    assert (got.spec.kind, got.spec.chance) == (kind, chance)
    same = reg.resolve("lm_eval", lm_eval, metric)
    assert same is not None
    assert (same.benchmark, same.metric, same.scale) == (canonical, metric, 1.0)
    attrs = reg.benchmark_attrs([canonical])[canonical]
    assert (attrs["kind"], attrs["chance"]) == (kind, chance)
    assert score_ceiling(canonical, metric) == 1.0


def test_lm_eval_shots_come_from_the_name_and_other_sources_do_not_match() -> None:
    reg = registry()
    # lm-eval's own shot count wins: a 0-shot BBH sub-task run is not the 3-shot benchmark
    zero = reg.resolve("lm_eval", "leaderboard_bbh_navigate", "acc_norm")
    assert zero is not None and zero.benchmark == "leaderboard_bbh_navigate"
    # the parent tasks stay where they were
    parent = reg.resolve("lm_eval", "leaderboard_math_hard@4shot", "exact_match")
    assert parent is not None and parent.benchmark == "leaderboard_math_hard@4shot"
    bbh = reg.resolve("sloth", "BBH", "score")
    assert bbh is not None and (bbh.benchmark, bbh.metric) == ("leaderboard_bbh@3shot", "acc")
    # sloth patterns are sloth's: the same column name from another source matches nothing
    assert reg.resolve("benchbench", "bbh_boolean_expressions", "score") is None
    assert reg.resolve("sloth", "math_hard", "score") is None
    spec = task_of("leaderboard_math_geometry_hard@4shot")
    assert spec is not None and (spec.task, spec.kind) == (
        "leaderboard_math_geometry_hard",
        "generative",
    )


def test_every_v2_subtask_column_of_both_curated_tables_is_canonical(shared_data: Path) -> None:
    df = sloth.sloth_observations(shared_data / "sloth-openllm", dumps=False)
    out, unmatched = registry().map_observations(df, sloth.registry_sources(df["source"]))
    assert unmatched == []
    cols = sorted(set(df["benchmark"]) - set(out["benchmark"]))
    sub = [c for c in cols if c.startswith(("bbh_", "gpqa_", "math_", "musr_"))]
    assert len(sub) == 37  # 24 BBH + 3 GPQA + 7 MATH + 3 MuSR columns, all renamed
    names = set(out["benchmark"])
    assert {
        "leaderboard_bbh_web_of_lies@3shot",
        "leaderboard_gpqa_extended",
        "leaderboard_math_precalculus_hard@4shot",
        "leaderboard_musr_object_placements",
        "xwinograd",
        "arena_elo",
        "mt_bench",
    } <= names
    # data_v2.csv line 3: bloom-1b1, values copied unscaled (exact)
    v2 = out[out["source"].str.endswith("data_v2.csv") & (out["model"] == "bloom-1b1")]
    row = v2.set_index("benchmark")
    assert row.loc["leaderboard_bbh_boolean_expressions@3shot", "value"] == 0.54
    assert row.loc["leaderboard_bbh_boolean_expressions@3shot", "metric"] == "acc_norm"
    assert row.loc["leaderboard_gpqa_diamond", "value"] == 0.2626262626262626
    assert row.loc["leaderboard_musr_team_allocation", "value"] == 0.36
    assert row.loc["leaderboard_math_counting_and_prob_hard@4shot", "metric"] == "exact_match"
