"""Evaluate every model and checkpoint of a trained ladder through the evaluator.

Per checkpoint, one engine serves every run: ``greedy`` and ``samples`` (n, T, top_p) on the
generative tasks, ``choices`` on the multiple-choice variants, and ``passuntil`` (r, budget) on
the final checkpoints (or all, by config). The database holds one model row per size (family =
the ladder), and every measurement carries its checkpoint step and tokens seen, as Pythia's do.
Training and validation losses are stored as ``loss`` measurements (``stdlib_train`` and
``stdlib_heldout``). Runs are resumable: evaluating again reuses stored items.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Benchmark, Measurement, Model, ModelFamily
from evals.ladder.corpus import split_corpus
from evals.ladder.recipe import LadderConfig
from evals.ladder.tasks import write_tasks

HELDOUT, TRAIN = "stdlib_heldout", "stdlib_train"
LOSS_SOURCE = "ladder-train"
GENERATIVE = ("ladder_nextline", "ladder_add", "ladder_mul", "ladder_rev")
MULTIPLE_CHOICE = ("ladder_add_mc", "ladder_mul_mc", "ladder_rev_mc")


@dataclass(frozen=True)
class Checkpoint:
    size: str
    step: int
    n_tokens: int
    path: Path
    is_final: bool


def model_name(cfg: LadderConfig, size: str) -> str:
    return f"{cfg.name}-{size}"


def load_summaries(workdir: Path, cfg: LadderConfig) -> list[dict[str, Any]]:
    """Training summaries of the sizes that finished (config order)."""
    out = []
    for s in cfg.sizes:
        p = workdir / "models" / s.name / "summary.json"
        if p.exists():
            out.append(json.loads(p.read_text()))
    return out


def checkpoints(workdir: Path, summary: dict[str, Any], which: str = "all") -> list[Checkpoint]:
    cks = summary["checkpoints"]
    out = [
        Checkpoint(
            summary["name"], c["step"], c["n_tokens"], workdir / c["path"], i == len(cks) - 1
        )
        for i, c in enumerate(cks)
    ]
    return out if which == "all" else out[-1:]


def task_paths(cfg: LadderConfig, workdir: Path) -> dict[str, Path]:
    from evals.ladder.tokenizer import load_tokenizer

    t = cfg.tasks
    split = split_corpus(seed=cfg.seed, heldout_fraction=cfg.heldout_fraction)
    tok = load_tokenizer(workdir / "tokenizer")
    limit = cfg.seq_len - 1  # the engine refuses prompts that fill the whole context
    return write_tasks(
        split,
        workdir / "tasks",
        nextline_items_n=int(t.get("nextline_items", 60)),
        per_grade=int(t.get("per_grade", 8)),
        seed=int(t.get("seed", cfg.seed)),
        fits=lambda prompt: len(tok(prompt)["input_ids"]) <= limit,
    )


def register_models(s: Session, cfg: LadderConfig, summaries: list[dict[str, Any]]) -> None:
    """Family (with the recipe) and one model row per size, sized at its final checkpoint."""
    fam = s.scalar(select(ModelFamily).where(ModelFamily.name == cfg.name))
    if fam is None:
        fam = ModelFamily(name=cfg.name, recipe=cfg.to_dict(), notes="capcast ladder lab")
        s.add(fam)
        s.flush()
    for sm in summaries:
        name = model_name(cfg, sm["name"])
        m = s.scalar(select(Model).where(Model.name == name))
        if m is None:
            m = Model(name=name)
            s.add(m)
        m.family_id = fam.id
        m.n_params = float(sm["n_params"])
        m.n_params_nonembed = float(sm["n_params_nonembed"])
        m.n_tokens = float(sm["n_tokens"])
        m.flops = float(sm["flops"])
        m.checkpoint_step = int(sm["steps"])
        m.extra = {
            k: sm[k] for k in ("hidden", "layers", "heads", "intermediate", "lr", "batch_seqs")
        }
    s.flush()


def _benchmark(s: Session, name: str, kind: str) -> Benchmark:
    b = s.scalar(select(Benchmark).where(Benchmark.name == name))
    if b is None:
        b = Benchmark(name=name, kind=kind, higher_is_better=False)
        s.add(b)
        s.flush()
    return b


def store_losses(s: Session, cfg: LadderConfig, workdir: Path, summary: dict[str, Any]) -> int:
    """Training (``stdlib_train``) and held-out (``stdlib_heldout``) losses as measurements."""
    m = s.scalar(select(Model).where(Model.name == model_name(cfg, summary["name"])))
    held, train = _benchmark(s, HELDOUT, "loss"), _benchmark(s, TRAIN, "loss")
    have = set(
        s.execute(
            select(Measurement.benchmark_id, Measurement.checkpoint_step).where(
                Measurement.model_id == m.id, Measurement.source == LOSS_SOURCE
            )
        ).all()
    )
    n = 0
    for line in (workdir / "models" / summary["name"] / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for bench, key in ((held, "val_loss"), (train, "train_loss")):
            if key in rec and (bench.id, rec["step"]) not in have:
                s.add(
                    Measurement(
                        model_id=m.id,
                        benchmark_id=bench.id,
                        metric="loss",
                        value=float(rec[key]),
                        source=LOSS_SOURCE,
                        checkpoint_step=int(rec["step"]),
                        n_tokens=float(rec["n_tokens"]),
                    )
                )
                have.add((bench.id, rec["step"]))
                n += 1
    return n


PHASES = ("greedy", "choices", "samples", "passuntil")


def eval_plan(
    cfg: LadderConfig, ck: Checkpoint, phase: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(task, mode, config) for one checkpoint and phase, from the config's ``eval`` section.

    Each mode's section may name ``checkpoints`` (all | final); ``samples`` and ``passuntil``
    also ``tasks`` (default: all generative tasks) and their settings.
    """
    if phase in ("greedy", "choices"):
        which = (cfg.eval.get(phase) or {}).get("checkpoints", "all")
        if which == "final" and not ck.is_final:
            return []
        tasks = GENERATIVE if phase == "greedy" else MULTIPLE_CHOICE
        return [(t, phase, {}) for t in tasks]
    defaults = {
        "samples": {"n": 100, "temperature": 1.0, "top_p": 0.7},
        "passuntil": {"r": 2, "k_max": 10_000},
    }
    sec = dict(cfg.eval.get(phase) or defaults[phase])
    which = sec.pop("checkpoints", "all")
    tasks = sec.pop("tasks", list(GENERATIVE))
    if which == "final" and not ck.is_final:
        return []
    return [(t, phase, sec) for t in tasks]


def evaluate_ladder(
    cfg: LadderConfig,
    workdir: Path,
    session_factory: sessionmaker[Session],
    *,
    engine: str | None = None,
    log: Callable[[str], None] = print,
    phases: tuple[str, ...] = PHASES,
    largest_first: bool = False,
) -> list[dict[str, Any]]:
    """Run the evaluation plan (``phases`` of it); one summary row per (checkpoint, task, mode)."""
    engine_name = engine or cfg.eval.get("engine", "vllm")
    summaries = load_summaries(workdir, cfg)
    if not summaries:
        raise FileNotFoundError(f"{workdir}: no trained sizes (run `capcast ladder train` first)")
    paths = task_paths(cfg, workdir)
    with session_factory() as s, s.begin():
        register_models(s, cfg, summaries)
        for sm in summaries:
            store_losses(s, cfg, workdir, sm)
    rows = []
    which = str(cfg.eval.get("checkpoints", "all"))
    cks = [ck for sm in summaries for ck in checkpoints(workdir, sm, which)]
    if largest_first:
        cks.reverse()
    # One engine per checkpoint serves every phase (starting vLLM costs ~10 s on a CPU); cheap
    # modes run first, so a stopped run keeps them. Stored items are reused on a rerun.
    for ck in cks:
        plan = [p for ph in PHASES if ph in phases for p in eval_plan(cfg, ck, ph)]
        if plan:
            rows += _evaluate_checkpoint(cfg, ck, plan, paths, session_factory, engine_name, log)
    return rows


def _evaluate_checkpoint(
    cfg: LadderConfig,
    ck: Checkpoint,
    plan: list[tuple[str, str, dict[str, Any]]],
    paths: dict[str, Path],
    session_factory: sessionmaker[Session],
    engine_name: str,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One engine for all of a checkpoint's runs."""
    from evals.engines import make_engine
    from evals.runner import run_eval

    rows = []
    opts: dict[str, Any] = {"max_model_len": cfg.seq_len}
    eng = make_engine(engine_name, ck.path, **opts)
    try:
        for task, mode, extra in plan:
            conf = {"model_name": model_name(cfg, ck.size), "seed": cfg.seed, **extra}
            conf |= {"checkpoint_step": ck.step, "n_tokens": float(ck.n_tokens)}
            res = run_eval(
                session_factory=session_factory,
                model_path=ck.path,
                task_path=paths[task],
                mode=mode,
                engine=eng,
                config=conf,
            )
            row = {"size": ck.size, "step": ck.step, "task": task, "mode": mode}
            row |= {"seconds": round(res.seconds, 1), "metrics": res.metrics}
            log(json.dumps(row, default=str))
            rows.append(row)
    finally:
        eng.close()
    return rows
