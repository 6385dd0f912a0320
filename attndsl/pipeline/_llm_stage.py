"""The pipeline's LLM stage: head summaries from the run directory go to the LLM
synthesiser (`attndsl.synth.llm`), whose refinement rounds are fed the best candidate's worst
fit passages, and the candidates, failures and token usage come back into the run directory.

Each head is recorded as it finishes, and answers are cached on disk (`llm/cache/`) by the
full request, so a crashed or repeated run sends nothing it has sent before (a head whose
request failed is asked again on resume, from the cache where it can);
`--dry-run` writes every prompt to `llm/prompts/` instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from ..models import Head, format_head
from ..rundir import append_candidates, append_jsonl, heads_done, read_candidates, read_jsonl
from ..synth import Candidate
from ._context import Context
from ._options import LLM_OPTIONS, RunOptions, worst_count

REFINE_PASSAGES = 32  # fit passages a refinement round is scored on
FINGERPRINT_PASSAGES = 4  # fit passages that tell two programs' patterns apart
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
    """refine(head, candidates) for `synth.llm`: scores the candidates on fit passages and
    describes the best one's worst passages, row by row."""
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
            f"It scores a mean soft IoU of {table.mean[best, layer, index]:.3f} on "
            f"{len(passages)} passages. Its worst passages:"
        ]
        for passage in np.argsort(per_passage, kind="stable")[:WORST_PASSAGES]:
            tokens = cache.tokens(int(passage))
            real = cache.attention(int(passage))[layer, index]
            predicted = candidates[best].program(tokens)
            lines.append(f"- passage IoU {per_passage[passage]:.2f}:")
            lines.extend(worst_rows_text(real, predicted, tokens))
        return RefineInfo(candidates[best], "\n".join(lines))

    return refine


def make_fingerprint(cache: Any) -> Callable:
    """A program's pattern on the first FINGERPRINT_PASSAGES fit passages, rounded, as bytes:
    programs that differ only in constants that do not change the pattern share one."""

    texts = [cache.tokens(p) for p in range(min(len(cache), FINGERPRINT_PASSAGES))]

    def fingerprint(program: Any) -> bytes:
        digest = hashlib.sha256()
        for tokens in texts:
            digest.update(np.round(np.asarray(program(tokens), dtype=np.float64), 4).tobytes())
        return digest.digest()

    return fingerprint


def known_programs(context: Context, heads: list[Head]) -> dict[Head, list[Candidate]]:
    """Per head, the programs known before the LLM is asked: the starter library and the
    head's enumerated candidates."""
    from ..lang import library

    starters = [Candidate(p.canonical, p.name, "library") for p in library().values()]
    found = read_candidates(context.run)
    return {
        head: starters + [c for c in found.get(head, []) if c.origin != "llm"] for head in heads
    }


def starting_points(
    context: Context, known: dict[Head, list[Candidate]], heads: list[Head], refine: Callable
) -> dict:
    """Per head, its best known program on the fit passages refinement uses, with the report
    the first prompt shows (`RefineInfo`)."""
    from ..synth.scores import score_programs

    if not heads:
        return {}
    cache = context.cache("fit")
    pool = {c.id: c for head in heads for c in known[head]}
    passages = list(range(min(len(cache), REFINE_PASSAGES)))
    table = score_programs([c.program for c in pool.values()], cache, passages, context.vocab)
    row = {pid: k for k, pid in enumerate(table.ids)}
    start = {}
    for head in heads:
        best = max(known[head], key=lambda c: table.mean[row[c.id], head[0], head[1]])
        start[head] = refine(head, [best])
    return start


def worst_heads(context: Context, known: dict[Head, list[Candidate]], count: int) -> list[Head]:
    """The `count` heads whose best known program fits worst on the select split."""
    from ..synth.scores import score_programs

    pool = {c.id: c for found in known.values() for c in found}
    programs = [c.program for c in pool.values()]
    table = score_programs(programs, context.cache("select"), None, context.vocab)
    row = {pid: k for k, pid in enumerate(table.ids)}

    def best(head: Head) -> float:
        return max(float(table.mean[row[c.id], head[0], head[1]]) for c in known[head])

    return sorted(known, key=lambda head: (best(head), head))[:count]


def llm_heads(context: Context, known: dict[Head, list[Candidate]]) -> list[Head]:
    """The heads the LLM is asked about (`--llm-heads`): all, or the worst N."""
    count = worst_count(context.options.llm_heads)
    return list(known) if count is None else worst_heads(context, known, count)


def head_summaries(context: Context, heads: list[Head]) -> dict[Head, str]:
    """The summaries of `heads` as the LLM reads them, in the order of `heads`."""
    from ..synth import HeadSummary

    wanted, found = set(heads), {}
    for entry in read_jsonl(context.run.path("summaries.jsonl")):
        summary = HeadSummary.from_json(entry)
        if (summary.layer, summary.head) in wanted:
            found[(summary.layer, summary.head)] = summary.text()
    return {head: found[head] for head in heads if head in found}


def llm_config(options: RunOptions, cache_dir: Path) -> Any:
    """The LLM synthesiser's configuration from a run's options (each `LLMConfig` field from
    the option of the same name, or the one `LLM_OPTIONS` renames)."""
    from ..synth.llm import LLMConfig

    wanted = {f.name for f in fields(LLMConfig)}
    values = {}
    for option in RunOptions.names():
        name = LLM_OPTIONS.get(option, option)
        if name in wanted:
            values[name] = getattr(options, option)
    return LLMConfig(**values, cache_dir=cache_dir)


def llm_hooks(
    context: Context,
    known: dict[Head, list[Candidate]],
    heads: list[Head],
    on_head: Callable | None,
    progress: Callable[[int, int, str], None] | None,
) -> Any:
    """What the pipeline adds to the LLM synthesiser: refinement on fit passages, each
    head's best known program as its starting point, duplicates by pattern, the grammar."""
    from ..grammar import gbnf
    from ..synth.llm import Hooks

    refine = make_refiner(context.cache("fit"), context.vocab)
    return Hooks(
        refine=refine,
        start=starting_points(context, known, heads, refine),
        fingerprint=make_fingerprint(context.cache("fit")),
        on_head=on_head,
        progress=progress,
        grammar=gbnf(context.options.programs_per_request),
    )


def synthesise_with_llm(context: Context) -> dict:
    """Run the LLM synthesiser on the chosen heads not done yet, recording each head's
    candidates (`candidates.jsonl`) and its failures and usage (`llm.jsonl`) as it finishes;
    return what run.json records (the heads chosen)."""
    from ..synth.llm import HeadResult, print_token_table, synthesise

    options, run = context.options, context.run
    known = known_programs(context, list(context.heads))
    chosen = llm_heads(context, known)
    done = heads_done(run, "llm")
    summaries = head_summaries(context, [head for head in chosen if head not in done])

    def on_head(result: HeadResult) -> None:
        append_jsonl(run.path("llm.jsonl"), [result.to_json()])
        if not any(f["stage"] == "request" for f in result.failures):
            append_candidates(run, "llm", {result.head: result.candidates})

    total, finished = len(chosen), len(chosen) - len(summaries)
    hooks = llm_hooks(
        context,
        known,
        list(summaries),
        None if options.dry_run else on_head,
        lambda d, t, note: context.progress("synthesise llm", finished + d, total, note),
    )
    results = synthesise(
        summaries,
        llm_config(options, run.path("llm", "cache")),
        hooks,
        dry_run_dir=run.path("llm", "prompts") if options.dry_run else None,
    )
    if options.dry_run:
        with open(run.path("llm", "tokens.txt"), "w", encoding="utf-8") as out:
            print_token_table(results, file=out)
    return {"heads": [format_head(h) for h in chosen], "dry_run": options.dry_run}
