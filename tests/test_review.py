"""`attndsl review`: the terminal views of a run fit 80 columns and show the run's results;
`--json` gives the same data; a wrong directory, head or passage is one clear error."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from fake_run import PROGRAMS, make_run, passages
from rich.console import Console

from attndsl import library
from attndsl.lang import AttnDslError
from attndsl.models import HeadSpecError
from attndsl.rundir import ReviewError, RunError, read_json, write_json
from attndsl.views import review


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run") / "run")


def shown(run, width=80, **options):
    console = Console(
        width=width, record=True, force_terminal=True, color_system="truecolor", file=io.StringIO()
    )
    data = review(run, console=console, **options)
    text = console.export_text()
    assert text.strip()
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, too_long
    return data, text


def test_heads_view_lists_every_explained_head_under_the_summary(run):
    data, text = shown(run)
    selection = read_json(run / "selection.json")
    assert len(data["heads"]) == len(PROGRAMS) == len(selection["heads"])
    rows = {
        line.split()[0]: line
        for line in text.splitlines()
        if line.strip()[:3] in {f"{layer}.{head}" for layer, head in PROGRAMS}
    }
    assert set(rows) == {f"{layer}.{head}" for layer, head in PROGRAMS}
    for entry in selection["heads"]:
        row = rows[f"{entry['layer']}.{entry['head']}"]
        assert f"{entry['test_iou']:.2f}" in row and entry["program_id"] in row
        assert entry["name"][:10] in row
    summary = read_json(run / "summary.json")
    assert f"mean held-out IoU {summary['mean_iou']:.3f}" in text
    assert "37.00" in text and "+30.0%" in text  # perplexity with 50% replaced, and its rise
    assert "1.2" not in rows  # head 1.2 was not explained


def test_head_view_shows_program_summary_and_both_heatmaps(run):
    data, text = shown(run, head="0.0")
    program = library()["previous_token"]
    assert data["program_id"] == program.id and data["spec"] == "0.0"
    assert "out[i, i - 1] = 1.0" in text  # the canonical program
    assert "hypothesis:" in text and "layer 0 head 0" in text  # its summary
    assert "</scri…" in text and "<b>" in text  # hostile tokens as row labels
    lines = text.splitlines()
    # query 5 attends to key 4: real 0.8 + 0.2/6 there, 0.2/6 elsewhere; predicted one-hot
    row = next(line for line in lines if line.startswith(" 5 "))
    cells = row[11:]
    assert cells[:6] == "░░░░█░" and cells[6:35].strip() == ""
    assert cells[35:41] == "····█·"
    window = data["window"]
    assert len(window["tokens"]) == 32 and window["total_tokens"] == 40
    real, predicted = np.array(window["real"]), np.array(window["predicted"])
    np.testing.assert_allclose(predicted, program(window["tokens"]), atol=1e-3)
    assert np.allclose(
        real,
        0.8 * predicted + 0.2 * np.tril(np.ones((32, 32))) / np.arange(1, 33)[:, None],
        atol=2e-3,
    )
    assert 0.6 < window["iou"] < 0.95


def test_library_view_groups_heads_by_program(run):
    data, text = shown(run, library=True)
    by_name = {p["name"]: p for p in data["programs"]}
    assert set(by_name) == {library()[name].name for name in PROGRAMS.values()}
    previous = by_name[library()["previous_token"].name]
    assert previous["heads"] == ["0.0", "0.2"] and data["programs"][0] is previous
    ious = [
        e["test_iou"]
        for e in read_json(run / "selection.json")["heads"]
        if e["program_id"] == previous["id"]
    ]
    assert previous["mean_iou"] == pytest.approx(np.mean(ious))
    assert "0.0 0.2" in text and previous["id"] in text


@pytest.mark.parametrize("options", [{}, {"head": "1.0", "passage": 2}, {"library": True}])
def test_json_is_the_data_without_markup(run, capsys, options):
    data = review(run, as_json=True, **options)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[bold" not in out
    assert json.loads(out) == json.loads(json.dumps(data))


def test_head_view_on_another_passage(run, capsys):
    data = review(run, head="1.0", passage=2, as_json=True)
    capsys.readouterr()
    assert data["window"]["passage"] == 2
    assert data["window"]["tokens"] == passages()[2][:32] != passages()[0][:32]


def broken(run, tmp_path, change):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    change(copy)
    return copy


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"head": "7.0"}, HeadSpecError, "layer 7 does not exist"),
        ({"head": "0.x"}, HeadSpecError, "not a number"),
        ({"head": "1.2"}, ReviewError, "1.2 was not explained"),
        ({"head": "1.*"}, ReviewError, "names 3 heads"),
        ({"head": "0.0", "passage": 9}, ReviewError, "passage 9 is not in the test split"),
    ],
)
def test_a_wrong_head_or_passage_is_one_clear_error(run, options, error, match):
    with pytest.raises(error, match=match):
        review(run, console=Console(width=80, record=True), **options)


def test_a_directory_that_is_not_a_run_is_refused(run, tmp_path):
    with pytest.raises(ReviewError, match="no such directory"):
        review(tmp_path / "nowhere")
    with pytest.raises(ReviewError, match="not a run directory"):
        review(tmp_path)

    def old(copy):
        write_json(copy / "run.json", {**read_json(copy / "run.json"), "version": 0})

    with pytest.raises(RunError, match="layout version 0"):
        review(broken(run, tmp_path / "a", old))
    unselected = broken(run, tmp_path / "b", lambda c: (c / "selection.json").unlink())
    with pytest.raises(RunError, match=r"selection\.json: missing"):
        review(unselected)
    unsummarised = broken(run, tmp_path / "c", lambda c: (c / "summaries.jsonl").unlink())
    with pytest.raises(ReviewError, match=r"summaries\.jsonl: missing"):
        review(unsummarised, head="0.0")
    uncached = broken(run, tmp_path / "d", lambda c: shutil.rmtree(c / "attention"))
    with pytest.raises(ReviewError, match="extract stage has not run"):
        review(uncached, head="0.0")
    assert issubclass(ReviewError, AttnDslError) and issubclass(HeadSpecError, AttnDslError)


@pytest.mark.parametrize(
    "name, change, problem",
    [
        (
            "run.json",
            lambda m: {k: v for k, v in m.items() if k != "settings"},
            "the file lacks 'settings'",
        ),
        ("run.json", lambda m: {**m, "stages": []}, "stages should be an object"),
        ("run.json", lambda m: {**m, "settings": "x"}, "settings should be dict"),
        ("run.json", lambda m: {**m, "stages": {"extract": 3}}, "stages['extract'] should be an"),
        ("selection.json", lambda m: 3, "the file should be an object"),
        ("selection.json", lambda m: {**m, "heads": [{"layer": "0"}]}, "heads[0].layer should be"),
        ("selection.json", lambda m: {**m, "programs": []}, "programs should be an object"),
        ("perplexity.json", lambda m: {**m, "rows": {}}, "rows should be a list"),
        ("summary.json", lambda m: [], "the file should be an object"),
    ],
    ids=range(9),
)
def test_run_files_of_the_wrong_shape_are_one_clear_line(
    run, tmp_path, capsys, name, change, problem
):
    from attndsl.cli import main

    copy = broken(run, tmp_path, lambda c: write_json(c / name, change(read_json(c / name))))
    for command in (
        ["review", str(copy)],
        ["report", str(copy)],
        ["run", "--resume", "--out", str(copy)],
    ):
        capsys.readouterr()
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        if command[0] != "run" or name == "run.json":
            assert f"{name}: not a file this attndsl wrote ({problem}" in err.replace(
                str(copy) + "/", ""
            )
            assert (
                "start a new one with --out"
                if name == "run.json"
                else "remove it to recompute that stage"
            ) in err
