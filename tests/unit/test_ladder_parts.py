"""Ladder lab parts that need no model: corpus split, synthetic tasks, task files, recipe."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from evals.ladder.corpus import split_corpus
from evals.ladder.recipe import VLLM_HEAD_DIMS, Recipe, load_config
from evals.ladder.synthetic import GRADES, KINDS, MAKERS, count_carries, distractors
from evals.ladder.tasks import nextline_candidates, synthetic_items, write_tasks
from evals.tasks import load_task

CONFIGS = Path(__file__).resolve().parents[2] / "evals" / "ladder" / "configs"


def _tree(root: Path, n: int) -> Path:
    for i in range(n):
        d = root / ("pkg" if i % 2 else "") / ("test" if i == 3 else "")
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"def f{j}(x):\n    return x + {j}\n" for j in range(12)]
        (d / f"m{i}.py").write_text("".join(lines))
    return root


def test_split_is_by_file_disjoint_and_seeded(tmp_path: Path) -> None:
    root = _tree(tmp_path, 30)
    a = split_corpus(root, seed=3, heldout_fraction=0.2)
    b = split_corpus(root, seed=3, heldout_fraction=0.2)
    c = split_corpus(root, seed=4, heldout_fraction=0.2)
    assert a.train == b.train and a.heldout == b.heldout and a.fingerprint() == b.fingerprint()
    assert not set(a.train) & set(a.heldout)
    assert len(a.train) + len(a.heldout) == 29  # the file under test/ is excluded
    assert len(a.heldout) == 6 and a.heldout != c.heldout


@pytest.mark.parametrize(("a", "b", "carries"), [(5, 4, 0), (5, 5, 1), (999, 1, 3), (123, 877, 3)])
def test_count_carries(a: int, b: int, carries: int) -> None:
    assert count_carries(a, b) == carries


def test_problems_are_correct_and_distractors_plausible() -> None:
    rng = random.Random(0)
    for kind in KINDS:
        for grade in GRADES[kind]:
            for _ in range(20):
                p = MAKERS[kind](rng, grade)
                lhs = p.query[:-1]
                want = lhs[4:][::-1] if kind == "rev" else str(eval(lhs))
                assert p.answer == want
                d = distractors(rng, p, 3)
                assert len(d) == 3 and len(set(d)) == 3 and p.answer not in d


def test_nextline_candidates_skip_blank_and_comment_targets() -> None:
    text = "".join(f"x{i} = {i}\n" for i in range(10)) + "\n# note\ny = x1 + x2\n"
    got = list(nextline_candidates(text, min_context=8))
    answers = [a for _, a, _ in got]
    assert "y = x1 + x2" in answers and "# note" not in answers and "" not in answers
    for prompt, answer, line in got:
        assert text.splitlines()[line - 1] == answer and prompt.endswith("\n")


def test_task_files_load_in_the_evaluator_format(tmp_path: Path) -> None:
    split = split_corpus(_tree(tmp_path / "src", 20), seed=0, heldout_fraction=0.3)
    paths = write_tasks(split, tmp_path / "tasks", nextline_items_n=5, per_grade=2, seed=0)
    gen = load_task(paths["ladder_add"])
    mc = load_task(paths["ladder_add_mc"])
    assert len(gen.items) == len(mc.items) == 2 * len(GRADES["add"])
    assert gen.generation["stop"] == ["\n"] and mc.target_delimiter == ""
    for g, m in zip(gen.items, mc.items, strict=True):
        assert m.choices[m.gold] == g.answer and g.prompt == m.prompt
    assert len(load_task(paths["ladder_nextline"]).items) == 5
    again = write_tasks(split, tmp_path / "tasks", nextline_items_n=5, per_grade=2, seed=0)
    assert again["ladder_add"].read_text() == paths["ladder_add"].read_text()


def test_synthetic_items_record_their_grade() -> None:
    docs = synthetic_items("mul", 3, seed=1)
    assert {(d["meta"]["digits_a"], d["meta"]["digits_b"]) for d in docs} == set(GRADES["mul"])


def test_schedules_warm_up_then_decay() -> None:
    cos = Recipe(schedule="cosine", warmup_frac=0.1, min_lr_frac=0.1)
    wsd = Recipe(schedule="wsd", warmup_frac=0.1, decay_frac=0.2, min_lr_frac=0.1)
    lrs = [cos.lr_at(s, 100, 1.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=2e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert wsd.lr_at(50, 100, 1.0) == 1.0 and wsd.lr_at(90, 100, 1.0) == pytest.approx(0.55)


def test_shipped_configs_satisfy_the_ladder_rules() -> None:
    from evals.ladder.train import size_plan

    cpu = load_config(CONFIGS / "cpu.yaml")
    assert len(cpu.sizes) >= 6 and all(s.head_dim in VLLM_HEAD_DIMS for s in cpu.sizes)
    flops = [size_plan(cpu, s, cpu.vocab_size)["flops"] for s in cpu.sizes]
    assert flops == sorted(flops) and flops[-1] / flops[0] > 10**1.5
    for name in ("gpu.yaml", "mini.yaml"):
        assert load_config(CONFIGS / name).recipe.checkpoints[-1] == 1.0


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: x\nsizes:\n  - {name: a, hidden: 48, layers: 1, heads: 2, intermediate: 8}\n"
    )
    with pytest.raises(ValueError, match=r"bad.yaml: sizes\[0\]"):
        load_config(p)
    # head_dim 40 is a whole number >= 32, yet vLLM's CPU attention cannot run it
    p.write_text(
        "name: x\nsizes:\n  - {name: a, hidden: 80, layers: 1, heads: 2, intermediate: 8}\n"
    )
    with pytest.raises(ValueError, match=r"sizes\[0\]: hidden/heads = 80/2 must be one of"):
        load_config(p)
    p.write_text(
        "name: x\nrecipe: {lr_base: fast}\nsizes:\n  - {name: a, hidden: 32, layers: 1, heads: 1, intermediate: 8}\n"
    )
    with pytest.raises(ValueError, match=r"recipe.lr_base"):
        load_config(p)
