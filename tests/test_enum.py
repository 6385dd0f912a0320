"""The enumerative synthesiser: its primitives, the mixture programs it writes, its search.

The sentence used by hand below (word tokens, as `split_words` cuts them):

    position: 0      1       2      3     4       5       6      7
    token:    "The"  " cat"  " sat" "."   " The"  " cat"  " ran" "."
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from sample_data import SAMPLE

import attndsl
from attndsl.compiler import word_vocab
from attndsl.lang import split_words
from attndsl.models import spread
from attndsl.synth.enum import _kernels as K
from attndsl.synth.enum._data import attractors, fit_data, rows_of, rule_outputs, word_output
from attndsl.synth.enum._enumerate import enumerate_candidates, query_classes
from attndsl.synth.enum._mixture import (
    MixtureError,
    branched_source,
    canonical_weights,
    combine,
    explanation_program,
    mass_probe,
    mixture_program,
)
from attndsl.synth.enum._primitives import QUERY_CLASSES, primitive, primitives, word_rule
from attndsl.synth.enum._search import Search
from attndsl.synth.scores import soft_iou

TOKENS = ["The", " cat", " sat", ".", " The", " cat", " ran", "."]
CORPUS = SAMPLE


def sentences(count: int, words: int = 40) -> list[list[str]]:
    """Word-token passages from the development sample (the first `words` tokens of stories)."""
    lines = CORPUS.read_text().splitlines()[:count]
    return [split_words(json.loads(line)["text"])[:words] for line in lines]


def raw_output(rule, tokens) -> np.ndarray:
    """A rule's unnormalised output (weight 1) by the interpreter: its pattern times its row
    mass (read from its mass probe; 1 for a normalised rule)."""
    pattern = mixture_program([(rule, 1.0)])(tokens)
    if rule.normalised:
        return pattern
    probe = mass_probe(rule)(tokens)
    mass = np.ones(len(tokens))
    mass[1:] = probe[1:, 0] / probe[1:, 1]
    return pattern * mass[:, None]


# ---------------------------------------------------------------- primitives


def test_every_primitive_checks_and_its_rows_are_what_its_kind_says():
    keys = [p.key for p in primitives()]
    assert len(keys) == len(set(keys)) > 80
    tokens = sentences(1)[0]
    for rule in primitives():
        program = mixture_program([(rule, 1.0)])
        assert attndsl.load(program.text).id == program.id  # the canonical text round-trips
        assert program.docstring and rule.title.split()[0].lower() in program.docstring.lower()
        pattern = program(tokens)
        np.testing.assert_allclose(pattern.sum(1), 1.0, atol=1e-9)
        if not rule.normalised:  # its mass is what it found: 0 where it found nothing
            assert mass_probe(rule).id != program.id


def test_rules_by_hand_on_the_sentence():
    sink = {0: 1.0}
    expected = {
        "prev-1": [sink, {0: 1}, {1: 1}, {2: 1}, {3: 1}, {4: 1}, {5: 1}, {6: 1}],
        "last-end": [sink, sink, sink, {3: 1}, {3: 1}, {3: 1}, {3: 1}, {7: 1}],
        "before-end": [sink, sink, sink, sink, {3: 1}, {3: 1}, {3: 1}, {3: 1}],
        "induction": [sink, sink, sink, sink, {1: 1}, {2: 1}, sink, {4: 1}],
        "prev-sentence-start": [sink] * 8,
        "sentence-start": [sink] * 4 + [{4: 1}] * 4,
        "each-end": [sink, sink, sink, {3: 1}, {3: 1}, {3: 1}, {3: 1}, {3: 0.5, 7: 0.5}],
        "each-copy": [sink, sink, sink, sink, {0: 1}, {1: 1}, sink, {3: 1}],
    }
    for key, rows in expected.items():
        want = np.zeros((8, 8))
        for i, row in enumerate(rows):
            for j, v in row.items():
                want[i, j] = v
        np.testing.assert_allclose(
            mixture_program([(primitive(key), 1.0)])(TOKENS), want, err_msg=key
        )


def test_mass_probe_reads_the_count_of_keys():
    mass = raw_output(primitive("each-stop"), TOKENS).sum(1)  # "The" is a stop word
    np.testing.assert_allclose(mass, [1, 1, 1, 1, 2, 2, 2, 2])
    mass = raw_output(primitive("each-token"), TOKENS).sum(1)
    np.testing.assert_allclose(mass[1:], np.arange(2, 9))
    with pytest.raises(MixtureError):
        mass_probe(primitive("prev-1"))


def test_every_primitive_compiles_and_matches_the_interpreter():
    rules = primitives()[::9]  # a spread of kinds; all of them: the slow test below
    tokens = sentences(2, 25)
    vocab = word_vocab(tokens)
    for rule in rules:
        kernel = attndsl.compile(mixture_program([(rule, 1.0)]), backend="numba")
        for got, seq in zip(kernel.on_tokens(tokens, vocab), tokens):
            np.testing.assert_allclose(got, mixture_program([(rule, 1.0)])(seq), atol=1e-6)


@pytest.mark.slow
def test_all_primitives_and_probes_compile():
    for rule in primitives():
        attndsl.compile(mixture_program([(rule, 1.0)]), backend="numba")
        if not rule.normalised:
            attndsl.compile(mass_probe(rule), backend="numba")


def test_word_rule_writes_a_tuple_of_words_and_refuses_quotes():
    rule = word_rule(["cat", "."])
    program = mixture_program([(rule, 1.0)])
    assert '"cat"' in program.text and rule.words == ("cat", ".")
    # row 0 is all on position 0 whatever the mass, so its mass reads as 1
    np.testing.assert_allclose(raw_output(rule, TOKENS).sum(1), [1, 1, 1, 2, 2, 3, 3, 4])
    for bad in (['say "hi"'], ["a b"], ["back\\slash"], []):
        with pytest.raises(attndsl.AttnDslError):
            word_rule(bad)


# ---------------------------------------------------------------- mixtures


def test_canonical_weights():
    sink, prev, each = primitive("first"), primitive("prev-1"), primitive("each-token")
    assert canonical_weights([sink, prev], [0.623, 0.377]) == (0.62, 0.38)
    assert canonical_weights([sink, prev], [2.0, 1.0]) == (0.67, 0.33)
    assert sum(canonical_weights([sink, prev, each], [1, 1, 1])) != 1  # raw: smallest is 1
    assert canonical_weights([sink, each], [37.3, 0.5]) == (75.0, 1.0)
    assert canonical_weights([sink, each], [0.001, 2.0]) == (1.0, 2000.0)
    for bad in ([0.0, 1.0], [-1.0, 2.0], [float("nan"), 1.0]):
        with pytest.raises(MixtureError):
            canonical_weights([sink, prev], bad)


@pytest.mark.parametrize("seed", range(6))
def test_a_mixture_program_is_the_combination_of_its_rules(seed):
    rng = np.random.default_rng(seed)
    rules = [
        primitives()[k]
        for k in rng.choice(len(primitives()), int(rng.integers(1, 5)), replace=False)
    ]
    weights = canonical_weights(rules, rng.random(len(rules)) + 0.05)
    program = mixture_program(list(zip(rules, weights)))
    again = attndsl.load(program.text)
    assert again.id == program.id and again.text == program.text  # canonical, id stable
    for tokens in [TOKENS, *sentences(2, 30)]:
        want = combine([raw_output(rule, tokens) for rule in rules], weights)
        np.testing.assert_allclose(program(tokens), want, atol=1e-5)
    if seed < 2:  # and so is its compiled kernel
        vocab = word_vocab([TOKENS])
        got = attndsl.compile(program, backend="numba").on_tokens([TOKENS], vocab)[0]
        np.testing.assert_allclose(got, program(TOKENS), atol=1e-5)


def test_a_branched_program_takes_each_row_from_its_query_class():
    a = [(primitive("first"), 0.4), (primitive("self"), 0.6)]
    b = [(primitive("first"), 3.0), (primitive("each-token"), 1.0)]
    c = [(primitive("prev-1"), 1.0)]
    program = explanation_program([("punct", a), ("stop", b), ("other", c)])
    assert "Punctuation queries" in program.docstring and "elif is_stop" in program.text
    assert program.name == "Previous token, by query class"  # named by its usual branch
    got = program(TOKENS)
    for i, token in enumerate(TOKENS):
        terms = a if token == "." else b if token.strip() == "The" else c
        rules, weights = zip(*terms)
        want = combine([raw_output(r, TOKENS) for r in rules], weights)[i]
        np.testing.assert_allclose(got[i], want, atol=1e-9)
    with pytest.raises(MixtureError):
        branched_source([("stop", b), ("punct", a), ("other", c)])
    assert query_classes(word_vocab([TOKENS]).encode(TOKENS), word_vocab([TOKENS])).tolist() == [
        1,
        2,
        2,
        0,
        1,
        2,
        2,
        0,
    ]
    assert [k for k, _, _ in QUERY_CLASSES][-1] == "other"


# ---------------------------------------------------------------- the search


RULES = [
    "first",
    "self",
    "prev-1",
    "prev-2",
    "decay-0.5",
    "uniform",
    "each-token",
    "last-end",
    "each-end",
    "each-stop",
    "duplicate",
    "induction",
    "sentence-start",
]


@pytest.fixture(scope="module")
def small():
    """Fit data of 12 passages for a few rules (their kernels compile in seconds)."""
    passages = sentences(12)
    vocab = word_vocab(passages)
    cache = SimpleNamespace(records=[SimpleNamespace(ids=vocab.encode(p)) for p in passages])
    rules = [primitive(k) for k in RULES]
    return fit_data(cache, range(len(passages)), rules, vocab), rules, passages, vocab


def planted(data, rules, terms):
    """Attention made from a known mixture: packed pattern [T] and its row sums."""
    index = [k.key for k in rules]
    idx = np.array([index.index(key) for key, _ in terms])
    weights = np.array([w for _, w in terms], np.float64)
    raw = K.mix(data.comps, idx, weights)
    mass = (weights[:, None] * data.csum[idx]).sum(0)
    a = (raw / np.repeat(mass, data.lens)).astype(np.float32)
    return a, K.row_sums(a[None], data.starts, data.lens)[0]


def test_search_scores_equal_the_reference_soft_iou(small):
    data, rules, passages, _ = small
    a, asum = planted(data, rules, [("first", 0.5), ("prev-1", 0.5)])
    found = Search(data, a, asum, 3, rules)
    terms = ((1, 2.0), (6, 1.0), (8, 3.0))  # self, each-token, each-end
    score = found.score([1, 6, 8], np.array([2.0, 1.0, 3.0]))[0]
    heads, tokens = [], []
    start = 0
    for seq in passages:
        n = len(seq)
        block = np.zeros((n, n))
        block[np.tril_indices(n)] = a[start : start + n * (n + 1) // 2]
        start += n * (n + 1) // 2
        heads.append(block)
        tokens.append(seq)
    want = np.mean(
        [
            soft_iou(
                combine([raw_output(rules[r], seq) for r, _ in terms], [w for _, w in terms]), head
            )
            for seq, head in zip(tokens, heads)
        ]
    )
    assert score == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize(
    "terms",
    [
        [("first", 0.6), ("prev-1", 0.4)],
        [("first", 20.0), ("each-token", 1.0), ("each-end", 5.0)],
        [("decay-0.5", 0.7), ("duplicate", 0.2), ("sentence-start", 0.1)],
        [("self", 0.5), ("prev-2", 0.3), ("last-end", 0.2)],
    ],
)
def test_search_recovers_planted_mixtures(small, terms):
    data, rules, _, _ = small
    a, asum = planted(data, rules, terms)
    best = Search(data, a, asum, 3, rules).run(3)
    assert best[0].score > 0.95
    assert {rules[r].key for r in best[0].rules} >= {k for k, w in terms if w >= 0.2}
    again = Search(data, a, asum, 3, rules).run(3)
    assert again == best  # deterministic


def test_attractors_find_the_words_a_head_reads(small):
    data, _, passages, _ = small
    words = word_output(data, ["the"])
    a = combine_packed(data, [K.mix(data.comps, np.array([0]), np.ones(1)), words], [1.0, 4.0])
    found = attractors(data, a, 3)
    assert found[:1] == ["the"]
    assert word_output(data, ["the"]).sum() == pytest.approx(
        sum(np.tril(np.array([[t.strip() == "the" for t in p]] * len(p))).sum() for p in passages)
    )


def combine_packed(data, raws, weights):
    total = sum(w * r for r, w in zip(raws, weights))
    mass = K.row_sums(total[None], data.starts, data.lens)[0]
    return (total / np.repeat(mass, data.lens)).astype(np.float32)


def test_word_output_is_what_the_compiled_word_rule_writes(small):
    data, _, passages, vocab = small
    words = ["the", ".", "was"]
    compiled = rule_outputs([word_rule(words)], [vocab.encode(p) for p in passages], vocab)[0]
    later = np.repeat(data.lens > 1, data.lens)  # row 0: all on position 0 in any pattern
    np.testing.assert_allclose(compiled[later], word_output(data, words)[later], atol=1e-5)
    assert word_output(data, words).sum() > 100


def test_spread_and_rows():
    assert spread(range(10), 3) == [0, 4, 9] and spread([5, 6], 3) == [5, 6]
    starts, lens, weight = rows_of([2, 3])
    assert starts.tolist() == [0, 1, 3, 4, 6] and lens.tolist() == [1, 2, 1, 2, 3]
    assert weight.sum() == pytest.approx(1.0)


# ---------------------------------------------------------------- end to end


class PlantedModel:
    """A stand-in model for `extract`: each head's attention is a known mixture program."""

    def __init__(self, programs, vocab):
        self.kernels = [attndsl.compile(p, backend="numba") for p in programs]
        self.vocab = vocab
        self.config = SimpleNamespace(
            num_hidden_layers=1, num_attention_heads=len(programs), to_json_string=lambda: "planted"
        )

    def __call__(self, input_ids, attention_mask, output_attentions):
        import torch

        seqs = [row[mask.bool()].tolist() for row, mask in zip(input_ids, attention_mask)]
        width = input_ids.shape[1]
        out = torch.zeros(len(seqs), len(self.kernels), width, width)
        for h, kernel in enumerate(self.kernels):
            patterns = kernel(seqs, self.vocab)
            out[:, h, : patterns.shape[1], : patterns.shape[2]] = patterns
        return SimpleNamespace(attentions=(out,))


@pytest.mark.slow
def test_enumerate_candidates_explains_planted_heads(tmp_path):
    from tiny_model import WordTokenizer

    from attndsl.models import extract
    from attndsl.synth.scores import score_programs

    texts = [
        "".join(split_words(json.loads(line)["text"])[:50])
        for line in CORPUS.read_text().splitlines()[:40]
    ]
    tokenizer = WordTokenizer(texts)
    vocab = attndsl.Vocab.from_texts(tokenizer.vocab)
    truth = [
        mixture_program([(primitive("first"), 0.6), (primitive("prev-1"), 0.4)]),
        mixture_program(
            [
                (primitive("first"), 20.0),
                (primitive("each-token"), 1.0),
                (primitive("each-end"), 5.0),
            ]
        ),
        explanation_program(
            [
                ("punct", [(primitive("self"), 1.0)]),
                ("other", [(primitive("decay-0.5"), 0.7), (primitive("duplicate"), 0.3)]),
            ]
        ),
    ]
    cache = extract(PlantedModel(truth, vocab), tokenizer, texts, tmp_path, "planted")
    found = enumerate_candidates(cache, range(len(cache)), vocab, keep=2)
    assert sorted(found) == [(0, 0), (0, 1), (0, 2)]
    for (_, h), candidates in found.items():
        assert 1 <= len(candidates) <= 2 and all(c.origin == "enum" for c in candidates)
        table = score_programs([candidates[0].program], cache, None, vocab)
        assert table.mean[0, 0, h] > 0.95, candidates[0].program.text
