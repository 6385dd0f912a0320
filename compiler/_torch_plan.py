"""Pass 5b (plan), for the torch emitter: what each loop carries from one iteration to the
next, and how it becomes whole-tensor operations over the loop's dimension.

A loop runs every iteration at once, as a tensor dimension. That is exact when iterations do
not depend on each other; two kinds of dependence are also exact over the loop dimension:

- `break` (at the loop's own level, under any `if`): the lanes that run iteration t are
  those that did not break at an earlier one, an exclusive cumulative sum of the break mask
  (`Plan.breaks`), found by a first pass over the body that writes nothing;
- a local that a later iteration or the code after the loop reads (a *reduction*): its
  value after the loop is its last plain assignment (`x = v`), plus every `x += e` and
  `x -= e` after that, in execution order (`Update`), the rule the emitter also uses for
  the writes to `out`. An accumulated local may be read only by its own `x += e`.

Everything else that makes iterations depend on each other is refused, with its line and
column: reads of `out`, `out[a, b] *= v` (and /=, //=, %=), an early `return`, a local a
loop's body reads before this iteration sets it other than as above, and a reduction set
inside a nested loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from . import _ir as I


@dataclass(frozen=True)
class Update:
    """A `Let` of a reduction: `x = value` (sign 0), `x += value` (1) or `x -= value` (-1)."""

    name: str
    sign: int
    value: I.Expr


@dataclass(frozen=True)
class Plan:
    """How one loop runs: whether it has a `break` of its own, and its reductions' updates
    (keyed by the `id` of each `Let`)."""

    breaks: bool
    reductions: tuple[str, ...]
    updates: dict[int, Update]


class Refused(Exception):
    """A construct the torch backend cannot vectorise (the message names it and where)."""


def plan(lowered: I.Lowered) -> dict[int, Plan]:
    """Each loop's plan, keyed by the `id` of its `Loop` node; `Refused` if a loop (or the
    program) cannot be vectorised."""
    body = lowered.body
    for node in I.walk(list(body)):
        if isinstance(node, I.OutRead):
            raise Refused("it reads out[a, b], so later iterations depend on earlier writes")
        if isinstance(node, I.Store) and node.op not in ("", "+", "-"):
            raise Refused(f"`out[a, b] {node.op}= ...` ({_at(node)}): only =, += and -= vectorise")
        if isinstance(node, I.Return) and node is not body[-1]:
            raise Refused(f"an early `return` ({_at(node)}) depends on earlier iterations")
    reads = Counter(n.name for n in I.walk(list(body)) if isinstance(n, I.Var))
    return {
        id(loop): _loop_plan(loop, reads) for loop in I.walk(list(body)) if isinstance(loop, I.Loop)
    }


def reason(lowered: I.Lowered) -> str | None:
    """Why the torch backend cannot run a program (None when it can)."""
    try:
        plan(lowered)
    except Refused as refused:
        return str(refused)
    return None


def _at(s: I.Stmt) -> str:
    return f"line {s.line}, column {s.column}"


def _reads(*nodes: I.Node) -> list[str]:
    return [n.name for n in I.walk(list(nodes)) if isinstance(n, I.Var)]


def _own_level(body: tuple[I.Stmt, ...]) -> list[I.Stmt]:
    """The statements of a loop body at its own level: inside `if`s, not nested loops."""
    found: list[I.Stmt] = []
    for s in body:
        found.append(s)
        if isinstance(s, I.If):
            found += _own_level(s.body) + _own_level(s.orelse)
    return found


def _carried(body: tuple[I.Stmt, ...], assigned: set[str], inside: set[str]) -> list:
    """(name, statement) for each read of a local of `inside` before this iteration sets it."""
    found = []
    for s in body:
        if isinstance(s, I.Loop):
            exprs: list[I.Node] = [s.start, s.stop]
        elif isinstance(s, I.If):
            exprs = [s.cond]
        elif isinstance(s, (I.Let, I.Store)):
            exprs = [s.value] if isinstance(s, I.Let) else [s]
        else:
            exprs = []
        for expr in exprs:
            found += [(name, s) for name in _reads(expr) if name in inside - assigned]
        if isinstance(s, I.Let):
            assigned = assigned | {s.name}
        elif isinstance(s, I.If):
            found += _carried(s.body, assigned, inside) + _carried(s.orelse, assigned, inside)
            both = _assigned(s.body) & _assigned(s.orelse)
            assigned = assigned | both
        elif isinstance(s, I.Loop):
            found += _carried(s.body, assigned | {s.var}, inside)
    return found


def _assigned(body: tuple[I.Stmt, ...]) -> set[str]:
    return {n.name for n in I.walk(list(body)) if isinstance(n, I.Let)}


def _accumulation(s: I.Let) -> Update | None:
    """`x = x + e`, `x = e + x` or `x = x - e` with e free of x, as an update of x."""
    value = s.value
    if not isinstance(value, I.Arith) or value.op not in ("+", "-"):
        return None
    if isinstance(value.a, I.Var) and value.a.name == s.name:
        rest, sign = value.b, 1 if value.op == "+" else -1
    elif value.op == "+" and isinstance(value.b, I.Var) and value.b.name == s.name:
        rest, sign = value.a, 1
    else:
        return None
    return None if s.name in _reads(rest) else Update(s.name, sign, rest)


def _loop_plan(loop: I.Loop, reads: Counter) -> Plan:
    inside = _assigned(loop.body)
    here = _own_level(loop.body)
    own_lets = [s for s in here if isinstance(s, I.Let)]
    reads_inside = Counter(_reads(*loop.body))
    carried = _carried(loop.body, {loop.var}, inside)
    carried_names = {name for name, _ in carried}
    live = {name for name in inside if reads[name] > reads_inside[name]}
    reductions = sorted(carried_names | live)
    nested: dict[str, I.Let] = {}  # local → its first `Let` inside a nested loop
    for inner in (s for s in here if isinstance(s, I.Loop)):
        for n in I.walk(list(inner.body)):
            if isinstance(n, I.Let):
                nested.setdefault(n.name, n)
    updates: dict[int, Update] = {}
    for name in reductions:
        if name in nested:
            where = nested[name]
            raise Refused(
                f"'{name}' is set inside a nested loop and read after it or in a later "
                f"iteration ({_at(where)})"
            )
        lets = [s for s in own_lets if s.name == name]
        if name not in carried_names:  # every read follows this iteration's assignment
            updates.update({id(s): Update(name, 0, s.value) for s in lets})
            continue
        for s in lets:
            update = _accumulation(s) or (
                Update(name, 0, s.value) if name not in _reads(s.value) else None
            )
            if update is None:
                raise Refused(
                    f"'{name}' carries a value between iterations ({_at(s)}): only "
                    f"`{name} = v`, `{name} += e` and `{name} -= e` vectorise"
                )
            updates[id(s)] = update
        own_reads = sum(1 for s in lets if updates[id(s)].sign != 0)
        if reads_inside[name] > own_reads:
            where = next(s for n, s in carried if n == name)
            raise Refused(
                f"'{name}' carries a value between iterations ({_at(where)}) and is read "
                "inside the loop other than by its own `+=` / `-=`"
            )
    breaks = any(isinstance(s, I.Break) for s in here)
    return Plan(breaks, tuple(reductions), updates)
