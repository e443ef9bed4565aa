"""Input contracts: what each method reads, checked before any fit starts.

Every registered method declares the size measure it uses (``size_measures`` on the estimator:
its own measure first, then the ones it accepts in its place) and the other per-model columns it
needs. :func:`resolve_inputs` checks a frame against that contract on the rows the method reads
(its benchmark/metric pairs) and answers in one of three ways: the preferred measure is there
(nothing changes); it is missing and an accepted one is there (the frame is rewritten to carry
that one in the preferred column, and a note says so, for every forecast to repeat); or none is
(a ValueError naming the missing column and the models lacking it, never an optimiser's message).
Missing benchmarks or metrics are named the same way, with what is present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from predictors.base import Forecast

#: The size measures a method may declare, and what each means.
SIZE_MEASURES: dict[str, str] = {
    "n_params": "total parameters",
    "n_params_nonembed": "non-embedding parameters",
    "n_tokens": "training tokens",
    "flops": "training FLOPs (or 6 x n_params x n_tokens)",
}
#: Measures that count parameters: one can stand in for another (and, times 6 x tokens, for FLOPs).
PARAM_MEASURES = ("n_params", "n_params_nonembed")


@dataclass(frozen=True)
class InputContract:
    """What one method reads: size measures (preferred first), other columns, series.

    A size measure is normally one of :data:`SIZE_MEASURES`; any other column name is read as is.

    ``series`` are the (benchmark, metric) pairs whose rows the method fits; ``item_rows`` says
    they must be per-item rows (``item`` set).
    """

    size: tuple[str, ...]
    columns: tuple[str, ...] = ()
    series: tuple[tuple[str, str], ...] = ()
    item_rows: bool = False
    #: Only some forecasts use the size measure (observational: planned models, not existing
    #: ones with base scores), so rows without it are kept and the method checks it per target.
    size_optional: bool = False

    def __post_init__(self) -> None:
        if not self.size:
            raise ValueError("an input contract names at least one size measure")


@dataclass(frozen=True)
class ResolvedInputs:
    """The contract's answer on one frame: the measure used, and the note if it is a stand-in."""

    preferred: str
    used: str
    notes: tuple[str, ...] = ()

    @property
    def substituted(self) -> bool:
        return self.used != self.preferred


def _describe(column: str) -> str:
    return SIZE_MEASURES.get(column, "a size column")


def _finite(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(False, index=df.index)
    return pd.Series(np.isfinite(pd.to_numeric(df[column], errors="coerce").astype(float)))


def available(df: pd.DataFrame, measure: str) -> pd.Series:
    """Per row: whether ``measure`` can be read (FLOPs also from n_params and n_tokens)."""
    ok = _finite(df, measure)
    if measure == "flops":
        ok = ok | (_finite(df, "n_params") & _finite(df, "n_tokens"))
    return ok


def _lacking(df: pd.DataFrame, ok: pd.Series) -> list[str]:
    models = df["model"] if "model" in df.columns else pd.Series(df.index, index=df.index)
    return sorted({str(m) for m in models[~ok.to_numpy()]})


def _substitute(df: pd.DataFrame, preferred: str, used: str) -> pd.DataFrame:
    """``df`` with ``used`` standing in for ``preferred`` (in the preferred column)."""
    out = df.copy()
    value = pd.to_numeric(out[used], errors="coerce").astype(float)
    if preferred == "flops":
        out["flops"] = 6.0 * value * pd.to_numeric(out["n_tokens"], errors="coerce").astype(float)
    else:
        out[preferred] = value
    return out


def _stand_in_ok(df: pd.DataFrame, preferred: str, alt: str) -> pd.Series:
    ok = available(df, alt)
    if preferred == "flops" and alt in PARAM_MEASURES:
        ok = ok & _finite(df, "n_tokens")
    return ok


def _note(preferred: str, used: str) -> str:
    how = f"6 x {used} x n_tokens" if preferred == "flops" and used in PARAM_MEASURES else used
    return (
        f"input: {preferred} ({_describe(preferred)}) is missing, so {how} "
        f"({_describe(used)}) stands in for it"
    )


def series_rows(obs: pd.DataFrame, contract: InputContract, where: str) -> pd.DataFrame:
    """The rows of every (benchmark, metric) the contract reads; ValueError naming a missing one
    together with what is present."""
    for col in ("model", "benchmark", "metric", "value"):
        if col not in obs.columns:
            raise ValueError(f"{where}: observations lack column {col!r}; have {list(obs.columns)}")
    picked = []
    for bench, metric in contract.series:
        rows = obs[(obs["benchmark"] == bench) & (obs["metric"] == metric)]
        if contract.item_rows:
            rows = rows[rows["item"].notna()] if "item" in rows.columns else rows.iloc[0:0]
        if rows.empty:
            same = obs[obs["benchmark"] == bench]
            if not same.empty:
                what = f"benchmark {bench!r} has metric(s) {sorted(set(same['metric']))[:20]}"
                if contract.item_rows and not (
                    "item" in same.columns and same["item"].notna().any()
                ):
                    what = f"benchmark {bench!r} has no per-item rows (column 'item')"
            else:
                what = f"benchmarks present: {sorted(set(obs['benchmark'].astype(str)))[:20]}"
            kind = "per-item rows" if contract.item_rows else "rows"
            raise ValueError(
                f"{where}: no {kind} for benchmark={bench!r} metric={metric!r}; {what}"
            )
        picked.append(rows)
    return pd.concat(picked) if picked else obs


def resolve_inputs(
    obs: pd.DataFrame, contract: InputContract, where: str
) -> tuple[pd.DataFrame, ResolvedInputs]:
    """Check ``obs`` against ``contract``; returns the frame to fit on and what was used.

    >>> obs = pd.DataFrame({"model": ["a", "b"], "benchmark": "x", "metric": "acc",
    ...                     "value": [0.1, 0.2], "n_params_nonembed": [1e8, 2e8],
    ...                     "n_tokens": [2e9, 4e9]})
    >>> c = InputContract(size=("n_params", "n_params_nonembed"), columns=("n_tokens",),
    ...                   series=(("x", "acc"),))
    >>> out, used = resolve_inputs(obs, c, "demo")
    >>> used.used, out["n_params"].tolist()
    ('n_params_nonembed', [100000000.0, 200000000.0])
    >>> resolve_inputs(obs.drop(columns="n_params_nonembed"), c, "demo")
    Traceback (most recent call last):
    ...
    ValueError: demo: needs n_params (total parameters) for every model; missing for ['a', 'b'] (and n_params_nonembed, accepted in its place, is missing for ['a', 'b'])
    """
    rows = series_rows(obs, contract, where)
    for col in contract.columns:
        ok = _finite(rows, col)
        if not ok.all():
            raise ValueError(
                f"{where}: needs column {col!r} ({_describe(col)}) for every model; "
                f"missing for {_lacking(rows, ok)}"
            )
    preferred, *alternatives = contract.size
    ok = available(rows, preferred)
    if ok.all() or contract.size_optional:
        return obs, ResolvedInputs(preferred, preferred)
    for alt in alternatives:
        if _stand_in_ok(rows, preferred, alt).all():
            return _substitute(obs, preferred, alt), ResolvedInputs(
                preferred, alt, (_note(preferred, alt),)
            )
    also = "".join(
        f" (and {alt}, accepted in its place, is missing for "
        f"{_lacking(rows, _stand_in_ok(rows, preferred, alt))})"
        for alt in alternatives
    )
    raise ValueError(
        f"{where}: needs {preferred} ({_describe(preferred)}) for every model; "
        f"missing for {_lacking(rows, ok)}{also}"
    )


def conform_targets(
    targets: pd.DataFrame, resolved: ResolvedInputs, columns: Sequence[str], where: str
) -> pd.DataFrame:
    """Targets measured as the fit was: the same stand-in, and every needed column present;
    ValueError naming the column and the targets lacking it."""
    measure = resolved.used
    ok = (
        _stand_in_ok(targets, resolved.preferred, measure)
        if resolved.substituted
        else available(targets, measure)
    )
    if not ok.all():
        fitted = "the fit used it" + (f" in place of {resolved.preferred}" * resolved.substituted)
        raise ValueError(
            f"{where}: targets need {measure} ({_describe(measure)}; {fitted}); "
            f"missing for {_lacking(targets, ok)}"
        )
    for col in columns:
        has = _finite(targets, col)
        if not has.all():
            raise ValueError(
                f"{where}: targets need column {col!r}; missing for {_lacking(targets, has)}"
            )
    if resolved.substituted:
        return _substitute(targets, resolved.preferred, measure)
    return targets


def with_notes(forecasts: list[Forecast], notes: Sequence[str]) -> list[Forecast]:
    """The forecasts with ``notes`` first among their notes (the contract's stand-ins)."""
    if not notes:
        return forecasts
    return [replace(f, notes=(*notes, *f.notes)) for f in forecasts]
