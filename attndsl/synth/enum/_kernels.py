"""Numba kernels behind the enumerative search (`attndsl.synth.enum`): soft IoU of many
weighted mixtures of fixed component patterns against one head, without building them.

Layout: the causal lower triangles of all fit passages back to back, T entries; row r (one
query of one passage) is entries `starts[r]` to `starts[r] + lens[r]`. Components are the
rules' unnormalised outputs `comps[P, T]` with row masses `csum[P, R]`; a mixture's pattern is
Σ w·comps / Σ w·csum row by row (`_mixture`). The head is `a[T]` with row sums
`asum[R]`. A row's soft IoU is Σmin(p, a) / Σmax(p, a) with Σmax = Σp + Σa − Σmin (as in
`attndsl.synth.scores`); the objective is Σ_r weight[r] · IoU_r, with weight 1/(n · passages), which
is the mean over rows, then over passages, of `attndsl.synth.scores.pairwise`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True, inline="always")
def _row_iou(low: float | np.floating, asum: float | np.floating) -> float:
    high = 1.0 + asum - low  # the pattern's row sums to 1
    return low / high if high > 0 else 1.0


def blocks(lens: np.ndarray, parts: int) -> np.ndarray:
    """Boundaries of `parts` consecutive row ranges holding about equal numbers of entries
    (the unit of parallel work; each range's rows stay in cache while all candidates pass)."""
    work = np.cumsum(lens)
    if not len(work):
        return np.zeros(1, np.int64)
    cuts = np.searchsorted(work, np.arange(1, parts) * work[-1] / parts)
    return np.unique(np.concatenate([[0], cuts, [len(lens)]])).astype(np.int64)


@njit(parallel=True, cache=True, fastmath=True)
def scan(a, asum, cur, cursum, comps, csum, cands, grid, starts, lens, weight, bounds):
    """Objective of the mixtures cur + g·comps[q], for every q = cands[c] and g in grid[c]
    (rows normalised; a row with no mass all on its first entry): float64 [C, G]. Rows are
    split at `bounds` (see `blocks`) for the threads."""
    count, width = grid.shape
    part = np.zeros((len(bounds) - 1, count, width))
    for b in prange(len(bounds) - 1):
        for r in range(bounds[b], bounds[b + 1]):
            s, e, w = starts[r], starts[r] + lens[r], weight[r]
            for c in range(count):
                q = cands[c]
                for k in range(width):
                    mass = cursum[r] + grid[c, k] * csum[q, r]
                    if mass <= 0:
                        low = min(np.float32(1.0), a[s])
                    else:
                        alpha = np.float32(1.0 / mass)
                        beta = np.float32(grid[c, k] / mass)
                        low = np.float32(0.0)
                        for t in range(s, e):
                            low += min(cur[t] * alpha + comps[q, t] * beta, a[t])
                    part[b, c, k] += w * _row_iou(low, asum[r])
    return part.sum(axis=0)


@njit(parallel=True, cache=True, fastmath=True)
def score_mixtures(a, asum, comps, csum, terms, weights, starts, lens, weight, bounds):
    """Objective of the mixtures Σ_k weights[c, k]·comps[terms[k]], rows normalised, for
    each row c of `weights`: float64 [C]."""
    count, k = weights.shape
    part = np.zeros((len(bounds) - 1, count))
    for b in prange(len(bounds) - 1):
        scale = np.empty(k, np.float32)
        for r in range(bounds[b], bounds[b + 1]):
            s, e = starts[r], starts[r] + lens[r]
            for c in range(count):
                mass = 0.0
                for m in range(k):
                    mass += weights[c, m] * csum[terms[m], r]
                if mass <= 0:
                    low = min(np.float32(1.0), a[s])
                else:
                    for m in range(k):
                        scale[m] = weights[c, m] / mass
                    low = np.float32(0.0)
                    for t in range(s, e):
                        p = np.float32(0.0)
                        for m in range(k):
                            p += scale[m] * comps[terms[m], t]
                        low += min(p, a[t])
                part[b, c] += weight[r] * _row_iou(low, asum[r])
    return part.sum(axis=0)


@njit(cache=True, fastmath=True)
def mix(comps, terms, weights):
    """The unnormalised output Σ_k weights[k]·comps[terms[k]]: float32 [T]."""
    out = np.zeros(comps.shape[1], np.float32)
    for m in range(terms.shape[0]):
        w = np.float32(weights[m])
        row = comps[terms[m]]
        for t in range(out.shape[0]):
            out[t] += w * row[t]
    return out


@njit(cache=True)
def row_sums(x, starts, lens):
    """Per-row sums of x [K, T]: float32 [K, R]."""
    out = np.zeros((x.shape[0], starts.shape[0]), np.float32)
    for k in range(x.shape[0]):
        for r in range(starts.shape[0]):
            total = np.float32(0.0)
            for t in range(starts[r], starts[r] + lens[r]):
                total += x[k, t]
            out[k, r] = total
    return out
