"""Overhead benchmark: what replacing heads by compiled programs costs in a forward pass.

Times `smollm2` on 16 passages of 256 tokens (the shipped corpus), side by side in one run:
the unmodified sdpa forward; the forward through attndsl's attention function with no head
replaced (`ratio_0pct`); and with 25% of the heads replaced by starter-library programs,
their patterns computed by the Numba kernels from the batch's token ids inside the timed
region (`ratio_25pct`). Best of `repeat` calls each; printed as a table, written as JSON.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import torch

SENTENCES, LENGTH = 16, 256
PROGRAMS = (
    "previous_token",
    "induction",
    "first_token_sink",
    "sentence_start",
    "uniform_causal",
    "local_window",
    "word_start",
    "self_token",
)


def _best(fns, repeat: int) -> list[float]:
    """Fastest of `repeat` timed calls of each function, taking turns (so a busy moment of
    the machine hits every variant alike), after one warm-up call each."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def run_overhead_benchmark(
    model_name: str = "smollm2",
    fraction: float = 0.25,
    repeat: int = 5,
    json_path: str | Path | None = None,
    console: Any = None,
    sentences: int = SENTENCES,
    length: int = LENGTH,
) -> dict:
    """Run the benchmark; return (and optionally write) the times and ratios."""
    from rich.console import Console
    from rich.table import Table

    from ..compiler import Batch, Vocab, compile
    from ..lang import library
    from ..models import CORPUS_FILE, describe, load_model, read_documents, replaced

    model, tokenizer = load_model(model_name, attention="sdpa")
    facts = describe(model)
    stream = [i for text in read_documents(CORPUS_FILE) for i in tokenizer(text)["input_ids"]]
    ids = torch.tensor([stream[k * length : (k + 1) * length] for k in range(sentences)])
    vocab = Vocab.from_tokenizer(tokenizer)
    batch = Batch.from_sequences(ids.tolist())
    rng = random.Random(0)
    heads = [(layer, head) for layer in range(facts.layers) for head in range(facts.heads)]
    chosen = rng.sample(heads, round(fraction * len(heads)))
    kernels = [compile(library()[name], "numba") for name in PROGRAMS]
    assignment = {head: kernels[k % len(kernels)] for k, head in enumerate(chosen)}

    def forward() -> None:
        with torch.inference_mode():
            model(ids)

    def forward_replaced(assign: dict) -> None:
        patterns: dict[int, dict[int, torch.Tensor]] = {}
        computed: dict[int, torch.Tensor] = {}
        for (layer, head), kernel in assign.items():  # one kernel call per distinct program
            if id(kernel) not in computed:
                computed[id(kernel)] = kernel(batch, vocab)
            patterns.setdefault(layer, {})[head] = computed[id(kernel)]
        with torch.inference_mode(), replaced(model, patterns):
            model(ids)

    plain, none, some = _best(
        [forward, lambda: forward_replaced({}), lambda: forward_replaced(assignment)], repeat
    )
    result = {
        "model": model_name,
        "sentences": sentences,
        "length": length,
        "heads_replaced": len(chosen),
        "heads": len(heads),
        "programs": list(PROGRAMS),
        "sdpa_s": plain,
        "replaced_0pct_s": none,
        "replaced_25pct_s": some,
        "ratio_0pct": none / plain,
        "ratio_25pct": some / plain,
        "torch_threads": torch.get_num_threads(),
    }
    table = Table(title=f"Surrogate overhead: {model_name}, {sentences} × {length} tokens")
    for column in ("forward", "seconds", "× sdpa"):
        table.add_column(column, justify="right" if column != "forward" else "left")
    table.add_row("unmodified (sdpa)", f"{plain:.3f}", "1.00")
    table.add_row("attndsl attention, 0% replaced", f"{none:.3f}", f"{none / plain:.3f}")
    table.add_row(
        f"{len(chosen)} heads ({fraction:.0%}) replaced, kernels included",
        f"{some:.3f}",
        f"{some / plain:.3f}",
    )
    (console or Console()).print(table)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result
