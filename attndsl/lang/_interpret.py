"""The reference interpreter: the definition of what a checked program means.

It turns a `Checked` tree into nested Python closures once, then runs them on a token
sequence. Plain Python, no `exec`: the compiled backends are tested against this.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _ast as A
from . import _semantics as S
from ._builtins import T
from ._check import Checked
from ._features import STRUCTURAL, TOKEN_TESTS, SequenceFeatures, sequence_features, token_key

Env = dict
Closure = Callable[[Env], Any]  # values are as the checker typed them

_BREAK, _CONTINUE, _RETURN = 1, 2, 3


@functools.lru_cache(maxsize=65_536)
def _key(text: str) -> str:
    return token_key(text)


@functools.lru_cache(maxsize=65_536)
def _test(name: str, text: str) -> bool:
    return TOKEN_TESTS[name](text)


def _tok_equal(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _key(a) == _key(b)


class _Call:
    """Per-call state: the sequence, its features and the output rows."""

    __slots__ = ("features", "n", "out", "structure", "texts")

    def __init__(self, features: SequenceFeatures) -> None:
        self.features = features
        self.texts = features.texts
        self.n = len(features.texts)
        self.out = [[0.0] * self.n for _ in range(self.n)]
        self.structure = {name: getattr(features, name).tolist() for name in STRUCTURAL}


class _ClosureBuilder:
    """Checked tree → closures taking `env` (locals, plus the run under key 0)."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.types = checked.types

    def kind(self, e: A.Expr) -> T | None:
        return self.checked.expr_types.get(id(e))

    # statements
    def block(self, body: Sequence[A.Stmt]) -> Closure:
        stmts = [self.stmt(s) for s in body if not isinstance(s, A.Pass)]

        def run_block(env: Env) -> int:
            for stmt in stmts:
                signal = stmt(env)
                if signal:
                    return signal
            return 0

        return run_block

    def stmt(self, s: A.Stmt) -> Closure:
        if isinstance(s, A.Assign):
            if s.target == self.checked.output:
                return lambda env: 0
            name, value = s.target, self.expr(s.value)
            kind = str(self.types[name])

            def assign(env: Env) -> int:
                env[name] = S.coerce(value(env), kind)
                return 0

            return assign
        if isinstance(s, A.AugAssign):
            name, op, value = s.target, s.op, self.expr(s.value)
            kind = str(self.types[name])

            def aug_assign(env: Env) -> int:
                env[name] = S.coerce(S.binop(op, env[name], value(env)), kind)
                return 0

            return aug_assign
        if isinstance(s, A.Store):
            row, col = (self.expr(i) for i in s.indices)
            op, value = s.op, self.expr(s.value)

            def store(env: Env) -> int:
                run = env[0]
                a, b = row(env), col(env)
                v = value(env)
                if 0 <= a < run.n and 0 <= b < run.n:
                    line = run.out[a]
                    line[b] = float(S.binop(op, line[b], v) if op else v)
                return 0

            return store
        if isinstance(s, A.For):
            return self.loop(s)
        if isinstance(s, A.If):
            cond, then, orelse = self.expr(s.cond), self.block(s.body), self.block(s.orelse)
            return lambda env: then(env) if cond(env) else orelse(env)
        if isinstance(s, A.Break):
            return lambda env: _BREAK
        if isinstance(s, A.Continue):
            return lambda env: _CONTINUE
        if isinstance(s, A.Return):
            return lambda env: _RETURN
        raise AssertionError(f"unchecked statement {s!r}")  # pragma: no cover

    def loop(self, s: A.For) -> Closure:
        args = [self.expr(a) for a in s.iter.args]  # type: ignore[attr-defined]
        var, body = s.var, self.block(s.body)

        def run_loop(env: Env) -> int:
            for value in range(*(arg(env) for arg in args)):
                env[var] = value
                signal = body(env)
                if signal == _BREAK:
                    break
                if signal == _RETURN:
                    return _RETURN
            return 0

        return run_loop

    # expressions
    def expr(self, e: A.Expr) -> Closure:
        return getattr(self, "_" + type(e).__name__.lower())(e)

    def _const(self, e: A.Const) -> Closure:
        value = e.value
        return lambda env: value

    def _str(self, e: A.Str) -> Closure:
        value = e.value
        return lambda env: value

    def _name(self, e: A.Name) -> Closure:
        name = e.id
        return lambda env: env[name]

    def _binop(self, e: A.BinOp) -> Closure:
        op, left, right = e.op, self.expr(e.left), self.expr(e.right)
        return lambda env: S.binop(op, left(env), right(env))

    def _unaryop(self, e: A.UnaryOp) -> Closure:
        operand = self.expr(e.operand)
        if e.op == "not":
            return lambda env: not operand(env)
        if e.op == "-":
            return lambda env: S.negate(operand(env))
        if self.kind(e) == T.INT:
            return lambda env: int(operand(env))
        return operand

    def _boolop(self, e: A.BoolOp) -> Closure:
        values = [self.expr(v) for v in e.values]
        if e.op == "and":
            return lambda env: all(v(env) for v in values)
        return lambda env: any(v(env) for v in values)

    def _compare(self, e: A.Compare) -> Closure:
        operands = [self._operand(o) for o in e.operands]
        tokens = [self.kind(o) in (T.TOK, T.STR) for o in e.operands]
        tests = [self._comparison(op, tokens[k] or tokens[k + 1]) for k, op in enumerate(e.ops)]

        def compare(env: Env) -> bool:
            left = operands[0](env)
            for test, operand in zip(tests, operands[1:]):
                right = operand(env)
                if not test(left, right):
                    return False
                left = right
            return True

        return compare

    def _operand(self, e: A.Expr) -> Closure:
        if isinstance(e, A.Tuple):
            items = tuple(i.value for i in e.items)  # type: ignore[attr-defined]
            return lambda env: items
        return self.expr(e)

    @staticmethod
    def _comparison(op: str, tokens: bool) -> Callable[[Any, Any], bool]:
        if op == "in":
            return lambda t, items: any(_tok_equal(t, s) for s in items)
        if op == "not in":
            return lambda t, items: not any(_tok_equal(t, s) for s in items)
        if tokens:
            return _tok_equal if op == "==" else (lambda a, b: not _tok_equal(a, b))
        return functools.partial(S.compare, op)

    def _ifexp(self, e: A.IfExp) -> Closure:
        cond, then, orelse = self.expr(e.cond), self.expr(e.then), self.expr(e.orelse)
        if self.kind(e) == T.FLOAT:
            return lambda env: float(then(env)) if cond(env) else float(orelse(env))
        return lambda env: then(env) if cond(env) else orelse(env)

    def _subscript(self, e: A.Subscript) -> Closure:
        if e.name == self.checked.output:
            row, col = (self.expr(i) for i in e.indices)

            def read(env: Env) -> float:
                run, a, b = env[0], row(env), col(env)
                return run.out[a][b] if 0 <= a < run.n and 0 <= b < run.n else 0.0

            return read
        index = self.expr(e.indices[0])

        def token(env: Env) -> str | None:
            run, k = env[0], index(env)
            return run.texts[k] if 0 <= k < run.n else None

        return token

    def _call(self, e: A.Call) -> Closure:
        name = e.func
        args = [self.expr(a) for a in e.args]
        if name == "len":
            return lambda env: env[0].n
        if name in TOKEN_TESTS:
            (arg,) = args
            return lambda env: (lambda t: t is not None and _test(name, t))(arg(env))
        if name == "lower":
            (arg,) = args
            return lambda env: (lambda t: None if t is None else t.lower())(arg(env))
        if name in STRUCTURAL:
            (arg,) = args

            def structural(env: Env) -> int:
                run, i = env[0], arg(env)
                return run.structure[name][i] if 0 <= i < run.n else -1

            return structural
        if name in ("min", "max"):
            return lambda env: S.extreme(name, [a(env) for a in args])
        if name == "abs":
            (arg,) = args
            return lambda env: S.absolute(arg(env))
        math_fn = {"exp": S.exp, "log": S.log, "sqrt": S.sqrt}[name]
        (arg,) = args
        return lambda env: math_fn(arg(env))


@functools.lru_cache(maxsize=256)
def _compiled(checked: Checked) -> Closure:
    return _ClosureBuilder(checked).block(checked.function.body)


def interpret_raw(checked: Checked, features: SequenceFeatures) -> np.ndarray:
    """The output matrix exactly as the program leaves it, before normalisation."""
    run = _Call(features)
    _compiled(checked)({0: run})
    return np.array(run.out, dtype=np.float64).reshape(run.n, run.n)


def interpret(program: Checked | Any, tokens: Sequence[str] | SequenceFeatures) -> np.ndarray:
    """Run a checked program on one token sequence; the normalised causal n×n float64 matrix.

    program: a `Program` or its `Checked` tree. tokens: token texts as the tokenizer decodes
    them (word starts as a leading space), or their precomputed `SequenceFeatures`.
    """
    checked = program if isinstance(program, Checked) else program.checked
    features = tokens if isinstance(tokens, SequenceFeatures) else sequence_features(tokens)
    return S.normalise(interpret_raw(checked, features))
