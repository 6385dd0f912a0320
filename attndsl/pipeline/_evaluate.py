"""Re-scoring a finished run's chosen programs on another corpus: text the run never saw.

The corpus's passages (all of them: none of it was used to fit or select) have their
attention extracted into the run directory (`evaluate/<fingerprint of the passages>/`, resumable),
every head's chosen program is scored against it, and perplexity is measured with the
heads replaced in the order the run chose them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models import extract, fingerprint
from ..rundir import SELECTION, RunDir, read_json
from ._context import Progress

FRACTIONS = (0.0, 0.1, 0.25, 0.5)


def evaluate(
    run_folder: str | Path,
    corpus: str,
    max_passages: int = 0,
    progress: Progress | None = None,
) -> dict:
    """{"mean_iou", "heads": [{layer, head, iou, program_id}], "library_size",
    "perplexity": {"0": ..., "0.1": ..., "0.25": ..., "0.5": ...}, ...} on `corpus`."""
    from ..compiler import Vocab
    from ..models import describe, fraction_key, load_model, perplexity_table, split_texts, spread
    from ..rundir import chosen_kernels, stored_order
    from ..synth.scores import score_programs

    report = progress or (lambda stage, done, total, note: None)
    run = RunDir(run_folder)
    settings = run.read_manifest()["settings"]
    selection = read_json(run.path("selection.json"), SELECTION)
    order = stored_order(run)
    model, tokenizer = load_model(settings["model"], attention="eager")
    found = split_texts(
        corpus,
        settings["model"],
        tokenizer,
        settings["max_tokens"],
        pack=settings.get("pack", True),
    )  # runs made before `pack` packed
    texts = [t for split in ("fit", "select", "test") for t in found[split]]
    texts = spread(texts, max_passages)
    cache = extract(
        model,
        tokenizer,
        texts,
        run.path("evaluate", fingerprint(texts)),
        settings["model"],
        max_tokens=settings["max_tokens"],
        progress=lambda d, t: report("extract", d, t, ""),
    )
    vocab = Vocab.from_tokenizer(tokenizer)
    kernels = chosen_kernels(run)
    programs = {
        pid: kernel.program
        for pid, kernel in {
            e["program_id"]: kernels[(e["layer"], e["head"])] for e in selection["heads"]
        }.items()
    }
    table = score_programs(
        list(programs.values()), cache, None, vocab, progress=lambda d, t: report("score", d, t, "")
    )
    row = {pid: k for k, pid in enumerate(table.ids)}
    heads = [
        {
            "layer": e["layer"],
            "head": e["head"],
            "program_id": e["program_id"],
            "iou": float(table.mean[row[e["program_id"]], e["layer"], e["head"]]),
        }
        for e in selection["heads"]
    ]
    facts = describe(model)
    model.set_attn_implementation("sdpa")
    rows = perplexity_table(
        model,
        cache.passage_ids(),
        order,
        kernels,
        vocab,
        total=facts.total_heads,
        fractions=FRACTIONS,
    )
    return {
        "run": str(run_folder),
        "corpus": str(corpus),
        "passages": len(texts),
        "tokens": sum(r.n for r in cache.records),
        "mean_iou": float(np.mean([h["iou"] for h in heads])) if heads else 0.0,
        "heads": heads,
        "library_size": len(selection["programs"]),
        "perplexity": {fraction_key(r["fraction"]): r["programs"] for r in rows},
        "baselines": {
            fraction_key(r["fraction"]): {k: r[k] for k in ("uniform", "first")} for r in rows
        },
    }
