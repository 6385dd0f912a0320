"""Hypothesis strategies for attndsl: random checked programs and random token sequences.

`programs()` draws the source text of a program that the checker accepts by construction. The
generator mirrors the checker's rules (attndsl/_check.py) as it writes each statement:

- every local gets one type (int, float, bool or Tok) at its first assignment, written with an
  expression of exactly that type; later assignments only use types that keep it (an int or a
  bool into a float local, a bool into an int local), and `/=` never hits an int local;
- it tracks definite assignment the way the checker does (a loop's body assigns nothing after
  the loop; after `if` only what both branches assign, where a branch that ends in `break`,
  `continue` or `return` counts as assigning everything), and in unreachable code it reads any
  local the program already has, as the checker allows;
- loop variables come from their own names, are never assigned, and are not reused by a loop
  nested inside a loop of the same name;
- loop bounds are built from sizes only (n, `len(tokens)`, the variables of enclosing loops
  (the checker bounds a loop variable only inside its loop, in unreachable code too), "size"
  locals, structural builtins, int literals with + - // % min max abs and conditionals), and
  the generator computes each bound `|value| <= a*n + b` exactly as the checker does, so every
  loop stays within `4n + 256` iterations; a loop variable or size local reused later never
  gets a larger bound than the one it started with, so earlier loops stay valid, and never a
  bound that depends on itself (the checker resolves bounds without fixed points);
- loop trip counts are kept small enough (`WORK` innermost iterations along any nest at
  n = `NMAX`) that the reference interpreter runs a program on `NMAX` tokens in a few ms.

Programs cover every construct of docs/language.md: int/float/bool/Tok locals, all arithmetic
and augmented operators (zero divisors included), unary minus and plus, chained comparisons,
`in` / `not in` tuples, and/or/not, conditional expressions, every builtin, `tokens[k]` and
`out[a, b]` reads and writes with indices that may fall outside `[0, n)`, loops 1 to 3 deep with
1 to 3 range arguments and negative steps, if/elif/else, break/continue, early returns, dead
code, constant-only expressions, unused locals, `pass`, comments and docstrings. Names vary:
the parameter, output and length may take each other's conventional names (`def f(out):`).

`sentences()` draws token lists: windows of 0 to 40 tokens from the TinyStories sample
(`tests/data/tinystories/valid-sample.jsonl`, split with `attndsl.split_words`) and
hand-picked edge cases (empty, one token, repeats, punctuation only, whitespace and newlines,
capitalised words).

Everything is drawn through hypothesis, so examples replay and shrink deterministically
(shrinking moves toward fewer, simpler statements). Shrinking a whole program through the
checker, canonicaliser and interpreter can take minutes, so `minimise(source, fails)` offers a
fast line-based alternative: property tests can run without hypothesis's shrink phase and
still report a short failing program (see tests/test_canon.py, `check_minimised`).

Typical use:

    @given(programs(), st.lists(sentences(), min_size=1, max_size=3))
    def test_something(source, token_lists):
        program = attndsl.load(source)
        ...
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import strategies as st
from sample_data import SAMPLE

import attndsl

__all__ = [
    "NMAX",
    "STORIES_PATH",
    "minimise",
    "programs",
    "sentences",
    "stories",
    "tinystories_samples",
]

#: The longest token list `sentences()` draws; loop work is sized for it.
NMAX = 40
#: Most innermost iterations along one loop nest (estimated from bounds at n = NMAX).
WORK = 2400
#: No range argument, loop variable or size local gets a bound above a*n + b with this (a, b).
BOUND_CAP = (2, 100)
#: Most statements in one program (not counting the header and the final return).
MAX_STATEMENTS = 22

STORIES_PATH = SAMPLE

Bound = tuple[int, int]

TOKEN_TESTS = ("is_punct", "is_alpha", "is_digit", "is_upper", "is_space", "starts_word", "is_stop")
STRUCTURAL = ("word_of", "word_start", "sentence_start", "prev_same")
MATH = ("exp", "log", "sqrt")

#: Names for functions, parameters, outputs, lengths, locals and loop variables. A program
#: draws its names without replacement, so roles never share a name, but any role can take
#: any name (a local may be called `i`, a loop variable `a`, the output `tokens`).
NAMES = (
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "m",
    "n",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "tok",
    "cur",
    "acc",
    "best",
    "total",
    "score",
    "idx",
    "row",
    "col",
    "start",
    "end",
    "prev",
    "last",
    "count",
    "flag",
    "found",
    "weight",
    "out",
    "tokens",
    "head",
    "length",
    "x_1",
    "_tmp",
    "Mixed",
    "ñ",
)
PARAMS = ("tokens", "toks", "seq", "words", "out", "xs", "n")
OUTPUTS = ("out", "attn", "scores", "pattern", "tokens", "m", "n")
LENGTHS = ("n", "length", "size", "L", "i", "out")

INT_LITERALS = ("0", "1", "2", "3", "1", "2", "4", "5", "7", "10", "100", "-1", "-2", "-3")
BIG_INTS = (
    "9223372036854775807",
    "-9223372036854775807",
    "4611686018427387904",
    "3037000500",
    "1000000007",
    "65536",
)
FLOAT_LITERALS = (
    "0.5",
    "1.0",
    "2.0",
    "0.0",
    "0.25",
    "3.5",
    "-1.5",
    "0.1",
    "1e-3",
    "2.5e1",
    ".5",
    "7.",
    "1e300",
    "1.5e-310",
    "-0.0",
)
STRINGS = (
    "the",
    " the",
    "The",
    ".",
    ",",
    "!",
    "?",
    "\n",
    " ",
    "cat",
    " cat",
    "s",
    "'s",
    '"',
    "a",
    " a",
    "",
    "  ",
    "é",
    "…",
    "\\",
    "It",
    " it",
)
# Extremes (`programs(extreme=True)`): int64 edges, denormal, huge and non-finite floats,
# strings with odd spacing and characters, index arithmetic that wraps around int64, and
# wide and deep expressions near the checker's limits.
EXTREME_INTS = (
    "9223372036854775807",
    "-9223372036854775807",
    "(-9223372036854775807 - 1)",
    "4611686018427387904",
    "137438953473",
    "3037000500",
    "4294967296",
)
EXTREME_FLOATS = (
    "5e-324",
    "1e-323",
    "2.2250738585072014e-308",
    "4.9e-324",
    "1.7976931348623157e308",
    "1e308",
    "-1e308",
    "(1e308 * 10.0)",
    "(-1e308 * 10.0)",
    "(1e308 * 10.0 - 1e308 * 10.0)",
)
ODD_STRINGS = (
    "  the",
    "   ",
    "  ",
    "\t",
    "\n\n",
    " \n",
    "é",
    "中",
    "😀",
    " 😀",
    "ﬁ",
    "İ",
    "ß",
    "Σ",
    "\u00a0",
    "\u200b",
    " İ",
    "\\n",
    "''",
    "  .",
)
DOCSTRINGS = (
    '"""Generated: a random program."""',
    '"""Head: one line."""',
    "'''Single quotes: it's fine.'''",
    '"plain string docstring"',
    '"""Multi-line: first line.\n\n    More text, with "quotes" inside.\n    """',
    "'escaped \\'quote\\' and tab\\t'",
)
COMMENTS = ("# a comment", "#", "# out[i, j] = 1.0  (not code)")


@dataclass(frozen=True)
class Size:
    """An expression the checker can bound: text, bound (a, b) and the names it depends on."""

    text: str
    bound: Bound
    refs: frozenset[str]


@dataclass(frozen=True)
class Scope:
    """Where a statement is being written.

    live: reachable (the checker tracks definite assignment only there).
    assigned: locals definitely assigned here (meaningful when live).
    loops: enclosing loop variables, outermost first.
    work: product of the estimated trip counts of the enclosing loops.
    """

    live: bool
    assigned: frozenset[str]
    loops: tuple[str, ...]
    work: int
    level: int  # indentation level of the statement


def _merge(a: Scope | None, b: Scope | None) -> Scope | None:
    """Definite assignment where two paths meet (None: the path never gets here)."""
    if a is None or not a.live:
        return b
    if b is None or not b.live:
        return a
    return replace(a, assigned=a.assigned & b.assigned)


def _bmax(*bounds: Bound) -> Bound:
    return max(b[0] for b in bounds), max(b[1] for b in bounds)


def _bsum(*bounds: Bound) -> Bound:
    return sum(b[0] for b in bounds), sum(b[1] for b in bounds)


def _fits(bound: Bound, cap: Bound) -> bool:
    return bound[0] <= cap[0] and bound[1] <= cap[1]


def _string_literal(value: str, double: bool) -> str:
    if double:
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


class _Generator:
    """Writes one program, drawing every decision from hypothesis."""

    def __init__(self, draw, max_statements: int, extreme: bool = False) -> None:
        self.draw = draw
        self.extreme = extreme
        self.lines: list[str] = []
        self.budget = max_statements
        self.used: set[str] = set()
        self.types: dict[str, str] = {}  # local -> "int" | "float" | "bool" | "Tok"
        self.sizes: dict[str, Bound] = {}  # int locals only ever assigned sizes, with a bound
        self.loop_vars: dict[str, Bound] = {}  # loop variable -> its bound
        self.depends: dict[str, set[str]] = {}  # loop variable or size local -> names in its bound
        self.lengths: list[str] = []  # locals holding len(param), readable everywhere after
        self.length_bound: dict[str, Bound] = {}
        self.out_ready = False
        self.fn = self.param = self.out = ""

    # ----------------------------------------------------------------- drawing
    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def chance(self, percent: int) -> bool:
        """True with the given probability; shrinks to False."""
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def number(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def name(self, preferred: tuple[str, ...] = NAMES) -> str:
        options = [x for x in preferred if x not in self.used]
        if not options or self.chance(20):
            options = [x for x in NAMES if x not in self.used]
        name = self.choice(options) if options else f"v{len(self.used)}"
        self.used.add(name)
        return name

    def emit(self, scope: Scope | int, text: str) -> None:
        level = scope if isinstance(scope, int) else scope.level
        self.lines.append("    " * level + text)
        if self.chance(4):
            self.lines.append("    " * level + self.choice(COMMENTS))

    # ------------------------------------------------------------------ scopes
    def readable(self, scope: Scope, kind: str) -> list[str]:
        """Names of type `kind` that can be read here."""
        if kind == "int":
            names = [x for x in self.lengths if self.out_ready or x in scope.assigned]
            names += list(scope.loops) if scope.live else sorted(self.loop_vars)
        else:
            names = []
        locals_ = [x for x, t in self.types.items() if t == kind]
        if scope.live:
            locals_ = [x for x in locals_ if x in scope.assigned]
        return names + locals_

    def readable_sizes(self, scope: Scope) -> list[tuple[str, Bound]]:
        """Names the checker can bound here. A loop variable is a size only inside its loop,
        even in unreachable code, where it may still be read as an int (`readable`)."""
        found = [
            (x, self.length_bound[x]) for x in self.lengths if self.out_ready or x in scope.assigned
        ]
        found += [(v, self.loop_vars[v]) for v in scope.loops]
        found += [(x, b) for x, b in self.sizes.items() if not scope.live or x in scope.assigned]
        return found

    # ---------------------------------------------------------- expressions
    def expr(self, kind: str, scope: Scope, size: int, const: bool = False) -> str:
        """An expression of exactly type `kind` ("int", "float", "bool", "Tok", or "num" for
        any of the first three); `const`: literals only, where the type allows."""
        if kind == "num":
            kind = self.choice(("int", "float", "bool"))
        if size <= 0 or self.chance(25):
            return self.atom(kind, scope, const)
        return getattr(self, "_" + kind.lower())(scope, size - 1, const)

    def atom(self, kind: str, scope: Scope, const: bool = False) -> str:
        names = [] if const else self.readable(scope, kind)
        if kind == "int":
            if names and self.chance(60):
                return self.choice(names)
            if not const and self.chance(10):
                return f"len({self.param})"
            if self.extreme and self.chance(30):
                return self.choice(EXTREME_INTS)
            return self.choice(BIG_INTS) if self.chance(5) else self.choice(INT_LITERALS)
        if kind == "float":
            if names and self.chance(50):
                return self.choice(names)
            if self.out_ready and not const and self.chance(25):
                return f"{self.out}[{self.index(scope, 0)}, {self.index(scope, 0)}]"
            if self.extreme and self.chance(30):
                return self.choice(EXTREME_FLOATS)
            return self.choice(FLOAT_LITERALS)
        if kind == "bool":
            if names and self.chance(50):
                return self.choice(names)
            if const or self.chance(40):
                return self.choice(("True", "False"))
            return self.data_test(scope)
        if names and self.chance(40):
            return self.choice(names)
        return f"{self.param}[{self.index(scope, 1)}]"

    def operand(self, scope: Scope, size: int, const: bool, kinds=("int", "bool")) -> str:
        return self.expr(self.choice(kinds), scope, size, const)

    def _int(self, scope: Scope, size: int, const: bool) -> str:
        form = self.choice(
            ("binop", "binop", "unary", "abs", "minmax", "ifexp", "structural", "position")
        )
        if form == "binop":
            op = self.choice(("+", "-", "*", "//", "%", "+", "-"))
            left = self.operand(scope, size, const)
            right = self.operand(scope, size, const)
            if self.chance(50):  # at least one int, else bool op bool (still an int)
                left = self.expr("int", scope, size, const)
            return f"({left} {op} {right})"
        if form == "unary":
            op = self.choice(("-", "-", "+"))
            return f"{op}{self.wrap(self.operand(scope, size, const))}"
        if form == "abs":
            return f"abs({self.operand(scope, size, const)})"
        if form == "minmax" and self.extreme and not const and self.chance(10):
            return f"{self.choice(('min', 'max'))}({', '.join(self.wide('int', scope))})"
        if form == "minmax":
            args = [self.expr("int", scope, size, const)]
            args += [self.operand(scope, size, const) for _ in range(self.number(1, 2))]
            return f"{self.choice(('min', 'max'))}({', '.join(self.shuffle(args))})"
        if form == "ifexp":
            then, orelse = self.expr("int", scope, size, const), self.operand(scope, size, const)
            if self.chance(50):
                then, orelse = orelse, then
            return f"({then} if {self.expr('bool', scope, size, const)} else {orelse})"
        if const:
            return self.atom("int", scope, const)
        if form == "structural":
            return f"{self.choice(STRUCTURAL)}({self.index(scope, size)})"
        position = self.index(scope, size)  # `i - 1` needs brackets inside an operator
        return f"({position})" if " " in position and position[0] != "(" else position

    def _float(self, scope: Scope, size: int, const: bool) -> str:
        form = self.choice(
            ("binop", "binop", "divide", "unary", "abs", "minmax", "math", "ifexp", "read")
        )
        nums = ("int", "float", "bool")
        if form == "binop":
            op = self.choice(("+", "-", "*", "//", "%", "+", "*"))
            args = [self.expr("float", scope, size, const), self.operand(scope, size, const, nums)]
            return "(" + f" {op} ".join(self.shuffle(args)) + ")"
        if form == "divide":
            left = self.operand(scope, size, const, nums)
            right = self.operand(scope, size, const, nums)
            return f"({left} / {right})"
        if form == "unary":
            operand = self.wrap(self.expr("float", scope, size, const))
            return f"{self.choice(('-', '-', '+'))}{operand}"
        if form == "abs":
            return f"abs({self.expr('float', scope, size, const)})"
        if form == "minmax":
            args = [self.expr("float", scope, size, const)]
            args += [self.operand(scope, size, const, nums) for _ in range(self.number(1, 2))]
            return f"{self.choice(('min', 'max'))}({', '.join(self.shuffle(args))})"
        if form == "math":
            return f"{self.choice(MATH)}({self.operand(scope, size, const, nums)})"
        if form == "ifexp":
            args = self.shuffle(
                [self.expr("float", scope, size, const), self.operand(scope, size, const, nums)]
            )
            return f"({args[0]} if {self.expr('bool', scope, size, const)} else {args[1]})"
        if self.out_ready and not const:
            return f"{self.out}[{self.index(scope, size)}, {self.index(scope, size)}]"
        return self.atom("float", scope, const)

    def _bool(self, scope: Scope, size: int, const: bool) -> str:
        form = self.choice(("compare", "compare", "tokens", "boolop", "not", "test", "ifexp"))
        if form == "compare":
            count = self.choice((2, 2, 2, 3))
            parts = [self.expr("num", scope, size, const)]
            for _ in range(count - 1):
                op = self.choice(("==", "!=", "<", "<=", ">", ">="))
                parts += [op, self.expr("num", scope, size, const)]
            return f"({' '.join(parts)})"
        if form == "boolop":
            values = [self.expr("bool", scope, size, const) for _ in range(self.number(2, 3))]
            if self.extreme and not const and self.chance(10):
                values = self.wide("bool", scope)
            joiner = " and " if self.chance(50) else " or "
            return f"({joiner.join(values)})"
        if form == "not":
            return f"(not {self.expr('bool', scope, size, const)})"
        if form == "ifexp":
            args = [self.expr("bool", scope, size, const) for _ in range(3)]
            return f"({args[0]} if {args[1]} else {args[2]})"
        if const:
            return self.atom("bool", scope, const)
        if form == "test":
            return f"{self.choice(TOKEN_TESTS)}({self.expr('Tok', scope, size)})"
        return self.token_compare(scope, size)

    def token_compare(self, scope: Scope, size: int) -> str:
        """A comparison of tokens: a chain of ==/!= between tokens and strings (never two
        strings side by side), possibly ending in `in` / `not in` a tuple of strings."""
        parts = [self.expr("Tok", scope, size)]
        last_is_str = False
        for _ in range(self.choice((1, 1, 2))):
            if self.chance(30):
                count = (
                    self.number(1, 4)
                    if not (self.extreme and self.chance(20))
                    else self.number(20, 300)
                )
                items = [self.string() for _ in range(count)]
                text = ", ".join(items) + ("," if count == 1 or self.chance(20) else "")
                if last_is_str:
                    parts += ["==", self.expr("Tok", scope, size)]
                parts += [self.choice(("in", "not in")), f"({text})"]
                break
            op = self.choice(("==", "!="))
            if not last_is_str and self.chance(50):
                parts += [op, self.string()]
                last_is_str = True
            else:
                parts += [op, self.expr("Tok", scope, size)]
                last_is_str = False
        if len(parts) == 3 and parts[2].startswith(("'", '"')) and self.chance(30):
            parts = parts[::-1]  # "x" == t
        return f"({' '.join(parts)})"

    def string(self) -> str:
        pool = ODD_STRINGS if self.extreme and self.chance(40) else STRINGS
        return _string_literal(self.choice(pool), self.chance(50))

    def wide(self, kind: str, scope: Scope) -> list[str]:
        """Many atoms (up to the checker's MAX_OPERANDS) for one `and`/`or`/`min`/`max`."""
        return [self.atom(kind, scope) for _ in range(self.number(4, 64))]

    def deep(self, scope: Scope) -> str:
        """A float nested 10 to 40 calls deep."""
        depth = self.number(10, 40)
        inner = self.atom("float", scope)
        return (
            "".join(self.choice(("abs(", "-(", "max(1.5, ")) for _ in range(depth))
            + inner
            + ")" * depth
        )

    def _tok(self, scope: Scope, size: int, const: bool) -> str:
        form = self.choice(("index", "lower", "ifexp"))
        if form == "lower":
            return f"lower({self.expr('Tok', scope, size)})"
        if form == "ifexp":
            args = self.shuffle([self.expr("Tok", scope, size), self.expr("Tok", scope, size)])
            return f"({args[0]} if {self.expr('bool', scope, size)} else {args[1]})"
        return f"{self.param}[{self.index(scope, size)}]"

    def index(self, scope: Scope, size: int) -> str:
        """An int position, usually near a loop variable or an end of the sequence (so reads
        and writes mostly land inside the matrix), sometimes anything."""
        if size > 0 and self.chance(20):
            return self.expr("int", scope, size)
        loops = list(scope.loops if scope.live else self.loop_vars)
        n = self.length()
        if self.extreme and self.chance(15):  # wraps around int64 on the way
            base = self.choice([*loops, "0", n])
            big, other = self.choice(EXTREME_INTS), self.choice(EXTREME_INTS)
            return self.choice(
                (
                    f"min({self.choice(STRUCTURAL)}({base}) + {big} + {other}, {n} - 1)",
                    f"max({base} - {big} - {other}, 0)",
                    f"({base} + {big})",
                    f"min({base} * {big}, {n} - 1)",
                    f"abs({base} - {big} - 2)",
                )
            )
        base = self.choice([*loops, *loops, *loops, *loops, "0", "0", f"{n} - 1", n, "-1"])
        if self.chance(20):
            base = f"{self.choice(STRUCTURAL)}({base})"
        if self.chance(35):
            base = f"{base} {self.choice(('+', '-'))} {self.choice(('1', '1', '2', '3'))}"
        return base

    def length(self) -> str:
        usable = [x for x in self.lengths if self.out_ready]
        if usable and self.chance(85):
            return self.choice(usable)
        return f"len({self.param})"

    def wrap(self, text: str) -> str:
        """Parenthesise a unary operand unless it is already an atom or parenthesised."""
        simple = text.replace("_", "").replace(".", "").isalnum()
        return text if simple or (text.startswith("(") and text.endswith(")")) else f"({text})"

    def shuffle(self, items: list[str]) -> list[str]:
        return list(self.draw(st.permutations(items))) if len(items) > 1 else items

    # -------------------------------------------------------------- sizes
    def size_expr(self, scope: Scope, size: int) -> Size:
        """An int expression the checker can bound: its text, its bound (a, b) meaning
        |value| <= a*n + b, and the loop variables and size locals the bound depends on."""
        sizes = self.readable_sizes(scope)
        if size <= 0 or self.chance(35):
            if sizes and self.chance(70):
                name, bound = self.choice(sizes)
                return Size(name, bound, frozenset({name}))
            if self.chance(25):
                return Size(f"len({self.param})", (1, 0), frozenset())
            value = self.number(-3, 10)
            return Size(str(value), (0, abs(value)), frozenset())
        form = self.choice(
            ("add", "add", "sub", "floordiv", "mod", "neg", "minmax", "abs", "structural", "ifexp")
        )
        if form in ("add", "sub", "ifexp"):
            left, right = self.size_expr(scope, size - 1), self.size_expr(scope, 0)
            refs = left.refs | right.refs
            if form == "ifexp":
                text = f"({left.text} if {self.expr('bool', scope, 1)} else {right.text})"
                return Size(text, _bmax(left.bound, right.bound), refs)
            op = "+" if form == "add" else "-"
            return Size(f"({left.text} {op} {right.text})", _bsum(left.bound, right.bound), refs)
        if form == "floordiv":
            left = self.size_expr(scope, size - 1)
            return replace(left, text=f"({left.text} // {self.expr('int', scope, 1)})")
        if form == "mod":
            right = self.size_expr(scope, size - 1)
            return replace(right, text=f"({self.expr('int', scope, 1)} % {right.text})")
        if form == "neg":
            inner = self.size_expr(scope, size - 1)
            return replace(inner, text=f"-{self.wrap(inner.text)}")
        if form in ("minmax", "abs"):
            args = [
                self.size_expr(scope, size - 1)
                for _ in range(1 if form == "abs" else self.number(2, 3))
            ]
            func = "abs" if form == "abs" else self.choice(("min", "max"))
            return Size(
                f"{func}({', '.join(a.text for a in args)})",
                _bmax(*(a.bound for a in args)),
                frozenset().union(*(a.refs for a in args)),
            )
        return Size(f"{self.choice(STRUCTURAL)}({self.index(scope, 1)})", (1, 1), frozenset())

    def reaches(self, refs: frozenset[str], name: str) -> bool:
        """Whether the bound of any of `refs` depends on `name` (a cycle the checker cannot
        resolve: it infers bounds without fixed points)."""
        seen, todo = set(), list(refs)
        while todo:
            current = todo.pop()
            if current == name:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self.depends.get(current, ()))
        return False

    # ------------------------------------------------------------ statements
    def block(self, scope: Scope, count: int, in_loop: bool) -> Scope | None:
        """Write up to `count` statements; the scope after them (None: never falls through)."""
        current: Scope | None = scope
        written = 0
        while written < count and self.budget > 0:
            dead = current is None or not current.live
            if dead and (written == 0 or not self.chance(30)):
                break
            here = current if current is not None else replace(scope, live=False)
            after = self.statement(here, in_loop)
            current = after if not dead else current
            written += 1
        if written == 0:
            self.emit(scope, "pass")
        return current

    def statement(self, scope: Scope, in_loop: bool) -> Scope | None:
        self.budget -= 1
        weights = {
            "assign": 5,
            "reassign": 2,
            "update": 3,
            "store": 7,
            "if": 4,
            "for": 6,
            "pass": 1,
            "return": 1,
        }
        if scope.loops:
            weights["store"] = 12
        if len(scope.loops) >= 3 or self.budget < 2:
            del weights["for"]
        if not scope.loops and scope.level == 1 and self.budget > 4:
            weights["for"] = weights.get("for", 0) * 3  # most programs loop over positions
        if in_loop:
            weights.update(brk=2, cont=2)
        kind = self.choice([k for k, w in weights.items() for _ in range(w)])
        kind = {"brk": "break", "cont": "continue"}.get(kind, kind)
        if kind == "assign":
            return self.new_local(scope)
        if kind == "reassign":
            return self.reassign(scope)
        if kind == "update":
            self.update(scope)
            return scope
        if kind == "store":
            self.store(scope)
            return scope
        if kind == "if":
            return self.if_stmt(scope, in_loop)
        if kind == "for":
            self.for_stmt(scope)
            return scope
        if kind in ("break", "continue", "return"):
            text = f"return {self.out}" if kind == "return" else kind
            if self.chance(75):  # usually guarded: `if c:` [a write] then the jump
                self.emit(scope, f"if {self.condition(scope)}:")
                inner = replace(scope, level=scope.level + 1)
                if self.chance(40):
                    self.store(inner)
                self.emit(inner, text)
                return scope
            self.emit(scope, text)
            return None
        self.emit(scope, "pass")
        return scope

    def new_local(
        self, scope: Scope, kinds=("int", "int", "float", "float", "bool", "Tok", "size")
    ) -> Scope:
        kind = self.choice(kinds)
        name = self.name()
        if kind == "size":
            value = self.size_expr(scope, 2)
            if _fits(value.bound, BOUND_CAP):
                self.types[name] = "int"
                self.sizes[name] = value.bound
                self.depends[name] = set(value.refs)
                self.emit(scope, f"{name} = {value.text}")
                return replace(scope, assigned=scope.assigned | {name})
            kind = "int"
        value = self.expr(kind, scope, self.number(0, 3), const=self.chance(10))
        self.types[name] = kind
        self.emit(scope, f"{name} = {value}")
        return replace(scope, assigned=scope.assigned | {name})

    def reassign(self, scope: Scope) -> Scope:
        """Assign a local that already has a type (only with values that keep the type)."""
        options = sorted(self.types)
        if not options:
            return self.new_local(scope)
        name = self.choice(options)
        kind = self.types[name]
        if name in self.sizes:
            value = self.size_expr(scope, 2)
            text = value.text
            if not _fits(value.bound, self.sizes[name]) or self.reaches(value.refs, name):
                text = str(self.number(0, self.sizes[name][1]))
            else:
                self.depends[name] |= value.refs
        elif kind == "float":
            text = self.expr("num", scope, self.number(0, 3))
        elif kind == "int":
            text = self.expr(self.choice(("int", "int", "bool")), scope, self.number(0, 3))
        else:
            text = self.expr(kind, scope, self.number(0, 3))
        self.emit(scope, f"{name} = {text}")
        return replace(scope, assigned=scope.assigned | {name})

    def update(self, scope: Scope) -> None:
        """`x op= e` on an assigned number local (never a size local, never `/=` on an int)."""
        options = [
            x
            for x in self.readable(scope, "int") + self.readable(scope, "float")
            if x in self.types and x not in self.sizes
        ]
        if not options:
            self.store(scope)
            return
        name = self.choice(options)
        if self.types[name] == "float":
            op, value = self.choice(("+", "-", "*", "/", "//", "%")), self.expr("num", scope, 2)
        else:
            op = self.choice(("+", "-", "*", "//", "%"))
            value = self.expr(self.choice(("int", "int", "bool")), scope, 2)
        self.emit(scope, f"{name} {op}= {value}")

    def store(self, scope: Scope, plain: bool = False) -> None:
        """`out[a, b] op= e`: mostly a query row and a key at or before it, with a positive
        weight (so the pattern is not empty), sometimes anything; `plain`: `=` or `+=`."""
        ops = ("", "+") if plain else ("", "", "", "", "+", "+", "+", "-", "*", "/", "//", "%")
        op = self.choice(ops)
        loops = list(scope.loops)
        if loops and self.chance(70):
            row = loops[0] if self.chance(60) else self.choice(loops)
            col = self.choice(
                (
                    *loops[1:],
                    *loops[1:],
                    row,
                    f"{row} - 1",
                    f"{row} - 2",
                    "0",
                    f"{self.choice(STRUCTURAL)}({row})",
                    f"prev_same({row}) + 1",
                    f"{self.choice(STRUCTURAL)}({row}) - 1",
                )
            )
        else:
            row, col = self.index(scope, 2), self.index(scope, 2)
        if plain or self.chance(55):
            value = self.choice(("1.0", "1.0", "0.5", "2", "True", "3.0"))
            if len(loops) > 1 and self.chance(30):
                value = f"exp(-0.5 * ({loops[0]} - {loops[-1]}))"
            elif loops and self.chance(15):
                value = f"{self.choice(MATH)}({loops[-1]} + {self.choice(('1', '0.5', '-1'))})"
        else:
            value = self.expr("num", scope, self.number(0, 3))
        if self.extreme and self.chance(5):
            value = self.deep(scope)
        self.emit(scope, f"{self.out}[{row}, {col}] {op}= {value}")

    def condition(self, scope: Scope) -> str:
        if self.chance(8):
            return self.choice(("False", "True", "1 > 2", "not True", "(2 < 3) and False"))
        if self.chance(45):
            return self.data_test(scope)
        return self.expr("bool", scope, self.number(1, 3), const=self.chance(5))

    def data_test(self, scope: Scope) -> str:
        """A small condition that depends on the tokens or the positions."""
        loops = list(scope.loops if scope.live else self.loop_vars) or ["0"]
        i, j = self.choice(loops), self.choice(loops)
        tok, other = f"{self.param}[{i}]", f"{self.param}[{j}]"
        form = self.number(0, 10)
        if form <= 1:
            text = f"{self.choice(TOKEN_TESTS)}({tok if form == 0 else other})"
        elif form == 2:
            text = f"{tok} == {other}"
        elif form == 3:
            text = f"{tok} == {self.string()}"
        elif form == 4:
            text = f"{tok} {self.choice(('in', 'not in'))} ({self.string()}, {self.string()})"
        elif form == 5:
            text = f"lower({tok}) != lower({other})"
        elif form == 6:
            text = f"{j} < {i}"
        elif form == 7:
            text = f"{i} % {self.choice(('2', '3'))} == 0"
        elif form == 8:
            text = f"prev_same({i}) >= 0"
        elif form == 9:
            text = f"{self.choice(STRUCTURAL)}({i}) == {self.choice(STRUCTURAL)}({j})"
        else:
            text = f"{j} <= {self.choice(STRUCTURAL)}({i}) < {i}"
        return f"({text})"

    def if_stmt(self, scope: Scope, in_loop: bool) -> Scope | None:
        self.emit(scope, f"if {self.condition(scope)}:")
        inner = replace(scope, level=scope.level + 1)
        result = self.block(inner, self.number(1, 3), in_loop)
        for _ in range(self.choice((0, 0, 0, 1, 2))):
            self.emit(scope, f"elif {self.condition(scope)}:")
            result = _merge(result, self.block(inner, self.number(1, 2), in_loop))
        if self.chance(45):
            self.emit(scope, "else:")
            result = _merge(result, self.block(inner, self.number(1, 3), in_loop))
        else:
            result = _merge(result, inner)
        return None if result is None else replace(result, level=scope.level)

    def for_stmt(self, scope: Scope) -> None:
        header, var, trips = self.loop_header(scope)
        self.emit(scope, header)
        inner = replace(
            scope,
            assigned=scope.assigned,
            loops=(*scope.loops, var),
            work=scope.work * max(trips, 1),
            level=scope.level + 1,
        )
        if self.chance(50):  # a plain write first, so most patterns are not empty
            self.store(inner, plain=True)
        if self.chance(25):  # a filter, as heads write it: `if c: continue`, then a write
            self.emit(inner, f"if {self.data_test(inner)}:")
            self.emit(inner.level + 1, self.choice(("continue", "continue", "break")))
            self.store(inner, plain=True)
        self.block(inner, self.number(1, 3), in_loop=True)

    def loop_header(self, scope: Scope) -> tuple[str, str, int]:
        """`for v in range(...):`, its variable and an upper bound on its trip count."""
        room = WORK // scope.work
        form = self.choice(
            ("classic", "classic", "classic", "long", "long", "window", "literal", "clamp", "tail")
        )
        args: list[Size] = []
        trips = 0
        if form == "classic":
            args = self.classic_range(scope)
            step = int(args[2].text) if len(args) == 3 else 1
            total = _bsum(*(a.bound for a in args[:2]))
            trips = (total[0] * NMAX + total[1]) // abs(step) + 1
        elif form == "long":
            args = self.long_range(scope)
            step = int(args[2].text) if len(args) == 3 else 1
            total = _bsum(*(a.bound for a in args[:2]))
            trips = (total[0] * NMAX + total[1]) // abs(step) + 1
        elif form == "window":  # range(e + low, e + high), or backwards: high - low trips
            base = self.size_expr(scope, 1)
            low, width = self.number(-3, 2), self.number(0, min(4, room))
            lo, hi = self.offset(base, low), self.offset(base, low + width)
            if self.chance(30):
                step = -self.choice((1, 1, 2))
                args = [hi, lo, Size(str(step), (0, -step), frozenset())]
            else:
                args = [lo, hi]
            trips = width
        elif form == "clamp":  # range(min(e, limit))
            base = self.size_expr(scope, 1)
            trips = self.number(0, min(5, room))
            args = [Size(f"min({base.text}, {trips})", _bmax(base.bound, (0, trips)), base.refs)]
        elif form == "tail":  # range(max(e, n - width), n)
            base = self.size_expr(scope, 1)
            trips, n = self.number(0, min(4, room)), self.length()
            args = [
                Size(f"max({base.text}, {n} - {trips})", _bmax(base.bound, (1, trips)), base.refs),
                Size(n, (1, 0), frozenset()),
            ]
        if form == "literal" or trips > room or not all(_fits(a.bound, BOUND_CAP) for a in args):
            trips = self.number(0, min(4, room))
            args = [Size(str(trips), (0, trips), frozenset())]
            if self.chance(30):
                args = [Size("0", (0, 0), frozenset()), args[0], Size("1", (0, 1), frozenset())]
        refs = frozenset().union(*(a.refs for a in args))
        var = self.loop_var(scope, _bmax(*(a.bound for a in args)), refs)
        return f"for {var} in range({', '.join(a.text for a in args)}):", var, trips

    def classic_range(self, scope: Scope) -> list[Size]:
        """The ranges heads usually loop over: all positions, or the keys before a query."""
        n = self.length()
        size_n = Size(n, (1, 0), frozenset())
        zero, one, down = (Size(str(v), (0, abs(v)), frozenset()) for v in (0, 1, -1))
        last = Size(f"{n} - 1", (1, 1), frozenset())
        loops = [v for v in scope.loops if self.loop_vars[v][0] == 1]  # i in [0, n)-ish
        if not loops or self.chance(20):
            return self.choice(([size_n], [one, size_n], [last, down, down]))
        i = self.choice(loops)
        base = Size(i, self.loop_vars[i], frozenset({i}))
        start = self.choice(
            (
                zero,
                base,
                Size(
                    f"max(0, {i} - {self.number(1, 4)})", _bsum(base.bound, (0, 4)), frozenset({i})
                ),
                Size(f"{self.choice(STRUCTURAL[:3])}({i})", (1, 1), frozenset()),
            )
        )
        shape = self.choice(("up", "up", "down", "before"))
        if shape == "up":
            return [start, self.offset(base, 1)] if start is not zero else [self.offset(base, 1)]
        if shape == "before":
            return [base]
        return [base, down, down]

    def long_range(self, scope: Scope) -> list[Size]:
        shape = self.choice(("stop", "stop", "start_stop", "down", "step"))
        if shape == "stop":
            return [self.size_expr(scope, self.number(0, 2))]
        start, stop = self.size_expr(scope, 1), self.size_expr(scope, 1)
        if shape == "start_stop":
            return [start, stop]
        step = -self.choice((1, 1, 2)) if shape == "down" else self.choice((1, 2, 3, -1, -3))
        return [start, stop, Size(str(step), (0, abs(step)), frozenset())]

    @staticmethod
    def offset(base: Size, delta: int) -> Size:
        if delta == 0:
            return base
        text = f"{base.text} {'+' if delta > 0 else '-'} {abs(delta)}"
        return Size(text, _bsum(base.bound, (0, abs(delta))), base.refs)

    def loop_var(self, scope: Scope, bound: Bound, refs: frozenset[str]) -> str:
        """A loop variable not used by an enclosing loop, either fresh or reused where that
        keeps its bound and makes no cycle of bounds."""
        reusable = [
            v
            for v, b in self.loop_vars.items()
            if v not in scope.loops and _fits(bound, b) and not self.reaches(refs, v)
        ]
        if reusable and self.chance(50):
            var = self.choice(sorted(reusable))
            self.depends[var] |= refs
            return var
        var = self.name(("i", "j", "k", "p", "q", "r", "row", "col", "idx", "a", "t"))
        self.loop_vars[var] = bound
        self.depends[var] = set(refs)
        return var

    # --------------------------------------------------------------- program
    def program(self) -> str:
        self.fn = self.choice(("head", "head", "f", "attend"))
        self.used.add(self.fn)
        self.param = self.name(PARAMS)
        self.out = self.name(OUTPUTS)
        self.emit(0, f"def {self.fn}({self.param}):")
        if self.chance(60):
            self.emit(1, self.choice(DOCSTRINGS))
        scope = Scope(live=True, assigned=frozenset(), loops=(), work=1, level=1)
        for _ in range(self.choice((0, 0, 0, 1, 2))):  # locals before the output
            scope = self.new_local(scope, ("int", "float", "bool"))
        if self.chance(85):
            self.add_length(scope)
            if self.chance(10):
                self.add_length(scope)
        names = self.lengths or [f"len({self.param})"]
        first = self.choice([*names, f"len({self.param})"])
        second = self.choice([*names, f"len({self.param})"])
        self.emit(scope, f"{self.out} = zeros({first}, {second})")
        self.out_ready = True
        if self.chance(8):  # after the output: an ordinary int local with a bound
            scope = replace(scope, assigned=scope.assigned | {self.add_length(scope)})
        if self.chance(75):  # most heads loop over the query positions
            self.budget -= 1
            self.for_stmt(scope)
        scope = self.block(scope, self.number(1, 4), in_loop=False)
        if scope is not None and scope.live and self.chance(10):
            self.emit(scope, f"return {self.out}")
            self.block(replace(scope, live=False), self.number(1, 2), in_loop=False)
        self.emit(1, f"return {self.out}")
        return "\n".join(self.lines) + "\n"

    def add_length(self, scope: Scope) -> str:
        """`name = len(param)`: a length name before the output, a size local after it."""
        name = self.name(LENGTHS)
        self.emit(scope, f"{name} = len({self.param})")
        if self.out_ready:  # not a length name: an int local, assigned once, with a bound
            self.types[name] = "int"
            self.sizes[name] = (1, 0)
            self.depends[name] = set()
        else:
            self.lengths.append(name)
            self.length_bound[name] = (1, 0)
        return name


@st.composite
def programs(draw, max_statements: int = MAX_STATEMENTS, extreme: bool = False) -> str:
    """Source text of a random program that `attndsl.load` accepts; `extreme`: with the
    extreme literals, odd strings, wrapping index arithmetic and wide and deep expressions
    above."""
    return _Generator(draw, max_statements, extreme).program()


# --------------------------------------------------------------------- sentences


@functools.cache
def stories() -> tuple[tuple[str, ...], ...]:
    """Every TinyStories sample text split into word tokens (empty if the data is absent)."""
    if not STORIES_PATH.exists():
        return ()
    with STORIES_PATH.open(encoding="utf-8") as handle:
        return tuple(
            tuple(attndsl.split_words(json.loads(line)["text"])) for line in handle if line.strip()
        )


def tinystories_samples(count: int = 20, max_len: int = NMAX) -> list[list[str]]:
    """`count` fixed token windows (up to `max_len` tokens) from different stories."""
    texts = stories()
    samples = []
    for k, tokens in enumerate(texts[:count]):
        start = (k * 37) % max(1, len(tokens) - max_len)
        samples.append(list(tokens[start : start + max_len]))
    return samples


EDGE_CASES: tuple[tuple[str, ...], ...] = (
    (),
    ("Hello",),
    ("\n",),
    (" the",) * 7,
    ("the", " the", "The", " THE", "the"),
    (".", ",", "!", "?", '"', "...", ")", ";", "'"),
    ("\n", "\n\n", " ", "  ", "\n", " "),
    ("Once", " upon", "\n", "\n", "The", " End", "."),
    (" Alice", " Bob", " Alice", " Carol", "!", " Alice"),
    ("I", " am", " 42", ".", " OK", "?", '"', " Yes", "…", " no"),
    ("He", " said", ",", ' "', "Hi", '!"', " She", " smiled", ".\n", "The", " end"),
    ("A", " cat", "s", " sat", ".", " A", " cat", " sat", "."),
    ("MR", ".", " SMITH", " WENT", " HOME", "!", "!", "!"),
)

VOCABULARY = (
    " the",
    "the",
    "The",
    " cat",
    "s",
    " sat",
    ".",
    ",",
    "!",
    "?",
    "\n",
    "\n\n",
    " ",
    '"',
    "'s",
    " 42",
    "7",
    "é",
    " Über",
    "…",
    "Mr.",
    "(",
    ")",
    "’",
    " a",
    " it",
    " IT",
    "  ",
    "x",
    " dog",
)


def sentences(max_len: int = NMAX):
    """Token lists: TinyStories windows of 0 to `max_len` tokens and edge cases."""
    edge = st.sampled_from(EDGE_CASES).map(list)
    mixed = st.lists(st.sampled_from(VOCABULARY), max_size=min(max_len, 16))
    options = [edge, mixed]
    texts = stories()
    if texts:

        @st.composite
        def window(draw):
            tokens = texts[draw(st.integers(0, len(texts) - 1))]
            length = draw(st.integers(0, max_len))
            start = draw(st.integers(0, max(0, len(tokens) - length)))
            return list(tokens[start : start + length])

        options.insert(0, window())
    return st.one_of(options)


# -------------------------------------------------------------------- minimising


def _block_end(lines: list[str], start: int) -> int:
    """The index after line `start` and every line indented deeper below it."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return end


def minimise(source: str, fails: Callable[[str], bool], max_tries: int = 2000) -> str:
    """A smaller program on which `fails` still holds: deletes statements (with their
    blocks) and unwraps `if`/`for` headers, one line at a time, until no deletion keeps
    `fails` true. Deterministic, and cheap next to hypothesis shrinking a whole program, so
    property tests can run without the shrink phase and still report a short reproducer.

    `fails(text)` must return False (not raise) for texts that do not fail the same way,
    including texts the checker rejects.
    """
    lines = source.rstrip("\n").split("\n")
    tries = 0
    changed = True
    while changed and tries < max_tries:
        changed = False
        k = 1  # never the `def` line
        while k < len(lines) and tries < max_tries:
            end = _block_end(lines, k)
            candidates = [lines[:k] + lines[end:]]
            header = lines[k].strip()
            if end > k + 1 and header.startswith(("if ", "for ", "else:", "elif ")):
                candidates.append(
                    lines[:k] + [line[4:] for line in lines[k + 1 : end]] + lines[end:]
                )
            for candidate in candidates:
                tries += 1
                if fails("\n".join(candidate) + "\n"):
                    lines = candidate
                    changed = True
                    break
            else:
                k += 1
    return "\n".join(lines) + "\n"
