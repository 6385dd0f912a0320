"""The kernel benchmark's targets, summary, machine record and `rich` report (the
measuring is in `_kernels`)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..lang import Program
from ..lang import syntax as A

INTERPRETER_SAMPLE = 8  # sentences timed for the reference interpreter
CPYTHON_SAMPLE = 32  # sentences timed for plain CPython
MIN_ROUND_S = 0.1  # a timing round repeats its call until it lasts this long
TARGETS = {
    "numba_100x_cpython": "Numba kernel ≥ 100× plain CPython (every program)",
    "numba_within_3x_floor": "Numba kernel within 3× of the floor (O(n²) programs)",
    "torch_within_2x_numba": "torch kernel within 2× of Numba (programs it vectorises)",
    "compile_under_2s": "first compile < 2 s",
    "cached_load_under_100ms": "cached load < 100 ms",
}


def loop_depth(program: Program) -> int:
    """How deep the program's loops nest (a checked program is O(n^depth))."""

    def depth(node: A.Node) -> int:
        inner = max((depth(child) for child in node.children()), default=0)
        return inner + isinstance(node, A.For)

    return depth(program.function)


def _rate(rows: list[dict], program: str, backend: str, device: str = "cpu") -> float | None:
    for row in rows:
        if (row["program"], row["backend"], row["device"]) == (program, backend, device):
            return row["matrices_per_s"]
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _program_summary(rows: list[dict], name: str, depth: int) -> dict:
    numba = _rate(rows, name, "numba")
    row = next((r for r in rows if r["program"] == name and r["backend"] == "numba"), {})
    ratios = {
        "numba_over_cpython": _ratio(numba, _rate(rows, name, "cpython")),
        "numba_over_floor": _ratio(numba, _rate(rows, name, "floor")),
        "torch_over_numba": _ratio(_rate(rows, name, "torch"), numba),
        "floor_over_cpython": _ratio(_rate(rows, name, "floor"), _rate(rows, name, "cpython")),
    }
    compile_s, cached_s = row.get("compile_s"), row.get("cached_load_s")
    met = {
        "numba_100x_cpython": _at_least(ratios["numba_over_cpython"], 100.0),
        "numba_within_3x_floor": (
            _at_least(ratios["numba_over_floor"], 1 / 3) if depth <= 2 else None
        ),
        "torch_within_2x_numba": _at_least(ratios["torch_over_numba"], 0.5),
        "compile_under_2s": None if compile_s is None else compile_s < 2.0,
        "cached_load_under_100ms": None if cached_s is None else cached_s < 0.1,
    }
    # O(n^d) for loop depth d, and O(n²) at least: every kernel writes the n² output.
    return {
        "loop_depth": depth,
        "complexity": f"O(n^{max(depth, 2)})",
        **ratios,
        "compile_s": compile_s,
        "cached_load_s": cached_s,
        "targets": met,
    }


def _at_least(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def summarise_rows(rows: list[dict], programs: Mapping[str, Program], times: dict) -> dict:
    """Per-program ratios and, per target, whether every program it applies to meets it."""
    per_program = {
        name: _program_summary(rows, name, loop_depth(p)) for name, p in programs.items()
    }
    targets = {}
    for key, text in TARGETS.items():
        verdicts = {
            name: s["targets"][key]
            for name, s in per_program.items()
            if s["targets"][key] is not None
        }
        failing = sorted(name for name, ok in verdicts.items() if not ok)
        targets[key] = {
            "description": text,
            "met": (not failing) if verdicts else None,
            "checked": len(verdicts),
            "failing": failing,
        }
    # Where even the write-only floor is under 100× CPython, no kernel can reach 100×.
    targets["numba_100x_cpython"]["out_of_reach"] = sorted(
        name
        for name, s in per_program.items()
        if s["floor_over_cpython"] is not None and s["floor_over_cpython"] < 100
    )
    return {
        "numba_startup_s": times["startup_s"],
        "compiler_import_s": times["import_s"],
        "programs": per_program,
        "targets": targets,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_record(
    corpus: str,
    sentences: int,
    lengths: list[int | str],
    repeat: int,
    load_before: list[float] | None,
) -> dict:
    """Where and how the benchmark ran (load averages: other work on the machine)."""
    import numba

    record = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": torch.__version__,
        "numba_threads": numba.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "corpus": corpus,
        "sentences": sentences,
        "lengths": lengths,
        "repeat": repeat,
        "interpreter_sample": INTERPRETER_SAMPLE,
        "cpython_sample": CPYTHON_SAMPLE,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    return record


# --------------------------------------------------------------------------- output


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value * scale, spec)


def _batch_title(rows: list[dict]) -> str:
    row = rows[0]
    longest = max(r["sentences_timed"] for r in rows)
    return f"{longest} {row['unit']}s, padded to {row['tokens']} tokens"


def _table(rows: list[dict]):
    from rich.table import Table

    total = max(row["sentences_timed"] for row in rows)
    table = Table(title=f"attndsl kernels: {_batch_title(rows)}")
    for column in (
        "program",
        "backend",
        "matrices/s",
        "GB/s",
        "×CPython",
        "×floor",
        "compile s",
        "cached load ms",
        "note",
    ):
        table.add_column(
            column, justify="left" if column in ("program", "backend", "note") else "right"
        )
    for row in rows:
        name = row["program"]
        note = (
            [] if row["sentences_timed"] == total else [f"{row['sentences_timed']}/{total} timed"]
        )
        note += [] if row["device"] == "cpu" else [row["device"]]
        note += ["≠ interpreter"] if row.get("matches_interpreter") is False else []
        note += ["≠ numba"] if row.get("matches_numba") is False else []
        table.add_row(
            name,
            row["backend"],
            _fmt(row["matrices_per_s"], ",.0f"),
            _fmt(row["gb_per_s"], ".3f"),
            _fmt(_ratio(row["matrices_per_s"], _rate(rows, name, "cpython")), ",.1f"),
            _fmt(_ratio(row["matrices_per_s"], _rate(rows, name, "floor")), ".3f"),
            _fmt(row["compile_s"], ".2f"),
            _fmt(row["cached_load_s"], ".1f", 1000),
            "; ".join(note),
        )
    return table


def _batches(rows: list[dict]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((r["unit"], r["tokens"]) for r in rows))


def _lengths_table(rows: list[dict]):
    """Numba and torch side by side at every batch length (matrices/s, and torch / Numba)."""
    from rich.table import Table

    batches = _batches(rows)
    table = Table(title="numba and torch by batch (matrices/s; torch ÷ numba)")
    table.add_column("program")
    for unit, tokens in batches:
        for backend in ("numba", "torch", "÷"):
            label = f"{unit}s ≤{tokens}" if unit == "sentence" else f"{tokens} tokens"
            table.add_column(f"{backend}\n{label}", justify="right")
    by_key = {(r["program"], r["backend"], r["device"], r["unit"], r["tokens"]): r for r in rows}
    devices = sorted({r["device"] for r in rows if r["backend"] == "torch"})
    for name in dict.fromkeys(r["program"] for r in rows):
        for device in devices:
            cells = []
            for unit, tokens in batches:
                numba = by_key.get((name, "numba", "cpu", unit, tokens), {})
                torch_row = by_key.get((name, "torch", device, unit, tokens), {})
                rates = [numba.get("matrices_per_s"), torch_row.get("matrices_per_s")]
                cells += [_fmt(rates[0], ",.0f"), _fmt(rates[1], ",.0f")]
                cells.append(_fmt(_ratio(rates[1], rates[0]), ".2f"))
            table.add_row(name if device == "cpu" else f"{name} ({device})", *cells)
    return table


def _target_table(summary: dict):
    from rich.table import Table

    table = Table(title="targets")
    for column in ("target", "programs", "result", "worst"):
        table.add_column(column)
    worst = _worst(summary["programs"])
    for key, target in summary["targets"].items():
        table.add_row(target["description"], str(target["checked"]), _verdict(target), worst[key])
    return table


def _verdict(target: dict) -> str:
    if target["met"] is None:
        return "n/a"
    if target["met"]:
        return "[green]met[/]"
    failing = target["failing"]
    text = f"[red]not met[/] ({len(failing)} of {target['checked']}"
    text += f": {', '.join(failing)})" if len(failing) <= 4 else ")"
    if target.get("out_of_reach"):
        text += f"; floor < 100× CPython for {len(target['out_of_reach'])}"
    return text


def _worst(programs: dict) -> dict[str, str]:
    def pick(key: str, fn, label: str, applies: str) -> str:
        values = {
            n: s[key]
            for n, s in programs.items()
            if s[key] is not None and s["targets"][applies] is not None
        }
        if not values:
            return "-"
        name = fn(values, key=values.get)
        return f"{name}: {label.format(values[name])}"

    return {
        "numba_100x_cpython": pick("numba_over_cpython", min, "{:,.0f}×", "numba_100x_cpython"),
        "numba_within_3x_floor": pick(
            "numba_over_floor", min, "{:.2f} of floor", "numba_within_3x_floor"
        ),
        "torch_within_2x_numba": pick(
            "torch_over_numba", min, "{:.2f} of numba", "torch_within_2x_numba"
        ),
        "compile_under_2s": pick("compile_s", max, "{:.2f} s", "compile_under_2s"),
        "cached_load_under_100ms": pick(
            "cached_load_s", max, "{:.3f} s", "cached_load_under_100ms"
        ),
    }


def report(result: dict, console=None) -> None:
    """Print the rows, skips and targets of a benchmark result with `rich`."""
    from rich.console import Console

    if console is None:
        console = Console()
        console = console if console.is_terminal else Console(width=160)
    machine, summary = result["machine"], result["summary"]
    console.print(f"corpus: {machine['corpus']}")
    load, cpus = machine["load_average_before"], machine["cpus_usable"] or machine["cpu_count"]
    if load and cpus and max(load[0], (machine["load_average_after"] or load)[0]) > cpus:
        console.print(
            f"[yellow]machine busy (load average {load[0]} before, "
            f"{machine['load_average_after'][0]} after, {cpus} CPUs): timings are "
            "noisy[/]"
        )
    judged = summary["judged_on"]
    console.print(_table([r for r in result["rows"] if r.items() >= judged.items()]))
    console.print(_lengths_table(result["rows"]))
    for skip in result["skipped"]:
        console.print(
            f"skipped {skip['program']} / {skip['backend']} ({skip['device']}): {skip['reason']}"
        )
    console.print(
        f"Numba one-time start-up (fresh process, first kernel load): "
        f"{_fmt(summary['numba_startup_s'], '.2f')} s; compiler import "
        f"{_fmt(summary['compiler_import_s'], '.2f')} s (both excluded from compile "
        "and cached-load times)"
    )
    console.print(_target_table(summary))


# --------------------------------------------------------------------------- entry point
