"""The `attndsl` command line: argparse wiring only. `_main` holds the program commands
(check, canon, interpret, compile, library), `_models` the model commands (models, corpus,
extract, perplexity, bench), `_run` the pipeline commands (run, evaluate, review, report),
and `_common` what they share (option types, one-line errors, reading program files)."""

from ._main import main

__all__ = ["main"]
