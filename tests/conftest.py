"""Fixtures shared by the test modules: the sample stories, a tiny saved model, and a kernel
cache per module. The builders behind them are in `tiny_model.py` and `sample_data.py`
(importable by name: pytest puts this folder on the path)."""

from __future__ import annotations

import json
import os

import pytest
from sample_data import SAMPLE
from tiny_model import save_tiny_model


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """The 188 TinyStories validation stories shipped in tests/data/."""
    return [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines()]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, sample_texts) -> str:
    """A tiny random Llama with a word-level tokenizer over the sample stories, saved to a
    folder: `--model` and `load_model` take it like any Hugging Face folder."""
    return str(save_tiny_model(tmp_path_factory.mktemp("model"), sample_texts))


@pytest.fixture(scope="module")
def module_kernel_cache(tmp_path_factory):
    """Keep a module's kernels in a cache of its own (Numba's runtime stays warm); a module
    asks for it with `pytestmark = pytest.mark.usefixtures("module_kernel_cache")`."""
    old = os.environ.get("ATTNDSL_CACHE")
    os.environ["ATTNDSL_CACHE"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("ATTNDSL_CACHE")
    else:
        os.environ["ATTNDSL_CACHE"] = old
