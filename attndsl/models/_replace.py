"""Surrogate heads: run a model with some heads' attention patterns replaced.

Inside `replaced(model, patterns)`, attention goes through one function registered with
transformers' `AttentionInterface` (and the sdpa mask under the same name, without which the
causal mask would silently disappear): every head runs sdpa as usual, then each replaced
head's output is overwritten by `P @ V` with its surrogate pattern P, before the output
projection. Grouped-query models read the value head `h // (heads / kv_heads)`. The model's
own attention implementation is restored when the context exits.

Inside `attributing(model, patterns)` nothing is replaced: each layer's head outputs are
made differentiable and the change each surrogate of `patterns` would make to its head's
output is kept, so one backward pass gives every head's first-order replacement cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

NAME = "attndsl_surrogate"

#: layer → head → pattern [B, T, T] (rows: queries, aligned with the input positions), or a
#: vector [D]: the head's output replaced by that constant (mean ablation).
Patterns = Mapping[int, Mapping[int, torch.Tensor]]

_active: list[Patterns] = []
_recording: list[dict[tuple[int, int], torch.Tensor]] = []
_attributing: list[tuple[Patterns, dict[int, Attribution]]] = []


@dataclass
class Attribution:
    """One layer's head outputs [B, T, H, D] as a differentiable input of the rest of the
    forward pass (`outputs`; its gradient is the loss's gradient with respect to them), and
    per replaced head the change its surrogate pattern would make to its output [B, T, D]."""

    outputs: torch.Tensor
    changes: dict[int, torch.Tensor]


def _surrogate_outputs(
    patterns: Mapping[int, torch.Tensor], value: torch.Tensor, groups: int
) -> dict[int, torch.Tensor]:
    """Each head's output [B, T, D] under its surrogate (pattern × values, or a constant)."""
    found = {}
    for head, pattern in patterns.items():
        values = value[:, head // groups]  # [B, S, D]
        if pattern.dim() == 1:  # a constant output
            found[head] = pattern.to(values.dtype).expand(*values.shape[:2], -1)
        else:
            found[head] = torch.matmul(pattern.to(values.dtype), values)
    return found


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
    groups = query.shape[1] // value.shape[1]
    heads = _active[-1].get(module.layer_idx, {}) if _active else {}
    if heads:
        out = out.clone()
        for head, found in _surrogate_outputs(heads, value, groups).items():
            out[:, :, head, :] = found
    if _attributing:
        patterns, layers = _attributing[-1]
        surrogate = _surrogate_outputs(patterns.get(module.layer_idx, {}), value.detach(), groups)
        outputs = out.detach().requires_grad_(True)
        changes = {head: found - outputs[:, :, head].detach() for head, found in surrogate.items()}
        layers[module.layer_idx] = Attribution(outputs, changes)
        out = out + (outputs - outputs.detach())  # the same values, differentiable
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


@contextlib.contextmanager
def attributing(model, patterns: Patterns) -> Iterator[dict[int, Attribution]]:
    """Run `model` unchanged, keeping per layer its head outputs as a differentiable leaf and
    the change each head's surrogate in `patterns` would make (see `Attribution`)."""
    layers: dict[int, Attribution] = {}
    _attributing.append((patterns, layers))
    try:
        with replaced(model, {}):
            yield layers
    finally:
        _attributing.pop()
