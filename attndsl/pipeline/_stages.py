"""The stages of a pipeline run, in order (`STAGES`): each reads earlier stages' files from
the run directory and writes its own. Files written:

- `attention/{fit,select,test}/`: attention caches (`models.extract`);
- `summaries.jsonl`: one summary per head, with the starter programs' fit-split scores;
- `candidates.jsonl`: per head and synthesiser, the candidate programs (canonical source);
- `llm.jsonl`: per head the LLM was asked about, its failures and usage, a line as each head
  finishes (`--synth llm|both`);
- `selection.json`: per head, the chosen program with its select and test soft IoU, and the
  library of unique chosen programs (`programs/<id>.py` hold their sources);
- `costs.jsonl`, `perplexity.json`: heads' replacement costs on the select split, each with
  how it was measured (attribution or exact); the order heads are replaced in, and the
  perplexity on the test split at each fraction of heads replaced, beside baselines;
- `summary.json`, `report.html`: the headline numbers, and the self-contained report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..models import SPLITS, Head, format_head, heads_at, replacement_order
from ..rundir import (
    append_candidates,
    append_jsonl,
    chosen_kernels,
    heads_done,
    read_candidates,
    run_summary,
    stored_costs,
    write_json,
    write_jsonl,
    write_text,
)
from ..synth import Candidate
from ._context import Context

#: starter programs recorded per head in its summary (best fit-split IoU first)
STARTERS_RECORDED = 3
#: `--costs screened` measures exactly the heads attribution ranks cheapest, this fraction of
#: all heads more than the largest fraction replaces: on smollm2 the exact cheapest 50% are
#: all among attribution's cheapest 70%, but not among its cheapest 50% (114 of 135)
SCREEN_MARGIN = 0.2
#: enumerated candidates kept per head: a second one gains ~0.0005 IoU on the select split
#: and doubles the programs the select stage compiles
ENUM_KEEP = 1


def extract_attention(context: Context) -> dict:
    """Every head's attention on the passages of each split."""
    from ..models import extract

    texts = context.texts
    model = context.model("eager")
    tokens = {}
    for split in SPLITS:
        cache = extract(
            model,
            context.tokenizer,
            texts[split],
            context.run.path("attention", split),
            context.options.model,
            max_tokens=context.options.max_tokens,
            progress=lambda done, total, s=split: context.progress(f"extract {s}", done, total),
        )
        tokens[split] = sum(record.n for record in cache.records)
    return {"passages": {s: len(texts[s]) for s in SPLITS}, "tokens": tokens}


def summarise_heads(context: Context) -> dict:
    """Each head's summary on the fit split, with the starter programs that fit it best."""
    from ..lang import library
    from ..synth import summarise_all
    from ..synth.scores import score_programs

    cache = context.cache("fit")
    passages = range(len(cache))  # the fit split holds at most fit_passages (Context.texts)
    starters = list(library().values())
    table = score_programs(starters, cache, passages, context.vocab)
    names = {p.id: p.name for p in starters}
    best = {
        head: [(names[i], s) for i, s in table.best(*head, k=STARTERS_RECORDED)]
        for head in context.heads
    }
    summaries = summarise_all(
        cache,
        passages,
        context.heads,
        best,
        progress=lambda d, t: context.progress("summarise", d, t),
    )
    write_jsonl(context.run.path("summaries.jsonl"), [s.to_json() for s in summaries.values()])
    return {"heads": len(summaries)}


def synthesise_candidates(context: Context) -> dict:
    """Candidate programs per head from the chosen synthesisers (`--synth`)."""
    synth = context.options.synth
    record: dict[str, Any] = {}
    if synth in ("enum", "both"):
        record["enum"] = _synthesise_enum(context)
    if synth in ("llm", "both"):
        from ._llm_stage import synthesise_with_llm

        record["llm"] = synthesise_with_llm(context)
    return record


def _synthesise_enum(context: Context) -> dict:
    """Enumerate per layer, recording each layer's heads as soon as they are done."""
    from ..synth.enum import enumerate_candidates

    done = heads_done(context.run, "enum")
    heads = [h for h in context.heads if h not in done]
    cache = context.cache("fit")
    passages = range(len(cache))  # the fit split holds at most fit_passages (Context.texts)
    by_layer: dict[int, list[Head]] = defaultdict(list)
    for head in heads:
        by_layer[head[0]].append(head)
    total = len(context.heads)
    finished = total - len(heads)
    for layer_heads in by_layer.values():
        results = enumerate_candidates(
            cache, passages, context.vocab, heads=layer_heads, keep=ENUM_KEEP
        )
        append_candidates(context.run, "enum", results)
        finished += len(layer_heads)
        context.progress("synthesise", finished, total)
    return {"heads": total}


def select_programs(context: Context) -> dict:
    """Score every candidate (of any head: patterns do not depend on the head) against every
    head on the select split; keep each head's best; report it on the test split."""
    from ..lang import library
    from ..synth.scores import score_programs

    pool: dict[str, Candidate] = {}
    for program in library().values():
        pool.setdefault(program.id, Candidate(program.canonical, program.name, "library"))
    for found in read_candidates(context.run).values():
        for candidate in found:
            pool.setdefault(candidate.id, candidate)
    candidates = list(pool.values())
    vocab = context.vocab
    scores = score_programs(
        [c.program for c in candidates],
        context.cache("select"),
        None,
        vocab,
        progress=lambda d, t: context.progress("select", d, t),
    )
    heads = context.heads
    chosen = {head: candidates[int(np.argmax(scores.mean[:, head[0], head[1]]))] for head in heads}
    unique = {c.id: c for c in chosen.values()}
    test = score_programs([c.program for c in unique.values()], context.cache("test"), None, vocab)
    row = {pid: k for k, pid in enumerate(test.ids)}
    entries = []
    for head in heads:
        candidate = chosen[head]
        entries.append(
            {
                "layer": head[0],
                "head": head[1],
                "program_id": candidate.id,
                "name": candidate.program.name,
                "origin": candidate.origin,
                "hypothesis": candidate.hypothesis,
                "select_iou": float(scores.mean[scores.ids.index(candidate.id), head[0], head[1]]),
                "test_iou": float(test.mean[row[candidate.id], head[0], head[1]]),
            }
        )
    programs = {}
    for pid, candidate in unique.items():
        explained = [
            format_head((e["layer"], e["head"])) for e in entries if e["program_id"] == pid
        ]
        programs[pid] = {
            "name": candidate.program.name,
            "origin": candidate.origin,
            "hypothesis": candidate.hypothesis,
            "heads": explained,
            "source": candidate.program.text,
        }
        write_text(context.run.path("programs", f"{pid}.py"), candidate.program.text)
    write_json(
        context.run.path("selection.json"),
        {"candidates": len(candidates), "heads": entries, "programs": programs},
    )
    return {"candidates": len(candidates), "library_size": len(programs)}


def replace_heads(context: Context) -> dict:
    """Measure heads' replacement costs on select passages (`--costs`: by default every head
    by attribution, then the cheapest exactly: SCREEN_MARGIN more than the largest fraction),
    order heads by them, and measure perplexity on the test split. A resumed stage measures
    only what `costs.jsonl` does not hold yet."""
    from ..models import head_costs, head_means, perplexity_table, spread

    model, vocab, options = context.model("sdpa"), context.vocab, context.options
    kernels = chosen_kernels(context.run)
    path = context.run.path("costs.jsonl")
    measured = stored_costs(context.run)
    # token ids as extracted (the attention caches hold them): nothing is tokenised again
    passages = {split: context.cache(split).passage_ids() for split in SPLITS}
    select = spread(passages["select"], options.cost_passages)
    total = context.facts.total_heads

    def measure(method: str, heads: list[Head]) -> None:
        def record(head: Head, cost: float) -> None:
            append_jsonl(
                path, [{"layer": head[0], "head": head[1], "cost": cost, "method": method}]
            )

        todo = {head: kernels[head] for head in heads if head not in measured[method]}
        found = head_costs(
            model,
            select,
            todo,
            vocab,
            method,
            progress=lambda d, t: context.progress(f"replace: {method}", d, t),
            measured=record,
        )
        measured[method].update(found)

    if options.costs in ("screened", "attribution"):
        measure("attribution", sorted(kernels))
    if options.costs == "exact":
        measure("exact", sorted(kernels))
    elif options.costs == "screened":
        widest = min(1.0, max(options.fractions, default=0.0) + SCREEN_MARGIN)
        measure("exact", heads_at(replacement_order(measured["attribution"]), widest, total))
    order = replacement_order(measured["exact"], measured["attribution"])
    means = head_means(model, passages["fit"])  # the fit split: at most fit_passages
    rows = perplexity_table(
        model,
        spread(passages["test"], options.perplexity_passages),
        order,
        kernels,
        vocab,
        total=total,
        fractions=(0.0, *options.fractions),
        means=means,
    )
    write_json(
        context.run.path("perplexity.json"), {"order": [list(h) for h in order], "rows": rows}
    )
    return {"heads_ranked": len(order)}


def report_run(context: Context) -> dict:
    """`summary.json` (the headline numbers, with every earlier stage's wall time), then the
    self-contained HTML report, which reads it."""
    from ..views import write_report

    write_json(context.run.path("summary.json"), run_summary(context.run))
    return {"report": str(write_report(context.run.folder))}


class Stage(NamedTuple):
    """A stage: its name in `run.json` and the function that runs it (returning what
    `run.json` records beside its wall time)."""

    name: str
    run: Callable[[Context], dict]


STAGES: tuple[Stage, ...] = (
    Stage("extract", extract_attention),
    Stage("summarise", summarise_heads),
    Stage("synthesise", synthesise_candidates),
    Stage("select", select_programs),
    Stage("replace", replace_heads),
    Stage("report", report_run),
)
