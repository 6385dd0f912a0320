"""Grammars that hold an LLM's decoding to the language, derived from `attndsl.lark`.

A server that takes a grammar (llama.cpp and its Python server take GBNF as the request's
`grammar`; vLLM's xgrammar reads GBNF too; llguidance and OpenAI's custom tools read Lark)
then cannot write a reply outside the answer format: `programs` blocks of a `Hypothesis:`
line and a python fence holding one program. The rules come from the Lark grammar itself,
so the two cannot drift apart:

- the rules' EBNF (alternatives, groups, `*`, `+`, `[...]`) is read with Lark's own loader;
- layout is made explicit: `_NL` is a newline, `_INDENT`/`_DEDENT` change the depth, and
  every item that starts a line is preceded by four spaces per level; rules that hold
  statements are written once per depth, up to `MAX_DEPTH` (the checker allows less);
- the `%ignore`d spaces between tokens become one optional space, or one required space
  between two words (`not in`, `return x`); no comments, blank lines or continuations;
- the terminals' regular expressions are replaced by `TERMINALS`, bounded subsets of them
  (names of at most 32 characters, numbers without exponents, docstrings of at most
  `DOCSTRING_CHARS` characters), so no answer can run away inside one token;
- `NARROWED` rules are cut to what the checker accepts of them (an expression statement is a
  docstring).

Every program the grammar accepts is a program Lark parses (tests check this on the
starters and on hostile text); the converse does not hold, by design. Two renderings of the
same rules: `gbnf(programs)` and `lark(programs)`.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass

from lark import Token, Tree
from lark.grammar import NonTerminal, Terminal
from lark.load_grammar import load_grammar

from ._source import grammar_text

MAX_DEPTH = 6  # statement nesting inside the function (the body is depth 1)
DOCSTRING_CHARS = 300
STRING_CHARS = 40
NAME_CHARS = 32
DIGITS = 9
HYPOTHESIS_CHARS = 300
INDENT = "    "


class DecodingGrammarError(Exception):
    """`attndsl.lark` uses a form this module cannot translate (a bug to fix here)."""


# ------------------------------------------------------------------------- the rules' form


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Chars:
    """One character of a class, written as in a regular expression: `[a-z_]`, `[^"\\\\]`."""

    cls: str


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Seq:
    items: tuple


@dataclass(frozen=True)
class Alt:
    options: tuple


@dataclass(frozen=True)
class Rep:
    item: object
    low: int
    high: int | None  # None: unbounded


@dataclass(frozen=True)
class Gap:
    """The space between two tokens on a line: required when both sides may be words."""

    left: object
    right: object


def _digits(low: int) -> Rep:
    return Rep(Chars("[0-9]"), low, DIGITS)


#: a docstring's character: a quote only before another character (so it cannot close)
_DOC_CHAR = Alt(
    (
        Chars('[^"\\\\]'),
        Seq((Lit('"'), Chars('[^"\\\\]'))),
        Seq((Lit('""'), Chars('[^"\\\\]'))),
    )
)
#: each terminal of `attndsl.lark` as a bounded subset of its regular expression
TERMINALS = {
    "NAME": Seq((Chars("[a-zA-Z_]"), Rep(Chars("[a-zA-Z0-9_]"), 0, NAME_CHARS - 1))),
    "INT": Alt((Lit("0"), Seq((Chars("[1-9]"), Rep(Chars("[0-9]"), 0, DIGITS - 1))))),
    "FLOAT": Seq((_digits(1), Lit("."), _digits(0))),
    "STRING": Alt(
        (
            Seq((Lit('"""'), Rep(_DOC_CHAR, 0, DOCSTRING_CHARS), Lit('"""'))),
            Seq((Lit('"'), Rep(Chars('[^"\\\\\\n]'), 0, STRING_CHARS), Lit('"'))),
        )
    ),
}
#: rules the decoding grammar narrows to what the checker accepts of them: an expression
#: statement is only ever a docstring (a model that closes its docstring early must not go on
#: with `and """...` or `* x`)
NARROWED = {"expr_stmt": Ref("string")}
LAYOUT = ("_NL", "_INDENT", "_DEDENT")


# --------------------------------------------------------------------------- translation


class _Translator:
    """Rules of the reply grammar from the Lark grammar's rule definitions."""

    def __init__(self, text: str) -> None:
        grammar, _ = load_grammar(text, "attndsl.lark", [], False)  # pyright: ignore
        self.trees = {name: tree for name, _params, tree, _options in grammar.rule_defs}
        self.layered = self._layered()
        self.rules: dict[str, object] = {}
        self._empty: set[str] = set()
        self._ending: dict[str, bool] = {}

    def _layered(self) -> set[str]:
        """Rules that reach a layout token: written once per depth."""
        direct = {name for name, tree in self.trees.items() if _uses(tree, LAYOUT)}
        refs = {name: _refs(tree) for name, tree in self.trees.items()}
        changed = True
        while changed:
            new = {name for name in self.trees if refs[name] & direct} - direct
            direct |= new
            changed = bool(new)
        return direct

    def rule(self, name: str, depth: int) -> str | None:
        """The reply rule for Lark rule `name` at `depth`; None when none fits in MAX_DEPTH."""
        key = f"{name}_d{depth}" if name in self.layered else name
        if name in self.layered and depth > MAX_DEPTH:
            return None
        if key in self._empty:
            return None
        if key not in self.rules:
            self.rules[key] = Lit("")  # in progress: recursion sees a rule that exists
            node = NARROWED.get(name) or self._expansions(self.trees[name], depth, False)
            if node is None:
                del self.rules[key]
                self._empty.add(key)
                return None
            self.rules[key] = node
        return key

    def _expansions(self, tree: Tree, depth: int, line_start: bool) -> object | None:
        options = []
        for child in tree.children:
            expansion = child.children[0] if child.data == "alias" else child
            node = self._expansion(expansion.children, depth, line_start)
            if node is not None:
                options.append(node)
        if not options:
            return None
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def _expansion(self, items: list, depth: int, line_start: bool) -> object | None:
        out: list = []
        previous = None  # the last item on the current line
        for item in items:
            symbol = _symbol(item)
            if isinstance(symbol, Terminal) and symbol.name in LAYOUT:
                if symbol.name == "_NL":
                    out.append(Lit("\n"))
                    line_start, previous = True, None
                else:
                    depth += 1 if symbol.name == "_INDENT" else -1
                continue
            node = self._item(item, depth, line_start, previous)
            if node is None:
                return None
            out.append(node)
            if item.data in ("expr", "maybe") and self._tree_ends_line(_repeat(item)[0]):
                previous = None  # repeated lines: the line state stays as it was
            elif self._ends_line(item):
                line_start, previous = True, None
            else:
                line_start, previous = False, node
        return Seq(tuple(out)) if len(out) != 1 else out[0]

    def _item(self, item, depth: int, line_start: bool, previous) -> object | None:
        """One item, preceded by its indentation (at a line's start) or its gap."""
        if item.data in ("expr", "maybe"):
            inner_tree, low, high = _repeat(item)
            inner = self._expansions(inner_tree, depth, False)
            if inner is None:
                return None if low else Lit("")
            lead = self._lead(inner, depth, line_start, previous)
            return Rep(Seq((lead, inner)) if lead else inner, low, high)
        node = self._value(item, depth)
        if node is None:
            return None
        lead = self._lead(node, depth, line_start, previous)
        return Seq((lead, node)) if lead else node

    @staticmethod
    def _lead(node, depth: int, line_start: bool, previous) -> object | None:
        if line_start:
            return Lit(INDENT * depth) if depth else None
        return Gap(previous, node) if previous is not None else None

    def _value(self, item, depth: int) -> object | None:
        if item.data != "value":
            raise DecodingGrammarError(f"unsupported form {item.data!r} in attndsl.lark")
        symbol = item.children[0]
        if isinstance(symbol, NonTerminal):
            key = self.rule(symbol.name, depth)
            return None if key is None else Ref(key)
        if isinstance(symbol, Terminal):
            if symbol.name not in TERMINALS:
                raise DecodingGrammarError(f"no bounded form for terminal {symbol.name}")
            return Ref(symbol.name.lower())
        if isinstance(symbol, Tree) and symbol.data == "literal":
            return Lit(ast.literal_eval(str(symbol.children[0])))
        if isinstance(symbol, Tree) and symbol.data == "expansions":
            return self._expansions(symbol, depth, False)
        raise DecodingGrammarError(f"unsupported value {symbol!r} in attndsl.lark")

    def _ends_line(self, item) -> bool:
        """Whether every way through `item` ends with a newline (or a dedent)."""
        if item.data in ("expr", "maybe"):
            return False
        symbol = item.children[0]
        if isinstance(symbol, NonTerminal):
            return self._rule_ends_line(symbol.name)
        return isinstance(symbol, Terminal) and symbol.name in LAYOUT

    def _rule_ends_line(self, name: str) -> bool:
        if name not in self._ending:
            self._ending[name] = False  # a rule that recurses into itself before a newline
            self._ending[name] = self._tree_ends_line(self.trees[name])
        return self._ending[name]

    def _tree_ends_line(self, tree: Tree) -> bool:
        ends = []
        for child in tree.children:
            expansion = child.children[0] if child.data == "alias" else child
            ends.append(bool(expansion.children) and self._ends_line(expansion.children[-1]))
        return all(ends)


def _symbol(item):
    if item.data == "value":
        return item.children[0]
    return None


def _repeat(item) -> tuple[Tree, int, int | None]:
    if item.data == "maybe":
        return item.children[0], 0, 1
    value, op = item.children
    if not isinstance(op, Token) or op.value not in "*+?":
        raise DecodingGrammarError(f"unsupported repetition {op!r} in attndsl.lark")
    inner = (
        value if value.data == "expansions" else Tree("expansions", [Tree("expansion", [value])])
    )
    if value.data == "value" and isinstance(value.children[0], Tree):
        inner = value.children[0]
    low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[op.value]
    return inner, low, high


def _uses(tree, names) -> bool:
    return any(isinstance(t, Terminal) and t.name in names for t in _leaves(tree))


def _refs(tree) -> set[str]:
    return {t.name for t in _leaves(tree) if isinstance(t, NonTerminal)}


def _leaves(tree):
    for child in tree.children if isinstance(tree, Tree) else ():
        if isinstance(child, Tree):
            yield from _leaves(child)
        else:
            yield child


# ------------------------------------------------------------------------------- the gaps


def _words(rules: dict) -> tuple[dict, dict]:
    """Per rule, whether it may start and whether it may end with a word character."""
    start = dict.fromkeys(rules, False)
    end = dict.fromkeys(rules, False)
    changed = True
    while changed:
        changed = False
        for table, first in ((start, True), (end, False)):
            edge = _Edge(table, first)
            for name, node in rules.items():
                if not table[name] and edge.of(node):
                    table[name] = changed = True
    return start, end


def _resolve(node, words):
    """`node` with every Gap made a required or an optional space."""
    start, end = words
    if isinstance(node, Gap):
        left = _Edge(end, first=False).of(node.left)
        right = _Edge(start, first=True).of(node.right)
        return Lit(" ") if left and right else Rep(Lit(" "), 0, 1)
    if isinstance(node, Seq):
        return Seq(tuple(_resolve(i, words) for i in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(_resolve(o, words) for o in node.options))
    if isinstance(node, Rep):
        return Rep(_resolve(node.item, words), node.low, node.high)
    return node


def _factor(node):
    """`node` with alternatives that begin alike merged (`a | a b` becomes `a b?`): Lark's
    `?arith: term | term (add_op term)+` would otherwise let a decoder that follows every
    alternative at once (llama.cpp) carry two copies of its state per level of expression
    rules, 2**8 of them at the start of each expression."""
    if isinstance(node, Seq):
        return _seq(tuple(_factor(i) for i in node.items))
    if isinstance(node, Rep):
        item = _factor(node.item)
        if (node.low, node.high) == (0, 1) and isinstance(item, Rep) and item.low == 1:
            return Rep(item.item, 0, item.high)  # (x+)? is x*
        return Rep(item, node.low, node.high)
    if not isinstance(node, Alt):
        return node
    groups: dict[object, list[tuple]] = {}
    for option in node.options:
        items = option.items if isinstance(option, Seq) else (option,)
        groups.setdefault(items[0], []).append(items[1:])
    options = []
    for first, rests in groups.items():
        if len(rests) == 1:
            options.append(_factor(_seq((first, *rests[0]))))
            continue
        tails = [_seq(rest) for rest in rests if rest]
        tail = _factor(tails[0] if len(tails) == 1 else Alt(tuple(tails)))
        if len(tails) < len(rests):
            tail = _factor(Rep(tail, 0, 1))
        options.append(_seq((_factor(first), tail)))
    return options[0] if len(options) == 1 else Alt(tuple(options))


def _inline(rules: dict) -> dict:
    """Rules named once, as an alternative, and not recursive, spliced into that place, so
    `_factor` can merge what they begin with (`assign | aug_assign | expr_stmt` all begin
    with an expression)."""
    uses: dict[str, int] = dict.fromkeys(rules, 0)
    for node in rules.values():
        for name in _names(node):
            uses[name] += 1
    spliced = {name for name in rules if uses[name] == 1 and name not in _reachable(rules, name)}

    def splice(node):
        if isinstance(node, Alt):
            options = []
            for option in node.options:
                if isinstance(option, Ref) and option.name in spliced:
                    body = splice(rules[option.name])
                    options.extend(body.options if isinstance(body, Alt) else (body,))
                else:
                    options.append(splice(option))
            return Alt(tuple(options))
        if isinstance(node, Seq):
            return Seq(tuple(splice(i) for i in node.items))
        if isinstance(node, Rep):
            return Rep(splice(node.item), node.low, node.high)
        return node

    out = {name: splice(node) for name, node in rules.items()}
    still = {n for node in out.values() for n in _names(node)}
    return {name: node for name, node in out.items() if name == "reply" or name in still}


def _names(node) -> list[str]:
    if isinstance(node, Ref):
        return [node.name]
    if isinstance(node, Rep):
        return _names(node.item)
    if isinstance(node, (Seq, Alt)):
        parts = node.items if isinstance(node, Seq) else node.options
        return [n for part in parts for n in _names(part)]
    return []


def _reachable(rules: dict, start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(_names(rules[start]))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_names(rules[name]))
    return seen


def _seq(items: tuple):
    items = tuple(i for i in items if not (isinstance(i, Lit) and not i.text))
    if len(items) == 1:
        return items[0]
    return Seq(items) if items else Lit("")


@dataclass(frozen=True)
class _Edge:
    """Whether a node may start (`first`) or end with a word character, given `table`'s
    answers for rules."""

    table: dict
    first: bool

    def of(self, node) -> bool:
        if isinstance(node, Lit):
            text = node.text[:1] if self.first else node.text[-1:]
            return text.isalnum() or text == "_"
        if isinstance(node, Chars):
            return "a-z" in node.cls or "0-9" in node.cls
        if isinstance(node, Ref):
            return self.table[node.name]
        if isinstance(node, Alt):
            return any(self.of(o) for o in node.options)
        if isinstance(node, Rep):
            return self.of(node.item)
        if isinstance(node, Gap):
            return False
        items = node.items if self.first else node.items[::-1]
        for item in items:  # an item that may be empty lets the next one show
            if self.of(item):
                return True
            if not _may_be_empty(item):
                return False
        return False


def _may_be_empty(node) -> bool:
    return (
        isinstance(node, Gap)
        or (isinstance(node, Lit) and not node.text)
        or (isinstance(node, Rep) and node.low == 0)
    )


# ----------------------------------------------------------------------------- the reply


@functools.cache
def reply_rules(programs: int) -> dict[str, object]:
    """The reply grammar's rules (`reply` first): 1 to `programs` answers, each a
    `Hypothesis:` line and a python fence holding one program."""
    translator = _Translator(grammar_text())
    start = translator.rule("start", 0)
    rules: dict[str, object] = {
        "reply": Seq((Ref("answer"), Rep(Seq((Lit("\n"), Ref("answer"))), 0, programs - 1))),
        "answer": Seq(
            (
                Lit("Hypothesis: "),
                Rep(Chars("[^\\n`]"), 1, HYPOTHESIS_CHARS),
                Lit("\n```python\n"),
                Ref(start or "start"),
                Lit("```\n"),
            )
        ),
    }
    rules.update(translator.rules)
    rules.update({name.lower(): node for name, node in TERMINALS.items()})
    words = _words(rules)
    resolved = _inline({name: _resolve(node, words) for name, node in rules.items()})
    return {name: _factor(node) for name, node in resolved.items()}


def _render(node, name, literal, chars, rep) -> str:
    def go(n, top=False) -> str:
        if isinstance(n, Lit):
            return literal(n.text)
        if isinstance(n, Chars):
            return chars(n.cls)
        if isinstance(n, Ref):
            return name(n.name)
        if isinstance(n, Rep):
            return rep(go(n.item), n.low, n.high)
        if isinstance(n, Seq):
            text = " ".join(go(i) for i in n.items if not (isinstance(i, Lit) and not i.text))
            return text if top else f"({text})"
        text = " | ".join(go(o, top=True) for o in n.options)
        return text if top else f"({text})"

    return go(node, top=True)


def _gbnf_rep(item: str, low: int, high: int | None) -> str:
    if (low, high) == (0, 1):
        return f"{item}?"
    if high is None:
        return f"{item}*" if low == 0 else f"{item}+" if low == 1 else f"{item}{{{low},}}"
    return f"{item}{{{low},{high}}}"


def _lark_rep(item: str, low: int, high: int | None) -> str:
    if (low, high) == (0, 1):
        return f"{item}?"
    if high is None:
        return f"{item}*" if low == 0 else f"{item}+" if low == 1 else f"{item}~{low}.."
    return f"{item}~{low}..{high}" if high != low else f"{item}~{low}"


def _gbnf_literal(text: str) -> str:
    return json.dumps(text) if text else '""'


@functools.cache
def gbnf(programs: int) -> str:
    """The reply grammar in GBNF (llama.cpp's `grammar`; root rule `root`)."""
    rules = reply_rules(programs)
    lines = [f"root ::= {_gbnf_name('reply')}"]
    for rule, node in rules.items():
        body = _render(node, _gbnf_name, _gbnf_literal, lambda c: c, _gbnf_rep)
        lines.append(f"{_gbnf_name(rule)} ::= {body}")
    return "\n".join(lines) + "\n"


@functools.cache
def lark(programs: int) -> str:
    """The reply grammar in Lark (as llguidance reads it; start rule `reply`)."""
    rules = reply_rules(programs)
    lines = []
    for rule, node in rules.items():
        body = _render(node, str, _lark_literal, lambda c: f"/{c}/", _lark_rep)
        lines.append(f"{rule}: {body}")
    return "\n".join(lines) + "\n"


def _gbnf_name(name: str) -> str:
    return name.replace("_", "-")


def _lark_literal(text: str) -> str:
    return json.dumps(text) if text else '""'
