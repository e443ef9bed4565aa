"""Small local copies of four real lm-eval tasks' datasets, and lm-eval's reference run on them.

The files are written in each dataset's own format (field names and types as on the hub) under a
data directory laid out as ``capcast eval --data-dir`` expects (``dataset_path/dataset_name/
split.jsonl``). The reference side never goes through capcast: for each task a YAML that
``include:``s the installed package's own task YAML and points its ``dataset_kwargs.data_files``
at the same files, loaded by lm-eval's ``TaskManager(include_path=...)``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml

#: The four tasks: arc_easy (plain), hellaswag (``!function`` process_docs), an MMLU subject
#: (``include:`` of the default template, first_n few-shot from ``dev``), gsm8k (generative,
#: regex filters, exact_match with regexes to ignore).
TASKS = ("arc_easy", "hellaswag", "mmlu_anatomy", "gsm8k")
_WORDS = [
    "red",
    "green",
    "blue",
    "cat",
    "dog",
    "bird",
    "fish",
    "tree",
    "water",
    "fire",
    "sun",
    "moon",
    "star",
]


def _arc(rng: random.Random, i: int) -> dict[str, Any]:
    labels = ["1", "2", "3", "4"] if i % 3 == 2 else ["A", "B", "C", "D"]
    return {
        "id": f"Mercury_{1000 + i}",
        "question": f"Which {rng.choice(_WORDS)} is the {rng.choice(_WORDS)} of item {i}?",
        "choices": {"text": rng.sample(_WORDS, 4), "label": labels},
        "answerKey": labels[rng.randrange(4)],
    }


def _hellaswag(rng: random.Random, i: int, split: str) -> dict[str, Any]:
    a, b = rng.sample(_WORDS, 2)
    endings = [
        f"the {w} [title] goes {rng.choice(_WORDS)} [step] again." for w in rng.sample(_WORDS, 4)
    ]
    return {
        "ind": i,
        "activity_label": f"Walking the {a}",
        "ctx_a": f"A {a} walks past the {b}.",
        "ctx_b": f"then the {b}",
        "ctx": f"A {a} walks past the {b}. then the {b}",
        "endings": endings,
        "source_id": f"activitynet~v_{i}",
        "split": split,
        "split_type": "indomain",
        "label": str(rng.randrange(4)),
    }


def _mmlu(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "question": f"  Which {rng.choice(_WORDS)} bone joins the {rng.choice(_WORDS)} ({i})?  ",
        "subject": "anatomy",
        "choices": [f"the {w}" for w in rng.sample(_WORDS, 4)],
        "answer": rng.randrange(4),
    }


def _gsm8k(rng: random.Random, i: int, total: int | None = None) -> dict[str, Any]:
    a = rng.randint(2, 40) if total is None else rng.randint(1, total - 1)
    b = rng.randint(2, 40) if total is None else total - a
    return {
        "question": f"Ann has {a} {rng.choice(_WORDS)}s and gets {b} more. How many now?",
        "answer": f"She has {a} + {b} = <<{a}+{b}={a + b}>>{a + b}.\n#### {a + b:,}",
    }


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def write_data(root: Path, n_docs: int = 6, seed: int = 0) -> dict[str, dict[str, str]]:
    """Write every task's splits under ``root``; returns task -> split -> file.

    The gsm8k test questions all add up to 6: the tiny random model's greedy text often holds a
    lone "6", so lm-eval's flexible-extract filter scores some items 1 (not only zeros).
    """
    rng = random.Random(seed)
    arc = root / "allenai" / "ai2_arc" / "ARC-Easy"
    hs = root / "Rowan" / "hellaswag"
    mmlu = root / "cais" / "mmlu" / "anatomy"
    gsm = root / "openai" / "gsm8k" / "main"
    other = random.Random(seed + 1)  # the ai2_arc tag's second task (arc_easy + arc_challenge)
    for s in ("train", "validation", "test"):
        _write(root / "allenai" / "ai2_arc" / "ARC-Challenge" / f"{s}.jsonl", [_arc(other, 9)])
    return {
        "arc_easy": {
            s: _write(arc / f"{s}.jsonl", [_arc(rng, i) for i in range(n)])
            for s, n in (("train", 6), ("validation", 2), ("test", n_docs))
        },
        "hellaswag": {
            s: _write(hs / f"{s}.jsonl", [_hellaswag(rng, i, s) for i in range(n)])
            for s, n in (("train", 6), ("validation", n_docs))
        },
        "mmlu_anatomy": {
            s: _write(mmlu / f"{s}.jsonl", [_mmlu(rng, i) for i in range(n)])
            for s, n in (("dev", 5), ("test", n_docs))
        },
        "gsm8k": {
            "train": _write(gsm / "train.jsonl", [_gsm8k(rng, i) for i in range(8)]),
            "test": _write(gsm / "test.jsonl", [_gsm8k(rng, i, 6) for i in range(n_docs)]),
        },
    }


def reference_yamls(out: Path, files: dict[str, dict[str, str]]) -> Path:
    """One YAML per task: the installed task YAML, its data read from ``files`` (lm-eval's way)."""
    import lm_eval

    shipped = Path(lm_eval.__file__).parent / "tasks"
    source = {
        "arc_easy": shipped / "arc" / "arc_easy.yaml",
        "hellaswag": shipped / "hellaswag" / "hellaswag.yaml",
        "mmlu_anatomy": shipped / "mmlu" / "default" / "mmlu_anatomy.yaml",
        "gsm8k": shipped / "gsm8k" / "gsm8k.yaml",
    }
    out.mkdir(parents=True, exist_ok=True)
    for task, splits in files.items():
        cfg = {
            "include": str(source[task]),
            "task": task,
            "dataset_path": "json",
            "dataset_name": None,
            "dataset_kwargs": {"data_files": {s: [f] for s, f in splits.items()}},
        }
        (out / f"ref_{task}.yaml").write_text(yaml.safe_dump(cfg))
    return out


def by_task_and_hash(samples: dict[str, list[dict[str, Any]]]) -> dict[str, dict[tuple, dict]]:
    """lm-eval's logged samples per task, keyed (doc_hash, filter)."""
    return {task: {(s["doc_hash"], s["filter"]): s for s in rows} for task, rows in samples.items()}
