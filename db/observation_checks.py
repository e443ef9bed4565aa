"""Validate and type an observations frame (DESIGN.md, "Observations"): the format's one gate.

Every reader and importer hands its frame to :func:`validate_observations`, so the rules live here
once: types, ranges, "empty means missing, never 0", one set of attributes per model, one value per
measurement key. Errors name the file, the line a person sees in an editor, the column and what
was expected. The validated frame's index holds those line numbers (index name ``line``) so the
loader can still point at the source row of a conflict it finds later in the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from predictors.base import OBSERVATION_COLUMNS, OPTIONAL_OBSERVATION_COLUMNS

__all__ = [
    "KEY_COLUMNS",
    "KNOWN_METRICS",
    "LOWER_IS_BETTER_METRICS",
    "OBSERVATION_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowFiles",
    "key_frame",
    "validate_observations",
]

#: The optional columns after :data:`OBSERVATION_COLUMNS` (both defined once, in predictors.base).
OPTIONAL_COLUMNS: tuple[str, ...] = OPTIONAL_OBSERVATION_COLUMNS
REQUIRED_COLUMNS: tuple[str, ...] = ("model", "benchmark", "metric", "value")

#: DESIGN.md's metric names plus the ones public tables and lm-eval use as they are.
KNOWN_METRICS: frozenset[str] = frozenset(
    {
        "acc",
        "acc_norm",
        "err",
        "bpb",
        "loss",
        "pass_rate",
        "pu",
        "brier",
        "ppl",
        "score",
        "exact_match",
        "f1",
        "mc1",
        "mc2",
        "word_perplexity",
        "byte_perplexity",
        "elo",
    }
)
#: Metrics where smaller numbers are better (a benchmark with only these is higher_is_better=False).
LOWER_IS_BETTER_METRICS: frozenset[str] = frozenset(
    {"err", "bpb", "loss", "brier", "ppl", "word_perplexity", "byte_perplexity"}
)

_SIZE_COLUMNS = ("n_params", "n_params_nonembed", "n_tokens", "flops")
_PER_MODEL = ("family", "n_params", "n_params_nonembed", "release_date")
_PER_CHECKPOINT = ("n_tokens", "flops")
KEY_COLUMNS = ("model", "benchmark", "metric", "checkpoint_step", "source", "item")


class RowFiles:
    """Each row's file name, kept in ``DataFrame.attrs`` without pandas deep-copying it for every
    derived frame (it copies attrs on each operation; a large array there is very slow)."""

    def __init__(self, files: np.ndarray) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, pos: int) -> str:
        return str(self.files[pos])

    def __deepcopy__(self, memo: dict[int, object]) -> RowFiles:
        return self


class _Checker:
    """Collects the earliest problem (by line) so the message points at the first bad row."""

    def __init__(self, origin: str, lines: np.ndarray, files: np.ndarray | None = None) -> None:
        self.origin = origin
        self.lines = lines
        self.files = files
        self.best: ImportValidationError | None = None

    def file_at(self, pos: int) -> str:
        return self.origin if self.files is None else str(self.files[pos])

    def flag(self, mask: np.ndarray, column: str, expected: str, values: pd.Series) -> None:
        if not mask.any():
            return
        pos = int(np.flatnonzero(mask)[0])
        if self.best is None or (self.best.row or 0) > pos + 1:
            got = values.iloc[pos]
            got = "empty" if _is_empty(got) else got
            self.best = self.error(pos, column, expected, got)

    def error(self, pos: int, column: str, expected: str, got: Any) -> ImportValidationError:
        """Line 0 means "no line" (rows converted from JSON): the file alone is named."""
        line = int(self.lines[pos])
        return ImportValidationError(
            self.file_at(pos),
            line if line > 0 else None,
            column,
            expected,
            got,
            row=pos + 1 if line > 0 else None,
        )

    def raise_if_any(self) -> None:
        if self.best is not None:
            raise self.best


def _is_empty(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _is_texty(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _pure_text(s: pd.Series) -> pd.Series | None:
    """Stripped strings (NA where missing) when every cell is a string or missing, else None.

    The vectorised path for what readers produce; element loops are only for mixed objects.
    """
    if isinstance(s.dtype, pd.StringDtype):
        return s.str.strip()
    if s.dtype != object:
        return None
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred not in ("string", "empty"):
        return None
    return s.astype("string").str.strip()


def _empty_mask(s: pd.Series) -> np.ndarray:
    text = _pure_text(s)
    if text is not None:
        return (text.isna() | (text == "")).to_numpy(dtype=bool)
    if _is_texty(s):
        return np.fromiter((_is_empty(v) for v in s), bool, len(s))
    return s.isna().to_numpy()


def _text(s: pd.Series, chk: _Checker, col: str, required: bool) -> pd.Series:
    empty = _empty_mask(s)
    if required:
        chk.flag(empty, col, "a non-empty name", s)
    text = _pure_text(s)
    if text is not None:
        # Missing cells are all in ``empty``, so ``where`` turns every NA into None.
        return pd.Series(text.to_numpy(dtype=object), index=s.index).where(~empty, None)
    bad = (
        np.fromiter(
            (not isinstance(v, str | int | np.integer) or isinstance(v, bool) for v in s),
            bool,
            len(s),
        )
        & ~empty
    )
    chk.flag(bad, col, "text", s)
    out = s.astype(object).where(~empty, None)
    return out.map(lambda v: v if v is None else str(v).strip())


def _number(s: pd.Series, chk: _Checker, col: str, *, required: bool, nonneg: bool) -> pd.Series:
    empty = _empty_mask(s)
    text = _pure_text(s)
    if text is not None:
        vals = pd.to_numeric(text.where(~empty), errors="coerce").astype(float)
        literal_nan = text.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy(dtype=bool)
        bad = ~empty & vals.isna().to_numpy() & ~literal_nan
        chk.flag(bad, col, "a number", s)
        nonfinite = literal_nan | (~empty & ~np.isfinite(vals.fillna(0).to_numpy()))
        vals = vals.where(~pd.Series(literal_nan, index=s.index), np.nan)
    elif _is_texty(s):
        s = s.astype(object)
        is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in s), bool, len(s))
        candidates = s.where(~empty & ~is_bool)
        candidates = candidates.map(lambda v: v.strip() if isinstance(v, str) else v)
        vals = pd.to_numeric(candidates, errors="coerce").astype(float)
        literal_nan = np.fromiter(
            (isinstance(v, str) and v.strip().lower() in ("nan", "+nan", "-nan") for v in s),
            bool,
            len(s),
        )
        chk.flag(is_bool | (~empty & vals.isna().to_numpy() & ~literal_nan), col, "a number", s)
        vals = vals.where(~pd.Series(literal_nan, index=s.index), np.nan)
        nonfinite = literal_nan | (~empty & ~np.isfinite(vals.fillna(0).to_numpy()))
    elif s.dtype == bool:
        chk.flag(np.ones(len(s), bool), col, "a number", s)
        vals = s.astype(float)
        nonfinite = np.zeros(len(s), bool)
    else:
        vals = s.astype(float)
        nonfinite = np.isinf(vals.to_numpy())
    chk.flag(nonfinite, col, "a finite number (leave the cell empty when it is missing)", s)
    if required:
        chk.flag(empty, col, "a number (this column is required)", s)
    if nonneg:
        chk.flag((vals < 0).to_numpy(), col, "a non-negative number", s)
    return vals


def _step(s: pd.Series, chk: _Checker) -> pd.Series:
    vals = _number(s, chk, "checkpoint_step", required=False, nonneg=True)
    frac = vals.notna().to_numpy() & (vals.fillna(0) % 1 != 0).to_numpy()
    chk.flag(frac, "checkpoint_step", "a whole number", s)
    return vals.round().astype("Int64")


def _date(s: pd.Series, chk: _Checker) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None) if s.dt.tz is not None else s
    empty = _empty_mask(s)
    text = s.where(~empty).astype(object).map(lambda v: v if v is None else str(v).strip())
    vals = pd.to_datetime(text, errors="coerce", format="ISO8601")
    chk.flag(~empty & vals.isna().to_numpy(), "release_date", "a date like 2024-05-31", s)
    return vals


def _column(df: pd.DataFrame, col: str, fill: Any) -> pd.Series:
    if col in df.columns:
        return df[col].reset_index(drop=True)
    return pd.Series([fill] * len(df), dtype=object if fill is None else float)


def validate_observations(
    df: pd.DataFrame, origin: str, *, known_metrics: Iterable[str] | None = KNOWN_METRICS
) -> pd.DataFrame:
    """Check and type an observations frame; return it in the exchange format's column order.

    Line numbers come from the index when it is named ``line`` (as the readers set it), otherwise
    row ``i`` counts as line ``i + 2`` (a header being line 1); line 0 means the source has no
    lines (JSON documents) and messages name the file alone. Converters that combine several
    files may add a ``_file`` column naming each row's file for messages; it is dropped. Unknown
    columns are kept after the known ones (the loader stores them as each measurement's
    ``extra``). ``known_metrics=None`` accepts any metric name.
    """
    lines = (
        df.index.to_numpy(dtype=np.int64)
        if df.index.name == "line"
        else np.arange(2, len(df) + 2, dtype=np.int64)
    )
    df = df.reset_index(drop=True)
    df.columns = [str(c).strip() for c in df.columns]
    files = df.pop("_file").to_numpy() if "_file" in df.columns else None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ImportValidationError(
            origin,
            1,
            missing[0],
            f"columns {', '.join(REQUIRED_COLUMNS)} (missing: {', '.join(missing)})",
            ", ".join(df.columns) or "no columns",
        )
    if len(df) == 0:
        raise ImportValidationError(origin, None, None, "at least one row", "none")
    chk = _Checker(origin, lines, files)
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in ("model", "family"):
        out[col] = _text(_column(df, col, None), chk, col, required=col == "model")
    for col in _SIZE_COLUMNS:
        out[col] = _number(_column(df, col, np.nan), chk, col, required=False, nonneg=True)
    out["release_date"] = _date(_column(df, "release_date", None), chk)
    out["checkpoint_step"] = _step(_column(df, "checkpoint_step", np.nan), chk)
    for col in ("benchmark", "metric"):
        out[col] = _text(_column(df, col, None), chk, col, required=True)
    out["value"] = _number(_column(df, "value", None), chk, "value", required=True, nonneg=False)
    out["stderr"] = _number(
        _column(df, "stderr", np.nan), chk, "stderr", required=False, nonneg=True
    )
    for col in ("item", "source"):
        out[col] = _text(_column(df, col, None), chk, col, required=False)
    chk.raise_if_any()
    if known_metrics is not None:
        known = frozenset(known_metrics)
        unknown = ~out["metric"].isin(known).to_numpy()
        chk.flag(unknown, "metric", "one of " + ", ".join(sorted(known)), out["metric"])
        chk.raise_if_any()
    out["release_date"] = pd.to_datetime(out["release_date"])
    _check_model_consistency(out, chk)
    drop = _duplicates_to_drop(out, chk)
    for col in df.columns:
        if col not in out.columns:
            out[col] = df[col].to_numpy()
    out.index = pd.Index(lines, name="line")
    out = out[~drop] if drop.any() else out
    out.attrs["origin"] = origin
    if files is not None:  # per-row files for the loader's messages (only while rows align)
        out.attrs["files"] = RowFiles(files[~drop] if drop.any() else files)
    return out


def _group_codes(df: pd.DataFrame, group: list[str]) -> np.ndarray:
    keys = [df[g].astype(object).where(df[g].notna(), "\0") for g in group]
    return (
        pd.MultiIndex.from_arrays(keys).factorize()[0] if len(group) > 1 else keys[0].factorize()[0]
    )


def _check_model_consistency(df: pd.DataFrame, chk: _Checker) -> None:
    """One family/size/date per model; one n_tokens/flops per model checkpoint."""
    model_codes = _group_codes(df, ["model"])
    ckpt_codes = _group_codes(df, ["model", "checkpoint_step"])
    for col in _PER_MODEL + _PER_CHECKPOINT:
        codes = model_codes if col in _PER_MODEL else ckpt_codes
        values = df[col]
        present = values.notna().to_numpy()
        if not present.any():
            continue
        sub_codes, sub_vals = codes[present], values[present]
        first = sub_vals.groupby(sub_codes, sort=False).transform("first")
        if pd.api.types.is_float_dtype(sub_vals):
            a, b = sub_vals.to_numpy(float), first.to_numpy(float)
            differs = ~np.isclose(a, b, rtol=1e-9, atol=0)
        else:
            differs = (sub_vals != first).to_numpy()
        if not differs.any():
            continue
        positions = np.flatnonzero(present)
        pos = int(positions[np.flatnonzero(differs)[0]])
        first_pos = int(positions[np.flatnonzero(sub_codes == codes[pos])[0]])
        scope = f"model {df['model'].iat[pos]!r}"
        if col in _PER_CHECKPOINT:
            step = int(df["checkpoint_step"].fillna(-1).to_numpy(dtype=np.int64)[pos])
            scope += f" at checkpoint_step {'empty' if step < 0 else step}"
        raise chk.error(
            pos,
            col,
            f"the same {col} as line {chk.lines[first_pos]} for {scope} ({values.iat[first_pos]})",
            values.iat[pos],
        )


def key_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The measurement identity of each row: (model, benchmark, metric, step or -1, source, item)."""
    return pd.DataFrame(
        {
            "model": df["model"].to_numpy(),
            "benchmark": df["benchmark"].to_numpy(),
            "metric": df["metric"].to_numpy(),
            "checkpoint_step": df["checkpoint_step"].fillna(-1).astype("int64").to_numpy(),
            "source": df["source"].fillna("").to_numpy(),
            "item": df["item"].fillna("").to_numpy(),
        }
    )


def _duplicates_to_drop(df: pd.DataFrame, chk: _Checker) -> np.ndarray:
    """Identical repeated rows collapse to one; the same key with another value is an error."""
    keys = key_frame(df)
    later = keys.duplicated(keep="first").to_numpy()
    if not later.any():
        return later
    codes = _group_codes(keys, list(keys.columns))
    values = df["value"].to_numpy(float)
    first_pos = pd.Series(np.arange(len(df))).groupby(codes).transform("first").to_numpy()
    differs = later & ~np.isclose(values, values[first_pos], rtol=1e-12, atol=0)
    if differs.any():
        pos = int(np.flatnonzero(differs)[0])
        fp = int(first_pos[pos])
        key = keys.iloc[pos]
        step = "empty" if key["checkpoint_step"] < 0 else key["checkpoint_step"]
        raise chk.error(
            pos,
            "value",
            f"the same value as line {chk.lines[fp]} for model {key['model']!r}, benchmark "
            f"{key['benchmark']!r}, metric {key['metric']!r}, checkpoint_step {step}, "
            f"source {key['source']!r} ({values[fp]})",
            values[pos],
        )
    return later
