"""Tests for the starter library (attndsl/lang/library/*.py).

Every expected matrix below is worked out by hand from the language's meaning
(docs/language.md), never by running the interpreter.  On the sentence

    position: 0      1       2       3    4       5       6       7
    token:    "The"  " cat"  " sat"  "."  " The"  " cat"  " ran"  "."

the structure is:

    word_start(i)     = 0 1 2 2 4 5 6 6   (a "." glues to the word before it)
    sentence_start(i) = 0 0 0 0 4 4 4 4
    prev_same(i)      = - - - - 0 1 - 3   (" The" equals "The": the leading space
                                           is not part of what a token equals)
"""

import ast
import math
import re

import numpy as np
import pytest

import attndsl

LIBRARY_DIR = attndsl.library_dir()

TOKENS = ["The", " cat", " sat", ".", " The", " cat", " ran", "."]
N = len(TOKENS)

# Two lines of text: the newline token is whitespace only.
LINES = ["Hello", "\n", "World", " again"]


def pattern(rows):
    """Build an expected pattern from one {key: weight} dict per query row, normalised."""
    m = np.zeros((len(rows), len(rows)), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, w in row.items():
            m[i, j] += w
        m[i] /= m[i].sum()
    return m


def onehot(cols):
    """Row i puts all its mass on key cols[i]."""
    return pattern([{c: 1.0} for c in cols])


def uniform(sets):
    """Row i spreads its mass evenly over the keys in sets[i]."""
    return pattern([{c: 1.0 for c in s} for s in sets])


def interpret(program, tokens):
    """`attndsl.interpret` runs a checked program; a `Program` carries it as `.checked`."""
    return attndsl.interpret(program, list(tokens))


def run(name, tokens=TOKENS):
    programs = attndsl.library()
    assert name in programs, f"{name} missing from attndsl.library()"
    result = interpret(programs[name], tokens)
    result = np.asarray(result)
    assert result.dtype == np.float64
    assert result.shape == (len(tokens), len(tokens))
    return result


EXPECTED = {
    "first_token_sink": onehot([0] * N),
    "self_token": onehot(range(N)),
    "previous_token": onehot([0, 0, 1, 2, 3, 4, 5, 6]),
    "two_back": onehot([0, 0, 0, 1, 2, 3, 4, 5]),
    "uniform_causal": uniform([range(i + 1) for i in range(N)]),
    "local_window": uniform([range(max(0, i - 2), i + 1) for i in range(N)]),
    "recency_decay": pattern(
        [{j: math.exp(-0.5 * (i - j)) for j in range(i + 1)} for i in range(N)]
    ),
    "word_start": onehot([0, 1, 2, 2, 4, 5, 6, 6]),
    "same_word": uniform([{0}, {1}, {2}, {2, 3}, {4}, {5}, {6}, {6, 7}]),
    "previous_word_start": onehot([0, 0, 1, 1, 2, 4, 5, 5]),
    "previous_word_end": onehot([0, 0, 1, 1, 3, 4, 5, 5]),
    "sentence_start": onehot([0, 0, 0, 0, 4, 4, 4, 4]),
    "previous_sentence_start": onehot([0] * N),
    "current_sentence": uniform(
        [range(0, i + 1) for i in range(4)] + [range(4, i + 1) for i in range(4, 8)]
    ),
    # Induction: " The"(4) -> after "The"(0) = 1; " cat"(5) -> after " cat"(1) = 2;
    # "."(7) -> after "."(3) = 4; no earlier copy -> sink.
    "induction": onehot([0, 0, 0, 0, 1, 2, 0, 4]),
    "duplicate_token": onehot([0, 0, 0, 0, 0, 1, 0, 3]),
    "first_occurrence": onehot([0, 0, 0, 0, 0, 1, 0, 3]),
    "same_lowercase": onehot([0, 0, 0, 0, 0, 1, 0, 3]),
    "last_punctuation": onehot([0, 0, 0, 3, 3, 3, 3, 7]),
    "all_punctuation": uniform([{0}, {0}, {0}, {3}, {3}, {3}, {3}, {3, 7}]),
    # Capitalised: "The"(0) and " The"(4) start with a capital; strictly earlier ones only.
    "capitalised_tokens": uniform([{0}, {0}, {0}, {0}, {0}, {0, 4}, {0, 4}, {0, 4}]),
    # Stop words: "The"(0) and " The"(4); at or before the query.
    "stop_words": uniform([{0}, {0}, {0}, {0}, {0, 4}, {0, 4}, {0, 4}, {0, 4}]),
    "last_newline": onehot([0] * N),
    "paragraph_start": onehot([0] * N),
    # Sink mixtures: half on 0, half on the other target (both halves land on 0 when it is 0).
    "sink_self": pattern([{0: 0.5, i: 0.5} for i in range(N)]),
    "sink_previous": pattern([{0: 1.0}] + [{0: 0.5, i - 1: 0.5} for i in range(1, N)]),
    "sink_induction": pattern(
        [{0: 1.0}] * 4 + [{0: 0.5, 1: 0.5}, {0: 0.5, 2: 0.5}, {0: 1.0}, {0: 0.5, 4: 0.5}]
    ),
    "sink_duplicate_token": pattern(
        [{0: 1.0}] * 4 + [{0: 1.0}, {0: 0.5, 1: 0.5}, {0: 1.0}, {0: 0.5, 3: 0.5}]
    ),
    "sink_word_start": pattern([{0: 0.5, s: 0.5} for s in [0, 1, 2, 2, 4, 5, 6, 6]]),
    "sink_sentence_start": pattern([{0: 0.5, s: 0.5} for s in [0, 0, 0, 0, 4, 4, 4, 4]]),
}


def _sink_recency(n):
    rows = []
    for i in range(n):
        decay = [math.exp(-0.5 * (i - j)) for j in range(i + 1)]
        total = sum(decay)
        row = {j: 0.7 * d / total for j, d in enumerate(decay)}
        row[0] += 0.3
        rows.append(row)
    return pattern(rows)


EXPECTED["sink_recency"] = _sink_recency(N)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_library_program_on_sentence(name):
    np.testing.assert_allclose(run(name), EXPECTED[name], rtol=0, atol=1e-12)


def test_sink_recency_keeps_thirty_percent_on_first_token():
    m = run("sink_recency")
    assert np.all(m[:, 0] >= 0.3 - 1e-12)
    # Row 0 has only position 0.
    assert m[0, 0] == pytest.approx(1.0)


def test_induction_points_at_token_after_previous_copy():
    m = run("induction")
    # The second " cat" (position 5) has its previous copy at 1, so it looks at " sat" (2).
    assert m[5, 2] == pytest.approx(1.0)
    assert m[7, 4] == pytest.approx(1.0)


def test_newline_programs_on_two_lines():
    # LINES = "Hello" "\n" "World" " again"
    np.testing.assert_allclose(run("last_newline", LINES), onehot([0, 1, 1, 1]), atol=1e-12)
    np.testing.assert_allclose(run("paragraph_start", LINES), onehot([0, 0, 2, 2]), atol=1e-12)


def test_patterns_are_causal_and_normalised():
    programs = attndsl.library()
    for name in EXPECTED:
        m = np.asarray(interpret(programs[name], TOKENS))
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12, err_msg=name)
        assert np.all(np.triu(m, k=1) == 0), name
        assert np.all(m >= 0), name


def _library_files():
    return sorted(p for p in LIBRARY_DIR.glob("*.py") if p.name != "__init__.py")


def test_library_has_at_least_24_programs():
    files = _library_files()
    assert len(files) >= 24
    names = set(attndsl.library())
    assert {p.stem for p in files} <= names


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: p.stem)
def test_library_file_shape(path):
    source = path.read_text()
    assert "\t" not in source
    module = ast.parse(source)
    assert len(module.body) == 1
    fn = module.body[0]
    assert isinstance(fn, ast.FunctionDef) and fn.name == "head"
    doc = ast.get_docstring(fn)
    assert doc, f"{path.name} has no docstring"
    first = doc.splitlines()[0]
    assert re.match(r"^[A-Z][^:]*: \S.*\.$", first), first
    assert re.match(r"^[a-z0-9_]+$", path.stem)
    assert not (LIBRARY_DIR / "__init__.py").exists()
