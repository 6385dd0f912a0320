"""A tiny randomly initialised Llama with a real (word-level) Hugging Face tokenizer, saved
to a folder so that everything that loads models by name can load it: fast end-to-end runs."""

from __future__ import annotations

from pathlib import Path

from sample_data import SAMPLE

CORPUS = SAMPLE


def save_tiny_model(folder: Path, texts: list[str], layers: int = 2, heads: int = 4) -> Path:
    """Write a tiny Llama and a word-level tokenizer over `texts` to `folder`."""
    import torch
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from attndsl import split_words
    from attndsl.lang._features import _WORDS

    words = sorted({w for text in texts for w in split_words(text)})
    vocab = {"<unk>": 0, **{w: i + 1 for i, w in enumerate(words)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(_WORDS.pattern), "isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=heads // 2, max_position_embeddings=512)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_llama(vocab_size: int, heads: int = 4, kv_heads: int = 2, hidden: int = 32,
               attention: str = "sdpa"):
    """A tiny random Llama (seeded) for tests that bring their own tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=2, num_attention_heads=heads,
                         num_key_value_heads=kv_heads)
    model = LlamaForCausalLM(config).eval()
    model.set_attn_implementation(attention)
    return model
