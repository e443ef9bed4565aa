"""Shared CLI plumbing: JSON on stdout, people-facing text on stderr, clean failures."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:  # the filter language loads with pandas, in the command, not at CLI start-up
    from predictors.filters import Filter

err_console = Console(stderr=True, soft_wrap=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if hasattr(obj, "item"):  # numpy scalars
        return _jsonable(obj.item())
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def emit_json(obj: Any) -> None:
    """Print machine-readable output alone on stdout (NaN and inf become null)."""
    typer.echo(json.dumps(_jsonable(obj), indent=2, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    """Exit non-zero with a message that says what was wrong, without a traceback."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def finite_positive(option: str, value: float, *, what: str = "the value") -> float:
    """``value`` when it is a finite number above zero (a size, a count of tokens), else exit 2.

    NaN, infinities, zero and negative sizes make every law return NaN silently; refusing them
    here names the option instead of printing a null forecast.
    """
    if not math.isfinite(value) or value <= 0:
        fail(f"{option}: {what} must be a finite number above zero, got {value:g}")
    return value


def check_alpha(value: float, option: str = "--alpha") -> float:
    """A miss rate strictly between 0 and 1 (0.1 gives a 90% interval), else exit 2."""
    if not math.isfinite(value) or not 0 < value < 1:
        fail(f"{option}: {value!r} must be strictly between 0 and 1 (0.1 gives a 90% interval)")
    return value


def positive_ints(option: str, raw: str) -> list[int]:
    """'5,10,20' -> [5, 10, 20]: whole numbers above zero, duplicates collapsed, order kept."""
    out: list[int] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            number = int(part)
        except ValueError:
            fail(f"{option}: {part!r} is not a whole number (in {raw!r})")
        if number <= 0:
            fail(f"{option}: {part!r} must be above zero (in {raw!r})")
        if number not in out:
            out.append(number)
    if not out:
        fail(f"{option} is empty; e.g. '5,10,20'")
    return out


def parse_filter_option(option: str, expr: str) -> Filter:
    """Parse a row filter given on the command line; a refused part exits 2 naming the option.

    The text never reaches pandas' ``query``/``eval``: ``predictors.filters`` parses it to a tree
    of column names, literals and operators and evaluates that itself.
    """
    from predictors.filters import FilterError, parse_filter

    try:
        return parse_filter(expr)
    except FilterError as exc:
        fail(f"{option} {expr!r}: {exc}")
