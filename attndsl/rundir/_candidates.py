"""`candidates.jsonl`: per head and synthesiser, the candidate programs (canonical source),
appended one layer's heads at a time so that synthesis resumes after the last head done."""

from __future__ import annotations

from collections import defaultdict

from ..models import Head
from ..synth import Candidate
from ._files import RunDir, append_jsonl, read_jsonl


def read_candidates(run: RunDir) -> dict[Head, list[Candidate]]:
    """Every head's candidates, from all synthesisers, in the order they were found."""
    found: dict[Head, list[Candidate]] = defaultdict(list)
    for entry in read_jsonl(run.path("candidates.jsonl")):
        head = (entry["layer"], entry["head"])
        found[head].extend(Candidate.from_json(c) for c in entry["candidates"])
    return dict(found)


def heads_done(run: RunDir, origin: str) -> set[Head]:
    """The heads synthesiser `origin` has recorded candidates for."""
    return {
        (e["layer"], e["head"])
        for e in read_jsonl(run.path("candidates.jsonl"))
        if e["origin"] == origin
    }


def append_candidates(run: RunDir, origin: str, results: dict[Head, list[Candidate]]) -> None:
    """Record synthesiser `origin`'s candidates for some heads."""
    append_jsonl(
        run.path("candidates.jsonl"),
        [
            {
                "layer": head[0],
                "head": head[1],
                "origin": origin,
                "candidates": [c.to_json() for c in found],
            }
            for head, found in sorted(results.items())
        ],
    )
