"""The stages of a pipeline run (see `_pipeline`): each reads earlier stages' files from the
run directory and writes its own. Files written:

- `attention/{fit,select,test}/`: attention caches (`_extract`);
- `summaries.jsonl`: one summary per head, with the starter programs' fit-split scores;
- `candidates.jsonl`: per head and synthesiser, the candidate programs (canonical source);
- `llm.jsonl`: per head, the LLM's failures and token usage (`--synth llm|both`);
- `selection.json`: per head, the chosen program with its select and test soft IoU, and the
  library of unique chosen programs (`programs/<id>.py` hold their sources);
- `costs.jsonl`, `perplexity.json`: each head's replacement cost on the select split, and
  the perplexity on the test split at each fraction of heads replaced, beside baselines.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ._candidate import Candidate, Head
from ._heads import format_head
from ._headselect import fraction_key
from ._pipeline import SPLITS, Context
from ._rundir import (
    PERPLEXITY,
    SELECTION,
    RunDir,
    append_jsonl,
    read_json,
    read_jsonl,
    write_json,
    write_jsonl,
    write_text,
)

STARTERS_SHOWN = 3
#: enumerated candidates kept per head: a second one gains ~0.0005 IoU on the select split
#: and doubles the programs the select stage compiles
ENUM_KEEP = 1


def stage_extract(context: Context) -> dict:
    from ._extract import extract

    texts = context.texts()
    model = context.model("eager")
    tokens = {}
    for split in SPLITS:
        cache = extract(model, context.get("tokenizer"), texts[split],
                        context.run.path("attention", split), context.options.model,
                        max_tokens=context.options.max_tokens,
                        progress=lambda done, total, s=split: context.progress(
                            f"extract {s}", done, total))
        tokens[split] = sum(record.n for record in cache.records)
    return {"passages": {s: len(texts[s]) for s in SPLITS}, "tokens": tokens}


def stage_summarise(context: Context) -> dict:
    from ._library import library
    from ._summary import summarise_all
    from .scores import score_programs

    cache = context.cache("fit")
    passages = range(len(cache))  # the fit split holds at most fit_passages (Context.texts)
    starters = list(library().values())
    table = score_programs(starters, cache, passages, context.get("vocab"))
    names = {p.id: p.name for p in starters}
    heads = context.heads()
    best = {head: [(names[i], s) for i, s in table.best(*head, k=STARTERS_SHOWN)]
            for head in heads}
    summaries = summarise_all(cache, passages, heads, best,
                              progress=lambda d, t: context.progress("summarise", d, t))
    write_jsonl(context.run.path("summaries.jsonl"), [s.to_json() for s in summaries.values()])
    return {"heads": len(summaries)}


def read_candidates(run: RunDir) -> dict[Head, list[Candidate]]:
    """Every head's candidates, from all synthesisers, in the order they were found."""
    found: dict[Head, list[Candidate]] = defaultdict(list)
    for entry in read_jsonl(run.path("candidates.jsonl")):
        head = (entry["layer"], entry["head"])
        found[head].extend(Candidate.from_json(c) for c in entry["candidates"])
    return dict(found)


def _done_heads(run: RunDir, origin: str) -> set[Head]:
    return {(e["layer"], e["head"]) for e in read_jsonl(run.path("candidates.jsonl"))
            if e["origin"] == origin}


def _record(run: RunDir, origin: str, results: dict[Head, list[Candidate]]) -> None:
    append_jsonl(run.path("candidates.jsonl"),
                 [{"layer": head[0], "head": head[1], "origin": origin,
                   "candidates": [c.to_json() for c in found]}
                  for head, found in sorted(results.items())])


def stage_synthesise(context: Context) -> dict:
    synth = context.options.synth
    facts: dict[str, Any] = {}
    if synth in ("enum", "both"):
        facts["enum"] = _synthesise_enum(context)
    if synth in ("llm", "both"):
        from ._synth_llm import synthesise_with_llm

        facts["llm"] = synthesise_with_llm(context, _done_heads(context.run, "llm"),
                                           lambda results: _record(context.run, "llm", results))
    return facts


def _synthesise_enum(context: Context) -> dict:
    """Enumerate per layer, recording each layer's heads as soon as they are done."""
    from ._enum import enumerate_candidates

    done = _done_heads(context.run, "enum")
    heads = [h for h in context.heads() if h not in done]
    cache = context.cache("fit")
    passages = range(len(cache))  # the fit split holds at most fit_passages (Context.texts)
    by_layer: dict[int, list[Head]] = defaultdict(list)
    for head in heads:
        by_layer[head[0]].append(head)
    finished = len(context.heads()) - len(heads)
    total = len(context.heads())
    for layer_heads in by_layer.values():
        results = enumerate_candidates(cache, passages, context.get("vocab"), heads=layer_heads,
                                       keep=ENUM_KEEP)
        _record(context.run, "enum", results)
        finished += len(layer_heads)
        context.progress("synthesise", finished, total)
    return {"heads": total}


def stage_select(context: Context) -> dict:
    """Score every candidate (of any head: patterns do not depend on the head) against every
    head on the select split; keep each head's best; report it on the test split."""
    from ._library import library
    from .scores import score_programs

    pool: dict[str, Candidate] = {}
    for program in library().values():
        pool.setdefault(program.id, Candidate(program.canonical, program.name, "library"))
    for found in read_candidates(context.run).values():
        for candidate in found:
            pool.setdefault(candidate.id, candidate)
    candidates = list(pool.values())
    vocab = context.get("vocab")
    report = lambda d, t: context.progress("select", d, t)  # noqa: E731
    select = score_programs([c.program for c in candidates], context.cache("select"),
                            None, vocab, progress=report)
    heads = context.heads()
    chosen = {head: candidates[int(np.argmax(select.mean[:, head[0], head[1]]))]
              for head in heads}
    unique = {c.id: c for c in chosen.values()}
    test = score_programs([c.program for c in unique.values()], context.cache("test"), None,
                          vocab)
    row = {pid: k for k, pid in enumerate(test.ids)}
    entries = []
    for head in heads:
        candidate = chosen[head]
        entries.append({
            "layer": head[0], "head": head[1], "program_id": candidate.id,
            "name": candidate.program.name, "origin": candidate.origin,
            "hypothesis": candidate.hypothesis,
            "select_iou": float(select.mean[select.ids.index(candidate.id), head[0], head[1]]),
            "test_iou": float(test.mean[row[candidate.id], head[0], head[1]]),
        })
    programs = {}
    for pid, candidate in unique.items():
        explained = [format_head((e["layer"], e["head"])) for e in entries
                     if e["program_id"] == pid]
        programs[pid] = {"name": candidate.program.name, "origin": candidate.origin,
                         "hypothesis": candidate.hypothesis, "heads": explained,
                         "source": candidate.program.text}
        write_text(context.run.path("programs", f"{pid}.py"), candidate.program.text)
    write_json(context.run.path("selection.json"),
               {"candidates": len(candidates), "heads": entries, "programs": programs})
    return {"candidates": len(candidates), "library_size": len(programs)}


def chosen_kernels(run: RunDir) -> dict[Head, Any]:
    """Each head's chosen program, compiled (one kernel per distinct program)."""
    from ._program import Program
    from .compiler import compile_many

    selection = read_json(run.path("selection.json"), SELECTION)
    ids = list(selection["programs"])
    programs = [Program.from_source(selection["programs"][pid]["source"], f"{pid}.py")
                for pid in ids]
    kernels = dict(zip(ids, compile_many(programs)))
    return {(e["layer"], e["head"]): kernels[e["program_id"]] for e in selection["heads"]}


def stage_replace(context: Context) -> dict:
    """Measure each head's replacement cost on select passages (resuming after the last head
    recorded), order heads by it, and measure perplexity on the test split."""
    from ._corpus import spread
    from ._headselect import head_costs, perplexity_table, replacement_order
    from ._perplexity import head_means

    model, tokenizer = context.model("sdpa"), context.get("tokenizer")
    vocab, texts = context.get("vocab"), context.texts()
    kernels = chosen_kernels(context.run)
    path = context.run.path("costs.jsonl")
    costs = {(e["layer"], e["head"]): e["cost"] for e in read_jsonl(path)}
    todo = {head: kernel for head, kernel in kernels.items() if head not in costs}
    cost_texts = spread(texts["select"], context.options.cost_passages)

    def record(head: Head, cost: float) -> None:
        append_jsonl(path, [{"layer": head[0], "head": head[1], "cost": cost}])

    before = len(costs)
    costs.update(head_costs(model, tokenizer, cost_texts, todo, vocab,
                            max_tokens=context.options.max_tokens, measured=record,
                            progress=lambda d, t: context.progress("replace", before + d,
                                                                   len(kernels))))
    order = replacement_order(costs)
    fit_texts = texts["fit"]  # already at most fit_passages
    means = head_means(model, tokenizer, fit_texts, context.options.max_tokens)
    facts = context.get("facts")
    test_texts = spread(texts["test"], context.options.perplexity_passages)
    rows = perplexity_table(model, tokenizer, test_texts, order, kernels, vocab,
                            total=facts["layers"] * facts["heads"],
                            fractions=(0.0, *context.options.fractions), means=means,
                            max_tokens=context.options.max_tokens)
    write_json(context.run.path("perplexity.json"),
               {"order": [list(h) for h in order], "rows": rows})
    return {"heads_ranked": len(order)}


def stage_report(context: Context) -> dict:
    """The self-contained HTML report (`report.html`)."""
    from ._report import write_report

    return {"report": str(write_report(context.run.folder))}


def summary(run: RunDir) -> dict:
    """The run's headline numbers: heads explained, held-out IoU, library size, perplexity at
    each fraction of heads replaced, and wall time per stage."""
    selection = read_json(run.path("selection.json"), SELECTION)
    table = read_json(run.path("perplexity.json"), PERPLEXITY)["rows"]
    ious = [e["test_iou"] for e in selection["heads"]]
    base = table[0]["programs"]
    return {
        "heads": len(ious),
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
        "heads_above_0.75": sum(iou > 0.75 for iou in ious),
        "library_size": len(selection["programs"]),
        "perplexity": {fraction_key(row["fraction"]): row["programs"] for row in table},
        "perplexity_increase": {fraction_key(row["fraction"]): row["programs"] / base - 1
                                for row in table},
        "heads_replaced": {fraction_key(row["fraction"]): [row["heads"], row.get("of")]
                           for row in table},
        "stage_seconds": {name: facts["seconds"]
                          for name, facts in run.read_manifest()["stages"].items()},
    }
