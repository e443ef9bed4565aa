"""lm-eval task plumbing without a model: local data layout, generation settings, aggregation,
and the job payload fields that name an lm-eval task."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from evals.lm_eval_tasks import Harness, jsonable, local_dataset, split_files
from evals.run_lm_eval import DEFAULT_MAX_GEN_TOKS, _gen_request
from evals.tasks import TaskError, TaskItem
from service.jobs.schemas import check_payload


def _touch(p: Path) -> str:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('{"a": 1}\n')
    return str(p)


def test_split_files_names_splits_as_the_hub_does(tmp_path: Path) -> None:
    dev = _touch(tmp_path / "dev.jsonl")
    t0 = _touch(tmp_path / "test-00000-of-00002.jsonl")
    t1 = _touch(tmp_path / "test-00001-of-00002.jsonl")
    _touch(tmp_path / "README.md")  # not a data file
    assert split_files(tmp_path) == ("json", {"dev": [dev], "test": [t0, t1]})
    _touch(tmp_path / "train.csv")
    with pytest.raises(TaskError, match="several formats"):
        split_files(tmp_path)


def test_local_dataset_prefers_the_config_folder_then_the_repository(tmp_path: Path) -> None:
    cfg = {"dataset_path": "org/ds", "dataset_name": "sub", "dataset_kwargs": {"keep": True}}
    assert local_dataset(cfg, tmp_path) == cfg  # nothing local: the HF cache, unchanged
    (tmp_path / "org" / "ds").mkdir(parents=True)
    snapshot = local_dataset(cfg, tmp_path)  # a folder without split files: a hub snapshot
    assert snapshot["dataset_path"] == str(tmp_path / "org" / "ds")
    assert snapshot["dataset_name"] == "sub"
    f = _touch(tmp_path / "org" / "ds" / "sub" / "validation.parquet")
    got = local_dataset(cfg, tmp_path)
    assert got["dataset_path"] == "parquet" and got["dataset_name"] is None
    assert got["dataset_kwargs"] == {"keep": True, "data_files": {"validation": [f]}}
    with pytest.raises(TaskError, match="leaves the data directory"):
        local_dataset({"dataset_path": "../../etc"}, tmp_path)


def test_generation_settings_follow_lm_eval() -> None:
    item = TaskItem("k", "Q:", {})
    cfg = {"seed": 0, "max_tokens": None}
    greedy = _gen_request(item, ("Q:", {"until": "Question:", "do_sample": False}), "</s>", cfg, 1)
    assert greedy.stop == ("Question:", "</s>") and greedy.temperature == 0.0
    assert greedy.max_tokens == DEFAULT_MAX_GEN_TOKS == 256
    # do_sample=False wins over a temperature, as lm-eval's normalize_gen_kwargs decides
    forced = _gen_request(item, ("Q:", {"temperature": 0.7, "do_sample": False}), None, cfg, 1)
    assert forced.temperature == 0.0
    sampled = _gen_request(item, ("Q:", {"temperature": 0.7, "max_new_tokens": 9}), None, cfg, 4)
    assert (sampled.temperature, sampled.max_tokens, sampled.n) == (0.7, 9, 4)
    capped = _gen_request(item, ("Q:", {"max_gen_toks": 9}), None, cfg | {"max_tokens": 3}, 1)
    assert capped.max_tokens == 3


def test_aggregate_uses_the_tasks_functions_and_closed_form_stderr() -> None:
    from lm_eval.api.metrics import f1_score, mean

    task = SimpleNamespace(aggregation=lambda: {"acc": mean, "f1": f1_score})
    h = Harness(task=task, output_type="multiple_choice", instances={})
    per_item = [
        {"acc,none": 1.0, "f1,none": [1, 1]},
        {"acc,none": 0.0, "f1,none": [0, 1]},
        {"acc,none": 1.0, "f1,none": [1, 1]},
        {"acc,none": 1.0, "f1,none": [0, 0]},
    ]
    got = h.aggregate(per_item)
    assert got["acc,none"] == 0.75
    # sample std of (1, 0, 1, 1) is 0.5, over sqrt(4): lm-eval's mean_stderr
    assert math.isclose(got["acc_stderr,none"], 0.25, rel_tol=1e-12)
    # f1 of golds (1, 0, 1, 0) vs predictions (1, 1, 1, 0): precision 2/3, recall 1 -> 0.8
    assert math.isclose(got["f1,none"], 0.8, rel_tol=1e-12)
    assert got["f1_stderr,none"] == "N/A"  # bootstrap-only: not resampled here
    assert jsonable((1, [2.5, (3,)])) == [1, [2.5, [3]]]


def test_job_payloads_may_name_an_lm_eval_task() -> None:
    base = {"model_path": "m", "mode": "choices"}
    check_payload("evaluation", base | {"task": "mmlu_anatomy", "num_fewshot": 5})
    check_payload("evaluation", base | {"task_path": "t.jsonl"})
    refusals = [
        (base, "payload.task_path"),
        (base | {"task": "x", "include_path": "/tmp"}, "include_path is not accepted"),
        (base | {"task": "x; rm -rf /"}, "lm-eval task name"),
        (base | {"task": "x", "task_path": "t.jsonl"}, "give one"),
        (base | {"task": "x", "num_fewshot": -1}, "num_fewshot"),
        (base | {"task_path": "t.jsonl", "data_dir": "d"}, "goes with payload.task"),
    ]
    for payload, message in refusals:
        with pytest.raises(ValueError, match=message):
            check_payload("evaluation", payload)
