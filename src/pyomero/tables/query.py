"""The OMERO.tables query language: PyTables conditions parsed into a tree, run with Arrow.

OMERO hands a condition such as ``(Well==45217) & (Plate>2)`` to PyTables, which compiles
it with numexpr. pyomero parses it with Python's own parser (the grammar numexpr uses,
so precedence is the same: ``&`` binds tighter than ``==``, hence the parentheses), then
accepts only a small whitelist of node types and turns them into an expression tree of its
own. Nothing is ever evaluated as Python and nothing reaches SQL: the tree is run with
``pyarrow.compute`` over the table's columns.

Grammar accepted (``service-api.md`` 6.3, without numexpr's functions)::

    condition  := expr
    expr       := expr ("&" | "|") expr | "~" expr | comparison | arith | "(" expr ")"
    comparison := arith ("==" | "!=" | "<" | "<=" | ">" | ">=") arith     (not chained)
    arith      := arith ("+" | "-" | "*" | "/" | "**") arith | "-" arith | operand
    operand    := COLUMN_NAME | INTEGER | FLOAT | STRING | True | False

A column name is a Python identifier naming a column of the table.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import pyarrow as pa
import pyarrow.compute as pc

from pyomero.errors import InvalidInput

#: Longest condition accepted; a longer one is refused before it is parsed.
MAX_QUERY_LENGTH = 4096
#: Deepest expression tree accepted (Python's parser recurses; so would evaluation).
MAX_DEPTH = 64

#: OMERO.web's shortcut ``Well-45217`` for ``(Well==45217)``; ``re.match``, so a prefix.
SHORTCUT = re.compile(r"^(\w+)-(\d+)")
#: Column names the shortcut may find in lower case in older tables (OMERO.web).
LOWERCASE_FALLBACK = ("Image", "Roi", "Plate", "Well")


class QueryError(InvalidInput):
    """A condition that does not parse or cannot be run on this table."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="query")


# ---------------------------------------------------------------------------- the tree


@dataclass(frozen=True, slots=True)
class ColumnRef:
    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: int | float | str | bool


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # & |
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * / **
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node


Node = Union[ColumnRef, Literal, Compare, Logical, Not, Arith, Negate]  # noqa: UP007

_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_LOGICAL = {ast.BitAnd: "&", ast.BitOr: "|"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


# ---------------------------------------------------------------------------- parsing


def expand_shortcut(query: str, column_names: Sequence[str]) -> str:
    """OMERO.web's rewriting of ``Name-123`` into ``(Name==123)`` before PyTables sees it.

    Like OMERO.web it matches a prefix only, and for ``Image``, ``Roi``, ``Plate`` and
    ``Well`` falls back to the lower-case column name when only that exists.
    """
    match = SHORTCUT.match(query)
    if match is None:
        return query
    name = match.group(1)
    if name in LOWERCASE_FALLBACK and name not in column_names and name.lower() in column_names:
        name = name.lower()
    return f"({name}=={match.group(2)})"


def parse(condition: str, column_names: Sequence[str]) -> Node:
    """The tree of ``condition``; :class:`QueryError` for anything outside the grammar."""
    text = condition.strip()
    if not text:
        raise QueryError("the condition is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the condition is longer than {MAX_QUERY_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise QueryError(f"the condition does not parse: {exc}") from None
    return _convert(tree.body, frozenset(column_names), 0)


def _convert(node: ast.AST, columns: frozenset[str], depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise QueryError(f"the condition nests deeper than {MAX_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1:
            raise QueryError("chained comparisons are not supported; use parentheses and &")
        op = _COMPARE.get(type(node.ops[0]))
        if op is None:
            raise QueryError(f"unsupported comparison {type(node.ops[0]).__name__}")
        return Compare(
            op, _convert(node.left, columns, depth), _convert(node.comparators[0], columns, depth)
        )
    if isinstance(node, ast.BinOp):
        left = _convert(node.left, columns, depth)
        right = _convert(node.right, columns, depth)
        if type(node.op) in _LOGICAL:
            return Logical(_LOGICAL[type(node.op)], left, right)
        if type(node.op) in _ARITH:
            return Arith(_ARITH[type(node.op)], left, right)
        raise QueryError(f"unsupported operator {type(node.op).__name__}")
    if isinstance(node, ast.UnaryOp):
        operand = _convert(node.operand, columns, depth)
        if isinstance(node.op, ast.Invert):
            return Not(operand)
        if isinstance(node.op, ast.USub):
            if isinstance(operand, Literal) and not isinstance(operand.value, (str, bool)):
                return Literal(-operand.value)
            return Negate(operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        raise QueryError("'not' is not supported; use ~")
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return Literal(node.id == "True")
        if node.id not in columns:
            raise QueryError(f"unknown column {node.id!r}")
        return ColumnRef(node.id)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, (bool, int, float, str)):
            return Literal(value)
        raise QueryError(f"unsupported literal {value!r}")
    if isinstance(node, ast.BoolOp):
        raise QueryError("'and'/'or' are not supported; use & and | with parentheses")
    raise QueryError(f"unsupported expression: {type(node).__name__}")


# ---------------------------------------------------------------------------- evaluation

_COMPARE_FN: dict[str, Callable[[Any, Any], Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_ARITH_FN: dict[str, Callable[[Any, Any], Any]] = {
    "+": pc.add_checked,
    "-": pc.subtract_checked,
    "*": pc.multiply_checked,
    "/": lambda a, b: pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64())),
    "**": lambda a, b: pc.power(pc.cast(a, pa.float64()), pc.cast(b, pa.float64())),
}


def evaluate(node: Node, table: pa.Table) -> Any:
    """The values of ``node`` over every row of ``table`` (an Arrow array or scalar)."""
    if isinstance(node, ColumnRef):
        return table.column(node.name)
    if isinstance(node, Literal):
        return pa.scalar(node.value)
    if isinstance(node, Compare):
        return _COMPARE_FN[node.op](evaluate(node.left, table), evaluate(node.right, table))
    if isinstance(node, Logical):
        left, right = _boolean(node.left, table), _boolean(node.right, table)
        return pc.and_(left, right) if node.op == "&" else pc.or_(left, right)
    if isinstance(node, Not):
        return pc.invert(_boolean(node.operand, table))
    if isinstance(node, Arith):
        return _ARITH_FN[node.op](evaluate(node.left, table), evaluate(node.right, table))
    return pc.negate_checked(evaluate(node.operand, table))


def _boolean(node: Node, table: pa.Table) -> Any:
    value = evaluate(node, table)
    if not pa.types.is_boolean(value.type):
        raise QueryError("&, | and ~ need conditions on both sides (use parentheses)")
    return value


def where(condition: str, table: pa.Table) -> list[int]:
    """The row numbers where ``condition`` holds, ascending (PyTables' ``getWhereList``)."""
    node = parse(condition, table.column_names)
    try:
        mask = evaluate(node, table)
    except QueryError:
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise QueryError(f"the condition cannot be run on this table: {exc}") from None
    if not pa.types.is_boolean(mask.type):
        raise QueryError("the condition is not a comparison")
    if isinstance(mask, pa.Scalar):
        return list(range(table.num_rows)) if mask.as_py() else []
    mask = pc.fill_null(mask, False)
    indices = pc.indices_nonzero(mask)
    return [int(i) for i in indices.to_pylist()]
