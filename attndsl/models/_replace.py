"""Surrogate heads: run a model with some heads' attention patterns replaced.

Inside `replaced(model, patterns)`, attention goes through one function registered with
transformers' `AttentionInterface` (and the sdpa mask under the same name, without which the
causal mask would silently disappear): every head runs sdpa as usual, then each replaced
head's output is overwritten by `P @ V` with its surrogate pattern P, before the output
projection. Grouped-query models read the value head `h // (heads / kv_heads)`. The model's
own attention implementation is restored when the context exits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch

NAME = "attndsl_surrogate"

#: layer → head → pattern [B, T, T] (rows: queries, aligned with the input positions), or a
#: vector [D]: the head's output replaced by that constant (mean ablation).
Patterns = Mapping[int, Mapping[int, torch.Tensor]]

_active: list[Patterns] = []
_recording: list[dict[tuple[int, int], torch.Tensor]] = []


def _surrogate_attention(
    module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs
):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    out, _ = sdpa_attention_forward(
        module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
    )
    if _recording:  # sums of each head's output over the batch's real tokens
        live = kwargs.get("attndsl_live")
        rows = out if live is None else out[live.bool()]
        sums = _recording[-1]
        for head in range(out.shape[2]):
            key = (module.layer_idx, head)
            total = rows[..., head, :].reshape(-1, out.shape[-1]).double().sum(0)
            sums[key] = sums.get(key, 0) + total
    heads = _active[-1].get(module.layer_idx, {}) if _active else {}
    if heads:
        out = out.clone()
        groups = query.shape[1] // value.shape[1]
        for head, pattern in heads.items():
            if pattern.dim() == 1:  # a constant output
                out[:, :, head, :] = pattern.to(out.dtype)
                continue
            values = value[:, head // groups]  # [B, S, D]
            out[:, :, head, :] = torch.matmul(pattern.to(values.dtype), values)
    return out, None


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(NAME, _surrogate_attention)
    AttentionMaskInterface.register(NAME, AttentionMaskInterface._global_mapping["sdpa"])


@contextlib.contextmanager
def recording(model) -> Iterator[dict[tuple[int, int], torch.Tensor]]:
    """Sum every head's output over the tokens the model runs on inside the context (pass
    `attndsl_live=attention_mask` to the forward call to skip padding)."""
    sums: dict[tuple[int, int], torch.Tensor] = {}
    _recording.append(sums)
    try:
        with replaced(model, {}):
            yield sums
    finally:
        _recording.pop()


@contextlib.contextmanager
def replaced(model, patterns: Patterns) -> Iterator[None]:
    """Run `model` with the heads in `patterns` attending by their surrogate patterns."""
    _register()
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    _active.append(patterns)
    try:
        yield
    finally:
        _active.pop()
        model.set_attn_implementation(previous)
