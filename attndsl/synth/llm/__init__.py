"""The LLM synthesiser: head summaries in, candidate programs out, through any
OpenAI-compatible endpoint (`_client`: configuration, response cache, requests), with
programs read from fenced blocks of the answer (`_fences`)."""

from ._client import LLMConfig, LLMError
from ._synthesiser import HeadResult, RefineInfo, dry_run, print_token_table, synthesise

__all__ = [
    "HeadResult",
    "LLMConfig",
    "LLMError",
    "RefineInfo",
    "dry_run",
    "print_token_table",
    "synthesise",
]
