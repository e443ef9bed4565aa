"""Task specifications: lm-evaluation-harness task YAML for local data, or a native JSONL file.

lm-eval YAML (the subset that describes a local task): ``task``, ``dataset_path`` (json | csv |
parquet, or a file path), ``dataset_kwargs.data_files``, ``test_split`` / ``validation_split``,
``fewshot_split``, ``doc_to_text`` / ``doc_to_target`` / ``doc_to_choice`` (a field name or a
Jinja2 template, rendered with lm-eval's Jinja environment), ``target_delimiter`` (" "),
``fewshot_delimiter`` ("\\n\\n"), ``num_fewshot``, ``fewshot_config.sampler``, ``description``,
``output_type`` (multiple_choice | generate_until), ``generation_kwargs`` (until, max_gen_toks,
temperature, top_p). capcast reads its answer checker from ``metadata.checker`` (lm-eval keeps
``metadata`` as free-form), e.g. ``{kind: numeric, abs_tol: 1e-6}``. Relative data file paths are
resolved against the YAML's folder (lm-eval resolves them against the working directory).

Native JSONL: one item per line, ``{"prompt": ..., "choices": [...], "answer": 0}`` for multiple
choice or ``{"prompt": ..., "answer": "42", "checker": {...}}`` for generation; a first line
``{"_task": {...}}`` may set task-wide ``name``, ``checker``, ``stop``, ``max_tokens``.

Item keys are lm-eval's ``doc_hash``: sha256 of ``json.dumps(doc, indent=2, ensure_ascii=False)``
with non-JSON values stringified, so results join with lm-eval's sample logs.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import BaseLoader, Environment, StrictUndefined

MULTIPLE_CHOICE = "multiple_choice"
GENERATE = "generate_until"
_SPLIT_KEYS = ("test_split", "validation_split", "train_split")


def _regex_replace(string: str, pattern: str, repl: str, count: int = 0) -> str:
    import re

    return re.sub(pattern, repl, string, count=count)


_ENV = Environment(loader=BaseLoader(), undefined=StrictUndefined, keep_trailing_newline=True)
_ENV.filters["regex_replace"] = _regex_replace


class TaskError(ValueError):
    """A task file that cannot be read, with where and what."""


def _jsonable(o: Any) -> Any:
    """lm-eval's ``handle_non_serializable``: numpy scalars to Python, sets to lists, else str."""
    if hasattr(o, "item") and hasattr(o, "dtype"):
        return o.item()
    if isinstance(o, set):
        return list(o)
    return str(o)


def doc_hash(doc: dict[str, Any]) -> str:
    """lm-eval 0.4.13's doc_hash of a document (``evaluator.py``, ``log_samples``)."""
    text = json.dumps(doc, indent=2, default=_jsonable, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TaskItem:
    """One evaluation item: the rendered prompt, choices/gold for MC, answer for generation."""

    key: str
    prompt: str
    doc: dict[str, Any]
    choices: tuple[str, ...] = ()
    gold: int | None = None
    answer: str | None = None
    checker: dict[str, Any] | None = None


@dataclass(frozen=True)
class Task:
    name: str
    output_type: str
    items: tuple[TaskItem, ...]
    target_delimiter: str = " "
    generation: dict[str, Any] = field(default_factory=dict)
    checker: dict[str, Any] = field(default_factory=lambda: {"kind": "exact"})
    source: str = ""
    version: str | None = None
    #: lm-eval's task object and requests when the task came from lm-eval's TaskManager
    #: (:class:`evals.lm_eval_tasks.Harness`): its filters and metrics score the items.
    harness: Any = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """The benchmark kind stored in the database."""
        if self.output_type == MULTIPLE_CHOICE:
            return "multiple_choice"
        return "code" if self.checker.get("kind") == "code" else "generative"

    def continuation(self, choice: str) -> str:
        return f"{self.target_delimiter}{choice}"


# -- lm-eval YAML ---------------------------------------------------------------------------------
def _render(spec: Any, doc: dict[str, Any], choices_spec: bool = False) -> Any:
    if isinstance(spec, int | list):
        return spec
    if not isinstance(spec, str):
        raise TaskError(
            f"unsupported template {spec!r} (callables and !function are not supported)"
        )
    if spec in doc:
        return doc[spec]
    return _ENV.from_string(spec).render(**doc)


def _text(cfg: dict, doc: dict) -> str:
    return str(_render(cfg.get("doc_to_text", ""), doc))


def _choices(cfg: dict, doc: dict) -> list[str]:
    spec = cfg.get("doc_to_choice")
    if isinstance(spec, dict):
        return [str(v) for v in spec.values()]
    value = _render(spec, doc)
    if isinstance(value, str):
        value = ast.literal_eval(value)
    return [str(v) for v in value]


def _target(cfg: dict, doc: dict, has_choices: bool) -> Any:
    """lm-eval's doc_to_target: a digit string is an index when the task has choices."""
    spec = cfg.get("doc_to_target")
    value = _render(spec, doc)
    if isinstance(value, str):
        if value.isdigit() and has_choices:
            return ast.literal_eval(value)
        if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
            try:
                return ast.literal_eval(value)
            except (SyntaxError, ValueError):
                return value
    return value


def _load_docs(cfg: dict, base: Path, split: str) -> list[dict[str, Any]]:
    """Load a split with HF ``datasets`` (as lm-eval does, so docs and doc hashes are identical)."""
    import datasets

    kwargs = dict(cfg.get("dataset_kwargs") or {})
    files = kwargs.pop("data_files", None)
    path = cfg.get("dataset_path", "json")
    if files is None:
        raise TaskError(f"{base}: dataset_kwargs.data_files is required for local data")

    def resolve(f: str) -> str:
        p = Path(f)
        return str(p if p.is_absolute() else base / p)

    if isinstance(files, dict):
        files = {
            k: [resolve(x) for x in ([v] if isinstance(v, str) else v)] for k, v in files.items()
        }
    else:
        files = {"train": [resolve(x) for x in ([files] if isinstance(files, str) else files)]}
    for paths in files.values():
        for p in paths:
            if not Path(p).exists():
                raise TaskError(f"{base}: data file not found: {p}")
    builder = {"jsonl": "json"}.get(path, path)
    ds = datasets.load_dataset(builder, data_files=files, **kwargs)
    if split not in ds:
        raise TaskError(f"{base}: split {split!r} not in data_files (have {sorted(ds)})")
    return [dict(d) for d in ds[split]]


def _fewshot_pool(cfg: dict, base: Path, eval_split: str, docs: list[dict]) -> list[dict]:
    split = cfg.get("fewshot_split") or cfg.get("training_split") or cfg.get("validation_split")
    if split and split != eval_split:
        return _load_docs(cfg, base, split)
    return docs


def _target_text(cfg: dict, doc: dict, mc: bool) -> str:
    t = _target(cfg, doc, mc)
    if mc and isinstance(t, int):
        return _choices(cfg, doc)[t]
    if isinstance(t, list):
        t = t[0]
    return str(t)


def load_lm_eval_yaml(path: Path, *, fewshot_seed: int = 1234) -> Task:
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise TaskError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(cfg, dict):
        raise TaskError(f"{path}: expected a mapping at the top level")
    if "include" in cfg:
        raise TaskError(f"{path}: 'include:' is not supported; write the task in one file")
    output_type = cfg.get("output_type", GENERATE)
    if output_type not in (MULTIPLE_CHOICE, GENERATE):
        raise TaskError(f"{path}: output_type must be multiple_choice or generate_until")
    mc = output_type == MULTIPLE_CHOICE
    split = next((cfg[k] for k in _SPLIT_KEYS if cfg.get(k)), "train")
    base = path.parent
    docs = _load_docs(cfg, base, split)
    n_shot = int(cfg.get("num_fewshot") or 0)
    pool = _fewshot_pool(cfg, base, split, docs) if n_shot else []
    tdelim = cfg.get("target_delimiter", " ")
    fdelim = cfg.get("fewshot_delimiter", "\n\n")
    description = cfg.get("description", "") or ""
    meta = cfg.get("metadata") or {}
    checker = dict(meta.get("checker") or {"kind": "exact"})
    items = []
    for i, doc in enumerate(docs):
        key = doc_hash(doc)
        try:
            text = _text(cfg, doc)
            shots = _sample_shots(pool, doc, n_shot, fewshot_seed, key)
            prefix = "".join(
                _text(cfg, s) + tdelim + _target_text(cfg, s, mc) + fdelim for s in shots
            )
            prompt = description + prefix + text
            if mc:
                choices = _choices(cfg, doc)
                gold = _target(cfg, doc, True)
                if isinstance(gold, str):
                    gold = choices.index(gold)
                items.append(TaskItem(key, prompt, doc, tuple(choices), int(gold)))
            else:
                answer = _target_text(cfg, doc, False)
                items.append(TaskItem(key, prompt, doc, answer=answer, checker=checker))
        except Exception as e:  # name the document that failed
            raise TaskError(f"{path}: document {i} ({split} split): {e}") from e
    gen = dict(cfg.get("generation_kwargs") or {})
    return Task(
        name=str(cfg.get("task") or path.stem),
        output_type=output_type,
        items=tuple(items),
        target_delimiter=tdelim,
        generation=_generation(gen),
        checker=checker,
        source=str(path),
        version=str(meta.get("version")) if meta.get("version") is not None else None,
    )


def _sample_shots(pool: list[dict], doc: dict, k: int, seed: int, key: str) -> list[dict]:
    """Seeded few-shot sample, excluding the document itself; stable per (seed, item key)."""
    if k <= 0:
        return []
    candidates = [d for d in pool if d != doc]
    if len(candidates) < k:
        raise TaskError(f"num_fewshot={k} but only {len(candidates)} few-shot documents")
    rng = random.Random(f"{seed}:{key}")
    return rng.sample(candidates, k)


def _generation(gen: dict[str, Any]) -> dict[str, Any]:
    until = gen.get("until", [])
    if isinstance(until, str):
        until = [until]
    out = {
        "stop": list(until),
        "max_tokens": int(gen.get("max_gen_toks", gen.get("max_tokens", 256))),
    }
    for k in ("temperature", "top_p"):
        if k in gen:
            out[k] = float(gen[k])
    return out


# -- native JSONL ---------------------------------------------------------------------------------
def load_native_jsonl(path: Path) -> Task:
    header: dict[str, Any] = {}
    items: list[TaskItem] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskError(
                    f"{path}, line {lineno}, column {e.colno}: invalid JSON: {e.msg}"
                ) from e
            if not isinstance(doc, dict):
                raise TaskError(f"{path}, line {lineno}: expected a JSON object")
            if "_task" in doc:
                header = dict(doc["_task"])
                continue
            items.append(_native_item(path, lineno, doc, header))
    if not items:
        raise TaskError(f"{path}: no items")
    mc = bool(items[0].choices)
    if any(bool(it.choices) != mc for it in items):
        raise TaskError(f"{path}: mixes multiple-choice and generative items")
    gen = {"stop": list(header.get("stop", [])), "max_tokens": int(header.get("max_tokens", 256))}
    return Task(
        name=str(header.get("name") or path.stem),
        output_type=MULTIPLE_CHOICE if mc else GENERATE,
        items=tuple(items),
        target_delimiter=str(header.get("target_delimiter", " ")),
        generation=gen,
        checker=dict(header.get("checker") or {"kind": "exact"}),
        source=str(path),
        version=str(header["version"]) if "version" in header else None,
    )


def _native_item(path: Path, lineno: int, doc: dict, header: dict) -> TaskItem:
    where = f"{path}, line {lineno}"
    if not isinstance(doc.get("prompt"), str):
        raise TaskError(f"{where}, column prompt: expected a string")
    if "answer" not in doc:
        raise TaskError(f"{where}, column answer: missing")
    key = doc_hash(doc)
    checker = doc.get("checker") or header.get("checker") or {"kind": "exact"}
    if doc.get("choices") is not None:
        choices = doc["choices"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise TaskError(f"{where}, column choices: expected a list of at least 2 strings")
        ans = doc["answer"]
        gold = ans if isinstance(ans, int) else choices.index(ans) if ans in choices else None
        if gold is None or not 0 <= gold < len(choices):
            raise TaskError(
                f"{where}, column answer: expected a choice index or one of the choices"
            )
        return TaskItem(key, doc["prompt"], doc, tuple(str(c) for c in choices), gold)
    return TaskItem(key, doc["prompt"], doc, answer=str(doc["answer"]), checker=dict(checker))


def load_task(path: str | Path, *, fewshot_seed: int = 1234) -> Task:
    """Read a task file (``.yaml``/``.yml`` lm-eval style, or ``.jsonl`` native)."""
    p = Path(path)
    if not p.exists():
        raise TaskError(f"task file not found: {p}")
    if p.suffix in (".yaml", ".yml"):
        return load_lm_eval_yaml(p, fewshot_seed=fewshot_seed)
    if p.suffix == ".jsonl":
        return load_native_jsonl(p)
    raise TaskError(f"{p}: unknown task format (expected .yaml, .yml or .jsonl)")
