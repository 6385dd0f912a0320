"""Cost benchmark: attribution patching against exact replacement costs, on a finished run.

On the run's own heads, programs and select passages (`--cost-passages` of them, as the run
measured them unless told otherwise), side by side in one process, with wall times:

- `exact`: each head's cost from one forward pass per head with it alone replaced;
- `attribution`: every head's first-order cost from one forward and backward pass per batch;
- `screened` (a run's default): attribution, then exact costs for the cheapest heads
  (`SCREEN_MARGIN` of all heads more than the largest fraction replaces); its time is
  estimated as attribution's plus exact's mean time per head for those heads (the exact
  costs are the ones measured above).

Then the rank agreement of exact and attribution costs (Spearman ρ over all heads, and over
the exactly cheapest half), and perplexity on the run's test passages with the first 10 / 25
/ 50% of heads replaced in each order. Printed as a table, written as JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank)."""

    def ranks(values: list[float]) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        order = np.argsort(array, kind="stable")
        found = np.empty(len(array))
        found[order] = np.arange(len(array))
        for value in np.unique(array):  # mean rank for ties
            tied = array == value
            found[tied] = found[tied].mean()
        return found

    if len(a) < 2:
        return float("nan")
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def run_cost_benchmark(
    folder: str | Path,
    json_path: str | Path | None = None,
    console: Any = None,
    cost_passages: int | None = None,
) -> dict:
    """Measure both cost methods on the finished run in `folder` (on `cost_passages` select
    passages; None: as many as the run used); print and return (and optionally write as
    JSON) {"heads", "passages", "seconds", "spearman", "perplexity", "orders", "costs"}."""
    from ..models import (
        head_costs,
        heads_at,
        kernel_patterns,
        perplexity,
        replacement_order,
        spread,
    )
    from ..pipeline import SCREEN_MARGIN, Context, RunOptions
    from ..rundir import RunDir, chosen_kernels

    run = RunDir(folder)
    options = RunOptions(**run.read_manifest()["settings"])
    context = Context(options, run, lambda stage, done, total, note: None)
    model, vocab = context.model("sdpa"), context.vocab
    kernels = chosen_kernels(run)
    passages = options.cost_passages if cost_passages is None else cost_passages
    select = spread(context.cache("select").passage_ids(), passages)
    test = spread(context.cache("test").passage_ids(), options.perplexity_passages)
    total = context.facts.total_heads
    costs, seconds, orders = {}, {}, {}
    for method in ("attribution", "exact"):
        start = time.perf_counter()
        costs[method] = head_costs(model, select, kernels, vocab, method=method)
        seconds[method] = time.perf_counter() - start
        orders[method] = replacement_order(costs[method])
    widest = min(1.0, max(options.fractions, default=0.0) + SCREEN_MARGIN)
    screened = heads_at(orders["attribution"], widest, total)
    orders["screened"] = replacement_order(
        {h: costs["exact"][h] for h in screened}, costs["attribution"]
    )
    seconds["screened"] = seconds["attribution"] + seconds["exact"] * len(screened) / len(kernels)
    heads = sorted(kernels)
    exact = [costs["exact"][h] for h in heads]
    attributed = [costs["attribution"][h] for h in heads]
    cheap = sorted(heads, key=costs["exact"].get)[: len(heads) // 2]
    rho = {
        "all": spearman(exact, attributed),
        "cheapest_half": spearman(
            [costs["exact"][h] for h in cheap], [costs["attribution"][h] for h in cheap]
        ),
    }
    table = []
    for fraction in options.fractions:
        row: dict[str, Any] = {"fraction": fraction}
        for method, order in orders.items():
            chosen = heads_at(order, fraction, total)
            patterns = kernel_patterns({h: kernels[h] for h in chosen}, vocab)
            row[method] = perplexity(model, test, patterns=patterns)["perplexity"]
            row["heads"] = len(chosen)
        table.append(row)
    result = {
        "run": str(folder),
        "heads": len(heads),
        "passages": {"select": len(select), "test": len(test)},
        "seconds": seconds,
        "spearman": rho,
        "perplexity": {
            "unmodified": perplexity(model, test)["perplexity"],
            "rows": table,
        },
        "orders": {m: [f"{layer}.{head}" for layer, head in o] for m, o in orders.items()},
        "costs": {
            f"{layer}.{head}": {m: costs[m][(layer, head)] for m in costs} for layer, head in heads
        },
    }
    _report(result, console)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def _report(result: dict, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    seconds, rho = result["seconds"], result["spearman"]
    table = Table(title=f"replacement costs: {result['run']}, {result['heads']} heads")
    methods = ("exact", "attribution", "screened")
    for column in ("", *methods):
        table.add_column(column, justify="right" if column else "left")
    passages = result["passages"]["select"]
    table.add_row(f"seconds ({passages} select passages)", *(f"{seconds[m]:.1f}" for m in methods))
    plain = result["perplexity"]["unmodified"]
    for row in result["perplexity"]["rows"]:
        cells = [f"{row[m]:.2f} ({row[m] / plain - 1:+.1%})" for m in methods]
        table.add_row(f"perplexity, {row['heads']} heads ({row['fraction']:.0%}) replaced", *cells)
    console.print(table)
    console.print(
        f"Spearman ρ (attribution vs exact): {rho['all']:.3f} over all heads, "
        f"{rho['cheapest_half']:.3f} over the cheapest half; unmodified perplexity "
        f"{plain:.2f} on {result['passages']['test']} test passages"
    )
