"""Pass 5a, emit for Numba: `Lowered` IR → the source of an `@njit` kernel module.

The module holds `program` (one sentence, plain loops) and `kernel` (`prange` over the
sentences of a ragged batch, then normalisation into the padded output). It is written to a
content-addressed file in the kernel cache and imported from there (`_cache`), so Numba's
own `cache=True` can keep the machine code: each program compiles once per machine.
"""

from __future__ import annotations

from . import _ir as I
from ._vocab import TEST_NAMES

_INT_OPS = {"//": "rt.ifloordiv", "%": "rt.imod"}
_FLOAT_OPS = {"/": "rt.fdiv", "//": "rt.ffloordiv", "%": "rt.fmod"}
_STRUCT_ARGS = "word_of, word_start, sentence_start, prev_same"
_TABLES = "key_class, lower_map, tests, lit"
_ZERO = {"int": "0", "float": "0.0", "bool": "False", "tok": "-1"}


def _var(name: str) -> str:
    return "n" if name == "n" else f"v_{name}"


def emit_expr(e: I.Expr) -> str:
    """Numba source for one IR expression."""
    if isinstance(e, I.Const):
        if e.type == "float":
            return repr(float(e.value))
        return repr(e.value) if e.type == "bool" else str(int(e.value))
    if isinstance(e, I.Var):
        return _var(e.name)
    if isinstance(e, I.Cast):
        return f"np.{'float64' if e.type == 'float' else 'int64'}({emit_expr(e.value)})"
    if isinstance(e, I.Arith):
        a, b = emit_expr(e.a), emit_expr(e.b)
        helper = (_FLOAT_OPS if e.type == "float" else _INT_OPS).get(e.op)
        return f"{helper}({a}, {b})" if helper else f"({a} {e.op} {b})"
    if isinstance(e, I.Neg):
        return f"(-{emit_expr(e.value)})"
    if isinstance(e, I.Math):
        return (f"abs({emit_expr(e.value)})" if e.fn == "abs"
                else f"rt.f{e.fn}({emit_expr(e.value)})")
    if isinstance(e, I.Extreme):
        helper = f"rt.{'f' if e.type == 'float' else 'i'}{e.fn}"
        text = emit_expr(e.args[0])
        for arg in e.args[1:]:
            text = f"{helper}({text}, {emit_expr(arg)})"
        return text
    if isinstance(e, I.Cmp):
        return f"({emit_expr(e.a)} {e.op} {emit_expr(e.b)})"
    if isinstance(e, I.TokEq):
        return f"rt.tok_eq(key_class, {emit_expr(e.a)}, {emit_expr(e.b)})"
    if isinstance(e, I.TokIsLiteral):
        return f"rt.tok_is(key_class, {emit_expr(e.tok)}, lit[{e.slot}])"
    if isinstance(e, I.Logic):
        return "(" + f" {e.op} ".join(emit_expr(a) for a in e.args) + ")"
    if isinstance(e, I.Not):
        return f"(not {emit_expr(e.value)})"
    if isinstance(e, I.Select):
        return f"({emit_expr(e.then)} if {emit_expr(e.cond)} else {emit_expr(e.orelse)})"
    if isinstance(e, I.TokAt):
        if not e.checked:
            return f"np.int64(tok[{emit_expr(e.pos)}])"
        return f"rt.tok_at(tok, n, {emit_expr(e.pos)})"
    if isinstance(e, I.Lower):
        return f"rt.lower(lower_map, {emit_expr(e.tok)})"
    if isinstance(e, I.TokTest):
        return f"rt.tok_test(tests, {TEST_NAMES.index(e.name)}, {emit_expr(e.tok)})"
    if isinstance(e, I.Struct):
        if not e.checked:
            return f"{e.name}[{emit_expr(e.pos)}]"
        return f"rt.at({e.name}, n, {emit_expr(e.pos)})"
    if isinstance(e, I.OutRead):
        return f"rt.out_read(raw, n, {emit_expr(e.row)}, {emit_expr(e.col)})"
    raise TypeError(f"cannot emit {e!r}")  # pragma: no cover


def _store(s: I.Store, pad: str) -> list[str]:
    value = emit_expr(s.value)
    cell = "raw[_r, _c]"
    if s.op == "":
        update = value
    elif s.op in _FLOAT_OPS:
        update = f"{_FLOAT_OPS[s.op]}({cell}, {value})"
    else:
        update = f"{cell} {s.op} {value}"
    head = [f"{pad}_r = {emit_expr(s.row)}", f"{pad}_c = {emit_expr(s.col)}"]
    if not s.checked:  # proven inside the matrix
        return [*head, f"{pad}{cell} = {update}"]
    return [*head, f"{pad}if 0 <= _r < n and 0 <= _c < n:", f"{pad}    {cell} = {update}"]


def emit_block(body: tuple[I.Stmt, ...], depth: int) -> list[str]:
    """Numba source lines for a block of IR statements."""
    pad = "    " * depth
    lines: list[str] = []
    for s in body:
        if isinstance(s, I.Let):
            lines.append(f"{pad}{_var(s.name)} = {emit_expr(s.value)}")
        elif isinstance(s, I.Store):
            lines.extend(_store(s, pad))
        elif isinstance(s, I.Loop):
            lines.append(f"{pad}for {_var(s.var)} in range({emit_expr(s.start)}, "
                         f"{emit_expr(s.stop)}, {s.step}):")
            lines.extend(emit_block(s.body, depth + 1) or [f"{pad}    pass"])
        elif isinstance(s, I.If):
            lines.append(f"{pad}if {emit_expr(s.cond)}:")
            lines.extend(emit_block(s.body, depth + 1) or [f"{pad}    pass"])
            if s.orelse:
                lines.append(f"{pad}else:")
                lines.extend(emit_block(s.orelse, depth + 1))
        elif isinstance(s, I.Break):
            lines.append(f"{pad}break")
        elif isinstance(s, I.Continue):
            lines.append(f"{pad}continue")
        elif isinstance(s, I.Return):
            lines.append(f"{pad}return")
    return lines


def emit_module(lowered: I.Lowered, header: str) -> str:
    """The kernel module's source: `program`, the pattern of one sentence, compiled for
    `_runtime.PROGRAM_SIG` so `_runtime.run_batch` (one `prange` loop over the sentences,
    compiled once per machine) can call it as a first-class function."""
    inits = [f"    {_var(name)} = {_ZERO[kind]}" for name, kind in sorted(lowered.locals.items())
             if kind in _ZERO]
    lines = [
        f"# {header}",
        "# Generated by attndsl; do not edit. The file name is a hash of this text.",
        "import numpy as np",
        "from numba import njit",
        "",
        "from attndsl.compiler import _runtime as rt",
        "",
        "USES_STRUCTURE = " + repr(lowered.uses_structure),
        "READS_OUT = " + repr(any(isinstance(n, I.OutRead) for n in I.walk(list(lowered.body)))),
        "",
        "",
        "@njit(rt.PROGRAM_SIG, cache=True, nogil=True)",
        f"def program(tok, n, raw, {_TABLES}, {_STRUCT_ARGS}):",
        *inits,
        *emit_block(lowered.body, 1),
        "",
    ]
    return "\n".join(lines)
