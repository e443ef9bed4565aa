"""Where a job may read or write: every path in a payload must resolve inside the job roots.

A job payload comes from the network (``POST /v1/jobs``, schedules) or straight from the database,
and its paths are opened by the worker: a task file is parsed, a model directory loaded, an import
file read, a ``record`` file appended to. So the REST API refuses a path outside the roots (422)
and the worker checks again before running (a payload written into the table directly must not
escape either). A path is resolved first (``..`` and symlinks, :meth:`pathlib.Path.resolve`), so
``root/../etc`` or a symlink out of a root is refused.

The roots are ``CAPCAST_JOB_PATHS`` (a JSON list or an ``os.pathsep``-separated list of
directories); unset, the data directory, the cache directory and the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from db.config import Settings
from service.jobs.failures import JobInputError

#: Payload fields that name a path, per job kind (``record`` is the sleep job's output file).
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "evaluation": ("model_path", "task_path", "data_dir"),
    "import": ("path",),
    "sleep": ("record",),
    "noop": ("record",),
}


class PathRefused(JobInputError):
    """A path outside the job roots; ``field`` names where it was given."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def job_roots(settings: Settings) -> tuple[Path, ...]:
    """The resolved directories job paths must stay inside."""
    configured = list(getattr(settings, "job_paths", None) or [])
    roots = configured or [settings.data_dir, settings.cache_dir, Path.cwd()]
    return tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))


def check_path(value: Any, field: str, roots: Iterable[Path]) -> Path:
    """Resolve ``value`` and return it if it lies inside one of ``roots``; else :class:`PathRefused`."""
    roots = tuple(roots)
    if not isinstance(value, str | os.PathLike) or not str(value) or "\x00" in str(value):
        raise PathRefused(f"{field} must be a non-empty path", field=field)
    try:
        resolved = Path(value).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a path too long
        raise PathRefused(
            f"{field} cannot be resolved ({type(exc).__name__})", field=field
        ) from None
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "(none)"
        raise PathRefused(
            f"{field} {str(value)!r} is outside the allowed job paths ({allowed}); "
            "set CAPCAST_JOB_PATHS to allow another directory",
            field=field,
        )
    return resolved


def check_payload_paths(
    kind: str,
    payload: Mapping[str, Any],
    roots: Iterable[Path],
    *,
    prefix: str = "payload",
    ray_addresses: Iterable[str] | None = None,
) -> None:
    """Check every path field of a ``kind`` payload that is present (names as ``prefix.field``),
    and its Ray address: Ray's client protocol exchanges pickles, so a job may join only a
    cluster the operator listed (``CAPCAST_RAY_ADDRESSES``; default ``auto``, the local one)."""
    roots = tuple(roots)
    for name in PATH_FIELDS.get(kind, ()):
        if payload.get(name) is not None:
            check_path(payload[name], f"{prefix}.{name}", roots)
    address = payload.get("ray_address")
    if address is not None:
        if ray_addresses is None:
            from db.config import get_settings

            ray_addresses = get_settings().ray_addresses
        allowed = list(ray_addresses)
        if address not in allowed:
            raise PathRefused(
                f"{prefix}.ray_address {str(address)[:200]!r} is not an allowed Ray cluster "
                f"({', '.join(allowed) or 'none'}); set CAPCAST_RAY_ADDRESSES to allow it",
                field=f"{prefix}.ray_address",
            )
