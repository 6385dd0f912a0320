"""The LLM synthesiser: head summaries in, candidate programs out.

For each head: ask for `programs_per_request` programs (system prompt: the language reference
and worked examples; user prompt: the head's summary, and the best program known so far when
the caller gives one), parse every fenced program with `Program.from_source` (LLM text is
never run as Python), send rejected ones back with the checker's errors for repair, drop
duplicates (by canonical id, and by pattern when the caller gives a `fingerprint`), then
optionally refine: show the best candidate's results on fit text (from the caller's
`refine`) and ask for fixes.

    >>> results = synthesise({(3, 4): summary_text}, LLMConfig(model="gpt-4o-mini"))
    >>> results[(3, 4)].candidates, results[(3, 4)].failures, results[(3, 4)].usage

A head's requests go one after another (`concurrency` heads at once), and each finished head
goes to `on_head` at once, so an interrupted run keeps every head it finished. Every failure
(an endpoint that never answers, a malformed answer, a rejected program) is a record in
`HeadResult.failures` with its `stage` (`request`, `reply`, `check`), the `step` it happened
in (`first`, `first repair 1`, `refine 1`, ...) and an `error` text, and the run goes on;
only an endpoint that cannot serve the run at all (`EndpointError`) stops it. Transport,
retries and the response cache are in `_client`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ... import prompts
from ..._io import write_text
from ...lang import Program, ProgramError
from ...models import Head, format_head
from .._candidate import Candidate
from ._client import USAGE_KEYS, Chat, EndpointError, LLMConfig, LLMError, estimate_tokens
from ._fences import extract_programs

__all__ = [
    "EndpointError",
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
    """A head's best candidate and how it does (score, worst passages), as text for a
    prompt: the refine prompt, or the first prompt's starting point."""

    candidate: Candidate
    report: str


#: refine(head, candidates so far) -> RefineInfo for the best of them, or None to stop
Refine = Callable[[Head, list[Candidate]], "RefineInfo | None"]
#: progress(heads done, heads, what is happening now)
Progress = Callable[[int, int, str], None]


def new_usage() -> dict[str, Any]:
    return dict.fromkeys(USAGE_KEYS, 0)


@dataclass
class HeadResult:
    """One head's outcome: unique candidates, failure records, and usage — `prompt_tokens`,
    `completion_tokens` (of every answer used, cached or not), `requests` (HTTP requests sent,
    retries included), `cached_requests` (answers read from the cache), `answers` (well-formed
    answers), `programs` (found in them), `parsed` (of those, the ones Lark parsed),
    `checked` (passed the checker too), `duplicates` (checked, but a candidate already had
    the same canonical id or pattern), `seconds` (waiting for answers). A dry run's usage
    holds estimates instead (`estimated: True`)."""

    head: Head
    candidates: list[Candidate] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    usage: dict = field(default_factory=new_usage)

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
            new_usage() | dict(entry["usage"]),
        )


@dataclass
class Hooks:
    """What the caller adds to a synthesis (all optional).

    - `refine`: scores a head's candidates and describes the best (refine rounds).
    - `start`: per head, the best program known before asking (shown in the first prompt).
    - `fingerprint`: a program's pattern on a few passages, as bytes: candidates with equal
      fingerprints are duplicates.
    - `on_head`: called with each head's result as soon as the head is done.
    - `progress`: called as requests are sent and answered and heads finish.
    - `grammar`: the text sent as the request's `grammar` (see `LLMConfig.grammar`).
    """

    refine: Refine | None = None
    start: Mapping[Head, RefineInfo] = field(default_factory=dict)
    fingerprint: Callable[[Program], bytes] | None = None
    on_head: Callable[[HeadResult], None] | None = None
    progress: Progress | None = None
    grammar: str | None = None


def synthesise(
    summaries: Mapping[Head, str],
    config: LLMConfig,
    hooks: Hooks | None = None,
    dry_run_dir: Path | None = None,
) -> dict[Head, HeadResult]:
    """Candidate programs for every head from its summary (see the module docstring).

    With `dry_run_dir`, nothing is sent: each head's prompt is written to
    `dry_run_dir/<layer>.<head>.md` and its usage holds token estimates. Raises `LLMError`
    when there is no key and no endpoint, `EndpointError` when the endpoint cannot serve the
    run (the heads finished before it went to `hooks.on_head`).
    """
    hooks = hooks or Hooks()
    if dry_run_dir is not None:
        return dry_run(summaries, config, Path(dry_run_dir), hooks)
    config.require_key()
    return asyncio.run(asynthesise(summaries, config, hooks))


async def asynthesise(
    summaries: Mapping[Head, str], config: LLMConfig, hooks: Hooks | None = None
) -> dict[Head, HeadResult]:
    """`synthesise` for callers already inside an event loop."""
    hooks = hooks or Hooks()
    results: dict[Head, HeadResult] = {}
    slots = asyncio.Semaphore(config.concurrency or 1)
    async with Chat(config, hooks.grammar) as chat:
        session = _Session(chat, config, hooks, len(summaries))

        async def one(head: Head) -> None:
            async with slots:
                if session.stopped:
                    return
                try:
                    result = await session.head(head, summaries[head])
                except EndpointError:
                    session.stopped = True  # before the slot goes to another head
                    raise
            results[head] = result
            if hooks.on_head is not None:
                hooks.on_head(result)
            session.tell(f"{format_head(head)} done", finished=len(results))

        tasks = [asyncio.ensure_future(one(head)) for head in summaries]
        try:
            await asyncio.gather(*tasks)
        except EndpointError:
            for task in tasks:  # the endpoint cannot serve the run: stop asking
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    return results


class _Session:
    """The conversation with the endpoint for each head of one run."""

    def __init__(self, chat: Chat, config: LLMConfig, hooks: Hooks, heads: int) -> None:
        self.chat, self.config, self.hooks, self.heads = chat, config, hooks, heads
        self.system = {"role": "system", "content": prompts.system_prompt()}
        self.finished = 0
        self.stopped = False  # the endpoint cannot serve the run: ask nothing more
        self._prints: dict[str, bytes] = {}  # fingerprints by program id
        self._refine_lock = asyncio.Lock()  # the caller's scorer runs one head at a time

    def tell(self, note: str, finished: int | None = None) -> None:
        if finished is not None:
            self.finished = finished
        if self.hooks.progress is not None:
            self.hooks.progress(self.finished, self.heads, note)

    async def head(self, head: Head, summary: str) -> HeadResult:
        result, count = HeadResult(head), self.config.programs_per_request
        user = first_prompt(head, summary, count, self.hooks.start.get(head))
        await self._converse(result, [self.system, {"role": "user", "content": user}], "first")
        for round_ in range(1, self.config.refine_rounds + 1):
            if self.hooks.refine is None or not result.candidates or self._spent(result):
                break
            async with self._refine_lock:
                info = await asyncio.to_thread(self.hooks.refine, head, list(result.candidates))
            if info is None:
                break
            text = prompts.refine_prompt(
                head[0], head[1], summary, info.candidate, info.report, count
            )
            await self._converse(
                result, [self.system, {"role": "user", "content": text}], f"refine {round_}"
            )
        return result

    def _spent(self, result: HeadResult) -> str | None:
        """Why the head's budget forbids another request (None: it does not)."""
        c, usage = self.config, result.usage
        if c.head_tokens is not None and usage["completion_tokens"] >= c.head_tokens:
            return f"its budget of {c.head_tokens} completion tokens is spent"
        if c.head_seconds is not None and usage["seconds"] >= c.head_seconds:
            return f"its budget of {c.head_seconds:g} s is spent"
        return None

    async def _converse(self, result: HeadResult, messages: list[dict], step: str) -> None:
        """Ask, check every program, and send the rejected ones back (`repair_rounds` times)."""
        name = format_head(result.head)
        for repair in range(self.config.repair_rounds + 1):
            label = step if repair == 0 else f"{step} repair {repair}"
            spent = self._spent(result)
            if spent is not None:
                result.failures.append(
                    {"stage": "budget", "step": label, "error": f"not asked: {spent}"}
                )
                return
            self.tell(f"{name} {label}: asking")
            refused = self.chat.grammar_refused
            answer = await self.chat.ask(messages)
            for key in USAGE_KEYS:
                result.usage[key] += answer.usage[key]
            if self.chat.grammar_refused and not refused:
                result.failures.append(
                    {
                        "stage": "grammar",
                        "step": label,
                        "error": f"the server refused the grammar ({self.chat.grammar_refused}); "
                        "asked without it",
                    }
                )
            how = (
                "cached" if answer.usage["cached_requests"] else f"{answer.usage['seconds']:.0f} s"
            )
            tokens = answer.usage["completion_tokens"]
            if answer.failure is not None:
                result.failures.append({**answer.failure, "step": label})
                self.tell(f"{name} {label}: failed ({how})")
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
            self.tell(f"{name} {label}: {tokens} tokens ({how}), {len(rejected)} rejected")
            if not rejected or repair == self.config.repair_rounds:
                return
            messages = [
                *messages,
                {"role": "assistant", "content": answer.content},
                {"role": "user", "content": prompts.repair_prompt(rejected)},
            ]

    def _keys(self, candidate: Candidate) -> set[str | bytes]:
        """What makes a candidate a duplicate: its id, and its pattern's fingerprint (each
        program's computed once per run: kept candidates are compared at every reply)."""
        fingerprint = self.hooks.fingerprint
        if fingerprint is None:
            return {candidate.id}
        if candidate.id not in self._prints:
            self._prints[candidate.id] = fingerprint(candidate.program)
        return {candidate.id, self._prints[candidate.id]}

    def _check(self, result: HeadResult, reply: str, step: str) -> list[tuple[str, str]]:
        """Add the reply's new valid programs to `result`; (hypothesis, errors) of the others."""
        snippets = extract_programs(reply)
        usage = result.usage
        usage["programs"] += len(snippets)
        if not snippets:
            result.failures.append(
                {
                    "stage": "reply",
                    "step": step,
                    "error": "no program in the answer",
                    "body": reply[:200],
                }
            )
        seen: set[str | bytes] = set()
        for kept in result.candidates:
            seen |= self._keys(kept)
        rejected = []
        for number, snippet in enumerate(snippets, 1):
            try:
                program = Program.from_source(snippet.source, f"program-{number}.py")
            except ProgramError as exc:
                usage["parsed"] += "syntax" not in exc.rules
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
            usage["parsed"] += 1
            usage["checked"] += 1
            doc = (program.docstring or "").strip().split("\n", 1)[0]
            candidate = Candidate(program.canonical, snippet.hypothesis or doc, "llm")
            keys = self._keys(candidate)
            if keys & seen:
                usage["duplicates"] += 1
                continue
            seen |= keys
            result.candidates.append(candidate)
        return rejected


# ------------------------------------------------------------------------------- dry run


def first_prompt(head: Head, summary: str, count: int, start: RefineInfo | None) -> str:
    """The first request for a head: its summary, and the best program known, if any."""
    known = None if start is None else (start.candidate, start.report)
    return prompts.user_prompt(head[0], head[1], summary, count, start=known)


def dry_run(
    summaries: Mapping[Head, str], config: LLMConfig, folder: Path, hooks: Hooks
) -> dict[Head, HeadResult]:
    """Write each head's first prompt to `folder/<layer>.<head>.md`; send nothing."""
    system, results = prompts.system_prompt(), {}
    for done, (head, summary) in enumerate(summaries.items(), 1):
        user = first_prompt(head, summary, config.programs_per_request, hooks.start.get(head))
        write_text(
            folder / f"{head[0]}.{head[1]}.md",
            f"<!-- system -->\n\n{system}\n\n<!-- user -->\n\n{user}\n",
        )
        usage = new_usage()
        usage.update(
            prompt_tokens=estimate_tokens(system) + estimate_tokens(user),
            user_tokens=estimate_tokens(user),
            estimated=True,
        )
        results[head] = HeadResult(head, usage=usage)
        if hooks.progress is not None:
            hooks.progress(done, len(summaries), f"{format_head(head)} written")
    return results


def print_token_table(results: Mapping[Head, HeadResult], file: TextIO | None = None) -> None:
    """A table of tokens per head, with totals: prompt and completion tokens and requests, or
    for a dry run the estimated prompt tokens and the part of them that is the head's own."""
    file = file or sys.stdout
    estimated = any(r.usage.get("estimated") for r in results.values())
    names = (
        {"prompt_tokens": "prompt", "user_tokens": "head's part"}
        if estimated
        else {
            "prompt_tokens": "prompt",
            "completion_tokens": "completion",
            "requests": "requests",
            "cached_requests": "cached",
            "programs": "programs",
            "checked": "checked",
            "seconds": "seconds",
        }
    )
    keys = tuple(names)
    lines: list[list] = [["head", *(names[k] for k in keys)]]
    totals = dict.fromkeys(keys, 0)
    for head, result in sorted(results.items()):
        lines.append([f"{head[0]}.{head[1]}", *(result.usage.get(k, 0) for k in keys)])
        for k in keys:
            totals[k] += result.usage.get(k, 0)
    lines.append(["total", *totals.values()])
    for line in lines:
        cells = (round(v, 1) if isinstance(v, float) else v for v in line[1:])
        print(f"{line[0]:<8}" + "".join(f"{value!s:>13}" for value in cells), file=file)
    if estimated:
        print(
            "(estimated at a token per word and per punctuation mark, for the first request "
            "of each head; repairs and refinements add more; nothing was sent)",
            file=file,
        )
