"""Surrogate heads: the identity test, restoration, and that a replacement changes things."""

from __future__ import annotations

import pytest
import torch
from sample_data import SAMPLE

from attndsl.models import replaced


def tiny_llama(kv_heads: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
    )
    return LlamaForCausalLM(config).eval()


def own_patterns(model, ids, mask=None):
    """Every head's own eager attention, as surrogate patterns."""
    model.set_attn_implementation("eager")
    with torch.inference_mode():
        attentions = model(ids, attention_mask=mask, output_attentions=True).attentions
    model.set_attn_implementation("sdpa")
    return {layer: {h: a[:, h] for h in range(a.shape[1])} for layer, a in enumerate(attentions)}


def assert_identity(model, ids):
    """Every head fed its own eager pattern gives the unmodified sdpa logits."""
    model.set_attn_implementation("sdpa")
    with torch.inference_mode():
        expected = model(ids).logits
        with replaced(model, own_patterns(model, ids)):
            got = model(ids).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_own_patterns_reproduce_the_logits(kv_heads):
    assert_identity(tiny_llama(kv_heads), torch.randint(0, 50, (3, 12)))


def test_right_padding_and_restoration():
    model = tiny_llama()
    model.set_attn_implementation("sdpa")
    ids = torch.randint(0, 50, (2, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.inference_mode():
        expected = model(ids, attention_mask=mask).logits
        with replaced(model, own_patterns(model, ids, mask)):
            got = model(ids, attention_mask=mask).logits
    torch.testing.assert_close(got[0], expected[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(got[1, :6], expected[1, :6], atol=1e-4, rtol=0)
    assert model.config._attn_implementation == "sdpa"


def test_replacing_none_changes_nothing_and_uniform_changes_the_logits():
    model = tiny_llama()
    model.set_attn_implementation("sdpa")
    ids = torch.randint(0, 50, (2, 8))
    uniform = torch.tril(torch.ones(8, 8))
    uniform = (uniform / uniform.sum(-1, keepdim=True)).expand(2, 8, 8)
    with torch.inference_mode():
        expected = model(ids).logits
        with replaced(model, {}):
            torch.testing.assert_close(model(ids).logits, expected, atol=1e-5, rtol=0)
        with replaced(model, {1: {2: uniform}}):
            changed = model(ids).logits
    assert (changed - expected).abs().max() > 1e-5  # well above float32 noise (~1e-7)


@pytest.mark.slow
def test_smollm2_identity():
    from attndsl.models import load_model

    model, tokenizer = load_model("smollm2", attention="sdpa")
    text = "Once upon a time, a cat sat. The cat ran home."
    assert_identity(model, torch.tensor([tokenizer(text)["input_ids"]]))


@pytest.mark.slow
def test_gemma3_identity_beyond_its_sliding_window():
    import json

    from attndsl.models import load_model

    model, tokenizer = load_model("gemma3-270m", attention="sdpa")
    window = model.config.sliding_window
    assert window == 512 and "sliding_attention" in model.config.layer_types
    # The tied 262k-row output layer would take most of the time: compare 8192 ids' logits.
    head = torch.nn.Linear(model.config.hidden_size, 8192, bias=False)
    head.weight = torch.nn.Parameter(model.lm_head.weight[:8192].detach())
    model.lm_head = head
    sample = SAMPLE
    text = " ".join(json.loads(line)["text"] for line in sample.read_text().splitlines()[:8])
    ids = tokenizer(text)["input_ids"][: window + 88]  # <bos> first
    assert len(ids) == window + 88
    assert_identity(model, torch.tensor([ids]))


def _small(family: str):
    """A small randomly initialised model of one of the architectures the toolkit supports."""
    import transformers as tf

    torch.manual_seed(0)
    common = {
        "vocab_size": 50,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    }
    if family == "gpt2":
        return tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=4))
    if family == "qwen2":
        return tf.Qwen2ForCausalLM(tf.Qwen2Config(**common, num_key_value_heads=2))
    config = tf.Gemma3TextConfig(
        **common,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
    )
    return tf.Gemma3ForCausalLM(config)


@pytest.mark.parametrize("family", ["gpt2", "qwen2", "gemma3"])
def test_identity_on_other_architectures(family):
    assert_identity(_small(family).eval(), torch.randint(0, 50, (2, 9)))
