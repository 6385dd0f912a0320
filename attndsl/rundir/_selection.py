"""What the select and replace stages stored, read back: each head's chosen program
compiled, the order in which heads are replaced, and the run's headline numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models import COST_MEASURES, Head, fraction_key
from ._files import COSTS, PERPLEXITY, SELECTION, RunDir, RunError, read_json, read_jsonl, shaped
from ._llm import llm_share


def chosen_kernels(run: RunDir) -> dict[Head, Any]:
    """Each head's chosen program, compiled (one kernel per distinct program). The sources in
    `selection.json` are canonical: they are parsed and checked, not canonicalised again."""
    from ..compiler import compile_many
    from ..lang import Program

    selection = read_json(run.path("selection.json"), SELECTION)
    ids = list(selection["programs"])
    programs = [Program.trusted(selection["programs"][pid]["source"], f"{pid}.py") for pid in ids]
    kernels = dict(zip(ids, compile_many(programs)))
    return {(e["layer"], e["head"]): kernels[e["program_id"]] for e in selection["heads"]}


def stored_costs(run: RunDir) -> dict[str, dict[Head, float]]:
    """The replacement costs `costs.jsonl` holds, by how each was measured (its `"method"`,
    one of `COST_MEASURES`; an entry without one is exact)."""
    path = run.path("costs.jsonl")
    entries = shaped(path, read_jsonl(path), COSTS, "remove it to measure the costs again")
    found: dict[str, dict[Head, float]] = {measure: {} for measure in COST_MEASURES}
    for number, entry in enumerate(entries, start=1):
        method = entry.get("method", "exact")
        if method not in found:
            raise RunError(
                f"{path}:{number}: unknown cost method {str(method)!r:.40}; remove the file "
                "to measure the costs again"
            )
        found[method][(entry["layer"], entry["head"])] = float(entry["cost"])
    return found


def stored_order(run: RunDir) -> list[Head]:
    """The heads in the order the run replaces them (cheapest first), from `perplexity.json`."""
    order = read_json(run.path("perplexity.json"), PERPLEXITY)["order"]
    return [(int(layer), int(head)) for layer, head in order]


def run_summary(run: RunDir) -> dict[str, Any]:
    """The run's headline numbers: heads explained, held-out IoU, library size, perplexity at
    each fraction of heads replaced, wall time per finished stage, and the LLM's share
    (`llm`, when it was asked)."""
    selection = read_json(run.path("selection.json"), SELECTION)
    table = read_json(run.path("perplexity.json"), PERPLEXITY)["rows"]
    ious = [e["test_iou"] for e in selection["heads"]]
    base = table[0]["programs"]
    share = llm_share(run)
    return {
        "heads": len(ious),
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
        "heads_above_0.75": sum(iou > 0.75 for iou in ious),
        "library_size": len(selection["programs"]),
        "perplexity": {fraction_key(row["fraction"]): row["programs"] for row in table},
        "perplexity_increase": {
            fraction_key(row["fraction"]): row["programs"] / base - 1 for row in table
        },
        "heads_replaced": {
            fraction_key(row["fraction"]): [row["heads"], row.get("of")] for row in table
        },
        "stage_seconds": {
            name: stage["seconds"] for name, stage in run.read_manifest()["stages"].items()
        },
        **({"llm": share} if share is not None else {}),
    }
