"""Tiny models and tokenizers for fast tests: a randomly initialised Llama (in memory, or
saved to a folder with a real word-level Hugging Face tokenizer, so that everything that loads
models by name can load it), a word tokenizer over a few texts, and a tokenizer that adds a
BOS token as Gemma's does. `conftest.py` offers them as fixtures."""

from __future__ import annotations

from pathlib import Path

from sample_data import SAMPLE

from attndsl import split_words

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
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        max_position_embeddings=512,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_llama(
    vocab_size: int, heads: int = 4, kv_heads: int = 2, hidden: int = 32, attention: str = "sdpa"
):
    """A tiny random Llama (seeded) for tests that bring their own tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
    )
    model = LlamaForCausalLM(config).eval()
    model.set_attn_implementation(attention)
    return model


class WordTokenizer:
    """A tokenizer over word tokens, enough for a small random model."""

    def __init__(self, texts):
        self.vocab = sorted({w for t in texts for w in split_words(t)})
        self.ids = {w: i for i, w in enumerate(self.vocab)}

    def __call__(self, text):
        return {"input_ids": [self.ids[w] for w in split_words(text)]}

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[i] for i in ids]


TEXTS = [
    "The cat sat on the mat. The cat ran.",
    "A dog barked!",
    "Roxy saw the sea, and she smiled. Then the sea was calm and blue and very wide.",
]


def bos_tokenizer(words=("the", "cat", "sat", "on", "mat", ".", "a", "dog", "ran")):
    """A small Hugging Face fast tokenizer over words that adds a BOS token, as Gemma's does."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<bos>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", 0)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", unk_token="<unk>")
