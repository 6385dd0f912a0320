"""Pass 5b, emit for torch: run `Lowered` IR as broadcasting tensor code, on CPU or GPU.

A loop becomes a new tensor dimension: `for j in range(a, b, s)` gives j = a + s·t over
t < max trip count, with a mask for the iterations each sentence really runs. Conditions
become masks, `continue` clears lanes of the mask, locals become tensors over the loop grid.
Writes to `out` are collected as events (cell, operation, value, execution order) and
resolved exactly as sequential execution would: the last `=` to a cell wins, then the `+=`
and `-=` that come after it are added. Loops with a `break` and locals carried from one
iteration to the next run as `_torch_plan` plans them (masked scans and reductions over the
loop dimension); what it refuses, `compile(..., backend="auto")` runs with Numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import _ir as I
from ._batch import Batch
from ._runtime import batch_structure
from ._torch_plan import Plan
from ._vocab import TEST_NAMES, Vocab

_DTYPE = {"int": torch.int64, "float": torch.float64, "bool": torch.bool, "tok": torch.int64}
_STRUCT = ("word_of", "word_start", "sentence_start", "prev_same")
GRID_BUDGET = 1 << 24  # loop-grid cells per sub-batch


# ------------------------------------------------------------------- running


@dataclass
class _Writes:
    """One store statement's writes over its loop grid, flattened. Lanes that write nothing
    (masked off, or outside the matrix) point at the trash cell, one past the last."""

    cells: torch.Tensor  # int64 [lanes]
    values: torch.Tensor  # float64 [lanes], 0 where not valid
    kind: int  # 0 for `=`, +1 for `+=`, -1 for `-=`
    valid: torch.Tensor  # bool [lanes]
    keys: list[torch.Tensor]  # execution-order keys, broadcastable to `shape`
    shape: torch.Size

    def order_keys(self) -> list[torch.Tensor]:
        """The order keys of the valid lanes (materialised only when order matters)."""
        return [k.expand(self.shape).reshape(-1)[self.valid] for k in self.keys]


#: one update of a reduction: (value, lanes, sign: 0 for `=`, ±1 for `+=`/`-=`, statement)
_Event = tuple[torch.Tensor, torch.Tensor, int, int]


@dataclass
class _Frame:
    """One loop's run: its plan, the lanes that reached its `break`, and its reductions'
    updates in the order they were run."""

    plan: Plan
    broke: torch.Tensor | None = None
    events: dict[str, list[_Event]] = field(default_factory=dict)


class _Run:
    """Evaluates one lowered program on one sub-batch."""

    def __init__(
        self,
        lowered: I.Lowered,
        plans: dict[int, Plan],
        batch: Batch,
        vocab: Vocab,
        tables: dict,
        device: torch.device,
    ) -> None:
        self.lowered, self.plans, self.device, self.tables = lowered, plans, device, tables
        self.probing = 0  # > 0 while a first pass finds a loop's breaks: nothing is written
        self.size = batch.max_length
        self.count = len(batch)
        lengths = torch.as_tensor(batch.lengths, device=device)
        self.lengths = lengths
        ids = np.zeros((self.count, self.size), dtype=np.int64)
        for b in range(self.count):
            seq = batch.sequence(b)
            ids[b, : len(seq)] = seq
        self.ids = torch.as_tensor(ids, device=device)
        self.struct = {}
        if lowered.uses_structure:
            arrays = batch_structure(
                batch.ids, batch.offsets, vocab.key_class, vocab.layout, self.size
            )
            self.struct = {
                name: torch.as_tensor(a, device=device) for name, a in zip(_STRUCT, arrays)
            }
        self.writes: list[_Writes] = []
        self.trash = self.count * self.size * self.size  # the cell that absorbs no-op writes
        self.order = {
            id(s): k for k, s in enumerate(I.walk(list(lowered.body))) if isinstance(s, I.Stmt)
        }
        self.statements = max(self.order.values(), default=0) + 1  # orders are below it

    # grid helpers: every tensor has rank 1 + depth, dimension 0 is the sentence
    def _shape(self, value: torch.Tensor, depth: int) -> torch.Tensor:
        while value.dim() < depth + 1:
            value = value.unsqueeze(-1)
        return value

    def bidx(self, depth: int) -> torch.Tensor:
        return self._shape(torch.arange(self.count, device=self.device), depth)

    def n(self, depth: int) -> torch.Tensor:
        return self._shape(self.lengths, depth)

    def const(self, value, kind: str) -> torch.Tensor:
        return torch.tensor(value, dtype=_DTYPE[kind], device=self.device)

    # expressions
    def expr(self, e: I.Expr, env: dict, depth: int) -> torch.Tensor:
        if isinstance(e, I.Const):
            return self.const(e.value, e.type)
        if isinstance(e, I.Var):
            return self.n(depth) if e.name == I.LENGTH else env[e.name]
        if isinstance(e, I.Cast):
            return self.expr(e.value, env, depth).to(_DTYPE[e.type])
        if isinstance(e, I.Arith):
            return _arith(e.op, self.expr(e.a, env, depth), self.expr(e.b, env, depth), e.type)
        if isinstance(e, I.Neg):
            return torch.neg(self.expr(e.value, env, depth))
        if isinstance(e, I.Math):
            x = self.expr(e.value, env, depth)
            if e.fn == "abs":
                return torch.abs(x)
            if e.fn == "exp":
                return torch.exp(x)
            if e.fn == "log":
                return torch.where(x <= 0, 0.0, torch.log(torch.where(x <= 0, 1.0, x)))
            return torch.where(x < 0, 0.0, torch.sqrt(torch.where(x < 0, 0.0, x)))
        if isinstance(e, I.Extreme):
            fn = torch.minimum if e.fn == "min" else torch.maximum
            result = self.expr(e.args[0], env, depth)
            for arg in e.args[1:]:
                result = fn(result, self.expr(arg, env, depth))
            return result
        if isinstance(e, I.Cmp):
            a, b = self.expr(e.a, env, depth), self.expr(e.b, env, depth)
            return {
                "<": torch.lt,
                "<=": torch.le,
                ">": torch.gt,
                ">=": torch.ge,
                "==": torch.eq,
                "!=": torch.ne,
            }[e.op](a, b)
        if isinstance(e, I.Logic):
            parts = [self.expr(a, env, depth) for a in e.args]
            result = parts[0]
            for part in parts[1:]:
                result = (result & part) if e.op == "and" else (result | part)
            return result
        if isinstance(e, I.Not):
            return ~self.expr(e.value, env, depth)
        if isinstance(e, I.Select):
            return torch.where(
                self.expr(e.cond, env, depth),
                self.expr(e.then, env, depth),
                self.expr(e.orelse, env, depth),
            )
        return self._token_expr(e, env, depth)

    def _token_expr(self, e: I.Expr, env: dict, depth: int) -> torch.Tensor:
        key_class = self.tables["key_class"]
        if isinstance(e, I.TokEq):
            a, b = self.expr(e.a, env, depth), self.expr(e.b, env, depth)
            same = key_class[a.clamp(min=0)] == key_class[b.clamp(min=0)]
            return (a >= 0) & (b >= 0) & same
        if isinstance(e, I.TokIsLiteral):
            t = self.expr(e.tok, env, depth)
            return (t >= 0) & (key_class[t.clamp(min=0)] == self.tables["lit"][e.slot])
        if isinstance(e, I.TokIn):
            t = self.expr(e.tok, env, depth)
            classes = self.tables["lit"][e.start : e.stop]
            return (t >= 0) & torch.isin(key_class[t.clamp(min=0)], classes)
        if isinstance(e, I.TokTest):
            t = self.expr(e.tok, env, depth)
            return (t >= 0) & self.tables["tests"][TEST_NAMES.index(e.name)][t.clamp(min=0)]
        if isinstance(e, I.Lower):
            t = self.expr(e.tok, env, depth)
            return torch.where(t >= 0, self.tables["lower_map"][t.clamp(min=0)], -1)
        if isinstance(e, I.TokAt):
            return self._gather(self.ids, self.expr(e.pos, env, depth), depth, e.checked)
        if isinstance(e, I.Struct):
            return self._gather(self.struct[e.name], self.expr(e.pos, env, depth), depth, e.checked)
        raise TypeError(f"cannot run {e!r} on the torch backend")  # pragma: no cover

    def _gather(
        self, table: torch.Tensor, pos: torch.Tensor, depth: int, checked: bool
    ) -> torch.Tensor:
        pos = self._shape(pos, depth)
        if self.size == 0:
            return torch.full_like(pos, -1)
        if not checked:  # proven inside the sentence
            return table[self.bidx(depth), pos]
        inside = (pos >= 0) & (pos < self.n(depth))
        found = table[self.bidx(depth), pos.clamp(0, max(self.size - 1, 0))]
        return torch.where(inside, found, -1)

    # statements
    def block(
        self,
        body: tuple[I.Stmt, ...],
        mask: torch.Tensor,
        env: dict,
        depth: int,
        keys: list[torch.Tensor],
        frame: _Frame | None = None,
    ) -> torch.Tensor:
        """Run statements on the lanes in `mask` (in the loop run `frame`, if any); the lanes
        still running afterwards."""
        for s in body:
            if isinstance(s, I.Let):
                self.let(s, mask, env, depth, frame)
            elif isinstance(s, I.Store):
                self.store(s, mask, env, depth, keys)
            elif isinstance(s, I.If):
                cond = self._shape(self.expr(s.cond, env, depth), depth)
                then = self.block(s.body, mask & cond, env, depth, keys, frame)
                orelse = self.block(s.orelse, mask & ~cond, env, depth, keys, frame)
                mask = then | orelse
            elif isinstance(s, I.Loop):
                self.loop(s, mask, env, depth, keys)
            elif isinstance(s, I.Break):
                assert frame is not None  # the checker allows `break` only inside a loop
                frame.broke = mask if frame.broke is None else frame.broke | mask
                return torch.zeros_like(mask)
            elif isinstance(s, I.Continue):
                return torch.zeros_like(mask)
        return mask

    def let(self, s: I.Let, mask: torch.Tensor, env: dict, depth: int, frame: _Frame | None):
        update = frame.plan.updates.get(id(s)) if frame else None
        if update is not None and update.sign:  # x += e: only the reduction reads x
            value = self._shape(self.expr(update.value, env, depth), depth)
        else:
            value = self._shape(self.expr(s.value, env, depth), depth)
            old = env.get(s.name)
            env[s.name] = value if old is None else torch.where(mask, value, old)
        if update is not None:
            assert frame is not None
            event = (value, mask, update.sign, self.order[id(s)])
            frame.events.setdefault(s.name, []).append(event)

    def loop(
        self, s: I.Loop, mask: torch.Tensor, env: dict, depth: int, keys: list[torch.Tensor]
    ) -> None:
        start = self._shape(self.expr(s.start, env, depth), depth)
        stop = self._shape(self.expr(s.stop, env, depth), depth)
        step = s.step
        span = (stop - start) if step > 0 else (start - stop)
        trips = torch.where(
            mask, torch.div(span + abs(step) - 1, abs(step), rounding_mode="floor").clamp(min=0), 0
        )
        longest = int(trips.max()) if trips.numel() else 0
        if longest == 0:
            return
        t = torch.arange(longest, device=self.device).view(*([1] * (depth + 1)), longest)
        inner = {name: value.unsqueeze(-1) for name, value in env.items()}
        inner[s.var] = start.unsqueeze(-1) + t * step
        inner_mask = mask.unsqueeze(-1) & (t < trips.unsqueeze(-1))
        inner_keys = [k.unsqueeze(-1) for k in keys] + [self.const(self.order[id(s)], "int"), t]
        loop_plan = self.plans[id(s)]
        if loop_plan.breaks:  # a first pass finds where each lane breaks, writing nothing
            probe = _Frame(loop_plan)
            self.probing += 1
            self.block(s.body, inner_mask, dict(inner), depth + 1, inner_keys, probe)
            self.probing -= 1
            if probe.broke is not None:
                shape = torch.broadcast_shapes(probe.broke.shape, inner_mask.shape)
                broke = probe.broke.expand(shape).to(torch.int32)
                inner_mask = inner_mask & ((broke.cumsum(-1) - broke) == 0)
        frame = _Frame(loop_plan)
        self.block(s.body, inner_mask, inner, depth + 1, inner_keys, frame)
        for name in loop_plan.reductions:
            events = frame.events.get(name)
            if events:
                env[name] = self.reduce(env.get(name), self.lowered.locals[name], events)

    def reduce(self, initial: torch.Tensor | None, kind: str, events: list[_Event]):
        """A reduction's value after its loop: the last `=` (over iterations, then
        statements), plus every `+=` / `-=` run after it (`initial` if none)."""
        shape = torch.broadcast_shapes(*(e[0].shape for e in events), *(e[1].shape for e in events))
        width = self.statements
        t = torch.arange(shape[-1], device=self.device).view(*([1] * (len(shape) - 1)), -1)
        keys = [t * width + order for _, _, _, order in events]
        last = torch.full(shape[:-1], -1, dtype=torch.int64, device=self.device)
        for (_, lanes, sign, _), key in zip(events, keys):
            if sign == 0:
                last = torch.maximum(last, torch.where(lanes, key, -1).amax(-1))
        start = self.const(0, kind) if initial is None else initial
        result = start.to(_DTYPE[kind]).expand(shape[:-1]).clone()
        at = (last // width).clamp(min=0).unsqueeze(-1)
        for (value, lanes, sign, order), key in zip(events, keys):
            value = value.to(_DTYPE[kind]).expand(shape)
            if sign == 0:
                won = (last >= 0) & (last % width == order)
                result = torch.where(won, value.gather(-1, at).squeeze(-1), result)
            else:
                later = lanes & (key > last.unsqueeze(-1))
                result = result + sign * torch.where(later, value, 0).sum(-1)
        return result

    def store(
        self, s: I.Store, mask: torch.Tensor, env: dict, depth: int, keys: list[torch.Tensor]
    ) -> None:
        if self.probing:
            return
        row = self._shape(self.expr(s.row, env, depth), depth)
        col = self._shape(self.expr(s.col, env, depth), depth)
        value = self._shape(self.expr(s.value, env, depth), depth)
        n = self.n(depth)
        valid = mask & (row >= 0) & (row < n) & (col >= 0) & (col < n) if s.checked else mask
        shape = torch.broadcast_shapes(valid.shape, row.shape, col.shape, value.shape)
        valid = valid.expand(shape).reshape(-1)
        cell = ((self.bidx(depth) * self.size + row) * self.size + col).expand(shape).reshape(-1)
        self.writes.append(
            _Writes(
                cells=torch.where(valid, cell, self.trash),
                values=torch.where(valid, value.expand(shape).reshape(-1).to(torch.float64), 0.0),
                kind={"": 0, "+": 1, "-": -1}[s.op],
                valid=valid,
                keys=[*keys, self.const(self.order[id(s)], "int")],
                shape=shape,
            )
        )

    # output
    def resolve(self) -> torch.Tensor:
        """The raw output [B, N, N] float64 that sequential execution would leave."""
        raw = torch.zeros(self.trash + 1, dtype=torch.float64, device=self.device)
        writes = self.writes
        if all(w.kind != 0 for w in writes):  # only += and -=: order does not matter
            for w in writes:
                raw.index_add_(0, w.cells, w.values if w.kind > 0 else -w.values)
        elif all(w.kind == 0 for w in writes) and self._written_once():
            for w in writes:  # each cell gets one `=` at most: order does not matter
                raw.index_put_((w.cells,), w.values)
        else:
            self._sequential(raw)
        return raw[: self.trash].view(self.count, self.size, self.size)

    def _written_once(self) -> bool:
        counts = torch.zeros(self.trash + 1, dtype=torch.int64, device=self.device)
        for w in self.writes:
            counts.index_add_(0, w.cells, torch.ones_like(w.cells))
        return bool(counts[: self.trash].max() <= 1) if self.trash else True

    def _sequential(self, raw: torch.Tensor) -> None:
        """Replay the writes in execution order: the last `=` to a cell wins, then every
        `+=`/`-=` after it is added."""
        writes = self.writes
        cells = torch.cat([w.cells[w.valid] for w in writes])
        values = torch.cat([w.values[w.valid] for w in writes])
        kinds = torch.cat(
            [
                torch.full((int(w.valid.sum()),), w.kind, dtype=torch.int64, device=self.device)
                for w in writes
            ]
        )
        keys = [w.order_keys() for w in writes]
        width = max(len(k) for k in keys)
        columns = [
            torch.cat([k[c] if c < len(k) else torch.zeros_like(k[0]) for k in keys])
            for c in range(width)
        ]
        order = torch.arange(cells.numel(), device=self.device)
        for column in reversed(columns):  # stable sorts, least significant key first
            order = order[torch.sort(column[order], stable=True).indices]
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel(), device=self.device)
        last = torch.full((raw.numel(),), -1, dtype=torch.int64, device=self.device)
        is_assign = kinds == 0
        last.scatter_reduce_(0, cells[is_assign], rank[is_assign], reduce="amax")
        winner = is_assign & (rank == last[cells])
        raw[cells[winner]] = values[winner]
        later = ~is_assign & (rank > last[cells])
        raw.index_add_(0, cells[later], values[later] * kinds[later])


def _arith(op: str, a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if kind == "float":
        zero = b == 0
        safe = torch.where(zero, 1.0, b)
        if op == "/":
            result = a / safe
        elif op == "//":
            result = torch.div(a, safe, rounding_mode="floor")
        else:
            result = torch.remainder(a, safe)
        return torch.where(zero, 0.0, result)
    trivial = (b == 0) | (b == -1)
    safe = torch.where(trivial, 1, b)
    if op == "//":
        return torch.where(
            b == 0, 0, torch.where(b == -1, -a, torch.div(a, safe, rounding_mode="floor"))
        )
    return torch.where(trivial, 0, torch.remainder(a, safe))


def normalise(raw: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`attndsl.lang.semantics.normalise` for a padded batch: raw [B, N, N] float64 (overwritten)
    → float32 patterns, zero outside each sentence. On the CPU this is the Numba kernels'
    own `finish`; elsewhere the same rules as tensor operations."""
    count, size, _ = raw.shape
    if raw.device.type == "cpu":
        from ._runtime import finish_padded

        out = np.empty((count, size, size), dtype=np.float32)
        finish_padded(raw.numpy(), lengths.numpy(), out)
        return torch.from_numpy(out)
    if size == 0:
        return raw.to(torch.float32)
    raw.nan_to_num_(nan=0.0, posinf=math.inf).clamp_(min=0.0)
    upper = torch.ones(size, size, dtype=torch.bool, device=raw.device).triu_(1)
    raw.masked_fill_(upper, 0.0)
    peak = raw.amax(dim=-1, keepdim=True)
    rows_inf = torch.isinf(peak)
    if bool(rows_inf.any()):
        raw = torch.where(rows_inf, torch.isinf(raw).to(raw.dtype), raw)
        peak = torch.where(rows_inf, 1.0, peak)
    total = raw.sum(dim=-1, keepdim=True)
    tiny = torch.finfo(torch.float64).tiny
    if bool((torch.isinf(total) | ((total > 0) & (total < tiny))).any()):
        # the sum overflows, or 1 / sum would: scale by the peak first
        raw.div_(torch.where(peak > 0, peak, 1.0))
        total = raw.sum(dim=-1, keepdim=True)
    live = (torch.arange(size, device=raw.device) < lengths.view(count, 1)).unsqueeze(-1)
    empty = (total == 0) & live
    raw[..., :1].masked_fill_(empty, 1.0)
    total = torch.where(total == 0, 1.0, total)
    return raw.div_(total).mul_(live).to(torch.float32)


class TorchImpl:
    """Runs a vectorisable program with torch on any device."""

    def __init__(self, lowered: I.Lowered, plans: dict[int, Plan]) -> None:
        self.lowered = lowered
        self.plans = plans  # each loop's plan: `_torch_plan.plan(lowered)`
        self._tables: dict[tuple[str, str], dict] = {}

    def describe(self) -> str:
        return (
            f"torch: loops become tensor dimensions (depth {self.lowered.loop_depth}); "
            f"{len(self.lowered.body)} top-level statements"
        )

    def tables(self, vocab: Vocab, device: torch.device) -> dict:
        key = (vocab.fingerprint, str(device))
        if key not in self._tables:
            # One padding entry at the end, so lookups of clamped null tokens (-1 → 0) have
            # something to read even in an empty vocabulary; its result is always masked.
            self._tables[key] = {
                "key_class": torch.as_tensor(np.append(vocab.key_class, -3), device=device),
                "lower_map": torch.as_tensor(np.append(vocab.lower_map, -1), device=device),
                "tests": torch.as_tensor(np.pad(vocab.tests, ((0, 0), (0, 1))), device=device),
                "lit": torch.as_tensor(vocab.literal_classes(self.lowered.literals), device=device),
            }
        return self._tables[key]

    def _sub_batches(self, batch: Batch):
        per_sentence = max(1, batch.max_length) ** max(1, self.lowered.loop_depth)
        step = max(1, GRID_BUDGET // per_sentence)
        for start in range(0, len(batch), step):
            yield batch.select(start, min(len(batch), start + step))

    def patterns(self, batch: Batch, vocab: Vocab, device) -> list[torch.Tensor]:
        device = torch.device(device or "cpu")
        tables = self.tables(vocab, device)
        parts = []
        for part in self._sub_batches(batch):
            run = _Run(self.lowered, self.plans, part, vocab, tables, device)
            mask = torch.ones(len(part), dtype=torch.bool, device=device)
            run.block(self.lowered.body, mask, {}, 0, [])
            parts.append(normalise(run.resolve(), run.lengths).to(torch.float32))
        return parts

    def padded(self, batch: Batch, vocab: Vocab, device) -> torch.Tensor:
        size = batch.max_length
        parts = self.patterns(batch, vocab, device)
        if len(parts) == 1:
            return parts[0]
        out = torch.zeros(
            len(batch), size, size, dtype=torch.float32, device=torch.device(device or "cpu")
        )
        start = 0
        for part in parts:
            out[start : start + part.shape[0], : part.shape[1], : part.shape[2]] = part
            start += part.shape[0]
        return out

    def ragged(self, batch: Batch, vocab: Vocab, device) -> torch.Tensor:
        padded = self.padded(batch, vocab, device)
        lengths = batch.lengths.tolist()
        pieces = [padded[b, :n, :n].reshape(-1) for b, n in enumerate(lengths)]
        return torch.cat(pieces) if pieces else padded.new_zeros(0)
