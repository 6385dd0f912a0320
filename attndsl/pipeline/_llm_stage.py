"""The pipeline's LLM stage: head summaries from the run directory go to the LLM
synthesiser (`attndsl.synth.llm`), whose refinement rounds are fed the best candidate's worst
fit passages, and the candidates, failures and token usage come back into the run directory.

Answers are cached on disk (`llm/cache/`) by the full request, so a crashed or repeated run
sends nothing it has sent before; `--dry-run` writes every prompt to `llm/prompts/` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..models import Head
from ..rundir import append_jsonl, read_jsonl
from ..synth import Candidate
from ._context import Context

REFINE_PASSAGES = 32  # fit passages a refinement round is scored on
WORST_PASSAGES, WORST_ROWS, TOP_KEYS = 2, 2, 3


def _top(row: np.ndarray, tokens: list[str]) -> str:
    keys = np.argsort(-row, kind="stable")[:TOP_KEYS]
    return ", ".join(f"{tokens[j]!r}@{j} {row[j]:.2f}" for j in keys if row[j] > 0.005)


def worst_rows_text(real: np.ndarray, predicted: np.ndarray, tokens: list[str]) -> list[str]:
    """The query rows where a prediction overlaps the real attention least, as text."""
    overlap = np.minimum(real, predicted).sum(1) / np.maximum(real, predicted).sum(1).clip(1e-9)
    lines = []
    for i in np.argsort(overlap, kind="stable")[:WORST_ROWS]:
        context = "".join(tokens[max(0, i - 6) : i]) + f"[{tokens[i]}]"
        lines.append(
            f"  query {i} …{context!r}: real → {_top(real[i], tokens)}; "
            f"predicted → {_top(predicted[i], tokens)} (row IoU {overlap[i]:.2f})"
        )
    return lines


def make_refiner(cache: Any, vocab: Any) -> Callable:
    """refine(head, candidates) for `_llm.synthesise`: scores the candidates on fit passages
    and describes the best one's worst passages, row by row."""
    from ..synth.llm import RefineInfo
    from ..synth.scores import score_programs

    passages = list(range(min(len(cache), REFINE_PASSAGES)))

    def refine(head: Head, candidates: list[Candidate]) -> RefineInfo | None:
        if not candidates:
            return None
        layer, index = head
        table = score_programs(
            [c.program for c in candidates], cache, passages, vocab, per_passage=True
        )
        best = int(np.argmax(table.mean[:, layer, index]))
        assert table.per_passage is not None  # asked for with per_passage=True
        per_passage = table.per_passage[best, layer, index]
        lines = [
            f"Your best program so far scores a mean soft IoU of "
            f"{table.mean[best, layer, index]:.3f} on {len(passages)} passages. "
            f"Its worst passages:"
        ]
        for passage in np.argsort(per_passage, kind="stable")[:WORST_PASSAGES]:
            tokens = cache.tokens(int(passage))
            real = cache.attention(int(passage))[layer, index]
            predicted = candidates[best].program(tokens)
            lines.append(f"- passage IoU {per_passage[passage]:.2f}:")
            lines.extend(worst_rows_text(real, predicted, tokens))
        return RefineInfo(candidates[best], "\n".join(lines))

    return refine


def synthesise_with_llm(
    context: Context, done: set[Head], record: Callable[[dict[Head, list[Candidate]]], None]
) -> dict:
    """Run the LLM synthesiser on the heads not in `done`; record candidates (via `record`)
    and failures and usage (in `llm.jsonl`); return totals for run.json."""
    from ..synth import HeadSummary
    from ..synth.llm import LLMConfig, print_token_table, synthesise

    options, run = context.options, context.run
    wanted = set(context.heads) - done
    summaries = {}
    for entry in read_jsonl(run.path("summaries.jsonl")):
        summary = HeadSummary.from_json(entry)
        if (summary.layer, summary.head) in wanted:
            summaries[(summary.layer, summary.head)] = summary.text()
    config = LLMConfig(
        model=options.llm_model,
        base_url=options.base_url,
        concurrency=options.concurrency,
        timeout_s=options.timeout_s,
        repair_rounds=options.repair_rounds,
        refine_rounds=options.refine_rounds,
        cache_dir=run.path("llm", "cache"),
    )
    refine = make_refiner(context.cache("fit"), context.vocab)
    results = synthesise(
        summaries,
        config,
        refine=refine,
        dry_run_dir=run.path("llm", "prompts") if options.dry_run else None,
        progress=lambda d, t: context.progress("synthesise llm", d, t),
    )
    if options.dry_run:
        with open(run.path("llm", "tokens.txt"), "w", encoding="utf-8") as out:
            print_token_table(results, file=out)
    else:
        record({head: result.candidates for head, result in results.items()})
    append_jsonl(
        run.path("llm.jsonl"),
        [r.to_json() | {"candidates": len(r.candidates)} for r in results.values()],
    )
    usage = [r.usage for r in results.values()]
    return {
        "heads": len(results),
        "failures": sum(len(r.failures) for r in results.values()),
        "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
        "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
        "dry_run": options.dry_run,
    }
