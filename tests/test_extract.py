"""Attention extraction: what is stored equals the model's attention; resume; refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sample_data import SAMPLE
from tiny_model import TEXTS, WordTokenizer, tiny_llama

from attndsl import split_words
from attndsl.models import AttentionCache, CacheError, extract


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = WordTokenizer(TEXTS)
    return tiny_llama(len(tokenizer.vocab), attention="eager"), tokenizer


def test_stored_attention_equals_the_model(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    cache = extract(model, tokenizer, TEXTS, tmp_path, "tiny", batch_size=2)
    assert len(cache) == 3
    for k, text in enumerate(TEXTS):
        ids = torch.tensor([tokenizer(text)["input_ids"]])
        with torch.inference_mode():
            expected = torch.stack(model(ids, output_attentions=True).attentions, 1)[0].numpy()
        np.testing.assert_allclose(cache.attention(k), expected, atol=2e-3)
        assert cache.records[k].pieces == tuple(split_words(text))


def test_resume_after_a_crash_repeats_nothing_done(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    extract(model, tokenizer, TEXTS, tmp_path, "tiny", batch_size=1)
    index = tmp_path / "index.jsonl"
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[:1]) + "\n" + lines[1][:20])  # crash mid-line
    with open(tmp_path / "attention.f16", "ab") as data:
        data.write(b"\x00" * 100)  # bytes of a passage never indexed
    cache = extract(model, tokenizer, TEXTS, tmp_path, "tiny", batch_size=1)
    assert [r.index for r in cache.records] == [0, 1, 2]
    fresh = extract(model, tokenizer, TEXTS, tmp_path / "fresh", "tiny")
    for k in range(3):
        np.testing.assert_array_equal(cache.attention(k), fresh.attention(k))


def test_refuses_another_corpus_and_corrupt_data(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    extract(model, tokenizer, TEXTS, tmp_path, "tiny")
    with pytest.raises(CacheError, match="another corpus"):
        extract(model, tokenizer, TEXTS[:2], tmp_path, "tiny")
    data = tmp_path / "attention.f16"
    raw = bytearray(data.read_bytes())
    raw[10] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CacheError, match="checksum"):
        AttentionCache(tmp_path).attention(0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match="format 99"):
        AttentionCache(tmp_path)


def test_a_reader_leaves_a_cut_index_alone_and_refuses_a_corrupt_one(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    extract(model, tokenizer, TEXTS, tmp_path, "tiny", batch_size=1)
    index = tmp_path / "index.jsonl"
    lines = index.read_text().splitlines()
    cut = "\n".join(lines[:2]) + "\n" + lines[2][:20]
    index.write_text(cut)
    assert [r.index for r in AttentionCache(tmp_path).records] == [0, 1]
    assert index.read_text() == cut  # reading repairs nothing; extract() resumes from it
    index.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    with pytest.raises(CacheError, match=r"index.jsonl:2: corrupt line"):
        AttentionCache(tmp_path)
    index.write_text("\n".join([lines[0], '{"index": 1}', lines[2]]) + "\n")
    with pytest.raises(CacheError, match=r"index.jsonl:2: corrupt index line"):
        AttentionCache(tmp_path)


@pytest.mark.slow
def test_smollm2_attention_rows_are_distributions(tmp_path):

    from attndsl.models import load_model
    from attndsl.models._corpus import passages, read_documents

    sample = SAMPLE
    texts = [p.text for p in passages(read_documents(sample)[:3], max_tokens=64, pack=True)][:4]
    model, tokenizer = load_model("smollm2")
    cache = extract(model, tokenizer, texts, tmp_path, "smollm2", max_tokens=64)
    attention = cache.attention(0)
    assert attention.shape[:2] == (30, 9)
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=5e-3)
