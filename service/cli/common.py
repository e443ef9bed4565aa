"""Shared CLI plumbing: JSON on stdout, people-facing text on stderr, clean failures."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

import typer
from rich.console import Console

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
