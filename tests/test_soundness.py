"""Security and soundness of the language and the compiler (issue 11's findings):

- no byte of program text reaches a generated kernel module, and a module of any other shape
  than the emitter's is refused before it is written or imported;
- string literals and docstrings hold no control, line-separator or bidi characters, names
  are Python identifiers, int literals fit int64, programs stay within the size limits;
- programs whose index arithmetic wraps around int64, denormal entries and odd literals give
  the interpreter's matrices on both backends, and never crash the process;
- programs at the size limits compile on both backends.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import pytest
from differential import check

import attndsl
from attndsl.compiler import _audit, _cache, compile
from attndsl.compiler._numba import emit_module

MARKER = "/tmp/attndsl-soundness-marker"
HEAD = "def head(tokens):\n"
SETUP = "    n = len(tokens)\n    out = zeros(n, n)\n    for i in range(n):\n"
TAIL = "    return out\n"
SENTENCES = [
    ["The", " cat", " sat", " the", "  the", ".", " It", " ran", "."],
    ["Hi", "!"],
    ["a"],
    [],
    ["\n", " ", "  "],
]


def program(*lines: str, doc: str = "") -> str:
    return HEAD + doc + SETUP + "".join(f"        {line}\n" for line in lines) + TAIL


pytestmark = pytest.mark.usefixtures("module_kernel_cache")


@pytest.fixture(autouse=True)
def no_marker():
    if os.path.exists(MARKER):
        os.remove(MARKER)
    yield
    assert not os.path.exists(MARKER), "program text was executed"


def assert_backends_agree(source: str, sentences=SENTENCES, as_written: bool = False) -> None:
    """Both backends (torch where it vectorises) give the interpreter's matrices (compiling
    the canonical form, or with `as_written` the program as written)."""
    problem = check(source, sentences, as_written)
    assert problem is None, problem


@pytest.mark.parametrize(
    "body",
    [
        "    n = 2\n    for i in range(L):\n        out[i, max(i - n, 0)] = 1.0\n",
        "    n = 1000\n    for i in range(L):\n        out[i, n] = 1.0\n        out[i, i] = 0.5\n",
        "    for n in range(L):\n        out[n, 0] = 1.0\n",
        "    n = 0.5\n    for i in range(L):\n        out[i, i] = n\n",
    ],
)
def test_a_local_named_n_is_not_the_sentence_length(body):
    """The IR names the sentence length `#n`, which no program can write: a program's own
    `n`, compiled as written (as a run directory's sources are, `Program.trusted`), stays a
    local, and positions built from it stay checked. (Found by the as-written campaign.)"""
    source = "def head(tokens):\n    L = len(tokens)\n    out = zeros(L, L)\n" + body
    source += "    return out\n"
    assert_backends_agree(source, as_written=True)


# ------------------------------------------------------------- generated source

HOSTILE_DOC = f'    """Title\n    import os; os.system("touch {MARKER}")\n    """\n'


def test_kernel_source_holds_no_program_text():
    source = (
        HEAD + HOSTILE_DOC + SETUP + "        system = i + 1\n"
        '        if tokens[i] == "os.system":\n            out[i, 0] = 1.0\n'
        "        out[i, min(system, n - 1)] = 2.0\n" + TAIL
    )
    kernel = compile(source, "numba")
    assert kernel.source.isascii()
    for text in ("Title", "import os", "os.system", "touch", "system", MARKER):
        assert text not in kernel.source
    assert_backends_agree(source)


def _emitted() -> str:
    prog = attndsl.load(
        program("out[i, i - 1] = 1.0", "if tokens[i] in ('a', 'b'):", "    out[i, 0] += 0.5")
    )
    return compile(prog, "numba").source


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.replace("# Generated", "#\rimport os\n# Generated"),
        lambda s: s + "import os\n",
        lambda s: s + "\nos = __import__('os')\n",
        lambda s: s.replace("USES_STRUCTURE = False", "USES_STRUCTURE = 'x'"),
        lambda s: s.replace("    v0 = 0", "    v0 = open('x')"),
        lambda s: s.replace("    v0 = 0", "    v0 = rt.__dict__"),
        lambda s: s.replace("    v0 = 0", "    v0 = np.load"),
        lambda s: s.replace("    v0 = 0", "    v0 = 0  # note"),
        lambda s: s.replace("    v0 = 0", "    v0 = 'é'"),
        lambda s: s.replace("    v0 = 0", "    v0 = 0\u2028"),
        lambda s: s.replace("    v0 = 0", "    import os"),
        lambda s: s.replace("    v0 = 0", "    v0 = (lambda: 0)()"),
        lambda s: s.replace("    v0 = 0", "    v0 = tok.ctypes"),
        lambda s: s.replace("    v0 = 0", "    global v1"),
        lambda s: s.replace("def program(", "def other("),
        lambda s: s.replace("cache=True", "cache=False"),
        lambda s: re.sub(r"program [0-9a-f]+", "program x", s, count=1),
    ],
    ids=range(17),
)
def test_the_audit_refuses_any_other_module_shape(change):
    source = _emitted()
    _audit.check_module(source)  # the real module passes
    changed = change(source)
    assert changed != source
    with pytest.raises(_audit.KernelSourceError, match="generated kernel module refused"):
        _audit.check_module(changed)
    with pytest.raises(_audit.KernelSourceError):
        _cache.module_path("0123abcd", changed)


def test_kernel_files_are_named_by_hex_ids_only():
    with pytest.raises(_audit.KernelSourceError, match="kernel file name"):
        _cache.module_path("../../evil", _emitted())
    lowered = compile(program("out[i, i] = 1.0"), "numba").lowered
    with pytest.raises(ValueError, match="hexadecimal"):
        emit_module(dataclasses.replace(lowered, program_id="x; import os"))


# --------------------------------------------------------------------- the checker

ESCAPES = [
    "\\r",
    "\\x0d",
    "\\15",
    "\\u000d",
    "\\U0000000d",
    "\\N{CARRIAGE RETURN}",
    "\\u2028",
    "\\u2029",
    "\\x85",
    "\\u202e",
    "\\x1b",
    "\\x00",
    "\\x7f",
    "\\u2066",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_control_characters_in_docstrings_and_strings_are_rejected(escape):
    doc = f"    \"x{escape}import os;os.system('touch {MARKER}')\"\n"
    for source in (
        HEAD + doc + SETUP + "        out[i, i] = 1.0\n" + TAIL,
        program(f'if tokens[i] == "a{escape}b":', "    out[i, 0] = 1.0"),
    ):
        with pytest.raises(attndsl.ProgramError) as caught:
            attndsl.load(source)
        first = caught.value.errors[0]
        assert first.rule == "string" and "control character" in first.message


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\u202e", "\u2066", "\x9b"])
def test_line_separators_and_bidi_controls_are_rejected_in_comments_too(char):
    """Text that would display in another order than it runs ("Trojan Source")."""
    source = HEAD + f"    # note {char} here\n" + SETUP + "        out[i, i] = 1.0\n" + TAIL
    with pytest.raises(attndsl.ProgramError) as caught:
        attndsl.load(source)
    first = caught.value.errors[0]
    assert (first.rule, first.line, first.column) == ("encoding", 2, 12)


def test_newlines_and_tabs_stay_allowed_in_strings():
    attndsl.load(program('if tokens[i] in ("\\n", "\\t", " \\n"):', "    out[i, 0] = 1.0"))


@pytest.mark.parametrize(
    "source, where",
    [
        ("def ①(tokens):\n" + SETUP + "        out[i, i] = 1.0\n" + TAIL, (1, 5)),
        (HEAD + SETUP + "        x² = 1\n        out[i, i] = 1.0\n" + TAIL, (5, 9)),
        (HEAD + SETUP + "        ① = 1\n        out[i, i] = 1.0\n" + TAIL, (5, 9)),
        (
            "def head(t①):\n" + SETUP.replace("tokens", "t①") + "        out[i, i] = 1.0\n" + TAIL,
            (1, 10),
        ),
    ],
)
def test_names_must_be_python_identifiers(source, where):
    with pytest.raises(attndsl.ProgramError) as caught:
        attndsl.load(source)
    first = caught.value.errors[0]
    assert (first.rule, first.line, first.column) == ("name", *where)
    assert "is not a Python name" in first.message


def test_a_five_thousand_digit_literal_is_an_error_with_its_place():
    with pytest.raises(attndsl.ProgramError) as caught:
        attndsl.load(program("out[i, i] = " + "9" * 5000))
    first = caught.value.errors[0]
    assert (first.rule, first.line, first.column) == ("literal", 5, 21)


@pytest.mark.parametrize(
    "lines",
    [
        ["out[i, min(" + ", ".join(["i"] * 300) + ")] = 1.0"],
        [
            "if " + " or ".join(f"is_punct(tokens[i - {k}])" for k in range(100)) + ":",
            "    out[i, 0] = 1.0",
        ],
        ["if " + " < ".join(["i"] * 300) + ":", "    out[i, 0] = 1.0"],
        [f"out[i, i - {k}] += 1.0" for k in range(2000)],
    ],
    ids=["min-300", "or-100", "compare-300", "statements-2000"],
)
def test_programs_beyond_the_size_limits_are_rejected(lines):
    with pytest.raises(attndsl.ProgramError) as caught:
        attndsl.load(program(*lines))
    assert caught.value.errors[0].rule == "too-big"


def test_nesting_beyond_the_limit_is_rejected():
    with pytest.raises(attndsl.ProgramError) as caught:
        attndsl.load(program("out[i, " + "min(" * 300 + "i" + ", n)" * 300 + "] = 1.0"))
    assert caught.value.errors[0].rule == "too-deep"


# ------------------------------------------------------- programs at the limits compile

LIMITS = [
    ["out[i, min(" + ", ".join(f"i - {k}" for k in range(64)) + ")] = 1.0"],
    [
        "if " + " or ".join(f"is_punct(tokens[i - {k}])" for k in range(64)) + ":",
        "    out[i, 0] = 1.0",
    ],
    ["if " + " < ".join(["0"] + ["i"] * 62 + ["n"]) + ":", "    out[i, 0] = 1.0"],
    ["out[i, i] = " + "abs(" * 50 + "-1.5" + ")" * 50],
    [
        "if tokens[i] in (" + ", ".join(f'"w{k}"' for k in range(3000)) + ', "cat"):',
        "    out[i, 0] = 1.0",
    ],
    [f"out[i, i - {k % 7}] += {k % 3}.5" for k in range(150)],
]


@pytest.mark.parametrize(
    "lines", LIMITS, ids=["min-64", "or-64", "compare-64", "depth-50", "in-3001", "statements-150"]
)
def test_programs_at_the_limits_compile_and_agree(lines):
    assert_backends_agree(program(*lines))


# ----------------------------------------------------- wrap-around, denormals, literals

BIG = "9223372036854775807"


@pytest.mark.parametrize(
    "lines",
    [
        [f"out[i, min(word_start(i) + {BIG} + 137438953473, n - 1)] = 1.0"],
        [f"out[i, min(prev_same(i) + {BIG} + 137438953473, n - 1)] = 1.0"],
        [f"out[i, min(sentence_start(i) + {BIG} + 137438953473, n - 1)] = 1.0"],
        [
            f"if tokens[min(word_start(i) + {BIG} + 137438953473, n - 1)] == 'the':",
            "    out[i, 0] = 1.0",
            "out[i, i] = 0.5",
        ],
        [f"out[i, min(word_start(i) + {BIG}, n - 1)] = 100.0", "out[i, i] = 1.0"],
        [f"x = i + {BIG}", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = i * {BIG} * 3", "if x < i:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = -(-{BIG} - 1)", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = abs(-{BIG} - 1)", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = (-{BIG} - 1) // -1", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = abs(i - {BIG} - 1)", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = -(i - {BIG} - 1)", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = (i - {BIG} - 1) // -1", "if x < 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = (i - {BIG} - 1) % -1", "if x == 0:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        [f"x = (i + {BIG}) * (i + {BIG})", "if x > i:", "    out[i, 0] = 1.0", "out[i, i] = 0.5"],
        ["out[i, 0] = 5e-324", "out[i, i] += 1e-323"],
        ["out[i, 0] = 5e-324", "out[i, i] = 2.2250738585072014e-308"],
        ["out[i, 0] = 1e308 * 10.0", "out[i, i] = 1e308"],
        ['if tokens[i] == "  the":', "    out[i, 0] = 1.0", "out[i, i] = 0.01"],
        ['if tokens[i] in ("  the", "   "):', "    out[i, 0] = 1.0", "out[i, i] = 0.01"],
    ],
    ids=range(20),
)
def test_extreme_programs_give_the_interpreters_matrices(lines):
    assert_backends_agree(program(*lines))


def test_the_bound_of_a_min_over_crossing_ends_is_sound():
    """`range(min(n, 5))` once made the range pass trust `out[0, 100]` (an unchecked
    write past the matrix)."""
    source = (
        HEAD
        + SETUP.replace("range(n)", "range(min(n, 5))")
        + "        out[0, 100] = 1.0\n        out[i, i] = 1.0\n"
        + TAIL
    )
    assert_backends_agree(source)


@pytest.mark.parametrize("literal", ["  the", "   ", "  ", " the", "the", " ", ""])
def test_canonical_literals_keep_their_meaning_and_are_fixed_points(literal):
    source = program(f"if tokens[i] == {literal!r}:", "    out[i, 0] = 1.0", "out[i, i] = 0.1")
    original = attndsl.load(source)
    canonical = attndsl.load(original.canonical.text)
    assert canonical.canonical.text == original.canonical.text
    for tokens in SENTENCES:
        np.testing.assert_allclose(canonical(tokens), original(tokens))
