"""One function per importer: read, validate, load in ONE transaction, return a report dict.

The CLI, the REST API and jobs call these; each either changes the database as its report says
or, on any error, not at all (``db.session.transaction`` rolls back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from db import model_identity
from db.benchmark_registry import registry, task_of
from db.errors import ImportValidationError
from db.importers import benchbench, epoch, gadre, lmeval, lmeval_db, pythia, pythia_sampling, sloth
from db.importers.download import resolve_dataset
from db.loader import LoadReport, load_observations
from db.models import Model
from db.observations import read_observations
from db.session import transaction


def _report(report: LoadReport, notes: list[str] | None = None) -> dict[str, Any]:
    out = report.to_dict()
    out["notes"] = [*out.get("notes", []), *(notes or [])]
    return out


def _canonical(
    df: pd.DataFrame, source: str | pd.Series, *, shots: pd.Series | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Benchmark names through the registry; what matched nothing goes into the report."""
    mapped, unmatched = registry().map_observations(df, source, shots=shots)
    mapped.attrs = df.attrs
    extra: dict[str, Any] = {"benchmarks_unmatched": unmatched}
    return mapped, extra


def _load_joined(
    session: Session,
    df: pd.DataFrame,
    *,
    source: str,
    identity_source: str,
    extra: dict[str, Any],
    **kwargs: Any,
) -> LoadReport:
    """Join model names to stored models, load, and note which source filled which value."""
    attrs = df.attrs
    df, joined = model_identity.join_models(session, df, source=identity_source)
    df.attrs = attrs
    names = sorted(set(df["model"].astype(str)))
    before = model_identity.snapshot(session, names)
    kwargs["benchmark_attrs"] = {
        **registry().benchmark_attrs(set(df["benchmark"].astype(str))),
        **(kwargs.get("benchmark_attrs") or {}),
    }
    report = load_observations(session, df, source=source, **kwargs)
    per_model = df.drop_duplicates("model").set_index("model")["source"].fillna(source)
    sources = {str(k): str(v) for k, v in per_model.items()}
    written = model_identity.record_provenance(session, before, sources)
    extra.update(joined.to_dict())
    extra["model_values_sourced"] = written
    return report


def _with(out: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out.update(extra)
    n_un, n_j = len(extra.get("benchmarks_unmatched", [])), len(extra.get("models_joined", []))
    out["notes"].append(
        f"benchmark registry: {n_un} source names matched no canonical benchmark (kept as they are, "
        f"listed in benchmarks_unmatched); model identity: {n_j} names joined to stored models, "
        f"{len(extra.get('models_ambiguous', []))} ambiguous keys left apart"
    )
    return out


def import_observations(
    engine: Engine, path: str | Path, *, source: str | None = None, create_benchmarks: bool = True
) -> dict[str, Any]:
    """An exchange-format file (CSV, Parquet, JSON lines); rows without a source get ``source``
    (default: the file name)."""
    df = read_observations(path)
    with transaction(engine) as session:
        report = load_observations(
            session, df, source=source or Path(path).name, create_benchmarks=create_benchmarks
        )
    return _report(report)


def import_gadre(engine: Engine, directory: str | Path | None = None) -> dict[str, Any]:
    directory = resolve_dataset("gadre-overtraining", directory)
    df = gadre.gadre_observations(directory)
    with transaction(engine) as session:
        report = load_observations(
            session, df, source=gadre.SOURCE, benchmark_attrs=gadre.gadre_benchmarks(directory)
        )
    return _report(report)


def import_pythia(engine: Engine, directory: str | Path | None = None) -> dict[str, Any]:
    df = pythia.pythia_observations(resolve_dataset("pythia-evals", directory))
    df, extra = _canonical(df, "pythia")
    with transaction(engine) as session:
        # keep: a leaderboard import before may have stored rounded sizes of the same models
        report = _load_joined(
            session,
            df,
            source=pythia.SOURCE,
            identity_source=pythia.SOURCE,
            extra=extra,
            model_conflicts="keep",
        )
    return _with(_report(report), extra)


def import_pythia_sampling(engine: Engine, directory: str | Path | None = None) -> dict[str, Any]:
    """Per-problem GSM8K sampling results of 81 Pythia checkpoints into ``item_result``."""
    directory = Path(resolve_dataset("pythia-sampling", directory))
    with transaction(engine) as session:
        report = pythia_sampling.import_pythia_sampling(session, directory)
    return report.to_dict()


def import_benchbench(engine: Engine, directory: str | Path | None = None) -> dict[str, Any]:
    directory = resolve_dataset("benchbench", directory)
    df = benchbench.benchbench_observations(directory)
    attrs = benchbench.benchbench_benchmarks(benchbench.benchbench_scores(directory))
    df, extra = _canonical(df, "benchbench")
    with transaction(engine) as session:
        report = _load_joined(
            session,
            df,
            source="benchbench",
            identity_source="benchbench",
            extra=extra,
            benchmark_attrs=attrs,
            model_conflicts="keep",
        )
    return _with(_report(report, df.attrs.get("notes")), extra)


def import_sloth(
    engine: Engine, directory: str | Path | None = None, *, dumps: bool = True
) -> dict[str, Any]:
    df = sloth.sloth_observations(resolve_dataset("sloth-openllm", directory), dumps=dumps)
    df, extra = _canonical(df, sloth.registry_sources(df["source"]))
    attrs = {
        b: {"kind": "leaderboard"} for b in df["benchmark"].unique() if task_of(str(b)) is None
    }
    with transaction(engine) as session:
        report = _load_joined(
            session,
            df,
            source=sloth.SOURCE,
            identity_source=sloth.SOURCE,
            extra=extra,
            benchmark_attrs=attrs,
            model_conflicts="keep",
        )
    return _with(_report(report, df.attrs.get("notes")), extra)


def import_epoch(engine: Engine, directory: str | Path | None = None) -> dict[str, Any]:
    """Scores and release dates; then release dates of OTHER stored models whose names match an
    Epoch model version (case, org prefix and separators ignored) where theirs is missing."""
    directory = resolve_dataset("epoch-benchmarks", directory)
    df = epoch.epoch_observations(directory)
    own = set(df["model"])
    df, extra = _canonical(df, "epoch", shots=df["shots"])
    dates = epoch.epoch_release_dates(directory).dropna(subset=["release_date"])
    with transaction(engine) as session:
        report = _load_joined(
            session,
            df,
            source=epoch.SOURCE,
            identity_source=epoch.SOURCE,
            extra=extra,
            model_conflicts="keep",
        )
        matched, unmatched = _join_release_dates(session, dates, own)
    out = _with(_report(report, df.attrs.get("notes")), extra)
    out["release_dates_matched"] = matched
    out["release_dates_unmatched"] = unmatched
    out["notes"].append(
        f"release dates: {len(matched)} other stored models matched by name, "
        f"{len(unmatched)} Epoch model versions matched none"
    )
    return out


def _join_release_dates(
    session: Session, dates: pd.DataFrame, own: set[str]
) -> tuple[list[dict[str, str]], list[str]]:
    by_norm: dict[str, tuple[str, Any]] = {}
    ambiguous: set[str] = set()
    for version, date in zip(dates["model_version"], dates["release_date"], strict=True):
        key = epoch.normalise_name(version)
        if key in by_norm and by_norm[key][1] != date:
            ambiguous.add(key)
        by_norm.setdefault(key, (version, date))
    rows = session.execute(select(Model.id, Model.name, Model.release_date)).all()
    matched: list[dict[str, str]] = []
    updates: list[dict[str, Any]] = []
    used: set[str] = set()
    for model_id, name, release in rows:
        key = epoch.normalise_name(name)
        if name in own or key not in by_norm or key in ambiguous:
            continue
        version, date = by_norm[key]
        used.add(version)
        matched.append({"model": name, "model_version": version, "release_date": str(date.date())})
        if release is None:
            updates.append({"id": model_id, "release_date": date.date()})
    if updates:
        session.execute(update(Model), updates)
    unmatched = sorted(v for v, _ in by_norm.values() if v not in used)
    return matched, unmatched


def import_lmeval(
    engine: Engine, path: str | Path, *, model: str | None = None, family: str | None = None
) -> dict[str, Any]:
    """Results JSONs into measurements, samples JSONLs into items, a run and choice scores.

    A samples file takes its model and n-shot from the results JSON of the same run (same date
    suffix) unless ``model`` is given.
    """
    results, samples = lmeval.find_outputs(path)
    metas = {}
    for r in results:
        m = lmeval.RESULTS_RE.match(r.name)
        metas[m.group("date") if m else r.name] = (r, lmeval.results_meta(r))
    frames = [lmeval.results_observations(r, model=model, family=family) for r in results]
    unmatched: set[str] = set()
    for i, frame in enumerate(frames):
        frames[i], extra = _canonical(frame, "lm_eval")
        unmatched.update(extra["benchmarks_unmatched"])
    parsed = []
    for s in samples:
        m = lmeval.SAMPLES_RE.match(s.name)
        task, date = (m.group("task"), m.group("date")) if m else (s.stem, "")
        _rfile, meta = metas.get(date, (None, {}))
        name = model or (
            f"{meta['model']}@{meta['revision']}" if meta.get("revision") else meta.get("model")
        )
        if not name:
            raise ImportValidationError(
                str(s), None, None, "a results JSON of the same run, or --model", "neither"
            )
        n_shot = (meta.get("n_shot") or {}).get(task, 0)
        config = {
            "task": task,
            "n_shot": n_shot,
            "version": (meta.get("versions") or {}).get(task),
            "model_args": (meta.get("config") or {}).get("model_args"),
            "revision": meta.get("revision"),
            "lm_eval_version": meta.get("lm_eval_version"),
            "source_file": s.name,
        }
        bench = lmeval.benchmark_name(task, n_shot)
        hit = registry().resolve("lm_eval", bench, "acc")
        bench = hit.benchmark if hit else bench
        parsed.append((s, lmeval.read_samples(s), name, bench, config))
    out: dict[str, Any] = {
        "measurements": [],
        "samples": [],
        "benchmarks_unmatched": sorted(unmatched),
    }
    with transaction(engine) as session:
        for df in frames:
            rep = load_observations(session, df, source=str(df["source"].iat[0]))
            out["measurements"].append(rep.to_dict())
        for s, items, name, bench, config in parsed:
            samples_rep = lmeval_db.load_samples(
                session,
                items,
                model=name,
                benchmark=bench,
                config=config,
                file=str(s),
                family=family,
            )
            out["samples"].append(samples_rep.to_dict())
    return out
