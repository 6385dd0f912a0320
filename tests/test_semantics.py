"""The meaning rules of docs/language.md ("Meaning", "Builtins", "Types"), one tiny program at a
time, run with the reference interpreter.

Values are read from the raw output matrix (before normalisation) through `interpret_raw`, so
`out[0, 0] = e` shows exactly what `e` evaluates to; conditions are written as
`out[0, 0] = c` (a bool entry is 1.0 or 0.0). Normalisation is tested through the public call
`program(tokens)`. Every expectation is worked out from the documentation, not by running the
interpreter.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

import attndsl
from attndsl.lang._interpret import interpret_raw

ABC = ["a", " b", " c"]
INT64_MAX = 2**63 - 1
INT64_MIN = "(-9223372036854775807 - 1)"  # the smallest int64, written without overflow


def program(body: str, setup: str = "") -> attndsl.Program:
    """A program: `n = len(tokens)`, `out = zeros(n, n)`, `setup`, `body`, `return out`."""
    lines = textwrap.dedent(setup).strip("\n") + "\n" + textwrap.dedent(body).strip("\n")
    inner = textwrap.indent(lines.strip("\n"), "    ")
    source = (
        f"def head(tokens):\n    n = len(tokens)\n    out = zeros(n, n)\n{inner}\n    return out\n"
    )
    return attndsl.load(source)


def raw(body: str, tokens=ABC, setup: str = "") -> np.ndarray:
    """The output matrix as the program leaves it, before normalisation."""
    checked = program(body, setup).checked
    return interpret_raw(checked, attndsl.sequence_features(list(tokens)))


def value(expr: str, setup: str = "", tokens=ABC) -> float:
    """What `expr` evaluates to (as stored in the float matrix)."""
    return raw(f"out[0, 0] = {expr}", tokens, setup)[0, 0]


def holds(cond: str, setup: str = "", tokens=ABC) -> bool:
    """Whether the bool expression `cond` is true."""
    result = value(cond, setup, tokens)
    assert result in (0.0, 1.0)
    return bool(result == 1.0)


def column(expr_of_i: str, tokens) -> list[float]:
    """[expr for i in range(n)], expr written with the loop variable `i`."""
    m = raw(f"for i in range(n):\n    out[i, 0] = {expr_of_i}", tokens)
    return m[:, 0].tolist()


# --------------------------------------------------------------------- arithmetic

VALUES = [
    # / always gives a float; // and % round toward negative infinity, as in Python
    ("7 / 2", 3.5),
    ("1 / 4", 0.25),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 // -2", -4),
    ("-7 // -2", 3),
    ("-7 % 3", 2),
    ("7 % -3", -2),
    ("-7 % -3", -1),
    ("-7.5 // 2", -4.0),
    ("-7.5 % 2", 0.5),
    ("7.5 % -2", -0.5),
    # division by zero gives 0
    ("5 / 0", 0.0),
    ("5 // 0", 0),
    ("5 % 0", 0),
    ("-3 // 0", 0),
    ("-3 % 0", 0),
    ("5.5 / 0.0", 0.0),
    ("5.5 // 0.0", 0.0),
    ("5.5 % 0.0", 0.0),
    ("0 / 0", 0.0),
    ("5 / False", 0.0),
    # bool counts as 0/1 in arithmetic
    ("True + True", 2),
    ("True * 3", 3),
    ("-True", -1),
    ("True / 4", 0.25),
    # int meets float by conversion
    ("1 + 0.5", 1.5),
    ("3 // 2.0", 1.0),
    ("7 % 2.5", 2.0),
    # builtins
    ("min(3, 1, 2)", 1),
    ("max(3, 1, 2)", 3),
    ("max(2, 2.5)", 2.5),
    ("min(True, 5)", 1),
    ("abs(-3)", 3),
    ("abs(-2.5)", 2.5),
    ("exp(0)", 1.0),
    ("log(1)", 0.0),
    ("log(0)", 0.0),
    ("log(-5)", 0.0),
    ("log(-0.5)", 0.0),
    ("sqrt(9)", 3.0),
    ("sqrt(-4)", 0.0),
    ("sqrt(0)", 0.0),
    ("2 if 1 < 2 else 3", 2),
    ("2 if 1 > 2 else 3.5", 3.5),
    ("-(-4)", 4),
    ("+True", 1),
]


@pytest.mark.parametrize(("expr", "expected"), VALUES, ids=[e for e, _ in VALUES])
def test_arithmetic_value(expr, expected):
    assert value(expr) == expected


def test_values_through_locals_and_updates():
    assert value("x", "x = 5\nx /= 0") == 0.0
    assert value("x", "x = 5\nx //= 0") == 0.0
    assert value("x", "x = 5\nx %= 0") == 0.0
    assert value("x", "x = -7\nx //= 2") == -4.0
    assert value("x", "x = 7.5\nx %= -2") == -0.5
    assert value("out[1, 1]", "out[1, 1] = 3.0\nout[1, 1] /= 0") == 0.0
    assert value("out[1, 1]", "out[1, 1] = 3.0\nout[1, 1] //= 0") == 0.0
    assert value("out[1, 1]", "out[1, 1] = 7.0\nout[1, 1] %= -2") == -1.0


def test_log_and_exp_agree():
    assert value("log(exp(2))") == pytest.approx(2.0, abs=1e-12)
    assert value("exp(1)") == pytest.approx(math.e, abs=1e-12)


WRAP = [
    "9223372036854775807 + 1 == -9223372036854775807 - 1",
    "-9223372036854775807 - 2 == 9223372036854775807",
    "9223372036854775807 * 2 == -2",
    "3037000500 * 3037000500 == -9223372036709301616",
    f"-{INT64_MIN} == {INT64_MIN}",
    f"abs({INT64_MIN}) == {INT64_MIN}",
    f"{INT64_MIN} // -1 == {INT64_MIN}",
    f"{INT64_MIN} % -1 == 0",
]


@pytest.mark.parametrize("cond", WRAP)
def test_int_arithmetic_wraps_at_64_bits(cond):
    assert holds(cond)


def test_int_wraps_in_updates_and_loops():
    assert holds("x == -9223372036854775807 - 1", "x = 9223372036854775807\nx += 1")
    assert holds("x == 0", "x = 1\nfor i in range(64):\n    x *= 2")
    assert holds("x < 0", "x = 1\nfor i in range(63):\n    x *= 2")


def test_floats_do_not_wrap():
    assert holds("9223372036854775807 + 1.0 > 0")
    assert holds("1e308 * 10 > 1e308")  # overflow gives inf
    # A local has one type: the float assignment makes x a float, so x + 1 does not wrap.
    assert holds("x > 0", "x = 0.5\nx = 9223372036854775807\nx += 1")


def test_int_meets_float_by_conversion():
    # 2**53 + 1 is not a double: it meets a float as 2**53
    assert holds("9007199254740993 == 9007199254740992.0")
    assert holds("9007199254740993 + 0.0 == 9007199254740992.0")
    assert value("x", "x = 1.5\nx = 2") == 2.0
    assert value("x / 2", "x = 1.5\nx = 3") == 1.5


NAN_SETUP = "big = 1e308 * 10\nnan = big - big"


@pytest.mark.parametrize(
    "cond",
    [
        "big > 1e308",
        "-big < -1e308",
        "nan != nan",
        "not (nan == nan)",
        "not (nan < 1.0) and not (nan >= 1.0)",
        "min(nan, 1.0) != min(nan, 1.0)",
        "min(1.0, nan) != min(1.0, nan)",
        "max(1, nan, 2) != max(1, nan, 2)",
        "exp(1000) == big",
        "exp(-1000) == 0.0",
        "big - big != 0",
        "abs(-big) == big",
        "0.0 * big != 0.0 * big",
    ],
)
def test_inf_and_nan(cond):
    assert holds(cond, NAN_SETUP)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("1 < 3 > 2", True),
        ("1 == 1.0 != 2", True),
        ("3 >= 3 > 3", False),
        ("True == 1", True),
        ("not 1 > 2 and (2 < 3 or 1 < 0)", True),
        ("0 <= 1 if 1 > 2 else False", False),
    ],
)
def test_comparisons_and_logic(cond, expected):
    assert holds(cond) is expected


@pytest.mark.parametrize(
    "expr",
    [
        "1e308 // 1e-308",
        "1e308 / 1e-308",
        "1e308 % 1e-308",
        "big // 1",
        "big % 1",
        "5.0 % big",
        "-5.0 % big",
        "nan // 2",
        "2 // nan",
        "1 % nan",
        "exp(nan)",
        "log(nan)",
        "sqrt(nan)",
        "exp(big)",
        "log(big)",
        "sqrt(big)",
        "exp(9223372036854775807)",
        "abs(nan)",
        "9223372036854775807 // 1e-300",
        "-9223372036854775807 % 1e-300",
        "5 % -1e-320",
        "big * 0",
        "min(nan, big, -big)",
        "9223372036854775807 / 1e-300",
    ],
)
def test_nothing_fails_at_run_time(expr):
    value(expr, NAN_SETUP)  # no exception: every checked program runs to completion


def test_division_always_gives_a_float():
    with pytest.raises(attndsl.ProgramError, match="an int"):
        program("out[4 / 2, 0] = 1.0")
    program("out[4 // 2, 0] = 1.0")


# ------------------------------------------------------------------ the output matrix


def test_out_of_range_writes_are_dropped_without_wrap_around():
    m = raw("""
        out[0, -1] = 5.0
        out[-1, 0] = 5.0
        out[n, 0] = 5.0
        out[0, n] = 5.0
        out[1, -n] = 5.0
        out[-1, -1] += 5.0
        out[n + 100, -100] = 5.0
    """)
    assert (m == 0).all()


def test_out_of_range_reads_give_zero():
    m = raw("""
        out[0, 0] = 3.0
        out[1, 1] = 7.0
        out[2, 2] = 9.0
        out[2, 0] = 1.0 + out[0, -n] + out[-1, -1] + out[n, 1] + out[1, n] + out[-2, 1]
    """)
    assert m[2, 0] == 1.0


def test_first_row_of_previous_token_goes_to_position_zero():
    p = program("for i in range(n):\n    out[i, i - 1] = 1.0")
    np.testing.assert_array_equal(p(ABC), [[1, 0, 0], [1, 0, 0], [0, 1, 0]])


def test_causal_entries_above_the_diagonal_are_dropped():
    p = program("for i in range(n):\n    for j in range(n):\n        out[i, j] = 1.0")
    expected = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    np.testing.assert_allclose(p(["a", "b", "c", "d"]), expected, rtol=0, atol=1e-15)
    only_future = program("out[0, 1] = 1.0\nout[1, 2] = 5.0")
    np.testing.assert_array_equal(only_future(ABC), [[1, 0, 0], [1, 0, 0], [1, 0, 0]])


def test_rows_are_divided_by_their_sum():
    p = program("out[1, 0] = 1.0\nout[1, 1] = 3.0\nout[2, 1] = 2\nout[2, 2] = True")
    np.testing.assert_allclose(
        p(ABC), [[1, 0, 0], [0.25, 0.75, 0], [0, 2 / 3, 1 / 3]], rtol=0, atol=1e-15
    )


def test_negative_and_nan_entries_become_zero():
    p = program(
        """
        out[1, 0] = -5.0
        out[1, 1] = 1.0
        out[2, 0] = nan
        out[2, 1] = 2.0
        out[2, 2] = -0.0
    """,
        NAN_SETUP,
    )
    np.testing.assert_array_equal(p(ABC), [[1, 0, 0], [0, 1, 0], [0, 1, 0]])


def test_rows_with_no_mass_go_to_position_zero():
    p = program(
        """
        out[1, 1] = -1.0
        out[2, 1] = nan
        out[2, 2] = -big
    """,
        NAN_SETUP,
    )
    np.testing.assert_array_equal(p(ABC), [[1, 0, 0], [1, 0, 0], [1, 0, 0]])


def test_inf_spreads_the_row_evenly_over_inf_entries():
    p = program(
        """
        out[1, 1] = big
        out[1, 0] = 5.0
        out[2, 0] = big
        out[2, 1] = 7.0
        out[2, 2] = big
        out[0, 2] = big
    """,
        NAN_SETUP,
    )
    np.testing.assert_array_equal(p(ABC), [[1, 0, 0], [0, 1, 0], [0.5, 0, 0.5]])


def test_huge_finite_entries_do_not_overflow_the_row_sum():
    p = program("out[1, 0] = 1e308\nout[1, 1] = 1e308\nout[2, 2] = 5e-324")
    np.testing.assert_array_equal(p(ABC), [[1, 0, 0], [0.5, 0.5, 0], [0, 0, 1]])


def test_empty_and_single_token_sequences():
    p = program("for i in range(n):\n    out[i, i - 1] = 1.0")
    assert p([]).shape == (0, 0)
    np.testing.assert_array_equal(p(["x"]), [[1.0]])


def test_result_is_float64_causal_and_normalised():
    p = program("for i in range(n):\n    for j in range(i + 1):\n        out[i, j] = i - j - 1")
    m = p(["a"] * 6)
    assert m.dtype == np.float64
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (np.triu(m, 1) == 0).all() and (m >= 0).all()


# -------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "cond",
    [
        "tokens[-1] != tokens[-1]",
        "not (tokens[-1] == tokens[-1])",
        "not (tokens[-1] == tokens[n])",
        "not (tokens[-1] == tokens[n - 1])",  # no wrap-around: not the last token
        'not (tokens[n] == "b") and tokens[n] != "b"',
        'not (tokens[n] == "")',
        'not (tokens[-1] in ("c", "a", ""))',
        'tokens[-1] not in ("c",)',
        "not (lower(tokens[-1]) == lower(tokens[-1]))",
        "not (t == t)",
        "not (t == tokens[0] or tokens[0] == t)",
        "not (is_punct(t) or is_alpha(t) or is_digit(t) or is_upper(t))",
        "not (is_space(t) or starts_word(t) or is_stop(t))",
        "not is_space(lower(t))",
        "word_of(-1) == -1 and word_start(-1) == -1",
        "sentence_start(n) == -1 and prev_same(n) == -1",
        "word_of(n + 5) == -1 and sentence_start(-7) == -1",
    ],
)
def test_out_of_range_tokens_are_null(cond):
    assert holds(cond, "t = tokens[-1]", tokens=["a", " b", " "])


@pytest.mark.parametrize(
    "cond",
    [
        'tokens[1] == "the"',
        'tokens[0] == "the"',
        "tokens[0] == tokens[1]",
        '"the" == tokens[1]',
        'tokens[1] in ("a", "the")',
        'tokens[1] == " the"',  # a literal's own leading space is no part of it either
        'not (tokens[2] == "the")',  # case matters
        'not (tokens[3] == "the")',  # only one leading space marks a word start
        'tokens[3] == "  the"',
        'tokens[4] == " "',  # a lone space is a space
        "prev_same(1) == 0 and prev_same(2) == -1",
        'lower(tokens[2]) == "the" and lower(tokens[2]) == tokens[1]',
        'lower(tokens[5]) == "über"',
        "not is_upper(lower(tokens[2]))",
    ],
)
def test_token_equality_ignores_the_word_start_space(cond):
    assert holds(cond, tokens=["the", " the", "The", "  the", " ", " ÜBER"])


TEST_TOKENS = [
    "The",
    " cat",
    "s",
    ",",
    " 42",
    "\n",
    " ",
    "!?",
    " the",
    "...",
    "é",
    " Über",
    " x1",
    '"',
    "IT",
    " and",
    "7",
]
TOKEN_TESTS = {
    "is_punct": [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0],
    "is_alpha": [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0],
    "is_digit": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    "is_upper": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0],
    "is_space": [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "starts_word": [0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0],
    "is_stop": [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0],
}


@pytest.mark.parametrize("name", sorted(TOKEN_TESTS))
def test_token_test(name):
    assert column(f"{name}(tokens[i])", TEST_TOKENS) == TOKEN_TESTS[name]


def test_token_tests_see_through_lower():
    assert column("is_upper(lower(tokens[i]))", TEST_TOKENS) == [0] * len(TEST_TOKENS)
    assert column("is_alpha(lower(tokens[i]))", TEST_TOKENS) == TOKEN_TESTS["is_alpha"]
    assert column("starts_word(lower(tokens[i]))", TEST_TOKENS) == TOKEN_TESTS["starts_word"]


# ---------------------------------------------------------------------- structure

# Position:  0       1       2     3       4     5       6      7    8    9      10
STORY = [
    "Once",
    " upon",
    " a",
    " time",
    ",",
    " the",
    " cat",
    "s",
    " ran",
    ".",
    '"',
    # 11    12   13   14      15       16   17    18     19      20   21   22
    " Hi",
    "!",
    '"',
    " she",
    " said",
    ".",
    "\n",
    "The",
    " end",
    "?",
    ")",
    " Yes",
]
STRUCTURE = {
    # a word starts at 0, at a token beginning with whitespace and after one ending in it;
    # " cat" + "s" is one word, punctuation glues to the word before it, "\n" is a word
    "word_of": [0, 1, 2, 3, 3, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 9, 9, 10, 11, 12, 12, 12, 13],
    "word_start": [0, 1, 2, 3, 3, 5, 6, 6, 8, 8, 8, 11, 11, 11, 14, 15, 15, 17, 18, 19, 19, 19, 22],
    # sentences end at . ! ? (the closing quotes and brackets glued to them stay) and at
    # newlines; the next one starts at the first token that is not whitespace
    "sentence_start": [0] * 11 + [11] * 3 + [14] * 4 + [18] * 4 + [22],
    # the last earlier equal token: '"' (13) after 10, "." (16) after 9; "The" != " the"
    "prev_same": [-1] * 13 + [10, -1, -1, 9] + [-1] * 6,
}


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structural_builtin(name):
    assert column(f"{name}(i)", STORY) == STRUCTURE[name]


@pytest.mark.parametrize(
    ("tokens", "words", "sentences"),
    [
        (["a", "\n", "b"], [0, 1, 2], [0, 0, 2]),
        (["a", "\n", " ", "\n\n", " b"], [0, 1, 2, 3, 4], [0, 0, 0, 0, 4]),
        (["ab ", "c", "d"], [0, 1, 1], [0, 0, 0]),
        # the second "!" is the first non-whitespace token after one ending in "!"
        (["Hi", ".", " Yo", "!", "!", " Ok", "?"], [0, 0, 1, 1, 1, 2, 2], [0, 0, 2, 2, 4, 5, 5]),
        (["Wait", "…", " more"], [0, 0, 1], [0, 0, 2]),
        (["Mr", ".", " Smith"], [0, 0, 1], [0, 0, 2]),
        (["Go", '."', " Now"], [0, 0, 1], [0, 0, 2]),
        (["Go", ".", "”", ")", " Now"], [0, 0, 0, 0, 1], [0, 0, 0, 0, 4]),
        (["Go", ".", ' "', "Now"], [0, 0, 1, 1], [0, 0, 2, 2]),  # an opening quote starts one
        ([".", "a", "."], [0, 0, 0], [0, 1, 1]),
    ],
)
def test_words_and_sentences(tokens, words, sentences):
    assert column("word_of(i)", tokens) == words
    assert column("sentence_start(i)", tokens) == sentences


def test_structural_builtins_on_the_first_token_and_repeats():
    tokens = [" the", "cat", " the", "the", " cat"]
    assert column("word_start(i)", tokens) == [0, 0, 2, 2, 4]
    assert column("prev_same(i)", tokens) == [-1, -1, 0, 2, 1]


# -------------------------------------------------------- checked programs always run


@pytest.mark.parametrize("dead", ["zz += 1", "zz = zz", "zz = zz + 1", "zz = w\n    w = zz"])
def test_local_without_a_type_in_unreachable_code_is_rejected(dead):
    # `zz` never gets a value from anything but itself, so it has no type: the checker must
    # reject it, as it rejects a read of an unknown name there. (It accepted these, and the
    # interpreter then failed with KeyError: 'zz' before running anything.)
    source = (
        "def head(tokens):\n    n = len(tokens)\n    out = zeros(n, n)\n    return out\n"
        f"    {dead}\n    return out\n"
    )
    with pytest.raises(attndsl.ProgramError, match="zz"):
        attndsl.load(source)(ABC)
