"""IBM BenchBench leaderboard tables (``benchmarks/``, ``benchmarks_old/``, ``historical/``).

Two layouts (PROVENANCE.md): *wide* (first column the model, one column per scenario) and *long*
(``model, score, scenario, source, ...``). Each scenario becomes a benchmark of kind
``leaderboard`` with metric ``score`` in the leaderboard's native scale; ``higher_is_better`` is
False for the files the reference package lists as lower-is-better. Model names are kept as
each leaderboard spells them, without a family (one model name appears on many leaderboards).
The measurement source is ``benchbench/<folder>/<file>`` plus ``:<snapshot>`` for long files,
whose rows carry their own snapshot id. Repeated (model, scenario, source) rows keep the highest
score, as the reference package does; the number dropped is reported in ``df.attrs['notes']``.
``-`` or an empty cell means missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observations import _read_csv, validate_observations

FOLDERS = ("benchmarks", "benchmarks_old", "historical")
#: ``src/bat/assets/lower_is_better_benchmarks.txt`` at the pinned commit (PROVENANCE.md).
LOWER_IS_BETTER = ("helm_airbench_240916", "llm_trustworthy_241001")
_MISSING = {"", "-", "nan", "NaN"}
_LONG_META = {"Unnamed: 0", "model", "score", "scenario", "source", "aggragated_from", "tag"}


def _scores(text: pd.Series, path: Path, column: str) -> pd.Series:
    stripped = text.str.strip()
    missing = stripped.isin(_MISSING)
    vals = pd.to_numeric(stripped.where(~missing), errors="coerce")
    bad = vals.isna() & ~missing
    bad |= ~np.isfinite(vals.fillna(0))
    if bad.any():
        line = int(text.index[bad.to_numpy()][0])
        raise ImportValidationError(
            str(path), line, column, "a finite number, '-' or an empty cell", text[bad].iloc[0]
        )
    return vals.astype(float)


def _read_table(path: Path, folder_root: Path) -> pd.DataFrame:
    df = _read_csv(path, pad_short=True)
    rel = path.relative_to(folder_root).as_posix()
    hib = not any(path.stem.startswith(p) for p in LOWER_IS_BETTER)
    if {"model", "score", "scenario"} <= set(df.columns):
        src = (
            "benchbench/" + rel + ":" + df["source"].str.strip()
            if "source" in df
            else "benchbench/" + rel
        )
        out = pd.DataFrame(
            {
                "scenario": df["scenario"].str.strip(),
                "model": df["model"].str.strip(),
                "score": _scores(df["score"], path, "score"),
                "source_file": src,
            },
            index=df.index,
        )
    else:
        first = df.columns[0]
        if first not in ("model", "llm_model"):
            raise ImportValidationError(str(path), 1, first, "a first column 'model'", first)
        parts = []
        for col in df.columns[1:]:
            part = pd.DataFrame(
                {
                    "scenario": col.strip(),
                    "model": df[first].str.strip(),
                    "score": _scores(df[col], path, col),
                    "source_file": "benchbench/" + rel,
                },
                index=df.index,
            )
            parts.append(part)
        out = pd.concat(parts)
    out["higher_is_better"] = hib
    out["_file"] = str(path)
    empty = out["model"].eq("") | out["scenario"].eq("")
    if empty.any():
        col = "model" if out["model"][empty].eq("").any() else "scenario"
        raise ImportValidationError(
            str(path), int(out.index[empty.to_numpy()][0]), col, "a name", "empty"
        )
    return out.dropna(subset=["score"])


def benchbench_scores(directory: str | Path) -> pd.DataFrame:
    """Every score of every leaderboard table: scenario, model, score, source_file, higher_is_better."""
    df = _collect(directory)
    notes = df.attrs["notes"]
    out = df.drop(columns="_file").reset_index(drop=True)
    out.attrs["notes"] = notes
    return out


def _collect(directory: str | Path) -> pd.DataFrame:
    directory = Path(directory)
    files = [p for folder in FOLDERS for p in sorted((directory / folder).glob("*.csv"))]
    if not files:
        raise ImportValidationError(
            str(directory), None, None, "leaderboard CSVs in " + ", ".join(FOLDERS), "none"
        )
    frames = [_read_table(p, directory) for p in files]
    df = pd.concat(frames)
    df.index.name = "line"
    before = len(df)
    df = df.sort_values("score", ascending=False, kind="stable")
    df = df[~df.duplicated(["scenario", "model", "source_file"], keep="first")]
    df = df.sort_values(["_file", "line"], kind="stable")
    df.attrs["notes"] = [
        f"kept the highest of repeated (model, scenario, source) scores; dropped {before - len(df)}"
    ]
    return df


def benchbench_observations(directory: str | Path) -> pd.DataFrame:
    """The scores as validated observations (benchmark = scenario, metric ``score``)."""
    scores = _collect(directory)
    obs = pd.DataFrame(
        {
            "model": scores["model"],
            "benchmark": scores["scenario"],
            "metric": "score",
            "value": scores["score"],
            "source": scores["source_file"],
            "_file": scores["_file"],
        }
    )
    out = validate_observations(obs, str(directory))
    out.attrs["notes"] = scores.attrs["notes"]
    return out


def benchbench_benchmarks(scores: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Loader attributes per scenario: kind ``leaderboard`` and its direction."""
    first = scores.drop_duplicates("scenario")
    return {
        s: {"kind": "leaderboard", "higher_is_better": bool(h)}
        for s, h in zip(first["scenario"], first["higher_is_better"], strict=True)
    }
