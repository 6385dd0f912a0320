"""Corpora: reading, sentence-aligned passages, held-out splits, clear errors."""

from __future__ import annotations

import json

import pytest
from sample_data import SAMPLE
from tiny_model import bos_tokenizer

from attndsl.models import split_sentences
from attndsl.models._corpus import (
    CorpusError,
    passages,
    read_documents,
    split_passages,
)


def test_sentences_join_back_and_end_at_punctuation():
    text = 'Roxy ran. "Why?" she asked!\nThen she slept'
    parts = split_sentences(text)
    assert "".join(parts) == text
    assert parts == ["Roxy ran. ", '"Why?" she asked!\n', "Then she slept"]
    assert split_sentences('"Stop!"\nthen more') == ['"Stop!"\n', "then more"]
    assert split_sentences("a cat. a dog.") == ["a cat. ", "a dog."]


def test_passages_hold_whole_sentences_within_the_budget():
    documents = read_documents(SAMPLE)
    assert len(documents) == 188
    found = passages(documents, max_tokens=128, pack=True)
    for passage in found:
        assert len(passage.text.split()) <= 128
        assert passage.text in documents[passage.document]
    joined = {}
    for passage in found:
        joined.setdefault(passage.document, []).append(passage.text)
    assert " ".join(joined[0]).split() == documents[0].split()


def test_long_sentence_is_cut_with_a_warning():
    with pytest.warns(UserWarning, match="cut"):
        found = passages(["word " * 50 + "."], max_tokens=10)
    assert all(len(p.text.split()) <= 10 for p in found)


def test_by_default_each_sentence_is_a_passage():
    documents = read_documents(SAMPLE)
    found = passages(documents, max_tokens=128)
    assert [p.text for p in found if p.document == 0] == [
        s.strip() for s in split_sentences(documents[0]) if s.strip()
    ]
    assert len(found) > 5 * len(passages(documents, max_tokens=128, pack=True))


def test_splits_are_deterministic_disjoint_and_per_document():
    documents = read_documents(SAMPLE)
    found = passages(documents, max_tokens=128, pack=True)
    first = split_passages(documents, found, seed=3)
    again = split_passages(
        list(reversed(documents)), passages(list(reversed(documents)), 128, pack=True), seed=3
    )
    texts = {name: {p.text for p in group} for name, group in first.items()}
    assert texts == {name: {p.text for p in group} for name, group in again.items()}
    assert not texts["fit"] & texts["select"] and not texts["fit"] & texts["test"]
    docs = {name: {p.document for p in group} for name, group in first.items()}
    assert not docs["fit"] & docs["test"] and not docs["select"] & docs["test"]
    assert 0.4 < len(first["fit"]) / len(found) < 0.8
    assert split_passages(documents, found, seed=4) != first


def test_bad_files_name_the_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(CorpusError, match="no text"):
        read_documents(empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"text": "ok"}) + "\n{not json\n")
    with pytest.raises(CorpusError, match=r"broken.jsonl:2: not JSON Lines"):
        read_documents(broken)
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"body": "x"}\n')
    with pytest.raises(CorpusError, match=r'wrong.jsonl:1: .*"text"'):
        read_documents(wrong)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(CorpusError, match=r"latin.txt:2: not UTF-8"):
        read_documents(latin)
    with pytest.raises(CorpusError, match="cannot read"):
        read_documents(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="fractions"):
        split_passages(["a"], [], fractions=(0.5, 0.5, 0.5))


def test_plain_text_documents_are_blank_line_separated(tmp_path):
    path = tmp_path / "stories.txt"
    path.write_text("One story.\nStill one.\n\n\nAnother story.\n")
    assert read_documents(path) == ["One story.\nStill one.", "Another story."]


def test_the_shipped_corpus_reads_and_matches_its_prompts():
    from attndsl.models._sample import CORPUS_FILE, DEFAULT_STORIES, prompt_for

    documents = read_documents(CORPUS_FILE)
    assert len(documents) == DEFAULT_STORIES
    records = [json.loads(line) for line in CORPUS_FILE.read_text().splitlines()]
    assert [r["number"] for r in records] == list(range(DEFAULT_STORIES))
    assert all(r["prompt"] == prompt_for(r["number"], r["seed"]) for r in records)
    assert len(passages(documents, max_tokens=128)) >= DEFAULT_STORIES


def test_token_counter_measures_and_cuts_in_model_tokens():
    from attndsl.models._corpus import token_counter

    tokenizer = bos_tokenizer()
    count, cut = token_counter(tokenizer)
    assert tokenizer("the cat sat")["input_ids"][0] == 0  # the BOS is added ...
    assert count("the cat sat") == 3  # ... but not counted in a passage's budget
    assert cut("the cat sat on the mat .", 4) == "the cat sat on"
    text = "the cat sat on the mat . " * 3 + "a dog ran ."
    with pytest.warns(UserWarning, match="^1 sentence"):
        found = passages(
            [text, "the cat sat on the mat on the mat ."],
            max_tokens=7,
            count_tokens=count,
            cut=cut,
            pack=True,
        )
    assert all(count(p.text) <= 7 for p in found)
    assert [p.text for p in found if p.document == 0] == [
        "the cat sat on the mat .",
        "the cat sat on the mat .",
        "the cat sat on the mat .",
        "a dog ran .",
    ]
    assert [p.text for p in found if p.document == 1] == ["the cat sat on the mat on"]


def test_a_hugging_face_dataset_folder_reads_its_text_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"text": ["One story.", "  ", "Two stories."], "body": ["b1", "b2", "b3"]}
    datasets.Dataset.from_dict(rows).save_to_disk(tmp_path / "flat")
    assert read_documents(tmp_path / "flat") == ["One story.", "Two stories."]
    assert read_documents(f"hf:{tmp_path / 'flat'}") == ["One story.", "Two stories."]
    assert read_documents(tmp_path / "flat", text_field="body") == ["b1", "b2", "b3"]
    with pytest.raises(CorpusError, match=r"no 'story' column .*text, body"):
        read_documents(tmp_path / "flat", text_field="story")
    splits = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["Train."]}),
            "validation": datasets.Dataset.from_dict({"text": ["Val."]}),
        }
    )
    splits.save_to_disk(tmp_path / "dict")
    assert read_documents(tmp_path / "dict") == ["Train."]
    assert read_documents(f"hf:{tmp_path / 'dict'}:validation") == ["Val."]
    with pytest.raises(CorpusError, match=r"choose a split .*train, validation"):
        read_documents(f"hf:{tmp_path / 'dict'}:test")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CorpusError, match=r"plain: not a dataset folder"):
        read_documents(tmp_path / "plain")


def test_an_unreachable_hub_dataset_suggests_a_local_corpus(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(name, split=None):
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        CorpusError,
        match=r"hf:roneneldan/TinyStories:validation: could not "
        r"reach .*roneneldan/TinyStories.*\.jsonl",
    ):
        read_documents("hf:roneneldan/TinyStories:validation")


def test_without_the_datasets_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "datasets", None)  # import fails
    with pytest.raises(CorpusError, match=r"pip install 'attndsl\[hf\]'"):
        read_documents("hf:roneneldan/TinyStories")
