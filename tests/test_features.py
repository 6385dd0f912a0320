"""Token features: spelling normalisation, word splitting, token tests and structure."""

from __future__ import annotations

import attndsl
from attndsl import normalise_token, sequence_features, split_words, token_key


def test_normalise_bytelevel_and_sentencepiece():
    assert normalise_token("Ġcat") == " cat"
    assert normalise_token("Ċ") == "\n"
    assert normalise_token("ĠĠ") == "  "
    assert normalise_token("Ã©", scheme="bytelevel") == "é"  # UTF-8 pieces of "é"
    assert normalise_token("Ã©") == "Ã©"  # "auto" needs a Ġ/Ċ marker to say byte-level
    assert normalise_token("▁cat") == " cat"
    assert normalise_token("<0x0A>") == "\n"
    assert normalise_token("cat") == "cat"
    assert normalise_token("Ġcat", scheme="plain") == "Ġcat"


def test_token_key_drops_one_leading_space():
    assert token_key(" the") == "the"
    assert token_key("the") == "the"
    assert token_key(" ") == " "
    assert token_key("  x") == " x"
    assert token_key("\n") == "\n"


def test_split_words_keeps_spaces_on_words():
    assert split_words("The cat's hat, 42 times!\nNew") == [
        "The",
        " cat",
        "'s",
        " hat",
        ",",
        " 42",
        " times",
        "!",
        "\n",
        "New",
    ]
    assert "".join(split_words("a  b\n\n c")) == "a  b\n\n c"


def test_token_tests():
    f = sequence_features(["The", " cat", ",", " 42", "\n", " ", " and", "“"])
    assert f.tests["is_upper"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert f.tests["is_punct"].tolist() == [0, 0, 1, 0, 0, 0, 0, 1]
    assert f.tests["is_digit"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert f.tests["is_space"].tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    assert f.tests["starts_word"].tolist() == [0, 1, 0, 1, 0, 0, 1, 0]
    assert f.tests["is_stop"].tolist() == [1, 0, 0, 0, 0, 0, 1, 0]
    assert f.tests["is_alpha"].tolist() == [1, 1, 0, 0, 0, 0, 1, 0]


def test_structure_words_sentences_repeats():
    tokens = ["Roxy", " saw", " cat", "s", ".", "\n", '"', "Why", '?"', " she", " said", "."]
    f = sequence_features(tokens)
    assert f.word_start.tolist() == [0, 1, 2, 2, 2, 5, 6, 6, 6, 9, 10, 10]
    assert f.word_of.tolist() == [0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6]
    # "." ends a sentence; the newline stays with it; the quote opens the next;
    # '?"' ends one, and " she" starts the last.
    assert f.sentence_start.tolist() == [0, 0, 0, 0, 0, 0, 6, 6, 6, 9, 9, 9]
    assert f.prev_same.tolist() == [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 4]


def test_closing_quote_stays_in_sentence():
    f = sequence_features(["Hi", ".", '"', " Then", " go", "."])
    assert f.sentence_start.tolist() == [0, 0, 0, 3, 3, 3]


def test_public_api_is_explicit():
    for name in attndsl.__all__:
        assert hasattr(attndsl, name), name
