"""The `attndsl` command line: check, canonicalise and run programs, and list the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from .._io import describe_os_error
from ..lang import AttnDslError, ProgramError, library, split_words
from . import _models as _cli_models
from . import _run as _cli_run
from ._common import Parser
from ._common import load_program_file as _load

EXAMPLES = {
    "check": "attndsl check attndsl/library/*.py\n  cat prog.py | attndsl check -",
    "canon": "attndsl canon prog.py\n  attndsl canon --id prog.py",
    "interpret": 'attndsl interpret attndsl/library/induction.py --text "The cat sat. The cat ran."'
    '\n  attndsl interpret prog.py --text "Hello there." --json',
    "compile": "attndsl compile attndsl/library/induction.py\n"
    "  attndsl compile prog.py --backend numba --show",
    "library": 'attndsl library\n  attndsl library --text "The cat sat. The cat ran."',
}


# ---------------------------------------------------------------- commands


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            _load(name)
        except ProgramError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        else:
            if not args.quiet:
                print(f"{name}: ok")
    if len(args.files) > 1 and not args.quiet:
        print(f"{len(args.files) - failed} of {len(args.files)} programs check")
    return 1 if failed else 0


def cmd_canon(args: argparse.Namespace) -> int:
    program = _load(args.file)
    print(program.id if args.id else program.text, end="\n" if args.id else "")
    return 0


def _matrix_table(tokens: Sequence[str], matrix: np.ndarray, title: str) -> object:
    from rich.table import Table

    def label(token: str) -> str:
        return (token.strip() or repr(token)[1:-1])[:6]

    table = Table(title=title, show_lines=False, pad_edge=False)
    table.add_column("query \\ key", no_wrap=True)
    for token in tokens:
        table.add_column(label(token), justify="right", no_wrap=True)
    for i, token in enumerate(tokens):
        cells = []
        for j in range(len(tokens)):
            value = matrix[i, j]
            cells.append(
                ""
                if j > i
                else f"[bold]{value:.2f}[/]"
                if value >= 0.5
                else f"{value:.2f}"
                if value >= 0.005
                else "[dim]·[/]"
            )
        table.add_row(f"{i:>3} {label(token)}", *cells)
    return table


def cmd_interpret(args: argparse.Namespace) -> int:
    program = _load(args.file)
    tokens = split_words(args.text)
    matrix = program(tokens)
    if args.json:
        print(json.dumps({"tokens": tokens, "matrix": np.round(matrix, 6).tolist()}))
        return 0
    from rich.console import Console

    Console().print(_matrix_table(tokens, matrix, f"{program.name} [dim]({program.id})[/]"))
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.syntax import Syntax

    from ..compiler import compile as compile_program

    program = _load(args.file)
    console = Console()
    console.print(f"[bold]{program.name}[/]  id {program.id}")
    console.print(
        Syntax(
            program.text, "python", theme="ansi_dark", background_color="default", word_wrap=True
        )
    )
    kernel = compile_program(program, args.backend)
    reason = kernel.vectorise_reason
    console.print("vectorises (torch): " + ("yes" if reason is None else f"no, {reason}"))
    console.print(f"backend: {kernel.backend}   compile: {kernel.compile_seconds:.3f} s")
    if args.show:
        console.print(
            Syntax(kernel.listing(), "python", theme="ansi_dark", background_color="default")
        )
    return 0


def cmd_library(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    programs = library()
    if args.text:
        tokens = split_words(args.text)
        for program in programs.values():
            console.print(_matrix_table(tokens, program(tokens), program.name))
        return 0
    table = Table(title=f"Starter library: {len(programs)} programs")
    table.add_column("file")
    table.add_column("id")
    table.add_column("hypothesis", overflow="fold")
    for stem, program in programs.items():
        table.add_row(stem, program.id, (program.docstring or "").strip().split("\n")[0])
    console.print(table)
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="attndsl",
        description="Explain attention heads with small programs in a strict subset of Python.",
        epilog="Examples:\n  attndsl run                        # the whole pipeline, offline\n"
        "  attndsl review runs/latest --head 12.3\n"
        "  attndsl check attndsl/library/*.py\n"
        "See prompts/language.md for the language.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    examples = {**EXAMPLES, **_cli_models.EXAMPLES, **_cli_run.EXAMPLES}

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="Examples:\n  " + examples[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return sub

    _cli_run.add_commands(add)

    sub = add("check", "Parse and check programs; print every error (exit 1 if any fails).")
    sub.add_argument("files", nargs="+", metavar="FILE", help="program files, or - for stdin")
    sub.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    sub.set_defaults(handler=cmd_check)

    sub = add("canon", "Print a program's canonical form (or its id).")
    sub.add_argument("file", metavar="FILE", help="program file, or - for stdin")
    sub.add_argument("--id", action="store_true", help="print the program id only")
    sub.set_defaults(handler=cmd_canon)

    sub = add("interpret", "Run a program on a sentence with the reference interpreter.")
    sub.add_argument("file", metavar="FILE", help="program file, or - for stdin")
    sub.add_argument("--text", required=True, help="the sentence (split into word tokens)")
    sub.add_argument(
        "--json",
        action="store_true",
        help='print {"tokens": [...], "matrix": [[...]]} instead of a table',
    )
    sub.set_defaults(handler=cmd_interpret)

    sub = add("compile", "Compile a program into a batched kernel; say how it vectorises.")
    sub.add_argument("file", metavar="FILE", help="program file, or - for stdin")
    sub.add_argument(
        "--backend",
        choices=("auto", "numba", "torch"),
        default="auto",
        help="auto (default): torch on a GPU when the program vectorises, else numba",
    )
    sub.add_argument("--show", action="store_true", help="print the emitted kernel source")
    sub.set_defaults(handler=cmd_compile)

    _cli_models.add_commands(add)

    sub = add("library", "List the starter library, or show every program on a sentence.")
    sub.add_argument("--text", help="show each program's pattern on this sentence")
    sub.set_defaults(handler=cmd_library)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `attndsl` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ProgramError as exc:
        if args.debug:
            raise
        print(exc, file=sys.stderr)
        return 1
    except AttnDslError as exc:
        if args.debug:
            raise
        print(f"attndsl: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder that cannot be read or written
        if args.debug:
            raise
        print(f"attndsl: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attndsl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback with --debug
        if args.debug:
            raise
        print(
            f"attndsl: internal error: {type(exc).__name__}: {exc} (run with --debug for "
            "the traceback)",
            file=sys.stderr,
        )
        return 2
