"""The compiler: checked programs → batched kernels (installed as `attndsl.compiler`).

The passes, one module each, in order (the first three are the front end, `attndsl.lang`):

| pass | module | adds |
|---|---|---|
| parse | `lang._parse` | text → `Function` tree with positions, within size limits |
| check | `lang._check` | names, types, loop bounds, depth → `Checked` (every node's type) |
| canonicalise | `lang._canon` | one spelling per meaning → canonical `Program` and its id |
| lower | `_lower` | typed, token-free IR (`_ir`): casts, literal slots, table and array lookups |
| ranges | `_ranges` | positions proven in range (what may wrap around stays checked) |
| emit (Numba) | `_numba` | the source of an `@njit` program: ids and numbers, no program text |
| audit | `_audit` | refuses any module not of `_numba`'s shape, before it is saved or imported |
| plan (torch) | `_torch_plan` | per loop: its `break` (a masked scan), its reductions |
| emit (torch) | `_torch` | IR run as broadcasting tensor code, loops as tensor dimensions |

Run-time pieces: `_vocab` (token features as tables over a tokenizer's ids), `_batch` (ragged
batches), `_runtime` (Numba helpers and the parallel driver over sentences), `_kernel` (the
`compile()` entry point and `Kernel`), `_parallel` (`compile_many`: uncached kernels compiled
by a pool of processes). `attndsl.lang._interpret` is the reference meaning that
every backend is tested against.
"""

from ._batch import Batch
from ._kernel import BACKENDS, CompileError, Kernel, compile
from ._parallel import compile_many
from ._vocab import Vocab, word_vocab

__all__ = [
    "BACKENDS",
    "Batch",
    "CompileError",
    "Kernel",
    "Vocab",
    "compile",
    "compile_many",
    "word_vocab",
]
