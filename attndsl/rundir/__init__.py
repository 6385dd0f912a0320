"""The run directory: its files' format (written atomically, checked against a schema on
every read), and what a run stored, read back: candidates, the chosen kernels, the
replacement order, the LLM's share, the summary, and `RunResults` for the review and the report."""

from ._candidates import append_candidates, heads_done, read_candidates
from ._files import (
    MANIFEST,
    PERPLEXITY,
    SELECTION,
    SUMMARY,
    Each,
    RunDir,
    RunError,
    append_jsonl,
    read_json,
    read_jsonl,
    shaped,
    write_json,
    write_jsonl,
    write_text,
)
from ._llm import describe_share, llm_results, llm_share, nothing_answered
from ._results import WINDOW, ReviewError, RunResults, Window
from ._selection import chosen_kernels, run_summary, stored_costs, stored_order

__all__ = [
    "MANIFEST",
    "PERPLEXITY",
    "SELECTION",
    "SUMMARY",
    "WINDOW",
    "Each",
    "ReviewError",
    "RunDir",
    "RunError",
    "RunResults",
    "Window",
    "append_candidates",
    "append_jsonl",
    "chosen_kernels",
    "describe_share",
    "heads_done",
    "llm_results",
    "llm_share",
    "nothing_answered",
    "read_candidates",
    "read_json",
    "read_jsonl",
    "run_summary",
    "shaped",
    "stored_costs",
    "stored_order",
    "write_json",
    "write_jsonl",
    "write_text",
]
