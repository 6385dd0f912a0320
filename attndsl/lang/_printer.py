"""One print style for programs: 4-space indents, minimal parentheses, double quotes."""

from __future__ import annotations

from . import _ast as A
from ._semantics import INT64_MIN

INDENT = "    "

_BINARY = {"+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7}
_ATOM = 9


def _precedence(e: A.Expr) -> int:
    if isinstance(e, A.IfExp):
        return 1
    if isinstance(e, A.BoolOp):
        return 2 if e.op == "or" else 3
    if isinstance(e, A.UnaryOp):
        return 4 if e.op == "not" else 8
    if isinstance(e, A.Compare):
        return 5
    if isinstance(e, A.BinOp):
        return _BINARY[e.op]
    if isinstance(e, A.Const) and e.value == INT64_MIN and type(e.value) is int:
        return _ATOM  # printed in parentheses: 2**63 itself is not an int64 literal
    if (
        isinstance(e, A.Const)
        and not isinstance(e.value, bool)
        and (e.value < 0 or str(e.value).startswith("-"))
    ):
        return 8
    return _ATOM


def string_literal(value: str) -> str:
    """A double-quoted Python string literal for `value`."""
    out = []
    for char in value:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) < 0xE000:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def print_expr(e: A.Expr, need: int = 0) -> str:
    """`e` as source, parenthesised if its precedence is below `need`."""
    text = _expr(e)
    return f"({text})" if _precedence(e) < need else text


def _expr(e: A.Expr) -> str:
    if isinstance(e, A.Const):
        if e.value == INT64_MIN and type(e.value) is int:
            return f"(-{-INT64_MIN - 1} - 1)"
        return repr(e.value)
    if isinstance(e, A.Str):
        return string_literal(e.value)
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Tuple):
        items = ", ".join(print_expr(i) for i in e.items)
        return f"({items},)" if len(e.items) == 1 else f"({items})"
    if isinstance(e, A.BinOp):
        p = _BINARY[e.op]
        return f"{print_expr(e.left, p)} {e.op} {print_expr(e.right, p + 1)}"
    if isinstance(e, A.UnaryOp):
        if e.op == "not":
            return f"not {print_expr(e.operand, 4)}"
        operand = print_expr(e.operand, _ATOM if _precedence(e.operand) == 8 else 8)
        return f"{e.op}{operand}"
    if isinstance(e, A.BoolOp):
        p = 2 if e.op == "or" else 3
        return f" {e.op} ".join(print_expr(v, p + 1) for v in e.values)
    if isinstance(e, A.Compare):
        parts = [print_expr(e.operands[0], 6)]
        for op, operand in zip(e.ops, e.operands[1:]):
            parts.append(f"{op} {print_expr(operand, 6)}")
        return " ".join(parts)
    if isinstance(e, A.IfExp):
        return f"{print_expr(e.then, 2)} if {print_expr(e.cond, 2)} else {print_expr(e.orelse, 1)}"
    if isinstance(e, A.Call):
        return f"{e.func}({', '.join(print_expr(a) for a in e.args)})"
    if isinstance(e, A.Subscript):
        return f"{e.name}[{', '.join(print_expr(i) for i in e.indices)}]"
    raise TypeError(f"not an expression: {e!r}")  # pragma: no cover


def _docstring(doc: str) -> str:
    if (
        '"""' in doc
        or "\\" in doc
        or doc.endswith('"')
        or any(ord(c) < 32 and c != "\n" for c in doc)
    ):
        return string_literal(doc)
    return f'"""{doc}"""'


def print_block(body: tuple[A.Stmt, ...], depth: int) -> list[str]:
    """Source lines of a block at indentation `depth` (`pass` for an empty block)."""
    if not body:
        return [INDENT * depth + "pass"]
    lines: list[str] = []
    for stmt in body:
        lines.extend(print_stmt(stmt, depth))
    return lines


def print_stmt(s: A.Stmt, depth: int) -> list[str]:
    pad = INDENT * depth
    if isinstance(s, A.Assign):
        return [f"{pad}{s.target} = {print_expr(s.value)}"]
    if isinstance(s, A.AugAssign):
        return [f"{pad}{s.target} {s.op}= {print_expr(s.value)}"]
    if isinstance(s, A.Store):
        index = ", ".join(print_expr(i) for i in s.indices)
        return [f"{pad}{s.target}[{index}] {s.op}= {print_expr(s.value)}"]
    if isinstance(s, A.ExprStmt):
        return [f"{pad}{print_expr(s.value)}"]
    if isinstance(s, A.For):
        return [f"{pad}for {s.var} in {print_expr(s.iter)}:", *print_block(s.body, depth + 1)]
    if isinstance(s, A.If):
        lines = [f"{pad}if {print_expr(s.cond)}:", *print_block(s.body, depth + 1)]
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], A.If):
            inner = orelse[0]
            lines += [f"{pad}elif {print_expr(inner.cond)}:", *print_block(inner.body, depth + 1)]
            orelse = inner.orelse
        if orelse:
            lines += [f"{pad}else:", *print_block(orelse, depth + 1)]
        return lines
    if isinstance(s, A.Return):
        return [f"{pad}return" + (f" {print_expr(s.value)}" if s.value is not None else "")]
    if isinstance(s, A.Break):
        return [f"{pad}break"]
    if isinstance(s, A.Continue):
        return [f"{pad}continue"]
    if isinstance(s, A.Pass):
        return [f"{pad}pass"]
    raise TypeError(f"not a statement: {s!r}")  # pragma: no cover


def print_function(fn: A.Function, docstring: bool = True) -> str:
    """The whole program as source text, ending with a newline."""
    lines = [f"def {fn.name}({', '.join(fn.params)}):"]
    if docstring and fn.docstring is not None:
        lines.append(INDENT + _docstring(fn.docstring))
    lines.extend(print_block(fn.body, 1))
    return "\n".join(lines) + "\n"
