"""Front-end speed: grammar load, parse + check, canonicalise, and the reference interpreter.

    python benchmarks/bench_frontend.py [--json results.json] [--repeat 200]

Prints a table and writes JSON rows {stage, program, lines, median_ms, p90_ms}, plus a
`machine` record. Target: parse + check of a typical 20-line program under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TYPICAL = '''def head(tokens):
    """Sentence-aware induction with a sink: copy what followed this token before."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, 0] += 0.2
        j = prev_same(i)
        if j >= 0 and sentence_start(j) == sentence_start(i):
            out[i, j + 1] += 1.0
        elif j >= 0:
            out[i, j + 1] += 0.5
        else:
            for k in range(i, max(-1, i - 4), -1):
                if is_punct(tokens[k]) or tokens[k] in (".", "!", "?"):
                    out[i, k] += 0.3
                    break
                if starts_word(tokens[k]) and not is_stop(tokens[k]):
                    out[i, k] += 0.1 * exp(-0.5 * (i - k))
        if is_upper(tokens[i]):
            out[i, word_start(i)] += 0.25
    return out
'''


def _times(fn, repeat: int) -> list[float]:
    result = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        result.append((time.perf_counter() - start) * 1000)
    return result


def _row(stage: str, program: str, lines: int, times: list[float]) -> dict:
    times = sorted(times)
    return {
        "stage": stage,
        "program": program,
        "lines": lines,
        "median_ms": round(statistics.median(times), 4),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 4),
    }


def _cold_load_ms() -> float:
    code = (
        "import time; t = time.perf_counter(); from attndsl.grammar import load_parser; "
        "load_parser(); print((time.perf_counter() - t) * 1000)"
    )
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)
    ]
    return min(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)

    import attndsl
    from attndsl.lang import check, parse

    rows = [
        {
            "stage": "grammar load (new process, Lark cache warm)",
            "program": "-",
            "lines": 0,
            "median_ms": round(_cold_load_ms(), 2),
            "p90_ms": None,
        }
    ]
    sources = {"typical (20 lines)": TYPICAL}
    sources.update({stem: p.source for stem, p in list(attndsl.library().items())[:5]})
    attndsl.load(TYPICAL)  # warm the parser
    for name, source in sources.items():
        lines = source.count("\n")
        rows.append(
            _row(
                "parse + check",
                name,
                lines,
                _times(lambda s=source: check(parse(s), s), args.repeat),
            )
        )
    rows.append(
        _row(
            "canonicalise",
            "typical (20 lines)",
            TYPICAL.count("\n"),
            _times(lambda: attndsl.load(TYPICAL).text, max(10, args.repeat // 10)),
        )
    )
    tokens = attndsl.split_words(" ".join(["The cat sat on the mat, and the dog ran."] * 12))[:128]
    for stem in ("previous_token", "induction", "uniform_causal", "last_punctuation"):
        program = attndsl.library()[stem]
        rows.append(
            _row(
                "interpret (128 tokens)",
                stem,
                program.source.count("\n"),
                _times(lambda p=program: p(tokens), 5),
            )
        )

    from rich.console import Console
    from rich.table import Table

    table = Table(title="attndsl front end")
    for column in ("stage", "program", "lines", "median ms", "p90 ms"):
        table.add_column(column, justify="right" if "ms" in column or column == "lines" else "left")
    for row in rows:
        table.add_row(
            row["stage"],
            row["program"],
            str(row["lines"]),
            f"{row['median_ms']:.3f}",
            "" if row["p90_ms"] is None else f"{row['p90_ms']:.3f}",
        )
    Console().print(table)
    if args.json:
        machine = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        }
        args.json.write_text(json.dumps({"rows": rows, "machine": machine}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
