"""The filter language rule by rule: exact refusals (message and column), boundaries, and how
values of each kind compare. Expected masks are worked by hand from ``frame()`` or computed with
pandas on the same columns; every message is the user-facing text, written out in full.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from predictors.filters import MAX_DEPTH, MAX_LENGTH, FilterError, as_filter, parse_filter

HINT = (
    "only column names, literals, comparisons, and/or/not, in [...] lists and + - * / are allowed"
)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["a", "b", "c", None, "e"],
            "family": ["f", "f", "g", "g", None],
            "n_params": [1e8, 1e9, np.nan, 1e10, 3e9],
            "n_tokens": [2e9, 2e10, 1e11, 2e11, 6e10],
            "release_date": pd.to_datetime(
                ["2023-01-01", None, "2024-05-01 13:30", "2022-01-01", "2025-01-01"],
                format="ISO8601",
            ),
        }
    )


def mask(expr: str) -> list[bool]:
    return parse_filter(expr).mask(frame()).tolist()


def refusal(expr: object) -> str:
    with pytest.raises(FilterError) as info:
        parse_filter(expr)
    return str(info.value)


# -- refusals: the full message, with the 1-based column of the refused node -------------------
# The prefix "n_tokens > 1 and " is 17 characters, so a node right after it starts at column 18.
P = "n_tokens > 1 and "


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (P + "n_params @ 2 > 1", f"the operator MatMult is not allowed (column 18): {HINT}"),
        (P + "model is None", f"the comparison Is is not allowed (column 18): {HINT}"),
        (
            P + "os > 1",
            f"unknown column 'os' (columns: model, n_params, n_tokens) (column 18): {HINT}",
        ),
        (
            P + "\uff4e_params > 1",
            f"the name '\uff4e_params' is not plain ASCII (column 18): {HINT}",
        ),
        (P + "model == b'a'", f"the literal b'a' is not allowed (column 27): {HINT}"),
        (
            P + "model in model",
            f"'in' takes a list of literals, like model in ['a', 'b'] (column 27): {HINT}",
        ),
        (P + "model in [print()]", f"'in' lists hold literals only (column 28): {HINT}"),
        (P + "model in [-'x']", f"a sign goes on numbers only, not 'x' (column 29): {HINT}"),
        (P + "n_params in [-True]", f"a sign goes on numbers only, not True (column 32): {HINT}"),
        (P + "n_params in [not 1]", f"'in' lists hold literals only (column 31): {HINT}"),
    ],
)
def test_refusals_name_the_rule_and_the_column(expr: str, message: str) -> None:
    # a small vocabulary, so that the unknown-column message lists it in full, sorted
    with pytest.raises(FilterError) as info:
        parse_filter(expr, columns={"n_tokens", "n_params", "model"})
    assert str(info.value) == message


def test_input_checks_have_exact_messages() -> None:
    assert refusal(42) == "a filter must be a string, got int"
    assert refusal(" \t ") == "the filter is empty"
    assert refusal("model == 'a\x00'") == "the filter contains a NUL character"
    with pytest.raises(TypeError) as info:
        as_filter("n_params > 1", "fit")
    assert str(info.value).endswith("not str")


def test_length_cap_is_inclusive() -> None:
    # "n_params" + spaces + "> 1" padded to exactly MAX_LENGTH characters is accepted, one more is not
    exact = "n_params" + " " * (MAX_LENGTH - 11) + "> 1"
    assert len(exact) == MAX_LENGTH and parse_filter(exact).columns == {"n_params"}
    longer = "n_params" + " " * (MAX_LENGTH - 10) + "> 1"
    assert (
        refusal(longer) == f"the filter is {MAX_LENGTH + 1} characters long; at most {MAX_LENGTH}"
    )


def test_depth_cap_counts_the_top_node_as_level_one() -> None:
    # k 'not's put the literal at level k + 1: MAX_DEPTH - 1 of them is the deepest accepted tree
    deepest = "not " * (MAX_DEPTH - 1) + "True"
    # an odd number of 'not's flips True; this checks the tree was evaluated, not only accepted
    assert parse_filter(deepest).mask(frame()).tolist() == [(MAX_DEPTH - 1) % 2 == 0] * 5
    too_deep = "not " * MAX_DEPTH + "True"
    column = 4 * MAX_DEPTH + 1  # the literal after MAX_DEPTH four-character 'not ' prefixes
    assert refusal(too_deep) == (
        f"the filter is nested more than {MAX_DEPTH} levels deep (column {column}): {HINT}"
    )


# -- evaluation --------------------------------------------------------------------------------
def test_signed_numbers_in_lists_keep_their_sign() -> None:
    # n_params is [1e8, 1e9, nan, 1e10, 3e9]: -1e8 matches nothing, +1e9 matches row 1
    assert mask("n_params in [-1e8, +1e9]") == [False, True, False, False, False]
    assert mask("-n_params in [-1e8, -3e9]") == [True, False, False, False, True]
    # numbers among strings: only the numbers can match a numeric column
    assert mask("n_params in [1e8, 'x']") == [True, False, False, False, False]


def test_none_in_lists_and_comparisons() -> None:
    # a missing date is None, so an explicit None in the list matches it
    assert mask("release_date in ['2023-01-01', None]") == [True, True, False, False, False]
    # comparisons with a missing value are false, != true (model == None is never true)
    assert mask("model == None") == [False] * 5
    assert mask("model != None") == [True] * 5
    assert mask("model != 'a'") == [False, True, True, True, True]


def test_scalar_conditions_fill_every_row() -> None:
    assert mask("2 > 1") == [True] * 5
    assert mask("1 > 2") == [False] * 5
    assert mask("'a' < 1") == [False] * 5  # different kinds are never ordered
    assert mask("1 in [1, 2]") == [True] * 5
    assert mask("3 in [1, 2]") == [False] * 5
    assert mask("True or False") == [True] * 5
    assert mask("True and n_params > 5e8") == [False, True, False, True, True]


def test_column_against_column_matches_pandas() -> None:
    f = frame()
    expected = (f["n_tokens"] > 10 * f["n_params"]).tolist()  # NaN compares false in pandas too
    assert mask("n_tokens > 10 * n_params") == expected
    assert mask("10 * n_params < n_tokens") == expected
    assert mask("model == family") == [False] * 5
    assert mask("model != family") == (f["model"] != f["family"]).tolist()


def test_two_missing_values_are_not_equal() -> None:
    # object columns keep None; as in pandas, a missing value equals nothing, not even another one
    rows = pd.DataFrame({"model": ["a", None, None], "family": ["a", None, "g"]}, dtype=object)
    expected = (rows["model"] == rows["family"]).tolist()
    assert expected == [True, False, False]
    assert parse_filter("model == family").mask(rows).tolist() == expected
    assert parse_filter("model != family").mask(rows).tolist() == [False, True, True]


def test_numbers_against_text_are_never_equal_or_ordered() -> None:
    assert mask("n_params < 'a'") == [False] * 5
    assert mask("'a' < n_params") == [False] * 5
    assert mask("n_params != 'a'") == [True] * 5
    assert mask("model < 1") == [False] * 5
    assert mask("model != 1") == [True] * 5


def test_integer_literals_beyond_int64_compare_as_numbers() -> None:
    big = "1" + "0" * 32  # 1e32 written as an integer: no int64 holds it
    assert mask(f"n_tokens < {big}") == [True] * 5
    assert mask(f"{big} > n_tokens") == [True] * 5


def test_integer_literals_compare_as_pandas_compares_them() -> None:
    # pandas casts 10**32 to the float 1e32 (= 100000000000000005366162204393472), so the column's
    # 1e32 equals it; an exact int-float comparison in Python would say they differ
    rows = pd.DataFrame({"n_tokens": [1e32, 2.0]})
    big = "1" + "0" * 32
    expected = (rows["n_tokens"] == 10**32).tolist()
    assert expected == [True, False]
    for expr in (f"n_tokens == {big}", f"{big} == n_tokens"):
        assert parse_filter(expr).mask(rows).tolist() == expected


def test_integer_columns_are_computed_in_floating_point() -> None:
    # 3e12 ** 2 = 9e24 overflows int64 (max ~9.2e18); in float64 it is exact enough to exceed 1e24
    ints = pd.DataFrame({"n_tokens": np.array([3_000_000_000_000, 2], dtype=np.int64)})
    assert parse_filter("n_tokens * n_tokens > 1e24").mask(ints).tolist() == [True, False]


def test_dates_compare_as_their_day() -> None:
    # 2024-05-01 13:30 is the day '2024-05-01' whatever its time
    assert mask("release_date == '2024-05-01'") == [False, False, True, False, False]


def test_unary_plus_keeps_the_value() -> None:
    assert mask("+n_params >= 1e9") == mask("n_params >= 1e9") == [False, True, False, True, True]


def test_a_chain_after_in_reuses_the_left_operand() -> None:
    # the list after 'in' is no value, so the next comparison reads n_params again
    assert mask("n_params in [1e9, 1e10] < 5e9") == [False, True, False, False, False]


def test_values_that_are_not_conditions_name_the_culprit() -> None:
    def err(expr: str) -> str:
        with pytest.raises(FilterError) as info:
            parse_filter(expr).mask(frame())
        return str(info.value)

    assert err("1 + 2") == "filter '1 + 2' is not a condition (true or false)"
    combine = "and/or/not combine conditions (comparisons), not values"
    assert err("1 and n_params > 1") == combine
    assert err("'a' or n_params > 1") == combine
    assert err("'a' + 1 > 0") == "arithmetic needs numbers; \"'a'\" is not numeric"
    assert err("None + 1 > 0") == "arithmetic needs numbers; 'None' is not numeric"
    assert err("-model < 0") == "arithmetic needs numbers; 'model' is not numeric"
    assert err("n_params + model > 0") == "arithmetic needs numbers; 'model' is not numeric"


def test_division_by_zero_is_silent_and_follows_ieee() -> None:
    rows = pd.DataFrame({"n_params": [0.0, 0.0, 2.0], "n_tokens": [1.0, 0.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's default would warn on x/0 and 0/0
        got = parse_filter("n_tokens / n_params > 0.5").mask(rows)
    assert got.tolist() == [True, False, True]  # 1/0 = inf, 0/0 = NaN (false), 2/2 = 1


def test_apply_keeps_the_masked_rows() -> None:
    f = frame()
    kept = parse_filter("n_params >= 1e9").apply(f)
    pd.testing.assert_frame_equal(kept, f.loc[[1, 3, 4]])
