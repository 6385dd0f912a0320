"""Models: the offline registry, what a model reports, and kernels on a real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from attndsl.compiler import Batch, Vocab, compile

import attndsl
from attndsl._models import ModelError, describe, load_model, model_folder

SAMPLE = Path(__file__).parents[2] / "shared/data/tinystories/valid-sample.jsonl"


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="known models: smollm2"):
        model_folder("no such model!")


def test_describe_a_small_random_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    facts = describe(LlamaForCausalLM(config))
    assert facts["layers"] == 2 and facts["heads"] == 4 and facts["kv_heads"] == 2
    assert facts["head_dim"] == 8 and facts["architecture"] == "LlamaForCausalLM"


@pytest.mark.slow
def test_smollm2_offline_with_kernels_on_its_tokenizer():
    model, tokenizer = load_model("smollm2")
    facts = describe(model)
    assert (facts["layers"], facts["heads"], facts["kv_heads"]) == (30, 9, 3)
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
