"""Perplexity of a model on passages, with heads replaced by surrogates, and the baselines a
reviewer asks for: no replacement, mean ablation, uniform causal and first-token attention.

Token-level: the mean next-token cross-entropy over every predicted token of every passage
(padding excluded), exponentiated.

Heads are replaced in order of increasing replacement cost (`_costs`), and the heads
replaced at fraction f are the first round(f · heads) of that order. The perplexity table
computes each batch's surrogate patterns once, for every fraction.
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


#: most tokens (padding included) in one batch of a forward pass: sized for the CPU, where a
#: few large matrix products beat many small ones, and for the logits it holds
BATCH_TOKENS = 1024


def batches(
    passages: Sequence[Ids], batch_tokens: int = BATCH_TOKENS
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Passages (token ids) as right-padded (ids, attention mask) batches of at most
    `batch_tokens` tokens, padding included (a longer passage is a batch of its own).
    Passages are batched longest first, so that each batch's passages have about the same
    length and little is padding; a sum over tokens does not depend on the order. Passages
    of fewer than two tokens predict nothing and are left out."""
    kept = sorted((ids for ids in passages if len(ids) >= 2), key=len, reverse=True)
    found, start = [], 0
    while start < len(kept):
        width = len(kept[start])  # the longest of the batch: it comes first
        count = max(1, batch_tokens // width)
        found.append(padded(kept[start : start + count]))
        start += count
    return found


def summed_loss(
    logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """(summed next-token cross-entropy, predicted tokens) of a batch's logits."""
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=-100,
        reduction="sum",
    )
    return loss, int((targets != -100).sum())


def batch_loss(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, patterns: Patterns | None = None
) -> tuple[float, int]:
    """(summed next-token cross-entropy, predicted tokens) of one batch, with the heads in
    `patterns` replaced."""
    with torch.inference_mode(), replaced(model, patterns or {}):
        logits = model(input_ids=ids, attention_mask=mask).logits
    loss, count = summed_loss(logits, ids, mask)
    return float(loss), count


def loss_record(total: float, count: int) -> dict[str, float]:
    """{"perplexity", "cross_entropy", "tokens"} from a summed loss."""
    mean = total / max(count, 1)
    return {"perplexity": math.exp(mean), "cross_entropy": mean, "tokens": count}


def perplexity(
    model: Any,
    passages: Sequence[Ids],
    batch_tokens: int = BATCH_TOKENS,
    patterns: PatternFn | None = None,
) -> dict[str, float]:
    """{"perplexity", "tokens", "cross_entropy"} on `passages` (token ids: `encode`, or an
    attention cache's), with the heads `patterns` builds replaced (none when it is None)."""
    total, count = 0.0, 0
    for ids, mask in batches(passages, batch_tokens):
        surrogate = patterns(ids, mask.sum(1)) if patterns else None
        loss, tokens = batch_loss(model, ids, mask, surrogate)
        total, count = total + loss, count + tokens
    return loss_record(total, count)


def head_means(
    model: Any, passages: Sequence[Ids], batch_tokens: int = BATCH_TOKENS
) -> dict[tuple[int, int], torch.Tensor]:
    """Each head's mean output (before the output projection) over the tokens of `passages`
    (the fit split): what mean ablation replaces the head with."""
    tokens = 0
    with recording(model) as sums:
        for ids, mask in batches(passages, batch_tokens):
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


def perplexity_table(
    model: Any,
    passages: Sequence[Ids],
    order: Sequence[Head],
    kernels: Mapping[Head, Any],
    vocab: Any,
    total: int,
    fractions: Sequence[float] = (0.0, 0.1, 0.25, 0.5),
    means: Mapping[Head, torch.Tensor] | None = None,
    batch_tokens: int = BATCH_TOKENS,
) -> list[dict[str, Any]]:
    """Perplexity on `passages` at each fraction of heads replaced (the first of `order`) by
    their programs, beside the baselines on the same heads: mean ablation (when `means`, the
    heads' mean outputs over the fit split, are given), uniform causal and first-token
    attention. One row per fraction: {"fraction", "heads", "of", "programs", "mean", ...}
    ("heads" replaced out of "of"); a fraction that replaces no more heads than the row
    before it (only `len(order)` heads can be replaced) gets no row.

    Each batch's program patterns are computed once (for the widest fraction's heads) and
    shared by every row."""
    rows: list[dict[str, Any]] = []
    chosen: list[list[Head]] = []
    for fraction in fractions:
        heads = heads_at(order, fraction, total)
        if rows and len(heads) <= rows[-1]["heads"]:
            continue
        rows.append({"fraction": fraction, "heads": len(heads), "of": total})
        chosen.append(heads)
    # (row, column, the column's patterns from the batch's ids, lengths and program patterns)
    columns: list[tuple[int, str, Callable[[torch.Tensor, torch.Tensor, Patterns], Any]]] = []
    for index, heads in enumerate(chosen):
        if not heads:
            columns.append((index, "programs", lambda ids, lengths, computed: None))
            continue
        layers = as_layers(heads)
        columns.append((index, "programs", lambda ids, lengths, found, h=heads: pick(found, h)))
        baselines = {"uniform": fixed_patterns("uniform", layers)}
        baselines["first"] = fixed_patterns("first", layers)
        if means is not None:
            baselines = {"mean": mean_patterns(means, layers), **baselines}
        for name, build in baselines.items():
            columns.append((index, name, lambda ids, lengths, computed, b=build: b(ids, lengths)))
    widest = max(chosen, key=len, default=[])
    programs = kernel_patterns({head: kernels[head] for head in widest}, vocab)
    sums = [[0.0, 0] for _ in columns]
    for ids, mask in batches(passages, batch_tokens):
        lengths = mask.sum(1)
        computed = programs(ids, lengths) if widest else {}
        for (_, _, build), total_count in zip(columns, sums):
            loss, count = batch_loss(model, ids, mask, build(ids, lengths, computed))
            total_count[0] += loss
            total_count[1] += count
    for (index, name, _), (loss, count) in zip(columns, sums):
        value = loss_record(loss, int(count))["perplexity"]
        if chosen[index]:
            rows[index][name] = value
        else:
            rows[index].update({"programs": value, **{b: value for b in BASELINES}})
    return rows


def pick(patterns: Patterns, heads: Sequence[Head]) -> dict[int, dict[int, torch.Tensor]]:
    """The patterns of `heads`, out of `patterns` (layer → head → pattern)."""
    return {layer: {h: patterns[layer][h] for h in hs} for layer, hs in as_layers(heads).items()}
