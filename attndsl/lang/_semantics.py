"""The meaning of each operation on values: total, 64-bit ints, IEEE doubles.

Shared by the reference interpreter and by constant folding in the canonicaliser, so a folded
constant is exactly what the program would have computed. Values are Python `bool`, `int`
(kept within int64) and `float`.
"""

from __future__ import annotations

import math

import numpy as np

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_SPAN = 2**64

Number = int | float | bool


def wrap(value: int) -> int:
    """An int reduced to int64 with two's-complement wrap-around."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    return (value - INT64_MIN) % _SPAN + INT64_MIN


def binop(op: str, a: Number, b: Number) -> Number:
    """`a op b` for op in + - * / // %; division by zero gives 0."""
    if op == "/" or type(a) is float or type(b) is float:
        x, y = float(a), float(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if y == 0.0:
            return 0.0
        if op == "/":
            return x / y
        if op == "//":
            return x // y
        return x % y
    x, y = int(a), int(b)
    if op == "+":
        return wrap(x + y)
    if op == "-":
        return wrap(x - y)
    if op == "*":
        return wrap(x * y)
    if y == 0:
        return 0
    if op == "//":
        return wrap(x // y)
    return wrap(x % y)


def negate(a: Number) -> Number:
    """Unary minus (bools count as ints)."""
    return -a if type(a) is float else wrap(-int(a))


def absolute(a: Number) -> Number:
    """abs, wrapping for the smallest int64."""
    return abs(a) if type(a) is float else wrap(abs(int(a)))


def exp(a: Number) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf


def log(a: Number) -> float:
    """Natural log; 0 for a <= 0."""
    return math.log(a) if not a <= 0 else 0.0


def sqrt(a: Number) -> float:
    """Square root; 0 for a < 0."""
    return math.sqrt(a) if not a < 0 else 0.0


def extreme(op: str, values: list[Number]) -> Number:
    """min or max: NaN if any value is NaN; a float if any value is a float."""
    floats = any(type(v) is float for v in values)
    if floats:
        values = [float(v) for v in values]
        if any(math.isnan(v) for v in values):
            return math.nan
        return min(values) if op == "min" else max(values)
    return int(min(values) if op == "min" else max(values))


def compare(op: str, a: Number, b: Number) -> bool:
    """Order and equality of numbers; an int meeting a float is converted to float."""
    if type(a) is float or type(b) is float:
        a, b = float(a), float(b)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b


def coerce(value: Number, kind: str) -> Number:
    """A value stored in a local of type `kind` ("float", "int" or "bool")."""
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return value


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Make a raw output a causal attention pattern (float64, rows summing to 1).

    Entries with j > i are dropped; NaN and negatives become 0; a row holding +inf spreads
    its mass evenly over those entries; a row with no mass puts all of it on position 0.
    """
    m = np.tril(np.asarray(matrix, dtype=np.float64))
    if m.size == 0:
        return m
    m[~(m > 0)] = 0.0
    infinite = np.isinf(m)
    rows_inf = infinite.any(axis=1)
    m[rows_inf] = infinite[rows_inf]
    peak = m.max(axis=1, initial=0.0)
    empty = peak == 0.0
    m[empty, 0] = 1.0
    peak[empty] = 1.0
    m /= peak[:, None]
    m /= m.sum(axis=1, keepdims=True)
    return m
