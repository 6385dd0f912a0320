"""Grammar-held decoding (`attndsl.grammar.gbnf` / `lark`): derived from `attndsl.lark`, it
accepts the starter programs in the answer format, and every reply it can produce holds
programs that the language's own parser accepts (sampled at random from its rules)."""

from __future__ import annotations

import random

import pytest
from lark import Lark
from lark.exceptions import LarkError

from attndsl import prompts
from attndsl.grammar import lark as lark_grammar
from attndsl.grammar import load_parser
from attndsl.grammar._decoding import TERMINALS, Chars, Lit, Ref, Rep, Seq, reply_rules
from attndsl.lang import library

#: the starters with the deepest nesting, quotes in docstrings, and `not in` / `break`
STARTERS = (
    "first_token_sink",
    "induction",
    "same_lowercase",
    "last_punctuation",
    "previous_token",
    "sink_recency",
)


@pytest.fixture(scope="module")
def reply_parser() -> Lark:
    return Lark(lark_grammar(2), start="reply", parser="earley", lexer="dynamic")


def answer(program) -> str:
    hypothesis = (program.docstring or program.name).strip().split("\n", 1)[0]
    return prompts.answer(hypothesis, program.text) + "\n"


def test_the_starters_are_replies_the_grammar_accepts(reply_parser):
    programs = library()
    for name in STARTERS:
        reply_parser.parse(answer(programs[name]))
    two = answer(programs[STARTERS[0]]) + "\n" + answer(programs[STARTERS[1]])
    reply_parser.parse(two)


def test_replies_outside_the_format_or_the_language_are_refused(reply_parser):
    program = library()["previous_token"]
    good = answer(program)
    bad = {
        "prose first": "Sure! Here it is.\n" + good,
        "three programs where two are allowed": "\n".join([good, good, good]),
        "an import": good.replace("def head", "import os\ndef head"),
        "a while loop": good.replace("for i in range(n):", "while True:"),
        "a lambda": good.replace("out = zeros(n, n)", "out = lambda x: x"),
        "an attribute": good.replace("out = zeros(n, n)", "out = os.system"),
        "a comment": good.replace("    return out", "    # done\n    return out"),
        "a tab": good.replace("    return out", "\treturn out"),
        "a runaway name": good.replace("out = zeros", "o" + "u" * 40 + " = zeros"),
        "an expression statement": good.replace("    return out", "    n + 1\n    return out"),
        "a docstring that goes on": good.replace("):\n", '):\n    """a""" and """b"""\n', 1),
    }
    for what, reply in bad.items():
        with pytest.raises(LarkError):
            reply_parser.parse(reply)
            pytest.fail(what)


def _shortest(rules: dict):
    """size(node): the length of the shortest text `node` produces."""
    lengths = dict.fromkeys(rules, 10**9)

    def size(node) -> int:
        if isinstance(node, Lit):
            return len(node.text)
        if isinstance(node, Chars):
            return 1
        if isinstance(node, Ref):
            return lengths[node.name]
        if isinstance(node, Rep):
            return node.low * size(node.item)
        if isinstance(node, Seq):
            return sum(size(i) for i in node.items)
        return min(size(o) for o in node.options)

    for _ in range(len(rules) + 2):
        for name, node in rules.items():
            lengths[name] = min(lengths[name], size(node))
    return size


def sample(rules: dict, rng: random.Random, budget: int = 300) -> str:
    """A random reply the rules produce: random choices while the budget lasts, then the
    shortest ways out."""
    size = _shortest(rules)
    out: list[str] = []

    def go(node, depth: int = 0) -> None:
        free = len(out) < budget and depth < 120
        if isinstance(node, Lit):
            out.append(node.text)
        elif isinstance(node, Chars):
            pool = [chr(c) for c in range(32, 127)] + ["\n", "é"]
            pool = [c for c in pool if _char_in(node.cls, c)]
            out.append(rng.choice(pool))
        elif isinstance(node, Ref):
            go(rules[node.name], depth + 1)
        elif isinstance(node, Seq):
            for item in node.items:
                go(item, depth + 1)
        elif isinstance(node, Rep):
            high = node.low + 3 if node.high is None else min(node.high, node.low + 3)
            for _ in range(rng.randint(node.low, high) if free else node.low):
                go(node.item, depth + 1)
        else:
            options = list(node.options)
            go(rng.choice(options) if free else min(options, key=size), depth + 1)

    go(rules["reply"])
    return "".join(out)


def _char_in(cls: str, char: str) -> bool:
    import re

    return re.fullmatch(cls, char) is not None


def test_every_sampled_reply_holds_programs_the_language_parses(reply_parser):
    """Grammar ⊆ language: 300 random replies; each fenced program parses with the
    language's own LALR parser (names may be unknown: that is the checker's business)."""
    rules = reply_rules(2)
    rng = random.Random(7)
    parser = load_parser()
    for _ in range(300):
        reply = sample(rules, rng)
        for block in reply.split("```python\n")[1:]:
            parser.parse(block.split("```")[0])


def test_terminals_are_subsets_of_the_lark_terminals():
    """Each bounded terminal's samples match the Lark grammar's own regular expression."""
    import re

    from attndsl.grammar import grammar_text

    patterns = {
        "NAME": r"[^\W\d]\w*",
        "INT": r"0|[1-9][0-9]*",
        "FLOAT": r"([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+",
        "STRING": r'("""(?:[^\\]|\\.)*?"""|\'\'\'(?:[^\\]|\\.)*?\'\'\')|"(?:[^"\\\n]|\\.)*"',
    }
    text = grammar_text()
    assert set(TERMINALS) == set(patterns)
    for name in patterns:
        assert f"{name}" in text
    rng = random.Random(3)
    for name, node in TERMINALS.items():
        rules = {"reply": node}
        for _ in range(200):
            value = sample(rules, rng)
            assert re.fullmatch(patterns[name], value, re.S), (name, value)


def test_gbnf_is_what_llama_cpp_reads():
    """The GBNF rendering parses with llama.cpp's own grammar parser (where installed)."""
    from attndsl.grammar import gbnf

    text = gbnf(4)
    assert text.startswith("root ::= reply\n") and "_" not in text.split("::=")[0]
    llama_cpp = pytest.importorskip("llama_cpp")
    llama_cpp.LlamaGrammar.from_string(text, verbose=False)
