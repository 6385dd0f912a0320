"""Layers below the first replaced head compute what the unmodified model computes: record
each decoder layer's output once per batch (`record_layers`), then let later forward passes
replay the recorded outputs of the layers below a given one (`replaying`), so that a head of
layer L costs a forward pass through layers L and above only.

It works on models whose decoder layers are `model.model.layers` (Llama, Gemma and most
decoder-only models in transformers); elsewhere `decoder_layers` is None and nothing is
replayed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def decoder_layers(model: Any) -> torch.nn.ModuleList | None:
    """The model's decoder layers, in order, or None where they are not `model.model.layers`."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if isinstance(layers, torch.nn.ModuleList) and len(layers) == model.config.num_hidden_layers:
        return layers
    return None


def record_layers(layers: torch.nn.ModuleList, run: Callable[[], T]) -> tuple[T, list[Any]]:
    """What `run()` returns, and each layer's output during it (whatever the layer returns)."""
    found: list[Any] = [None] * len(layers)

    def keep(index: int):
        def hook(module: Any, args: Any, output: Any) -> None:
            found[index] = output

        return hook

    handles = [layer.register_forward_hook(keep(k)) for k, layer in enumerate(layers)]
    try:
        result = run()
    finally:
        for handle in handles:
            handle.remove()
    return result, found


@contextlib.contextmanager
def replaying(
    layers: torch.nn.ModuleList | None, outputs: Sequence[Any], below: int
) -> Iterator[None]:
    """Inside the context, the layers below `below` return their recorded `outputs` instead
    of computing them (their attributes, which the model's loop may read, stay as they are);
    without `layers` (see `decoder_layers`) or `outputs`, every layer computes."""
    if layers is None or not outputs:
        yield
        return
    for index in range(below):
        layers[index].forward = lambda *args, output=outputs[index], **kwargs: output
    try:
        yield
    finally:
        for index in range(below):
            del layers[index].forward
