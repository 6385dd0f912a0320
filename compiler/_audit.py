"""Defence in depth: a generated kernel module is checked against the shapes `_numba` writes
before it is saved or imported.

The emitter never copies program text into a module; this check holds even if it someday
did. A module passes only if it is printable ASCII with `\\n` line breaks, its only comments
are the two header lines, and its syntax tree is exactly: the three imports, two boolean
flags, and one `program` function with the fixed decorator and parameters whose body uses
assignments to numbered locals and to `raw[a, b]`, `rt.store(...)` calls, `for ... in range`,
`if`/`else`, `break`, `continue`, `return`, `pass`, number and bool constants, arithmetic,
comparisons, `and`/`or`/`not`, conditional expressions, subscripts of the parameters, and
calls of `range`, `abs`, `np.int64`, `np.float64` and the runtime's helpers. No strings, no
attribute but `np.*`/`rt.*` ones, nothing else.
"""

from __future__ import annotations

import ast
import re

from ..lang import AttnDslError
from ._numba import HEADER, PARAMS, PROGRAM_ID

_HEADER = re.compile(r"# attndsl kernel for program " + PROGRAM_ID.pattern)
_LOCAL = re.compile(r"v[0-9]+")
_NUMPY = {"int64", "float64", "inf", "nan"}
_RUNTIME = {
    "iadd",
    "isub",
    "imul",
    "ineg",
    "iabs",
    "ifloordiv",
    "imod",
    "fdiv",
    "ffloordiv",
    "fmod",
    "flog",
    "fsqrt",
    "fexp",
    "fmin",
    "fmax",
    "imin",
    "imax",
    "tok_at",
    "lower",
    "tok_test",
    "tok_in",
    "tok_eq",
    "tok_is",
    "at",
    "out_read",
    "store",
}
_NAMES = {*PARAMS, "range", "abs"}
_EXPR_NODES = (
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Subscript,
    ast.Name,
    ast.Constant,
    ast.Attribute,
    ast.Tuple,
    ast.Load,
    ast.Store,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)


class KernelSourceError(AttnDslError):
    """Generated kernel source that is not of the shape the emitter writes."""


def _fail(what: str, node: ast.AST | None = None) -> KernelSourceError:
    where = f" (line {getattr(node, 'lineno', '?')})" if node is not None else ""
    return KernelSourceError(f"generated kernel module refused: {what}{where}")


def _check_text(source: str) -> None:
    if not source.isascii() or any(not (c.isprintable() or c == "\n") for c in source):
        raise _fail("a character outside printable ASCII")
    lines = source.split("\n")
    comments = [line for line in lines if "#" in line]
    if comments != [lines[0], lines[1]] or not _HEADER.fullmatch(lines[0]) or lines[1] != HEADER:
        raise _fail("comments other than the header")


def _check_expr(node: ast.AST) -> None:
    nodes = list(ast.walk(node))
    bases = {id(sub.value) for sub in nodes if isinstance(sub, ast.Attribute)}
    for sub in nodes:
        if not isinstance(sub, _EXPR_NODES):
            raise _fail(f"expression node {type(sub).__name__}", sub)
        if isinstance(sub, ast.Constant) and type(sub.value) not in (int, float, bool):
            raise _fail("a constant that is not a number", sub)
        if (
            isinstance(sub, ast.Name)
            and id(sub) not in bases
            and not (sub.id in _NAMES or _LOCAL.fullmatch(sub.id))
        ):
            raise _fail(f"the name {sub.id!r}", sub)
        if isinstance(sub, ast.Attribute):
            base = sub.value.id if isinstance(sub.value, ast.Name) else ""
            allowed = _NUMPY if base == "np" else _RUNTIME if base == "rt" else set()
            if sub.attr not in allowed:
                raise _fail(f"the attribute {base}.{sub.attr}", sub)
        if isinstance(sub, ast.Call):
            func = sub.func
            if sub.keywords or not (
                isinstance(func, ast.Attribute)
                or (isinstance(func, ast.Name) and func.id in ("range", "abs"))
            ):
                raise _fail("a call of something other than a helper", sub)
        if isinstance(sub, ast.Subscript) and not (
            isinstance(sub.value, ast.Name) and sub.value.id in PARAMS
        ):
            raise _fail("a subscript of something other than a parameter", sub)


def _check_target(node: ast.expr) -> None:
    if isinstance(node, ast.Name) and _LOCAL.fullmatch(node.id):
        return
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "raw"
    ):
        _check_expr(node)
        return
    raise _fail("an assignment to something other than a local or raw[a, b]", node)


def _check_body(body: list[ast.stmt]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            _check_target(stmt.targets[0])
            _check_expr(stmt.value)
        elif isinstance(stmt, ast.For) and not stmt.orelse:
            _check_target(stmt.target)
            if not (
                isinstance(stmt.iter, ast.Call)
                and isinstance(stmt.iter.func, ast.Name)
                and stmt.iter.func.id == "range"
            ):
                raise _fail("a loop over something other than range", stmt)
            _check_expr(stmt.iter)
            _check_body(stmt.body)
        elif isinstance(stmt, ast.If):
            _check_expr(stmt.test)
            _check_body(stmt.body)
            _check_body(stmt.orelse)
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and ast.unparse(stmt.value.func) == "rt.store"
        ):
            _check_expr(stmt.value)
        elif isinstance(stmt, ast.Return) and stmt.value is None:
            pass
        elif not isinstance(stmt, ast.Break | ast.Continue | ast.Pass):
            raise _fail(f"the statement {type(stmt).__name__}", stmt)


_PRELUDE = (
    "import numpy as np",
    "from numba import njit",
    "from attndsl.compiler import _runtime as rt",
)
_DECORATOR = "njit(rt.PROGRAM_SIG, cache=True, nogil=True)"


def check_module(source: str) -> None:
    """Raise `KernelSourceError` unless `source` has exactly the emitter's shape."""
    _check_text(source)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise _fail(f"not valid Python ({exc.msg})") from None
    body = list(tree.body)
    if len(body) != 6 or [ast.unparse(s) for s in body[:3]] != list(_PRELUDE):
        raise _fail("top-level statements other than the imports, two flags and `program`")
    for stmt, flag in zip(body[3:5], ("USES_STRUCTURE", "READS_OUT")):
        if not (
            isinstance(stmt, ast.Assign)
            and ast.unparse(stmt.targets[0]) == flag
            and isinstance(stmt.value, ast.Constant)
            and type(stmt.value.value) is bool
        ):
            raise _fail(f"the flag {flag}", stmt)
    fn = body[5]
    if (
        not isinstance(fn, ast.FunctionDef)
        or fn.name != "program"
        or [ast.unparse(d) for d in fn.decorator_list] != [_DECORATOR]
        or ast.unparse(fn.args) != ", ".join(PARAMS)
        or fn.returns is not None
    ):
        raise _fail("the kernel function's name, decorator or parameters", fn)
    _check_body(fn.body)
