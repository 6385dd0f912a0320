"""Passages as token ids: encoded once (extraction stores them in the attention cache, and
perplexity reads them back from there), and right-padded into batches one way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: token ids of one passage, already cut to the run's `max_tokens`
Ids = Sequence[int]


def encode(tokenizer: Any, texts: Sequence[str], max_tokens: int = 128) -> list[list[int]]:
    """Each text's token ids, cut to `max_tokens`."""
    return [list(tokenizer(text)["input_ids"][:max_tokens]) for text in texts]


def padded(passages: Sequence[Ids]) -> tuple[torch.Tensor, torch.Tensor]:
    """Passages right-padded into (ids, attention mask), both int64 [B, longest]."""
    import torch

    width = max(len(ids) for ids in passages)
    ids = torch.zeros((len(passages), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(passages):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask
