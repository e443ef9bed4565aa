"""``capcast import lm-eval``: a results JSON into measurements and a ``--log_samples`` file into
items (keyed by lm-eval's own doc_hash), one eval run and per-choice scores.

The samples file is written here the way lm-eval 0.4.13 writes it: the evaluator's sample dict
(``lm_eval/evaluator.py``) passed through ``EvaluationTracker.save_results_samples``'s steps,
using lm-eval's own ``hash_string``, ``sanitize_list`` and ``handle_non_serializable``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lm_eval.utils import handle_non_serializable, hash_string, sanitize_list
from sqlalchemy import text
from typer.testing import CliRunner

from db.importers.lmeval import doc_hash, read_samples
from db.session import make_engine
from service.cli import app
from tests.integration.import_harness import counts

DATE = "2026-01-05T10-11-12.123456"
DOCS = [
    {
        "id": "Mercury_1",
        "question": "Which gas do plants take in?",
        "choices": {"text": ["oxygen", "carbon dioxide", "helium"], "label": ["A", "B", "C"]},
        "answerKey": "B",
    },
    {
        "id": "Mercury_2",
        "question": "What melts ice?",
        "choices": {"text": ["heat", "cold", "salt water"], "label": ["A", "B", "C"]},
        "answerKey": "A",
    },
    {
        "id": "Mercury_3",
        "question": "Größte Zahl? ünïcode",
        "choices": {"text": ["1", "10", "100"], "label": ["A", "B", "C"]},
        "answerKey": "C",
    },
]
# (logprob, is_greedy) per choice; doc 0: correct choice wins, doc 1: wrong choice wins
LOGLIK = [
    [(-4.25, False), (-1.5, True), (-7.0, False)],
    [(-3.0, False), (-2.0, False), (-2.5, False)],
    [(-9.0, False), (-8.5, False), (-0.75, True)],
]


def lm_eval_sample(doc_id: int) -> dict:
    """One line of samples_<task>_<date>.jsonl, built like lm-eval 0.4.13 builds it."""
    doc, scores = DOCS[doc_id], LOGLIK[doc_id]
    context = f"Question: {doc['question']}\nAnswer:"
    args = [(context, f" {c}") for c in doc["choices"]["text"]]
    target = doc["choices"]["label"].index(doc["answerKey"])
    best = max(range(3), key=lambda i: scores[i][0])
    sample = {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": args,
        "resps": [[s] for s in scores],
        "filtered_resps": list(scores),
        "filter": "none",
        "metrics": ["acc", "acc_norm"],
        "doc_hash": hash_string(
            json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False)
        ),
        "prompt_hash": hash_string(context),
        "target_hash": hash_string(str(target)),
        "acc": float(best == target),
        "acc_norm": float(best == target),
    }
    # EvaluationTracker.save_results_samples
    sample["arguments"] = {
        f"gen_args_{i}": {f"arg_{j}": tmp for j, tmp in enumerate(arg)}
        for i, arg in enumerate(args)
    }
    sample["resps"] = sanitize_list(sample["resps"])
    sample["filtered_resps"] = sanitize_list(sample["filtered_resps"])
    sample["target"] = str(sample["target"])
    return sample


def write_run(root: Path, *, samples: list[dict] | None = None) -> Path:
    out = root / "EleutherAI__pythia-70m"
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "results": {
            "arc_easy": {
                "alias": "arc_easy",
                "acc,none": 1 / 3,
                "acc_stderr,none": 0.3333,
                "acc_norm,none": 1 / 3,
                "acc_norm_stderr,none": 0.3333,
            }
        },
        "group_subtasks": {"arc_easy": []},
        "configs": {"arc_easy": {"task": "arc_easy", "output_type": "multiple_choice"}},
        "versions": {"arc_easy": 1.0},
        "n-shot": {"arc_easy": 0},
        "higher_is_better": {"arc_easy": {"acc": True, "acc_norm": True}},
        "n-samples": {"arc_easy": {"original": 3, "effective": 3}},
        "config": {
            "model": "hf",
            "model_args": "pretrained=EleutherAI/pythia-70m,revision=step1000",
            "batch_size": 1,
            "limit": 3,
        },
        "git_hash": None,
        "date": 1767607872.0,
        "lm_eval_version": "0.4.13",
        "model_name": "EleutherAI/pythia-70m",
        "model_name_sanitized": "EleutherAI__pythia-70m",
    }
    (out / f"results_{DATE}.json").write_text(json.dumps(results, indent=2))
    lines = samples if samples is not None else [lm_eval_sample(i) for i in range(3)]
    with (out / f"samples_arc_easy_{DATE}.jsonl").open("w", encoding="utf-8") as fh:
        for s in lines:
            fh.write(json.dumps(s, default=handle_non_serializable, ensure_ascii=False) + "\n")
    return root


def test_item_key_is_lm_eval_doc_hash(tmp_path: Path) -> None:
    root = write_run(tmp_path)
    parsed = read_samples(next(root.rglob("samples_*.jsonl")))
    for s, doc in zip(parsed, DOCS, strict=True):
        expected = hash_string(
            json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False)
        )
        assert s.key == expected == doc_hash(doc)
    assert parsed[0].choices == [" oxygen", " carbon dioxide", " helium"]
    assert parsed[0].logprobs == [-4.25, -1.5, -7.0] and parsed[0].greedy == [False, True, False]
    assert parsed[2].correct == 2


def test_lmeval_import_writes_run_items_and_choice_scores(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    root = write_run(tmp_path)
    res = cli.invoke(app, ["import", "lm-eval", str(root), "--family", "pythia", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["measurements"][0]["measurements_inserted"] == 2
    assert (
        report["samples"][0]["items_inserted"] == 3
        and report["samples"][0]["choice_scores_inserted"] == 9
    )
    engine = make_engine(db_url)
    with engine.connect() as conn:
        run = conn.execute(text("SELECT engine, engine_version, mode, status FROM eval_run")).one()
        cs = conn.execute(
            text(
                "SELECT item, choice_index, logprob_sum, is_greedy, is_correct, n_chars, n_bytes FROM choice_scores ORDER BY item, choice_index"
            )
        ).all()
        ir = dict(
            conn.execute(text("SELECT item, greedy_correct FROM item_results")).tuples().all()
        )
        meas = dict(
            conn.execute(
                text(
                    "SELECT metric, value FROM observations WHERE model = 'EleutherAI/pythia-70m@step1000'"
                )
            )
            .tuples()
            .all()
        )
    engine.dispose()
    assert tuple(run) == ("lm-eval", "0.4.13", "choices", "done")
    by_item = {}
    for row in cs:
        by_item.setdefault(row.item, []).append(row)
    third = by_item[doc_hash(DOCS[2])]
    assert [r.logprob_sum for r in third] == [-9.0, -8.5, -0.75]
    assert [bool(r.is_greedy) for r in third] == [False, False, True]
    assert [bool(r.is_correct) for r in third] == [False, False, True]
    assert [(r.n_chars, r.n_bytes) for r in third] == [(2, 2), (3, 3), (4, 4)]
    unicode_item = by_item[doc_hash(DOCS[0])]
    assert [bool(r.is_correct) for r in unicode_item] == [False, True, False]
    assert {k: bool(v) for k, v in ir.items()} == {
        doc_hash(DOCS[0]): True,
        doc_hash(DOCS[1]): False,
        doc_hash(DOCS[2]): True,
    }
    assert meas["acc"] == pytest.approx(1 / 3)
    before = counts(db_url)
    again = cli.invoke(app, ["import", "lm-eval", str(root), "--family", "pythia", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["samples"][0]["choice_scores_unchanged"] == 9
    assert counts(db_url) == before


@pytest.mark.parametrize(
    ("line", "change", "column", "expected"),
    [
        (
            2,
            lambda s: s["filtered_resps"].__setitem__(1, ["nan", "False"]),
            "filtered_resps[1]",
            "finite log-probability",
        ),
        (
            3,
            lambda s: s["filtered_resps"].__setitem__(0, ["0.5", "False"]),
            "filtered_resps[0]",
            "<= 0",
        ),
        (
            1,
            lambda s: s["filtered_resps"].__setitem__(2, ["-1.0", "maybe"]),
            "filtered_resps[2]",
            "True or False",
        ),
        (2, lambda s: s.__setitem__("target", "7"), "target", "one choice"),
        (3, lambda s: s.pop("doc"), "doc", "this key"),
    ],
)
def test_bad_samples_change_nothing(
    cli: CliRunner, db_url: str, tmp_path: Path, line, change, column, expected
) -> None:
    samples = [lm_eval_sample(i) for i in range(3)]
    change(samples[line - 1])
    root = write_run(tmp_path, samples=samples)
    before = counts(db_url)
    res = cli.invoke(app, ["import", "lm-eval", str(root)])
    assert res.exit_code == 2, res.output
    message = " ".join(res.stderr.split())
    assert f"samples_arc_easy_{DATE}.jsonl, line {line}, column {column}" in message, message
    assert expected in message
    assert counts(db_url) == before


def test_changed_logprob_on_reimport_and_malformed_json(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    root = write_run(tmp_path)
    assert cli.invoke(app, ["import", "lm-eval", str(root)]).exit_code == 0
    before = counts(db_url)
    samples = [lm_eval_sample(i) for i in range(3)]
    samples[1]["filtered_resps"][0] = ["-3.5", "False"]
    write_run(tmp_path, samples=samples)
    res = cli.invoke(app, ["import", "lm-eval", str(root)])
    assert (
        res.exit_code == 2
        and "line 2, column filtered_resps[0]: expected -3.0 as already stored"
        in " ".join(res.stderr.split())
    )
    assert counts(db_url) == before
    path = next(root.rglob("samples_*.jsonl"))
    path.write_text(path.read_text().replace('"doc_id": 2', '"doc_id": 2,,', 1))
    res = cli.invoke(app, ["import", "lm-eval", str(root)])
    assert res.exit_code == 2 and "line 3: expected one JSON object per line" in " ".join(
        res.stderr.split()
    )
    results = next(root.rglob("results_*.json"))
    results.write_text(
        results.read_text().replace('"acc,none": 0.3333333333333333', '"acc,none": "high"')
    )
    res = cli.invoke(app, ["import", "lm-eval", str(results)])
    assert res.exit_code == 2 and "column results.arc_easy.acc,none: expected a number" in " ".join(
        res.stderr.split()
    )
    assert counts(db_url) == before
