"""The lowered form both backends consume: typed, token-free, one operation per node.

Types are "int" (int64), "float" (float64), "bool" and "tok" (an int64 index into the
vocabulary tables, -1 for the null token). Every conversion is an explicit `Cast`, every
string literal is a slot in `Lowered.literals` (its key class is a run-time input), every
token test and structural builtin is a table or array lookup. No string reaches a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Node:
    """Base of IR nodes."""


class Expr(Node):
    """An expression with a static type."""

    type: str


@dataclass(frozen=True)
class Const(Expr):
    value: int | float | bool
    type: str


#: the name of the sentence length in the IR: not an identifier, so no local of a program can
#: take it (a program may call a local `n`)
LENGTH = "#n"


@dataclass(frozen=True)
class Var(Expr):
    """A local, a loop variable, or `LENGTH` (the sentence length)."""

    name: str
    type: str


@dataclass(frozen=True)
class Cast(Expr):
    """Convert `value` to `type` (bool→int, int→float, bool→float)."""

    value: Expr
    type: str


@dataclass(frozen=True)
class Arith(Expr):
    """`a op b` for op in + - * / // %, both operands already of `type` (int or float)."""

    op: str
    a: Expr
    b: Expr
    type: str


@dataclass(frozen=True)
class Neg(Expr):
    value: Expr
    type: str


@dataclass(frozen=True)
class Math(Expr):
    """abs, exp, log or sqrt of one operand (abs keeps the type; the others are float)."""

    fn: str
    value: Expr
    type: str


@dataclass(frozen=True)
class Extreme(Expr):
    """min or max of operands of one type; NaN if any is NaN."""

    fn: str
    args: tuple[Expr, ...]
    type: str


@dataclass(frozen=True)
class Cmp(Expr):
    """Numeric comparison `a op b` (op in < <= > >= == !=), operands of one type."""

    op: str
    a: Expr
    b: Expr
    type: str = "bool"


@dataclass(frozen=True)
class TokEq(Expr):
    """Two tokens are equal: both non-null with the same key class."""

    a: Expr
    b: Expr
    type: str = "bool"


@dataclass(frozen=True)
class TokIsLiteral(Expr):
    """A token equals string literal number `slot` (key class given at run time)."""

    tok: Expr
    slot: int
    type: str = "bool"


@dataclass(frozen=True)
class TokIn(Expr):
    """A token equals one of the string literals in slots [start, stop) (`t in (...)`)."""

    tok: Expr
    start: int
    stop: int
    type: str = "bool"


@dataclass(frozen=True)
class Logic(Expr):
    """`and` / `or` over bools (all operands are pure, so evaluation order is free)."""

    op: str
    args: tuple[Expr, ...]
    type: str = "bool"


@dataclass(frozen=True)
class Not(Expr):
    value: Expr
    type: str = "bool"


@dataclass(frozen=True)
class Select(Expr):
    """`then if cond else orelse`, branches of `type`."""

    cond: Expr
    then: Expr
    orelse: Expr
    type: str


@dataclass(frozen=True)
class TokAt(Expr):
    """The token at a position, -1 outside [0, n)."""

    pos: Expr
    type: str = "tok"
    checked: bool = True  # False once `_ranges` proves pos in [0, n)


@dataclass(frozen=True)
class Lower(Expr):
    """The lower-cased token (via the vocabulary's lower map), -1 for null."""

    tok: Expr
    type: str = "tok"


@dataclass(frozen=True)
class TokTest(Expr):
    """A token test looked up in the vocabulary's table (False for null)."""

    name: str
    tok: Expr
    type: str = "bool"


@dataclass(frozen=True)
class Struct(Expr):
    """A structural builtin's per-sentence array at a position, -1 outside [0, n)."""

    name: str
    pos: Expr
    type: str = "int"
    checked: bool = True


@dataclass(frozen=True)
class OutRead(Expr):
    """The raw output entry, 0.0 outside the matrix."""

    row: Expr
    col: Expr
    type: str = "float"


# ------------------------------------------------------------------- statements


class Stmt(Node):
    """A statement; `line`/`column` point back at the source."""

    line: int
    column: int


@dataclass(frozen=True)
class Let(Stmt):
    name: str
    value: Expr
    line: int = 0
    column: int = 0


#: The updates a store can make (`out[a, b] op= v`); backends refer to them by index.
STORE_OPS = ("", "+", "-", "*", "/", "//", "%")


@dataclass(frozen=True)
class Store(Stmt):
    """`out[row, col] op= value` (op "" for plain `=`); value is float."""

    row: Expr
    col: Expr
    op: str
    value: Expr
    line: int = 0
    column: int = 0
    checked: bool = True  # False once `_ranges` proves the cell inside the matrix


@dataclass(frozen=True)
class Loop(Stmt):
    var: str
    start: Expr
    stop: Expr
    step: int
    body: tuple[Stmt, ...]
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Break(Stmt):
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Continue(Stmt):
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Return(Stmt):
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Lowered:
    """A lowered program: its body, local types, literal keys and what it needs at run time."""

    program_id: str
    body: tuple[Stmt, ...]
    locals: dict[str, str]
    literals: tuple[str, ...]
    uses_structure: bool
    uses_tests: frozenset[str] = field(default_factory=frozenset)
    uses_lower: bool = False
    loop_depth: int = 0


def children(node: Node) -> list[Node]:
    """The direct child nodes of an IR node."""
    found: list[Node] = []
    for value in vars(node).values():
        if isinstance(value, Node):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, Node))
    return found


def walk(nodes: tuple[Node, ...] | list[Node]) -> list[Node]:
    """Every node under `nodes`, pre-order."""
    out: list[Node] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return out
