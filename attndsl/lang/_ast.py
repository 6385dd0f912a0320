"""The typed syntax tree of a program: small frozen dataclasses with source positions.

Positions never take part in equality, so two trees that print the same compare equal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Pos:
    """A source span, 1-based lines and columns (end column exclusive)."""

    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0


NOWHERE = Pos()


def _pos() -> Pos:
    return field(default=NOWHERE, compare=False, repr=False)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name != "pos")


class Node:
    """Base of every node: `pos` says where it came from."""

    pos: Pos

    def children(self) -> Iterator[Node]:
        """The direct child nodes, in source order."""
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                yield from (v for v in value if isinstance(v, Node))


# ------------------------------------------------------------------ expressions


class Expr(Node):
    """An expression."""


@dataclass(frozen=True)
class Const(Expr):
    """An int, float or bool literal."""

    value: int | float | bool
    pos: Pos = _pos()


@dataclass(frozen=True)
class Str(Expr):
    """A string literal (only meaningful compared with a token)."""

    value: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Name(Expr):
    """A reference to a local, the parameter or the output."""

    id: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Tuple(Expr):
    """A tuple of string literals, on the right of `in`."""

    items: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class BinOp(Expr):
    """`left op right` for op in + - * / // %."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class UnaryOp(Expr):
    """`-x`, `+x` or `not x`."""

    op: str
    operand: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class BoolOp(Expr):
    """`a and b and ...` or `a or b or ...`."""

    op: str
    values: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Compare(Expr):
    """`a < b <= c ...`: ops[k] sits between operands[k] and operands[k + 1]."""

    operands: tuple[Expr, ...]
    ops: tuple[str, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class IfExp(Expr):
    """`then if cond else orelse`."""

    cond: Expr
    then: Expr
    orelse: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class Call(Expr):
    """A call of a builtin by name."""

    func: str
    args: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Subscript(Expr):
    """`tokens[k]` or `out[a, b]`."""

    name: str
    indices: tuple[Expr, ...]
    pos: Pos = _pos()


# ------------------------------------------------------------------- statements


class Stmt(Node):
    """A statement."""


@dataclass(frozen=True)
class Assign(Stmt):
    """`name = value`."""

    target: str
    value: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class AugAssign(Stmt):
    """`name op= value`; op is the binary operator (`+`, `-`, ...)."""

    target: str
    op: str
    value: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class Store(Stmt):
    """`name[row, col] = value` (op "") or `name[row, col] op= value`."""

    target: str
    indices: tuple[Expr, ...]
    op: str
    value: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class ExprStmt(Stmt):
    """A bare expression (only a docstring is allowed)."""

    value: Expr
    pos: Pos = _pos()


@dataclass(frozen=True)
class For(Stmt):
    """`for var in iter:` where iter should be `range(...)`."""

    var: str
    iter: Expr
    body: tuple[Stmt, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class If(Stmt):
    """`if cond: body else: orelse` (`elif` is an `If` alone in `orelse`)."""

    cond: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Break(Stmt):
    pos: Pos = _pos()


@dataclass(frozen=True)
class Continue(Stmt):
    pos: Pos = _pos()


@dataclass(frozen=True)
class Pass(Stmt):
    pos: Pos = _pos()


@dataclass(frozen=True)
class Return(Stmt):
    """`return value` (value None for a bare `return`)."""

    value: Expr | None
    pos: Pos = _pos()


@dataclass(frozen=True)
class Function(Node):
    """The whole program: `def name(param): docstring; body`."""

    name: str
    params: tuple[str, ...]
    docstring: str | None
    body: tuple[Stmt, ...]
    pos: Pos = _pos()

    @property
    def param(self) -> str:
        """The token-sequence parameter."""
        return self.params[0]


def map_children(node: Any, fn: Callable[[Any], Any], kind: type = object) -> Any:
    """`node` (any frozen dataclass tree) with `fn` applied to each direct child of class
    `kind`, alone or in a tuple; the node itself when nothing changes."""
    changes = {}
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, kind) and not isinstance(value, tuple | str | int | float):
            changes[f.name] = fn(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], kind):
            changes[f.name] = tuple(fn(v) for v in value)
    return replace(node, **changes) if changes else node


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node` (itself included), pre-order, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(current.children())))
