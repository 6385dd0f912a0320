"""Replacement costs: how much each head's program costs the model, measured on held-out text
(the select split), to decide which heads are replaced first.

A head's cost is the rise in next-token cross-entropy (nats per token) when that head alone
attends by its program's pattern. Two ways to measure it (`head_costs`):

- "attribution": attribution patching. One forward and one backward pass per batch give,
  for every head at once, the first-order change in loss, ∇ₒ loss · (P·V − o), where o is
  the head's output before the output projection and P its program's pattern.
- "exact": one forward pass per head over the passages, with that head replaced.

A run's default, "screened" (`COST_METHODS`), measures every head by attribution and
then the cheapest of them, as many as the largest fraction replaces, exactly: on smollm2
attribution ranks heads with Spearman ρ 0.87 against exact costs, and its cheapest 100 hold
all 27 exactly cheapest, but it calls one head of layer 1 cheap (−0.011) that costs +0.026,
and replacing its cheapest 10% raises perplexity by 15% where the exact order's 10% cost 2%.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ._heads import COST_MEASURES, Head
from ._perplexity import (
    BATCH_TOKENS,
    batch_loss,
    batches,
    kernel_patterns,
    loss_record,
    pick,
    summed_loss,
)
from ._prefix import decoder_layers, record_layers, replaying
from ._replace import attributing
from ._tokens import Ids

#: progress(done, total): batches (attribution) or heads (exact) measured
Progress = Callable[[int, int], None]


def head_costs(
    model: Any,
    passages: Sequence[Ids],
    kernels: Mapping[Head, Any],
    vocab: Any,
    method: str = "attribution",
    batch_tokens: int = BATCH_TOKENS,
    progress: Progress | None = None,
    measured: Callable[[Head, float], None] | None = None,
) -> dict[Head, float]:
    """Each head's cost on `passages` by `method` (see the module). `measured(head, cost)` is
    called as each is known, to record it at once."""
    if method not in COST_MEASURES:
        raise ValueError(f"cost method must be one of {COST_MEASURES}, not {method!r}")
    if not kernels or not any(len(ids) >= 2 for ids in passages):
        return {}
    measure = _Measured(model, passages, kernels, vocab, batch_tokens)
    if method == "exact":
        return measure.exact(progress, measured)
    costs = measure.first_order(progress)
    if measured:
        for head in sorted(costs):
            measured(head, costs[head])
    return costs


class _Measured:
    """The cost passages in batches, with every head's program patterns computed once, and
    (where `decoder_layers` finds them) every layer's unmodified output, so that a forward
    pass replaying a head starts at the lowest replaced layer."""

    def __init__(
        self,
        model: Any,
        passages: Sequence[Ids],
        kernels: Mapping[Head, Any],
        vocab: Any,
        batch_tokens: int,
    ) -> None:
        self.model = model
        self.batches = batches(passages, batch_tokens)
        self.heads = sorted(kernels)
        build = kernel_patterns(kernels, vocab)
        self.built = [build(ids, mask.sum(1)) for ids, mask in self.batches]
        self.layers = decoder_layers(model)

    @functools.cached_property
    def plain(self) -> list[tuple[tuple[float, int], list[Any]]]:
        """Per batch, the unmodified (summed loss, tokens) and every layer's output (none
        without `layers`)."""
        found = []
        for ids, mask in self.batches:
            run = functools.partial(batch_loss, self.model, ids, mask)
            found.append(
                record_layers(self.layers, run) if self.layers is not None else (run(), [])
            )
        return found

    def loss(self, heads: Sequence[Head]) -> float:
        """Cross-entropy (nats per token) with `heads` replaced; the layers below the lowest
        of them replay their unmodified outputs."""
        if not heads:
            total = sum(loss for (loss, _), _ in self.plain)
            return loss_record(total, sum(count for (_, count), _ in self.plain))["cross_entropy"]
        below = min(layer for layer, _ in heads)
        total, count = 0.0, 0
        for outputs, (ids, mask), patterns in zip(
            (outputs for _, outputs in self.plain), self.batches, self.built
        ):
            with replaying(self.layers, outputs, below):
                part, tokens = batch_loss(self.model, ids, mask, pick(patterns, heads))
            total, count = total + part, count + tokens
        return loss_record(total, count)["cross_entropy"]

    def exact(
        self, progress: Progress | None, measured: Callable[[Head, float], None] | None
    ) -> dict[Head, float]:
        """Each head's cost from forward passes with it alone replaced (`measured` is called
        after each head)."""
        base = self.loss([])
        costs: dict[Head, float] = {}
        for done, head in enumerate(self.heads, start=1):
            costs[head] = self.loss([head]) - base
            if measured:
                measured(head, costs[head])
            if progress:
                progress(done, len(self.heads))
        return costs

    def first_order(self, progress: Progress | None = None) -> dict[Head, float]:
        """Every head's first-order cost (see the module)."""
        totals: dict[Head, float] = {}
        tokens = 0
        for done, ((ids, mask), patterns) in enumerate(zip(self.batches, self.built), start=1):
            with attributing(self.model, patterns) as layers, torch.enable_grad():
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                loss, count = summed_loss(logits, ids, mask)
                used = sorted(layers)
                grads = torch.autograd.grad(loss, [layers[layer].outputs for layer in used])
            for layer, grad in zip(used, grads):
                for head, change in layers[layer].changes.items():
                    found = float((grad[:, :, head].double() * change).sum())
                    totals[(layer, head)] = totals.get((layer, head), 0.0) + found
            tokens += count
            if progress:
                progress(done, len(self.batches))
        return {head: total / max(tokens, 1) for head, total in totals.items()}
