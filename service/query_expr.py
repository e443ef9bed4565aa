"""Fit filters from clients: pandas query expressions, checked against a whitelist first.

``DataFrame.query`` evaluates Python-like code, so an expression from the network is parsed and
allowed only if it compares exchange-format columns with literals (``and``/``or``/``not``,
arithmetic, ``in [...]``). Anything else is a 422 that says which part was refused.
"""

from __future__ import annotations

import ast

import pandas as pd

from db.observations import OBSERVATION_COLUMNS

ALLOWED_NAMES = frozenset(
    {
        *OBSERVATION_COLUMNS,
        "stderr",
        "source",
        "True",
        "False",
    }
)
_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Load,
    ast.Name,
)


class QueryError(ValueError):
    """The expression is not allowed or does not evaluate; the message says why."""


def check(expr: str) -> None:
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise QueryError(f"not a valid expression: {exc.msg} at column {exc.offset}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise QueryError(f"{type(node).__name__} is not allowed in a filter expression")
        if isinstance(node, ast.Name) and node.id not in ALLOWED_NAMES:
            allowed = ", ".join(sorted(ALLOWED_NAMES - {"True", "False"}))
            raise QueryError(f"unknown column {node.id!r}; columns: {allowed}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float | bool):
            raise QueryError(f"literal {node.value!r} is not allowed")


def apply(frame: pd.DataFrame, expr: str | None) -> pd.DataFrame:
    """Rows of ``frame`` matching ``expr`` (all rows when it is empty)."""
    if not expr or not expr.strip():
        return frame
    check(expr)
    try:
        mask = frame.eval(expr.strip(), engine="python")
    except Exception as exc:  # pandas raises many kinds; all mean "this filter does not work"
        raise QueryError(f"cannot evaluate: {exc}") from None
    if not isinstance(mask, pd.Series) or mask.dtype != bool:
        raise QueryError("the expression must be a condition (true or false per row)")
    return frame[mask]
