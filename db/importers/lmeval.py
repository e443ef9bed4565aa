"""lm-evaluation-harness (0.4.x) output: ``results_<date>.json`` into observations and
``samples_<task>_<date>.jsonl`` (``--log_samples``) into per-item, per-choice records. Pure parsing
here; :mod:`db.importers.lmeval_db` writes the per-item records.

The item key is lm-eval's own ``doc_hash``: sha256 of ``json.dumps(doc, indent=2,
ensure_ascii=False, default=handle_non_serializable)`` (``lm_eval/evaluator.py``), recomputed
from the logged ``doc`` when a line lacks it, so items from capcast's evaluator and from lm-eval
runs meet. A loglikelihood request logs ``resps = [[logprob, is_greedy]]`` and
``filtered_resps = [logprob, is_greedy]``, both as strings (``sanitize_list``); each request's
continuation (``arguments.gen_args_<i>.arg_1``) is one choice.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observations import validate_observations

SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")
RESULTS_RE = re.compile(r"^results_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.json$")
METRIC_NAMES = {"bits_per_byte": "bpb"}


def _non_serializable(o: Any) -> Any:
    """lm_eval.utils.handle_non_serializable (numpy scalars, sets, else str)."""
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, set):
        return list(o)
    return str(o)


def doc_hash(doc: Any) -> str:
    """lm-eval's doc_hash of a document (the item key)."""
    text = json.dumps(doc, indent=2, default=_non_serializable, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- results JSON


def _load_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ImportValidationError(str(path), exc.lineno, None, "valid JSON", exc.msg) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
        raise ImportValidationError(
            str(path), None, "results", "an lm-eval results object with a 'results' map", "missing"
        )
    return obj


def model_identity(results: dict[str, Any]) -> tuple[str | None, str | None]:
    """(model name, revision) from ``config.model_args`` (``pretrained=...,revision=...``)."""
    config = results.get("config") or {}
    args = config.get("model_args") or ""
    parsed: dict[str, str] = {}
    if isinstance(args, str):
        for part in args.split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                parsed[k.strip()] = v.strip()
    elif isinstance(args, dict):
        parsed = {str(k): str(v) for k, v in args.items()}
    name = parsed.get("pretrained") or parsed.get("model") or results.get("model_name")
    name = name or (config.get("model") if isinstance(config.get("model"), str) else None)
    return name, parsed.get("revision")


def benchmark_name(task: str, n_shot: Any) -> str:
    """Zero-shot tasks keep their name; k-shot ones become ``<task>@<k>shot`` (as Pythia's)."""
    try:
        k = int(n_shot)
    except (TypeError, ValueError):
        k = 0
    return task if k == 0 else f"{task}@{k}shot"


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def results_observations(
    path: str | Path, *, model: str | None = None, family: str | None = None
) -> pd.DataFrame:
    """One observation per (task, metric[, filter]) of a results JSON; stderr where given.

    A metric under a filter other than ``none`` is named ``<metric>:<filter>``.
    """
    path = Path(path)
    obj = _load_json(path)
    name, revision = model_identity(obj)
    model = model or (f"{name}@{revision}" if name and revision else name)
    if not model:
        raise ImportValidationError(
            str(path), None, "config.model_args", "a model name (or pass --model)", "none"
        )
    n_shot = obj.get("n-shot") or {}
    rows = []
    for task, metrics in obj["results"].items():
        if not isinstance(metrics, dict):
            raise ImportValidationError(str(path), None, f"results.{task}", "an object", metrics)
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filt = key.split(",", 1)
            val = _number(value)
            if val is None:
                if value in ("N/A", None, ""):
                    continue
                raise ImportValidationError(
                    str(path), None, f"results.{task}.{key}", "a number", value
                )
            if not math.isfinite(val):
                raise ImportValidationError(
                    str(path), None, f"results.{task}.{key}", "a finite number", value
                )
            metric = METRIC_NAMES.get(metric, metric)
            rows.append(
                {
                    "model": model,
                    "family": family,
                    "benchmark": benchmark_name(task, n_shot.get(task, 0)),
                    "metric": metric if filt == "none" else f"{metric}:{filt}",
                    "value": val,
                    "stderr": _number(metrics.get(f"{key.split(',')[0]}_stderr,{filt}")),
                    "source": f"lm-eval/{path.name}",
                }
            )
    if not rows:
        raise ImportValidationError(
            str(path), None, "results", "at least one numeric metric", "none"
        )
    df = validate_observations(pd.DataFrame(rows), str(path), known_metrics=None)
    df.attrs["revision"] = revision
    df.attrs["model"] = model
    return df


def results_meta(path: str | Path) -> dict[str, Any]:
    """The parts of a results JSON a run's identity needs: model, n-shot, versions, config."""
    obj = _load_json(Path(path))
    name, revision = model_identity(obj)
    return {
        "model": name,
        "revision": revision,
        "n_shot": obj.get("n-shot") or {},
        "versions": obj.get("versions") or {},
        "config": obj.get("config") or {},
        "lm_eval_version": obj.get("lm_eval_version"),
    }


# --------------------------------------------------------------------------- samples JSONL


@dataclass
class Sample:
    """One logged document: its key, prompt, choices and per-choice scores."""

    line: int
    doc_id: Any
    key: str
    prompt: str | None
    target: str
    doc: Any
    choices: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    greedy: list[bool] = field(default_factory=list)
    correct: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def _err(
    path: Path, line: int, column: str | None, expected: str, got: Any
) -> ImportValidationError:
    return ImportValidationError(str(path), line, column, expected, got)


def _loglik(path: Path, line: int, col: str, pair: Any) -> tuple[float, bool]:
    """``["-1.25", "False"]`` (or ``[["-1.25", "False"]]`` from ``resps``) -> (-1.25, False)."""
    while isinstance(pair, list) and len(pair) == 1 and isinstance(pair[0], list):
        pair = pair[0]
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise _err(path, line, col, "[logprob, is_greedy]", pair)
    try:
        lp = float(pair[0])
    except (TypeError, ValueError):
        raise _err(path, line, col, "a log-probability (a number)", pair[0]) from None
    if not math.isfinite(lp) or lp > 1e-9:
        raise _err(path, line, col, "a finite log-probability <= 0", pair[0])
    flag = str(pair[1])
    if flag not in ("True", "False", "true", "false", "1", "0"):
        raise _err(path, line, col, "is_greedy True or False", pair[1])
    return lp, flag in ("True", "true", "1")


def _correct_index(target: str, choices: list[str]) -> int | None:
    t = target.strip()
    if re.fullmatch(r"\d+", t) and int(t) < len(choices):
        return int(t)
    stripped = [c.strip() for c in choices]
    if t in stripped:
        return stripped.index(t)
    return 0 if len(choices) == 1 else None


def _parse_line(path: Path, line: int, obj: dict[str, Any]) -> Sample:
    for key in ("doc", "target", "arguments"):
        if key not in obj:
            raise _err(path, line, key, "this key of an lm-eval sample", "missing")
    key = obj.get("doc_hash") or doc_hash(obj["doc"])
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key):
        raise _err(path, line, "doc_hash", "a sha256 hex digest", key)
    args = obj["arguments"]
    if not isinstance(args, dict):
        raise _err(path, line, "arguments", "an object of gen_args_<i>", type(args).__name__)
    requests = [args[k] for k in sorted(args, key=lambda k: int(k.rsplit("_", 1)[-1]))]
    metrics = {
        m: float(obj[m]) for m in obj.get("metrics", []) if isinstance(obj.get(m), int | float)
    }
    sample = Sample(
        line=line,
        doc_id=obj.get("doc_id"),
        key=key,
        prompt=requests[0].get("arg_0") if requests and isinstance(requests[0], dict) else None,
        target=str(obj["target"]),
        doc=obj["doc"],
        metrics=metrics,
    )
    is_loglik = requests and all(
        isinstance(r, dict) and isinstance(r.get("arg_1"), str) for r in requests
    )
    if not is_loglik:
        return sample  # generative: the item and its metrics, no choices
    scores = obj.get("filtered_resps") or obj.get("resps")
    col = "filtered_resps" if obj.get("filtered_resps") else "resps"
    if not isinstance(scores, list) or len(scores) != len(requests):
        raise _err(
            path, line, col, f"one [logprob, is_greedy] per request ({len(requests)})", scores
        )
    for i, (req, pair) in enumerate(zip(requests, scores, strict=True)):
        lp, greedy = _loglik(path, line, f"{col}[{i}]", pair)
        sample.choices.append(req["arg_1"])
        sample.logprobs.append(lp)
        sample.greedy.append(greedy)
    sample.correct = _correct_index(sample.target, sample.choices)
    if sample.correct is None:
        raise _err(path, line, "target", "the index or the text of one choice", sample.target)
    return sample


def read_samples(path: str | Path) -> list[Sample]:
    """Parse a ``--log_samples`` JSONL file; one Sample per document (first filter wins)."""
    path = Path(path)
    samples: dict[str, Sample] = {}
    with path.open(encoding="utf-8-sig") as fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _err(path, number, None, "one JSON object per line", exc.msg) from None
            if not isinstance(obj, dict):
                raise _err(path, number, None, "a JSON object", type(obj).__name__)
            sample = _parse_line(path, number, obj)
            samples.setdefault(sample.key, sample)
    if not samples:
        raise ImportValidationError(str(path), None, None, "at least one sample", "none")
    return list(samples.values())


def find_outputs(path: str | Path) -> tuple[list[Path], list[Path]]:
    """(results JSONs, samples JSONLs) under a directory, or the one file given."""
    path = Path(path)
    if path.is_file():
        if path.suffix == ".jsonl":
            return [], [path]
        return [path], []
    if not path.is_dir():
        raise ImportValidationError(
            str(path), None, None, "an lm-eval output file or directory", "no such path"
        )
    results = sorted(p for p in path.rglob("*.json") if RESULTS_RE.match(p.name))
    samples = sorted(p for p in path.rglob("*.jsonl") if SAMPLES_RE.match(p.name))
    if not results and not samples:
        raise ImportValidationError(
            str(path),
            None,
            None,
            "results_<date>.json or samples_<task>_<date>.jsonl files",
            "none",
        )
    return results, samples
