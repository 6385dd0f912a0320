"""LLM benchmark: what a real endpoint adds to the enumerator, on a finished run's worst heads.

The heads whose best starter or enumerated program fits worst on the select split (as
`--llm-heads worst:N` picks them) go to the endpoint once per grammar mode (`auto`: held to
the language; `off`), side by side in one process, with the pipeline's own prompts, refiner
and deduplication. For each head, the best program on the select split is chosen from the
known programs alone and from those plus the LLM's, and both are scored on the test split
(held out from the LLM and from the choice). Printed as a table, written as JSON with every
LLM program kept. Answers are cached in the run (`llm/cache/`), so a rerun is free.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..models import format_head


def run_llm_benchmark(
    folder: str | Path,
    base_url: str,
    model: str,
    heads: int = 10,
    grammars: tuple[str, ...] = ("auto", "off"),
    changes: dict[str, Any] | None = None,
    json_path: str | Path | None = None,
    console: Any = None,
) -> dict[str, Any]:
    """{"heads", "modes": {grammar: {"rows", "summary"}}} (see the module docstring);
    `changes`: further `RunOptions` for the LLM (programs_per_request, head_seconds, ...)."""
    from rich.console import Console

    from ..pipeline import (
        Context,
        RunOptions,
        head_summaries,
        known_programs,
        llm_config,
        llm_hooks,
        worst_heads,
    )
    from ..rundir import RunDir
    from ..synth.llm import synthesise
    from ..synth.scores import score_programs

    console = console or Console()
    run = RunDir(folder)
    settings = run.read_manifest()["settings"]
    options = RunOptions(**{**settings, "base_url": base_url, "llm_model": model})

    def note(done: int, total: int, what: str) -> None:
        console.print(f"[dim]{done}/{total} {what}[/]")

    context = Context(options, run, lambda stage, done, total, what: None)
    known = known_programs(context, list(context.heads))
    chosen = worst_heads(context, known, heads)
    summaries = head_summaries(context, chosen)
    result: dict[str, Any] = {"heads": [format_head(h) for h in chosen], "modes": {}}
    for grammar in grammars:
        mode = dataclasses.replace(options, grammar=grammar, **(changes or {}))
        context = Context(mode, run, lambda stage, done, total, what: None)
        started = time.perf_counter()
        found = synthesise(
            summaries,
            llm_config(mode, run.path("llm", "cache")),
            llm_hooks(context, known, chosen, None, note),
        )
        seconds = time.perf_counter() - started
        rows = _score(context, known, found, score_programs)
        result["modes"][grammar] = {"rows": rows, "summary": _summary(rows, seconds)}
    _print(result, console)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result


def _score(context: Any, known: dict, found: dict, score_programs: Any) -> list[dict]:
    """Per head: the best known program and the best with the LLM's, chosen on the select
    split and scored on the test split; and the LLM's usage."""
    pool = {c.id: c for head in found for c in (*known[head], *found[head].candidates)}
    programs = [c.program for c in pool.values()]
    select = score_programs(programs, context.cache("select"), None, context.vocab)
    test = score_programs(programs, context.cache("test"), None, context.vocab)
    row = {pid: k for k, pid in enumerate(select.ids)}
    rows = []

    def best(candidates: list, head: Any) -> Any:
        return max(candidates, key=lambda c: select.mean[row[c.id], head[0], head[1]])

    for head, outcome in found.items():
        layer, index = head
        enum = best(known[head], head)
        both = best([*known[head], *outcome.candidates], head)
        usage = outcome.usage
        rows.append(
            {
                "head": format_head(head),
                "enum_test_iou": float(test.mean[row[enum.id], layer, index]),
                "with_llm_test_iou": float(test.mean[row[both.id], layer, index]),
                "won": both.origin == "llm",
                **{k: usage[k] for k in ("answers", "programs", "parsed", "checked")},
                "kept": len(outcome.candidates),
                "completion_tokens": usage["completion_tokens"],
                "seconds": round(usage["seconds"], 1),
                "failures": [f["error"][:200] for f in outcome.failures if f["stage"] != "check"],
                "programs_written": [
                    {"hypothesis": c.hypothesis, "source": c.program.text}
                    for c in outcome.candidates
                ],
            }
        )
    return rows


def _summary(rows: list[dict], seconds: float) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    return {
        "enum_test_iou": float(np.mean([r["enum_test_iou"] for r in rows])),
        "with_llm_test_iou": float(np.mean([r["with_llm_test_iou"] for r in rows])),
        "won": total("won"),
        **{k: total(k) for k in ("answers", "programs", "parsed", "checked", "kept")},
        "completion_tokens": total("completion_tokens"),
        "seconds": round(seconds, 1),
    }


def _print(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    for grammar, mode in result["modes"].items():
        table = Table(title=f"LLM on the {len(mode['rows'])} worst heads, grammar {grammar}")
        columns = ("head", "enum IoU", "+LLM IoU", "won", "answers", "programs", "parsed")
        for name in (*columns, "checked", "kept", "tokens", "seconds"):
            table.add_column(name, justify="right")
        for r in [*mode["rows"], {"head": "total", **mode["summary"]}]:
            table.add_row(
                r["head"],
                f"{r['enum_test_iou']:.3f}",
                f"{r['with_llm_test_iou']:.3f}",
                str(int(r["won"])),
                *(str(r[k]) for k in ("answers", "programs", "parsed", "checked", "kept")),
                str(r["completion_tokens"]),
                f"{r['seconds']:.0f}",
            )
        console.print(table)
