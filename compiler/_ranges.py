"""Pass 4b, ranges: prove positions lie in [0, n), so backends can drop their checks.

Each int expression gets an interval whose ends are affine in n (`a·n + c`, exact
integers), from literals, `n`, loop variables (`range(start, stop, step)` bounds),
structural builtins (`word_start(i) <= i`) and `+`/`-`/`min`/`max`. A write `out[a, b]`, a
read `tokens[k]` or a structural lookup whose positions are proven inside the sentence is
marked `checked=False`. Inside a loop the sentence is known to be long enough for the loop
to run at all, which is what proves, say, `out[i, 0]` in `for i in range(n)`. Ints wrap at
64 bits, so an expression any of whose parts may leave int64 gets no interval: its
position stays checked.
"""

from __future__ import annotations

import dataclasses

from ..lang import map_children
from . import _ir as I
from ._batch import MAX_LENGTH

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Affine = tuple[int, int]  # a·n + c
Interval = tuple[Affine, Affine]


def _at(f: Affine, n: int) -> int:
    return f[0] * n + f[1]


def _le(f: Affine, g: Affine, lo_n: int) -> bool:
    """f <= g for every n in [lo_n, MAX_LENGTH] (affine, so checking the ends suffices)."""
    return all(_at(f, n) <= _at(g, n) for n in (lo_n, MAX_LENGTH))


def _add(f: Affine, g: Affine) -> Affine:
    return (f[0] + g[0], f[1] + g[1])


def _neg(f: Affine) -> Affine:
    return (-f[0], -f[1])


def _fits_int64(iv: Interval) -> bool:
    """Both ends stay within int64 for every length: then no operation on the way wrapped,
    and the machine value is the mathematical one the interval bounds."""
    return all(INT64_MIN <= _at(f, n) <= INT64_MAX for f in iv for n in (0, MAX_LENGTH))


class _Ranges:
    def __init__(self) -> None:
        self.n_min = 0  # the sentence length is at least this here

    def interval(self, e: I.Expr, env: dict[str, Interval]) -> Interval | None:
        """Bounds of an int expression, or None when unknown or when some value on the way
        may leave int64 (and so wrap around, which the bounds would not show)."""
        found = self._interval(e, env)
        return found if found is not None and _fits_int64(found) else None

    def _interval(self, e: I.Expr, env: dict[str, Interval]) -> Interval | None:
        if isinstance(e, I.Const) and e.type in ("int", "bool"):
            return ((0, int(e.value)), (0, int(e.value)))
        if isinstance(e, I.Var):
            return ((1, 0), (1, 0)) if e.name == I.LENGTH else env.get(e.name)
        if isinstance(e, I.Arith) and e.op in "+-":
            a, b = self.interval(e.a, env), self.interval(e.b, env)
            if a is None or b is None:
                return None
            if e.op == "+":
                return (_add(a[0], b[0]), _add(a[1], b[1]))
            return (_add(a[0], _neg(b[1])), _add(a[1], _neg(b[0])))
        if isinstance(e, I.Struct):
            pos = self.interval(e.pos, env)
            if pos is None or not self.inside(pos):
                return None
            if e.name == "prev_same":
                return ((0, -1), _add(pos[1], (0, -1)))
            return ((0, 0), pos[1])
        if isinstance(e, I.Extreme) and e.type == "int":
            parts = [self.interval(a, env) for a in e.args]
            if any(p is None for p in parts):
                return None
            return self._extreme(e.fn, parts)  # type: ignore[arg-type]
        if isinstance(e, I.Select):
            a, b = self.interval(e.then, env), self.interval(e.orelse, env)
            return self._join(a, b)
        return None

    def _pick(self, ends: list[Affine], smallest: bool, beyond_all: bool) -> Affine:
        """The smallest (or largest) of some bounds. When they cross: with `beyond_all`, a
        bound below (above) every one of them for all n >= 0 (the componentwise min or max
        of the coefficients); else the first of them, which is as good as any (the upper
        bound of a min may be any argument's: min(a, b) <= a <= hi(a))."""
        for f in ends:
            if all((_le(f, g, self.n_min) if smallest else _le(g, f, self.n_min)) for g in ends):
                return f
        if not beyond_all:
            return ends[0]
        pick = min if smallest else max
        return (pick(f[0] for f in ends), pick(f[1] for f in ends))

    def _extreme(self, fn: str, parts: list[Interval]) -> Interval | None:
        los, his = [p[0] for p in parts], [p[1] for p in parts]
        if fn == "min":  # min lies between the smallest low end and the smallest high end
            return self._pick(los, True, True), self._pick(his, True, False)
        return self._pick(los, False, False), self._pick(his, False, True)

    def _join(self, a: Interval | None, b: Interval | None) -> Interval | None:
        """An interval holding both (None if either is unknown or they do not compare)."""
        if a is None or b is None:
            return None
        return self._pick([a[0], b[0]], True, True), self._pick([a[1], b[1]], False, True)

    def inside(self, iv: Interval) -> bool:
        """Every value of the interval is a position of the sentence."""
        return _le((0, 0), iv[0], self.n_min) and _le(iv[1], (1, -1), self.n_min)

    # rewriting
    def expr(self, e: I.Expr, env: dict[str, Interval]) -> I.Expr:
        e = map_children(e, lambda child: self.expr(child, env), I.Expr)
        if isinstance(e, I.TokAt | I.Struct):
            pos = self.interval(e.pos, env)
            e = dataclasses.replace(e, checked=pos is None or not self.inside(pos))
        return e

    def block(self, body: tuple[I.Stmt, ...], env: dict[str, Interval]) -> tuple[I.Stmt, ...]:
        out = []
        for s in body:
            out.append(self.stmt(s, env))
        return tuple(out)

    def stmt(self, s: I.Stmt, env: dict[str, Interval]) -> I.Stmt:
        if isinstance(s, I.Let):
            value = self.expr(s.value, env)
            found = self.interval(s.value, env) if s.value.type == "int" else None
            if found is None:
                env.pop(s.name, None)
            else:
                env[s.name] = found
            return dataclasses.replace(s, value=value)
        if isinstance(s, I.Store):
            row, col = self.interval(s.row, env), self.interval(s.col, env)
            proven = row is not None and col is not None and self.inside(row) and self.inside(col)
            return dataclasses.replace(
                s,
                row=self.expr(s.row, env),
                col=self.expr(s.col, env),
                value=self.expr(s.value, env),
                checked=not proven,
            )
        if isinstance(s, I.If):
            then_env, else_env = dict(env), dict(env)
            result = dataclasses.replace(
                s,
                cond=self.expr(s.cond, env),
                body=self.block(s.body, then_env),
                orelse=self.block(s.orelse, else_env),
            )
            for name in set(env) | set(then_env) | set(else_env):
                joined = self._join(then_env.get(name), else_env.get(name))
                if joined is None:
                    env.pop(name, None)
                else:
                    env[name] = joined
            return result
        if isinstance(s, I.Loop):
            return self.loop(s, env)
        return s

    def loop(self, s: I.Loop, env: dict[str, Interval]) -> I.Stmt:
        start, stop = self.interval(s.start, env), self.interval(s.stop, env)
        header = dataclasses.replace(s, start=self.expr(s.start, env), stop=self.expr(s.stop, env))
        inner = {k: v for k, v in env.items() if k not in _assigned(s.body)}
        saved = self.n_min
        if start is not None and stop is not None:
            if s.step > 0:
                var = (start[0], _add(stop[1], (0, -1)))
            else:
                var = (_add(stop[0], (0, 1)), start[1])
            inner[s.var] = var
            self.n_min = max(saved, self._runs_from(var))
        body = self.block(s.body, inner)
        self.n_min = saved
        for name in _assigned(s.body) | {s.var}:
            env.pop(name, None)
        return dataclasses.replace(header, body=body)

    def _runs_from(self, var: Interval) -> int:
        """The smallest n for which the loop runs at all (low end <= high end)."""
        for n in range(self.n_min, MAX_LENGTH + 1):
            if _at(var[0], n) <= _at(var[1], n):
                return n
        return MAX_LENGTH


def _assigned(body: tuple[I.Stmt, ...]) -> set[str]:
    return {n.name for n in I.walk(list(body)) if isinstance(n, I.Let)}


def prove_ranges(lowered: I.Lowered) -> I.Lowered:
    """The same program with `checked=False` on every position proven in range."""
    return dataclasses.replace(lowered, body=_Ranges().block(lowered.body, {}))
