"""Evaluation tasks of the ladder, written in the evaluator's native JSONL task format.

- ``ladder_nextline``: held-out stdlib files; given the preceding lines, generate the next one.
  Pass = exact match after stripping surrounding whitespace (indentation and trailing blanks);
  random guessing scores zero and difficulty ranges from ``else:`` to whole expressions.
- ``ladder_add`` / ``ladder_mul`` / ``ladder_rev``: the synthetic skills mixed into training,
  graded by digits/carries and by length, as few-shot generation; each also as a four-way
  multiple-choice variant (``*_mc``) with plausible distractors, scored by per-choice log-probs.
Item documents carry their grade (``meta``) so per-grade pass rates can be read back.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evals.ladder.corpus import CorpusSplit
from evals.ladder.synthetic import GRADES, KINDS, MAKERS, distractors, few_shot_prompt

NEXTLINE = "ladder_nextline"
MAX_TOKENS = {"add": 8, "mul": 10, "rev": 14, "nextline": 40}


def nextline_candidates(
    text: str, *, min_context: int = 8, max_prompt_chars: int = 480
) -> Iterator[tuple[str, str, int]]:
    """(prompt, answer line, line number) where the next line is a reasonable target."""
    lines = text.splitlines(keepends=True)
    for i in range(min_context, len(lines)):
        target = lines[i].rstrip("\n")
        body = target.strip()
        if not (3 <= len(body) <= 60) or body.startswith("#"):
            continue
        prompt_lines: list[str] = []
        size = 0
        for line in reversed(lines[:i]):
            if size + len(line) > max_prompt_chars:
                break
            prompt_lines.append(line)
            size += len(line)
        if len(prompt_lines) < min_context // 2:
            continue
        yield "".join(reversed(prompt_lines)), target, i + 1


def nextline_items(
    split: CorpusSplit, n_items: int, seed: int, fits: Callable[[str], bool] | None = None
) -> list[dict[str, Any]]:
    """Sample ``n_items`` next-line items from held-out files, at most a few per file.

    ``fits(prompt)`` drops items whose prompt would not fit the model's context.
    """
    rng = random.Random(seed)
    per_file = max(1, n_items // max(1, len(split.heldout)) + 1)
    pool: list[dict[str, Any]] = []
    for rel in split.heldout:
        cands = list(nextline_candidates(split.read(rel)))
        for prompt, answer, lineno in rng.sample(cands, min(per_file, len(cands))):
            pool.append({"prompt": prompt, "answer": answer, "meta": {"file": rel, "line": lineno}})
    rng.shuffle(pool)
    if fits is not None:
        pool = [d for d in pool if fits(d["prompt"])]
    return sorted(pool[:n_items], key=lambda d: (d["meta"]["file"], d["meta"]["line"]))


def synthetic_items(kind: str, per_grade: int, seed: int) -> list[dict[str, Any]]:
    """Generative and multiple-choice docs for one synthetic kind (same problems in both)."""
    rng = random.Random(f"{seed}:{kind}")
    out = []
    for grade in GRADES[kind]:
        for _ in range(per_grade):
            p = MAKERS[kind](rng, grade)
            prompt = few_shot_prompt(rng, p)
            wrong = distractors(rng, p, 3)
            choices = [p.answer, *wrong]
            rng.shuffle(choices)
            out.append(
                {
                    "prompt": prompt,
                    "answer": p.answer,
                    "choices": choices,
                    "meta": {"kind": kind, **p.meta},
                }
            )
    return out


def _write(path: Path, header: dict[str, Any], docs: list[dict[str, Any]]) -> Path:
    """Write atomically, and not at all when unchanged (evaluations may be reading it)."""
    lines = [json.dumps({"_task": header})] + [json.dumps(d, ensure_ascii=False) for d in docs]
    text = "\n".join(lines) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_tasks(
    split: CorpusSplit,
    out_dir: Path,
    *,
    nextline_items_n: int,
    per_grade: int,
    seed: int,
    fits: Callable[[str], bool] | None = None,
) -> dict[str, Path]:
    """Write every ladder task file into ``out_dir``; returns benchmark name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exact = {"kind": "exact"}
    paths = {
        NEXTLINE: _write(
            out_dir / f"{NEXTLINE}.jsonl",
            {
                "name": NEXTLINE,
                "checker": exact,
                "stop": ["\n"],
                "max_tokens": MAX_TOKENS["nextline"],
            },
            nextline_items(split, nextline_items_n, seed, fits),
        )
    }
    for kind in KINDS:
        docs = synthetic_items(kind, per_grade, seed)
        gen_docs = [{k: v for k, v in d.items() if k != "choices"} for d in docs]
        name = f"ladder_{kind}"
        paths[name] = _write(
            out_dir / f"{name}.jsonl",
            {"name": name, "checker": exact, "stop": ["\n"], "max_tokens": MAX_TOKENS[kind]},
            gen_docs,
        )
        mc_docs = [{**d, "answer": d["choices"].index(d["answer"])} for d in docs]
        paths[f"{name}_mc"] = _write(
            out_dir / f"{name}_mc.jsonl",
            {"name": f"{name}_mc", "target_delimiter": ""},
            mc_docs,
        )
    return paths
