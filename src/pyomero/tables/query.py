"""The OMERO.tables query language: PyTables conditions parsed into a tree, run with Arrow.

OMERO hands a condition such as ``(Well==45217) & (Plate>2)`` to PyTables, which compiles
it with numexpr. pyomero parses it with Python's own parser (the grammar numexpr uses,
so precedence is the same: ``&`` binds tighter than ``==``, hence the parentheses), then
accepts only a small whitelist of node types and turns them into an expression tree of its
own. Nothing is ever evaluated as Python and nothing reaches SQL: the tree is run with
``pyarrow.compute`` over the table's columns.

Grammar accepted (``service-api.md`` 6.3; PyTables' "Condition syntax" and numexpr's
"Supported functions")::

    condition  := expr
    expr       := expr ("&" | "|") expr | "~" expr | comparison | arith | "(" expr ")"
    comparison := arith ("==" | "!=" | "<" | "<=" | ">" | ">=") arith     (not chained)
    arith      := arith ("+" | "-" | "*" | "/" | "**" | "%") arith | "-" arith | operand
    operand    := COLUMN_NAME | INTEGER | FLOAT | STRING | True | False | call
    call       := FUNCTION "(" expr ("," expr)* ")"       (positional, the arity in FUNCTIONS)

A column name is a Python identifier naming a column of the table; a function is one of
:data:`FUNCTIONS`, called with exactly its number of arguments. The types are numexpr's:
the maths functions take numbers (integers are widened to float64) and give float64,
``where`` takes a condition and two numbers, ``contains`` two strings, ``%`` is the floored
remainder (numexpr: ``x % 0`` is 0 for integers, NaN for floats). Array columns cannot
appear in a condition, as in PyTables ("multidimensional fields in a table are not
supported in conditions").
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


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # a key of FUNCTIONS
    args: tuple[Node, ...]


Node = Union[ColumnRef, Literal, Compare, Logical, Not, Arith, Negate, Call]  # noqa: UP007

_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_LOGICAL = {ast.BitAnd: "&", ast.BitOr: "|"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%"}

#: numexpr's functions that take and give numbers, by name, with their Arrow kernels.
#: The complex-number ones (``real``, ``imag``, ``complex``, ``conj``) are left out:
#: OMERO.tables has no complex columns.
MATHS: dict[str, Callable[..., Any]] = {
    "sin": pc.sin,
    "cos": pc.cos,
    "tan": pc.tan,
    "arcsin": pc.asin,
    "arccos": pc.acos,
    "arctan": pc.atan,
    "arctan2": pc.atan2,
    "sinh": pc.sinh,
    "cosh": pc.cosh,
    "tanh": pc.tanh,
    "arcsinh": pc.asinh,
    "arccosh": pc.acosh,
    "arctanh": pc.atanh,
    "log": pc.ln,
    "log10": pc.log10,
    "log1p": pc.log1p,
    "exp": pc.exp,
    "expm1": pc.expm1,
    "sqrt": pc.sqrt,
    "abs": pc.abs,
}
#: Every function a condition may call, with its number of arguments.
FUNCTIONS: dict[str, int] = {
    **{name: 1 for name in MATHS},
    "arctan2": 2,
    "where": 3,
    "contains": 2,
}
#: Integer literals must fit numexpr's ``long`` (int64).
_INT64 = (-(2**63), 2**63 - 1)


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
    if isinstance(node, ast.Call):
        return _call(node, columns, depth)
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
        if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
            raise QueryError(f"the integer {value} does not fit in 64 bits")
        if isinstance(value, (bool, int, float, str)):
            return Literal(value)
        raise QueryError(f"unsupported literal {value!r}")
    if isinstance(node, ast.BoolOp):
        raise QueryError("'and'/'or' are not supported; use & and | with parentheses")
    raise QueryError(f"unsupported expression: {type(node).__name__}")


def _call(node: ast.Call, columns: frozenset[str], depth: int) -> Call:
    """A whitelisted function by its bare name, with its fixed number of positional args."""
    if not isinstance(node.func, ast.Name):
        raise QueryError("only functions called by their plain name are supported")
    name = node.func.id
    if name not in FUNCTIONS:
        raise QueryError(f"unknown function {name!r}; use one of {', '.join(FUNCTIONS)}")
    if node.keywords:
        raise QueryError(f"{name}() takes no keyword arguments")
    arity = FUNCTIONS[name]
    if len(node.args) != arity:
        plural = "s" if arity > 1 else ""
        raise QueryError(f"{name}() takes {arity} argument{plural}, not {len(node.args)}")
    return Call(name, tuple(_convert(arg, columns, depth) for arg in node.args))


# ---------------------------------------------------------------------------- evaluation

_COMPARE_FN: dict[str, Callable[[Any, Any], Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def _float(value: Any) -> Any:
    return pc.cast(value, pa.float64())


def _mod(a: Any, b: Any) -> Any:
    """numexpr's ``%``: floored (the sign of the divisor, as Python's), ``x % 0`` is 0 for
    integers; for floats ``a - floor(a / b) * b``, so NaN for a zero divisor."""
    if pa.types.is_integer(a.type) and pa.types.is_integer(b.type):
        zero = pc.equal(b, 0)
        divisor = pc.if_else(zero, 1, b)
        remainder = pc.subtract(a, pc.multiply(pc.divide(a, divisor), divisor))  # truncated
        wrong_sign = pc.and_(
            pc.not_equal(remainder, 0), pc.not_equal(pc.less(remainder, 0), pc.less(divisor, 0))
        )
        remainder = pc.if_else(wrong_sign, pc.add(remainder, divisor), remainder)
        return pc.if_else(zero, 0, remainder)
    a, b = _float(a), _float(b)
    return pc.subtract(a, pc.multiply(pc.floor(pc.divide(a, b)), b))


_ARITH_FN: dict[str, Callable[[Any, Any], Any]] = {
    "+": pc.add_checked,
    "-": pc.subtract_checked,
    "*": pc.multiply_checked,
    "/": lambda a, b: pc.divide(_float(a), _float(b)),
    "**": lambda a, b: pc.power(_float(a), _float(b)),
    "%": _mod,
}


def evaluate(node: Node, table: pa.Table) -> Any:
    """The values of ``node`` over every row of ``table`` (an Arrow array or scalar)."""
    if isinstance(node, ColumnRef):
        column = table.column(node.name)
        if pa.types.is_fixed_size_list(column.type) or pa.types.is_list(column.type):
            raise QueryError(
                f"column {node.name!r} is an array column; conditions cannot use array "
                "columns (PyTables cannot compare them either)"
            )
        return column
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
        left = _numeric(evaluate(node.left, table), node.op)
        right = _numeric(evaluate(node.right, table), node.op)
        return _ARITH_FN[node.op](left, right)
    if isinstance(node, Call):
        return _call_value(node, [evaluate(arg, table) for arg in node.args])
    return pc.negate_checked(_numeric(evaluate(node.operand, table), "unary -"))


def _numeric(value: Any, what: str) -> Any:
    """``value`` if it holds numbers; numexpr refuses arithmetic on booleans and strings."""
    if pa.types.is_integer(value.type) or pa.types.is_floating(value.type):
        return value
    raise QueryError(f"{what} needs numbers, not {value.type}")


def _call_value(node: Call, args: list[Any]) -> Any:
    if node.name == "where":
        condition, yes, no = args
        if not pa.types.is_boolean(condition.type):
            raise QueryError(f"where() needs a condition first, not {condition.type}")
        yes, no = _numeric(yes, "where()"), _numeric(no, "where()")
        if not (pa.types.is_integer(yes.type) and pa.types.is_integer(no.type)):
            yes, no = _float(yes), _float(no)
        return pc.if_else(condition, yes, no)
    if node.name == "contains":
        haystack, needle = args
        for value in args:
            if not (pa.types.is_string(value.type) or pa.types.is_large_string(value.type)):
                raise QueryError(f"contains() needs strings, not {value.type}")
        return _contains(haystack, needle)
    floats = [_float(_numeric(arg, f"{node.name}()")) for arg in args]
    return MATHS[node.name](*floats)


def _contains(haystack: Any, needle: Any) -> Any:
    """Whether each ``haystack`` holds ``needle`` (numexpr's ``contains``), null for null.
    Arrow's kernel takes one pattern; a needle per row is compared row by row."""
    one_haystack, one_needle = isinstance(haystack, pa.Scalar), isinstance(needle, pa.Scalar)
    if one_needle and not one_haystack and needle.is_valid:
        return pc.match_substring(haystack, needle.as_py())
    rows = 1 if one_haystack and one_needle else len(needle if one_haystack else haystack)
    haystacks = [haystack.as_py()] * rows if one_haystack else haystack.to_pylist()
    needles = [needle.as_py()] * rows if one_needle else needle.to_pylist()
    found = [
        None if h is None or n is None else n in h for h, n in zip(haystacks, needles, strict=True)
    ]
    if one_haystack and one_needle:
        return pa.scalar(found[0], pa.bool_())
    return pa.array(found, pa.bool_())


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
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as exc:
        raise QueryError(f"the condition cannot be run on this table: {exc}") from None
    if not pa.types.is_boolean(mask.type):
        raise QueryError("the condition is not a comparison")
    if isinstance(mask, pa.Scalar):
        return list(range(table.num_rows)) if mask.as_py() else []
    mask = pc.fill_null(mask, False)
    indices = pc.indices_nonzero(mask)
    return [int(i) for i in indices.to_pylist()]
