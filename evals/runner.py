"""Resumable evaluation runs: a model × a task × a mode, written item by item through ``db/``.

The ``eval_run`` row is keyed by (model, benchmark, config hash); the hash covers the model's
identity (path and a fingerprint of its config and weight files), the task's items, the mode, the
engine and every setting that changes results. Each item's result is committed as soon as it is
complete, so a killed run loses at most the items in flight; started again with the same
configuration it skips the stored items and redraws the rest with the same seeds (seeds derive from
(run seed, item key, round), never from batch order), so its final results equal an uninterrupted
run's, and the unique (run, item) key means no item is ever counted twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import results as R
from db.models import Measurement
from evals.checkers import Code, make_checker
from evals.choices import aggregate, item_metrics
from evals.engines import ChoiceRequest, Engine, GenerateRequest, make_engine
from evals.passuntil import PassUntilConfig, pass_at_k, run_passuntil, sample_seed, task_estimate
from evals.tasks import MULTIPLE_CHOICE, Task, TaskItem, load_task

MODES = ("choices", "passuntil", "samples", "greedy")
Progress = Callable[..., None]

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "fewshot_seed": 1234,
    "limit": None,
    "stride": 1,
    "r": 2,
    "k_max": 10_000,
    "first_round": 16,
    "n": 100,
    "temperature": 1.0,
    "top_p": 1.0,
    "alpha": 0.1,
    "max_tokens": None,
    "stop": None,
}
#: Documented caps (README "Security") on every setting that multiplies an evaluation's work or
#: bounds its values: (low, high), integers unless the default is a float. A job payload's
#: ``config`` comes from the network, so ``n: 1e9`` must be an error, not a week of sampling.
LIMITS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**63 - 1),
    "fewshot_seed": (0, 2**63 - 1),
    "limit": (0, 10_000_000),
    "stride": (1, 1_000_000),
    "r": (1, 1_000),
    "k_max": (1, 1_000_000),
    "first_round": (1, 100_000),
    "n": (1, 100_000),
    "temperature": (0.0, 10.0),
    "top_p": (0.0, 1.0),
    "alpha": (0.0, 1.0),
    "max_tokens": (1, 32_768),
    "batch_items": (1, 100_000),
    "max_batch_samples": (1, 10_000_000),
}
_FLOAT_SETTINGS = ("temperature", "top_p", "alpha")
# Settings that never change results (kept out of the hash).
_NOT_HASHED = ("batch_items", "engine_opts", "model_name", "max_batch_samples")
# Which checkpoint the model is (the weights' fingerprint already tells runs apart): stored on
# the run and its measurements, so a model row can hold a ladder size's several checkpoints.
_CHECKPOINT = ("checkpoint_step", "n_tokens")


@dataclass
class EvalRunResult:
    run_id: int
    model_id: int
    benchmark_id: int
    benchmark: str
    mode: str
    engine: str
    engine_version: str | None
    n_items: int
    n_new: int
    n_reused: int
    samples: int
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_fingerprint(model_path: str | Path) -> dict[str, Any]:
    """Identity of a model directory: absolute path, config hash, weight files' sizes and times."""
    p = Path(model_path)
    if not p.exists():
        return {"uri": str(model_path), "revision": None}
    p = p.resolve()
    h = hashlib.sha256()
    if (p / "config.json").exists():
        h.update((p / "config.json").read_bytes())
    for f in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return {"uri": str(p), "revision": h.hexdigest()[:16]}


def task_fingerprint(task: Task) -> str:
    h = hashlib.sha256()
    for it in task.items:
        h.update(it.key.encode())
        h.update(it.prompt.encode())
    h.update(json.dumps([task.checker, task.generation, task.target_delimiter]).encode())
    return h.hexdigest()[:16]


def resolve_config(mode: str, engine_name: str, config: dict[str, Any]) -> dict[str, Any]:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known modes: {', '.join(MODES)}")
    unknown = set(config) - set(DEFAULTS) - set(_NOT_HASHED) - set(_CHECKPOINT)
    if unknown:
        raise ValueError(f"unknown eval config keys: {', '.join(sorted(unknown))}")
    check_limits(config)
    return {**DEFAULTS, **config, "mode": mode, "engine": engine_name}


def check_limits(config: dict[str, Any]) -> None:
    """ValueError naming the first setting that is of the wrong type or outside :data:`LIMITS`."""
    for name, (low, high) in LIMITS.items():
        value = config.get(name)
        if value is None:
            continue
        if name in _FLOAT_SETTINGS:
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            ok_type = ok_type and math.isfinite(value)
        else:
            ok_type = isinstance(value, int) and not isinstance(value, bool)
        kind = "a finite number" if name in _FLOAT_SETTINGS else "a whole number"
        if not ok_type:
            raise ValueError(f"config.{name} must be {kind}, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"config.{name}={value!r} is outside [{low:g}, {high:g}]")


def config_hash(cfg: dict[str, Any], model: dict[str, Any], task_fp: str) -> str:
    hashed = {k: v for k, v in cfg.items() if k not in _NOT_HASHED + _CHECKPOINT}
    if hashed.get("stride") == 1:  # the default leaves hashes of runs made before it unchanged
        del hashed["stride"]
    blob = json.dumps({"cfg": hashed, "model": model, "task": task_fp}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_eval(
    *,
    session_factory: sessionmaker[Session],
    model_path: str | Path,
    task_path: str | Path,
    mode: str,
    engine: str | Engine,
    config: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> EvalRunResult:
    """Evaluate (or resume evaluating) a model on a task; returns the run's summary."""
    started = time.monotonic()
    engine_name = engine if isinstance(engine, str) else engine.name
    cfg = resolve_config(mode, engine_name, dict(config or {}))
    task = load_task(task_path, fewshot_seed=cfg["fewshot_seed"])
    items = list(task.items[: cfg["limit"]] if cfg["limit"] else task.items)
    stride = int(cfg["stride"])
    if stride < 1:
        raise ValueError(f"eval config stride: expected an integer >= 1, got {cfg['stride']!r}")
    items = items[::stride]  # an even subset across a task ordered by difficulty grade
    # identical documents share a key (as in lm-eval's doc_hash): evaluate each once
    items = list({it.key: it for it in items}.values())
    if mode == "choices" and task.output_type != MULTIPLE_CHOICE:
        raise ValueError(f"{task_path}: mode 'choices' needs a multiple_choice task")
    if mode != "choices" and task.output_type == MULTIPLE_CHOICE:
        raise ValueError(f"{task_path}: mode {mode!r} needs a generative task")
    model_id_info = model_fingerprint(model_path)
    chash = config_hash(cfg, model_id_info, task_fingerprint(task))

    with session_factory() as s, s.begin():
        model = R.get_or_create_model(
            s, name=cfg.get("model_name") or model_id_info["uri"], uri=model_id_info["uri"]
        )
        bench = R.get_or_create_benchmark(
            s, name=task.name, kind=task.kind, n_items=len(task.items), version=task.version
        )
        ids = R.upsert_items(s, bench.id, [_item_row(it) for it in items])
        run = R.get_or_create_run(
            s,
            model_id=model.id,
            benchmark_id=bench.id,
            config=cfg | {"model": model_id_info, "task": str(task_path)},
            config_hash=chash,
            engine=engine_name,
            engine_version="" if isinstance(engine, str) else engine.version,
            checkpoint_step=cfg.get("checkpoint_step"),
            n_tokens=cfg.get("n_tokens"),
        )
        done = R.done_item_ids(s, run.id)
        R.set_run_status(s, run.id, "running")
    run_id, model_id, bench_id = run.id, model.id, bench.id
    pending = [it for it in items if ids[it.key] not in done]
    ctx = _Ctx(session_factory, run_id, ids, len(items), len(items) - len(pending), progress)
    ctx.report()

    eng: Engine | None = None
    try:
        if pending:
            eng = (
                make_engine(engine, model_path, **cfg.get("engine_opts", {}))
                if isinstance(engine, str)
                else engine
            )
            with session_factory() as s, s.begin():
                _set_version(s, run_id, eng.version)
            {"choices": _run_choices, "passuntil": _run_passuntil}.get(mode, _run_samples)(
                ctx, eng, task, pending, cfg
            )
    except BaseException as e:
        with session_factory() as s, s.begin():
            R.set_run_status(s, run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        if eng is not None and isinstance(engine, str):
            eng.close()

    with session_factory() as s, s.begin():
        metrics = summarise(s, run_id, mode, task)
        _write_measurements(s, model_id, bench_id, run_id, metrics, cfg)
        R.set_run_status(s, run_id, "done")
        version = s.get(R.EvalRun, run_id).engine_version
    return EvalRunResult(
        run_id=run_id,
        model_id=model_id,
        benchmark_id=bench_id,
        benchmark=task.name,
        mode=mode,
        engine=engine_name,
        engine_version=version,
        n_items=len(items),
        n_new=len(pending),
        n_reused=len(items) - len(pending),
        samples=ctx.samples,
        metrics=metrics,
        seconds=time.monotonic() - started,
    )


def _item_row(it: TaskItem) -> R.ItemRow:
    return R.ItemRow(
        key=it.key,
        prompt=it.prompt,
        choices=list(it.choices) or None,
        answer=str(it.gold) if it.gold is not None else it.answer,
        meta={"doc": it.doc},
    )


def _set_version(s: Session, run_id: int, version: str) -> None:
    run = s.get(R.EvalRun, run_id)
    if run is not None:
        run.engine_version = version


@dataclass
class _Ctx:
    sf: sessionmaker[Session]
    run_id: int
    ids: dict[str, int]
    total: int
    done: int
    progress: Progress | None
    samples: int = 0

    def report(self) -> None:
        if self.progress:
            self.progress(done=self.done, total=self.total, samples=self.samples)

    def add_samples(self, n: int) -> None:
        self.samples += n
        self.report()

    def write(self, entries: list[tuple[str, dict[str, Any], list[R.ChoiceRow]]]) -> None:
        """Commit finished items in one transaction, then report progress."""
        with self.sf() as s, s.begin():
            for key, result, choices in entries:
                R.write_item_result(
                    s, run_id=self.run_id, item_id=self.ids[key], result=result, choices=choices
                )
        self.done += len(entries)
        self.report()


def _run_choices(ctx: _Ctx, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict) -> None:
    batch = int(cfg.get("batch_items") or 64)
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        reqs = [
            ChoiceRequest(it.prompt, tuple(task.continuation(c) for c in it.choices))
            for it in chunk
        ]
        entries = []
        for it, sc in zip(chunk, eng.score_choices(reqs), strict=True):
            m = item_metrics(sc.logprob_sum, it.choices, it.gold or 0)
            rows = [
                R.ChoiceRow(
                    choice_index=j,
                    logprob_sum=sc.logprob_sum[j],
                    n_tokens=sc.n_tokens[j],
                    n_bytes=len(c.encode("utf-8")),
                    n_chars=len(c),
                    is_greedy=sc.is_greedy[j],
                    is_correct=j == it.gold,
                )
                for j, c in enumerate(it.choices)
            ]
            result = {"greedy_correct": bool(m.acc), "estimate": m.acc, "estimates": m.to_dict()}
            entries.append((it.key, result, rows))
        ctx.write(entries)


def _checker(task: Task, cfg: dict) -> Callable[[TaskItem, str], bool]:
    cache: dict[str, Callable[..., bool]] = {}

    def check(it: TaskItem, completion: str) -> bool:
        spec = it.checker or task.checker
        key = json.dumps(spec, sort_keys=True)
        fn = cache.setdefault(key, make_checker(spec))
        try:
            if isinstance(fn, Code) and spec.get("include_prompt", True):
                return fn(completion, it.answer or "", prefix=it.prompt)
            return bool(fn(completion, it.answer or ""))
        except Exception:  # a checker crash is a failed answer, never a stopped run
            return False

    return check


def _gen_settings(task: Task, cfg: dict) -> dict[str, Any]:
    stop = cfg["stop"] if cfg["stop"] is not None else task.generation.get("stop", [])
    max_tokens = cfg["max_tokens"] or task.generation.get("max_tokens", 256)
    return {"stop": tuple(stop), "max_tokens": int(max_tokens)}


def _run_passuntil(ctx: _Ctx, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict) -> None:
    gen = _gen_settings(task, cfg)
    pu = PassUntilConfig(
        r=int(cfg["r"]),
        k_max=int(cfg["k_max"]),
        first_round=int(cfg["first_round"]),
        temperature=float(cfg["temperature"]),
        top_p=float(cfg["top_p"]),
        alpha=float(cfg["alpha"]),
        max_batch_samples=int(cfg.get("max_batch_samples") or 65_536),
        **gen,
    )
    by_key = {it.key: it for it in pending}
    check = _checker(task, cfg)

    def on_done(key: str, est: Any) -> None:
        result = {
            "n_samples": est.n,
            "n_pass": est.s,
            "stop_reason": est.stop_reason,
            "estimate": est.point,
            "estimates": est.to_dict(),
        }
        ctx.write([(key, result, [])])

    run_passuntil(
        eng,
        [(it.key, it.prompt, it.answer or "") for it in pending],
        lambda key, text, _answer: check(by_key[key], text),
        pu,
        seed=int(cfg["seed"]),
        on_done=on_done,
        on_samples=ctx.add_samples,
    )


def _run_samples(ctx: _Ctx, eng: Engine, task: Task, pending: list[TaskItem], cfg: dict) -> None:
    """``samples``: n draws per item at (T, top_p); ``greedy``: one temperature-0 answer."""
    gen = _gen_settings(task, cfg)
    greedy = cfg["mode"] == "greedy"
    n = 1 if greedy else int(cfg["n"])
    check = _checker(task, cfg)
    batch = max(1, int(cfg.get("batch_items") or max(1, 4096 // n)))
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        reqs = [
            GenerateRequest(
                prompt=it.prompt,
                n=n,
                temperature=0.0 if greedy else float(cfg["temperature"]),
                top_p=1.0 if greedy else float(cfg["top_p"]),
                seed=sample_seed(int(cfg["seed"]), it.key, 0),
                **gen,
            )
            for it in chunk
        ]
        outs = eng.generate(reqs)
        ctx.samples += n * len(chunk)
        entries = []
        for it, texts in zip(chunk, outs, strict=True):
            passed = [check(it, t) for t in texts]
            c = sum(passed)
            est: dict[str, Any] = {"pass_rate": c / n, "completions": texts[:3]}
            est |= {f"pass@{k}": pass_at_k(n, c, k) for k in (1, 10, 100) if k <= n}
            result = {
                "n_samples": n,
                "n_pass": c,
                "stop_reason": "greedy" if greedy else "fixed",
                "greedy_correct": bool(passed[0]) if greedy else None,
                "estimate": c / n,
                "estimates": est,
            }
            entries.append((it.key, result, []))
        ctx.write(entries)


def summarise(s: Session, run_id: int, mode: str, task: Task) -> dict[str, Any]:
    """Task-level metrics recomputed from what is stored (never from in-memory state)."""
    rows = R.run_results(s, run_id)
    if mode == "choices":
        scores = R.run_choice_scores(s, run_id)
        metrics = []
        for item, _ in rows:
            cs = scores.get(item.id, [])
            gold = next(c.choice_index for c in cs if c.is_correct)
            metrics.append(item_metrics([c.logprob_sum for c in cs], item.choices or [], gold))
        return aggregate(metrics)
    if mode == "passuntil":
        from evals.passuntil import PassUntilEstimate

        ests = [PassUntilEstimate(**_est_fields(r.estimates)) for _, r in rows if r.estimates]
        return task_estimate(ests)
    rates = [r.estimate for _, r in rows if r.estimate is not None]
    out: dict[str, Any] = {"n_items": len(rates)}
    out["pass_rate"] = sum(rates) / len(rates) if rates else math.nan
    out["samples"] = sum(r.n_samples for _, r in rows)
    return out


def _est_fields(d: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import fields

    from evals.passuntil import PassUntilEstimate

    names = {f.name for f in fields(PassUntilEstimate)}
    return {k: v for k, v in d.items() if k in names}


_MEASURED = {"acc": "acc", "acc_norm": "acc_norm", "brier": "brier", "bpb": "bpb", "pu": "pu"}


def _write_measurements(
    s: Session,
    model_id: int,
    bench_id: int,
    run_id: int,
    metrics: dict[str, Any],
    cfg: dict[str, Any],
) -> None:
    """Aggregate numbers go to ``measurement`` (source ``capcast-eval:<run>``) for predictors."""
    source = f"capcast-eval:{run_id}"
    wanted = {m: metrics[k] for k, m in _MEASURED.items() if k in metrics}
    if "pass_rate" in metrics:
        wanted["pass_rate"] = metrics["pass_rate"]
    for metric, value in wanted.items():
        if value is None or not math.isfinite(float(value)):
            continue
        exists = s.scalar(
            select(Measurement.id).where(
                Measurement.model_id == model_id,
                Measurement.benchmark_id == bench_id,
                Measurement.metric == metric,
                Measurement.source == source,
            )
        )
        if exists is None:
            s.add(
                Measurement(
                    model_id=model_id,
                    benchmark_id=bench_id,
                    metric=metric,
                    value=float(value),
                    stderr=metrics.get(f"{metric}_stderr"),
                    source=source,
                    checkpoint_step=cfg.get("checkpoint_step"),
                    n_tokens=cfg.get("n_tokens"),
                )
            )


@contextmanager
def console_progress(label: str = "eval") -> Iterator[Progress]:
    """A rich progress bar on stderr: items done / total, samples drawn, time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items · {task.fields[samples]} samples"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        tid = bar.add_task(label, total=None, samples=0)

        def update(*, done: int, total: int, samples: int = 0, **_: Any) -> None:
            bar.update(tid, completed=done, total=total, samples=samples)

        yield update
