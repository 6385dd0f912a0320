"""The LLM synthesiser: head summaries in, candidate programs out, through any
OpenAI-compatible endpoint (`_client`: configuration, response cache, requests), with
programs read from fenced blocks of the answer (`_fences`)."""

from ._client import GRAMMARS, EndpointError, LLMConfig, LLMError
from ._synthesiser import (
    HeadResult,
    Hooks,
    RefineInfo,
    dry_run,
    new_usage,
    print_token_table,
    synthesise,
)

__all__ = [
    "GRAMMARS",
    "EndpointError",
    "HeadResult",
    "Hooks",
    "LLMConfig",
    "LLMError",
    "RefineInfo",
    "dry_run",
    "new_usage",
    "print_token_table",
    "synthesise",
]
