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
        PROGRAMS,
        sentences=8,
        lengths=["sentences", 16, 160],
        repeat=1,
        json_path=path,
        console=console,
    )
    data = json.loads(path.read_text())
    assert set(data) >= {"rows", "machine", "summary"}
    assert data["machine"]["sentences"] == 8
    assert data["machine"]["lengths"] == ["sentences", 16, 160]
    for row in data["rows"]:
        assert set(row) >= ROW_KEYS
        assert row["program"] in PROGRAMS
        assert row["matrices_per_s"] > 0 and row["gb_per_s"] > 0
    batches = {(r["unit"], r["tokens"]) for r in data["rows"]}
    assert {tokens for unit, tokens in batches if unit == "window"} == {16, 160}
    assert {unit for unit, _ in batches} == {"sentence", "window"}
    long = [r for r in data["rows"] if r["tokens"] == 160]
    assert {r["backend"] for r in long} == {"numba", "torch", "floor"}  # no reference timed
    assert all(r["matches_numba"] for r in long if r["backend"] == "torch")
    assert next(r for r in long if r["backend"] == "numba")["sentences_timed"] == 5
    assert data["summary"]["judged_on"]["unit"] == "sentence"  # no 128: the first batch
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
    assert "matrices/s" in text and "targets" in text and "160 tokens" in text
