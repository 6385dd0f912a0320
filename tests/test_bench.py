"""The kernel benchmark runs and writes its JSON (structure only; timings are not checked)."""

import io
import json

from rich.console import Console

from attndsl.bench import run_kernel_benchmark
from attndsl.bench._kernels_report import TARGETS

PROGRAMS = ["previous_token", "uniform_causal"]
ROW_KEYS = {"program", "backend", "matrices_per_s", "gb_per_s", "compile_s", "cached_load_s"}


def test_kernel_benchmark_json(tmp_path):
    path = tmp_path / "kernels.json"
    console = Console(file=io.StringIO(), width=200)
    result = run_kernel_benchmark(
        PROGRAMS, sentences=8, length=16, repeat=1, json_path=path, console=console
    )
    data = json.loads(path.read_text())
    assert set(data) >= {"rows", "machine", "summary"}
    assert data["machine"]["sentences"] == 8 and data["machine"]["length"] == 16
    for row in data["rows"]:
        assert set(row) >= ROW_KEYS
        assert row["program"] in PROGRAMS
        assert row["matrices_per_s"] > 0 and row["gb_per_s"] > 0
    for name in PROGRAMS:
        backends = {r["backend"] for r in data["rows"] if r["program"] == name}
        assert backends >= {"interpreter", "cpython", "numba", "floor"}
        torch_skipped = any(
            s["program"] == name and s["backend"] == "torch" for s in data["skipped"]
        )
        assert ("torch" in backends) or torch_skipped
        numba = next(r for r in data["rows"] if r["program"] == name and r["backend"] == "numba")
        assert numba["compile_s"] > 0 and numba["cached_load_s"] > 0
        summary = data["summary"]["programs"][name]
        assert summary["numba_over_cpython"] > 0 and summary["numba_over_floor"] > 0
        assert set(summary["targets"]) == set(TARGETS)
    assert set(data["summary"]["targets"]) == set(TARGETS)
    assert data["summary"]["numba_startup_s"] > 0
    assert result["rows"] == data["rows"]
    text = console.file.getvalue()
    assert "matrices/s" in text and "targets" in text
