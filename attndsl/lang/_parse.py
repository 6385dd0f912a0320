"""Pass 1, parse: source text → `Function` syntax tree with positions.

Reads the text strictly (UTF-8, bounded size, no tabs or control characters), parses it with
the Lark grammar in `attndsl.grammar`, and builds the frozen dataclasses of `_ast`. Every
failure becomes a `ProgramError` whose entries name the line, the column and the rule, with
messages that say what the language allows instead. Nothing in the text is ever executed.
"""

from __future__ import annotations

import ast as pyast
import math
import re
import unicodedata
import warnings

from lark import Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, v_args
from lark.exceptions import VisitError
from lark.indenter import DedentError
from lark.visitors import Transformer_NonRecursive

from ..grammar import load_parser
from . import _ast as A
from ._errors import ParseError, ProgramError, SourceError, excerpt_of

MAX_SOURCE_BYTES = 65_536
MAX_NESTING = 60
#: Most syntax nodes in one program, and most operands of one `and`/`or`, comparison chain or
#: `min`/`max` call: what bounds the time a backend takes to compile it.
MAX_NODES = 1_500
MAX_OPERANDS = 64
#: Most digits of an int literal (int64 has at most 19).
MAX_INT_DIGITS = 19
INT64_MAX = 2**63 - 1

# Python keywords outside the language, with what to do instead.
_KEYWORD_HINTS = {
    "import": "imports are not allowed; the builtins (exp, log, is_punct, ...) are always there",
    "from": "imports are not allowed; the builtins (exp, log, is_punct, ...) are always there",
    "while": "`while` loops are not allowed; loop with `for v in range(...)`, which always ends",
    "lambda": "`lambda` is not allowed; write the expression where it is used",
    "class": "classes are not allowed; a program is one function",
    "with": "`with` is not allowed; a program only computes its output matrix",
    "try": "`try` is not allowed; a checked program never fails, so it needs no error handling",
    "except": "`except` is not allowed; a checked program never fails",
    "finally": "`finally` is not allowed; a checked program never fails",
    "raise": "`raise` is not allowed; a checked program never fails",
    "assert": "`assert` is not allowed; use `if` to handle the case",
    "del": "`del` is not allowed; locals live until the function returns",
    "global": "`global` is not allowed; a program has only its own locals",
    "nonlocal": "`nonlocal` is not allowed; a program has only its own locals",
    "yield": "`yield` is not allowed; build `out` and `return out`",
    "async": "`async` is not allowed; a program is one plain function",
    "await": "`await` is not allowed; a program is one plain function",
    "is": "`is` is not allowed; compare with `==` or `!=`",
    "match": "`match` is not allowed; use `if`/`elif`/`else`",
}

_SOFT_KEYWORDS = ("match",)

_CHAR_HINTS = {
    ".": (
        "attribute",
        "attribute access (`x.y`) is not allowed: there are no methods or "
        "modules; call a builtin instead, e.g. is_upper(t)",
    ),
    "{": (
        "literal",
        'dict and set literals are not allowed; compare tokens with `t in (".", "!")`',
    ),
    "}": ("literal", "dict and set literals are not allowed"),
    "&": ("operator", "bitwise operators are not allowed; use `and`, `or`, `not` on bools"),
    "|": ("operator", "bitwise operators are not allowed; use `and`, `or`, `not` on bools"),
    "^": ("operator", "bitwise operators are not allowed; use `and`, `or`, `not` on bools"),
    "~": ("operator", "bitwise operators are not allowed; use `not` or unary `-`"),
    "@": ("decorator", "decorators and `@` are not allowed; write one plain `def`"),
    ";": ("syntax", "semicolons are not allowed; write one statement per line"),
    "\t": ("tabs", "tab character: indent and separate with spaces, not tabs"),
    "\\": ("syntax", "a backslash is only allowed at the end of a line, to continue it"),
    "'": ("string", "unterminated string literal; close it on the same line"),
    '"': ("string", "unterminated string literal; close it on the same line"),
}

_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a number",
    "FLOAT": "a number",
    "STRING": "a string",
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of block",
    "$END": "end of program",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COLON": "':'",
    "COMMA": "','",
    "EQUAL": "'='",
    "DEF": "'def'",
}


def _err(
    message: str, rule: str, line: int, column: int, width: int, filename: str, source: str
) -> ParseError:
    return ParseError(
        message,
        rule=rule,
        line=line,
        column=column,
        end_column=column + width,
        filename=filename,
        excerpt=excerpt_of(source, line),
    )


# ------------------------------------------------------------------ reading text


#: Bidirectional formatting characters, which make text display in another order than it is.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _forbidden_char(char: str) -> bool:
    """C0 and C1 controls but newline and tab, DEL, line and paragraph separators, bidi:
    refused anywhere in a program's text, and in the value of any string literal."""
    code = ord(char)
    return (
        (code < 0x20 and char not in "\n\t")
        or 0x7F <= code <= 0x9F
        or char in "\u2028\u2029"
        or char in _BIDI
    )


def read_source(data: str | bytes, filename: str = "<program>") -> str:
    """Decode and screen program text: UTF-8, at most 64 KiB, no tabs in indentation, no
    control, line-separator or bidi characters (`_forbidden_char`)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_SOURCE_BYTES:
        head = raw[:MAX_SOURCE_BYTES].decode("utf-8", "replace")
        line = head.count("\n") + 1
        column = len(head) - (head.rfind("\n") + 1) + 1
        raise ProgramError(
            [
                _err(
                    f"program too long: {len(raw):,} bytes, the limit is {MAX_SOURCE_BYTES:,}; "
                    "a program is one small function",
                    "too-long",
                    line,
                    column,
                    1,
                    filename,
                    "",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = raw[: exc.start].decode("utf-8", "replace")
        line = head.count("\n") + 1
        column = len(head) - (head.rfind("\n") + 1) + 1
        raise ProgramError(
            [
                _err(
                    f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded; programs are "
                    "plain UTF-8 Python source",
                    "encoding",
                    line,
                    column,
                    1,
                    filename,
                    head.rsplit("\n", 1)[-1],
                )
            ]
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    errors: list[SourceError] = []
    for number, line_text in enumerate(text.split("\n"), start=1):
        indent = len(line_text) - len(line_text.lstrip(" \t"))
        if "\t" in line_text[:indent]:
            column = line_text.index("\t") + 1
            errors.append(
                _err(
                    "tab in indentation: indent with spaces (4 per level), not tabs",
                    "tabs",
                    number,
                    column,
                    1,
                    filename,
                    text,
                )
            )
        for column, char in enumerate(line_text, start=1):
            if _forbidden_char(char) or 0xD800 <= ord(char) < 0xE000:
                errors.append(
                    _err(
                        f"control character U+{ord(char):04X} is not allowed in a "
                        "program (comments included)",
                        "encoding",
                        number,
                        column,
                        1,
                        filename,
                        text,
                    )
                )
                break
    if errors:
        raise ProgramError(errors)
    _screen_layout(text, filename)
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.split("\n")
    ):
        raise ProgramError(
            [
                _err(
                    "empty program: expected one function, `def head(tokens): ...`",
                    "empty",
                    1,
                    1,
                    1,
                    filename,
                    text,
                )
            ]
        )
    return text


_STRINGS_AND_COMMENTS = re.compile(
    r"\"\"\"(?:[^\\]|\\.)*?(?:\"\"\"|$)|'\'\'(?:[^\\]|\\.)*?(?:'\'\'|$)"
    r"|\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?|#[^\n]*",
    re.S,
)
MAX_BRACKETS = 200  # CPython's own limit on nested brackets


def _screen_layout(text: str, filename: str) -> None:
    """Reject what Python rejects before parsing: a first line that is indented, brackets
    nested over 200 deep, a backslash continuing past the end of the text."""
    code = _STRINGS_AND_COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    lines = code.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if line[0] == " ":
                column = len(line) - len(line.lstrip(" ")) + 1
                raise ProgramError(
                    [
                        _err(
                            "unexpected indentation: the `def` line starts at column 1",
                            "indentation",
                            number,
                            column,
                            1,
                            filename,
                            text,
                        )
                    ]
                )
            break
    depth = 0
    for number, line in enumerate(lines, start=1):
        for column, char in enumerate(line, start=1):
            if char in "([{":
                depth += 1
                if depth > MAX_BRACKETS:
                    raise ProgramError(
                        [
                            _err(
                                f"brackets nested over {MAX_BRACKETS} deep; split the expression "
                                "with local variables",
                                "too-deep",
                                number,
                                column,
                                1,
                                filename,
                                text,
                            )
                        ]
                    )
            elif char in ")]}":
                depth = max(0, depth - 1)
    if code.rstrip(" \n").endswith("\\"):
        last = text.rstrip(" \n").split("\n")
        raise ProgramError(
            [
                _err(
                    "a backslash continues a line, but nothing follows it",
                    "syntax",
                    len(last),
                    len(last[-1]),
                    1,
                    filename,
                    text,
                )
            ]
        )


# ------------------------------------------------------------- syntax errors


def _keyword_on_line(source: str, line: int, column: int) -> tuple[str, int] | None:
    """A Python keyword outside the language at or before `column` on `line`, if any."""
    text = excerpt_of(source, line)
    code = re.sub(r"(\"[^\"]*\"|'[^']*'|#.*)", lambda m: " " * len(m.group()), text)
    for match in re.finditer(r"[A-Za-z_]\w*", code[: max(column, 1) + 40]):
        word = match.group()
        if word in _SOFT_KEYWORDS and not re.match(rf"\s*{word}\s+[^=\s].*:\s*$", code):
            continue  # `match = 3` is an assignment; only `match x:` is the statement
        if word in _KEYWORD_HINTS and match.start() < max(column, 1) + 1:
            return word, match.start() + 1
    return None


def _syntax_error(exc: UnexpectedInput, source: str, filename: str) -> ParseError:
    line, column = max(exc.line, 1), max(exc.column, 1)
    text = excerpt_of(source, line)
    second_def = _second_def(source)
    if second_def:
        number, at = second_def
        if at > 1:
            return _err(
                "nested functions are not allowed; a program is one function",
                "nested-def",
                number,
                at,
                3,
                filename,
                source,
            )
        return _err(
            "a program is exactly one function; remove the second `def`",
            "second-def",
            number,
            at,
            3,
            filename,
            source,
        )
    found = _keyword_on_line(source, line, column)
    if found:
        word, at = found
        return _err(_KEYWORD_HINTS[word], "forbidden", line, at, len(word), filename, source)
    if isinstance(exc, UnexpectedCharacters):
        char = source.split("\n")[line - 1][column - 1] if text else ""
        if text[column - 1 : column + 2] == "...":
            return _err(
                "`...` is not a value; write a number", "literal", line, column, 3, filename, source
            )
        rule, message = _CHAR_HINTS.get(char, ("syntax", f"unexpected character {char!r}"))
        return _err(message, rule, line, column, 1, filename, source)
    token = getattr(exc, "token", None)
    kind = getattr(token, "type", "$END")
    value = str(token) if token is not None else ""
    before = text[: column - 1].rstrip()
    width = max(1, len(value))
    if kind == "STRING" and re.search(r"(?<![\w])[rRbBuUfF]{1,2}$", before):
        return _err(
            "string prefixes (f-strings, raw and byte strings) are not allowed; "
            "write a plain string literal",
            "string",
            line,
            column - 1,
            2,
            filename,
            source,
        )
    if kind == "COLON" and text[column : column + 1] == "=":
        return _err(
            "`:=` is not allowed; assign on a line of its own",
            "operator",
            line,
            column,
            2,
            filename,
            source,
        )
    if text.lstrip().startswith("def ") and kind in (
        "EQUAL",
        "STAR",
        "__ANON_0",
        "SLASH",
        "LPAR",
        "INT",
        "STRING",
        "FLOAT",
    ):
        return _err(
            "a program takes one plain parameter, the tokens: `def head(tokens):`",
            "params",
            line,
            column,
            width,
            filename,
            source,
        )
    if kind == "LSQB":
        if before.endswith("]"):
            return _err(
                "index the output as `out[i, j]`, not `out[i][j]`",
                "subscript",
                line,
                column,
                1,
                filename,
                source,
            )
        return _err(
            "list literals and comprehensions are not allowed; loop with "
            "`for v in range(...)` instead",
            "literal",
            line,
            column,
            1,
            filename,
            source,
        )
    if kind == "STAR" and before.endswith("*"):
        return _err(
            "`**` is not allowed; multiply, or write exp(y * log(x))",
            "operator",
            line,
            column - 1,
            2,
            filename,
            source,
        )
    if kind in ("LESSTHAN", "MORETHAN") and before.endswith(value):
        return _err(
            "bitwise shifts are not allowed; use `*` or `//`",
            "operator",
            line,
            column - 1,
            2,
            filename,
            source,
        )
    if kind == "COLON" and text.count("[", 0, column) > text.count("]", 0, column):
        return _err(
            "slices are not allowed; index one position at a time",
            "slice",
            line,
            column,
            1,
            filename,
            source,
        )
    if kind == "COLON" and text.lstrip().startswith("def "):
        return _err(
            "type annotations are not allowed; write `def head(tokens):`",
            "annotation",
            line,
            column,
            1,
            filename,
            source,
        )
    if kind == "MORETHAN" and before.endswith("-"):
        return _err(
            "return annotations are not allowed; write `def head(tokens):`",
            "annotation",
            line,
            column - 1,
            2,
            filename,
            source,
        )
    at = line + 1 if kind in ("_DEDENT", "_NL") else line
    if "_INDENT" in getattr(exc, "expected", ()) or _missing_block(source, at):
        return _err(
            "expected an indented block: indent the body of the line ending in `:` by "
            "4 more spaces (write `pass` for an empty body)",
            "indentation",
            at,
            1,
            1,
            filename,
            source,
        )
    if kind == "_INDENT":
        return _err("unexpected indentation", "indentation", line, column, 1, filename, source)
    if kind == "$END" or isinstance(exc, UnexpectedEOF):
        lines = source.rstrip("\n").split("\n")
        return _err(
            "unexpected end of program: a block or expression is unfinished",
            "syntax",
            len(lines),
            len(lines[-1]) + 1,
            1,
            filename,
            source,
        )
    before_def = not any(ln.startswith("def ") for ln in source.split("\n")[: line - 1])
    if before_def and not text.lstrip().startswith("def"):
        return _err(
            "a program is one function definition, `def head(tokens): ...`; "
            "nothing may stand outside it",
            "not-a-function",
            line,
            column,
            width,
            filename,
            source,
        )
    expected = sorted(
        {
            _TERMINAL_NAMES.get(t, f"'{_literal_of(t)}'")
            for t in getattr(exc, "expected", ())
            if not t.startswith("__")
        }
    )
    shown = ", ".join(expected[:6]) + (", ..." if len(expected) > 6 else "")
    what = {"_NL": "end of line", "_DEDENT": "end of block"}.get(kind, f"'{value}'")
    message = f"unexpected {what}" + (f"; expected {shown}" if shown else "")
    return _err(message, "syntax", line, column, width, filename, source)


def _second_def(source: str) -> tuple[int, int] | None:
    """(line, column) of a `def` after the first one, outside strings and comments."""
    code = _STRINGS_AND_COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)
    found = [
        (number, len(text) - len(text.lstrip(" ")) + 1)
        for number, text in enumerate(code.split("\n"), start=1)
        if re.match(r"\s*def\b", text)
    ]
    return found[1] if len(found) > 1 else None


def _missing_block(source: str, line: int) -> bool:
    """Whether `line` should have been indented under a preceding line ending in `:`."""
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return False
    for previous in reversed(lines[: line - 1]):
        code = previous.split("#", 1)[0].rstrip()
        if code:
            indent = len(lines[line - 1]) - len(lines[line - 1].lstrip(" "))
            return code.endswith(":") and indent <= len(previous) - len(previous.lstrip(" "))
    return False


def _literal_of(terminal: str) -> str:
    try:
        return load_parser().get_terminal(terminal).pattern.value
    except KeyError:
        return terminal.lower()


def _dedent_error(source: str, filename: str) -> ParseError:
    """Find the line whose indentation matches no enclosing block."""
    stack, depth = [0], 0
    for number, text in enumerate(source.split("\n"), start=1):
        code = text.split("#", 1)[0]
        if not code.strip():
            continue
        indent = len(text) - len(text.lstrip(" "))
        if depth == 0:
            if indent > stack[-1]:
                stack.append(indent)
            while indent < stack[-1]:
                stack.pop()
            if indent != stack[-1]:
                return _err(
                    f"unindent to column {indent + 1} does not match any outer block; "
                    "indent each block by 4 more spaces than the line that opens it",
                    "indentation",
                    number,
                    indent + 1,
                    1,
                    filename,
                    source,
                )
        depth = max(0, depth + sum(code.count(c) for c in "([") - sum(code.count(c) for c in ")]"))
    return _err("inconsistent indentation", "indentation", 1, 1, 1, filename, source)


# --------------------------------------------------------------- tree → AST


def _ident(token: Token) -> str:
    """A name as Python sees it: NFKC-normalised, so `ｘ` and `x` are one name."""
    return unicodedata.normalize("NFKC", str(token))


def _bad_ident(token: Token) -> str | None:
    """Why a name is not a Python identifier (None when it is one)."""
    text = str(token)
    if text.isidentifier():
        return None
    bad = next((c for k, c in enumerate(text) if not text[: k + 1].isidentifier()), text[0])
    return (
        f"{text!r} is not a Python name: {bad!r} (U+{ord(bad):04X}) cannot appear in one; "
        "use letters, digits and underscores"
    )


def _pos(meta: object) -> A.Pos:
    return A.Pos(
        getattr(meta, "line", 0),
        getattr(meta, "column", 0),
        getattr(meta, "end_line", 0),
        getattr(meta, "end_column", 0),
    )


def _tok_pos(token: Token) -> A.Pos:
    return A.Pos(token.line or 0, token.column or 0, token.end_line or 0, token.end_column or 0)


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """Turns Lark's parse tree into `_ast` nodes, collecting malformed constructs."""

    def __init__(self, source: str, filename: str) -> None:
        super().__init__()
        self.source, self.filename = source, filename
        self.errors: list[SourceError] = []

    def _error(self, message: str, rule: str, pos: A.Pos) -> None:
        width = pos.end_column - pos.column if pos.end_line == pos.line else 1
        self.errors.append(
            _err(message, rule, pos.line, pos.column, max(width, 1), self.filename, self.source)
        )

    def _ident(self, token: Token) -> str:
        problem = _bad_ident(token)
        if problem:
            self._error(problem, "name", _tok_pos(token))
        return _ident(token)

    # program
    def start(self, meta, children):
        return next(c for c in children if isinstance(c, A.Function))

    def funcdef(self, meta, children):
        name, params, body = children
        docstring = None
        if body and isinstance(body[0], A.ExprStmt) and isinstance(body[0].value, A.Str):
            docstring, body = body[0].value.value, body[1:]
        return A.Function(self._ident(name), params or (), docstring, tuple(body), _pos(meta))

    def params(self, meta, children):
        return tuple(self._ident(c) for c in children if c is not None)

    def suite(self, meta, children):
        return tuple(children)

    # statements
    def assign(self, meta, children):
        target, value = children
        return self._target(target, "", value, _pos(meta))

    def aug_assign(self, meta, children):
        target, op, value = children
        return self._target(target, str(op.children[0])[:-1], value, _pos(meta))

    def _target(self, target: A.Expr, op: str, value: A.Expr, pos: A.Pos) -> A.Stmt:
        if isinstance(target, A.Name):
            if op:
                return A.AugAssign(target.id, op, value, pos)
            return A.Assign(target.id, value, pos)
        if isinstance(target, A.Subscript):
            return A.Store(target.name, target.indices, op, value, pos)
        self._error(
            "can only assign to a local name or to an output entry `out[a, b]`",
            "assign-target",
            target.pos,
        )
        return A.Pass(pos)

    def expr_stmt(self, meta, children):
        return A.ExprStmt(children[0], _pos(meta))

    def return_stmt(self, meta, children):
        return A.Return(children[0], _pos(meta))

    def break_stmt(self, meta, children):
        return A.Break(_pos(meta))

    def continue_stmt(self, meta, children):
        return A.Continue(_pos(meta))

    def pass_stmt(self, meta, children):
        return A.Pass(_pos(meta))

    def if_stmt(self, meta, children):
        cond, body, *rest = children
        orelse = rest.pop() or ()
        for elif_cond, elif_body, elif_pos in reversed(rest):
            orelse = (A.If(elif_cond, elif_body, orelse, elif_pos),)
        return A.If(cond, body, tuple(orelse), _pos(meta))

    def elif_clause(self, meta, children):
        return children[0], children[1], _pos(meta)

    def else_clause(self, meta, children):
        return children[0]

    def for_stmt(self, meta, children):
        targets, iterable, body = children
        if len(targets) != 1:
            self._error(
                "a loop has one variable: `for i in range(n)`; unpacking such as "
                "`for i, t in enumerate(tokens)` is not allowed",
                "loop",
                _pos(meta),
            )
        return A.For(targets[0], iterable, body, _pos(meta))

    def targets(self, meta, children):
        return tuple(self._ident(c) for c in children)

    # expressions
    def ifexp(self, meta, children):
        then, cond, orelse = children
        return A.IfExp(cond, then, orelse, _pos(meta))

    def or_(self, meta, children):
        return A.BoolOp("or", tuple(children), _pos(meta))

    def and_(self, meta, children):
        return A.BoolOp("and", tuple(children), _pos(meta))

    def not_(self, meta, children):
        return A.UnaryOp("not", children[0], _pos(meta))

    def neg(self, meta, children):
        return A.UnaryOp("-", children[0], _pos(meta))

    def pos(self, meta, children):
        return A.UnaryOp("+", children[0], _pos(meta))

    def compare(self, meta, children):
        operands = tuple(children[0::2])
        ops = tuple(" ".join(str(t) for t in op.children) for op in children[1::2])
        return A.Compare(operands, ops, _pos(meta))

    def binops(self, meta, children):
        result = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            start = result.pos
            end = right.pos
            result = A.BinOp(
                str(op.children[0]),
                result,
                right,
                A.Pos(start.line, start.column, end.end_line, end.end_column),
            )
        return result

    def call(self, meta, children):
        name, args = children
        return A.Call(self._ident(name), tuple(args or ()), _pos(meta))

    def subscript(self, meta, children):
        name, args = children
        return A.Subscript(self._ident(name), tuple(args), _pos(meta))

    def args(self, meta, children):
        return tuple(c for c in children if c is not None)

    def tuple_(self, meta, children):
        return A.Tuple(tuple(c for c in children if c is not None), _pos(meta))

    def name(self, meta, children):
        return A.Name(self._ident(children[0]), _tok_pos(children[0]))

    def int_lit(self, meta, children):
        token = children[0]
        value = int(token) if len(token) <= MAX_INT_DIGITS else INT64_MAX + 1
        if value > INT64_MAX:
            self._error(
                f"integer literal {token[:20]} is too large; ints are 64-bit",
                "literal",
                _tok_pos(token),
            )
            value = 0
        return A.Const(value, _tok_pos(token))

    def float_lit(self, meta, children):
        token = children[0]
        value = float(token)
        if not math.isfinite(value):
            self._error(f"float literal {token[:20]} is not finite", "literal", _tok_pos(token))
            value = 0.0
        return A.Const(value, _tok_pos(token))

    def string(self, meta, children):
        token = children[0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # an invalid escape such as "\d" is an error
                value = pyast.literal_eval(str(token))  # a lone string literal, never code
        except (SyntaxError, ValueError, Warning):
            self._error("invalid escape in string literal", "string", _tok_pos(token))
            value = ""
        bad = next((c for c in value if _forbidden_char(c)), None)
        if bad is not None:
            self._error(
                f"string literal holds the control character U+{ord(bad):04X} "
                f"({unicodedata.name(bad, 'a control character')}); strings may hold "
                "newlines and tabs but no other control, line-separator or "
                "bidirectional characters",
                "string",
                _tok_pos(token),
            )
            value = ""
        return A.Str(value, _tok_pos(token))

    def true(self, meta, children):
        return A.Const(True, _pos(meta))

    def false(self, meta, children):
        return A.Const(False, _pos(meta))


def _check_size(fn: A.Function, source: str, filename: str) -> None:
    """Bound what a backend must compile: at most MAX_NESTING levels deep, MAX_NODES nodes
    in all, MAX_OPERANDS operands in one `and`/`or`, comparison chain or `min`/`max` call
    (the string tuple of `in` is exempt: it compiles to one lookup whatever its length)."""

    def fail(message: str, node: A.Node) -> ProgramError:
        return ProgramError(
            [_err(message, "too-big", node.pos.line, node.pos.column, 1, filename, source)]
        )

    stack: list[tuple[A.Node, int, A.Node]] = [(fn, 0, fn)]
    count = 0
    while stack:
        node, depth, outer = stack.pop()
        count += 1
        if depth > MAX_NESTING:
            raise ProgramError(
                [
                    _err(
                        f"nested too deeply (over {MAX_NESTING} levels); split "
                        "the expression with local variables",
                        "too-deep",
                        outer.pos.line,
                        outer.pos.column,
                        1,
                        filename,
                        source,
                    )
                ]
            )
        if count > MAX_NODES:
            raise fail(
                f"program too big: over {MAX_NODES} syntax nodes; a program is one small function",
                node,
            )
        operands = (
            node.values
            if isinstance(node, A.BoolOp)
            else node.operands
            if isinstance(node, A.Compare)
            else node.args
            if isinstance(node, A.Call)
            else ()
        )
        if len(operands) > MAX_OPERANDS:
            raise fail(
                f"{len(operands)} operands in one expression; the limit is "
                f"{MAX_OPERANDS}: split it with local variables",
                node,
            )
        if isinstance(node, A.Tuple):
            continue
        for child in node.children():
            top = outer if isinstance(node, A.Expr) else child
            stack.append((child, depth + 1, top))


def parse(source: str | bytes, filename: str = "<program>") -> A.Function:
    """Parse program text into a `Function` tree; raise `ProgramError` if it is not valid syntax."""
    text = read_source(source, filename)
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = load_parser().parse(text)
    except UnexpectedInput as exc:
        raise ProgramError([_syntax_error(exc, text, filename)]) from None
    except DedentError:
        raise ProgramError([_dedent_error(text, filename)]) from None
    builder = _Builder(text, filename)
    try:
        fn = builder.transform(tree)
    except VisitError as exc:  # pragma: no cover - a builder bug, not a user error
        raise exc.orig_exc from None
    if builder.errors:
        raise ProgramError(builder.errors)
    _check_size(fn, text, filename)
    return fn
