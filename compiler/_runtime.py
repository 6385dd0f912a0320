"""Numba helpers every emitted kernel calls: the language's total operations, token lookups,
sentence structure and the final normalisation. Compiled once per machine (`cache=True`).

Each helper mirrors a rule of `attndsl.lang.semantics`; the differential tests hold them to it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types

from ..lang import structure

# Helpers are left to LLVM to inline: Numba's own `inline="always"` re-types each helper at
# every call site, which doubled the compile time of a kernel (benchmarks/bench_kernels.py
# shows the same throughput either way).
_jit = njit(cache=True)

_ints = types.int64[::1]
#: The signature of every emitted `program(tok, n, raw, key_class, lower_map, tests, lit,
#: word_of, word_start, sentence_start, prev_same)`.
PROGRAM_SIG = types.void(
    types.int32[::1],
    types.int64,
    types.float64[:, ::1],
    _ints,
    _ints,
    types.boolean[:, ::1],
    _ints,
    _ints,
    _ints,
    _ints,
    _ints,
)

INT64_MIN = np.int64(-(2**63))


# Int arithmetic wraps at 64 bits, as `attndsl.lang.semantics` says. Numba marks signed adds,
# subtracts, multiplies and negations "no signed wrap", which lets LLVM assume, say, that
# `i + big < 0` is false; unsigned operations carry no such flag and give the same bits.
@_jit
def iadd(a, b):
    return np.int64(np.uint64(a) + np.uint64(b))


@_jit
def isub(a, b):
    return np.int64(np.uint64(a) - np.uint64(b))


@_jit
def imul(a, b):
    return np.int64(np.uint64(a) * np.uint64(b))


@_jit
def ineg(a):
    return np.int64(np.uint64(0) - np.uint64(a))


@_jit
def iabs(a):
    return ineg(a) if a < 0 else a


@_jit
def ifloordiv(a, b):
    if b == 0:
        return 0
    if b == -1:
        return ineg(a)  # wraps for INT64_MIN instead of trapping
    return a // b


@_jit
def imod(a, b):
    if b == 0 or b == -1:
        return 0
    return a % b


@_jit
def fdiv(a, b):
    return 0.0 if b == 0.0 else a / b


@_jit
def ffloordiv(a, b):
    return 0.0 if b == 0.0 else a // b


@_jit
def fmod(a, b):
    return 0.0 if b == 0.0 else a % b


@_jit
def flog(x):
    return 0.0 if x <= 0.0 else math.log(x)


@_jit
def fsqrt(x):
    return 0.0 if x < 0.0 else math.sqrt(x)


@_jit
def fexp(x):
    return math.exp(x)


@_jit
def fmin(a, b):
    if a != a or b != b:
        return math.nan
    return b if b < a else a


@_jit
def fmax(a, b):
    if a != a or b != b:
        return math.nan
    return b if b > a else a


@_jit
def imin(a, b):
    return b if b < a else a


@_jit
def imax(a, b):
    return b if b > a else a


@_jit
def tok_at(tok, n, p):
    return np.int64(tok[p]) if 0 <= p < n else np.int64(-1)


@_jit
def lower(lower_map, t):
    return lower_map[t] if t >= 0 else np.int64(-1)


@_jit
def tok_test(tests, row, t):
    return t >= 0 and tests[row, t]


@_jit
def tok_in(key_class, t, lit, start, stop):
    """The token's key class is one of lit[start:stop] (`t in (...)`)."""
    if t < 0:
        return False
    cls = key_class[t]
    for k in range(start, stop):  # noqa: SIM110 - a generator does not compile in Numba
        if lit[k] == cls:
            return True
    return False


@_jit
def tok_eq(key_class, a, b):
    return a >= 0 and b >= 0 and key_class[a] == key_class[b]


@_jit
def tok_is(key_class, t, cls):
    return t >= 0 and key_class[t] == cls


@_jit
def at(array, n, p):
    return array[p] if 0 <= p < n else np.int64(-1)


@_jit
def store(raw, n, a, b, v, op):
    """out[a, b] op= v, dropped outside the matrix (op: an index into `_ir.STORE_OPS`)."""
    if 0 <= a < n and 0 <= b < n:
        old = raw[a, b]
        if op == 0:
            raw[a, b] = v
        elif op == 1:
            raw[a, b] = old + v
        elif op == 2:
            raw[a, b] = old - v
        elif op == 3:
            raw[a, b] = old * v
        elif op == 4:
            raw[a, b] = fdiv(old, v)
        elif op == 5:
            raw[a, b] = ffloordiv(old, v)
        else:
            raw[a, b] = fmod(old, v)


@_jit
def out_read(raw, n, a, b):
    return raw[a, b] if 0 <= a < n and 0 <= b < n else 0.0


sentence_structure_core = njit(cache=True)(structure)


@njit(cache=True)
def sentence_structure(tok, key_class, layout):
    """word_of, word_start, sentence_start, prev_same of one sentence of token ids."""
    n = tok.shape[0]
    flags = np.empty((n, layout.shape[1]), dtype=np.bool_)
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        flags[i] = layout[tok[i]]
        keys[i] = key_class[tok[i]]
    return sentence_structure_core(flags, keys)


#: The smallest normal double: a row mass below it is scaled by its peak first (1 / mass
#: would overflow), as `attndsl.lang.semantics.normalise` does for every row.
_NORMAL = np.finfo(np.float64).tiny

# Only value-safe relaxations: reordering sums and reciprocals, never assuming away NaN or inf.
_FAST = {"reassoc", "nsz", "arcp", "contract"}


@njit(cache=True, fastmath=_FAST)
def _row_mass(raw, i):
    """Sum of the positive entries of raw[i, :i + 1] (NaN and negatives count 0); the loop
    vectorises."""
    total = 0.0
    for j in range(i + 1):
        v = raw[i, j]
        total += v if v > 0.0 else 0.0
    return total


@njit(cache=True, fastmath=_FAST)
def _write_row(raw, row, i, total):
    """row[j] = raw[i, j] / total for the positive entries j <= i, 0 elsewhere."""
    inverse = 1.0 / total
    for j in range(i + 1):
        v = raw[i, j]
        row[j] = v * inverse if v > 0.0 else 0.0
    row[i + 1 :] = 0.0


@njit(cache=True)
def _finish_slow_row(raw, row, i):
    """A row whose sum is not finite or not normal: spread over its +inf entries, or scale
    by the largest entry first (so neither the sum overflows nor 1 / sum)."""
    infinite = 0
    peak = 0.0
    for j in range(i + 1):
        v = raw[i, j]
        if v == math.inf:
            infinite += 1
        elif v > peak:
            peak = v
    if infinite > 0:
        for j in range(i + 1):
            row[j] = 1.0 / infinite if raw[i, j] == math.inf else 0.0
    else:
        total = 0.0
        for j in range(i + 1):
            v = raw[i, j]
            if v > 0.0:
                total += v / peak
        for j in range(i + 1):
            v = raw[i, j]
            row[j] = (v / peak) / total if v > 0.0 else 0.0
    row[i + 1 :] = 0.0


@njit(cache=True)
def finish(raw, dest, n):
    """Normalise the raw output (its top-left n×n block) into dest (an m×m float32 block,
    m >= n), writing every entry once: the pattern for j <= i < n, zeros elsewhere (the
    rules of `attndsl.lang.semantics.normalise`)."""
    for i in range(n):
        row = dest[i]
        total = _row_mass(raw, i)
        if total == 0.0:
            row[:] = 0.0
            row[0] = 1.0
        elif _NORMAL <= total < math.inf:
            _write_row(raw, row, i, total)
        else:
            _finish_slow_row(raw, row, i)
    dest[n:] = 0.0


@njit(parallel=True, cache=True)
def batch_structure(ids, offsets, key_class, layout, size):
    """Structural arrays of every sentence in a ragged batch, padded to [B, size] with -1."""
    count = offsets.shape[0] - 1
    word_of = np.full((count, size), -1, np.int64)
    word_start = np.full((count, size), -1, np.int64)
    sentence_start = np.full((count, size), -1, np.int64)
    prev_same = np.full((count, size), -1, np.int64)
    for b in prange(count):
        start = offsets[b]
        n = offsets[b + 1] - start
        w, ws, ss, ps = sentence_structure(ids[start : start + n], key_class, layout)
        word_of[b, :n] = w
        word_start[b, :n] = ws
        sentence_start[b, :n] = ss
        prev_same[b, :n] = ps
    return word_of, word_start, sentence_start, prev_same


@njit(
    types.void(
        types.FunctionType(PROGRAM_SIG),
        types.int32[::1],
        _ints,
        types.float32[::1],
        _ints,
        types.int64,
        _ints,
        _ints,
        types.boolean[:, ::1],
        types.boolean[:, ::1],
        _ints,
        types.boolean,
        types.boolean,
        types.int64,
    ),
    parallel=True,
    cache=True,
)
def run_batch(
    program,
    ids,
    offsets,
    flat,
    cells,
    width,
    key_class,
    lower_map,
    tests,
    layout,
    lit,
    structured,
    reads_out,
    chunks,
):
    """Run `program` on every sentence of a ragged batch in parallel; sentence b's pattern
    goes to flat[cells[b]:] as an m×m block (m = width, or the sentence length if width is 0).
    The sentences are split into `chunks` parallel chunks (a few per thread), each reusing
    one scratch buffer for the raw outputs. Only its lower triangle is cleared between
    sentences (all that `finish` reads) unless the program reads `out` itself.
    """
    count = offsets.shape[0] - 1
    longest = 0
    for b in range(count):
        longest = max(longest, offsets[b + 1] - offsets[b])
    chunks = max(1, min(count, chunks))
    none = np.empty(0, np.int64)
    for c in prange(chunks):
        scratch = np.empty(longest * longest)
        for b in range(c * count // chunks, (c + 1) * count // chunks):
            start = offsets[b]
            n = offsets[b + 1] - start
            tok = ids[start : start + n]
            raw = scratch[: n * n].reshape((n, n))
            if reads_out:
                raw[:] = 0.0
            else:
                for i in range(n):
                    raw[i, : i + 1] = 0.0
            if structured:
                word_of, word_start, sentence_start, prev_same = sentence_structure(
                    tok, key_class, layout
                )
            else:
                word_of, word_start, sentence_start, prev_same = none, none, none, none
            program(
                tok,
                n,
                raw,
                key_class,
                lower_map,
                tests,
                lit,
                word_of,
                word_start,
                sentence_start,
                prev_same,
            )
            m = width if width > 0 else n
            finish(raw, flat[cells[b] : cells[b] + m * m].reshape((m, m)), n)


@njit(parallel=True, cache=True)
def finish_padded(raw, lengths, out):
    """`finish` for each sentence of a padded batch: raw [B, N, N] float64 → out float32."""
    for b in prange(raw.shape[0]):
        n = lengths[b]
        finish(raw[b], out[b], n)
