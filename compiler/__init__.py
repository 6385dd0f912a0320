"""The compiler: lowering of checked programs and the Numba and torch backends.

Continues the front end's passes (parse → check → canonicalise, see `attndsl._program`)
with lower → emit. Installed as `attndsl.compiler`.
"""

from ._batch import Batch
from ._kernel import BACKENDS, CompileError, Kernel, compile
from ._vocab import Vocab, word_vocab

__all__ = ["BACKENDS", "Batch", "CompileError", "Kernel", "Vocab", "compile", "word_vocab"]
