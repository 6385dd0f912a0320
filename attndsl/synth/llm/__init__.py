"""The LLM synthesiser: head summaries in, candidate programs out, through any
OpenAI-compatible endpoint (`_client`: configuration, response cache, requests), with
programs read from fenced blocks of the answer (`_fences`), and a local chat model it can
serve itself (`_serve`)."""

from ._client import GRAMMARS, USAGE_KEYS, EndpointError, LLMConfig, LLMError
from ._serve import (
    CHAT_MODELS,
    DEFAULT_CHAT_MODEL,
    DEFAULT_CONTEXT,
    DEFAULT_PORT,
    pull_chat_model,
    serve,
    server_command,
    server_environment,
)
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
    "CHAT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_CONTEXT",
    "DEFAULT_PORT",
    "GRAMMARS",
    "USAGE_KEYS",
    "EndpointError",
    "HeadResult",
    "Hooks",
    "LLMConfig",
    "LLMError",
    "RefineInfo",
    "dry_run",
    "new_usage",
    "print_token_table",
    "pull_chat_model",
    "serve",
    "server_command",
    "server_environment",
    "synthesise",
]
