"""Perplexity with surrogate heads and the baselines."""

from __future__ import annotations

import math

import pytest
import torch
from sample_data import SAMPLE
from tiny_model import TEXTS, WordTokenizer, tiny_llama

from attndsl.models import encode, fixed_patterns, head_means, mean_patterns, perplexity


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = WordTokenizer(TEXTS)
    return tiny_llama(len(tokenizer.vocab)), tokenizer


def test_perplexity_matches_the_models_own_loss(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    result = perplexity(model, encode(tokenizer, TEXTS[:1]))
    ids = torch.tensor([tokenizer(TEXTS[0])["input_ids"]])
    with torch.inference_mode():
        loss = float(model(ids, labels=ids).loss)
    assert result["tokens"] == ids.shape[1] - 1
    assert math.isclose(result["cross_entropy"], loss, rel_tol=1e-5)
    batched = perplexity(model, encode(tokenizer, TEXTS), batch_tokens=24)
    one_by_one = [perplexity(model, encode(tokenizer, [t])) for t in TEXTS]
    mean = sum(r["cross_entropy"] * r["tokens"] for r in one_by_one) / batched["tokens"]
    assert math.isclose(batched["cross_entropy"], mean, rel_tol=1e-5)  # padding is excluded


def test_baselines_change_perplexity_and_means_are_per_head(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    heads = {0: [0, 1], 1: [2]}
    plain = perplexity(model, encode(tokenizer, TEXTS))["perplexity"]
    for patterns in (fixed_patterns("uniform", heads), fixed_patterns("first", heads)):
        assert perplexity(model, encode(tokenizer, TEXTS), patterns=patterns)["perplexity"] != plain
    means = head_means(model, encode(tokenizer, TEXTS))
    assert set(means) == {(layer, head) for layer in range(2) for head in range(4)}
    assert means[(0, 0)].shape == (8,)
    ablated = perplexity(model, encode(tokenizer, TEXTS), patterns=mean_patterns(means, heads))
    assert ablated["perplexity"] != plain and ablated["tokens"] > 0


@pytest.mark.slow
def test_smollm2_perplexity_and_a_baseline():

    from attndsl.models import load_model
    from attndsl.models._corpus import passages, read_documents

    sample = SAMPLE
    texts = [p.text for p in passages(read_documents(sample)[:4], max_tokens=96, pack=True)]
    model, tokenizer = load_model("smollm2", attention="sdpa")
    plain = perplexity(model, encode(tokenizer, texts))
    assert 3 < plain["perplexity"] < 40 and plain["tokens"] > 200
    worse = perplexity(
        model, encode(tokenizer, texts), patterns=fixed_patterns("first", {5: [0, 1, 2]})
    )
    assert worse["perplexity"] > plain["perplexity"]


@pytest.mark.slow
def test_perplexity_and_extract_commands(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "ppl.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "attndsl",
            "perplexity",
            "--max-passages",
            "4",
            "--pack",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["passages"] == 4 and result["tokens"] > 100 and result["perplexity"] > 1
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "attndsl",
            "extract",
            "--max-passages",
            "2",
            "--out",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "2 passages" in done.stdout


@pytest.mark.slow
def test_overhead_benchmark_structure(tmp_path):
    import io
    import json

    from rich.console import Console

    from attndsl.bench import run_overhead_benchmark

    out = tmp_path / "overhead.json"
    result = run_overhead_benchmark(
        repeat=1, json_path=out, sentences=2, length=32, console=Console(file=io.StringIO())
    )
    assert json.loads(out.read_text()) == result
    assert result["heads_replaced"] == 68 and result["sdpa_s"] > 0
    assert {"ratio_0pct", "ratio_25pct"} <= set(result)


def test_batches_hold_at_most_the_token_budget_longest_first():
    from attndsl.models._perplexity import batches

    passages = [[1] * n for n in (3, 9, 1, 5, 5, 2, 8)]
    found = batches(passages, batch_tokens=16)
    shapes = [tuple(ids.shape) for ids, _ in found]
    assert shapes == [
        (1, 9),
        (2, 8),
        (3, 5),
    ]  # 9 | 8 5 | 5 3 2; the 1-token passage predicts nothing
    assert all(ids.numel() <= 16 for ids, _ in found)
    assert sorted(int(n) for _, mask in found for n in mask.sum(1)) == [2, 3, 5, 5, 8, 9]
