"""Export a ladder's per-item results from the database into compact committed files.

``items.parquet`` (the task items), ``results.parquet`` (one row per model × checkpoint × task ×
mode × item), ``choices.parquet`` (per-choice log-probs), ``measurements.parquet`` (task-level
metrics and losses in the observations exchange format), ``summary.csv`` (the per-model table),
``manifest.json`` (recipe, sizes, parameter counts, tokens, FLOPs, seeds, engine versions, file
hashes) and ``pass_rate_vs_compute.png``. ``db.importers.ladder`` loads them back.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
import re
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Benchmark,
    ChoiceScore,
    EvalRun,
    Item,
    ItemResult,
    Measurement,
    Model,
    ModelFamily,
)
from evals.ladder.evaluate import LOSS_SOURCE, load_summaries, model_name
from evals.ladder.recipe import LadderConfig

_STEP = re.compile(r"step-(\d+)$")
FILES = ("items.parquet", "results.parquet", "choices.parquet", "measurements.parquet")


def _step_of(run: EvalRun) -> int:
    m = _STEP.search(str((run.config.get("model") or {}).get("uri", "")))
    if not m:
        raise ValueError(f"eval_run {run.id}: model uri has no step-N folder")
    return int(m.group(1))


def _runs(s: Session, family: str) -> list[tuple[EvalRun, Model, Benchmark]]:
    q = (
        select(EvalRun, Model, Benchmark)
        .join(Model, Model.id == EvalRun.model_id)
        .join(ModelFamily, ModelFamily.id == Model.family_id)
        .join(Benchmark, Benchmark.id == EvalRun.benchmark_id)
        .where(ModelFamily.name == family, EvalRun.status == "done")
        .order_by(Model.name, Benchmark.name, EvalRun.mode, EvalRun.id)
    )
    return [tuple(r) for r in s.execute(q).all()]  # type: ignore[misc]  # Row is a tuple at run time


def collect(s: Session, cfg: LadderConfig, workdir: Path) -> dict[str, pd.DataFrame]:
    """Every per-item row of the ladder's finished runs, as DataFrames (sorted, stable)."""
    runs = _runs(s, cfg.name)
    tokens = {
        (sm["name"], c["step"]): c["n_tokens"]
        for sm in load_summaries(workdir, cfg)
        for c in sm["checkpoints"]
    }
    res_rows, ch_rows, meas_rows = [], [], []
    bench_ids = set()
    for run, model, bench in runs:
        step = _step_of(run)
        size = model.name.removeprefix(f"{cfg.name}-")
        base = {"model": model.name, "checkpoint_step": step, "benchmark": bench.name}
        base["n_tokens"] = float(tokens.get((size, step), float("nan")))
        bench_ids.add(bench.id)
        q = select(ItemResult, Item.key).join(Item, Item.id == ItemResult.item_id)
        for ir, key in s.execute(q.where(ItemResult.run_id == run.id)).all():
            res_rows.append(
                base
                | {
                    "mode": run.mode,
                    "item": key,
                    "n_samples": ir.n_samples,
                    "n_pass": ir.n_pass,
                    "stop_reason": ir.stop_reason,
                    "greedy_correct": ir.greedy_correct,
                    "estimate": ir.estimate,
                    "estimates": json.dumps(ir.estimates, sort_keys=True, default=str),
                    "engine": run.engine,
                    "engine_version": run.engine_version,
                    "config_hash": run.config_hash,
                }
            )
        q2 = select(ChoiceScore, Item.key).join(Item, Item.id == ChoiceScore.item_id)
        for cs, key in s.execute(q2.where(ChoiceScore.run_id == run.id)).all():
            ch_rows.append(
                base
                | {
                    "item": key,
                    "choice_index": cs.choice_index,
                    "logprob_sum": cs.logprob_sum,
                    "n_tokens_choice": cs.n_tokens,
                    "n_bytes": cs.n_bytes,
                    "n_chars": cs.n_chars,
                    "is_greedy": cs.is_greedy,
                    "is_correct": cs.is_correct,
                }
            )
        for me in s.scalars(
            select(Measurement).where(Measurement.source == f"capcast-eval:{run.id}")
        ):
            metric = "acc" if run.mode == "greedy" and me.metric == "pass_rate" else me.metric
            meas_rows.append(
                base
                | {"metric": metric, "value": me.value, "stderr": me.stderr}
                | {"source": f"capcast-ladder:{run.mode}"}
            )
    meas_rows += _loss_rows(s, cfg)
    items = [
        {
            "benchmark": b.name,
            "kind": b.kind,
            "item": it.key,
            "prompt": it.prompt,
            "choices": json.dumps(it.choices) if it.choices is not None else None,
            "answer": it.answer,
            "meta": json.dumps((it.meta or {}).get("doc", {}).get("meta"), sort_keys=True),
        }
        for it, b in s.execute(
            select(Item, Benchmark)
            .join(Benchmark, Benchmark.id == Item.benchmark_id)
            .where(Item.benchmark_id.in_(bench_ids))
        ).all()
    ]
    out = {
        "items": pd.DataFrame(items),
        "results": pd.DataFrame(res_rows),
        "choices": pd.DataFrame(ch_rows),
        "measurements": pd.DataFrame(meas_rows),
    }
    keys = {
        "items": ["benchmark", "item"],
        "results": ["model", "checkpoint_step", "benchmark", "mode", "item"],
        "choices": ["model", "checkpoint_step", "benchmark", "item", "choice_index"],
        "measurements": ["model", "benchmark", "metric", "source", "checkpoint_step"],
    }
    for k, cols in keys.items():
        if len(out[k]):
            out[k] = out[k].sort_values(cols, kind="stable").reset_index(drop=True)
    return out


def _loss_rows(s: Session, cfg: LadderConfig) -> list[dict[str, Any]]:
    q = (
        select(Measurement, Model.name, Benchmark.name)
        .join(Model, Model.id == Measurement.model_id)
        .join(ModelFamily, ModelFamily.id == Model.family_id)
        .join(Benchmark, Benchmark.id == Measurement.benchmark_id)
        .where(ModelFamily.name == cfg.name, Measurement.source == LOSS_SOURCE)
    )
    return [
        {
            "model": mname,
            "checkpoint_step": me.checkpoint_step,
            "benchmark": bname,
            "n_tokens": me.n_tokens,
            "metric": me.metric,
            "value": me.value,
            "stderr": None,
            "source": LOSS_SOURCE,
        }
        for me, mname, bname in s.execute(q).all()
    ]


def summary_table(results: pd.DataFrame, sizes: list[dict[str, Any]]) -> pd.DataFrame:
    """Per model, final checkpoint, task: greedy accuracy, pass rate (samples), PassUntil, MC acc."""
    final = (
        results.groupby("model")["checkpoint_step"].transform("max") == results["checkpoint_step"]
    )
    r = results[final]
    rows = []
    for (model, bench), g in r.groupby(["model", "benchmark"]):
        size = next((z for z in sizes if z["model"] == model), {})
        row: dict[str, Any] = {"model": model, "benchmark": bench, "n_items": g["item"].nunique()}
        row |= {k: size.get(k) for k in ("n_params", "n_params_nonembed", "n_tokens", "flops")}
        row["checkpoint_step"] = int(g["checkpoint_step"].iat[0])
        for mode, col in (("greedy", "greedy_acc"), ("samples", "pass_rate"), ("passuntil", "pu")):
            gm = g[g["mode"] == mode]
            if len(gm):
                row[col] = (
                    float((gm["n_pass"] / gm["n_samples"]).mean())
                    if mode == "samples"
                    else float(gm["estimate"].mean())
                )
        gm = g[g["mode"] == "choices"]
        if len(gm):
            row["mc_acc"] = float(gm["estimate"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for mod in ("torch", "transformers", "tokenizers", "vllm"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except Exception:  # an engine that is not installed is simply not listed
            continue
    return out


def export_ladder(s: Session, cfg: LadderConfig, workdir: Path, out_dir: Path) -> dict[str, Any]:
    """Write the committed files into ``out_dir``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = collect(s, cfg, workdir)
    if frames["results"].empty:
        raise ValueError(f"no finished evaluation runs for family {cfg.name!r}")
    for name in FILES:
        frames[name.split(".")[0]].to_parquet(out_dir / name, index=False)
    sizes = [
        {
            "model": model_name(cfg, sm["name"]),
            **{k: sm[k] for k in ("name", "hidden", "layers", "heads", "head_dim", "intermediate")},
            **{k: sm[k] for k in ("n_params", "n_params_nonembed", "n_tokens", "flops", "steps")},
            **{k: sm[k] for k in ("batch_seqs", "lr", "final_val_loss", "device", "wall_s")},
            "checkpoint_steps": [c["step"] for c in sm["checkpoints"]],
        }
        for sm in load_summaries(workdir, cfg)
    ]
    res = frames["results"]
    table = summary_table(res, sizes)
    table.to_csv(out_dir / "summary.csv", index=False, float_format="%.6g")
    manifest = {
        "family": cfg.name,
        "config": cfg.to_dict(),
        "sizes": sizes,
        "data": json.loads((workdir / "data" / "info.json").read_text()),
        "seeds": {"training": cfg.seed, "tasks": cfg.tasks.get("seed", cfg.seed), "eval": cfg.seed},
        "engines": sorted(
            {f"{e} {v}" for e, v in zip(res["engine"], res["engine_version"], strict=True)}
        ),
        "versions_at_export": _versions(),
        "rows": {k: len(v) for k, v in frames.items()},
        "files": {name: _sha(out_dir / name) for name in FILES},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    from evals.ladder.plot import plot_pass_rate_vs_compute

    plot_pass_rate_vs_compute(res, sizes, out_dir / "pass_rate_vs_compute.png")
    return manifest
