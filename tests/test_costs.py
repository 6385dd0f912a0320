"""Choosing heads to replace by measured cost, and the perplexity table."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_model import TEXTS, WordTokenizer, tiny_llama

from attndsl import compile, library
from attndsl.compiler import Vocab
from attndsl.models import (
    as_layers,
    encode,
    head_costs,
    head_means,
    heads_at,
    kernel_patterns,
    perplexity,
    perplexity_table,
    replacement_order,
)
from attndsl.models._perplexity import batch_loss, batches


@pytest.fixture(scope="module")
def setup():
    tokenizer = WordTokenizer(TEXTS)
    model = tiny_llama(len(tokenizer.vocab))
    vocab = Vocab.from_texts(tokenizer.vocab)
    programs = library()
    kernels = {
        (layer, head): compile(programs[name], "numba")
        for layer in range(2)
        for head, name in enumerate(
            ["previous_token", "first_token_sink", "uniform_causal", "self_token"]
        )
    }
    return model, tokenizer, vocab, kernels


def test_costs_are_measured_one_head_at_a_time(setup):
    model, tokenizer, vocab, kernels = setup
    costs = head_costs(model, encode(tokenizer, TEXTS), kernels, vocab, batch_tokens=16)
    assert set(costs) == set(kernels)
    plain = perplexity(model, encode(tokenizer, TEXTS))["cross_entropy"]
    alone = perplexity(
        model, encode(tokenizer, TEXTS), patterns=kernel_patterns({(1, 2): kernels[(1, 2)]}, vocab)
    )
    assert math.isclose(costs[(1, 2)], alone["cross_entropy"] - plain, abs_tol=1e-6)
    assert len({round(c, 9) for c in costs.values()}) > 1


def test_order_and_fractions():
    costs = {(0, 0): 0.3, (0, 1): -0.1, (1, 0): 0.3, (1, 1): 0.0}
    order = replacement_order(costs)
    assert order == [(0, 1), (1, 1), (0, 0), (1, 0)]
    assert heads_at(order, 0.5, 4) == [(0, 1), (1, 1)]
    assert heads_at(order, 0.0, 4) == []
    assert heads_at(order, 1.0, 8) == order  # no more than were ranked
    assert as_layers([(1, 1), (0, 1), (1, 0)]) == {0: [1], 1: [0, 1]}
    with pytest.raises(ValueError, match="fraction"):
        heads_at(order, 1.5, 4)


def test_perplexity_table_rows(setup):
    model, tokenizer, vocab, kernels = setup
    order = sorted(kernels)
    means = head_means(model, encode(tokenizer, TEXTS))
    rows = perplexity_table(
        model,
        encode(tokenizer, TEXTS),
        order,
        kernels,
        vocab,
        total=8,
        fractions=(0.0, 0.25, 1.0),
        means=means,
    )
    assert [r["heads"] for r in rows] == [0, 2, 8]
    plain = perplexity(model, encode(tokenizer, TEXTS))["perplexity"]
    assert rows[0]["programs"] == rows[0]["mean"] == plain
    for row in rows[1:]:
        assert set(row) >= {"programs", "mean", "uniform", "first"}
        assert row["programs"] != plain and row["uniform"] != row["first"]


def test_fractions_that_replace_no_more_heads_get_no_row(setup):
    """Two explained heads of 270: 10%, 25% and 50% would all replace the same two."""
    model, tokenizer, vocab, kernels = setup
    order = sorted(kernels)[:2]
    rows = perplexity_table(
        model,
        encode(tokenizer, TEXTS),
        order,
        kernels,
        vocab,
        total=270,
        fractions=(0.0, 0.1, 0.25, 0.5),
    )
    assert [(r["fraction"], r["heads"], r["of"]) for r in rows] == [(0.0, 0, 270), (0.1, 2, 270)]


def test_attribution_is_the_derivative_of_the_exact_cost(setup):
    """Attribution patching gives d(loss)/dα at α = 0 for the pattern A + α (P − A), where A
    is the head's own attention: checked by a finite difference per head."""
    model, tokenizer, vocab, kernels = setup
    passages = encode(tokenizer, TEXTS)
    attributed = head_costs(model, passages, kernels, vocab, method="attribution", batch_tokens=32)
    assert set(attributed) == set(kernels)
    programs = kernel_patterns(kernels, vocab)
    step = 1e-2
    for head in [(0, 0), (1, 2), (1, 3)]:
        base = moved = 0.0
        tokens = 0
        for ids, mask in batches(passages, 32):
            model.set_attn_implementation("eager")
            with torch.inference_mode():
                own = model(input_ids=ids, attention_mask=mask, output_attentions=True)
            attention = own.attentions[head[0]][:, head[1]]
            target = programs(ids, mask.sum(1))[head[0]][head[1]]
            mixed = attention + step * (target - attention)
            plain, count = batch_loss(model, ids, mask)
            shifted, _ = batch_loss(model, ids, mask, {head[0]: {head[1]: mixed}})
            base, moved, tokens = base + plain, moved + shifted, tokens + count
        slope = (moved - base) / tokens / step
        assert math.isclose(attributed[head], slope, rel_tol=0.05, abs_tol=1e-4), head


def test_exact_and_attribution_costs_rank_heads_alike(setup):
    model, tokenizer, vocab, kernels = setup
    passages = encode(tokenizer, TEXTS)
    exact = head_costs(model, passages, kernels, vocab, method="exact")
    attributed = head_costs(model, passages, kernels, vocab, method="attribution")
    heads = sorted(kernels)
    ranks = [sorted(heads, key=costs.get).index(h) for costs in (exact, attributed) for h in heads]
    assert sum(abs(a - b) for a, b in zip(ranks[: len(heads)], ranks[len(heads) :])) <= len(heads)
    with pytest.raises(ValueError, match="cost method"):
        head_costs(model, passages, kernels, vocab, method="guess")


def test_layers_below_a_replaced_head_replay_their_unmodified_outputs(setup):
    from attndsl.models._prefix import decoder_layers, record_layers, replaying

    model, tokenizer, vocab, kernels = setup
    ids, mask = batches(encode(tokenizer, TEXTS), 256)[0]
    patterns = kernel_patterns(kernels, vocab)(ids, mask.sum(1))
    layers = decoder_layers(model)
    assert layers is not None and decoder_layers(object()) is None
    plain, outputs = record_layers(layers, lambda: batch_loss(model, ids, mask))
    assert plain == batch_loss(model, ids, mask) and len(outputs) == 2
    chosen = {1: {2: patterns[1][2]}}
    with replaying(layers, outputs, 1):
        replayed = batch_loss(model, ids, mask, chosen)
    assert "forward" not in vars(layers[0])  # restored
    assert replayed == batch_loss(model, ids, mask, chosen) != plain
