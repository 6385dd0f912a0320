"""The compiler against the reference interpreter: both backends, library and random programs,
edge cases, ragged and chunked output, the kernel cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from program_strategies import programs, sentences, tinystories_samples

import attndsl
from attndsl.compiler import Batch, CompileError, _cache, compile, word_vocab

TOLERANCE = 1e-6
LIBRARY = attndsl.library()

EDGE_CASES = [
    [],
    ["Hi"],
    ["the"] * 7,
    [".", ",", "!", "?", '"', ".", "."],
    ["Roxy", " saw", "\n", "\n", "Billy", ".", '"', "Why", '?"', " he", " asked", "."],
    ["The", " THE", " the", " The", "s", "-", "42", " 42"],
]


pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def assert_matches(program, kernel, token_lists):
    """The kernel's patterns equal the interpreter's to TOLERANCE, padded and ragged."""
    vocab = word_vocab(token_lists)
    batch = Batch.from_sequences([vocab.encode(t) for t in token_lists])
    padded = kernel(batch, vocab).numpy()
    size = batch.max_length
    assert padded.shape == (len(token_lists), size, size)
    ragged = kernel.on_tokens(token_lists, vocab)
    for b, tokens in enumerate(token_lists):
        n = len(tokens)
        expected = program(tokens)
        np.testing.assert_allclose(
            padded[b, :n, :n],
            expected,
            atol=TOLERANCE,
            rtol=0,
            err_msg=f"{kernel.backend}, sentence {b}: {tokens!r}",
        )
        np.testing.assert_allclose(ragged[b], expected, atol=TOLERANCE, rtol=0)
        assert not padded[b, n:, :].any() and not padded[b, :, n:].any()


def torch_kernel(program):
    try:
        return compile(program, "torch")
    except CompileError:
        return None


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_numba_and_torch_match_interpreter(name):
    program = LIBRARY[name]
    token_lists = tinystories_samples(12, 48) + EDGE_CASES
    assert_matches(program, compile(program, "numba"), token_lists)
    assert_matches(program, compile(program, "torch"), token_lists)


@pytest.mark.parametrize(
    "name", ["induction", "last_punctuation", "recency_decay", "current_sentence", "sink_recency"]
)
def test_long_sequence_1024_tokens(name):
    tokens = [t for story in tinystories_samples(40, 400) for t in story][:1024]
    assert len(tokens) == 1024
    program = LIBRARY[name]
    assert_matches(program, compile(program, "numba"), [tokens])
    assert_matches(program, compile(program, "torch"), [tokens])


def _differential(source, token_lists):
    program = attndsl.load(source)
    assert_matches(program, compile(program, "numba"), token_lists)
    kernel = torch_kernel(program)
    if kernel is not None:
        assert_matches(program, kernel, token_lists)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(), st.lists(sentences(), min_size=1, max_size=4))
def test_random_programs_match_interpreter(source, token_lists):
    _differential(source, token_lists)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(), st.lists(sentences(), min_size=1, max_size=4))
def test_random_programs_match_interpreter_200(source, token_lists):
    _differential(source, token_lists)


READS_OUT = """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(i + 1):
            out[i, j] = out[i, j] + 1.0
    return out
"""


def test_auto_falls_back_with_reason():
    program = attndsl.load(READS_OUT)
    kernel = compile(program, "auto", device="cuda")
    assert kernel.backend == "numba"
    assert "reads out" in kernel.fallback_reason
    assert compile(LIBRARY["last_punctuation"], "auto", device="cuda").backend == "torch"
    on_cpu = compile(LIBRARY["previous_token"], "auto", device="cpu")
    assert on_cpu.backend == "numba" and "no GPU" in on_cpu.fallback_reason
    with pytest.raises(CompileError, match=r"cannot vectorise.*reads out"):
        compile(program, "torch")
    with pytest.raises(CompileError, match="unknown backend"):
        compile(LIBRARY["last_punctuation"], "cuda")


def test_every_starter_program_vectorises():
    refused = {name: compile(p, "numba").vectorise_reason for name, p in LIBRARY.items()}
    assert {name: why for name, why in refused.items() if why} == {}


def test_chunks_bound_memory_and_cover_the_batch():
    token_lists = tinystories_samples(10, 30)
    vocab = word_vocab(token_lists)
    batch = Batch.from_sequences([vocab.encode(t) for t in token_lists])
    kernel = compile(LIBRARY["induction"], "numba")
    whole = kernel(batch, vocab).numpy()
    seen = 0
    for start, part in kernel.chunks(batch, vocab, max_cells=2 * 30 * 30):
        assert part.shape[0] <= 2
        n = part.shape[1]
        np.testing.assert_array_equal(part.numpy(), whole[start : start + len(part), :n, :n])
        seen += len(part)
    assert seen == len(token_lists)


def test_batch_rejects_overlong_sequences():
    with pytest.raises(ValueError, match="at most 4096"):
        Batch.from_sequences([[0] * 4097])


def test_kernel_cache_reuses_and_repairs(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNDSL_CACHE", str(tmp_path))
    program = LIBRARY["two_back"]
    kernel = compile(program, "numba")
    files = list((tmp_path / "kernels").glob("k_*.py"))
    assert len(files) == 1 and program.id in files[0].name
    assert files[0].read_text() == kernel.source
    files[0].write_text("garbage that is not the kernel")  # corrupt the source
    repaired = compile(program, "numba")
    assert files[0].read_text() == repaired.source
    for entry in (tmp_path / "kernels" / "__pycache__").glob("*.nbc"):
        entry.write_bytes(b"\x00corrupt machine code")  # corrupt Numba's cache
    again = compile(program, "numba")
    assert_matches(program, again, [["The", " cat", " sat", "."]])


def test_cache_key_depends_on_versions(monkeypatch):
    first = _cache.source_key("x")
    monkeypatch.setattr(_cache, "COMPILER_VERSION", "other")
    assert _cache.source_key("x") != first


# Loops the torch backend runs as scans and reductions over the loop dimension.
VECTORISED = {
    "break_in_a_nested_if_and_a_counter": """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        seen = 0
        last = i
        for j in range(i, -1, -1):
            if is_punct(tokens[j]):
                seen += 1
                if j < i:
                    last = j
                    break
            out[i, j] += 0.5
        out[i, last] += 1.0 + seen
    return out
""",
    "reset_then_accumulate": """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        run = 0
        for j in range(i + 1):
            if is_space(tokens[j]) or j % 3 == 0:
                run = 0
            run += 1
            total = run * 2
        out[i, i - min(run, i)] = 1.0
    return out
""",
    "continue_and_subtract": """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        score = 10.0
        for j in range(i):
            if is_upper(tokens[j]):
                continue
            score -= 0.5
        out[i, 0] = max(score, 0.1)
        out[i, i] = 1.0
    return out
""",
}

#: (program, its refusal; names and places are those of the canonical program compiled)
REFUSED = {
    "read inside the loop": (
        """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        count = 0
        for j in range(i + 1):
            count += 1
            if count > 2:
                out[i, j] = 1.0
    return out
""",
        r"'\w+' carries a value between iterations \(line \d+, column \d+\) and is read inside",
    ),
    "not a sum": (
        """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        weight = 1.0
        for j in range(i, -1, -1):
            out[i, j] = weight
            weight = weight * 0.5
    return out
""",
        r"'\w+' carries a value between iterations \(line \d+, column \d+\): only",
    ),
    "set in a nested loop": (
        """def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    total = 0
    for i in range(n):
        for j in range(i + 1):
            total += 1
    for i in range(n):
        out[i, 0] = 1.0 + total
    return out
""",
        r"'\w+' is set inside a nested loop .*\(line \d+, column \d+\)",
    ),
}


@pytest.mark.parametrize("name", sorted(VECTORISED))
def test_breaks_and_reductions_vectorise_and_match_the_interpreter(name):
    program = attndsl.load(VECTORISED[name])
    token_lists = tinystories_samples(6, 40) + EDGE_CASES
    kernel = compile(program, "torch")
    assert kernel.backend == "torch"
    assert_matches(program, kernel, token_lists)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_cannot_vectorise_is_refused_with_its_place(case):
    source, reason = REFUSED[case]
    program = attndsl.load(source)
    with pytest.raises(CompileError, match=reason):
        compile(program, "torch")
    assert_matches(program, compile(program, "auto", device="cuda"), tinystories_samples(3, 20))
