"""The language's types and builtins: one table that the checker, the interpreter, the
canonicaliser and the compiler all read."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._features import STRUCTURAL, TOKEN_TESTS


class T(enum.Enum):
    """Value types. STR and TUPLE exist only for literals compared with tokens."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    TOK = "Tok"
    MATRIX = "Matrix"
    STR = "str"
    TUPLE = "tuple"
    TOKENS = "tokens"

    def __str__(self) -> str:
        return self.value


NUMERIC = (T.BOOL, T.INT, T.FLOAT)
_RANK = {T.BOOL: 0, T.INT: 1, T.FLOAT: 2}


def join(*types: T) -> T:
    """The numeric type that holds all of `types` (bool < int < float)."""
    return max(types, key=_RANK.__getitem__)


def arith_result(op: str, left: T, right: T) -> T:
    """Type of `left op right` for numeric operands (bools count as ints)."""
    if op == "/":
        return T.FLOAT
    return join(left, right, T.INT)


@dataclass(frozen=True)
class Builtin:
    """A builtin function: argument kinds, result kind and a one-line description.

    Argument kinds: "tokens" (the parameter itself), "int", "num", "tok"; a trailing "..."
    means "one or more of the previous". Result: a `T`, or "join" / "same" over the numbers.
    """

    name: str
    args: tuple[str, ...]
    result: T | str
    doc: str
    example: str

    @property
    def variadic(self) -> bool:
        return self.args[-1:] == ("...",)

    @property
    def min_args(self) -> int:
        return len(self.args) - 1 if self.variadic else len(self.args)


_TOKEN_TEST_DOCS = {
    "is_punct": "punctuation or symbols only",
    "is_alpha": "letters only",
    "is_digit": "digits only",
    "is_upper": "starts with a capital letter",
    "is_space": "whitespace only",
    "starts_word": "text begins with a space (a word start)",
    "is_stop": "a stop word (the, a, and, of, ...)",
}

_STRUCTURAL_DOCS = {
    "word_of": "index of the word holding position i",
    "word_start": "first position of the word holding i",
    "sentence_start": "first position of the sentence holding i",
    "prev_same": "last j < i with the same token, or -1",
}

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin("len", ("tokens",), T.INT, "number of tokens", "len(tokens)"),
        Builtin("zeros", ("int", "int"), T.MATRIX, "the output matrix, all zeros", "zeros(n, n)"),
        Builtin("range", ("int", "int", "int"), T.INT, "loop positions", "range(n)"),
        Builtin("min", ("num", "num", "..."), "join", "smallest number", "min(a, b)"),
        Builtin("max", ("num", "num", "..."), "join", "largest number", "max(a, b)"),
        Builtin("abs", ("num",), "same", "absolute value", "abs(x)"),
        Builtin("exp", ("num",), T.FLOAT, "e to the x", "exp(x)"),
        Builtin("log", ("num",), T.FLOAT, "natural log, 0 for x <= 0", "log(x)"),
        Builtin("sqrt", ("num",), T.FLOAT, "square root, 0 for x < 0", "sqrt(x)"),
        *(
            Builtin(name, ("tok",), T.BOOL, _TOKEN_TEST_DOCS[name], f"{name}(tokens[i])")
            for name in TOKEN_TESTS
        ),
        Builtin("lower", ("tok",), T.TOK, "the token in lower case", "lower(tokens[i])"),
        *(
            Builtin(name, ("int",), T.INT, _STRUCTURAL_DOCS[name], f"{name}(i)")
            for name in STRUCTURAL
        ),
    ]
}

#: Names a program must not call or mention, with why (beyond "not a builtin").
FORBIDDEN_NAMES = {
    "exec": "running code is not allowed",
    "eval": "running code is not allowed",
    "compile": "running code is not allowed",
    "open": "files are not available to a program",
    "input": "a program reads only its tokens",
    "print": "a program has no output but its matrix",
    "globals": "a program has only its own locals",
    "locals": "a program has only its own locals",
    "vars": "a program has only its own locals",
    "getattr": "attribute access is not allowed",
    "setattr": "attribute access is not allowed",
    "type": "types are fixed by the language",
    "None": "None is not a value; use -1, 0 or False",
    "int": "conversions are not needed: ints become floats where a float is expected",
    "float": "conversions are not needed: ints become floats where a float is expected",
    "bool": "write a comparison instead",
    "enumerate": "loop over positions: `for i in range(len(tokens))`, then `tokens[i]`",
    "sum": "add in a loop: `total += x`",
    "pow": "`**` and pow are not allowed; multiply, or write exp(y * log(x))",
}


def builtin_list() -> str:
    """The builtins as a short comma-separated list, for error messages."""
    return ", ".join(name for name in BUILTINS if name != "range")
