"""Synthetic tasks with graded difficulty: addition, multiplication, string reversal.

The same line formats appear in training (blocks of lines mixed into the corpus at a small rate)
and in evaluation (a few solved lines, then the query), so the tasks measure learned skill and
not format guessing. Difficulty is graded by digits and carries (arithmetic) and by length
(reversal); each item records its grade in ``meta``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("add", "mul", "rev")
# Grades span what a ladder of 0.1-1M-parameter models learns on a CPU: the easiest are within
# reach of the smallest models, the hardest only of the largest (measured on a pilot ladder).
ADD_DIGITS = (1, 2, 3, 4)
MUL_DIGITS = ((1, 1), (2, 1), (3, 1), (2, 2))
REV_LENGTHS = (2, 3, 4, 5, 6)
SHOTS = 3


@dataclass(frozen=True)
class Problem:
    kind: str
    query: str  # text up to and including the "=" (the prompt's last line)
    answer: str
    meta: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.query}{self.answer}\n"


def count_carries(a: int, b: int) -> int:
    carries = carry = 0
    while a or b or carry:
        s = a % 10 + b % 10 + carry
        carry = 1 if s >= 10 else 0
        carries += carry
        a //= 10
        b //= 10
    return carries


def _num(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10**digits - 1)


def make_add(rng: random.Random, digits: int) -> Problem:
    a, b = _num(rng, digits), _num(rng, digits)
    return Problem(
        "add", f"{a}+{b}=", str(a + b), {"digits": digits, "carries": count_carries(a, b)}
    )


def make_mul(rng: random.Random, digits: tuple[int, int]) -> Problem:
    a, b = _num(rng, digits[0]), _num(rng, digits[1])
    return Problem("mul", f"{a}*{b}=", str(a * b), {"digits_a": digits[0], "digits_b": digits[1]})


def make_rev(rng: random.Random, length: int) -> Problem:
    s = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    return Problem("rev", f"rev {s}=", s[::-1], {"length": length})


GRADES: dict[str, tuple[object, ...]] = {"add": ADD_DIGITS, "mul": MUL_DIGITS, "rev": REV_LENGTHS}
MAKERS: dict[str, Callable[[random.Random, object], Problem]] = {
    "add": make_add,  # type: ignore[dict-item]  # each maker takes its own grade type
    "mul": make_mul,  # type: ignore[dict-item]  # each maker takes its own grade type
    "rev": make_rev,  # type: ignore[dict-item]  # each maker takes its own grade type
}


def random_problem(rng: random.Random, kind: str) -> Problem:
    grade = rng.choice(GRADES[kind])
    return MAKERS[kind](rng, grade)


def training_document(rng: random.Random, *, min_lines: int = 4, max_lines: int = 12) -> str:
    """One block of solved problems of a single kind, mixed difficulties (a training document)."""
    kind = rng.choice(KINDS)
    n = rng.randint(min_lines, max_lines)
    return "".join(random_problem(rng, kind).line() for _ in range(n))


def few_shot_prompt(rng: random.Random, problem: Problem) -> str:
    """``SHOTS`` solved lines of the same kind, then the query: the evaluation prompt."""
    shots = "".join(random_problem(rng, problem.kind).line() for _ in range(SHOTS))
    return shots + problem.query


def distractors(rng: random.Random, problem: Problem, k: int = 3) -> list[str]:
    """Plausible wrong answers: off-by-one digit, dropped carry, swapped digits, near misses."""
    ans = problem.answer
    cands: list[str] = []
    if problem.kind in ("add", "mul"):
        v = int(ans)
        a, b = (int(x) for x in problem.query[:-1].replace("*", "+").split("+"))
        if problem.kind == "add":
            no_carry = int("".join(str((int(x) + int(y)) % 10) for x, y in _digit_pairs(a, b)))
            cands.append(str(no_carry))
        else:
            cands.append(str(a * b + a))
            cands.append(str(a * (b - 1) if b else a))
        for delta in (1, -1, 10, -10, 100, 2):
            if v + delta >= 0:
                cands.append(str(v + delta))
        if len(ans) >= 2:
            cands.append(ans[:-2] + ans[-1] + ans[-2])
    else:
        s = ans
        cands.append(s[::-1])
        if len(s) >= 2:
            cands.append(s[1] + s[0] + s[2:])
            cands.append(s[:-2] + s[-1] + s[-2])
            cands.append(s[1:] + s[0])
        cands.append(s[:-1] + chr((ord(s[-1]) - 97 + 1) % 26 + 97))
    out: list[str] = []
    for c in cands:
        if c != ans and c not in out:
            out.append(c)
    rng.shuffle(out)
    while len(out) < k:  # degenerate tiny cases (e.g. "0+0")
        c = str(int(ans) + len(out) + 3) if problem.kind != "rev" else ans + "a" * (len(out) + 1)
        if c not in out and c != ans:
            out.append(c)
    return out[:k]


def _digit_pairs(a: int, b: int) -> list[tuple[str, str]]:
    sa, sb = str(a), str(b)
    width = max(len(sa), len(sb))
    return list(zip(sa.zfill(width), sb.zfill(width), strict=True))
