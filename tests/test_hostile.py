"""Hostile programs: everything a careless or malicious author might write is rejected.

Each file in tests/hostile/ (and each generated input below) must be rejected with a
`ProgramError` whose first error names the specific rule, line and column in the tables
below, and whose text starts with `file:line:col: error:`. Loading must never execute any
part of the program: some programs would create a marker file if Python ran them, and while
they are checked `exec`, `eval`, `compile` (beyond parse-only use) and imports of `os`,
`subprocess`, `shutil` and `socket` raise.
"""

from __future__ import annotations

import ast
import builtins
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

import attndsl

HOSTILE_DIR = Path(__file__).resolve().parent / "hostile"
MARKER = Path("/tmp/attndsl-hostile-marker")
MAX_SECONDS = 2.0  # per program; generous for slow machines

# filename -> (rule, line, column) of the first error.
EXPECTED: dict[str, tuple[str, int, int]] = {
    "01_import_os.py": ("forbidden", 1, 1),
    "02_from_import.py": ("forbidden", 1, 1),
    "03_dunder_import.py": ("attribute", 4, 25),
    "04_subclasses_walk.py": ("attribute", 4, 11),
    "05_globals_walk.py": ("attribute", 4, 13),
    "06_exec_call.py": ("unknown-name", 4, 5),
    "07_eval_call.py": ("unknown-name", 4, 9),
    "08_open_marker.py": ("unknown-name", 4, 9),
    "09_compile_call.py": ("unknown-name", 4, 9),
    "10_getattr_call.py": ("unknown-name", 4, 9),
    "11_globals_call.py": ("unknown-name", 4, 9),
    "12_while_true.py": ("forbidden", 4, 5),
    "13_huge_literal_range.py": ("loop-bound", 4, 14),
    "14_four_deep_loops.py": ("loop-depth", 7, 17),
    "15_range_n_times_n.py": ("loop-bound", 4, 20),
    "16_range_million.py": ("loop-bound", 4, 14),
    "17_recursion.py": ("recursion", 4, 9),
    "18_attribute_append.py": ("attribute", 4, 11),
    "19_attribute_fill.py": ("attribute", 4, 8),
    "20_write_tokens.py": ("write-input", 4, 5),
    "21_second_function.py": ("second-def", 7, 1),
    "22_nested_function.py": ("nested-def", 5, 5),
    "23_class.py": ("forbidden", 1, 1),
    "24_lambda.py": ("forbidden", 4, 9),
    "25_list_comprehension.py": ("literal", 4, 10),
    "26_dict_literal.py": ("literal", 4, 9),
    "27_list_literal.py": ("literal", 4, 10),
    "28_return_one.py": ("return", 4, 12),
    "29_return_tokens.py": ("return", 4, 12),
    "30_missing_return.py": ("return", 4, 5),
    "31_tab_indent.py": ("tabs", 4, 1),
    "32_unbalanced_dedent.py": ("indentation", 6, 7),
    "33_nul_byte.py": ("encoding", 4, 10),
    "34_empty.py": ("empty", 1, 1),
    "35_comment_only.py": ("empty", 1, 1),
    "36_decorator.py": ("decorator", 1, 1),
    "37_global.py": ("forbidden", 2, 5),
    "38_try_except.py": ("forbidden", 4, 5),
    "39_with_open.py": ("forbidden", 4, 5),
    "40_yield.py": ("forbidden", 4, 5),
    "41_power.py": ("operator", 4, 11),
    "42_bitwise.py": ("operator", 4, 11),
    "43_slice.py": ("slice", 4, 17),
    "44_double_subscript.py": ("subscript", 5, 15),
    "45_fstring.py": ("string", 5, 25),  # at the `f` prefix: f-strings are not allowed
    "46_walrus.py": ("operator", 4, 11),  # at `:=`
    "47_print.py": ("unknown-name", 4, 5),
    "48_shadow_len.py": ("shadow", 2, 5),
    "49_dunder_name.py": ("dunder", 4, 5),
    "50_unknown_name.py": ("unknown-name", 5, 21),
    "51_is_punct_of_int.py": ("type", 5, 21),
    "52_token_plus_one.py": ("type", 5, 21),
    "53_string_as_number.py": ("type", 5, 21),
    "54_string_times.py": ("type", 4, 9),
    "55_system_marker.py": ("attribute", 4, 30),
    "56_marker_top_level.py": ("not-a-function", 1, 1),
    "57_builtins_subscript.py": ("dunder", 4, 9),
    "58_default_arg_exec.py": ("params", 1, 19),  # at `=`: no default values
    "59_match.py": ("forbidden", 4, 5),
    "60_async.py": ("forbidden", 1, 1),
    "61_raise.py": ("forbidden", 4, 5),
    "62_assert.py": ("forbidden", 4, 5),
    "63_del.py": ("forbidden", 4, 5),
    "64_semicolon.py": ("syntax", 2, 20),
    "65_set_literal.py": ("literal", 4, 9),
    "66_big_int_literal.py": ("literal", 4, 9),
    "67_shift.py": ("operator", 4, 11),
    "68_annotation.py": ("annotation", 1, 16),
    "69_is_operator.py": ("forbidden", 4, 15),
    "70_star_args.py": ("params", 1, 10),  # at `*`: exactly one plain parameter
    "71_loop_over_tokens.py": ("loop", 4, 14),
    "72_int_conversion.py": ("unknown-name", 4, 9),
    "73_counter_bound.py": ("loop-bound", 7, 20),
    "74_nonlocal.py": ("forbidden", 2, 5),
    "75_invalid_utf8.py": ("encoding", 3, 10),
    "76_dunder_import_bare.py": ("dunder", 4, 9),
    # Python itself rejects a file that starts indented ("unexpected indent").
    "77_indented_def.py": ("indentation", 1, 5),
    # `match` is a soft keyword, a legal local name: the error is the `**`.
    "78_soft_keyword_name.py": ("operator", 4, 15),
    "79_range_power.py": ("operator", 4, 23),
    "80_homoglyph_return.py": ("return", 4, 12),
    "81_exec_marker_loop.py": ("unknown-name", 5, 21),
    "82_subprocess.py": ("forbidden", 1, 1),
    "83_nested_loops_literals.py": ("loop-bound", 4, 14),
    # A carriage return (or U+2028) once broke the kernel's comment line and ran the rest.
    "84_docstring_carriage_return.py": ("string", 2, 5),
    "85_docstring_line_separator.py": ("string", 2, 5),
    "86_circled_digit_name.py": ("name", 1, 5),  # not a Python identifier
    "87_superscript_name.py": ("name", 4, 5),
    "88_five_thousand_digits.py": ("literal", 4, 9),  # past Python's own digit limit
    "89_wide_min.py": ("too-big", 4, 9),
}

HEAD = "def head(tokens):\n    n = len(tokens)\n    out = zeros(n, n)\n"
TAIL = "    return out\n"


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    head = text[:offset]
    return head.count("\n") + 1, offset - (head.rfind("\n") + 1) + 1


def _one_megabyte() -> bytes:
    body = "    x = 1\n" * ((1 << 20) // 10)
    return (HEAD + body + TAIL).encode()


_MB_TEXT = _one_megabyte().decode()
_LONG_SUM = HEAD + "    x = " + "+".join(["1"] * 10_000) + "\n" + TAIL
_LONG_LINE = HEAD + "    x = " + " " * 50_000 + "weight\n" + TAIL
_OVERLONG_LINE = HEAD + "    x = 1" + " " * 70_000 + "\n" + TAIL
_DEEP_PARENS = HEAD + "    x = " + "(" * 5_000 + "1" + ")" * 5_000 + "\n" + TAIL
_DEEP_MINUS = HEAD + "    x = " + "-" * 5_000 + "1\n" + TAIL
_DEEP_CALLS = HEAD + "    x = " + "abs(" * 3_000 + "1" + ")" * 3_000 + "\n" + TAIL
_DEEP_IFS = (
    HEAD
    + "".join("    " * (k + 1) + "if n > 0:\n" for k in range(100))
    + "    " * 101
    + "pass\n"
    + TAIL
)

# name -> (source bytes, rule, line, column). column None: any column on that line.
GENERATED: dict[str, tuple[bytes, str, int, int | None]] = {
    "one_megabyte.py": (
        _MB_TEXT.encode(),
        "too-long",
        *_offset_position(_MB_TEXT, attndsl.lang.MAX_SOURCE_BYTES),
    ),
    # 5,000 nested parentheses: CPython rejects more than 200 ("too many nested
    # parentheses"), so this is not a Python program; which paren is reported is up to attndsl.
    "deep_parens.py": (_DEEP_PARENS.encode(), "too-deep", 4, None),
    "deep_minus.py": (_DEEP_MINUS.encode(), "too-deep", 4, 9),
    "deep_calls.py": (_DEEP_CALLS.encode(), "too-deep", 4, None),
    "deep_ifs.py": (_DEEP_IFS.encode(), "too-deep", 64, None),
    # 10,000 terms: the first too-deep node in source order starts at the expression's start.
    "long_sum.py": (_LONG_SUM.encode(), "too-deep", 4, 9),
    "long_line.py": (_LONG_LINE.encode(), "unknown-name", 4, 50_009),
    "overlong_line.py": (
        _OVERLONG_LINE.encode(),
        "too-long",
        *_offset_position(_OVERLONG_LINE, attndsl.lang.MAX_SOURCE_BYTES),
    ),
    "garbage_bytes.py": (bytes(range(255, -1, -1)) * 4, "encoding", 1, 1),
    # NUL..0x7f decode fine (one newline among them); the first bad byte is 0x80.
    "ascending_bytes.py": (bytes(range(256)) * 4, "encoding", 2, 128 - 11 + 1),
    "bad_utf8_name.py": (b"def head(tokens):\n    \xc3\x28 = 1\n", "encoding", 2, 5),
    "surrogate_utf8.py": (
        HEAD.encode() + b'    x = "\xed\xa0\x80"\n' + TAIL.encode(),
        "encoding",
        4,
        10,
    ),
    "utf16.py": ((HEAD + TAIL).encode("utf-16"), "encoding", 1, 1),
    "leading_nul.py": (b"\x00" + (HEAD + TAIL).encode(), "encoding", 1, 1),
    "nul_in_string.py": (HEAD.encode() + b'    x = "\x00"\n' + TAIL.encode(), "encoding", 4, 10),
    "form_feed.py": (HEAD.encode() + b"\x0c" + TAIL.encode(), "encoding", 4, 1),
    "escape_sequence.py": (
        HEAD.encode() + b"    x = 1 \x1b[2J\n" + TAIL.encode(),
        "encoding",
        4,
        11,
    ),
    "whitespace_only.py": (b"   \n\n      \n", "empty", 1, 1),
}


# ------------------------------------------------------------------ guards


class Executed(AssertionError):
    """Raised by the guards: something tried to run or import what a check never needs."""


BLOCKED_MODULES = {"os", "subprocess", "shutil", "socket"}


@pytest.fixture
def no_execution(monkeypatch):
    """Make exec/eval/compile and imports of os, subprocess, shutil, socket raise."""
    # Warm up first: the parser and every lazily imported module load before the guard.
    program = attndsl.load((attndsl.library_dir() / "induction.py").read_text())
    assert program.id and program.text
    MARKER.unlink(missing_ok=True)
    real_import, real_compile = builtins.__import__, builtins.compile
    calls: list[str] = []

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in BLOCKED_MODULES:
            calls.append(f"import {name}")
            raise Executed(f"import of {name!r} during a check")
        return real_import(name, globals, locals, fromlist, level)

    def guarded_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:  # parsing to a tree (ast.literal_eval) runs nothing
            calls.append(f"compile {source!r:.80}")
            raise Executed("compile() to code during a check")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def refuse(what):
        def guard(*args, **kwargs):
            calls.append(what)
            raise Executed(f"{what}() during a check")

        return guard

    monkeypatch.setattr(builtins, "__import__", guarded_import)
    monkeypatch.setattr(builtins, "compile", guarded_compile)
    monkeypatch.setattr(builtins, "exec", refuse("exec"))
    monkeypatch.setattr(builtins, "eval", refuse("eval"))
    yield calls
    assert not calls, f"guarded calls during the check: {calls}"
    assert not MARKER.exists(), "a hostile program ran: the marker file exists"


def _reject(data: bytes, filename: str) -> tuple[attndsl.ProgramError, float]:
    start = time.perf_counter()
    try:
        attndsl.load(data, filename)
    except attndsl.ProgramError as exc:
        return exc, time.perf_counter() - start
    pytest.fail(f"{filename} was accepted")


def _assert_error(
    exc: attndsl.ProgramError, filename: str, rule: str, line: int, column: int | None
) -> None:
    assert exc.errors, "ProgramError without errors"
    for err in exc.errors:
        assert isinstance(err, attndsl.SourceError)
        assert err.line >= 1 and err.column >= 1 and err.rule, (err.rule, err.line, err.column)
        assert err.filename == filename
        assert str(err).startswith(f"{filename}:{err.line}:{err.column}: error: ")
    first = exc.errors[0]
    got = (first.rule, first.line, first.column)
    want_column = first.column if column is None else column
    assert got == (rule, line, want_column), f"{filename}: got {got}: {first.message}"
    assert str(first).startswith(f"{filename}:{line}:{want_column}: error: ")
    assert str(first).split("\n")[0].endswith(f"[{rule}]")
    assert first.message and "\n" not in first.message
    assert str(exc).startswith(str(first).split("\n")[0])


# ------------------------------------------------------------------- tests


def test_guards_are_armed(no_execution):
    with pytest.raises(Executed):
        exec("1")
    with pytest.raises(Executed):
        eval("1")
    with pytest.raises(Executed):
        compile("1", "<x>", "exec")
    with pytest.raises(Executed):
        __import__("os")
    with pytest.raises(Executed):
        __import__("subprocess")
    assert ast.literal_eval('"parse-only is fine"')
    __import__("json")  # other imports still work
    no_execution.clear()


def test_hostile_folder_matches_table():
    names = sorted(p.name for p in HOSTILE_DIR.glob("*.py"))
    assert len(names) >= 40
    assert names == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_rejected(name, no_execution):
    data = (HOSTILE_DIR / name).read_bytes()
    exc, seconds = _reject(data, name)
    _assert_error(exc, name, *EXPECTED[name])
    assert seconds < MAX_SECONDS, f"{name}: check took {seconds:.2f}s"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_hostile_rejected(name, no_execution):
    data, rule, line, column = GENERATED[name]
    exc, seconds = _reject(data, name)
    _assert_error(exc, name, rule, line, column)
    assert seconds < MAX_SECONDS, f"{name}: check took {seconds:.2f}s"


def test_generated_inputs_are_what_they_claim():
    assert len(GENERATED["one_megabyte.py"][0]) >= 1 << 20
    assert _LONG_SUM.count("+") == 9_999
    assert _DEEP_PARENS.count("(") >= 5_000
    assert max(len(line) for line in _LONG_LINE.split("\n")) > 50_000


def test_text_and_bytes_give_the_same_error(no_execution):
    for name in ("12_while_true.py", "21_second_function.py", "44_double_subscript.py"):
        data = (HOSTILE_DIR / name).read_bytes()
        from_bytes, _ = _reject(data, name)
        from_text, _ = _reject(data.decode(), name)
        assert [str(e) for e in from_bytes.errors] == [str(e) for e in from_text.errors]


def test_caret_points_into_the_excerpt(no_execution):
    """On a very long line the excerpt is cut; the caret must still point into what is shown."""
    exc, _ = _reject(_LONG_LINE.encode(), "long_line.py")
    lines = str(exc.errors[0]).split("\n")
    assert len(lines) == 3, lines
    excerpt, caret = lines[1], lines[2]
    assert caret.index("^") < len(excerpt), (len(excerpt), caret.index("^"))


def test_marker_programs_would_create_the_marker():
    """The marker programs are real: the strings they would run name the marker path."""
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in HOSTILE_DIR.glob("*.py")]
    assert sum(str(MARKER) in t for t in texts) >= 6


def test_compatibility_identifiers_are_not_silently_distinct():
    """Python reads identifiers in NFKC form: `ｘ` (fullwidth) is the name `x`.

    A program that attndsl accepts must mean what it means as Python, so it is either
    rejected or means the same as its NFKC-normalised text.
    """
    source = (
        HEAD + "    x = 1.0\n    \uff58 = 2.0\n    out[0, 0] = x\n    out[1, 0] = 0.0 - x\n" + TAIL
    )
    try:
        program = attndsl.load(source, "nfkc.py")
    except attndsl.ProgramError as exc:
        assert exc.errors[0].line >= 1
        return
    normalised = attndsl.load(unicodedata.normalize("NFKC", source), "nfkc.py")
    assert program.id == normalised.id, (program.text, normalised.text)


# --------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "name", ["01_import_os.py", "12_while_true.py", "75_invalid_utf8.py", "56_marker_top_level.py"]
)
def test_cli_check_rejects(name):
    MARKER.unlink(missing_ok=True)
    path = HOSTILE_DIR / name
    rule, line, column = EXPECTED[name]
    result = subprocess.run(
        [sys.executable, "-m", "attndsl", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"{path}:{line}:{column}: error: "), result.stderr
    assert f"[{rule}]" in result.stderr.split("\n")[0]
    assert "Traceback" not in result.stderr
    assert "ok" not in result.stdout
    assert not MARKER.exists()


def test_cli_check_reports_every_file():
    paths = [str(HOSTILE_DIR / n) for n in ("17_recursion.py", "20_write_tokens.py")]
    good = str(attndsl.library_dir() / "previous_token.py")
    result = subprocess.run(
        [sys.executable, "-m", "attndsl", "check", *paths, good],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    for path in paths:
        assert f"\n{path}:" in "\n" + result.stderr
    assert f"{good}: ok" in result.stdout
