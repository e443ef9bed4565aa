"""Row filters over observations: a small expression language, parsed once and evaluated by us.

Fit and predict splits (``n_params < 2e9``, ``model in ['a', 'b'] and n_tokens > 1e11``) arrive
from REST bodies, job payloads, CLI options and predictor parameters. pandas' ``query``/``eval``
would run them as Python, so they are parsed here into a tree that may hold only column names,
literals, comparisons, ``and``/``or``/``not``, ``in`` lists and arithmetic, and that tree is
walked by :meth:`Filter.mask` over NumPy arrays. Nothing from the text is ever executed.

>>> import pandas as pd
>>> obs = pd.DataFrame({"model": ["a", "b", "c"], "n_params": [1e8, 1e9, 1e10]})
>>> parse_filter("n_params >= 1e9 and model != 'c'").apply(obs)["model"].tolist()
['b']
>>> parse_filter("__import__('os')")
Traceback (most recent call last):
...
predictors.filters.FilterError: Call is not allowed in a filter (column 1): only column names, ...
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from predictors.base import OBSERVATION_COLUMNS, OPTIONAL_OBSERVATION_COLUMNS

#: Columns a filter may name: the exchange format, its optional columns, and per-item counts.
FILTER_COLUMNS: frozenset[str] = frozenset(
    {*OBSERVATION_COLUMNS, *OPTIONAL_OBSERVATION_COLUMNS, "n_samples", "n_pass"}
)
#: Longest accepted expression (characters) and deepest tree; both bound the parser's work.
MAX_LENGTH = 2000
MAX_DEPTH = 32
#: Most elements of one ``in [...]`` list.
MAX_LIST = 1000
_ALLOWED_HINT = (
    "only column names, literals, comparisons, and/or/not, in [...] lists and + - * / are allowed"
)

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
Literal = str | int | float | bool | None


class FilterError(ValueError):
    """The expression is not in the filter language, or cannot be evaluated on these rows."""


@dataclass(frozen=True)
class Filter:
    """A parsed, checked filter. ``str(f)`` is its source; :meth:`mask` evaluates it."""

    source: str
    _tree: ast.Expression = field(repr=False, compare=False)
    columns: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return self.source

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """One boolean per row of ``frame``; missing values compare false, as in pandas."""
        missing = sorted(self.columns - set(frame.columns))
        if missing:
            raise FilterError(
                f"filter {self.source!r} names column(s) {missing} that these rows lack; "
                f"they have {sorted(frame.columns)}"
            )
        with np.errstate(all="ignore"):
            out = _Evaluator(frame).visit(self._tree.body)
        if _is_scalar(out):
            if not isinstance(out, bool | np.bool_):
                raise FilterError(f"filter {self.source!r} is not a condition (true or false)")
            return np.full(len(frame), bool(out))
        arr = np.asarray(out)
        if arr.dtype != bool:
            raise FilterError(f"filter {self.source!r} is not a condition (true or false per row)")
        return arr

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` the filter keeps."""
        return frame[self.mask(frame)]


def parse_filter(expr: str, *, columns: Iterable[str] = FILTER_COLUMNS) -> Filter:
    """Parse and check ``expr``; :class:`FilterError` says which part is refused and where."""
    if isinstance(expr, Filter):
        return expr
    if not isinstance(expr, str):
        raise FilterError(f"a filter must be a string, got {type(expr).__name__}")
    text = expr.strip()
    if not text:
        raise FilterError("the filter is empty")
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is {len(text)} characters long; at most {MAX_LENGTH}")
    if "\x00" in text:
        raise FilterError("the filter contains a NUL character")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FilterError(
            f"not a valid filter: {exc.msg} (column {exc.offset}); {_ALLOWED_HINT}"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise FilterError(f"the filter is nested too deeply; at most {MAX_DEPTH} levels") from None
    allowed = frozenset(columns)
    names = _Checker(text, allowed).check(tree)
    return Filter(source=text, _tree=tree, columns=frozenset(names))


def as_filter(value: Filter | None, name: str) -> Filter | None:
    """``value`` if it is a parsed :class:`Filter` or None; predictors never take expression text."""
    if value is None or isinstance(value, Filter):
        return value
    raise TypeError(
        f"{name} must be a Filter from predictors.filters.parse_filter (or None), "
        f"not {type(value).__name__}"
    )


class _Checker:
    """Walks the parsed tree once, refusing every node outside the language."""

    def __init__(self, text: str, columns: frozenset[str]) -> None:
        self.text, self.columns = text, columns
        self.names: set[str] = set()

    def check(self, tree: ast.Expression) -> set[str]:
        self._node(tree.body, 1)
        return self.names

    def _refuse(self, node: ast.AST, what: str) -> FilterError:
        col = getattr(node, "col_offset", None)
        where = f" (column {col + 1})" if col is not None else ""
        return FilterError(f"{what}{where}: {_ALLOWED_HINT}")

    def _node(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self._refuse(node, f"the filter is nested more than {MAX_DEPTH} levels deep")
        nxt = depth + 1
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._node(v, nxt)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            self._node(node.operand, nxt)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITH:
                raise self._refuse(node, f"the operator {type(node.op).__name__} is not allowed")
            self._node(node.left, nxt)
            self._node(node.right, nxt)
        elif isinstance(node, ast.Compare):
            self._node(node.left, nxt)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    self._list(right)
                elif type(op) in _COMPARE:
                    self._node(right, nxt)
                else:
                    raise self._refuse(node, f"the comparison {type(op).__name__} is not allowed")
        elif isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.Constant):
            self._literal(node)
        else:
            raise self._refuse(node, f"{type(node).__name__} is not allowed in a filter")

    def _name(self, node: ast.Name) -> None:
        written = ast.get_source_segment(self.text, node)
        if written != node.id or not node.id.isascii():
            raise self._refuse(node, f"the name {written!r} is not plain ASCII")
        if node.id in ("True", "False", "None"):
            return
        if node.id not in self.columns:
            raise self._refuse(
                node, f"unknown column {node.id!r} (columns: {', '.join(sorted(self.columns))})"
            )
        self.names.add(node.id)

    def _literal(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return
        if isinstance(value, int | float) and math.isfinite(value):
            return
        raise self._refuse(node, f"the literal {value!r} is not allowed")

    def _list(self, node: ast.AST) -> None:
        if not isinstance(node, ast.List | ast.Tuple):
            raise self._refuse(node, "'in' takes a list of literals, like model in ['a', 'b']")
        if len(node.elts) > MAX_LIST:
            raise self._refuse(node, f"the list has {len(node.elts)} elements; at most {MAX_LIST}")
        for elt in node.elts:
            signed = isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub | ast.UAdd)
            if isinstance(elt, ast.UnaryOp) and signed:
                elt = elt.operand
            if not isinstance(elt, ast.Constant):
                raise self._refuse(elt, "'in' lists hold literals only")
            self._literal(elt)
            if signed and not _is_number(elt.value):  # -'a' would fail only when applied
                raise self._refuse(elt, f"a sign goes on numbers only, not {elt.value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, np.ndarray | pd.Series)


def _literal_list(node: ast.List | ast.Tuple) -> list[Literal]:
    out: list[Literal] = []
    for elt in node.elts:
        if isinstance(elt, ast.UnaryOp):
            assert isinstance(elt.operand, ast.Constant)
            v = elt.operand.value
            assert isinstance(v, int | float)  # _Checker._list signs numbers only
            out.append(-v if isinstance(elt.op, ast.USub) else +v)
        else:
            assert isinstance(elt, ast.Constant)
            value = elt.value
            assert value is None or isinstance(value, str | int | float)  # _Checker._literal
            out.append(value)
    return out


class _Evaluator:
    """Evaluates a checked tree over the frame's columns as NumPy arrays."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self._bool(self.visit(v)) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = parts[0]
            for p in parts[1:]:
                out = combine(out, p)
            return out
        if isinstance(node, ast.UnaryOp):
            value = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return np.logical_not(self._bool(value))
            number = self._number(value, node.operand)
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.BinOp):
            left = self._number(self.visit(node.left), node.left)
            right = self._number(self.visit(node.right), node.right)
            return _ARITH[type(node.op)](left, right)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Name):
            return self._column(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        raise FilterError(f"{type(node).__name__} cannot be evaluated")  # unreachable once checked

    def _column(self, name: str) -> Any:
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        col = self.frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):  # dates compare as ISO text: '2024-01-31'
            return col.dt.strftime("%Y-%m-%d").astype(object).where(col.notna(), None).to_numpy()
        numeric = pd.to_numeric(col, errors="coerce")
        # a column is numeric when every present value is a number (empty cells are missing)
        if numeric.notna().sum() == col.notna().sum():
            return numeric.to_numpy(dtype=float, na_value=np.nan)
        return col.to_numpy(dtype=object)

    def _number(self, value: Any, node: ast.AST) -> Any:
        if isinstance(value, bool) or (
            isinstance(value, np.ndarray) and value.dtype in (bool, object)
        ):
            raise FilterError(f"arithmetic needs numbers; {ast.unparse(node)!r} is not numeric")
        if isinstance(value, str) or value is None:
            raise FilterError(f"arithmetic needs numbers; {ast.unparse(node)!r} is not numeric")
        return value

    def _bool(self, value: Any) -> Any:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, np.ndarray) and value.dtype == bool:
            return value
        raise FilterError("and/or/not combine conditions (comparisons), not values")

    def _compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(right_node, ast.List | ast.Tuple)
                hit = _isin(left, _literal_list(right_node))
                step = np.logical_not(hit) if isinstance(op, ast.NotIn) else hit
                right: Any = left
            else:
                right = self.visit(right_node)
                step = _compare(_COMPARE[type(op)], left, right)
            result = np.logical_and(result, step)
            left = right
        return result


def _isin(values: Any, options: list[Literal]) -> Any:
    if _is_scalar(values):
        return values in options
    arr = np.asarray(values)
    if arr.dtype == float:
        numbers = [
            float(o) for o in options if isinstance(o, int | float) and not isinstance(o, bool)
        ]
        return np.isin(arr, numbers)
    return np.array([v in options for v in arr], dtype=bool)


def _compare(op: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    """Element-wise ``op``; rows whose operands are missing or of another kind compare false."""
    if _is_scalar(left) and _is_scalar(right):
        try:
            return bool(op(left, right))
        except TypeError:
            return False
    left_arr = left if not _is_scalar(left) else None
    right_arr = right if not _is_scalar(right) else None
    n = len(left) if left_arr is not None else len(right)
    lhs = left_arr if left_arr is not None else np.full(n, left, dtype=object)
    rhs = right_arr if right_arr is not None else np.full(n, right, dtype=object)
    if lhs.dtype == float and rhs.dtype == float:
        return np.asarray(op(lhs, rhs), dtype=bool)
    if lhs.dtype == float and rhs.dtype == object and _all_numbers(rhs):
        return np.asarray(op(lhs, rhs.astype(float)), dtype=bool)
    if rhs.dtype == float and lhs.dtype == object and _all_numbers(lhs):
        return np.asarray(op(lhs.astype(float), rhs), dtype=bool)
    out = np.zeros(n, dtype=bool)
    for i, (a, b) in enumerate(zip(lhs, rhs, strict=True)):
        if _missing(a) or _missing(b):
            out[i] = op is operator.ne
            continue
        try:
            out[i] = bool(op(a, b))
        except TypeError:  # a string against a number: never equal, never ordered
            out[i] = op is operator.ne
    return out


def _all_numbers(arr: np.ndarray) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in arr)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
