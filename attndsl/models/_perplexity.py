"""Perplexity of a model on passages, with heads replaced by surrogates, and the baselines a
reviewer asks for: no replacement, mean ablation, uniform causal and first-token attention.

Token-level: the mean next-token cross-entropy over every predicted token of every passage
(padding excluded), exponentiated.

Which heads to replace is decided by measured cost on held-out text (the select split), not
by IoU alone. A head's cost is the rise in cross-entropy when that head alone is replaced by
its program. Heads are replaced in order of increasing cost, and the heads replaced at
fraction f are the first round(f · heads) of that order: the paper's greedy choice, measured
on text that no program was fitted on. One forward pass per head over the select passages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ._heads import BASELINES, Head, as_layers, heads_at
from ._replace import Patterns, recording, replaced
from ._tokens import Ids, padded

#: builds the surrogate patterns for one batch from its token ids [B, T] and lengths [B]
PatternFn = Callable[[torch.Tensor, torch.Tensor], Patterns]
Heads = Mapping[int, Sequence[int]]  # layer → heads


def batches(
    passages: Sequence[Ids], batch_size: int = 8
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Passages (token ids) as right-padded (ids, attention mask) batches; passages of fewer
    than two tokens predict nothing and are left out."""
    kept = [ids for ids in passages if len(ids) >= 2]
    return [padded(kept[start : start + batch_size]) for start in range(0, len(kept), batch_size)]


def batch_loss(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, patterns: Patterns | None = None
) -> tuple[float, int]:
    """(summed next-token cross-entropy, predicted tokens) of one batch, with the heads in
    `patterns` replaced."""
    with torch.inference_mode(), replaced(model, patterns or {}):
        logits = model(input_ids=ids, attention_mask=mask).logits
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=-100,
        reduction="sum",
    )
    return float(loss), int((targets != -100).sum())


def loss_record(total: float, count: int) -> dict[str, float]:
    """{"perplexity", "cross_entropy", "tokens"} from a summed loss."""
    mean = total / max(count, 1)
    return {"perplexity": math.exp(mean), "cross_entropy": mean, "tokens": count}


def perplexity(
    model: Any,
    passages: Sequence[Ids],
    batch_size: int = 8,
    patterns: PatternFn | None = None,
) -> dict[str, float]:
    """{"perplexity", "tokens", "cross_entropy"} on `passages` (token ids: `encode`, or an
    attention cache's), with the heads `patterns` builds replaced (none when it is None)."""
    total, count = 0.0, 0
    for ids, mask in batches(passages, batch_size):
        surrogate = patterns(ids, mask.sum(1)) if patterns else None
        loss, tokens = batch_loss(model, ids, mask, surrogate)
        total, count = total + loss, count + tokens
    return loss_record(total, count)


def head_means(
    model: Any, passages: Sequence[Ids], batch_size: int = 8
) -> dict[tuple[int, int], torch.Tensor]:
    """Each head's mean output (before the output projection) over the tokens of `passages`
    (the fit split): what mean ablation replaces the head with."""
    tokens = 0
    with recording(model) as sums:
        for ids, mask in batches(passages, batch_size):
            with torch.inference_mode():
                model(input_ids=ids, attention_mask=mask, attndsl_live=mask)
            tokens += int(mask.sum())
    return {key: (value / max(tokens, 1)).float() for key, value in sums.items()}


def fixed_patterns(kind: str, heads: Heads) -> PatternFn:
    """Baseline patterns for `heads`: "uniform" (causal) or "first" (all on token 0)."""

    def build(ids: torch.Tensor, lengths: torch.Tensor) -> Patterns:
        size = ids.shape[1]
        if kind == "uniform":
            base = torch.tril(torch.ones(size, size))
            base = base / base.sum(-1, keepdim=True)
        else:
            base = torch.zeros(size, size)
            base[:, 0] = 1.0
        batch = base.expand(ids.shape[0], size, size)
        return {layer: {h: batch for h in hs} for layer, hs in heads.items()}

    return build


def mean_patterns(means: Mapping[tuple[int, int], torch.Tensor], heads: Heads) -> PatternFn:
    """Mean ablation of `heads`: each outputs its mean over the fit split."""
    fixed = {layer: {h: means[(layer, h)] for h in hs} for layer, hs in heads.items()}
    return lambda ids, lengths: fixed


def kernel_patterns(kernels: Mapping[Head, Any], vocab: Any) -> PatternFn:
    """Surrogate patterns for a batch from each head's compiled kernel (one kernel call per
    distinct program), for right-padded ids [B, T] with `lengths` [B]."""
    from ..compiler import Batch

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


def head_costs(
    model: Any,
    passages: Sequence[Ids],
    kernels: Mapping[Head, Any],
    vocab: Any,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    measured: Callable[[Head, float], None] | None = None,
) -> dict[Head, float]:
    """Each head's cost on `passages`: cross-entropy (nats per token) with that head alone
    replaced by its kernel's pattern, minus the unmodified model's. `measured(head, cost)`
    is called as each is known (to record it at once)."""
    padded_batches = batches(passages, batch_size)
    if not padded_batches or not kernels:
        return {}
    everything = kernel_patterns(kernels, vocab)
    built = [everything(ids, mask.sum(1)) for ids, mask in padded_batches]

    def loss(head: Head | None) -> float:
        total, count = 0.0, 0
        for (ids, mask), patterns in zip(padded_batches, built):
            chosen = {} if head is None else {head[0]: {head[1]: patterns[head[0]][head[1]]}}
            part, tokens = batch_loss(model, ids, mask, chosen)
            total, count = total + part, count + tokens
        return loss_record(total, count)["cross_entropy"]

    base = loss(None)
    costs: dict[Head, float] = {}
    for done, head in enumerate(sorted(kernels), start=1):
        costs[head] = loss(head) - base
        if measured:
            measured(head, costs[head])
        if progress:
            progress(done, len(kernels))
    return costs


def perplexity_table(
    model: Any,
    passages: Sequence[Ids],
    order: Sequence[Head],
    kernels: Mapping[Head, Any],
    vocab: Any,
    total: int,
    fractions: Sequence[float] = (0.0, 0.1, 0.25, 0.5),
    means: Mapping[Head, torch.Tensor] | None = None,
    batch_size: int = 8,
) -> list[dict[str, Any]]:
    """Perplexity on `passages` at each fraction of heads replaced (the first of `order`) by
    their programs, beside the baselines on the same heads: mean ablation (when `means`, the
    heads' mean outputs over the fit split, are given), uniform causal and first-token
    attention. One row per fraction: {"fraction", "heads", "of", "programs", "mean", ...}
    ("heads" replaced out of "of"); a fraction that replaces no more heads than the row
    before it (only `len(order)` heads can be replaced) gets no row."""

    def measure(patterns: PatternFn | None) -> float:
        return perplexity(model, passages, batch_size, patterns)["perplexity"]

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
