"""attndsl: explain attention heads with small programs, and compile them into kernels.

The public API, re-exported from one subpackage per concern (each `__init__` says what it
owns): `lang` (program text → checked, canonical `Program` → reference meaning), `compiler`
(kernels), `models` (models, corpora, extraction, replacement, perplexity), `synth` (head
summaries, candidates, scores; the `enum` and `llm` synthesisers), `rundir` (the run
directory), `pipeline` (the stages and their driver), `views` (review and report), `cli` and
`bench`. The parts that bring in torch, transformers or Numba are imported on first use.

    >>> import attndsl
    >>> prog = attndsl.load(open("attndsl/lang/library/previous_token.py").read())
    >>> prog(["The", " cat", " sat"])           # reference meaning: n×n float64 pattern
    >>> print(prog.text, prog.id)                # canonical form and id
    >>> kernel = attndsl.compile(prog)           # Numba or torch kernel over ragged batches
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .lang import (
    BUILTINS,
    AttnDslError,
    Checked,
    CheckError,
    Function,
    ParseError,
    Program,
    ProgramError,
    SequenceFeatures,
    SourceError,
    T,
    canonicalise,
    check,
    interpret,
    library,
    library_dir,
    load,
    normalise_token,
    parse,
    sequence_features,
    split_words,
    token_key,
)

if TYPE_CHECKING:
    from .compiler import Batch, CompileError, Kernel, Vocab, compile, compile_many
    from .models import describe, load_model, parse_heads, perplexity, replaced
    from .pipeline import RunOptions, evaluate, run_pipeline
    from .synth import Candidate, HeadSummary, scores, summarise, summarise_all
    from .synth.enum import enumerate_candidates

__version__ = "0.1.0"

#: the rest of the public API, imported on first use (it brings in torch and transformers)
__getattr__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("compile", "compile_many", "Kernel", "Batch", "Vocab", "CompileError"), ".compiler"
        ),
        **dict.fromkeys(("RunOptions", "run_pipeline", "evaluate"), ".pipeline"),
        **dict.fromkeys(("Candidate", "HeadSummary", "summarise", "summarise_all"), ".synth"),
        **dict.fromkeys(
            ("load_model", "describe", "replaced", "perplexity", "parse_heads"), ".models"
        ),
        "enumerate_candidates": ".synth.enum",
        "scores": ".synth.scores",
    },
)


__all__ = [  # noqa: RUF022 - grouped: front end, then the lazily imported compiler
    "BUILTINS",
    "Batch",
    "CompileError",
    "Kernel",
    "Vocab",
    "compile",
    "compile_many",
    "Candidate",
    "HeadSummary",
    "RunOptions",
    "describe",
    "enumerate_candidates",
    "evaluate",
    "load_model",
    "parse_heads",
    "perplexity",
    "replaced",
    "run_pipeline",
    "scores",
    "summarise",
    "summarise_all",
    "AttnDslError",
    "CheckError",
    "Checked",
    "Function",
    "ParseError",
    "Program",
    "ProgramError",
    "SequenceFeatures",
    "SourceError",
    "T",
    "__version__",
    "canonicalise",
    "check",
    "interpret",
    "library",
    "library_dir",
    "load",
    "normalise_token",
    "parse",
    "sequence_features",
    "split_words",
    "token_key",
]
