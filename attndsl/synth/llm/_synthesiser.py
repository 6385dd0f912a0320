"""The LLM synthesiser: head summaries in, candidate programs out.

For each head: ask for `programs_per_request` programs (system prompt: the language reference
and worked examples; user prompt: the head's summary), parse every fenced program with
`Program.from_source` (LLM text is never run as Python), send rejected ones back with the
checker's errors for repair, drop duplicates by canonical id, then optionally refine: show the
best candidate's held-out results (from the caller's `refine`) and ask for fixes.

    >>> results = synthesise({(3, 4): summary_text}, LLMConfig(model="gpt-4o-mini"))
    >>> results[(3, 4)].candidates, results[(3, 4)].failures, results[(3, 4)].usage

Every failure (an endpoint that never answers, a malformed answer, a rejected program) is a
record in `HeadResult.failures` with its `stage` (`request`, `reply`, `check`), the `step` it
happened in (`first`, `first repair 1`, `refine 1`, ...) and an `error` text; the run always
finishes. Transport, retries and the response cache are in `_client`.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ... import prompts
from ..._io import write_text
from ...lang import Program, ProgramError
from ...models import Head
from .._candidate import Candidate
from ._client import USAGE_KEYS, Chat, LLMConfig, LLMError
from ._fences import extract_programs

_WORDS_AND_MARKS = re.compile(r"\w+|[^\w\s]")

__all__ = [
    "HeadResult",
    "LLMConfig",
    "LLMError",
    "RefineInfo",
    "asynthesise",
    "estimate_tokens",
    "print_token_table",
    "synthesise",
]


@dataclass(frozen=True)
class RefineInfo:
    """What the caller says about a head's best candidate: held-out score, worst passages
    (real vs predicted top attention), as text for the refine prompt."""

    candidate: Candidate
    report: str


#: refine(head, candidates so far) -> RefineInfo for the best of them, or None to stop
Refine = Callable[[Head, list[Candidate]], "RefineInfo | None"]


@dataclass
class HeadResult:
    """One head's outcome: unique candidates, failure records, and usage — `prompt_tokens`,
    `completion_tokens` (of every answer used, cached or not), `requests` (HTTP requests sent,
    retries included), `cached_requests` (answers read from the cache). A dry run's usage
    holds estimates instead (`estimated: True`)."""

    head: Head
    candidates: list[Candidate] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    usage: dict = field(default_factory=lambda: dict.fromkeys(USAGE_KEYS, 0))

    def to_json(self) -> dict:
        return {
            "layer": self.head[0],
            "head": self.head[1],
            "candidates": [c.to_json() for c in self.candidates],
            "failures": self.failures,
            "usage": self.usage,
        }

    @staticmethod
    def from_json(entry: dict) -> HeadResult:
        return HeadResult(
            (entry["layer"], entry["head"]),
            [Candidate.from_json(c) for c in entry["candidates"]],
            list(entry["failures"]),
            dict(entry["usage"]),
        )


def synthesise(
    summaries: Mapping[Head, str],
    config: LLMConfig,
    refine: Refine | None = None,
    dry_run_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Head, HeadResult]:
    """Candidate programs for every head from its summary (see the module docstring).

    With `dry_run_dir`, nothing is sent: each head's prompt is written to
    `dry_run_dir/<layer>.<head>.md` and its usage holds token estimates. `progress(done,
    total)` is called as heads finish. Raises `LLMError` when there is no key and no endpoint.
    """
    if dry_run_dir is not None:
        return dry_run(summaries, config, Path(dry_run_dir), progress)
    config.require_key()
    return asyncio.run(asynthesise(summaries, config, refine, progress))


async def asynthesise(
    summaries: Mapping[Head, str],
    config: LLMConfig,
    refine: Refine | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Head, HeadResult]:
    """`synthesise` for callers already inside an event loop."""
    done = 0
    async with Chat(config) as chat:
        session = _Session(chat, config, refine)

        async def one(head: Head) -> HeadResult:
            nonlocal done
            result = await session.head(head, summaries[head])
            done += 1
            if progress is not None:
                progress(done, len(summaries))
            return result

        results = await asyncio.gather(*(one(head) for head in summaries))
    return {result.head: result for result in results}


class _Session:
    """The conversation with the endpoint for each head of one run."""

    def __init__(self, chat: Chat, config: LLMConfig, refine: Refine | None) -> None:
        self.chat, self.config, self.refine = chat, config, refine
        self.system = {"role": "system", "content": prompts.system_prompt()}
        self._refine_lock = asyncio.Lock()  # the caller's scorer runs one head at a time

    async def head(self, head: Head, summary: str) -> HeadResult:
        result, count = HeadResult(head), self.config.programs_per_request
        user = prompts.user_prompt(head[0], head[1], summary, count)
        await self._converse(result, [self.system, {"role": "user", "content": user}], "first")
        for round_ in range(1, self.config.refine_rounds + 1):
            if self.refine is None or not result.candidates:
                break
            async with self._refine_lock:
                info = await asyncio.to_thread(self.refine, head, list(result.candidates))
            if info is None:
                break
            best = info.candidate
            text = prompts.refine_prompt(
                head[0], head[1], summary, best.hypothesis, best.program.text, info.report, count
            )
            await self._converse(
                result, [self.system, {"role": "user", "content": text}], f"refine {round_}"
            )
        return result

    async def _converse(self, result: HeadResult, messages: list[dict], step: str) -> None:
        """Ask, check every program, and send the rejected ones back (`repair_rounds` times)."""
        for repair in range(self.config.repair_rounds + 1):
            label = step if repair == 0 else f"{step} repair {repair}"
            answer = await self.chat.ask(messages)
            for key in USAGE_KEYS:
                result.usage[key] += answer.usage[key]
            if answer.failure is not None:
                result.failures.append({**answer.failure, "step": label})
                return
            if answer.truncated:
                result.failures.append(
                    {
                        "stage": "reply",
                        "step": label,
                        "error": f"the answer was cut off at max_tokens={self.config.max_tokens}",
                    }
                )
            rejected = self._check(result, answer.content or "", label)
            if not rejected or repair == self.config.repair_rounds:
                return
            messages = [
                *messages,
                {"role": "assistant", "content": answer.content},
                {"role": "user", "content": prompts.repair_prompt(rejected)},
            ]

    @staticmethod
    def _check(result: HeadResult, reply: str, step: str) -> list[tuple[str, str]]:
        """Add the reply's new valid programs to `result`; (hypothesis, errors) of the others."""
        snippets = extract_programs(reply)
        if not snippets:
            result.failures.append(
                {
                    "stage": "reply",
                    "step": step,
                    "error": "no program in the answer",
                    "body": reply[:200],
                }
            )
        seen = {c.id for c in result.candidates}
        rejected = []
        for number, snippet in enumerate(snippets, 1):
            try:
                program = Program.from_source(snippet.source, f"program-{number}.py")
            except ProgramError as exc:
                hypothesis = snippet.hypothesis or f"program {number}"
                result.failures.append(
                    {
                        "stage": "check",
                        "step": step,
                        "error": str(exc),
                        "rules": exc.rules,
                        "hypothesis": hypothesis,
                        "source": snippet.source,
                    }
                )
                rejected.append((hypothesis, str(exc)))
                continue
            doc = (program.docstring or "").strip().split("\n", 1)[0]
            candidate = Candidate(program.canonical, snippet.hypothesis or doc, "llm")
            if candidate.id not in seen:
                seen.add(candidate.id)
                result.candidates.append(candidate)
        return rejected


# ------------------------------------------------------------------------------- dry run


def estimate_tokens(text: str) -> int:
    """A rough token count: one per word, number and punctuation mark (on these prompts,
    closer to a BPE tokenizer's count than characters / 4, and still a little under it)."""
    return len(_WORDS_AND_MARKS.findall(text))


def dry_run(
    summaries: Mapping[Head, str],
    config: LLMConfig,
    folder: Path,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Head, HeadResult]:
    """Write each head's first prompt to `folder/<layer>.<head>.md`; send nothing."""
    system, results = prompts.system_prompt(), {}
    for done, (head, summary) in enumerate(summaries.items(), 1):
        user = prompts.user_prompt(head[0], head[1], summary, config.programs_per_request)
        write_text(
            folder / f"{head[0]}.{head[1]}.md",
            f"<!-- system -->\n\n{system}\n\n<!-- user -->\n\n{user}\n",
        )
        usage: dict[str, Any] = dict.fromkeys(USAGE_KEYS, 0)
        usage.update(
            prompt_tokens=estimate_tokens(system) + estimate_tokens(user),
            user_tokens=estimate_tokens(user),
            estimated=True,
        )
        results[head] = HeadResult(head, usage=usage)
        if progress is not None:
            progress(done, len(summaries))
    return results


def print_token_table(results: Mapping[Head, HeadResult], file: TextIO | None = None) -> None:
    """A table of tokens per head, with totals: prompt and completion tokens and requests, or
    for a dry run the estimated prompt tokens and the part of them that is the head's own."""
    file = file or sys.stdout
    estimated = any(r.usage.get("estimated") for r in results.values())
    keys = ("prompt_tokens", "user_tokens") if estimated else USAGE_KEYS
    names = {
        "prompt_tokens": "prompt",
        "user_tokens": "head's part",
        "completion_tokens": "completion",
        "requests": "requests",
        "cached_requests": "cached",
    }
    lines: list[list] = [["head", *(names[k] for k in keys)]]
    totals = dict.fromkeys(keys, 0)
    for head, result in sorted(results.items()):
        lines.append([f"{head[0]}.{head[1]}", *(result.usage.get(k, 0) for k in keys)])
        for k in keys:
            totals[k] += result.usage.get(k, 0)
    lines.append(["total", *totals.values()])
    for line in lines:
        print(f"{line[0]:<8}" + "".join(f"{value!s:>13}" for value in line[1:]), file=file)
    if estimated:
        print(
            "(estimated at a token per word and per punctuation mark, for the first request "
            "of each head; repairs and refinements add more; nothing was sent)",
            file=file,
        )
