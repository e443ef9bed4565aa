"""Epoch AI's technical-report benchmark scores and model-version release dates
(epoch-research/benchmark-stitching). Files are UTF-8 with a byte-order mark.

- Model = the ``Model version`` id (the join key to ``model_versions.csv``), release_date from
  ``model_versions.csv``; no sizes (the data has none). Rows without a model version are skipped.
- Benchmark = the file's name after ``external_benchmark_`` (``arc_ai2`` gives ``arc_challenge``
  and ``arc_easy``, ``anli`` its overall ``Score`` only), metric ``acc`` = the percentage / 100.
- De-duplication, deliberately: a model version often has several rows for one benchmark
  (different papers, shot counts, leaderboards). We keep ONE per (model version, benchmark):
  rows from the model's own reports first (any source not named like a leaderboard or HELM),
  then the first row in file order; shots, source and link travel as the measurement's
  ``extra``. The number dropped is in ``df.attrs['notes']``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from db.errors import ImportValidationError
from db.observations import _read_csv, validate_observations

SOURCE = "epoch-benchmarks"
PREFIX = "external_benchmark_"
_META = {"id", "Name", "Model version", "Shots", "Source", "Source link", "Notes", "R1", "R2", "R3"}
_RENAME = {"Challenge score": "arc_challenge", "Easy score": "arc_easy"}
_LEADERBOARD = re.compile(r"leaderboard|helm|crfm|open llm", re.IGNORECASE)


def _percent(text: pd.Series, path: Path, column: str) -> pd.Series:
    stripped = text.str.strip().str.rstrip("%").str.strip()
    vals = pd.to_numeric(stripped.where(stripped != ""), errors="coerce")
    bad = vals.isna() & (stripped != "")
    if bad.any():
        line = int(text.index[bad.to_numpy()][0])
        raise ImportValidationError(
            str(path), line, column, "a percentage like 45.3%", text[bad].iloc[0]
        )
    return vals / 100.0


def epoch_release_dates(directory: str | Path) -> pd.DataFrame:
    """``model_versions.csv`` as [model_version, model, release_date] (dates may be NaT)."""
    path = Path(directory) / "model_versions.csv"
    if not path.is_file():
        raise ImportValidationError(
            str(path), None, None, "the file model_versions.csv", "no such file"
        )
    df = _read_csv(path)
    for col in ("id", "Model", "Version release date"):
        if col not in df.columns:
            raise ImportValidationError(str(path), 1, col, "this column", "missing")
    text = df["Version release date"].str.strip()
    dates = pd.to_datetime(text.where(text != ""), errors="coerce", format="ISO8601")
    bad = dates.isna() & (text != "")
    if bad.any():
        line = int(df.index[bad.to_numpy()][0])
        raise ImportValidationError(
            str(path), line, "Version release date", "a date like 2024-05-31", text[bad].iloc[0]
        )
    return pd.DataFrame(
        {
            "model_version": df["id"].str.strip().to_numpy(),
            "model": df["Model"].str.strip().to_numpy(),
            "release_date": dates.to_numpy(),
        }
    )


def _benchmark_rows(path: Path) -> pd.DataFrame:
    df = _read_csv(path)
    if "Model version" not in df.columns:
        raise ImportValidationError(str(path), 1, "Model version", "this column", "missing")
    name = path.stem[len(PREFIX) :]
    parts = []
    for col in df.columns:
        if col in _META:
            continue
        vals = _percent(df[col], path, col)
        part = pd.DataFrame(
            {
                "model": df["Model version"].str.strip(),
                "benchmark": _RENAME.get(col, name),
                "metric": "acc",
                "value": vals,
                "shots": df["Shots"].str.strip() if "Shots" in df else "",
                "report": df["Source"].str.strip() if "Source" in df else "",
                "link": df["Source link"].str.strip() if "Source link" in df else "",
                "_file": str(path),
            },
            index=df.index,
        )
        parts.append(part[part["value"].notna() & (part["model"] != "")])
    return pd.concat(parts) if parts else pd.DataFrame()


def epoch_observations(directory: str | Path) -> pd.DataFrame:
    """One score per (model version, benchmark) with its release date, as observations."""
    directory = Path(directory)
    files = sorted(directory.glob(f"{PREFIX}*.csv"))
    if not files:
        raise ImportValidationError(str(directory), None, None, f"{PREFIX}*.csv files", "none")
    df = pd.concat([_benchmark_rows(p) for p in files])
    df.index.name = "line"
    before = len(df)
    df = df.assign(_leaderboard=df["report"].str.contains(_LEADERBOARD), _order=range(len(df)))
    df = df.sort_values(["_leaderboard", "_order"], kind="stable")
    df = df[~df.duplicated(["model", "benchmark"], keep="first")].sort_values("_order")
    df = df.drop(columns=["_leaderboard", "_order"])
    dates = (
        epoch_release_dates(directory).drop_duplicates("model_version").set_index("model_version")
    )
    df["release_date"] = dates["release_date"].reindex(df["model"]).to_numpy()
    df["source"] = SOURCE
    unknown = sorted(set(df["model"]) - set(dates.index))
    out = validate_observations(df, str(directory))
    out.attrs["notes"] = [
        f"kept one score per (model version, benchmark), own reports before leaderboards; dropped {before - len(df)}",
        f"{len(unknown)} model versions not in model_versions.csv (no release date)",
    ]
    return out


def normalise_name(name: str) -> str:
    """``meta-llama/Llama-2-7b_hf`` -> ``llama-2-7b-hf``: case, org prefix and separators ignored."""
    base = name.strip().split("/")[-1].lower()
    return re.sub(r"[\s_.]+", "-", base)
