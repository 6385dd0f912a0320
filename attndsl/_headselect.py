"""Which heads to replace: ordered by the measured cost of each head's surrogate on held-out
text (the select split), not by IoU alone.

A head's cost is the rise in cross-entropy when that head alone is replaced by its program.
Heads are replaced in order of increasing cost, and the heads replaced at fraction f are the
first round(f · heads) of that order: the paper's greedy choice, measured on text that no
program was fitted on. One forward pass per head over the select passages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ._candidate import Head
from ._perplexity import PatternFn, batch_loss, encode_batches, summarise_loss
from ._replace import Patterns


def kernel_patterns(kernels: Mapping[Head, Any], vocab: Any) -> PatternFn:
    """Surrogate patterns for a batch from each head's compiled kernel (one kernel call per
    distinct program), for right-padded ids [B, T] with `lengths` [B]."""
    from .compiler import Batch

    def build(ids: torch.Tensor, lengths: torch.Tensor) -> Patterns:
        batch = Batch.from_sequences([row[:n].tolist() for row, n in zip(ids, lengths.tolist())])
        computed: dict[int, torch.Tensor] = {}
        patterns: dict[int, dict[int, torch.Tensor]] = {}
        for (layer, head), kernel in kernels.items():
            if id(kernel) not in computed:
                computed[id(kernel)] = _pad(kernel(batch, vocab), ids.shape[1])
            patterns.setdefault(layer, {})[head] = computed[id(kernel)]
        return patterns

    return build


def _pad(pattern: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - pattern.shape[-1]
    return torch.nn.functional.pad(pattern, (0, missing, 0, missing)) if missing > 0 else pattern


def head_costs(model: Any, tokenizer: Any, texts: Sequence[str], kernels: Mapping[Head, Any],
               vocab: Any, max_tokens: int = 128, batch_size: int = 8,
               progress: Callable[[int, int], None] | None = None,
               measured: Callable[[Head, float], None] | None = None) -> dict[Head, float]:
    """Each head's cost on `texts`: cross-entropy (nats per token) with that head alone
    replaced by its kernel's pattern, minus the unmodified model's. `measured(head, cost)`
    is called as each is known (to record it at once)."""
    batches = encode_batches(tokenizer, texts, max_tokens, batch_size)
    if not batches or not kernels:
        return {}
    everything = kernel_patterns(kernels, vocab)
    built = [everything(ids, mask.sum(1)) for ids, mask in batches]

    def loss(head: Head | None) -> float:
        total, count = 0.0, 0
        for (ids, mask), patterns in zip(batches, built):
            chosen = {} if head is None else {head[0]: {head[1]: patterns[head[0]][head[1]]}}
            part, tokens = batch_loss(model, ids, mask, chosen)
            total, count = total + part, count + tokens
        return summarise_loss(total, count)["cross_entropy"]

    base = loss(None)
    costs: dict[Head, float] = {}
    for done, head in enumerate(sorted(kernels), start=1):
        costs[head] = loss(head) - base
        if measured:
            measured(head, costs[head])
        if progress:
            progress(done, len(kernels))
    return costs


def replacement_order(costs: Mapping[Head, float]) -> list[Head]:
    """Heads from cheapest to costliest to replace (ties: lower layer, then head, first)."""
    return sorted(costs, key=lambda head: (costs[head], head))


def heads_at(order: Sequence[Head], fraction: float, total: int) -> list[Head]:
    """The heads replaced at `fraction` of all `total` heads: the first of `order`."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction of heads must lie in [0, 1], not {fraction}")
    count = min(round(fraction * total), len(order))
    return list(order[:count])


def fraction_key(fraction: float) -> str:
    """A fraction as JSON keys spell it: `0`, `0.1`, `0.25`, `0.5`."""
    return f"{fraction:g}"


def as_layers(heads: Sequence[Head]) -> dict[int, list[int]]:
    """Heads grouped by layer, as the baseline pattern builders take them."""
    grouped: dict[int, list[int]] = {}
    for layer, head in sorted(heads):
        grouped.setdefault(layer, []).append(head)
    return grouped


BASELINES = ("mean", "uniform", "first")


def perplexity_table(model: Any, tokenizer: Any, texts: Sequence[str], order: Sequence[Head],
                     kernels: Mapping[Head, Any], vocab: Any, total: int,
                     fractions: Sequence[float] = (0.0, 0.1, 0.25, 0.5),
                     means: Mapping[Head, torch.Tensor] | None = None, max_tokens: int = 128,
                     batch_size: int = 8) -> list[dict[str, Any]]:
    """Perplexity on `texts` at each fraction of heads replaced (the first of `order`) by
    their programs, beside the baselines on the same heads: mean ablation (when `means`, the
    heads' mean outputs over the fit split, are given), uniform causal and first-token
    attention. One row per fraction: {"fraction", "heads", "of", "programs", "mean", ...}
    ("heads" replaced out of "of"); a fraction that replaces no more heads than the row
    before it (only `len(order)` heads can be replaced) gets no row."""
    from ._perplexity import fixed_patterns, mean_patterns, perplexity

    def measure(patterns: PatternFn | None) -> float:
        return perplexity(model, tokenizer, texts, max_tokens, batch_size, patterns)["perplexity"]

    rows = []
    for fraction in fractions:
        heads = heads_at(order, fraction, total)
        if rows and len(heads) <= rows[-1]["heads"]:
            continue
        row: dict[str, Any] = {"fraction": fraction, "heads": len(heads), "of": total}
        if not heads:
            plain = measure(None)
            row.update({"programs": plain, **{name: plain for name in BASELINES}})
            rows.append(row)
            continue
        layers = as_layers(heads)
        row["programs"] = measure(kernel_patterns({h: kernels[h] for h in heads}, vocab))
        if means is not None:
            row["mean"] = measure(mean_patterns(means, layers))
        row["uniform"] = measure(fixed_patterns("uniform", layers))
        row["first"] = measure(fixed_patterns("first", layers))
        rows.append(row)
    return rows
