"""Answer checkers (METHODS E3): each option changes the verdict where it should, and only there."""

from __future__ import annotations

import re

import pytest

from evals import checkers
from evals.checkers import (
    Code,
    ExactMatch,
    Numeric,
    Prefix,
    Regex,
    last_number,
    make_checker,
    normalise,
)
from evals.sandbox import SandboxLimits


@pytest.mark.parametrize(
    ("completion", "answer", "opts", "expected"),
    [
        (" Paris\n", "Paris", {}, True),
        ("paris", "Paris", {}, False),
        ("paris", "Paris", {"ignore_case": True}, True),
        ("Paris.", "Paris", {"ignore_case": True}, False),
        ("Paris.", "Paris", {"ignore_punctuation": True}, True),
        (" Paris ", "Paris", {"strip": False}, False),
        ("New  York!", "new york", {"ignore_case": True, "ignore_punctuation": True}, True),
    ],
)
def test_exact_match_options(completion: str, answer: str, opts: dict, expected: bool) -> None:
    assert ExactMatch(**opts)(completion, answer) is expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The answer is 42.", 42.0),
        ("first 3 then -7", -7.0),
        ("total: 1,234.5 dollars", 1234.5),
        ("x = .5", 0.5),
        ("1e3 items", 1000.0),
        ("no digits here", None),
    ],
)
def test_last_number(text: str, value: float | None) -> None:
    assert last_number(text) == value


def test_numeric_tolerance() -> None:
    assert Numeric()("so 2 + 2 = 4", "4")
    assert not Numeric()("it is 5", "4")
    assert not Numeric()("4.01", "4")
    assert Numeric(abs_tol=0.05)("4.01", "4")
    assert Numeric(rel_tol=0.01, abs_tol=0)("1005", "1000")
    assert not Numeric(rel_tol=0.001, abs_tol=0)("1005", "1000")
    assert not Numeric()("nothing", "4")


def test_regex_with_and_without_group() -> None:
    assert Regex(r"answer is (\w+)")("the answer is B.", "B")
    assert not Regex(r"answer is (\w+)")("the answer is C.", "B")
    assert Regex(r"^\d+$")("123", "ignored")
    assert not Regex(r"^\d+$")("12a", "ignored")


def test_prefix_is_raw() -> None:
    assert Prefix()(" the cat", " the")
    assert not Prefix()("the cat", " the")


def test_make_checker_builds_and_rejects() -> None:
    assert make_checker({"kind": "exact", "ignore_case": True})("YES", "yes")
    assert make_checker({"kind": "regex", "pattern": r"(\d+)", "ignore_case": True})("a 7", "7")
    assert make_checker(None)("x", "x")
    code = make_checker({"kind": "code", "wall_seconds": 5, "cpu_seconds": 5})
    assert code("    return a * b\n", "assert mul(2, 3) == 6", prefix="def mul(a, b):\n")
    assert not code("    return a + b\n", "assert mul(2, 3) == 6", prefix="def mul(a, b):\n")
    with pytest.raises(ValueError, match="unknown checker kind 'fuzzy'"):
        make_checker({"kind": "fuzzy"})
    with pytest.raises(ValueError, match="bad options for checker 'numeric'"):
        make_checker({"kind": "numeric", "tolerance": 1})


def test_normalise_defaults_and_whitespace() -> None:
    """Default: strip only. Punctuation removal also collapses inner whitespace (words stay apart)."""
    assert normalise("  A,  b. ") == "A,  b."
    assert normalise(" A,  b. ", ignore_punctuation=True) == "A b"
    assert normalise("AbC", ignore_case=True) == "abc"
    assert normalise(" x ", strip=False) == " x "


def test_make_checker_options_reach_the_checker() -> None:
    assert make_checker({"ignore_case": True}) == ExactMatch(ignore_case=True)  # kind defaults
    assert make_checker({"kind": "exact", "include_prompt": True}) == ExactMatch()
    assert make_checker({"kind": "prefix", "include_prompt": False}) == Prefix()
    assert make_checker({"kind": "numeric", "abs_tol": 0.5}) == Numeric(abs_tol=0.5)
    assert make_checker({"kind": "regex", "pattern": "(a)"}) == Regex("(a)", 0)
    assert make_checker({"kind": "regex", "pattern": "(a)", "ignore_case": True}) == Regex(
        "(a)", re.IGNORECASE
    )
    with pytest.raises(ValueError, match="bad options for checker 'regex'"):
        make_checker({"kind": "regex", "pattern": "x", "bogus": 1})
    with pytest.raises(ValueError, match="bad options for checker 'regex'"):
        make_checker({"kind": "regex"})  # no pattern
    code = make_checker({"kind": "code", "wall_seconds": 5, "cpu_seconds": 7})
    assert code == Code(SandboxLimits(wall_seconds=5, cpu_seconds=7))


def test_regex_flags_and_unmatched_group() -> None:
    assert Regex("(abc)", re.IGNORECASE)("ABC", "ABC")
    assert not Regex("(abc)")("ABC", "ABC")
    # an optional group that did not take part compares as "" (not as a placeholder)
    assert Regex(r"answer(?: is (\w+))?")("the answer", "")
    assert not Regex(r"answer(?: is (\w+))?")("the answer", "x")


def test_code_runs_prefix_completion_and_tests_with_its_limits(monkeypatch) -> None:
    seen: list[tuple[str, SandboxLimits]] = []

    class Result:
        ok = True

    def fake_run(program: str, *, limits: SandboxLimits) -> Result:
        seen.append((program, limits))
        return Result()

    monkeypatch.setattr(checkers, "run_python", fake_run)
    limits = SandboxLimits(wall_seconds=3, cpu_seconds=2)
    assert Code(limits)("    return 1\n", "assert f() == 1", prefix="def f():\n")
    assert seen == [("def f():\n    return 1\n\n\nassert f() == 1\n", limits)]
    assert Code(limits)("x = 1", "assert x == 1")  # no prefix by default
    assert seen[-1][0] == "x = 1\n\nassert x == 1\n"
