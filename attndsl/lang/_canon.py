"""Pass 3, canonicalise: one spelling for each meaning, so equal programs get equal ids.

A round simplifies (folds constants, propagates constant locals, drops dead code and no-op
branches), renames (`tokens`, `out`, `n`, loop variables `i`, `j`, `k` by depth, other locals
`a`, `b`, ... by first assignment), then orders the operands of commutative operators and
writes `a > b` as `b < a`. Each round is printed, parsed and checked again; rounds repeat
until the text stops changing. Every rewrite keeps the exact meaning of `_semantics`.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

from . import _ast as A
from . import _semantics as S
from ._builtins import T
from ._check import Checked, check
from ._features import literal_spelling
from ._parse import parse
from ._printer import print_expr, print_function

MAX_ROUNDS = 8
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_NEGATE = {"==": "!=", "!=": "==", "in": "not in", "not in": "in"}
_LOOP_NAMES = ("i", "j", "k")


def _const(value: object, like: A.Node) -> A.Const:
    return A.Const(value, like.pos)  # type: ignore[arg-type]


def _is_const(e: A.Expr) -> TypeGuard[A.Const]:
    return isinstance(e, A.Const)


def _values(exprs: Iterable[A.Expr]) -> list[Any] | None:
    """The values of `exprs` when every one is a constant, else None."""
    values = []
    for e in exprs:
        if not isinstance(e, A.Const):
            return None
        values.append(e.value)
    return values


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _map_stmts(
    body: tuple[A.Stmt, ...], fn: Callable[[A.Stmt], list[A.Stmt]]
) -> tuple[A.Stmt, ...]:
    out: list[A.Stmt] = []
    for stmt in body:
        out.extend(fn(stmt))
    return tuple(out)


# ------------------------------------------------------------------- simplify


class _Simplifier:
    """Folding, constant propagation and dead-code removal on one checked tree."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.types = checked.types
        self.constants = self._constant_locals()

    def kind(self, e: A.Expr) -> T | None:
        return self.checked.expr_types.get(id(e))

    def _constant_locals(self) -> dict[str, A.Const]:
        """Locals assigned once, at the top level, to a literal, and never updated."""
        fn = self.checked.function
        counts = Counter(n.target for n in A.walk(fn) if isinstance(n, A.Assign | A.AugAssign))
        found = {}
        for stmt in fn.body:
            if (
                isinstance(stmt, A.Assign)
                and counts[stmt.target] == 1
                and isinstance(stmt.value, A.Const)
            ):
                value = S.coerce(stmt.value.value, str(self.types[stmt.target]))
                found[stmt.target] = A.Const(value, stmt.value.pos)
        return found

    # statements
    def block(self, body: tuple[A.Stmt, ...], loop_body: bool = False) -> tuple[A.Stmt, ...]:
        """Simplify a block; a `continue` ending a loop's own body is dropped."""
        out: list[A.Stmt] = []
        for stmt in body:
            out.extend(self.stmt(stmt))
            if out and _jumps(out[-1]):
                break  # the rest of the block never runs
        if loop_body and out and isinstance(out[-1], A.Continue):
            out.pop()
        return tuple(out)

    def stmt(self, s: A.Stmt) -> list[A.Stmt]:
        if isinstance(s, A.Pass):
            return []
        if isinstance(s, A.Assign):
            if s.target in self.constants:
                return []
            # Keep the local's type explicit in each assignment, so removing another one
            # (dead code) can never narrow it: `x = 1` in a float local becomes `x = 1.0`.
            value = self._as_kind(self.expr(s.value), self.types.get(s.target), self.kind(s.value))
            return [dataclasses.replace(s, value=value)]
        if isinstance(s, A.AugAssign):
            return [dataclasses.replace(s, value=self.expr(s.value))]
        if isinstance(s, A.Store):
            value = self.expr(s.value)
            if s.op in ("+", "-") and _is_const(value) and value.value == 0:
                return []
            return [A.Store(s.target, tuple(self.expr(i) for i in s.indices), s.op, value, s.pos)]
        if isinstance(s, A.For):
            args = tuple(self.expr(a) for a in s.iter.args)  # type: ignore[attr-defined]
            bounds = _values(args)
            if bounds is not None and not range(*bounds):
                return []
            if len(args) == 3 and args[2].value == 1:  # type: ignore[attr-defined]
                args = args[:2]
            if len(args) == 2 and _is_const(args[0]) and args[0].value == 0:
                args = args[1:]
            body = self.block(s.body, loop_body=True)
            if not body:
                return []
            return [A.For(s.var, A.Call("range", args, s.iter.pos), body, s.pos)]
        if isinstance(s, A.If):
            cond = self.expr(s.cond)
            if _is_const(cond):
                return list(self.block(s.body if cond.value else s.orelse))
            body, orelse = self.block(s.body), self.block(s.orelse)
            if body == orelse:
                return list(body)
            if not body:
                return [A.If(self.negate(cond), orelse, (), s.pos)]
            return [A.If(cond, body, orelse, s.pos)]
        if isinstance(s, A.Return | A.Break | A.Continue | A.ExprStmt):
            return [s]
        raise AssertionError(f"unknown statement {s!r}")  # pragma: no cover

    def negate(self, cond: A.Expr) -> A.Expr:
        """`not cond`, written without `not` where that keeps the meaning (NaN included)."""
        if isinstance(cond, A.UnaryOp) and cond.op == "not":
            return cond.operand
        if isinstance(cond, A.Compare) and len(cond.ops) == 1 and cond.ops[0] in _NEGATE:
            return A.Compare(cond.operands, (_NEGATE[cond.ops[0]],), cond.pos)
        if _is_const(cond):
            return _const(not cond.value, cond)
        return A.UnaryOp("not", cond, cond.pos)

    # expressions
    def expr(self, e: A.Expr) -> A.Expr:
        kind = self.kind(e)
        if isinstance(e, A.Name) and e.id in self.constants:
            return self.constants[e.id]
        if isinstance(e, A.Str):
            return A.Str(literal_spelling(e.value), e.pos)
        if isinstance(e, A.Tuple):
            return A.Tuple(tuple(self.expr(i) for i in e.items), e.pos)
        if isinstance(e, A.BinOp):
            left, right = self.expr(e.left), self.expr(e.right)
            if _is_const(left) and _is_const(right):
                value = S.binop(e.op, left.value, right.value)
                if _finite(value):
                    return _const(value, e)
            return A.BinOp(e.op, left, right, e.pos)
        if isinstance(e, A.UnaryOp):
            operand = self.expr(e.operand)
            if e.op == "not":
                return self.negate(operand)
            if e.op == "+":
                if _is_const(operand):
                    return _const(S.coerce(operand.value, str(kind)), e)
                if kind == self.kind(e.operand) or self.kind(e.operand) is None:
                    return operand
                return A.UnaryOp("+", operand, e.pos)
            if _is_const(operand):
                return _const(S.negate(operand.value), e)
            return A.UnaryOp("-", operand, e.pos)
        if isinstance(e, A.BoolOp):
            return self._boolop(e)
        if isinstance(e, A.Compare):
            operands = tuple(self.expr(o) for o in e.operands)
            values = _values(operands)
            if values is not None:
                pairs = zip(e.ops, values, values[1:])
                return _const(all(S.compare(op, a, b) for op, a, b in pairs), e)
            return A.Compare(operands, e.ops, e.pos)
        if isinstance(e, A.IfExp):
            cond = self.expr(e.cond)
            then, orelse = self.expr(e.then), self.expr(e.orelse)
            if _is_const(cond):
                chosen, source = (then, e.then) if cond.value else (orelse, e.orelse)
                return self._as_kind(chosen, kind, self.kind(source))
            if then == orelse and self.kind(e.then) == self.kind(e.orelse):
                return then
            return A.IfExp(cond, then, orelse, e.pos)
        if isinstance(e, A.Call):
            args = tuple(self.expr(a) for a in e.args)
            values = _values(args)
            if values is not None and e.func in ("min", "max", "abs", "exp", "log", "sqrt"):
                value = self._fold_call(e.func, values)
                if _finite(value):
                    return _const(value, e)
            return A.Call(e.func, args, e.pos)
        if isinstance(e, A.Subscript):
            return A.Subscript(e.name, tuple(self.expr(i) for i in e.indices), e.pos)
        return e

    @staticmethod
    def _fold_call(func: str, values: list) -> object:
        if func in ("min", "max"):
            return S.extreme(func, values)
        if func == "abs":
            return S.absolute(values[0])
        return {"exp": S.exp, "log": S.log, "sqrt": S.sqrt}[func](values[0])

    @staticmethod
    def _as_kind(e: A.Expr, want: T | None, have: T | None) -> A.Expr:
        """`e` (of type `have`) standing where a value of type `want` was."""
        if want == have or want is None or have is None or want not in (T.FLOAT, T.INT):
            return e
        if _is_const(e):
            return _const(S.coerce(e.value, str(want)), e)
        if want == T.FLOAT:
            return A.BinOp("*", e, A.Const(1.0, e.pos), e.pos)
        return A.UnaryOp("+", e, e.pos)  # bool → int

    def _boolop(self, e: A.BoolOp) -> A.Expr:
        absorbing = e.op == "or"  # True absorbs `or`, False absorbs `and`
        values: list[A.Expr] = []
        for value in (self.expr(v) for v in e.values):
            parts = value.values if isinstance(value, A.BoolOp) and value.op == e.op else (value,)
            for part in parts:
                if _is_const(part):
                    if part.value == absorbing:
                        return _const(absorbing, e)
                    continue
                if part not in values:
                    values.append(part)
        if not values:
            return _const(not absorbing, e)
        return values[0] if len(values) == 1 else A.BoolOp(e.op, tuple(values), e.pos)


def _jumps(s: A.Stmt) -> bool:
    """The statement never lets control reach the next one (return, break, continue, or an
    if whose branches all end in one)."""
    if isinstance(s, A.Return | A.Break | A.Continue):
        return True
    return (
        isinstance(s, A.If)
        and bool(s.body)
        and bool(s.orelse)
        and _jumps(s.body[-1])
        and _jumps(s.orelse[-1])
    )


def _reads(fn: A.Function) -> Counter:
    """How often each name is read (an update `x += e` does not count as a read of x)."""
    counts: Counter = Counter()
    for node in A.walk(fn):
        if isinstance(node, A.Name):
            counts[node.id] += 1
    return counts


def _drop_unused(fn: A.Function, keep: set[str]) -> A.Function:
    """Remove assignments to locals that are never read."""
    while True:
        read = {name for name, count in _reads(fn).items() if count}

        def strip(s: A.Stmt, read: set[str] = read) -> list[A.Stmt]:
            if isinstance(s, A.Assign | A.AugAssign) and s.target not in keep | read:
                return []
            if isinstance(s, A.For):
                return [dataclasses.replace(s, body=_map_stmts(s.body, strip))]
            if isinstance(s, A.If):
                return [
                    dataclasses.replace(
                        s, body=_map_stmts(s.body, strip), orelse=_map_stmts(s.orelse, strip)
                    )
                ]
            return [s]

        body = _map_stmts(fn.body, strip)
        if body == fn.body:
            return fn
        fn = dataclasses.replace(fn, body=body)


# ------------------------------------------------------------------- rename


class _Renamer:
    """Canonical names: tokens, out, n, loop variables by depth, a, b, ... for the rest."""

    def __init__(self, checked: Checked) -> None:
        fn = checked.function
        self.names = {fn.param: "tokens", checked.output: "out"}
        lengths = sorted(checked.length_names)
        self.length = lengths[0] if lengths else None
        for name in lengths:
            self.names[name] = "n"
        self.param = fn.param
        others: list[str] = []
        for node in A.walk(fn):
            if (
                isinstance(node, A.Assign)
                and node.target not in self.names
                and node.target not in checked.loop_vars
                and node.target not in others
            ):
                others.append(node.target)
        for index, name in enumerate(others):
            self.names[name] = chr(ord("a") + index) if index < 8 else f"v{index}"

    def function(self, fn: A.Function) -> A.Function:
        body = self.block(fn.body, {}, 0)
        if self.length is None:  # introduce n = len(tokens) before the output
            length = A.Assign("n", A.Call("len", (A.Name("tokens"),)))
            body = (length, *body)
        else:  # keep one `n = len(tokens)`, first
            body = tuple(s for s in body if not (isinstance(s, A.Assign) and s.target == "n"))
            body = (A.Assign("n", A.Call("len", (A.Name("tokens"),))), *body)
        return A.Function("head", ("tokens",), fn.docstring, body, fn.pos)

    def block(self, body: tuple[A.Stmt, ...], loops: dict[str, str], depth: int):
        return tuple(self.stmt(s, loops, depth) for s in body)

    def stmt(self, s: A.Stmt, loops: dict[str, str], depth: int) -> A.Stmt:
        def e(x: A.Expr) -> A.Expr:
            return self.expr(x, loops)

        if isinstance(s, A.Assign | A.AugAssign):
            target = self.names.get(s.target, s.target)
            return dataclasses.replace(s, target=target, value=e(s.value))
        if isinstance(s, A.Store):
            return A.Store("out", tuple(e(i) for i in s.indices), s.op, e(s.value), s.pos)
        if isinstance(s, A.For):
            var = _LOOP_NAMES[min(depth, len(_LOOP_NAMES) - 1)]
            inner = {**loops, s.var: var}
            return A.For(var, e(s.iter), self.block(s.body, inner, depth + 1), s.pos)
        if isinstance(s, A.If):
            return A.If(
                e(s.cond),
                self.block(s.body, loops, depth),
                self.block(s.orelse, loops, depth),
                s.pos,
            )
        if isinstance(s, A.Return):
            return A.Return(A.Name("out"), s.pos)
        return s

    def expr(self, x: A.Expr, loops: dict[str, str]) -> A.Expr:
        if isinstance(x, A.Name):
            return A.Name(loops.get(x.id) or self.names.get(x.id, x.id), x.pos)
        if isinstance(x, A.Call) and x.func == "len":
            return A.Name("n", x.pos)
        if isinstance(x, A.Subscript):
            name = "tokens" if x.name == self.param else "out"
            return A.Subscript(name, tuple(self.expr(i, loops) for i in x.indices), x.pos)
        return A.map_children(x, lambda child: self.expr(child, loops), A.Expr)


# --------------------------------------------------------------------- order


def _key(e: A.Expr) -> tuple[bool, str]:
    """Sort key for commutative operands: literals last, then by printed text."""
    return isinstance(e, A.Const | A.Str), print_expr(e)


def _order_expr(e: A.Expr) -> A.Expr:
    e = A.map_children(e, _order_expr, A.Expr)
    if isinstance(e, A.BinOp) and e.op in ("+", "*") and _key(e.right) < _key(e.left):
        return A.BinOp(e.op, e.right, e.left, e.pos)
    if isinstance(e, A.BoolOp):
        return A.BoolOp(e.op, tuple(sorted(e.values, key=_key)), e.pos)
    if isinstance(e, A.Call) and e.func in ("min", "max"):
        return A.Call(e.func, tuple(sorted(e.args, key=_key)), e.pos)
    if isinstance(e, A.Tuple):
        strings = [i for i in e.items if isinstance(i, A.Str)]
        items = sorted({i.value: i for i in strings}.values(), key=lambda i: i.value)
        return A.Tuple(tuple(items), e.pos)
    if isinstance(e, A.Compare):
        return _order_compare(e)
    return e


def _order_compare(e: A.Compare) -> A.Expr:
    ops, operands = e.ops, e.operands
    if len(ops) > 1 and all(op in (">", ">=") for op in ops):
        return A.Compare(operands[::-1], tuple(_FLIP[o] for o in ops[::-1]), e.pos)
    if len(ops) > 1 and not all(op in ("<", "<=") for op in ops):
        parts = [
            _order_compare(A.Compare((a, b), (op,), e.pos))
            for op, a, b in zip(ops, operands, operands[1:])
        ]
        return A.BoolOp("and", tuple(sorted(parts, key=_key)), e.pos)
    if len(ops) != 1:
        return e
    op, left, right = ops[0], operands[0], operands[1]
    if op in (">", ">="):
        return A.Compare((right, left), (_FLIP[op],), e.pos)
    if op in ("==", "!=") and _key(right) < _key(left):
        return A.Compare((right, left), (op,), e.pos)
    if op in ("in", "not in") and isinstance(right, A.Tuple) and len(right.items) == 1:
        return A.Compare((left, right.items[0]), ("==" if op == "in" else "!=",), e.pos)
    return e


def _order_stmt(s: A.Stmt) -> A.Stmt:
    s = A.map_children(s, _order_expr, A.Expr)
    return A.map_children(s, _order_stmt, A.Stmt)


# ---------------------------------------------------------------------- rounds


def _round(checked: Checked) -> A.Function:
    fn = checked.function
    simplifier = _Simplifier(checked)
    fn = dataclasses.replace(fn, body=simplifier.block(fn.body))
    fn = _drop_unused(fn, keep={checked.output, *checked.length_names})
    fn = _Renamer(dataclasses.replace(checked, function=fn)).function(fn)
    return dataclasses.replace(fn, body=tuple(_order_stmt(s) for s in fn.body))


def canonical_text(checked: Checked) -> str:
    """The canonical source of a checked program (docstring included)."""
    text = print_function(checked.function)
    for _ in range(MAX_ROUNDS):
        new = print_function(_round(checked))
        if new == text:
            break
        text = new
        checked = check(parse(text, checked.filename), text, checked.filename)
    return text
