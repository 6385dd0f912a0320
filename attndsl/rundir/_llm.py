"""`llm.jsonl`: per head the LLM was asked about, its failures and usage (a line per head as
it finishes; a head asked again on resume gets a later line, which counts), and the LLM's
share of a run's results."""

from __future__ import annotations

from typing import Any

from ..models import Head
from ..synth.llm import USAGE_KEYS
from ._files import SELECTION, RunDir, read_json, read_jsonl, shaped

LLM = [{"layer": int, "head": int, "candidates": list, "failures": list, "usage": dict}]


def llm_results(run: RunDir) -> dict[Head, dict[str, Any]]:
    """Each head's last line of `llm.jsonl`."""
    path = run.path("llm.jsonl")
    entries = shaped(path, read_jsonl(path), LLM, "remove it to ask the LLM again")
    return {(e["layer"], e["head"]): e for e in entries}


def llm_share(run: RunDir) -> dict[str, Any] | None:
    """What the LLM did in a run (None when it was not asked): heads asked, the usage counts
    added up, `failed_requests`, `candidates` (unique programs kept) and `won` (heads whose
    chosen program the LLM wrote, once the select stage ran)."""
    if not run.path("llm.jsonl").is_file():
        return None
    results = llm_results(run).values()
    share: dict[str, Any] = {"heads": len(results)}
    for key in USAGE_KEYS:
        total = sum(r["usage"].get(key, 0) for r in results)
        share[key] = round(total, 1) if isinstance(total, float) else total
    share["failed_requests"] = sum(
        f.get("stage") == "request" for r in results for f in r["failures"]
    )
    share["candidates"] = sum(len(r["candidates"]) for r in results)
    if run.path("selection.json").is_file():
        heads = read_json(run.path("selection.json"), SELECTION)["heads"]
        share["won"] = sum(e.get("origin") == "llm" for e in heads)
    return share


def describe_share(share: dict[str, Any]) -> str:
    """The LLM's share on one line, for the run's table, the review and the report."""
    won = f" · won {share['won']} of {share['heads']} heads" if "won" in share else ""
    failed = f" ({share['failed_requests']} requests failed)" if share["failed_requests"] else ""
    return (
        f"{share['heads']} heads asked · {share['answers']} answers{failed} · "
        f"{share['programs']} programs, {share['parsed']} parsed, {share['checked']} checked, "
        f"{share['candidates']} kept{won} · {share['completion_tokens']} tokens written in "
        f"{share['seconds']:.0f} s"
    )


def nothing_answered(share: dict[str, Any] | None) -> bool:
    """Whether the LLM was asked and not one request got an answer."""
    return share is not None and share["answers"] == 0 and share["failed_requests"] > 0
