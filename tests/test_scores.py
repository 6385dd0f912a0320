"""Scores: references by hand, the fast pairwise kernel against them, scoring over a cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_model import TEXTS, WordTokenizer, tiny_llama

from attndsl import Vocab, library
from attndsl.models import extract
from attndsl.synth.scores import (
    METRICS,
    REFERENCES,
    ScoreError,
    ScoreTable,
    _pairwise_torch,
    attention_mass,
    jsd,
    pairwise,
    score_patterns,
    score_programs,
    soft_iou,
)


def causal(rng, count, n, sparsity=0.0, power=3.0):
    """Random causal row-normalised patterns; `sparsity` is the chance an entry is zero."""
    x = np.tril(rng.random((count, n, n)) ** power)
    x *= rng.random((count, n, n)) >= sparsity
    x[:, np.arange(n), np.arange(n)] += 1e-3 * (sparsity < 1)  # no empty rows
    return x / x.sum(-1, keepdims=True)


def one_hot(count, n, offset):
    x = np.zeros((count, n, n))
    x[:, np.arange(n), np.maximum(np.arange(n) - offset, 0)] = 1
    return x


def reference_table(candidates, heads, metric):
    return np.array([[REFERENCES[metric](p, a) for a in heads] for p in candidates])


# ---------------------------------------------------------------- the references, by hand
P3 = np.array([[1, 0, 0], [0.5, 0.5, 0], [0, 0, 1.0]])
A3 = np.array([[1, 0, 0], [1, 0, 0], [0.2, 0.3, 0.5]])


def test_hand_computed_three_by_three():
    assert soft_iou(P3, A3) == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert attention_mass(P3, A3) == pytest.approx(2 / 3)
    row = 0.5 * (0.5 * math.log2(2 / 3) + 0.5 + math.log2(4 / 3))  # rows 1 and 2; row 0 is 0
    assert jsd(P3, A3) == pytest.approx(2 * row / 3)
    for metric in METRICS:
        fast = pairwise(P3[None], A3[None], metric)
        assert fast.dtype == torch.float64 and fast.shape == (1, 1)
        assert float(fast) == pytest.approx(REFERENCES[metric](P3, A3), abs=1e-7)


def test_identical_and_disjoint_patterns():
    rng = np.random.default_rng(1)
    p = causal(rng, 1, 9)[0]
    assert soft_iou(p, p) == pytest.approx(1.0)
    assert jsd(p, p) == pytest.approx(0.0, abs=1e-12)
    assert attention_mass(p, p) == pytest.approx((p * p).sum() / 9)
    prev, self_ = one_hot(1, 9, 1)[0], one_hot(1, 9, 0)[0]  # both put row 0 on key 0
    rows = np.array([1.0] + [0.0] * 8)  # row 0 agrees, the other 8 rows are disjoint
    assert soft_iou(prev, self_) == pytest.approx(rows.mean())
    assert jsd(prev, self_) == pytest.approx(1 - rows.mean())  # base 2: disjoint rows give 1
    assert attention_mass(prev, self_) == pytest.approx(1 / 9)
    both = np.stack([prev, self_])
    np.testing.assert_allclose(pairwise(both, both, "iou").numpy(), [[1, 1 / 9], [1 / 9, 1]])


def test_empty_rows_score_one_and_the_upper_triangle_is_ignored():
    empty = np.zeros((4, 4))
    assert soft_iou(empty, empty) == 1.0
    assert attention_mass(empty, empty) == 0.0
    assert float(pairwise(empty[None], empty[None])) == 1.0
    rng = np.random.default_rng(2)
    p, a = causal(rng, 2, 6), causal(rng, 3, 6)
    noisy_p, noisy_a = p + np.triu(rng.random(p.shape), 1), a + np.triu(rng.random(a.shape), 1)
    for metric in METRICS:
        np.testing.assert_allclose(
            pairwise(noisy_p, noisy_a, metric).numpy(), reference_table(p, a, metric), atol=1e-6
        )


# ---------------------------------------------------------------- fast against reference
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n", [1, 2, 5, 33])
def test_pairwise_matches_the_reference(metric, n):
    rng = np.random.default_rng(n)
    candidates = np.concatenate(
        [causal(rng, 4, n), causal(rng, 4, n, sparsity=0.8), one_hot(1, n, 1), one_hot(1, n, 0)]
    )
    # float16 attention: rows sum to 1 only approximately
    heads = causal(rng, 5, n, power=6).astype(np.float16).astype(np.float32)
    assert abs(heads.sum(-1) - 1).max() > 0 or n == 1
    expected = reference_table(candidates, heads, metric)
    got = pairwise(torch.tensor(candidates, dtype=torch.float32), torch.tensor(heads), metric)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(
        _pairwise_torch(torch.tensor(candidates), torch.tensor(heads), metric).numpy(),
        expected,
        atol=1e-6,
    )


def test_rows_that_do_not_sum_to_one_are_used_exactly():
    p = np.array([[1.0, 0], [0.5, 0.5]])
    a = np.array([[1.002, 0], [0.3, 0.69]])  # float16-like sums
    expected = (1 / 1.002 + (0.3 + 0.5) / (0.5 + 0.69)) / 2  # Σmin / Σmax per row
    assert soft_iou(p, a) == pytest.approx(expected)
    assert float(pairwise(p[None], a[None])) == pytest.approx(expected, abs=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ScoreError, match="unknown metric 'l2'"):
        pairwise(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), "l2")
    with pytest.raises(ScoreError, match="same passage"):
        pairwise(np.zeros((1, 2, 2)), np.zeros((1, 3, 3)))
    with pytest.raises(ScoreError, match="empty passage"):
        pairwise(np.zeros((1, 0, 0)), np.zeros((1, 0, 0)))
    assert pairwise(np.zeros((0, 2, 2)), np.eye(2)[None]).shape == (0, 1)
    with pytest.raises(ScoreError, match=r"\[count, n, n\]"):
        pairwise(np.zeros((2, 2)), np.zeros((1, 2, 2)))


# ---------------------------------------------------------------- over a cache
@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    tokenizer = WordTokenizer(TEXTS)
    model = tiny_llama(len(tokenizer.vocab), heads=3, kv_heads=1, hidden=24, attention="eager")
    cache = extract(model, tokenizer, TEXTS, tmp_path_factory.mktemp("cache"), "tiny")
    return cache, Vocab.from_texts(tokenizer.vocab)


PROGRAMS = [
    "previous_token",
    "first_token_sink",
    "uniform_causal",
    "recency_decay",
    "sink_duplicate_token",
    "same_word",
]


@pytest.mark.parametrize("metric", METRICS)
def test_score_programs_matches_the_interpreter(tiny_cache, metric):
    cache, vocab = tiny_cache
    programs = [library()[name] for name in PROGRAMS]
    table = score_programs(
        programs, cache, [2, 0], vocab, metric, per_passage=True, max_cells=3 * 20 * 20
    )  # several batches of passages
    assert table.ids == [p.id for p in programs] and table.passages == [2, 0]
    assert table.per_passage.shape == (len(programs), 2, 3, 2)
    for p, passage in enumerate(table.passages):
        tokens = vocab.decode(cache.records[passage].ids)
        real = cache.attention(passage)
        for c, program in enumerate(programs):
            pattern = program(tokens)  # the interpreter: the reference meaning
            expected = [
                [REFERENCES[metric](pattern, real[layer, head]) for head in range(3)]
                for layer in range(2)
            ]
            np.testing.assert_allclose(table.per_passage[c, :, :, p], expected, atol=1e-6)
    np.testing.assert_allclose(table.mean, table.per_passage.mean(-1), atol=1e-6)
    assert set(table.seconds) == {"compile", "patterns", "attention", "compare"}


def test_score_patterns_batches_alike_and_reports_progress(tiny_cache):
    cache, _ = tiny_cache

    def patterns(batch):
        size = batch.max_length
        out = np.zeros((4, len(batch), size, size), np.float32)
        for b, n in enumerate(batch.lengths.tolist()):
            out[:, b, :n, :n] = causal(np.random.default_rng(int(batch.sequence(b)[0])), 4, n)
        return out

    seen = []
    whole = score_patterns(list("abcd"), patterns, cache, per_passage=True)
    parts = score_patterns(
        list("abcd"),
        patterns,
        cache,
        per_passage=True,
        max_cells=1,
        progress=lambda done, total: seen.append((done, total)),
    )
    np.testing.assert_allclose(parts.per_passage, whole.per_passage, atol=1e-7)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert whole.per_passage.std() > 0
    with pytest.raises(ScoreError, match="expected \\[2,"):
        score_patterns(["a", "b"], patterns, cache)
    with pytest.raises(ScoreError, match="no passage 7"):
        score_patterns(["a"], patterns, cache, [7])


def test_score_programs_refuses_a_vocabulary_of_another_tokenizer(tiny_cache):
    cache, _ = tiny_cache
    with pytest.raises(ScoreError, match="outside the vocabulary"):
        score_programs([library()["previous_token"]], cache, None, Vocab.from_texts(["a"]))


def test_best_orders_by_metric_direction():
    mean = np.array([0.2, 0.9, 0.5]).reshape(3, 1, 1)
    table = ScoreTable(["a", "b", "c"], [0], 1, 1, mean)
    assert table.best(0, 0, 2) == [("b", 0.9), ("c", 0.5)]
    table.metric = "jsd"
    assert table.best(0, 0) == [("a", 0.2)]
    assert [i for i, _ in table.best(0, 0, 10)] == ["a", "c", "b"]
