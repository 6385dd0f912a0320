"""The checker: every error collected, each naming line, column and rule."""

from __future__ import annotations

import pytest

import attndsl
from attndsl import ProgramError

HEAD = "def head(tokens):\n    n = len(tokens)\n    out = zeros(n, n)\n"


def errors(body: str) -> list[tuple[str, int, int]]:
    with pytest.raises(ProgramError) as info:
        attndsl.load(HEAD + body, "prog.py")
    return [(e.rule, e.line, e.column) for e in info.value.errors]


def test_collects_all_errors_in_source_order():
    found = errors("    a = foo\n    b = tokens[1.5]\n    out[0] = 1\n    return out\n")
    assert found == [("unknown-name", 4, 9), ("type", 5, 16), ("subscript", 6, 5)]


def test_error_text_has_location_rule_and_caret():
    with pytest.raises(ProgramError) as info:
        attndsl.load(HEAD + "    x = bar + 1\n    return out\n", "p.py")
    text = str(info.value)
    assert text.splitlines()[0].startswith("p.py:4:9: error: unknown name 'bar'")
    assert text.endswith("[unknown-name]\n    4 |     x = bar + 1\n      |         ^~~")


@pytest.mark.parametrize(
    "body, rule",
    [
        (
            "    for i in range(n):\n        for j in range(n):\n            for k in range(n):\n"
            "                for m in range(n):\n                    out[i, j] = 1\n",
            "loop-depth",
        ),
        (
            "    for i in range(n):\n        for i in range(n):\n            out[i, i] = 1\n",
            "loop-var",
        ),
        ("    for i in range(n):\n        i = 3\n", "loop-var"),
        ("    for i in range(n * n):\n        out[i, i] = 1\n", "loop-bound"),
        ("    for i in range(5 * n + 1):\n        out[i, i] = 1\n", "loop-bound"),
        ("    for i in range(n + n + n + n + n):\n        out[i, i] = 1\n", "loop-bound"),
        ("    for i in range(1000):\n        out[i, i] = 1\n", "loop-bound"),
        (
            "    c = 0\n    for i in range(n):\n        c += 1\n    for j in range(c):\n"
            "        out[j, j] = 1\n",
            "loop-bound",
        ),
        ("    for i in range(0, n, n):\n        out[i, i] = 1\n", "loop"),
        ("    for t in tokens:\n        pass\n", "loop"),
        ("    if n:\n        out[0, 0] = 1\n", "type"),
        ("    x = tokens[0] + 1\n", "type"),
        ("    x = tokens[0] < tokens[1]\n", "type"),
        ('    x = tokens[0] in "abc"\n', "type"),
        ("    x = 1\n    x = tokens[0]\n", "type"),
        ("    x = word_of(tokens[0])\n", "type"),
        ("    out = 3\n", "assign-output"),
        ("    tokens[0] = 1\n", "write-input"),
        ("    x = head(tokens)\n", "recursion"),
        ('    x = eval("1")\n', "unknown-name"),
        ("    len = 3\n", "shadow"),
        ("    __x = 3\n", "dunder"),
        ("    x = y\n    y = 1\n", "unassigned"),
        ("    for i in range(n):\n        last = i\n    out[0, last] = 1\n", "unassigned"),
        ("    break\n", "break-outside"),
        ("    min(1, 2)\n", "expr-stmt"),
        ("    x = min(1)\n", "arity"),
        ("    return 1\n", "return"),
        ('    x = ("a", "b")\n', "tuple"),
        ("    m = zeros(n, n)\n", "output"),
    ],
)
def test_rejects(body, rule):
    found = errors(body + "    return out\n")
    assert rule in [r for r, _, _ in found], found
    assert all(line >= 1 and column >= 1 for _, line, column in found)


def test_missing_return_and_output():
    assert errors("    x = 1\n") == [("return", 4, 5)]
    with pytest.raises(ProgramError) as info:
        attndsl.load("def f(t):\n    return t\n")
    assert info.value.rules == ["output", "return"]


def test_accepts_every_documented_form():
    program = attndsl.load(
        HEAD
        + """    a = 0.5
    for i in range(n):
        t = tokens[i]
        if t in (".", "!") or is_punct(t) and not is_space(t):
            continue
        elif lower(t) == lower(tokens[i - 1]) != "the":
            out[i, i - 1] += a if i % 2 == 0 else 1
        for j in range(max(0, i - 3), i + 1):
            out[i, j] += exp(-(i - j) / 2) + sqrt(abs(min(i, j))) * log(i + 1)
            if j < 0 <= i:
                break
        out[i, word_start(i)] *= 2
    return out
"""
    )
    assert program(["a", " b", "."]).shape == (3, 3)
