"""The run directory: atomic writes, resumable JSON Lines, versions and settings."""

from __future__ import annotations

import errno
import json
import os

import pytest

from attndsl._io import _umask
from attndsl.rundir._files import (
    RUN_VERSION,
    RunDir,
    RunError,
    append_jsonl,
    read_json,
    read_jsonl,
    write_json,
)


def test_write_json_is_atomic_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "x.json"
    write_json(target, {"b": 1})
    write_json(target, {"b": 2})
    assert read_json(target) == {"b": 2}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not private like mkstemp's


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    write_json(target, {"kept": True})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError, match=r"disk is full.*--resume"):
        write_json(target, {"kept": False})
    assert read_json(target) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_jsonl_drops_a_cut_last_line_and_names_a_corrupt_one(tmp_path):
    path = tmp_path / "heads.jsonl"
    append_jsonl(path, [{"head": 1}, {"head": 2}])
    with open(path, "a") as out:
        out.write('{"head": 3')  # a crash in the middle of a line
    assert read_jsonl(path) == [{"head": 1}, {"head": 2}]
    append_jsonl(path, [{"head": 3}])
    assert [e["head"] for e in read_jsonl(path)] == [1, 2, 3]
    path.write_text('{"head": 1}\nnot json\n{"head": 3}\n')
    with pytest.raises(RunError, match=r"heads.jsonl:2: corrupt line"):
        read_jsonl(path)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_corrupt_and_missing_json_name_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RunError, match=r"bad\.json: corrupt"):
        read_json(tmp_path / "bad.json")
    with pytest.raises(RunError, match=r"missing\.json: missing"):
        read_json(tmp_path / "missing.json")


def test_runs_resume_only_with_the_same_settings_and_version(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start({"model": "smollm2", "seed": 0}, resume=False)
    run.finish_stage("extract", 1.23456, passages=3)
    assert run.stage_done("extract") and not run.stage_done("score")
    with pytest.raises(RunError, match="--resume"):
        run.start({"model": "smollm2", "seed": 0}, resume=False)
    assert run.start({"model": "smollm2", "seed": 0}, resume=True)["stages"]["extract"] == {
        "seconds": 1.235,
        "passages": 3,
    }
    with pytest.raises(RunError, match=r"other settings \(seed\)"):
        run.start({"model": "smollm2", "seed": 1}, resume=True)
    manifest = json.loads(run.manifest_path.read_text())
    manifest["version"] = RUN_VERSION + 1
    run.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RunError, match="layout version"):
        run.read_manifest()


def test_a_tampered_selection_is_compiled_as_written_and_no_text_reaches_a_kernel(
    tmp_path, monkeypatch
):
    """`selection.json`'s sources are read back without canonicalising (`Program.trusted`):
    a hostile, non-canonical program put there is parsed, checked and compiled, and its
    docstring, names and strings reach no kernel file; its kernel means what the program
    means (a local `n` stays a local)."""
    import numpy as np
    from fake_run import make_run

    import attndsl
    from attndsl.rundir import RunDir, chosen_kernels

    marker = tmp_path / "PWNED"
    monkeypatch.setenv("ATTNDSL_CACHE", str(tmp_path / "cache"))
    hostile = (
        "def head(tokens):\n"
        f'    """Title\n    import os; os.system("touch {marker}")\n    """\n'
        "    L = len(tokens)\n    out = zeros(L, L)\n    n = 1\n    system = 0\n"
        "    for i in range(L):\n"
        '        if tokens[i] == "os.system":\n            system = system + 1\n'
        "        out[i, max(i - n, system)] = 2.0 + 0\n    return out\n"
    )
    run = RunDir(make_run(tmp_path / "run"))
    path = run.path("selection.json")
    selection = json.loads(path.read_text())
    for entry in selection["programs"].values():
        entry["source"] = hostile
    path.write_text(json.dumps(selection))
    kernels = chosen_kernels(run)
    assert not marker.exists()
    for source_file in (tmp_path / "cache" / "kernels").glob("k_*.py"):
        source = source_file.read_text()
        assert source.isascii()
        for text in ("Title", "import os", "os.system", "touch", "system", str(marker)):
            assert text not in source
    tokens = ["The", " os.system", " ran", " os.system", "."]
    expected = attndsl.load(hostile)(tokens)
    for kernel in kernels.values():
        np.testing.assert_allclose(kernel.on_tokens([tokens])[0], expected, atol=1e-6)
