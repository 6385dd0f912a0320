"""Pass 4, lower: a checked canonical program → `Lowered` IR for the backends.

Resolves every type (explicit casts), turns string literals into run-time slots, token tests
into table lookups, structural builtins into array lookups, chained comparisons into `and`,
`t in (...)` into one lookup over a run of literal slots, and `range(...)` into start/stop/step.
"""

from __future__ import annotations

from typing import Any

from ..lang import STRUCTURAL, TOKEN_TESTS, Checked, T, int_literal, token_key
from ..lang import syntax as A
from . import _ir as I

_TYPE = {T.BOOL: "bool", T.INT: "int", T.FLOAT: "float", T.TOK: "tok"}
_RANK = {"bool": 0, "int": 1, "float": 2}


def cast(value: I.Expr, want: str) -> I.Expr:
    """`value` converted to `want` (a no-op when it already has that type)."""
    if value.type == want:
        return value
    if isinstance(value, I.Const):
        converted = float(value.value) if want == "float" else int(value.value)
        return I.Const(converted, want)
    return I.Cast(value, want)


class _Lowerer:
    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.literals: list[str] = []
        self._slots: dict[str, int] = {}  # single literals' slots (runs for `in` are apart)
        self.length = set(checked.length_names)

    def kind(self, e: A.Expr) -> str:
        kind = self.checked.expr_types[id(e)]
        assert kind is not None, "lowering runs on checked programs, whose every type is known"
        return _TYPE[kind]

    def local_type(self, name: str) -> str:
        return _TYPE[self.checked.types[name]]

    # statements
    def block(self, body: tuple[A.Stmt, ...]) -> tuple[I.Stmt, ...]:
        out: list[I.Stmt] = []
        for s in body:
            lowered = self.stmt(s)
            if lowered is not None:
                out.append(lowered)
        return tuple(out)

    def stmt(self, s: A.Stmt) -> I.Stmt | None:
        where: dict[str, Any] = {"line": s.pos.line, "column": s.pos.column}
        if isinstance(s, A.Assign):
            if s.target in self.length or s.target == self.checked.output:
                return None
            return I.Let(s.target, cast(self.expr(s.value), self.local_type(s.target)), **where)
        if isinstance(s, A.AugAssign):
            local = self.local_type(s.target)
            value = self._arith(s.op, I.Var(s.target, local), self.expr(s.value))
            return I.Let(s.target, cast(value, local), **where)
        if isinstance(s, A.Store):
            row, col = (self.expr(i) for i in s.indices)
            return I.Store(row, col, s.op, cast(self.expr(s.value), "float"), **where)
        if isinstance(s, A.For):
            args = s.iter.args  # type: ignore[attr-defined]
            start = self.expr(args[0]) if len(args) > 1 else I.Const(0, "int")
            stop = self.expr(args[1] if len(args) > 1 else args[0])
            step = int_literal(args[2]) if len(args) == 3 else 1
            return I.Loop(s.var, start, stop, step or 1, self.block(s.body), **where)
        if isinstance(s, A.If):
            return I.If(self.expr(s.cond), self.block(s.body), self.block(s.orelse), **where)
        if isinstance(s, A.Break):
            return I.Break(**where)
        if isinstance(s, A.Continue):
            return I.Continue(**where)
        if isinstance(s, A.Return):
            return I.Return(**where)
        return None  # pass, docstrings

    # expressions
    def _arith(self, op: str, a: I.Expr, b: I.Expr) -> I.Expr:
        kind = "float" if op == "/" else max(a.type, b.type, "int", key=_RANK.__getitem__)
        return I.Arith(op, cast(a, kind), cast(b, kind), kind)

    def expr(self, e: A.Expr) -> I.Expr:
        if isinstance(e, A.Const):
            return I.Const(e.value, self.kind(e))
        if isinstance(e, A.Name):
            if e.id in self.length:
                return I.Var(I.LENGTH, "int")
            return I.Var(e.id, self.local_type(e.id))
        if isinstance(e, A.BinOp):
            return self._arith(e.op, self.expr(e.left), self.expr(e.right))
        if isinstance(e, A.UnaryOp):
            operand = self.expr(e.operand)
            if e.op == "not":
                return I.Not(operand)
            kind = self.kind(e)
            return I.Neg(cast(operand, kind), kind) if e.op == "-" else cast(operand, kind)
        if isinstance(e, A.BoolOp):
            return I.Logic(e.op, tuple(self.expr(v) for v in e.values))
        if isinstance(e, A.Compare):
            parts = [self._compare(op, a, b) for op, a, b in zip(e.ops, e.operands, e.operands[1:])]
            return parts[0] if len(parts) == 1 else I.Logic("and", tuple(parts))
        if isinstance(e, A.IfExp):
            kind = self.kind(e)
            return I.Select(
                self.expr(e.cond),
                cast(self.expr(e.then), kind),
                cast(self.expr(e.orelse), kind),
                kind,
            )
        if isinstance(e, A.Call):
            return self._call(e)
        if isinstance(e, A.Subscript):
            if e.name == self.checked.output:
                return I.OutRead(self.expr(e.indices[0]), self.expr(e.indices[1]))
            return I.TokAt(self.expr(e.indices[0]))
        raise TypeError(f"cannot lower {e!r}")  # pragma: no cover

    def _slot(self, key: str) -> int:
        """The slot of one literal's key (a token's text without its word-start space)."""
        if key not in self._slots:
            self._slots[key] = len(self.literals)
            self.literals.append(key)
        return self._slots[key]

    def _literal_run(self, tok: I.Expr, keys: list[str]) -> I.Expr:
        """`tok in (...)` as one lookup over a run of slots: code size stays constant."""
        start = len(self.literals)
        self.literals.extend(keys)
        return I.TokIn(tok, start, len(self.literals))

    def _compare(self, op: str, left: A.Expr, right: A.Expr) -> I.Expr:
        if op in ("in", "not in"):
            tok = self.expr(left)
            keys = list(dict.fromkeys(token_key(s.value) for s in right.items))  # type: ignore
            test = (
                I.TokIsLiteral(tok, self._slot(keys[0]))
                if len(keys) == 1
                else self._literal_run(tok, keys)
            )
            return test if op == "in" else I.Not(test)
        if isinstance(left, A.Str) or isinstance(right, A.Str):
            literal, other = (left, right) if isinstance(left, A.Str) else (right, left)
            assert isinstance(literal, A.Str)
            test: I.Expr = I.TokIsLiteral(self.expr(other), self._slot(token_key(literal.value)))
            return test if op == "==" else I.Not(test)
        a, b = self.expr(left), self.expr(right)
        if a.type == "tok":
            return I.TokEq(a, b) if op == "==" else I.Not(I.TokEq(a, b))
        kind = max(a.type, b.type, "int", key=_RANK.__getitem__)
        return I.Cmp(op, cast(a, kind), cast(b, kind))

    def _call(self, e: A.Call) -> I.Expr:
        name = e.func
        if name == "len":
            return I.Var(I.LENGTH, "int")
        if name in TOKEN_TESTS:
            return I.TokTest(name, self.expr(e.args[0]))
        if name == "lower":
            return I.Lower(self.expr(e.args[0]))
        if name in STRUCTURAL:
            return I.Struct(name, self.expr(e.args[0]))
        kind = self.kind(e)
        if name in ("min", "max"):
            return I.Extreme(name, tuple(cast(self.expr(a), kind) for a in e.args), kind)
        if name == "abs":
            return I.Math("abs", cast(self.expr(e.args[0]), kind), kind)
        return I.Math(name, cast(self.expr(e.args[0]), "float"), "float")


def _depth(body: tuple[I.Stmt, ...]) -> int:
    deepest = 0
    for s in body:
        if isinstance(s, I.Loop):
            deepest = max(deepest, 1 + _depth(s.body))
        elif isinstance(s, I.If):
            deepest = max(deepest, _depth(s.body), _depth(s.orelse))
    return deepest


def lower(checked: Checked, program_id: str) -> I.Lowered:
    """Lower a checked program (normally the canonical form) to IR."""
    lowerer = _Lowerer(checked)
    body = lowerer.block(checked.function.body)
    nodes = I.walk(body)
    local_types = {
        name: _TYPE[t]
        for name, t in checked.types.items()
        if t in _TYPE and name not in lowerer.length
    }
    return I.Lowered(
        program_id=program_id,
        body=body,
        locals=local_types,
        literals=tuple(lowerer.literals),
        uses_structure=any(isinstance(n, I.Struct) for n in nodes),
        uses_tests=frozenset(n.name for n in nodes if isinstance(n, I.TokTest)),
        uses_lower=any(isinstance(n, I.Lower) for n in nodes),
        loop_depth=_depth(body),
    )
