"""Answer checkers (METHODS E3): exact match, numeric, regular expression, code execution.

A checker is built once from a task's spec dict (``{"kind": "numeric", "abs_tol": 1e-6}``) and
called as ``checker(completion, answer) -> bool``. Code completions are untrusted: they run only
inside :mod:`evals.sandbox`, and any way of failing there (timeout, crash, limit hit) is a fail.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.sandbox import SandboxLimits, run_python

_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise(
    text: str, *, strip: bool = True, ignore_case: bool = False, ignore_punctuation: bool = False
) -> str:
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_PUNCT)
    if strip:
        text = " ".join(text.split()) if ignore_punctuation else text.strip()
    return text


@dataclass(frozen=True)
class ExactMatch:
    strip: bool = True
    ignore_case: bool = False
    ignore_punctuation: bool = False

    def __call__(self, completion: str, answer: str) -> bool:
        opts = {
            "strip": self.strip,
            "ignore_case": self.ignore_case,
            "ignore_punctuation": self.ignore_punctuation,
        }
        return normalise(completion, **opts) == normalise(answer, **opts)


def last_number(text: str) -> float | None:
    """The last number in ``text`` (thousands separators allowed), or None."""
    found = _NUMBER.findall(text)
    for raw in reversed(found):
        try:
            return float(raw.replace(",", ""))
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Numeric:
    """Last number in the completion equals the answer within ``abs_tol`` or ``rel_tol``."""

    abs_tol: float = 1e-6
    rel_tol: float = 0.0

    def __call__(self, completion: str, answer: str) -> bool:
        got, want = last_number(completion), last_number(str(answer))
        if got is None or want is None:
            return False
        return math.isclose(got, want, rel_tol=self.rel_tol, abs_tol=self.abs_tol)


@dataclass(frozen=True)
class Regex:
    """``pattern`` must match; with a group, the group (stripped) must equal the answer."""

    pattern: str
    flags: int = 0

    def __call__(self, completion: str, answer: str) -> bool:
        m = re.search(self.pattern, completion, self.flags)
        if m is None:
            return False
        if m.groups():
            return (m.group(1) or "").strip() == str(answer).strip()
        return True


@dataclass(frozen=True)
class Prefix:
    """The raw completion starts with the answer (no normalisation): "first token is X"."""

    def __call__(self, completion: str, answer: str) -> bool:
        return completion.startswith(answer)


@dataclass(frozen=True)
class Code:
    """Run ``prefix + completion + "\\n" + tests`` in the sandbox; pass iff it exits 0.

    ``answer`` holds the tests (asserts). ``prefix`` is usually the prompt (a function header the
    model completes); set ``include_prompt`` on the task to put it there.
    """

    limits: SandboxLimits = field(default_factory=SandboxLimits)

    def __call__(self, completion: str, answer: str, prefix: str = "") -> bool:
        program = f"{prefix}{completion}\n\n{answer}\n"
        return run_python(program, limits=self.limits).ok


def make_checker(spec: dict[str, Any] | None) -> Callable[..., bool]:
    """Build a checker from its spec; raises ValueError naming an unknown kind or option."""
    spec = dict(spec or {"kind": "exact"})
    kind = spec.pop("kind", "exact")
    spec.pop("include_prompt", None)
    try:
        if kind == "exact":
            return ExactMatch(**spec)
        if kind == "numeric":
            return Numeric(**spec)
        if kind == "regex":
            flags = re.IGNORECASE if spec.pop("ignore_case", False) else 0
            return Regex(spec.pop("pattern"), flags, **spec)
        if kind == "prefix":
            return Prefix(**spec)
        if kind == "code":
            return Code(SandboxLimits(**spec))
    except (TypeError, KeyError) as e:
        raise ValueError(f"bad options for checker {kind!r}: {e}") from e
    raise ValueError(f"unknown checker kind {kind!r}; known: exact, numeric, regex, prefix, code")
