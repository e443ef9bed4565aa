"""Running an lm-eval task (:mod:`evals.lm_eval_tasks`) on a capcast engine, item by item.

Each item's requests are lm-eval's own ``Instance`` arguments: for multiple choice the
``(context, target_delimiter + choice)`` pairs, scored by :meth:`Engine.score_choices` (one request
per item when the contexts agree, so an engine shares the context's work); for generation the
context and the task's ``generation_kwargs`` (``until`` plus the tokenizer's end-of-sequence
string, ``max_gen_toks`` defaulting to lm-eval's 256, greedy unless ``do_sample``), drawn
``repeats`` times. lm-eval's filters and ``process_results`` then give the item's metrics, stored in
``estimates["lm_eval"]`` keyed ``"metric,filter"`` as lm-eval reports them; multiple-choice items
also store their choice scores and capcast's per-choice metrics (METHODS E1). Task numbers are
lm-eval's aggregations over the stored per-item values (:func:`summarise_harness`).
"""

from __future__ import annotations

import numbers
from typing import Any

from sqlalchemy.orm import Session

from db import results as R
from evals.choices import item_metrics
from evals.engines import ChoiceRequest, Engine, GenerateRequest
from evals.lm_eval_tasks import SCORED, Harness
from evals.passuntil import sample_seed
from evals.run_context import Entry, RunContext
from evals.run_summary import summarise
from evals.tasks import Task, TaskItem

#: lm-eval's default ``max_gen_toks`` when a task's generation_kwargs set none.
DEFAULT_MAX_GEN_TOKS = 256
_MAX_TOKEN_KEYS = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")


def check_mode(task: Task, mode: str) -> None:
    """lm-eval decides how an item is answered: per-choice scores, or its own generation."""
    h: Harness = task.harness
    want = mode_of(task)
    if mode != want:
        raise ValueError(
            f"lm-eval task {task.name} ({h.output_type}) runs in mode {want!r} "
            f"(its own generation settings), not {mode!r}"
        )


def primary(task: Task) -> str:
    """The key (``"metric,filter"``) of the task's first metric under its first filter."""
    h: Harness = task.harness
    return f"{task.checker['metrics'][0]},{h.filters[0]}"


def run_harness(
    ctx: RunContext, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict[str, Any]
) -> None:
    """Answer every pending item's lm-eval requests, ``batch_items`` items per engine call."""
    h: Harness = task.harness
    batch = int(cfg.get("batch_items") or 64)
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        if h.output_type in SCORED:
            entries = _score(eng, task, chunk)
        else:
            entries = _generate(eng, task, chunk, cfg)
            ctx.samples += h.repeats * len(chunk)
        ctx.write(entries)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else None


def _score(eng: Engine, task: Task, chunk: list[TaskItem]) -> list[Entry]:
    h: Harness = task.harness
    reqs: list[ChoiceRequest] = []
    owners: list[tuple[str, list[int]]] = []  # (item key, request indices of this engine request)
    for it in chunk:
        args = [inst.arguments for inst in h.instances[it.key]]
        if len({a[0] for a in args}) == 1:
            reqs.append(ChoiceRequest(args[0][0], tuple(a[1] for a in args)))
            owners.append((it.key, list(range(len(args)))))
        else:  # one context per choice (lm-eval's multiple_input tasks)
            for j, a in enumerate(args):
                reqs.append(ChoiceRequest(a[0], (a[1],)))
                owners.append((it.key, [j]))
    per_item: dict[str, dict[int, tuple[float, bool, int]]] = {it.key: {} for it in chunk}
    for (key, idx), sc in zip(owners, eng.score_choices(reqs), strict=True):
        for k, j in enumerate(idx):
            per_item[key][j] = (sc.logprob_sum[k], sc.is_greedy[k], sc.n_tokens[k])
    answers = {k: [(v[j][0], v[j][1]) for j in sorted(v)] for k, v in per_item.items()}
    measured = h.measure(answers)
    key_metric = primary(task)
    entries: list[Entry] = []
    for it in chunk:
        got = per_item[it.key]
        gold = it.gold or 0
        m = item_metrics([got[j][0] for j in range(len(it.choices))], it.choices, gold)
        rows = [
            R.ChoiceRow(
                choice_index=j,
                logprob_sum=got[j][0],
                n_tokens=got[j][2],
                n_bytes=len(c.encode("utf-8")),
                n_chars=len(c),
                is_greedy=got[j][1],
                is_correct=j == gold,
            )
            for j, c in enumerate(it.choices)
        ]
        value = _number(measured[it.key].get(key_metric))
        result = {
            "greedy_correct": bool(value) if value is not None else bool(m.acc),
            "estimate": value if value is not None else m.acc,
            "estimates": m.to_dict() | {"lm_eval": measured[it.key]},
        }
        entries.append((it.key, result, rows))
    return entries


def _gen_request(
    it: TaskItem, args: tuple[Any, ...], eos: str | None, cfg: dict[str, Any], n: int
) -> GenerateRequest:
    """lm-eval's generation settings for one request, as its model backends normalise them."""
    kw = dict(args[1] or {})
    until = kw.get("until") or []
    stop = [until] if isinstance(until, str) else list(until)
    if eos and eos not in stop:
        stop.append(eos)
    max_tokens = next(
        (kw[k] for k in _MAX_TOKEN_KEYS if kw.get(k) is not None), DEFAULT_MAX_GEN_TOKS
    )
    temperature = float(kw.get("temperature", 0.0))  # lm-eval: do_sample=False means greedy
    sample = temperature > 0 and kw.get("do_sample") is not False
    return GenerateRequest(
        prompt=str(args[0]),
        n=n,
        temperature=temperature if sample else 0.0,
        top_p=float(kw.get("top_p", 1.0)) if sample else 1.0,
        max_tokens=int(cfg["max_tokens"] or max_tokens),
        stop=tuple(s for s in stop if s),
        seed=sample_seed(int(cfg["seed"]), it.key, 0),
    )


def _generate(eng: Engine, task: Task, chunk: list[TaskItem], cfg: dict[str, Any]) -> list[Entry]:
    h: Harness = task.harness
    tok = getattr(eng, "tokenizer", None)
    eos = getattr(tok, "eos_token", None)
    reqs = [_gen_request(it, h.instances[it.key][0].arguments, eos, cfg, h.repeats) for it in chunk]
    outs = eng.generate(reqs)
    measured = h.measure({it.key: [texts] for it, texts in zip(chunk, outs, strict=True)})
    key_metric = primary(task)
    entries: list[Entry] = []
    for it, req, texts in zip(chunk, reqs, outs, strict=True):
        value = _number(measured[it.key].get(key_metric))
        estimates = {
            "lm_eval": measured[it.key],
            "filtered_resps": h.filtered(it.key),
            "completions": texts[:3],
        }
        result = {
            "n_samples": h.repeats,
            "n_pass": int(value is not None and value >= 1),
            "stop_reason": "greedy" if req.temperature == 0 else "fixed",
            "greedy_correct": bool(value) if value is not None and req.temperature == 0 else None,
            "estimate": value,
            "estimates": estimates,
        }
        entries.append((it.key, result, []))
    return entries


def summarise_harness(s: Session, run_id: int, task: Task) -> dict[str, Any]:
    """lm-eval's task numbers (``metrics["lm_eval"]``) from the stored per-item values.

    Multiple choice adds capcast's per-choice summary (acc, acc_norm, brier, bpb, ...);
    generation reports the primary metric's value as ``pass_rate``.
    """
    h: Harness = task.harness
    rows = R.run_results(s, run_id)
    lm = h.aggregate((r.estimates or {}).get("lm_eval", {}) for _, r in rows)
    if h.output_type in SCORED:
        return summarise(s, run_id, "choices", task) | {"lm_eval": lm}
    value = _number(lm.get(primary(task)))
    return {
        "n_items": len(rows),
        "pass_rate": value if value is not None else float("nan"),
        "samples": sum(r.n_samples for _, r in rows),
        "checker_errors": 0,
        "lm_eval": lm,
    }


def mode_of(task: Task) -> str:
    """The capcast mode an lm-eval task runs in: ``choices`` (scored) or ``greedy`` (generated)."""
    h: Harness = task.harness
    return "choices" if h.output_type in SCORED else "greedy"
