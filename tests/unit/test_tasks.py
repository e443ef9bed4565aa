"""Task files: lm-eval YAML over local data (templates, few-shot, CSV), native JSONL, the shipped
examples, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.checkers import make_checker
from evals.tasks import TaskError, doc_hash, load_task

EXAMPLES = Path(__file__).resolve().parents[2] / "evals" / "example_tasks"


def test_shipped_examples_load() -> None:
    kinds = {
        p.name: load_task(p).kind for p in sorted(EXAMPLES.glob("*.jsonl")) if "_data" not in p.name
    }
    kinds |= {p.name: load_task(p).kind for p in EXAMPLES.glob("*.yaml")}
    assert kinds == {
        "arithmetic.jsonl": "generative",
        "code.jsonl": "code",
        "mc_facts.jsonl": "multiple_choice",
        "strings.jsonl": "generative",
        "arithmetic.yaml": "generative",
        "mc_facts.yaml": "multiple_choice",
    }


def test_mc_yaml_matches_native_form_and_keys_are_doc_hashes() -> None:
    yaml_task = load_task(EXAMPLES / "mc_facts.yaml")
    native = load_task(EXAMPLES / "mc_facts.jsonl")
    assert [it.prompt for it in yaml_task.items] == [it.prompt for it in native.items]
    assert [it.gold for it in yaml_task.items] == [it.gold for it in native.items]
    first = json.loads((EXAMPLES / "mc_facts_data.jsonl").read_text().splitlines()[0])
    assert yaml_task.items[0].key == doc_hash(first)
    assert yaml_task.items[0].prompt == "Question: Which animal says woof?\nAnswer:"


def test_fewshot_is_seeded_and_excludes_the_item() -> None:
    a = load_task(EXAMPLES / "arithmetic.yaml", fewshot_seed=1)
    b = load_task(EXAMPLES / "arithmetic.yaml", fewshot_seed=1)
    c = load_task(EXAMPLES / "arithmetic.yaml", fewshot_seed=2)
    assert [it.prompt for it in a.items] == [it.prompt for it in b.items]
    assert [it.prompt for it in a.items] != [it.prompt for it in c.items]
    for it in a.items:
        shots = it.prompt.split("\n\n")
        assert len(shots) == 3  # two examples + the question
        own = f"What is {it.doc['a']} {it.doc['op']} {it.doc['b']}?\nAnswer: {it.answer}"
        assert own not in shots[:2]
        assert shots[0].endswith(" " + shots[0].rsplit(" ", 1)[-1])
    assert a.generation == {"stop": ["\n"], "max_tokens": 8, "temperature": 0.0}
    assert a.checker["kind"] == "numeric"


def test_csv_dataset_and_templates(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("q,a,b,label\nPick one,yes,no,1\nAnother,up,down,0\n")
    (tmp_path / "t.yaml").write_text(
        "task: csvtask\ndataset_path: csv\ndataset_kwargs:\n  data_files:\n    test: d.csv\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{q}}?'\n"
        "doc_to_choice: '{{[a, b]}}'\ndoc_to_target: '{{label}}'\n"
    )
    t = load_task(tmp_path / "t.yaml")
    assert [(it.prompt, it.choices, it.gold) for it in t.items] == [
        ("Pick one?", ("yes", "no"), 1),
        ("Another?", ("up", "down"), 0),
    ]


def test_native_jsonl_errors_name_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "answer": "b"}\n{"prompt": "a", answer}\n')
    with pytest.raises(TaskError, match=r"bad.jsonl, line 2, column 17: invalid JSON"):
        load_task(bad)
    bad.write_text('{"prompt": "a", "choices": ["x", "y"], "answer": 5}\n')
    with pytest.raises(TaskError, match=r"line 1, column answer"):
        load_task(bad)
    with pytest.raises(TaskError, match="task file not found"):
        load_task(tmp_path / "missing.yaml")


SOLUTIONS = {
    "add": "    return a + b\n",
    "is_even": "    return n % 2 == 0\n",
    "reverse": "    return s[::-1]\n",
    "maximum": "    return max(xs)\n",
    "count_vowels": "    return sum(c in 'aeiou' for c in s)\n",
    "factorial": "    out = 1\n    for i in range(2, n + 1):\n        out *= i\n    return out\n",
}


def test_shipped_code_problems_accept_a_solution_and_reject_a_wrong_one() -> None:
    task = load_task(EXAMPLES / "code.jsonl")
    check = make_checker(task.checker)
    for it in task.items:
        name = it.prompt.split("(")[0].removeprefix("def ")
        assert check(SOLUTIONS[name], it.answer, prefix=it.prompt), name
        assert not check("    return None\n", it.answer, prefix=it.prompt), name
