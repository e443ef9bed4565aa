"""Import the committed ladder lab results (``evals/ladder/reference``) into the database.

Reads ``manifest.json`` and the Parquet files that ``capcast ladder export`` writes, checks each
file against the manifest's SHA-256, and loads, in the caller's transaction: the family (with its
recipe), one model per size, benchmarks and items, one ``eval_run`` per model × checkpoint × task
× mode (config hash as exported, so re-importing changes nothing), item results, per-choice
scores, and the task metrics and losses as measurements through ``load_observations``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import results as R
from db.errors import ImportValidationError
from db.loader import load_observations

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "evals" / "ladder" / "reference"
FILES = ("items.parquet", "results.parquet", "choices.parquet", "measurements.parquet")


def _none(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _json(v: Any) -> Any:
    """A JSON text column's value; missing cells (None or NaN after Parquet) are None."""
    return json.loads(v) if isinstance(v, str) else None


def _key(key: Hashable) -> tuple[Any, ...]:
    """A multi-column groupby key; pandas types it as any Hashable, it is always a tuple."""
    if not isinstance(key, tuple):
        raise TypeError(f"expected a tuple groupby key, got {type(key).__name__}")
    return key


def read_reference(path: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Manifest and frames; a missing or altered file is an ImportValidationError."""
    mpath = path / "manifest.json"
    if not mpath.exists():
        raise ImportValidationError(str(mpath), None, None, "a ladder manifest.json", "no file")
    manifest = json.loads(mpath.read_text())
    frames = {}
    for name in FILES:
        f = path / name
        if not f.exists():
            raise ImportValidationError(str(f), None, None, "a file listed in the manifest", "none")
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if digest != manifest["files"].get(name):
            raise ImportValidationError(
                str(f), None, None, f"sha256 {manifest['files'].get(name)}", digest
            )
        frames[name.split(".")[0]] = pd.read_parquet(f)
    return manifest, frames


def observations_frame(manifest: dict[str, Any], meas: pd.DataFrame) -> pd.DataFrame:
    """Measurements in the exchange format, sizes from the manifest, FLOPs at each checkpoint."""
    sizes = pd.DataFrame(manifest["sizes"]).set_index("model")
    df = meas.copy()
    df["family"] = manifest["family"]
    for col in ("n_params", "n_params_nonembed"):
        df[col] = df["model"].map(sizes[col]).astype(float)
    final_tokens = df["model"].map(sizes["n_tokens"]).astype(float)
    df["flops"] = df["model"].map(sizes["flops"]).astype(float) * df["n_tokens"] / final_tokens
    df["release_date"] = None
    cols = ["model", "family", "n_params", "n_params_nonembed", "n_tokens", "flops"]
    cols += ["release_date", "checkpoint_step", "benchmark", "metric", "value", "stderr", "source"]
    return df[cols]


def import_ladder(session: Session, path: Path | None = None) -> dict[str, Any]:
    """Load one exported ladder; returns the measurement report plus per-item counts."""
    path = Path(path or DEFAULT_DIR)
    manifest, f = read_reference(path)
    report = load_observations(
        session, observations_frame(manifest, f["measurements"]), source="capcast-ladder"
    ).to_dict()
    from db.models import ModelFamily

    fam = session.scalars(select(ModelFamily).where(ModelFamily.name == manifest["family"])).one()
    if fam.recipe is None:
        fam.recipe = manifest["config"]
    items = f["items"]
    bench_ids: dict[str, int] = {}
    item_ids: dict[tuple[str, str], int] = {}
    n_items = 0
    for bench_key, g in items.groupby("benchmark", sort=True):
        bname = str(bench_key)
        b = R.get_or_create_benchmark(
            session, name=bname, kind=str(g["kind"].iat[0]), n_items=len(g)
        )
        bench_ids[bname] = b.id
        rows = [
            R.ItemRow(
                key=str(r["item"]),
                prompt=str(r["prompt"]),
                choices=_json(r["choices"]),
                answer=_none(r["answer"]),
                meta={"doc": {"meta": _json(r["meta"])}},
            )
            for r in g.to_dict("records")
        ]
        ids = R.upsert_items(session, b.id, rows)
        item_ids |= {(bname, k): v for k, v in ids.items()}
        n_items += len(rows)
    choices = {
        _key(key): g.sort_values("choice_index")
        for key, g in f["choices"].groupby(["model", "checkpoint_step", "benchmark", "item"])
    }
    counts = {"runs": 0, "item_results_inserted": 0, "choice_scores": 0}
    keys = ["model", "checkpoint_step", "benchmark", "mode", "config_hash"]
    for key, g in f["results"].groupby(keys, sort=True):
        model, step, bname, mode, chash = _key(key)
        m = R.get_or_create_model(session, name=str(model), uri=None)
        run = R.get_or_create_run(
            session,
            model_id=m.id,
            benchmark_id=bench_ids[bname],
            config={
                "mode": mode,
                "imported_from": "ladder",
                "model": {"uri": f"ladder:{model}/step-{int(step)}"},
                "checkpoint_step": int(step),
            },
            config_hash=str(chash),
            engine=str(g["engine"].iat[0]),
            engine_version=str(g["engine_version"].iat[0]),
            checkpoint_step=int(step),
            n_tokens=_none(g["n_tokens"].iat[0]) if "n_tokens" in g else None,
        )
        run.status = "done"
        counts["runs"] += 1
        for r in g.to_dict("records"):
            cs = choices.get((model, step, bname, r["item"]))
            crow = (
                []
                if cs is None
                else [
                    R.ChoiceRow(
                        choice_index=int(c["choice_index"]),
                        logprob_sum=float(c["logprob_sum"]),
                        n_tokens=_none(c["n_tokens_choice"]),
                        n_bytes=_none(c["n_bytes"]),
                        n_chars=_none(c["n_chars"]),
                        is_greedy=_none(c["is_greedy"]),
                        is_correct=bool(c["is_correct"]),
                    )
                    for c in cs.to_dict("records")
                ]
            )
            result = {
                "n_samples": int(r["n_samples"]),
                "n_pass": int(r["n_pass"]),
                "stop_reason": _none(r["stop_reason"]),
                "greedy_correct": _none(r["greedy_correct"]),
                "estimate": _none(r["estimate"]),
                "estimates": _json(r["estimates"]),
            }
            inserted = R.write_item_result(
                session,
                run_id=run.id,
                item_id=item_ids[(str(bname), str(r["item"]))],
                result=result,
                choices=crow,
            )
            counts["item_results_inserted"] += int(inserted)
            counts["choice_scores"] += len(crow) if inserted else 0
    session.flush()
    return report | counts | {"items": n_items, "path": str(path)}
