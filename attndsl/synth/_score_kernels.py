"""Numba kernels behind `scores.pairwise`: every candidate against every head.

Layout (one passage of n tokens, T = n(n+1)/2 causal entries, row i starting at i(i+1)/2):

- candidates are sparse rows (CSR): for candidate c and row i, entries `ptr[c*n+i]` to
  `ptr[c*n+i+1]` of `col` (key j) and `val` (p > 0);
- heads are packed lower triangles with the heads innermost, `att[T, K]`, so each stored
  candidate entry (i, j, p) updates all K heads with one contiguous vector operation.

A metric then needs only the entries where p > 0: Σ_j min(p, a) and Σ_j p·a are zero elsewhere,
and off the pattern's support a JSD row gains exactly a/2 (see `jsd_terms`). The work is
nnz(candidate) × K per passage, dense or sparse alike. Threads take blocks of candidates and
walk the rows in order, so one row's head slab (≤ n × K floats) stays in cache for the block.
Per-row sums are float32 (a row has at most n terms); rows are summed in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

IOU, MASS, JSD = 0, 1, 2
INV_LN2 = np.float32(1.0 / math.log(2.0))


@njit(parallel=True, cache=True)
def to_csr(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse rows of causal patterns p [C, n, n]: (ptr [C*n+1], col int32, val float32,
    row sums [C, n] float32). Entries above the diagonal and entries ≤ 0 are dropped."""
    count, n = p.shape[0], p.shape[1]
    sizes = np.zeros(count * n + 1, np.int64)
    for c in prange(count):
        for i in range(n):
            nnz = 0
            for j in range(i + 1):
                nnz += p[c, i, j] > 0
            sizes[c * n + i + 1] = nnz
    ptr = np.cumsum(sizes)
    col = np.empty(ptr[-1], np.int32)
    val = np.empty(ptr[-1], np.float32)
    sums = np.zeros((count, n), np.float32)
    for c in prange(count):
        for i in range(n):
            q, total = ptr[c * n + i], np.float32(0.0)
            for j in range(i + 1):
                x = p[c, i, j]
                if x > 0:
                    col[q] = j
                    val[q] = x
                    total += x
                    q += 1
            sums[c, i] = total
    return ptr, col, val, sums


def pack_heads(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heads a [K, n, n] → (att [T, K] lower triangles, heads innermost, negatives as 0;
    row sums [n, K])."""
    n = a.shape[1]
    rows, cols = np.tril_indices(n)
    att = np.maximum(a.transpose(1, 2, 0), 0, dtype=np.float32).reshape(n * n, -1)
    att = att[rows * n + cols]
    sums = (
        np.add.reduceat(att, rows_starts(n), axis=0) if n else np.zeros((0, a.shape[0]), np.float32)
    )
    return att, sums


def rows_starts(n: int) -> np.ndarray:
    """Where each row of a packed lower triangle starts: i(i+1)/2."""
    i = np.arange(n)
    return i * (i + 1) // 2


@njit(cache=True, fastmath=True)
def jsd_terms(att: np.ndarray) -> np.ndarray:
    """Per head entry, ½·a·log2(a) − a/2: with it a JSD row is ½Σa + Σ over the pattern's
    support of [½p·log2 p + this − m·log2 m], m = (p + a)/2."""
    out = np.empty_like(att)
    for t in range(att.shape[0]):
        for k in range(att.shape[1]):
            x = att[t, k]
            out[t, k] = 0.5 * x * (math.log(x) * INV_LN2) - 0.5 * x if x > 0 else 0.0
    return out


@njit(parallel=True, cache=True, fastmath=True)
def pairwise_csr(
    metric: int,
    n: int,
    ptr: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
    psum: np.ndarray,
    att: np.ndarray,
    asum: np.ndarray,
    aterm: np.ndarray,
    blocks: np.ndarray,
) -> np.ndarray:
    """Scores [C, K] float64 of every candidate (CSR) against every head (packed)."""
    count, heads = psum.shape[0], att.shape[1]
    out = np.zeros((count, heads), np.float64)
    for b in prange(len(blocks) - 1):
        c0, c1 = blocks[b], blocks[b + 1]
        row = np.empty(heads, np.float32)
        for i in range(n):
            start = i * (i + 1) // 2
            for c in range(c0, c1):
                row[:] = 0.0
                for q in range(ptr[c * n + i], ptr[c * n + i + 1]):
                    p = val[q]
                    slab = att[start + col[q]]
                    if metric == IOU:
                        for k in range(heads):
                            row[k] += min(p, slab[k])
                    elif metric == MASS:
                        for k in range(heads):
                            row[k] += p * slab[k]
                    else:
                        terms = aterm[start + col[q]]
                        hp = 0.5 * p * (math.log(p) * INV_LN2)
                        for k in range(heads):
                            m = 0.5 * (p + slab[k])
                            row[k] += hp + terms[k] - m * (math.log(m) * INV_LN2)
                if metric == IOU:
                    ps = psum[c, i]
                    for k in range(heads):
                        high = ps + asum[i, k] - row[k]
                        out[c, k] += row[k] / high if high > 0 else 1.0
                elif metric == MASS:
                    for k in range(heads):
                        out[c, k] += row[k]
                else:
                    for k in range(heads):
                        out[c, k] += 0.5 * asum[i, k] + row[k]
    return out
