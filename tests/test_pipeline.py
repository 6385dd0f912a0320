"""The whole pipeline on a tiny model, end to end: every stage's files, resuming, evaluate,
and the CLI."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from tiny_model import CORPUS

from attndsl.cli import main
from attndsl.pipeline import STAGES, RunOptions, evaluate, run_pipeline
from attndsl.rundir import (
    RunDir,
    RunError,
    llm_share,
    read_json,
    read_jsonl,
    stored_costs,
    stored_order,
)

STAGE_NAMES = [stage.name for stage in STAGES]


def options(model: str, **changes) -> RunOptions:
    settings = dict(
        model=model,
        corpus=str(CORPUS),
        max_passages=6,
        fit_passages=6,
        cost_passages=2,
        max_tokens=48,
    )
    return RunOptions(**{**settings, **changes})


@pytest.fixture(scope="module")
def finished(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    seen: list[str] = []
    summary = run_pipeline(
        options(tiny_model_dir), str(out), progress=lambda s, d, t, n: seen.append(s)
    )
    return out, summary, seen


def test_every_stage_writes_its_files(finished):
    out, summary, seen = finished
    run = RunDir(out)
    assert list(run.read_manifest()["stages"]) == STAGE_NAMES
    assert {"extract fit", "summarise", "synthesise", "select", "replace: exact"} <= set(seen)
    selection = read_json(out / "selection.json")
    assert [(e["layer"], e["head"]) for e in selection["heads"]] == [
        (layer, head) for layer in range(2) for head in range(4)
    ]
    for entry in selection["heads"]:
        assert 0 <= entry["test_iou"] <= 1 and entry["program_id"] in selection["programs"]
        assert (out / "programs" / f"{entry['program_id']}.py").is_file()
    assert len(read_jsonl(out / "summaries.jsonl")) == 8
    assert {e["origin"] for e in read_jsonl(out / "candidates.jsonl")} == {"enum"}
    rows = read_json(out / "perplexity.json")["rows"]
    assert [r["fraction"] for r in rows] == [0.0, 0.1, 0.25, 0.5]
    assert [r["heads"] for r in rows] == [0, 1, 2, 4]
    assert summary["heads"] == 8 and summary["library_size"] == len(selection["programs"])
    assert set(summary["perplexity"]) == {"0", "0.1", "0.25", "0.5"}
    assert summary == read_json(out / "summary.json")


def test_a_finished_run_resumes_without_work_and_refuses_other_settings(finished, tiny_model_dir):
    out, summary, _ = finished
    seen: list[str] = []
    again = run_pipeline(
        options(tiny_model_dir), str(out), resume=True, progress=lambda s, d, t, n: seen.append(s)
    )
    assert again == summary and set(seen) == set(STAGE_NAMES)
    with pytest.raises(RunError, match="--resume"):
        run_pipeline(options(tiny_model_dir), str(out))
    with pytest.raises(RunError, match="other settings"):
        run_pipeline(options(tiny_model_dir, seed=3), str(out), resume=True)


def interrupt_replace(out, kept: int) -> list[str]:
    """Make the finished run in `out` look stopped inside its replace stage, after `kept`
    lines of costs.jsonl and part of the next; the lines it held."""
    manifest = read_json(out / "run.json")
    del manifest["stages"]["replace"], manifest["stages"]["report"]
    (out / "run.json").write_text(json.dumps(manifest))
    costs = (out / "costs.jsonl").read_text().splitlines()
    (out / "costs.jsonl").write_text("\n".join(costs[:kept]) + "\n" + costs[kept][:7])
    return costs


def test_an_interrupted_stage_resumes_after_its_last_head(finished, tiny_model_dir, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(finished[0], out)
    costs = interrupt_replace(out, 9)
    measured: list[str] = []
    summary = run_pipeline(
        options(tiny_model_dir),
        str(out),
        resume=True,
        progress=lambda s, d, t, n: measured.append(s) if s.startswith("replace:") else 0,
    )
    again = (out / "costs.jsonl").read_text().splitlines()
    assert again[:9] == costs[:9] and sorted(again) == sorted(costs)
    assert set(measured) == {"replace: exact"}  # the first 8 lines: every attribution cost
    assert summary["perplexity"] == finished[1]["perplexity"]
    methods = [json.loads(line)["method"] for line in costs]
    assert methods == ["attribution"] * 8 + ["exact"] * 6  # the cheapest 70% (50% + margin)


def test_an_interrupted_run_with_exact_costs_resumes_after_its_last_head(tiny_model_dir, tmp_path):
    out = tmp_path / "exact"
    chosen = options(tiny_model_dir, costs="exact")
    first = run_pipeline(chosen, str(out))
    interrupt_replace(out, 5)
    measured: list[int] = []
    summary = run_pipeline(
        chosen,
        str(out),
        resume=True,
        progress=lambda s, d, t, n: measured.append(d) if s == "replace: exact" else 0,
    )
    assert measured == [1, 2, 3]  # only the three heads not yet recorded
    assert summary["perplexity"] == first["perplexity"]


def test_cost_benchmark_on_a_finished_run(finished, tmp_path):
    from attndsl.bench import run_cost_benchmark, spearman

    console = Console(file=io.StringIO(), width=160)
    result = run_cost_benchmark(finished[0], tmp_path / "costs.json", console=console)
    assert json.loads((tmp_path / "costs.json").read_text()) == result
    assert result["heads"] == 8
    assert set(result["seconds"]) == set(result["orders"]) == {"attribution", "exact", "screened"}
    assert -1 <= result["spearman"]["all"] <= 1
    stored = [f"{layer}.{head}" for layer, head in stored_order(RunDir(finished[0]))]
    assert result["orders"]["screened"] == stored  # the order the run replaced heads in
    for entry in read_jsonl(finished[0] / "costs.jsonl"):
        found = result["costs"][f"{entry['layer']}.{entry['head']}"][entry["method"]]
        assert found == pytest.approx(entry["cost"])
    assert [r["fraction"] for r in result["perplexity"]["rows"]] == [0.1, 0.25, 0.5]
    assert "Spearman" in console.file.getvalue()
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [5, 5, 6]) == pytest.approx(1.0)


def test_evaluate_rescoring_on_another_corpus(finished, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(
        "The dog ran to the park. The dog was happy.\n\nA bird sang. "
        "Then the bird flew away to the tree.\n"
    )
    result = evaluate(finished[0], str(other))
    assert result["passages"] >= 2 and len(result["heads"]) == 8
    assert 0 <= result["mean_iou"] <= 1
    assert set(result["perplexity"]) == {"0", "0.1", "0.25", "0.5"}
    assert result["library_size"] == finished[1]["library_size"]


def test_the_cli_runs_and_prints_the_summary(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "cli-run"
    code = main(
        [
            "run",
            "--model",
            tiny_model_dir,
            "--corpus",
            str(CORPUS),
            "--heads",
            "1.*",
            "--max-passages",
            "4",
            "--fit-passages",
            "4",
            "--cost-passages",
            "1",
            "--max-tokens",
            "40",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mean held-out IoU" in printed and "library size" in printed
    assert len(read_json(out / "selection.json")["heads"]) == 4
    assert (
        main(["run", "--model", tiny_model_dir, "--heads", "9.0", "--out", str(tmp_path / "x")])
        == 2
    )
    assert "layer 9 does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_bounded_run_on_the_real_smollm2(tmp_path, capsys):
    """What CI runs on every submission: `attndsl run` on the real default model and the
    shipped corpus, two layers and a few passages."""
    out = tmp_path / "smollm2"
    assert (
        main(
            [
                "run",
                "--heads",
                "0.*,15.*",
                "--max-passages",
                "8",
                "--fit-passages",
                "8",
                "--cost-passages",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = read_json(out / "summary.json")
    assert summary["heads"] == 18 and summary["mean_iou"] > 0.4
    # 10% of 270 heads would be 27: all 18 explained heads, and 25% or 50% no more
    assert summary["heads_replaced"] == {"0": [0, 270], "0.1": [18, 270]}
    assert summary["perplexity"]["0"] < summary["perplexity"]["0.1"] < 100
    printed = capsys.readouterr().out
    assert "18 of 270 heads replaced" in printed and "50%" not in printed
    assert (out / "report.html").is_file()
    assert main(["review", str(out), "--head", "15.3"]) == 0
    assert "15.3" in capsys.readouterr().out


def test_llm_synthesis_without_a_key_fails_before_any_work(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "llm-run"
    assert main(["run", "--model", tiny_model_dir, "--synth", "llm", "--out", str(out)]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    assert not out.exists()


def test_a_dry_run_prints_each_heads_prompt_size_and_sends_nothing(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "dry"
    assert (
        main(
            [
                "run",
                "--model",
                tiny_model_dir,
                "--corpus",
                str(CORPUS),
                "--synth",
                "llm",
                "--dry-run",
                "--heads",
                "1.*",
                "--max-passages",
                "4",
                "--fit-passages",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.startswith("1.")]
    assert [row[0] for row in rows] == ["1.0", "1.1", "1.2", "1.3"]
    assert all(int(row[1]) > int(row[2]) > 50 for row in rows)  # whole prompt > head's part
    assert sorted(p.name for p in (out / "llm" / "prompts").iterdir())[:1] == ["1.0.md"]
    assert not (out / "llm" / "cache").exists() and not (out / "selection.json").exists()


def test_llm_synthesis_through_the_pipeline(tiny_model_dir, tmp_path):
    """`--synth llm` against a loopback endpoint: the LLM's programs become candidates, the
    refine round is fed the best one's worst passages, and a resumed run sends nothing."""
    from openai_stub import StubServer, completion

    from attndsl import library
    from attndsl.prompts import answer

    programs = library()
    first = "\n".join(
        answer(name, programs[name].source) for name in ("previous_token", "two_back")
    )
    refined = answer("sink", programs["first_token_sink"].source)

    def script(body):
        text = body["messages"][-1]["content"]
        return completion(refined if "improved programs" in text else first)

    out = tmp_path / "llm-run"
    with StubServer(script) as server:
        settings = dict(synth="llm", base_url=server.url, heads="1.0,1.1")
        summary = run_pipeline(options(tiny_model_dir, **settings), str(out))
        sent = len(server.requests)
        assert sent == 4  # two heads: a first request and one refinement each
        assert any("improved programs" in r["messages"][-1]["content"] for r in server.requests)
        candidates = read_jsonl(out / "candidates.jsonl")
        assert {e["origin"] for e in candidates} == {"llm"}
        assert all(len(e["candidates"]) == 3 for e in candidates)
        assert summary["heads"] == 2
        manifest = read_json(out / "run.json")
        del manifest["stages"]["synthesise"]
        (out / "run.json").write_text(json.dumps(manifest))
        (out / "candidates.jsonl").unlink()
        run_pipeline(options(tiny_model_dir, **settings), str(out), resume=True)
        assert len(server.requests) == sent  # every answer came from the cache


def test_evaluate_and_perplexity_from_the_command_line(finished, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(finished[0]),
                "--corpus",
                str(CORPUS),
                "--max-passages",
                "3",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert len(json.loads(out.read_text())["heads"]) == 8
    settings = read_json(finished[0] / "run.json")["settings"]
    assert (
        main(
            [
                "perplexity",
                "--model",
                settings["model"],
                "--corpus",
                str(CORPUS),
                "--max-passages",
                "2",
                "--run",
                str(finished[0]),
                "--fraction",
                "0.5",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert '"heads": 4' in printed and '"perplexity"' in printed


@pytest.mark.parametrize("pack", [False, True])
def test_passages_are_sentences_or_packed_and_spread_through_each_split(
    tiny_model_dir, tmp_path, pack
):
    from attndsl.models import split_sentences, split_texts, spread
    from attndsl.pipeline import Context

    chosen = options(tiny_model_dir, pack=pack, max_passages=5, fit_passages=3)
    context = Context(chosen, RunDir(tmp_path / "run"), lambda s, d, t: None)
    texts = context.texts
    every = split_texts(chosen.corpus, tiny_model_dir, context.tokenizer, 48, pack=pack)
    assert {s: len(t) for s, t in texts.items()} == {"fit": 3, "select": 5, "test": 5}
    for split, limit in (("fit", 3), ("select", 5), ("test", 5)):
        assert texts[split] == spread(every[split], limit) != every[split][:limit]
    one_sentence = [len(split_sentences(t)) == 1 for t in every["test"]]
    assert all(one_sentence) if not pack else not all(one_sentence)


def test_hostile_llm_answers_are_checked_never_executed(tiny_model_dir, tmp_path, monkeypatch):
    """An endpoint answers with a docstring that breaks a comment line (rejected by the
    checker) and with a valid program whose docstring, names and literals hold code and
    markup: no marker file appears, no kernel file holds any of that text, and the report
    holds only its own two script elements (tests/test_report.py escapes a hostile name)."""
    from openai_stub import StubServer, completion

    from attndsl.prompts import answer

    marker = tmp_path / "PWNED"
    cache = tmp_path / "kernels"
    monkeypatch.setenv("ATTNDSL_CACHE", str(cache))
    escaped = (
        "def head(tokens):\n"
        f"    \"x\\rimport os;os.system('touch {marker}')\"\n"
        "    n = len(tokens)\n    out = zeros(n, n)\n    for i in range(n):\n"
        "        out[i, i] = 1.0\n    return out\n"
    )
    hostile = (
        "def head(tokens):\n"
        f'    """</script><script>alert(1)</script>\n    import os; os.system(\'touch '
        f'{marker}\')\n    """\n'
        "    n = len(tokens)\n    out = zeros(n, n)\n    for i in range(n):\n"
        '        system = i - 1\n        if tokens[i] == "</script>":\n'
        "            system = 0\n        out[i, max(system, 0)] = 1.0\n    return out\n"
    )
    text = "\n".join([answer("escape", escaped), answer("markup", hostile)])
    out = tmp_path / "hostile-run"
    with StubServer(lambda body: completion(text)) as server:
        run_pipeline(
            options(
                tiny_model_dir,
                synth="llm",
                base_url=server.url,
                heads="1.0",
                refine_rounds=0,
                repair_rounds=0,
            ),
            str(out),
        )
    assert not marker.exists()
    [entry] = read_jsonl(out / "candidates.jsonl")
    assert len(entry["candidates"]) == 1  # the escaped docstring was rejected
    kernels = list((cache / "kernels").glob("k_*.py"))
    assert kernels
    for path in kernels:
        source = path.read_text()
        assert source.isascii()
        for text in ("os.system", "touch", "script", "system", str(marker)):
            assert text not in source
    report = (out / "report.html").read_text()
    assert "alert(1)</script>" not in report and report.count("<script") == 2


@pytest.mark.parametrize(
    "line, words",
    [
        ('{"layer": 0, "head": 1, "cost": 0.1, "method": "guess"}', ["costs.jsonl:2", "'guess'"]),
        ('{"layer": 0, "head": 1}', ["costs.jsonl", "lacks 'cost'"]),
        ('{"layer": "0", "head": 1, "cost": 0.1}', ["costs.jsonl", "should be int"]),
    ],
)
def test_a_tampered_costs_file_is_one_clear_error(finished, tmp_path, line, words):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(finished[0], out)
    first = (out / "costs.jsonl").read_text().splitlines()[0]
    (out / "costs.jsonl").write_text(first + "\n" + line + "\n")
    with pytest.raises(RunError) as error:
        stored_costs(RunDir(out))
    assert all(word in str(error.value) for word in words) and "\n" not in str(error.value)


def test_llm_heads_are_recorded_as_they_finish_and_a_resume_repeats_no_request(
    tiny_model_dir, tmp_path, capsys
):
    """`--synth both --llm-heads worst:2` against a server whose context is too small for
    the second head's prompt: the run stops with one line, the first head's candidates are
    kept, and the resumed run asks only the second head. The summary shows the LLM's share."""
    from openai_stub import Reply, StubServer, completion

    from attndsl import library
    from attndsl.prompts import answer

    reply = answer("previous", library()["previous_token"].source)
    asked: list[str] = []
    small_context = [True]

    def script(body):
        head = re.search(r"layer (\d+), head (\d+)", body["messages"][1]["content"]).group(0)
        if head not in asked:
            asked.append(head)
        if small_context[0] and head == asked[-1] and len(asked) == 2:
            return Reply('{"error": {"message": "exceeds the available context size"}}', 400)
        return completion(reply)

    out = tmp_path / "llm"
    with StubServer(script) as server:
        command = ["run", "--model", tiny_model_dir, "--corpus", str(CORPUS), "--heads", "1.*"]
        command += ["--max-passages", "6", "--fit-passages", "6", "--cost-passages", "2"]
        command += ["--max-tokens", "48", "--synth", "both", "--llm-heads", "worst:2"]
        command += ["--refine-rounds", "0", "--base-url", server.url, "--out", str(out)]
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "larger context" in err and "Traceback" not in err and len(asked) == 2
        llm_entries = [e for e in read_jsonl(out / "candidates.jsonl") if e["origin"] == "llm"]
        assert [f"layer {e['layer']}, head {e['head']}" for e in llm_entries] == asked[:1]
        sent = len(server.requests)
        small_context[0] = False
        assert main([*command, "--resume"]) == 0
        assert len(server.requests) == sent + 1  # the second head's request, once
        assert len(asked) == 2
    share = read_json(out / "summary.json")["llm"]
    assert share["heads"] == 2 and share["answers"] == 2 and share["checked"] == 2
    assert 0 <= share["won"] <= 2
    assert "2 heads asked · 2 answers" in capsys.readouterr().out
    assert main(["review", str(out)]) == 0
    assert "LLM: 2 heads asked · 2 answers" in capsys.readouterr().out
    assert "2 heads asked · 2 answers" in (out / "report.html").read_text()
    # a tampered llm.jsonl is one clear line naming the file and line, not a traceback
    lines = (out / "llm.jsonl").read_text().splitlines()
    (out / "llm.jsonl").write_text(lines[0] + '\n{"layer": 1, "head": 0, "usage": "x"}\n')
    with pytest.raises(RunError, match=r"llm\.jsonl: .* lacks 'candidates'") as error:
        llm_share(RunDir(out))
    assert "\n" not in str(error.value)


def test_the_llm_benchmark_on_a_finished_run(finished, tmp_path):
    """`attndsl bench llm` against a loopback endpoint: the worst heads, both grammar modes
    side by side (the grammar only in `auto`), enum-only and enum+LLM test IoU per head."""
    from openai_stub import StubServer, completion

    from attndsl import library
    from attndsl.prompts import answer

    reply = answer("sink", library()["first_token_sink"].source)
    with StubServer(lambda body: completion(reply)) as server:
        out = tmp_path / "llm.json"
        command = ["bench", "llm", "--run", str(finished[0]), "--base-url", server.url]
        command += ["--llm-heads", "2", "--refine-rounds", "0", "--json", str(out)]
        assert main(command) == 0
        grammars = ["grammar" in r for r in server.requests]
    result = json.loads(out.read_text())
    assert len(result["heads"]) == 2 and list(result["modes"]) == ["auto", "off"]
    assert grammars == [True, True, False, False]
    for mode in result["modes"].values():
        for row in mode["rows"]:
            assert row["with_llm_test_iou"] >= 0 and row["answers"] == 1
            assert row["with_llm_test_iou"] == row["enum_test_iou"] or row["won"]
        assert mode["summary"]["checked"] == 2


def test_every_llm_option_reaches_the_synthesiser(tmp_path):
    from attndsl.pipeline import llm_config

    chosen = dict(
        llm_model="m",
        base_url="http://127.0.0.1:1/v1",
        llm_max_tokens=7,
        llm_seed=3,
        llm_stop=["<|end|>"],
        frequency_penalty=0.2,
        temperature=0.1,
        grammar="off",
        head_tokens=9,
        head_seconds=5.0,
        programs_per_request=2,
        repair_rounds=0,
        refine_rounds=2,
        concurrency=3,
        timeout_s=30.0,
    )
    config = llm_config(RunOptions(**chosen), tmp_path)
    renamed = {"llm_model": "model", "llm_max_tokens": "max_tokens", "llm_seed": "seed"}
    for option, value in chosen.items():
        field = renamed.get(option, "stop" if option == "llm_stop" else option)
        assert getattr(config, field) == (tuple(value) if option == "llm_stop" else value)
    assert config.cache_dir == tmp_path
