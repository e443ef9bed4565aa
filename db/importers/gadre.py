"""Gadre et al. (2024) over-training testbed: 104 models, 8 validation losses, 46 task accuracies.

Read from the verbatim per-model JSON files (``models/*.json`` for losses and sizes,
``evals/evaluation_<name>_heavy.json`` for task accuracies), so the same code works on files
downloaded from the source repository. ``models_flat.csv`` (derived) is only used by tests to
check this reading. Naming (INTERFACES.md): model = json stem, family = ``gadre-<dataset>``,
n_params includes embeddings (as the paper), flops = 6·N·D, losses are benchmark=<valset>
metric=``loss`` (nats/token), tasks metric=``acc``, and ``avg17``/``avg46`` metric=``err``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observations import validate_observations

SOURCE = "gadre-overtraining"
#: The paper's 17-task subset behind its "average top-1 error" (PROVENANCE.md).
AVG17_TASKS: tuple[str, ...] = (
    "bigbench_operators",
    "pubmed_qa_labeled",
    "hellaswag_zeroshot",
    "boolq",
    "arc_easy",
    "coqa",
    "bigbench_dyck_languages",
    "lambada_openai",
    "bigbench_novel_concepts",
    "winograd",
    "bigbench_cs_algorithms",
    "commonsense_qa",
    "bigbench_qa_wikidata",
    "hellaswag",
    "copa",
    "squad",
    "piqa",
)
N_TASKS = 46


def valset_name(val_data: list[str] | str) -> str:
    """``training/eval_data/val_tok_mult/paloma_ptb/00000001.tar`` -> ``paloma_ptb``."""
    path = val_data[0] if isinstance(val_data, list) else val_data
    parts = path.split("eval_data/", 1)[-1].split("/")
    if parts[0] == "val_tok_mult":
        parts = parts[1:]
    stem = parts[-1].split(".")[0]
    return stem if stem.startswith("val_") else parts[0]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8-sig") as fh:
            obj = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ImportValidationError(str(path), exc.lineno, None, "valid JSON", exc.msg) from None
    if not isinstance(obj, dict):
        raise ImportValidationError(str(path), 1, None, "a JSON object", type(obj).__name__)
    return obj


def _get(obj: dict[str, Any], path: Path, *keys: str) -> Any:
    cur: Any = obj
    for i, key in enumerate(keys):
        if not isinstance(cur, dict) or key not in cur:
            raise ImportValidationError(
                str(path), None, ".".join(keys[: i + 1]), "this key to be present", "missing"
            )
        cur = cur[key]
    return cur


def known_tasks(directory: str | Path) -> dict[str, dict[str, Any]]:
    """Tasks listed in ``eval_metadata.csv`` with their kind, chance level and size."""
    path = Path(directory) / "eval_metadata.csv"
    if not path.is_file():
        raise ImportValidationError(
            str(path), None, None, "the task list eval_metadata.csv", "no such file"
        )
    tasks: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            kind = "multiple_choice" if "multiple choice" in row["Task Type"] else "generative"
            baseline = row.get("Random baseline") or ""
            tasks[row["Eval Task"]] = {
                "kind": kind,
                "chance": float(baseline) / 100 if baseline.strip() else None,
                "n_items": int(row["#datapoints"]) if row["#datapoints"].strip() else None,
                "extra": {"category": row["Task Category"], "shots": row["#shots"]},
            }
    return tasks


def gadre_benchmarks(directory: str | Path) -> dict[str, dict[str, Any]]:
    """Benchmark attributes for the loader: tasks from eval_metadata.csv, losses, the averages."""
    attrs = known_tasks(directory)
    attrs["avg17"] = {"kind": "aggregate", "higher_is_better": False}
    attrs["avg46"] = {"kind": "aggregate", "higher_is_better": False}
    return attrs


def _model_rows(path: Path) -> tuple[dict[str, Any], list[tuple[str, str, float]]]:
    obj = _load_json(path)
    hp = _get(obj, path, "hyperparameters")
    n, d = (
        _get(obj, path, "hyperparameters", "params"),
        _get(obj, path, "hyperparameters", "tokens"),
    )
    dataset = _get(obj, path, "dataset_name")
    model = {
        "model": path.stem,
        "family": f"gadre-{dataset}",
        "n_params": n,
        "n_params_nonembed": hp.get("params_no_embed"),
        "n_tokens": d,
        "flops": 6.0 * float(n) * float(d) if _is_num(n) and _is_num(d) else None,
    }
    results = _get(obj, path, "results")
    if not isinstance(results, list):
        raise ImportValidationError(
            str(path), None, "results", "a list of loss records", type(results).__name__
        )
    rows = [
        (valset_name(_get(r, path, "val_data")), "loss", _get(r, path, "loss")) for r in results
    ]
    return model, rows


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _task_rows(path: Path, tasks: dict[str, Any]) -> list[tuple[str, str, float]]:
    obj = _load_json(path)
    icl = _get(obj, path, "eval_metrics", "icl")
    if not isinstance(icl, dict):
        raise ImportValidationError(
            str(path), None, "eval_metrics.icl", "an object of task accuracies", type(icl).__name__
        )
    rows = []
    for task, acc in icl.items():
        if task not in tasks:
            raise ImportValidationError(
                str(path),
                None,
                f"eval_metrics.icl.{task}",
                "a task listed in eval_metadata.csv",
                task,
                detail="unknown benchmark name",
            )
        rows.append((task, "acc", acc))
    if len(rows) == N_TASKS:
        accs = {t: a for t, _, a in rows}
        if all(_is_num(a) for a in accs.values()):
            rows.append(("avg46", "err", float(np.mean([1 - a for a in accs.values()]))))
            if all(t in accs for t in AVG17_TASKS):
                rows.append(("avg17", "err", float(np.mean([1 - accs[t] for t in AVG17_TASKS]))))
    return rows


def gadre_observations(directory: str | Path) -> pd.DataFrame:
    """All 104 models' losses, task accuracies and average errors as validated observations."""
    directory = Path(directory)
    model_files = sorted((directory / "models").glob("*.json"))
    if not model_files:
        raise ImportValidationError(
            str(directory / "models"), None, None, "model JSON files", "none"
        )
    tasks = known_tasks(directory)
    frames = []
    for path in model_files:
        model, rows = _model_rows(path)
        eval_path = directory / "evals" / f"evaluation_{path.stem}_heavy.json"
        if not eval_path.is_file():
            raise ImportValidationError(
                str(eval_path), None, None, f"the evaluation file of {path.stem}", "no such file"
            )
        rows += _task_rows(eval_path, tasks)
        frame = pd.DataFrame(rows, columns=["benchmark", "metric", "value"], dtype=object)
        for key, val in model.items():
            frame[key] = val
        frame["source"] = SOURCE
        frame["_file"] = str(eval_path)
        frame.loc[frame["metric"] == "loss", "_file"] = str(path)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df.index = pd.Index(np.zeros(len(df), dtype=np.int64), name="line")  # JSON: no line numbers
    return validate_observations(df, str(directory))
