"""Scores: how well candidate patterns match real attention, for every candidate and head.

Patterns and attention are causal, row-normalised n×n matrices (row i is query i, entries
j ≤ i). Each score is computed per passage and then averaged over passages:

- `iou` (soft IoU, the paper's): per row Σ_j min(p, a) / Σ_j max(p, a), mean over rows; a row
  where both are all zero scores 1. Higher is better, in [0, 1].
- `mass` (attention mass on pattern, TransformerLens' "mul" head-detector score):
  Σ_ij p·a / Σ_ij a, the attention that lands where the pattern puts weight, weighted by the
  pattern. For one-hot rows it is the attention mass on the pattern's key; since attention rows
  sum to 1 it is the mean over rows of Σ_j p·a. Higher is better, in [0, 1].
- `jsd` (Jensen-Shannon divergence, base 2): per row ½ KL(p‖m) + ½ KL(a‖m) with m = (p + a)/2,
  mean over rows. Lower is better, in [0, 1].

Rows are used exactly as given (float16 attention rows sum to 1 only approximately).

`pairwise` does the work in Numba (`_score_kernels`): the cost is (stored candidate entries) ×
heads, so one-hot and sparse candidates are cheap; `iou` and `mass` run at several billion
entry-head pairs per second, `jsd` (a logarithm per pair) about 20× slower. Scoring 1,000
programs against smollm2's 270 heads on 100 passages takes about 10 s on two busy cores
(`benchmarks/bench_scores.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..lang import AttnDslError
from ..models import AttentionCache

if TYPE_CHECKING:
    from ..compiler import Batch, Kernel, Vocab
    from ..lang import Program

DEFAULT_MAX_CELLS = 1 << 26  # candidate pattern entries held at once (256 MiB of float32)

METRICS = ("iou", "mass", "jsd")
HIGHER_IS_BETTER = {"iou": True, "mass": True, "jsd": False}


class ScoreError(AttnDslError):
    """Scores asked for with an unknown metric or with shapes that do not fit."""


# ---------------------------------------------------------------- references (one pair)
def _pair(pred: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, a = np.asarray(pred, dtype=np.float64), np.asarray(real, dtype=np.float64)
    if p.shape != a.shape or p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ScoreError(f"patterns must be two n×n matrices, got {p.shape} and {a.shape}")
    return np.tril(p), np.tril(a)


def soft_iou(pred: np.ndarray, real: np.ndarray) -> float:
    """Soft IoU of one pattern with one head's attention on one passage (reference)."""
    p, a = _pair(pred, real)
    low, high = np.minimum(p, a).sum(1), np.maximum(p, a).sum(1)
    rows = np.where(high > 0, low / np.where(high > 0, high, 1.0), 1.0)
    return float(rows.mean())


def attention_mass(pred: np.ndarray, real: np.ndarray) -> float:
    """Attention mass on the pattern, Σ p·a / Σ a (TransformerLens "mul"; reference)."""
    p, a = _pair(pred, real)
    total = a.sum()
    return float((p * a).sum() / total) if total > 0 else 0.0


def _xlogx_over(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, x * np.log2(safe / np.where(m > 0, m, 1.0)), 0.0)


def jsd(pred: np.ndarray, real: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2) per row, mean over rows (reference; lower is
    better)."""
    p, a = _pair(pred, real)
    m = (p + a) / 2
    rows = 0.5 * (_xlogx_over(p, m).sum(1) + _xlogx_over(a, m).sum(1))
    return float(rows.mean())


REFERENCES = {"iou": soft_iou, "mass": attention_mass, "jsd": jsd}


# ---------------------------------------------------------------- batched
def _as_tensor(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).cpu()
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise ScoreError(f"{name} must be [count, n, n], got {tuple(t.shape)}")
    return t.to(torch.float32)


def pairwise(candidates, heads, metric: str = "iou") -> torch.Tensor:
    """Every candidate against every head on one passage: [C, K] float64.

    candidates [C, n, n] and heads [K, n, n] (tensors or arrays); only the lower triangle is
    read. See the module docstring for the metrics.
    """
    if metric not in METRICS:
        raise ScoreError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    p, a = _as_tensor(candidates, "candidates"), _as_tensor(heads, "heads")
    if p.shape[1:] != a.shape[1:]:
        raise ScoreError(
            f"candidates are {p.shape[1]}×{p.shape[1]} but heads are "
            f"{a.shape[1]}×{a.shape[1]}; pass the same passage"
        )
    if p.shape[1] == 0:
        raise ScoreError("an empty passage has no rows to score; drop it")
    return _pairwise_numba(p.numpy(), a.numpy(), metric)


def _pairwise_numba(p: np.ndarray, a: np.ndarray, metric: str) -> torch.Tensor:
    """The fast path: sparse candidate rows against packed heads (`_score_kernels`)."""
    import numba

    from . import _score_kernels as K

    n = p.shape[1]
    ptr, col, val, psum = K.to_csr(p.astype(np.float32, copy=False))
    att, asum = K.pack_heads(a.astype(np.float32, copy=False))
    aterm = K.jsd_terms(att) if metric == "jsd" else att[:0]
    work = np.cumsum(np.diff(ptr[::n]) + n)  # entries per candidate, plus the row overhead
    parts = 4 * numba.get_num_threads()
    cuts = np.searchsorted(work, np.arange(1, parts) * work[-1] / parts) if len(work) else []
    blocks = np.unique(np.concatenate([[0], cuts, [len(psum)]])).astype(np.int64)
    code = {"iou": K.IOU, "mass": K.MASS, "jsd": K.JSD}[metric]
    out = K.pairwise_csr(code, n, ptr, col, val, psum, att, asum, aterm, blocks)
    if metric == "mass":
        total = asum.astype(np.float64).sum(0)
        out = np.where(total > 0, out / np.where(total > 0, total, 1.0), 0.0)
    else:
        out /= max(n, 1)
    return torch.from_numpy(out)


def _pairwise_torch(
    p: torch.Tensor, a: torch.Tensor, metric: str, max_cells: int = 1 << 24
) -> torch.Tensor:
    """Plain broadcasting over chunks of candidates (the simple reference implementation)."""
    n = p.shape[1]
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    p = torch.where(mask, p, 0.0).double()
    a = torch.where(mask, a, 0.0).double()
    out = torch.empty(p.shape[0], a.shape[0], dtype=torch.float64)
    step = max(1, max_cells // max(1, a.shape[0] * n * n))
    for c0 in range(0, p.shape[0], step):
        pc, ac = p[c0 : c0 + step, None], a[None]
        if metric == "iou":
            low = torch.minimum(pc, ac).sum(-1)
            high = pc.sum(-1) + ac.sum(-1) - low
            rows = torch.where(high > 0, low / torch.where(high > 0, high, 1.0), 1.0)
            out[c0 : c0 + step] = rows.mean(-1)
        elif metric == "mass":
            total = ac.sum((-1, -2))
            mass = (pc * ac).sum((-1, -2))
            out[c0 : c0 + step] = torch.where(
                total > 0, mass / torch.where(total > 0, total, 1), 0.0
            )
        else:
            m = (pc + ac) / 2
            rows = 0.5 * (_xlogx_over_t(pc, m).sum(-1) + _xlogx_over_t(ac, m).sum(-1))
            out[c0 : c0 + step] = rows.mean(-1)
    return out


def _xlogx_over_t(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return torch.where(
        x > 0, x * torch.log2(torch.where(x > 0, x, 1.0) / torch.where(m > 0, m, 1.0)), 0.0
    )


# ---------------------------------------------------------------- over a cache
@dataclass
class ScoreTable:
    """Scores of candidates (by id) against every head, averaged over passages.

    `mean[c, layer, head]`; `per_passage[c, layer, head, p]` (float32, passage
    `passages[p]`) when asked for; `seconds` splits the time into `compile`, `patterns`
    (running the candidates), `attention` (reading the cache) and `compare`.
    """

    ids: list[str]
    passages: list[int]
    layers: int
    heads: int
    mean: np.ndarray
    per_passage: np.ndarray | None = None
    metric: str = "iou"
    seconds: dict[str, float] = field(default_factory=dict)

    def best(self, layer: int, head: int, k: int = 1) -> list[tuple[str, float]]:
        """The k best (id, score) for one head, best first (highest, or lowest for jsd)."""
        scores = self.mean[:, layer, head]
        order = np.argsort(-scores if HIGHER_IS_BETTER[self.metric] else scores, kind="stable")
        return [(self.ids[c], float(scores[c])) for c in order[:k]]


PatternSource = Callable[["Batch"], "torch.Tensor | np.ndarray"]


def score_patterns(
    ids: Sequence[str],
    patterns: PatternSource,
    cache: AttentionCache,
    passages: Sequence[int] | None = None,
    metric: str = "iou",
    per_passage: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> ScoreTable:
    """Score candidates given as a function of a batch of passages: `patterns(batch)` returns
    [C, B, N, N] (C = len(ids), N = the batch's longest passage, zeros beyond each passage),
    so a caller can score patterns that no single program makes (mixtures, say). Passages are
    taken in batches of at most `max_cells` candidate entries."""
    from ..compiler import Batch

    if metric not in METRICS:
        raise ScoreError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    chosen = list(range(len(cache)) if passages is None else passages)
    bad = [i for i in chosen if not 0 <= i < len(cache)]
    if bad:
        raise ScoreError(f"{cache.folder}: no passage {bad[0]} (the cache holds {len(cache)})")
    count, heads = len(ids), cache.layers * cache.heads
    total = np.zeros((count, heads), np.float64)
    each = np.zeros((count, heads, len(chosen)), np.float32) if per_passage else None
    seconds = {"patterns": 0.0, "attention": 0.0, "compare": 0.0}
    batch = Batch.from_sequences([cache.records[i].ids for i in chosen])
    for start, part in batch.chunks(max(1, max_cells // max(1, count))):
        clock = time.perf_counter()
        made = torch.as_tensor(patterns(part)).cpu()
        if tuple(made.shape[:2]) != (count, len(part)):
            raise ScoreError(
                f"patterns gave shape {tuple(made.shape)} for {len(part)} "
                f"passages; expected [{count}, {len(part)}, N, N]"
            )
        seconds["patterns"] += time.perf_counter() - clock
        for b, n in enumerate(part.lengths.tolist()):
            clock = time.perf_counter()
            real = cache.attention(chosen[start + b]).reshape(heads, n, n)
            seconds["attention"] += time.perf_counter() - clock
            clock = time.perf_counter()
            scores = pairwise(made[:, b, :n, :n], real, metric).numpy()
            total += scores
            if each is not None:
                each[:, :, start + b] = scores
            seconds["compare"] += time.perf_counter() - clock
        if progress:
            progress(start + len(part), len(chosen))
    shape = (count, cache.layers, cache.heads)
    return ScoreTable(
        list(ids),
        chosen,
        cache.layers,
        cache.heads,
        (total / max(1, len(chosen))).reshape(shape),
        None if each is None else each.reshape(*shape, len(chosen)),
        metric,
        seconds,
    )


def run_kernels(kernels: Sequence[Kernel], batch: Batch, vocab: Vocab) -> np.ndarray:
    """Every kernel's patterns on a batch: [C, B, N, N] float32.

    The kernels run one thread each: a call on a few passages is too short for a parallel
    launch to pay (on a busy two-core machine it costs several times the work); the
    comparison is where the threads go.
    """
    import numba

    size, threads = batch.max_length, numba.get_num_threads()
    out = np.empty((len(kernels), len(batch), size, size), np.float32)
    numba.set_num_threads(1)
    try:
        for c, kernel in enumerate(kernels):
            out[c] = kernel(batch, vocab).numpy()
    finally:
        numba.set_num_threads(threads)
    return out


def score_programs(
    programs: Sequence[Program],
    cache: AttentionCache,
    passages: Sequence[int] | None,
    vocab: Vocab,
    metric: str = "iou",
    per_passage: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> ScoreTable:
    """Score programs against every head of `cache` on `passages` (None: all of them).

    Each program is compiled once (Numba; kernels are cached on disk) and run on batches of
    passages; `vocab` must be `Vocab.from_tokenizer` of the tokenizer the cache was made with.
    """
    from ..compiler import compile_many

    clock = time.perf_counter()
    kernels = compile_many(programs)
    compiled = time.perf_counter() - clock
    top = max((max(r.ids, default=-1) for r in cache.records), default=-1)
    if top >= vocab.size:
        raise ScoreError(
            f"{cache.folder}: token id {top} is outside the vocabulary "
            f"({vocab.size} tokens); build it with Vocab.from_tokenizer for the "
            f"model the cache was made with ({cache.manifest.get('model')})"
        )

    def patterns(batch: Batch) -> np.ndarray:
        return run_kernels(kernels, batch, vocab)

    table = score_patterns(
        [p.id for p in programs],
        patterns,
        cache,
        passages,
        metric,
        per_passage,
        progress,
        max_cells,
    )
    table.seconds["compile"] = compiled
    return table
