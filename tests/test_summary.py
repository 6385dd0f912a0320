"""Head summaries: known patterns show up where they should; text, JSON and view are stable."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from rich.console import Console
from sample_data import SAMPLE
from tiny_model import WordTokenizer

from attndsl import token_key
from attndsl.models import extract
from attndsl.models._corpus import passages, read_documents
from attndsl.synth._summary import (
    CLASSES,
    OFFSETS,
    HeadSummary,
    SummaryError,
    _context,
    summarise,
    summarise_all,
)
from attndsl.views._summary_view import render_summary

EXTRA = (
    "Supercalifragilisticexpialidocious is a word.\nThe cat sat. The cat sat again, "
    "and the cat sat once more."
)


def _last(keys, i, match):
    """The last j in [1, i) with match(j), else 0 (the first position)."""
    return next((j for j in range(i - 1, 0, -1) if match(j)), 0)


RULES = {  # (layer, head) → the one key each query attends to (None: uniform)
    (0, 0): lambda keys, i: max(i - 1, 0),
    (0, 1): lambda keys, i: 0,
    (0, 2): lambda keys, i: _last(keys, i, lambda j: keys[j] == keys[i]),
    (0, 3): None,
    (1, 0): lambda keys, i: _last(keys, i, lambda j: keys[j - 1] == keys[i]),
    (1, 1): lambda keys, i: i,
    (1, 2): lambda keys, i: i - 5 if i >= 6 else 0,
    (1, 3): lambda keys, i: 0,
}


class PatternModel:
    """A stand-in for a model whose heads each follow one rule of `RULES` on token keys."""

    def __init__(self, vocab):
        self.keys = [token_key(t) for t in vocab]
        self.config = SimpleNamespace(
            num_hidden_layers=2, num_attention_heads=4, to_json_string=lambda: "pattern model"
        )

    def __call__(self, input_ids, attention_mask, output_attentions):
        batch, width = input_ids.shape
        out = torch.zeros(batch, 2, 4, width, width)
        for b in range(batch):
            n = int(attention_mask[b].sum())
            keys = [self.keys[t] for t in input_ids[b, :n].tolist()]
            for (layer, head), rule in RULES.items():
                for i in range(n):
                    if rule is None:
                        out[b, layer, head, i, : i + 1] = 1.0 / (i + 1)
                    else:
                        out[b, layer, head, i, rule(keys, i)] = 1.0
        return SimpleNamespace(attentions=tuple(out[:, layer] for layer in range(2)))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    stories = [p.text for p in passages(read_documents(SAMPLE)[:4], max_tokens=64, pack=True)]
    texts = [*stories[:7], EXTRA]
    tokenizer = WordTokenizer(texts)
    folder = tmp_path_factory.mktemp("patterns")
    return extract(PatternModel(tokenizer.vocab), tokenizer, texts, folder, "patterns")


@pytest.fixture(scope="module")
def summaries(cache):
    return summarise_all(cache, range(len(cache)))


def _share(cache, head, test):
    """Fraction of query rows i >= 1 whose one key j = rule(i) passes test(keys, i, j)."""
    hits = rows = 0
    for record in cache.records:
        keys = [token_key(p) for p in record.pieces]
        for i in range(1, len(keys)):
            rows += 1
            hits += bool(test(keys, i, RULES[head](keys, i)))
    return hits / rows


def test_offsets_of_position_heads(cache, summaries):
    previous = summaries[(0, 0)].offsets
    assert previous["-1"] == pytest.approx(
        _share(cache, (0, 0), lambda k, i, j: j == i - 1 > 0), abs=1e-3
    )
    assert previous["-1"] > 0.97 and previous["first"] < 0.03  # row 1's previous token is first
    assert summaries[(1, 1)].offsets["self"] == pytest.approx(1.0, abs=1e-3)
    window = summaries[(1, 2)].offsets
    assert window["-4..-8"] == pytest.approx(_share(cache, (1, 2), lambda k, i, j: j > 0), abs=1e-3)
    assert window["-4..-8"] + window["first"] == pytest.approx(1.0, abs=1e-3)
    for summary in summaries.values():
        assert sum(summary.offsets.values()) == pytest.approx(1.0, abs=2e-3)
        assert set(summary.offsets) == set(OFFSETS) and set(summary.classes) == set(CLASSES)


def test_sink_head_reports_first_and_no_pairs(summaries):
    sink = summaries[(0, 1)]
    assert sink.offsets["first"] == pytest.approx(1.0, abs=1e-3)
    assert max(sink.classes.values()) == 0.0
    assert sink.examples == []  # nothing but the first position: no pairs to show
    assert sink.entropy == pytest.approx(0.0, abs=1e-3)


def test_duplicate_and_induction_heads(cache, summaries):
    duplicate = summaries[(0, 2)]
    expected = _share(cache, (0, 2), lambda k, i, j: j > 0)
    assert 0.1 < expected < 0.9
    assert duplicate.classes["repeat"] == pytest.approx(expected, abs=1e-3)
    assert duplicate.classes["repeat"] > 5 * duplicate.baseline["repeat"]
    assert duplicate.offsets["first"] == pytest.approx(1 - expected, abs=1e-3)
    assert all(e.query_token.strip() == e.key_token.strip() for e in duplicate.examples)
    induction = summaries[(1, 0)]
    expected = _share(cache, (1, 0), lambda k, i, j: j > 0)
    assert induction.classes["induction"] == pytest.approx(expected, abs=1e-3)
    assert induction.classes["repeat"] < induction.classes["induction"] / 3


def test_uniform_head_matches_baseline_and_maximal_entropy(summaries):
    uniform = summaries[(0, 3)]
    assert uniform.entropy_norm == pytest.approx(1.0, abs=5e-3)
    for name in CLASSES:
        assert uniform.classes[name] == pytest.approx(uniform.baseline[name], abs=5e-3)
    assert summaries[(0, 0)].entropy_norm < 0.01


def test_examples_are_strongest_pairs_in_context(summaries):
    previous = summaries[(0, 0)]
    assert len(previous.examples) == 8
    assert len({e.passage for e in previous.examples}) == 8  # one per passage when many
    for e in previous.examples:
        assert e.offset == -1 and e.weight == pytest.approx(1.0, abs=1e-3)
        assert "{" + e.key_token.strip() + "}" in e.context
        assert "[" + e.query_token.strip() + "]" in e.context
    assert "starter" not in previous.text()  # no starters given: no starter line


def test_context_marks_escapes_and_elides():
    tokens = [
        "Once",
        " upon",
        " a",
        " time",
        ".",
        "\n",
        "The",
        " cat",
        " sat",
        " and",
        " sat",
        " on",
        " the",
        " mat",
        ".",
    ]
    assert _context(tokens, 10, 8) == "….\\nThe cat {sat} and [sat] on…"
    assert _context(tokens, 14, 1) == "Once {upon} a … sat on the mat[.]"
    assert _context(tokens, 3, 3) == "Once upon a [{time}].…"
    assert _context(tokens, 9, None) == "… upon a time.\\nThe cat sat [and]"
    assert _context(["x" * 40, "y"], 1, 0) == "{" + "x" * 13 + "…}[y]"


def test_text_is_deterministic_and_bounded(cache, summaries):
    again = summarise_all(cache, range(len(cache)))
    one = summarise(cache, range(len(cache)), 0, 2)
    assert one.text().encode() == again[(0, 2)].text().encode()
    assert one.to_json() == summaries[(0, 2)].to_json()
    for head, summary in summaries.items():
        text = summary.text()
        assert text.encode() == again[head].text().encode()
        assert 400 < len(text) < 2400, (head, len(text))  # about 100 to 600 tokens


def test_starters_sorted_and_shown(cache):
    given = [("first_token", 0.2), ("previous_token", 0.95), ("self", 0.2), ("b", 0.1)] * 2
    summary = summarise(cache, [0, 1], 0, 0, starters=given)
    assert summary.starters[:3] == [("previous_token", 0.95)] * 2 + [("first_token", 0.2)]
    assert "previous_token 0.95, previous_token 0.95, first_token 0.20" in summary.text()


def test_json_round_trip(cache):
    summary = summarise(cache, range(len(cache)), 1, 0, starters=[("induction", 0.5)])
    entry = json.loads(json.dumps(summary.to_json()))
    back = HeadSummary.from_json(entry)
    assert back == summary and back.text() == summary.text()
    with pytest.raises(SummaryError, match="format"):
        HeadSummary.from_json({**entry, "version": 99})


def test_view_fits_80_columns(cache, summaries):
    console = Console(width=80, record=True, color_system=None)
    summary = summarise(
        cache,
        range(len(cache)),
        0,
        0,
        starters=[("a_program_name_far_too_long_" * 4, 0.5), ("prev", 0.9)],
    )
    for shown in (summary, summaries[(0, 1)], summaries[(0, 3)]):
        console.print(render_summary(shown))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("query [q], key {k}" in line for line in lines)  # brackets are not markup
    assert any("█" in line for line in lines)


def test_bad_requests_name_the_cache(cache):
    with pytest.raises(SummaryError, match=r"no head \(layer 2, head 0\).*2 layers × 4 heads"):
        summarise(cache, [0], 2, 0)
    with pytest.raises(SummaryError, match="no passage 99"):
        summarise(cache, [0, 99], 0, 0)
    with pytest.raises(SummaryError, match="no passages"):
        summarise_all(cache, [])


def test_progress_and_head_selection(cache):
    calls = []
    found = summarise_all(
        cache,
        [0, 2],
        heads=[(1, 1), (0, 0)],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert list(found) == [(1, 1), (0, 0)] and calls == [(1, 2), (2, 2)]
    assert found[(0, 0)].passages == 2
    assert found[(0, 0)].tokens == len(cache.records[0].ids) + len(cache.records[2].ids)
    np.testing.assert_allclose(found[(1, 1)].offsets["self"], 1.0, atol=1e-3)
