"""Open LLM Leaderboard data from the Sloth repository (felipemaiapolo/sloth): the curated
family/size table and the raw leaderboard dumps.

- ``data_v1.csv`` / ``data_v2.csv`` (curated, ~190 models): model and family as given, n_params =
  ``#Params (B)``·1e9, n_tokens = ``Pretraining Data Size (T)``·1e12, flops = ``FLOPs (1E21)``·1e21;
  every score column is a benchmark of that name with metric ``score`` (0..1 as published),
  ``Arena-Elo`` metric ``elo``, ``MTBench`` metric ``score``; the benchmark registry then names
  the metric (db/benchmarks.yaml). The Leaderboard v2 columns IFEval, BBH, MATH Lvl 5, GPQA, MUSR
  and MMLU-PRO are raw accuracies rounded to 2 places, not the leaderboard's normalised score
  (bloom-1b1's BBH 0.31 is the dump's ``BBH Raw`` 0.31, not its ``BBH`` 4.04), so they are stored
  as metric ``acc``, beside the dumps' ``<X> Raw`` rows. The ``date`` column is a hub date, not a
  release date, so it is not used as one.
- ``open-llm-leaderboard_old.csv`` (v1, 7,169 rows) and ``_new.csv`` (v2, 729 rows): model = HF repo
  id, benchmarks ARC, HellaSwag, ... (v1) and IFEval, BBH, ... (v2) with metric ``score`` = the
  published percentage / 100 (v2's ``<X> Raw`` columns become metric ``acc`` of benchmark X);
  the average is ``openllm_v1_average`` / ``openllm_v2_average``. A model evaluated several times
  (float16 and bfloat16 submissions) keeps its most recent submission only; the count dropped is
  in ``df.attrs['notes']``. ``#Params (B)`` of 0 means unknown.

Sources are the file names, so the same model in two files gives two measurements. Where files
disagree about a model's size (rounded counts), the first file in the order above wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observations import _read_csv, validate_observations

SOURCE = "sloth-openllm"
CURATED = ("data_v1.csv", "data_v2.csv")
DUMPS = {"open-llm-leaderboard_old.csv": "openllm_v1", "open-llm-leaderboard_new.csv": "openllm_v2"}
_CURATED_META = {
    "Unnamed: 0",
    "Model",
    "Family",
    "Family2",
    "Instruct",
    "date",
    "#Params (B)",
    "Pretraining Data Size (T)",
    "FLOPs (1E21)",
    "Upload To Hub Date",
}
_V1 = ("ARC", "HellaSwag", "MMLU", "TruthfulQA", "Winogrande", "GSM8K")
_V2 = ("IFEval", "BBH", "MATH Lvl 5", "GPQA", "MUSR", "MMLU-PRO")


def _num(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    """Numbers of one column; a non-number raises naming the line."""
    text = df[col].str.strip()
    vals = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = vals.isna() & (text != "")
    if bad.any():
        line = int(df.index[bad.to_numpy()][0])
        raise ImportValidationError(str(path), line, col, "a number", df[col][bad].iloc[0])
    return vals.astype(float)


def _need(path: Path, df: pd.DataFrame, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ImportValidationError(str(path), 1, missing[0], "this column", "missing")


def _melt(
    df: pd.DataFrame, path: Path, scores: dict[str, tuple[str, str, float]], base: dict[str, Any]
) -> pd.DataFrame:
    """Long rows from wide score columns: column -> (benchmark, metric, scale)."""
    parts = []
    for col, (bench, metric, scale) in scores.items():
        vals = _num(df, col, path)
        keep = vals.notna().to_numpy()
        part = pd.DataFrame({k: np.asarray(v)[keep] for k, v in base.items()}, index=df.index[keep])
        part["benchmark"], part["metric"], part["value"] = (
            bench,
            metric,
            vals[keep].to_numpy() * scale,
        )
        part["_file"] = str(path)
        parts.append(part)
    return pd.concat(parts) if parts else pd.DataFrame()


def _curated(path: Path) -> pd.DataFrame:
    df = _read_csv(path)
    _need(path, df, ("Model", "Family", "#Params (B)"))
    base = {
        "model": df["Model"].str.strip().to_numpy(),
        "family": df["Family"].str.strip().replace("", None).to_numpy(),
        "n_params": (_num(df, "#Params (B)", path) * 1e9).to_numpy(),
        "n_tokens": (_num(df, "Pretraining Data Size (T)", path) * 1e12).to_numpy()
        if "Pretraining Data Size (T)" in df
        else np.nan,
        "flops": (_num(df, "FLOPs (1E21)", path) * 1e21).to_numpy()
        if "FLOPs (1E21)" in df
        else np.nan,
        "source": f"{SOURCE}/{path.name}",
    }
    base = {k: (v if isinstance(v, np.ndarray) else np.full(len(df), v)) for k, v in base.items()}
    scores = {
        c: (c, "elo" if c == "Arena-Elo" else "score", 1.0)
        for c in df.columns
        if c not in _CURATED_META
    }
    return _melt(df, path, scores, base)


def _dump(path: Path, prefix: str) -> tuple[pd.DataFrame, int]:
    df = _read_csv(path)
    tasks = _V1 if prefix == "openllm_v1" else _V2
    date_col = "date" if "date" in df.columns else "Submission Date"
    _need(path, df, ("Model", "#Params (B)", date_col, *tasks))
    for col in (*tasks, "#Params (B)"):  # check every row, also those dropped below
        _num(df, col, path)
    df = df.assign(_line=df.index, Model=df["Model"].str.strip())
    latest = df.sort_values([date_col, "_line"]).drop_duplicates("Model", keep="last")
    dropped = len(df) - len(latest)
    df = latest.sort_values("_line").drop(columns="_line")
    params = _num(df, "#Params (B)", path) * 1e9
    base = {
        "model": df["Model"].to_numpy(),
        "n_params": params.where(params > 0).to_numpy(),
        "source": np.full(len(df), f"{SOURCE}/{path.name}"),
    }
    scores = {c: (c, "score", 0.01) for c in tasks}
    avg = next((c for c in df.columns if c.startswith("Average")), None)
    if avg:
        scores[avg] = (f"{prefix}_average", "score", 0.01)
    scores |= {f"{c} Raw": (c, "acc", 1.0) for c in tasks if f"{c} Raw" in df.columns}
    return _melt(df, path, scores, base), dropped


def registry_sources(sources: pd.Series) -> pd.Series:
    """The benchmark registry's source of each row: ``sloth`` (curated tables), ``openllm_v1`` or
    ``openllm_v2`` (the leaderboard dumps), read off the row's source file name."""
    by_file = {f"{SOURCE}/{name}": prefix for name, prefix in DUMPS.items()}
    return sources.map(lambda s: by_file.get(str(s), "sloth"))


def sloth_observations(directory: str | Path, *, dumps: bool = True) -> pd.DataFrame:
    """Curated tables and (``dumps=True``) the raw leaderboard dumps as validated observations."""
    directory = Path(directory)
    frames, notes = [], []
    for name in CURATED:
        path = directory / name
        if not path.is_file():
            raise ImportValidationError(
                str(path), None, None, "this sloth-openllm file", "no such file"
            )
        frames.append(_curated(path))
    if dumps:
        for name, prefix in DUMPS.items():
            path = directory / name
            if not path.is_file():
                raise ImportValidationError(
                    str(path), None, None, "this sloth-openllm file", "no such file"
                )
            frame, dropped = _dump(path, prefix)
            frames.append(frame)
            notes.append(f"{name}: kept the latest of repeated submissions; dropped {dropped} rows")
    df = pd.concat(frames)
    df.index.name = "line"
    for col in ("family", "n_params", "n_tokens", "flops"):
        if col in df:
            df[col] = df.groupby("model", sort=False)[col].transform("first")
    out = validate_observations(df, str(directory))
    out.attrs["notes"] = notes
    return out
