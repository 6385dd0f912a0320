"""Pass 2, check: a parsed `Function` → `Checked` (the tree plus the type of every local).

Enforces every rule the grammar cannot state: one parameter, one output matrix made by
`zeros(n, n)` and returned, names that exist and are assigned before use, types, calls to
builtins only, loops over `range` only with bounded trip counts, depth at most three. All
problems are collected, then raised together as one `ProgramError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import _ast as A
from ._builtins import BUILTINS, FORBIDDEN_NAMES, NUMERIC, T, arith_result, builtin_list, join
from ._errors import CheckError, ProgramError, SourceError, excerpt_of

MAX_LOOP_DEPTH = 3
#: A loop may run at most LOOP_PER_N * n + LOOP_CONSTANT times.
LOOP_PER_N = 4
LOOP_CONSTANT = 256

Bound = tuple[int, int]  # |value| <= a * n + b


@dataclass(frozen=True, eq=False)
class Checked:
    """A program that passed the checker, with what the later passes need to know.

    `types` maps every name to its type; `expr_types` maps id(expression node) to its type.
    """

    function: A.Function
    types: Mapping[str, T]
    output: str
    length_names: frozenset[str]
    loop_vars: frozenset[str]
    expr_types: Mapping[int, T | None]
    source: str = ""
    filename: str = "<program>"

    @property
    def param(self) -> str:
        return self.function.param


def _is_dunder(name: str) -> bool:
    return name.startswith("__") or name.endswith("__")


def _is_len(expr: A.Expr, param: str) -> bool:
    return (
        isinstance(expr, A.Call)
        and expr.func == "len"
        and len(expr.args) == 1
        and isinstance(expr.args[0], A.Name)
        and expr.args[0].id == param
    )


def int_literal(expr: A.Expr) -> int | None:
    if isinstance(expr, A.Const) and type(expr.value) is int:
        return expr.value
    if isinstance(expr, A.UnaryOp) and expr.op == "-" and isinstance(expr.operand, A.Const):
        value = expr.operand.value
        return -value if type(value) is int else None
    return None


def _range_args(expr: A.Expr) -> tuple[A.Expr, ...] | None:
    if isinstance(expr, A.Call) and expr.func == "range" and 1 <= len(expr.args) <= 3:
        return expr.args
    return None


def _merge(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    """Definitely-assigned names where two paths meet (None: the path never gets here)."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _widest(found: list[Bound | None]) -> Bound | None:
    """The widest of some bounds: None when there are none or one is unknown."""
    known = [b for b in found if b is not None]
    if not known or len(known) < len(found):
        return None
    return (max(b[0] for b in known), max(b[1] for b in known))


class _Checker:
    def __init__(self, fn: A.Function, source: str, filename: str) -> None:
        self.fn, self.source, self.filename = fn, source, filename
        self.errors: list[SourceError] = []
        self.param = fn.params[0] if fn.params else "tokens"
        self.output = ""
        self.length_names: set[str] = set()
        self.loop_vars: set[str] = set()
        self.types: dict[str, T] = {}
        self.bounds: dict[str, Bound] = {}
        self.loop_scope: dict[str, Bound] = {}  # bounds of the loops enclosing this point
        self.expr_types: dict[int, T | None] = {}

    # ------------------------------------------------------------- reporting
    def error(self, node: A.Node | A.Pos, message: str, rule: str) -> None:
        pos = node if isinstance(node, A.Pos) else node.pos
        same_line = pos.end_line == pos.line and pos.end_column > pos.column
        end = pos.end_column if same_line else pos.column + 1
        self.errors.append(
            CheckError(
                message,
                rule=rule,
                line=pos.line,
                column=pos.column,
                end_column=end,
                filename=self.filename,
                excerpt=excerpt_of(self.source, pos.line),
            )
        )

    # --------------------------------------------------------------- program
    def run(self) -> Checked:
        fn = self.fn
        if _is_dunder(fn.name):
            self.error(
                fn,
                f"dunder name '{fn.name}' is not allowed; name the function plainly, "
                "e.g. `def head(tokens):`",
                "dunder",
            )
        if len(fn.params) != 1:
            self.error(
                fn,
                f"the function takes exactly one parameter, the tokens, not "
                f"{len(fn.params)}: `def {fn.name}(tokens):`",
                "params",
            )
        for name in fn.params:
            self._check_binding_name(name, fn, "parameter")
        self._collect_assignments()
        self._find_output()
        self._infer_types()
        self._infer_bounds()
        assigned = self._block(fn.body, {self.param}, depth=0)
        if assigned is not None:
            last = fn.body[-1] if fn.body else fn
            self.error(
                last,
                "the function must end with `return out`, returning the output matrix",
                "return",
            )
        if self.errors:
            raise ProgramError(self.errors)
        return Checked(
            fn,
            dict(self.types),
            self.output,
            frozenset(self.length_names),
            frozenset(self.loop_vars),
            self.expr_types,
            self.source,
            self.filename,
        )

    def _check_binding_name(self, name: str, node: A.Node, what: str) -> bool:
        if _is_dunder(name):
            self.error(node, f"dunder name '{name}' is not allowed; use a plain name", "dunder")
        elif name in BUILTINS or name in FORBIDDEN_NAMES:
            self.error(
                node,
                f"'{name}' is a builtin name and cannot be a {what}; choose another name",
                "shadow",
            )
        else:
            return True
        return False

    def _find_output(self) -> None:
        """The output: the first top-level `x = zeros(n, n)`, n a length name (a local set
        once, at the top level before it, to `len(tokens)`, and never changed)."""
        fn = self.fn
        self.output_stmt: A.Assign | None = None
        for stmt in fn.body:
            if not isinstance(stmt, A.Assign):
                continue
            target = stmt.target
            if (
                _is_len(stmt.value, self.param)
                and len(self.assigns[target]) == 1
                and target not in self.fors
            ):
                self.length_names.add(target)
            if isinstance(stmt.value, A.Call) and stmt.value.func == "zeros":
                self.output, self.output_stmt = target, stmt
                args = stmt.value.args
                ok = len(args) == 2 and all(
                    _is_len(a, self.param) or (isinstance(a, A.Name) and a.id in self.length_names)
                    for a in args
                )
                if not ok:
                    self.error(
                        stmt.value,
                        "the output must be square over the input: "
                        f"`zeros(n, n)` with n = len({self.param})",
                        "output",
                    )
                break
        if not self.output:
            self.error(
                fn,
                "no output matrix: create it at the top of the body with "
                f"`out = zeros(n, n)`, n = len({self.param})",
                "output",
            )
            self.output = "\0out"
        for node in A.walk(fn):
            if isinstance(node, A.Call) and node.func == "zeros" and not self._is_output_call(node):
                self.error(
                    node,
                    "zeros(n, n) may appear once, as the output assignment at the "
                    "top level of the body",
                    "output",
                )

    def _is_output_call(self, call: A.Call) -> bool:
        return self.output_stmt is not None and self.output_stmt.value is call

    def _collect_assignments(self) -> None:
        self.assigns: dict[str, list[A.Assign | A.AugAssign]] = {}
        self.fors: dict[str, list[A.For]] = {}
        for node in A.walk(self.fn):
            if isinstance(node, A.Assign | A.AugAssign):
                self.assigns.setdefault(node.target, []).append(node)
            elif isinstance(node, A.For):
                self.fors.setdefault(node.var, []).append(node)
                self.loop_vars.add(node.var)

    # ----------------------------------------------------------------- types
    def _infer_types(self) -> None:
        types = self.types
        types[self.param] = T.TOKENS
        types[self.output] = T.MATRIX
        for name in self.loop_vars:
            types[name] = T.INT
        for _ in range(2 + 2 * len(self.assigns)):
            changed = False
            for name, stmts in self.assigns.items():
                if name in (self.param, self.output) or name in self.loop_vars:
                    continue
                for stmt in stmts:
                    value = self._quiet_type(stmt.value)
                    if value is None:
                        continue
                    if isinstance(stmt, A.AugAssign):
                        old = types.get(name)
                        if old not in NUMERIC or value not in NUMERIC:
                            continue
                        value = arith_result(stmt.op, old, value)
                    new = self._join_local(types.get(name), value)
                    if new is not None and new != types.get(name):
                        types[name] = new
                        changed = True
            if not changed:
                break
        untyped = {
            name
            for name in self.assigns
            if name not in types and name not in (self.param, self.output)
        }
        for name in untyped:
            stmts = self.assigns[name]
            nodes = [n for s in stmts for n in A.walk(s.value)]
            mentioned = {n.id for n in nodes if isinstance(n, A.Name)} | {
                s.target for s in stmts if isinstance(s, A.AugAssign)
            }
            other = any(isinstance(n, A.Call | A.Str | A.Subscript | A.Tuple) for n in nodes)
            if mentioned and mentioned <= untyped and not other:  # else reported at the use
                self.error(
                    stmts[0],
                    f"'{name}' never gets a type: it is only ever set from "
                    "itself; assign it a number, a bool or a token first",
                    "type",
                )

    @staticmethod
    def _join_local(old: T | None, new: T) -> T | None:
        if old is None or old == new:
            return new
        if old in NUMERIC and new in NUMERIC:
            return join(old, new)
        return None

    def _quiet_type(self, expr: A.Expr) -> T | None:
        """The type of `expr` under the current guesses, reporting nothing."""
        saved = self.errors
        self.errors = []
        try:
            return self.expr(expr, None)
        finally:
            self.errors = saved

    # ---------------------------------------------------------------- bounds
    def _infer_bounds(self) -> None:
        """|value| <= a*n + b for locals only ever set to sizes. Each assignment is bounded
        where it stands: a loop variable there is bounded by its own loop's range."""
        sites: dict[str, list[tuple[A.Expr, tuple[A.For, ...]]]] = {}

        def visit(body: tuple[A.Stmt, ...], loops: tuple[A.For, ...]) -> None:
            for s in body:
                if isinstance(s, A.Assign):
                    sites.setdefault(s.target, []).append((s.value, loops))
                elif isinstance(s, A.For):
                    visit(s.body, (*loops, s))
                elif isinstance(s, A.If):
                    visit(s.body, loops)
                    visit(s.orelse, loops)

        visit(self.fn.body, ())
        names = {
            name
            for name, stmts in self.assigns.items()
            if all(isinstance(s, A.Assign) for s in stmts)
            and self.types.get(name) == T.INT
            and name not in self.loop_vars
        }
        for _ in range(len(names) + 1):
            progress = False
            for name in names - set(self.bounds):
                found = [self._bound_at(value, loops) for value, loops in sites.get(name, ())]
                widest = _widest(found)
                if widest is not None:
                    self.bounds[name] = widest
                    progress = True
            if not progress:
                break

    def _bound_at(self, expr: A.Expr, loops: tuple[A.For, ...]) -> Bound | None:
        """The bound of `expr` inside `loops` (outermost first)."""
        saved, self.loop_scope = self.loop_scope, {}
        try:
            for loop in loops:  # a loop whose range has no bound leaves its variable unbounded
                found = [self.bound(a) for a in (_range_args(loop.iter) or ())[:2]]
                self.loop_scope.pop(loop.var, None)
                widest = _widest(found)
                if widest is not None:
                    self.loop_scope[loop.var] = widest
            return self.bound(expr)
        finally:
            self.loop_scope = saved

    def bound(self, expr: A.Expr) -> Bound | None:
        """A bound on |expr| as a*n + b, or None if `expr` is not built from sizes."""
        if isinstance(expr, A.Const) and type(expr.value) in (int, bool):
            return (0, abs(int(expr.value)))
        if isinstance(expr, A.Name):
            if expr.id in self.length_names:
                return (1, 0)
            if expr.id in self.loop_vars:  # bounded by its enclosing loop, when that has one
                return self.loop_scope.get(expr.id)
            return self.bounds.get(expr.id)
        if isinstance(expr, A.Call):
            if _is_len(expr, self.param):
                return (1, 0)
            if BUILTINS.get(expr.func) and BUILTINS[expr.func].args == ("int",):
                return (1, 1)
            if expr.func in ("min", "max", "abs") and expr.args:
                return _widest([self.bound(a) for a in expr.args])
            return None
        if isinstance(expr, A.UnaryOp) and expr.op in "+-":
            return self.bound(expr.operand)
        if isinstance(expr, A.BinOp):
            left = self.bound(expr.left)
            if expr.op in "+-":
                right = self.bound(expr.right)
                if left is not None and right is not None:
                    return (left[0] + right[0], left[1] + right[1])
            elif expr.op == "//":
                return left
            elif expr.op == "%":
                return self.bound(expr.right)
            return None
        if isinstance(expr, A.IfExp):
            then, orelse = self.bound(expr.then), self.bound(expr.orelse)
            if then is not None and orelse is not None:
                return (max(then[0], orelse[0]), max(then[1], orelse[1]))
        return None

    # ------------------------------------------------------------ statements
    def _block(
        self, body: Iterable[A.Stmt], assigned: set[str] | None, depth: int, in_loop: bool = False
    ) -> set[str] | None:
        for stmt in body:
            assigned = self._stmt(stmt, assigned, depth, in_loop)
        return assigned

    def _stmt(
        self, stmt: A.Stmt, assigned: set[str] | None, depth: int, in_loop: bool
    ) -> set[str] | None:
        if isinstance(stmt, A.Assign):
            return self._assign(stmt, assigned, depth)
        if isinstance(stmt, A.AugAssign):
            self._aug_assign(stmt, assigned)
            return assigned
        if isinstance(stmt, A.Store):
            self._store(stmt, assigned)
            return assigned
        if isinstance(stmt, A.For):
            self._for(stmt, assigned, depth)
            return assigned
        if isinstance(stmt, A.If):
            self._condition(stmt.cond, assigned, "an `if` condition")
            then = self._block(stmt.body, assigned, depth, in_loop)
            orelse = self._block(stmt.orelse, assigned, depth, in_loop)
            return _merge(then, orelse)
        if isinstance(stmt, A.Break | A.Continue):
            if not in_loop:
                word = "break" if isinstance(stmt, A.Break) else "continue"
                self.error(stmt, f"`{word}` outside a loop", "break-outside")
            return None
        if isinstance(stmt, A.Return):
            value = stmt.value
            if not (isinstance(value, A.Name) and value.id == self.output):
                self.error(
                    value or stmt,
                    f"a program returns its output matrix: `return {self.output.lstrip(chr(0))}`",
                    "return",
                )
            elif assigned is not None and self.output not in assigned:
                self.error(value, "the output is returned before it is created", "unassigned")
            return None
        if isinstance(stmt, A.ExprStmt):
            if isinstance(stmt.value, A.Str):
                self.error(
                    stmt,
                    "a string statement is only allowed as the docstring, first in the body",
                    "expr-stmt",
                )
            else:
                self.expr(stmt.value, assigned)
                self.error(
                    stmt,
                    "an expression on its own does nothing; assign it to a local "
                    "or write it to out[a, b]",
                    "expr-stmt",
                )
            return assigned
        return assigned  # Pass

    def _assign(self, stmt: A.Assign, assigned: set[str] | None, depth: int) -> set[str] | None:
        name = stmt.target
        if name == self.output and isinstance(stmt.value, A.Call) and stmt.value.func == "zeros":
            if depth > 0 or not self._is_output_call(stmt.value):
                return assigned  # reported by _find_output
            for arg in stmt.value.args:
                self.expr(arg, assigned)
        elif name == self.output:
            self.error(
                stmt,
                f"the output cannot be reassigned; write its entries with `{name}[a, b] = e`",
                "assign-output",
            )
        elif name == self.param:
            self.error(stmt, f"the parameter '{name}' is read-only", "write-input")
        elif name in self.loop_vars:
            self.error(
                stmt,
                f"'{name}' is a loop variable and cannot be assigned; use another name",
                "loop-var",
            )
        elif self._check_binding_name(name, stmt, "local"):
            value = self.expr(stmt.value, assigned)
            if value is not None and value not in (*NUMERIC, T.TOK):
                self.error(
                    stmt.value,
                    f"a local holds a number, a bool or a token, not {self._describe(value)}",
                    "type",
                )
            elif value is not None and not self._fits(value, self.types.get(name)):
                self.error(
                    stmt,
                    f"'{name}' holds {self._describe(self.types[name])} elsewhere "
                    f"but {self._describe(value)} here; a local has one type",
                    "type",
                )
        return None if assigned is None else assigned | {name}

    @staticmethod
    def _fits(value: T, local: T | None) -> bool:
        return local is None or value == local or (value in NUMERIC and local in NUMERIC)

    def _aug_assign(self, stmt: A.AugAssign, assigned: set[str] | None) -> None:
        name = stmt.target
        value = self.expr(stmt.value, assigned)
        if name == self.output:
            self.error(
                stmt, f"update entries of the output: `{name}[a, b] {stmt.op}= e`", "assign-output"
            )
        elif name == self.param:
            self.error(stmt, f"the parameter '{name}' is read-only", "write-input")
        elif name in self.loop_vars:
            self.error(stmt, f"'{name}' is a loop variable and cannot be assigned", "loop-var")
        elif assigned is not None and name not in assigned:
            self.error(
                stmt,
                f"'{name}' is updated before it is assigned; give it a value first, "
                f"e.g. `{name} = 0`",
                "unassigned",
            )
        elif self._check_binding_name(name, stmt, "local"):
            current = self.types.get(name)
            if (
                current is not None
                and value is not None
                and (current not in NUMERIC or value not in NUMERIC)
            ):
                self.error(
                    stmt,
                    f"`{stmt.op}=` needs numbers, not {self._describe(current)} and "
                    f"{self._describe(value)}",
                    "type",
                )

    def _store(self, stmt: A.Store, assigned: set[str] | None) -> None:
        if stmt.target == self.param:
            self.error(
                stmt,
                f"the input '{stmt.target}' is read-only; write the output with "
                f"`{self.output}[a, b] = e`",
                "write-input",
            )
        elif stmt.target != self.output:
            self.error(
                stmt,
                f"only the output can be written by index: `{self.output}[a, b] = e`",
                "subscript",
            )
        else:
            self._indices(stmt, stmt.indices, assigned)
        value = self.expr(stmt.value, assigned)
        if value is not None and value not in NUMERIC:
            self.error(
                stmt.value, f"an output entry is a number, not {self._describe(value)}", "type"
            )

    def _for(self, stmt: A.For, assigned: set[str] | None, depth: int) -> None:
        if depth + 1 > MAX_LOOP_DEPTH:
            self.error(stmt, f"loops nest at most {MAX_LOOP_DEPTH} deep", "loop-depth")
        self._check_binding_name(stmt.var, stmt, "loop variable")
        if stmt.var in (self.param, self.output) or stmt.var in self.length_names:
            self.error(
                stmt, f"'{stmt.var}' is already used; name the loop variable i, j or k", "loop-var"
            )
        if self._enclosing_var(stmt):
            self.error(
                stmt,
                f"loop variable '{stmt.var}' is already the variable of an "
                "enclosing loop; use another name",
                "loop-var",
            )
        args = _range_args(stmt.iter)
        if args is None:
            if not isinstance(stmt.iter, A.Name):
                self.expr(stmt.iter, assigned)
            self.error(
                stmt.iter,
                "a loop iterates over range(...) only; to visit tokens write "
                f"`for i in range(len({self.param})):` and read `{self.param}[i]`",
                "loop",
            )
        else:
            self._range(stmt.iter, args, assigned)
        found = [self.bound(a) for a in (args or ())[:2]]
        outer = self.loop_scope.get(stmt.var)
        widest = _widest(found)
        if widest is not None:
            self.loop_scope[stmt.var] = widest
        inner = None if assigned is None else assigned | {stmt.var}
        self._block(stmt.body, inner, depth + 1, in_loop=True)
        if outer is None:
            self.loop_scope.pop(stmt.var, None)
        else:
            self.loop_scope[stmt.var] = outer

    def _enclosing_var(self, loop: A.For) -> bool:
        for outer in self.fors.get(loop.var, ()):
            if outer is not loop and any(node is loop for node in A.walk(outer)):
                return True
        return False

    def _range(self, call: A.Expr, args: tuple[A.Expr, ...], assigned: set[str] | None) -> None:
        for arg in args:
            kind = self.expr(arg, assigned)
            if kind is not None and kind != T.INT:
                self.error(arg, f"range takes ints, not {self._describe(kind)}", "type")
        if len(args) == 3 and not int_literal(args[2]):
            self.error(
                args[2],
                "the step of range must be a non-zero integer literal, such as 1 or -1",
                "loop",
            )
        found = [self.bound(a) for a in args[:2]]
        for arg, b in zip(args[:2], found):
            if b is None:
                self.error(
                    arg,
                    "a range bound must be a size: build it from n, positions, "
                    "structural builtins and integer literals with +, -, //, %, min, "
                    "max, abs (not from counters or products)",
                    "loop-bound",
                )
        known = [b for b in found if b is not None]
        if len(known) == len(found):
            a = sum(b[0] for b in known)
            c = sum(b[1] for b in known) + (1 if len(known) == 2 else 0)
            if a > LOOP_PER_N or c > LOOP_CONSTANT:
                self.error(
                    call,
                    f"this loop may run up to {a}n + {c} times; a loop runs at most "
                    f"{LOOP_PER_N}n + {LOOP_CONSTANT} times",
                    "loop-bound",
                )

    def _condition(self, expr: A.Expr, assigned: set[str] | None, what: str) -> None:
        kind = self.expr(expr, assigned)
        if kind is not None and kind != T.BOOL:
            self.error(
                expr,
                f"{what} must be a bool, not {self._describe(kind)}; write a "
                "comparison such as `x != 0`",
                "type",
            )

    def _indices(
        self, node: A.Node, indices: tuple[A.Expr, ...], assigned: set[str] | None
    ) -> None:
        if len(indices) != 2:
            self.error(
                node, f"index the output with two positions: `{self.output}[i, j]`", "subscript"
            )
        for index in indices:
            self._int_index(index, assigned)

    def _int_index(self, index: A.Expr, assigned: set[str] | None) -> None:
        kind = self.expr(index, assigned)
        if kind is not None and kind != T.INT:
            hint = "; `/` gives a float, use `//`" if kind == T.FLOAT else ""
            self.error(
                index, f"a position must be an int, not {self._describe(kind)}{hint}", "type"
            )

    # ----------------------------------------------------------- expressions
    @staticmethod
    def _describe(kind: T) -> str:
        return {
            T.STR: "a string literal",
            T.TUPLE: "a tuple",
            T.TOKENS: "the token list",
            T.MATRIX: "the output matrix",
            T.TOK: "a token (Tok)",
        }.get(kind, f"{kind}")

    def expr(self, e: A.Expr, assigned: set[str] | None) -> T | None:
        """The type of `e`, reporting every problem in it; None when it has no valid type."""
        kind = getattr(self, "_" + type(e).__name__.lower())(e, assigned)
        self.expr_types[id(e)] = kind
        return kind

    def _const(self, e: A.Const, assigned):
        return T.BOOL if type(e.value) is bool else T.INT if type(e.value) is int else T.FLOAT

    def _str(self, e: A.Str, assigned):
        return T.STR

    def _tuple(self, e: A.Tuple, assigned):
        self.error(e, 'a tuple is only allowed on the right of `in`: `t in (".", "!")`', "tuple")
        return None

    def _name(self, e: A.Name, assigned):
        name = e.id
        if name == self.param:
            self.error(e, f"the tokens can only be used as `{name}[k]` or `len({name})`", "type")
            return None
        if name == self.output:
            if assigned is not None and name not in assigned:
                self.error(e, "the output is used before it is created", "unassigned")
            self.error(e, f"the output can only be indexed (`{name}[a, b]`) or returned", "type")
            return None
        if name in self.types or name in self.assigns:
            if assigned is not None and name not in assigned:
                self.error(
                    e,
                    f"'{name}' may be used before it is assigned; assign it first "
                    "on every path (loop variables exist only inside their loop)",
                    "unassigned",
                )
            return self.types.get(name)
        self._unknown(e, name, called=False)
        return None

    def _unknown(self, node: A.Node, name: str, called: bool) -> None:
        if _is_dunder(name):
            self.error(node, f"dunder name '{name}' is not allowed", "dunder")
        elif name == self.fn.name:
            self.error(node, f"recursion is not allowed: '{name}' cannot call itself", "recursion")
        elif name in FORBIDDEN_NAMES:
            self.error(node, f"'{name}' is not available: {FORBIDDEN_NAMES[name]}", "unknown-name")
        elif name in BUILTINS and not called:
            self.error(node, f"builtin '{name}' must be called: {BUILTINS[name].example}", "type")
        elif called:
            self.error(
                node,
                f"unknown function '{name}'; the builtins are: {builtin_list()}",
                "unknown-name",
            )
        else:
            self.error(
                node,
                f"unknown name '{name}'; a name is the parameter, a local assigned "
                "before use, or a builtin",
                "unknown-name",
            )

    def _binop(self, e: A.BinOp, assigned):
        left, right = self.expr(e.left, assigned), self.expr(e.right, assigned)
        if left is None or right is None:
            return None
        if left in NUMERIC and right in NUMERIC:
            return arith_result(e.op, left, right)
        hint = (
            "; compare tokens with `==` instead"
            if T.TOK in (left, right) or T.STR in (left, right)
            else ""
        )
        self.error(
            e,
            f"`{e.op}` needs numbers, not {self._describe(left)} and {self._describe(right)}{hint}",
            "type",
        )
        return None

    def _unaryop(self, e: A.UnaryOp, assigned):
        kind = self.expr(e.operand, assigned)
        if kind is None:
            return None
        if e.op == "not":
            if kind != T.BOOL:
                self.error(
                    e,
                    f"`not` needs a bool, not {self._describe(kind)}; write a "
                    "comparison such as `x == 0`",
                    "type",
                )
            return T.BOOL
        if kind not in NUMERIC:
            self.error(e, f"unary `{e.op}` needs a number, not {self._describe(kind)}", "type")
            return None
        return join(kind, T.INT)

    def _boolop(self, e: A.BoolOp, assigned):
        for value in e.values:
            kind = self.expr(value, assigned)
            if kind is not None and kind != T.BOOL:
                self.error(
                    value,
                    f"`{e.op}` needs bools, not {self._describe(kind)}; write a "
                    "comparison such as `x != 0`",
                    "type",
                )
        return T.BOOL

    def _compare(self, e: A.Compare, assigned):
        kinds: list[T | None] = []
        for k, operand in enumerate(e.operands):
            if k > 0 and e.ops[k - 1] in ("in", "not in"):
                kinds.append(self._membership_right(operand))
            else:
                kinds.append(self.expr(operand, assigned))
        for k, op in enumerate(e.ops):
            left, right = kinds[k], kinds[k + 1]
            if left is None or right is None:
                continue
            if op in ("in", "not in"):
                if left != T.TOK:
                    self.error(
                        e.operands[k],
                        f"`{op}` tests a token against a tuple of strings, "
                        f"not {self._describe(left)}",
                        "type",
                    )
            elif op in ("==", "!="):
                tokens = {left, right} <= {T.TOK, T.STR}
                if tokens and left == right == T.STR:
                    self.error(
                        e, "comparing two string literals; compare a token with a string", "type"
                    )
                elif not tokens and not (left in NUMERIC and right in NUMERIC):
                    self.error(
                        e,
                        f"cannot compare {self._describe(left)} with {self._describe(right)}",
                        "type",
                    )
            elif left not in NUMERIC or right not in NUMERIC:
                self.error(
                    e,
                    f"`{op}` orders numbers only, not {self._describe(left)} and "
                    f"{self._describe(right)}; tokens compare with ==, != and in",
                    "type",
                )
        return T.BOOL

    def _membership_right(self, e: A.Expr) -> T | None:
        if isinstance(e, A.Tuple) and e.items and all(isinstance(i, A.Str) for i in e.items):
            return T.TUPLE
        self.error(
            e,
            "the right of `in` must be a non-empty tuple of string literals, "
            'e.g. `t in (".", "!", "?")`',
            "type",
        )
        return None

    def _ifexp(self, e: A.IfExp, assigned):
        self._condition(e.cond, assigned, "a conditional expression's test")
        then, orelse = self.expr(e.then, assigned), self.expr(e.orelse, assigned)
        if then is None or orelse is None:
            return None
        if then in NUMERIC and orelse in NUMERIC:
            return join(then, orelse)
        if then == orelse == T.TOK:
            return T.TOK
        self.error(
            e,
            f"both branches must be numbers or both tokens, not "
            f"{self._describe(then)} and {self._describe(orelse)}",
            "type",
        )
        return None

    def _subscript(self, e: A.Subscript, assigned):
        if e.name == self.param:
            if len(e.indices) != 1:
                self.error(e, f"index the tokens with one position: `{e.name}[k]`", "subscript")
            for index in e.indices:
                self._int_index(index, assigned)
            return T.TOK
        if e.name == self.output:
            if assigned is not None and self.output not in assigned:
                self.error(e, "the output is used before it is created", "unassigned")
            self._indices(e, e.indices, assigned)
            return T.FLOAT
        for index in e.indices:
            self.expr(index, assigned)
        if e.name in self.types or e.name in self.assigns:
            self.error(
                e,
                f"only `{self.param}[k]` and `{self.output}[a, b]` can be indexed, not '{e.name}'",
                "subscript",
            )
        else:
            self._unknown(e, e.name, called=False)
        return None

    def _call(self, e: A.Call, assigned):
        spec = BUILTINS.get(e.func)
        if spec is None or e.func in self.types:
            for arg in e.args:
                self.expr(arg, assigned)
            self._unknown(e, e.func, called=True)
            return None
        if e.func == "range":
            self.error(e, "range(...) can only be the iterable of a `for` loop", "loop")
            return None
        if e.func == "zeros":
            return T.MATRIX
        if e.func == "len":
            if not _is_len(e, self.param):
                self.error(e, f"len takes the parameter only: `len({self.param})`", "type")
            return T.INT
        count = len(e.args)
        if count < spec.min_args or (not spec.variadic and count > spec.min_args):
            many = "at least " if spec.variadic else ""
            self.error(
                e,
                f"{e.func} takes {many}{spec.min_args} argument"
                f"{'s' if spec.min_args > 1 else ''}: {spec.example}",
                "arity",
            )
        kinds = [self.expr(arg, assigned) for arg in e.args]
        want = spec.args[0]
        for arg, kind in zip(e.args, kinds):
            if kind is None:
                continue
            if want == "tok" and kind != T.TOK:
                position = " (a position); pass the token at it" if kind == T.INT else ""
                self.error(
                    arg,
                    f"{e.func} takes a token, not {self._describe(kind)}{position}: {spec.example}",
                    "type",
                )
            elif want == "int" and kind != T.INT:
                self.error(
                    arg,
                    f"{e.func} takes a position (an int), not "
                    f"{self._describe(kind)}: {spec.example}",
                    "type",
                )
            elif want == "num" and kind not in NUMERIC:
                self.error(arg, f"{e.func} takes numbers, not {self._describe(kind)}", "type")
        if isinstance(spec.result, T):
            return spec.result
        numbers = [k for k in kinds if k in NUMERIC]
        if len(numbers) != len(kinds) or not numbers:
            return None
        return join(*numbers, T.INT)


def check(fn: A.Function, source: str = "", filename: str = "<program>") -> Checked:
    """Check a parsed program; raise `ProgramError` with every problem found."""
    return _Checker(fn, source, filename).run()
