"""The row-filter language: what it accepts, what it refuses, and that it evaluates like pandas."""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predictors.filters import MAX_DEPTH, MAX_LENGTH, Filter, FilterError, as_filter, parse_filter


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["a", "b", "c", None, "e"],
            "family": ["f", "f", "g", "g", None],
            "n_params": [1e8, 1e9, np.nan, 1e10, 3e9],
            "n_tokens": [2e9, 2e10, 1e11, 2e11, 6e10],
            "checkpoint_step": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "release_date": pd.to_datetime(
                ["2023-01-01", None, "2024-05-01", "2022-01-01", "2025-01-01"]
            ),
        }
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("n_params >= 1e9", [False, True, False, True, True]),
        ("n_params != 1e8", [False, True, True, True, True]),  # missing != x is true, as in pandas
        ("model in ['a', 'c']", [True, False, True, False, False]),
        ("model not in ['a']", [False, True, True, True, True]),
        ("not n_params < 1e9", [False, True, True, True, True]),
        ("n_tokens / n_params == 20", [True, True, False, True, True]),
        ("1e8 < n_params <= 3e9", [False, True, False, False, True]),
        ("checkpoint_step > 1 and family == 'g'", [False, False, True, True, False]),
        ("release_date < '2024-01-01'", [True, False, False, True, False]),
        ("-n_params < -5e8 or model == 'a'", [True, True, False, True, True]),
        ("checkpoint_step in [1, 5]", [True, False, False, False, True]),
        ("True", [True] * 5),
        ("n_params * 2 - 1e8 > 1.5e9", [False, True, False, True, True]),
    ],
)
def test_filters_select_the_rows_pandas_would(expr: str, expected: list[bool]) -> None:
    assert parse_filter(expr).mask(rows()).tolist() == expected


REFUSED = {
    "at-name": ("@pd.io.common.os.system('id') == 0", "not a valid filter"),
    "call": ("__import__('os').system('id')", "Call is not allowed"),
    "attribute": ("n_params.__class__ == 1", "Attribute is not allowed"),
    "dunder-chain": ("().__class__.__base__.__subclasses__()", "is not allowed"),
    "walrus": ("(x := 1) == 1", "NamedExpr is not allowed"),
    "lambda": ("lambda: 0", "Lambda is not allowed"),
    "f-string": ("model == f'{1}'", "JoinedStr is not allowed"),
    "subscript": ("model[0] == 'a'", "Subscript is not allowed"),
    "matmul": ("n_params @ 2 > 1", "operator MatMult is not allowed"),
    "power": ("n_params ** 99999999 > 1", "operator Pow is not allowed"),
    "is": ("model is None", "comparison Is is not allowed"),
    "unknown-column": ("os > 1", "unknown column 'os'"),
    "fullwidth-dunder": ("\uff3f\uff3fimport\uff3f\uff3f('os')", "not a valid filter"),
    "lookalike-column": ("\uff4e_params > 1", "not plain ASCII"),
    "infinite-literal": ("n_params > 1e999", "literal inf is not allowed"),
    "bytes-literal": ("model == b'a'", "literal b'a' is not allowed"),
    "in-non-list": ("model in model", "'in' takes a list"),
    "in-list-of-calls": ("model in [print()]", "literals only"),
    "comprehension": ("[x for x in ()] == []", "ListComp is not allowed"),
    "ifexp": ("1 if True else 0", "IfExp is not allowed"),
    "empty": ("   ", "empty"),
    "too-long": ("n_params > 1 and " * 200 + "True", f"at most {MAX_LENGTH}"),
    "too-deep": ("(" * 40 + "-" * 40 + "n_params" + ")" * 40 + " > 1", "nested"),
    "bomb": ("(" * 100_000, f"at most {MAX_LENGTH}"),
    "nul": ("model == 'a\x00'", "NUL"),
    "not-text": (42, "must be a string"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_everything_outside_the_language_is_refused_with_a_reason(case: str) -> None:
    expr, why = REFUSED[case]
    with pytest.raises(FilterError, match=why.replace("(", r"\(").replace("[", r"\[")):
        parse_filter(expr)  # type: ignore[arg-type]  # the not-text case passes an int on purpose


def test_refusals_say_where() -> None:
    with pytest.raises(FilterError, match=r"column 18"):
        parse_filter("n_params > 1 and __import__('os')")


def test_values_that_are_not_conditions_are_errors_at_evaluation() -> None:
    with pytest.raises(FilterError, match="not a condition"):
        parse_filter("n_params + 1").mask(rows())
    with pytest.raises(FilterError, match="arithmetic needs numbers"):
        parse_filter("model + 1 > 2").mask(rows())
    with pytest.raises(FilterError, match=r"\['flops'\] that these rows lack"):
        parse_filter("flops > 1").mask(rows())


def test_predictors_take_parsed_filters_only() -> None:
    f = parse_filter("n_params > 1")
    assert as_filter(f, "loss_fit") is f and as_filter(None, "loss_fit") is None
    with pytest.raises(TypeError, match="loss_fit must be a Filter"):
        as_filter("n_params > 1", "loss_fit")  # type: ignore[arg-type]  # the point of the test


def test_custom_columns_extend_the_vocabulary() -> None:
    frame = rows().assign(M=lambda d: d["n_tokens"] / d["n_params"])
    assert parse_filter("M == 20", columns={"M"}).mask(frame).sum() == 4
    with pytest.raises(FilterError, match="unknown column 'M'"):
        parse_filter("M == 20")


# -- random trees against an independent evaluation ----------------------------------------------
NUMERIC = ["n_params", "n_tokens"]
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}  # fmt: skip


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> tuple[str, np.ndarray]:
    """A random condition as text and the mask computed directly with NumPy from the same tree."""
    frame = rows()
    if depth < 3 and draw(st.booleans()):
        left_text, left = draw(conditions(depth + 1))
        right_text, right = draw(conditions(depth + 1))
        if draw(st.booleans()):
            return f"({left_text}) and ({right_text})", left & right
        return f"({left_text}) or ({right_text})", left | right
    if draw(st.booleans()):
        text, inner = draw(conditions(depth + 1)) if depth < 3 else ("n_params > 0", None)
        if inner is None:
            inner = (frame["n_params"] > 0).to_numpy()
        return f"not ({text})", ~inner
    col = draw(st.sampled_from(NUMERIC))
    op = draw(st.sampled_from(list(_OPS)))
    scale = draw(st.sampled_from([1.0, 2.0, 0.5]))
    threshold = draw(st.sampled_from([1e8, 1e9, 3e9, 2e10, 1e11]))
    values = frame[col].to_numpy(float) * scale
    with np.errstate(invalid="ignore"):
        mask = _OPS[op](values, threshold)
    return f"{col} * {scale!r} {op} {threshold!r}", np.asarray(mask, dtype=bool)


@settings(max_examples=200, deadline=None)
@given(conditions())
def test_random_conditions_match_direct_numpy_evaluation(case: tuple[str, np.ndarray]) -> None:
    text, expected = case
    got = parse_filter(text).mask(rows())
    assert got.tolist() == expected.tolist(), text


def test_filters_are_values() -> None:
    a, b = parse_filter("n_params > 1"), parse_filter("  n_params > 1 ")
    assert a == b and str(a) == "n_params > 1" and isinstance(a, Filter)
    assert parse_filter(a) is a
    assert MAX_DEPTH >= 16
