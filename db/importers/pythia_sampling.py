"""Per-problem sampling results of Pythia checkpoints on GSM8K (Schaeffer et al., ICML 2025).

``gsm8k_pass_at_k.parquet`` holds, per (checkpoint nickname, problem), the draws and the correct
draws at temperature > 0; its ``k == 1`` rows are the per-item pass rates (10,273 rows) and become
``item_result`` rows (``n_samples`` draws, ``n_pass`` correct). ``models_pythia.csv`` says which
model and revision each nickname is. Naming joins ``pythia-evals``: model ``pythia-1.4b`` (the
Hugging Face name), family ``pythia``, n_params = non-embedding + 2 x 50,304 x width (untied
embeddings; the exact count ``pythia-evals`` stores, where this file rounds to ``1.4B``),
checkpoint_step = the revision's step and n_tokens = step x 2,097,152 (what ``pythia-evals`` stores
for the same step; the file's ``Tokens`` rounds it, e.g. ``60B`` is step 30,000 = 62.9e9 tokens).
Benchmark ``gsm8k`` (generative), item key = the GSM8K test problem index; one ``eval_run`` per
model x checkpoint, mode ``samples`` (so the item rows read back as metric ``pass_rate``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db import results as R
from db.errors import ImportValidationError
from db.models import Benchmark, EvalRun, Item, Model, ModelFamily

SOURCE = "pythia-sampling"
RESULTS = "gsm8k_pass_at_k.parquet"
MODELS = "models_pythia.csv"
FAMILY = "pythia"
BENCHMARK = "gsm8k"
GSM8K_TEST_ITEMS = 1319
TOKENS_PER_STEP = 2_097_152  # Pythia's batch: 1,024 sequences x 2,048 tokens
VOCAB = 50_304  # Pythia's padded vocabulary; input and output embeddings are untied
ORIGIN = (
    "RylanSchaeffer/KoyejoLab-Large-How-Do-Language-Monkey-Power-Get-Their-Power"
    "@cd078aef2a13e4310fab204860b99c4c39c25d40"
)
#: The file's rounded token counts may differ from step x 2,097,152 by 4.9% (2M per step);
#: more than this means the nickname and the revision disagree.
TOKENS_TOLERANCE = 0.06
RESULT_COLUMNS = ("Model Nickname", "prompt_idx", "Num. Samples", "Num. Samples Correct", "k")
MODEL_COLUMNS = (
    "Model Nickname",
    "HuggingFace Path",
    "HuggingFace Revision",
    "Tokens",
    "Parameters",
    "Dimension",
    "Parameters Excluding Embeddings",
)


@dataclass
class SamplingReport:
    """What one import did; ``to_dict()`` is what ``capcast import pythia-sampling --json`` prints."""

    source: str = SOURCE
    rows: int = 0
    families_created: int = 0
    models_created: int = 0
    models_updated: int = 0
    benchmarks_created: int = 0
    runs_created: int = 0
    items_inserted: int = 0
    item_results_inserted: int = 0
    item_results_unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bad(path: Path, line: int | None, column: str | None, expected: str, got: Any) -> NoReturn:
    row = line - 1 if line is not None and line > 1 else None
    raise ImportValidationError(str(path), line, column, expected, got, row=row)


def _whole(df: pd.DataFrame, col: str, path: Path, *, positive: bool = False) -> pd.Series:
    """A column of non-negative (or positive) whole numbers; the first bad cell is an error."""
    vals = pd.to_numeric(df[col], errors="coerce").astype(float)
    bad = ~np.isfinite(vals) | (vals % 1 != 0) | (vals <= 0 if positive else vals < 0)
    if bad.any():
        pos = int(np.flatnonzero(np.asarray(bad))[0])
        what = "a positive whole number" if positive else "a non-negative whole number"
        _bad(path, int(df.index[pos]), col, what, df[col].iat[pos])
    return vals.astype("int64")


def read_models(directory: Path) -> pd.DataFrame:
    """One row per nickname: model name, step, tokens and sizes, validated (index = CSV line)."""
    path = directory / MODELS
    if not path.is_file():
        _bad(path, None, None, "the pythia-sampling models table", "no such file")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.index = np.arange(2, len(df) + 2)
    missing = [c for c in MODEL_COLUMNS if c not in df.columns]
    if missing:
        _bad(path, 1, missing[0], "this column in the header", None)
    dup = df["Model Nickname"].duplicated()
    if dup.any():
        line = int(df.index[dup.to_numpy()][0])
        _bad(path, line, "Model Nickname", "each nickname once", df.at[line, "Model Nickname"])
    hf = df["HuggingFace Path"].str.strip()
    ok = hf.str.fullmatch(r"EleutherAI/pythia-[0-9.]+[mb]")
    if not ok.all():
        line = int(df.index[~ok.to_numpy()][0])
        _bad(path, line, "HuggingFace Path", "EleutherAI/pythia-<size>", hf[line])
    rev = df["HuggingFace Revision"].str.strip()
    ok = rev.str.fullmatch(r"step[0-9]+")
    if not ok.all():
        line = int(df.index[~ok.to_numpy()][0])
        _bad(path, line, "HuggingFace Revision", "step<number>", rev[line])
    out = pd.DataFrame(index=df.index)
    out["nickname"] = df["Model Nickname"].str.strip()
    out["model"] = hf.str.split("/").str[1]
    out["step"] = rev.str.removeprefix("step").astype("int64")
    nonembed = _whole(df, "Parameters Excluding Embeddings", path, positive=True)
    width = _whole(df, "Dimension", path, positive=True)
    nominal_tokens = _whole(df, "Tokens", path, positive=True)
    out["n_params_nonembed"] = nonembed.astype(float)
    out["n_params"] = (nonembed + 2 * VOCAB * width).astype(float)
    out["n_tokens"] = (out["step"] * TOKENS_PER_STEP).astype(float)
    off = (out["n_tokens"] / nominal_tokens - 1).abs() > TOKENS_TOLERANCE
    if off.any():
        line = int(df.index[off.to_numpy()][0])
        _bad(path, line, "Tokens", f"about {out['n_tokens'].loc[line]:.4g} (the revision's step "
             f"x {TOKENS_PER_STEP:,})", df.at[line, "Tokens"])  # fmt: skip
    nominal = _whole(df, "Parameters", path, positive=True)
    off = (out["n_params"] / nominal - 1).abs() > 0.05
    if off.any():
        line = int(df.index[off.to_numpy()][0])
        _bad(path, line, "Parameters", f"about {out['n_params'].loc[line]:.4g} (non-embedding "
             f"+ 2 x {VOCAB:,} x Dimension)", df.at[line, "Parameters"])  # fmt: skip
    for col in ("n_params", "n_params_nonembed"):
        per_model = out.groupby("model")[col].nunique()
        if (per_model > 1).any():
            name = str(per_model.index[per_model.to_numpy() > 1][0])
            line = int(out.index[(out["model"] == name).to_numpy()][-1])
            _bad(path, line, "Parameters Excluding Embeddings", f"one size for {name}", "several")
    return out


def read_results(directory: Path, models: pd.DataFrame) -> pd.DataFrame:
    """The ``k == 1`` rows: nickname, item, n_samples, n_pass (index = the row's line, 2-based)."""
    path = directory / RESULTS
    if not path.is_file():
        _bad(path, None, None, "the pythia-sampling results (Parquet)", "no such file")
    try:
        df = pd.read_parquet(path, columns=list(RESULT_COLUMNS))
    except (ValueError, KeyError, OSError) as exc:  # pyarrow: not Parquet, or columns missing
        raise ImportValidationError(
            str(path), None, None, f"a Parquet file with columns {', '.join(RESULT_COLUMNS)}",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        ) from None  # fmt: skip
    df.index = np.arange(2, len(df) + 2)  # Parquet rows counted as if a header were line 1
    k = _whole(df, "k", path, positive=True)
    df = df.loc[(k == 1).to_numpy()]
    if df.empty:
        _bad(path, None, "k", "rows with k == 1 (the per-item pass rates)", "none")
    known = df["Model Nickname"].isin(models["nickname"])
    if not known.all():
        line = int(df.index[~known.to_numpy()][0])
        _bad(path, line, "Model Nickname", f"a nickname listed in {MODELS}",
             df.at[line, "Model Nickname"])  # fmt: skip
    out = pd.DataFrame(index=df.index)
    out["nickname"] = df["Model Nickname"]
    out["item"] = _whole(df, "prompt_idx", path).astype(str)
    out["n_samples"] = _whole(df, "Num. Samples", path, positive=True)
    out["n_pass"] = _whole(df, "Num. Samples Correct", path)
    over = out["n_pass"] > out["n_samples"]
    if over.any():
        line = int(out.index[over.to_numpy()][0])
        _bad(path, line, "Num. Samples Correct",
             f"at most Num. Samples ({out['n_samples'].loc[line]})", out.at[line, "n_pass"])  # fmt: skip
    dup = out.duplicated(["nickname", "item"], keep=False)
    clash = dup & ~out.duplicated(["nickname", "item", "n_samples", "n_pass"], keep=False)
    if clash.any():
        line = int(out.index[clash.to_numpy()][-1])
        _bad(path, line, "Num. Samples", f"one result per nickname and prompt_idx (k == 1); "
             f"{out.at[line, 'nickname']!s} problem {out.at[line, 'item']!s} is given twice",
             out.at[line, "n_samples"])  # fmt: skip
    return out.drop_duplicates(["nickname", "item"])


def _family_id(session: Session, report: SamplingReport) -> int:
    fam = session.scalars(select(ModelFamily).where(ModelFamily.name == FAMILY)).one_or_none()
    if fam is None:
        fam = ModelFamily(name=FAMILY)
        session.add(fam)
        session.flush()
        report.families_created = 1
    return fam.id


def _models(
    session: Session, models: pd.DataFrame, used: set[str], path: Path, report: SamplingReport
) -> dict[str, int]:
    """Rows of the models with results (nicknames ``used``): new ones created at their final
    checkpoint's tokens, missing attributes filled; a different stored family or size is an error
    at the models table's line (n_tokens may differ: checkpoints carry their own)."""
    fam_id = _family_id(session, report)
    final = models.sort_values("step").groupby("model").tail(1)
    final = final[final["model"].isin(models.loc[models["nickname"].isin(used), "model"])]
    stored = {
        m.name: m for m in session.scalars(select(Model).where(Model.name.in_(final["model"])))
    }
    ids: dict[str, int] = {}
    for line, row in final.iterrows():
        wanted = {"family_id": fam_id, "n_params": row["n_params"],
                  "n_params_nonembed": row["n_params_nonembed"], "n_tokens": row["n_tokens"]}  # fmt: skip
        m = stored.get(row["model"])
        if m is None:
            m = Model(name=row["model"], **wanted)
            session.add(m)
            report.models_created += 1
        else:
            changed = False
            for attr, value in wanted.items():
                old = getattr(m, attr)
                if old is None:
                    setattr(m, attr, value)
                    changed = True
                elif attr != "n_tokens" and not np.isclose(old, value, rtol=1e-9, atol=0):
                    column = {"family_id": "HuggingFace Path", "n_params": "Parameters"}.get(
                        attr, "Parameters Excluding Embeddings"
                    )
                    if attr == "family_id":
                        had = m.family.name if m.family is not None else old
                        expected, shown = f"family {had!r} as already stored", f"family {FAMILY!r}"
                    else:
                        expected, shown = f"{attr} {old:.10g} as already stored", f"{value:.10g}"
                    _bad(path, int(str(line)), column, f"{expected} for model {m.name!r}", shown)
            report.models_updated += int(changed)
        session.flush()
        ids[row["model"]] = m.id
    return ids


def _items(
    session: Session, bench_id: int, keys: list[str], report: SamplingReport
) -> dict[str, int]:
    """Item ids by key (the GSM8K test index); missing items inserted (no prompt: the data set
    has none, and lm-eval's doc_hash needs the document)."""
    stmt = select(Item.key, Item.id).where(Item.benchmark_id == bench_id, Item.key.in_(keys))
    ids = dict(session.execute(stmt).tuples().all())
    new = [{"benchmark_id": bench_id, "key": k, "meta": {"split": "test", "doc_id": int(k)}}
           for k in keys if k not in ids]  # fmt: skip
    if new:
        session.execute(insert(Item), new)
        ids = dict(session.execute(stmt).tuples().all())
        report.items_inserted = len(new)
    return ids


def _run_id(
    session: Session,
    nick: str,
    row: pd.Series,
    model_id: int,
    bench_id: int,
    report: SamplingReport,
) -> int:
    """The checkpoint's run, found again by its config hash (created, status done, if new)."""
    config = {
        "mode": "samples",
        "imported_from": SOURCE,
        "origin": ORIGIN,
        "nickname": nick,
        "model": {"uri": f"EleutherAI/{row['model']}", "revision": f"step{int(row['step'])}"},
        "checkpoint_step": int(row["step"]),
    }
    chash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    found = session.scalars(
        select(EvalRun.id).where(EvalRun.model_id == model_id, EvalRun.benchmark_id == bench_id,
                                 EvalRun.config_hash == chash)
    ).first()  # fmt: skip
    if found is not None:
        return int(found)
    run = R.get_or_create_run(
        session, model_id=model_id, benchmark_id=bench_id, config=config, config_hash=chash,
        engine=SOURCE, engine_version=ORIGIN.rsplit("@", 1)[1][:12],
        checkpoint_step=int(row["step"]), n_tokens=float(row["n_tokens"]),
    )  # fmt: skip
    R.set_run_status(session, run.id, "done")
    report.runs_created += 1
    return run.id


def import_pythia_sampling(session: Session, directory: Path) -> SamplingReport:
    """Load both files in the caller's transaction; the same files again change nothing."""
    models = read_models(directory)
    results = read_results(directory, models)
    report = SamplingReport(rows=len(results))
    used = set(results["nickname"])
    model_ids = _models(session, models, used, directory / MODELS, report)
    had_bench = session.scalars(select(Benchmark.id).where(Benchmark.name == BENCHMARK)).first()
    bench = R.get_or_create_benchmark(
        session, name=BENCHMARK, kind="generative", n_items=GSM8K_TEST_ITEMS
    )
    report.benchmarks_created = int(had_bench is None)
    item_ids = _items(session, bench.id, sorted(results["item"].unique(), key=int), report)
    by_nick = models.set_index("nickname")
    for nick, group in results.groupby("nickname", sort=True):
        row = by_nick.loc[str(nick)]
        assert isinstance(row, pd.Series), "nicknames are unique (read_models checks)"
        model_id = model_ids[str(row["model"])]
        run_id = _run_id(session, str(nick), row, model_id, bench.id, report)
        entries = [
            R.ResultIn(item_ids[item], {"n_samples": int(n), "n_pass": int(s)})
            for item, n, s in zip(group["item"], group["n_samples"], group["n_pass"], strict=True)
        ]
        try:
            counts = R.write_item_results(session, run_id, entries, strict=True)
        except R.ResultConflictError as exc:
            item = next(k for k, v in item_ids.items() if v == exc.item_id)
            line = int(group.index[(group["item"] == item).to_numpy()][0])
            column = "Num. Samples" if exc.field == "n_samples" else "Num. Samples Correct"
            raise ImportValidationError(
                str(directory / RESULTS), line, column,
                f"{exc.stored} as already stored for {nick}, problem {item}", exc.given,
                row=line - 1, detail="a stored result is never overwritten",
            ) from None  # fmt: skip
        report.item_results_inserted += counts.results_inserted
        report.item_results_unchanged += counts.results_unchanged
    session.flush()
    return report
