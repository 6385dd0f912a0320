"""`attndsl report`: one self-contained HTML page whose embedded data is the run's, whose
run-provided text (tokens, names, program text) cannot break the page, and whose heatmaps
headless Chromium draws."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from fake_run import PROGRAMS, make_run

from attndsl import library
from attndsl.rundir import read_json, write_json
from attndsl.views._report import perplexity_svg, write_report

HOSTILE_NAME = "</script><b>bold</b>"
HOSTILE_HYPOTHESIS = "<img src=x onerror=alert(1)> & </pre>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = make_run(tmp_path_factory.mktemp("run") / "run")
    selection = read_json(folder / "selection.json")
    first = selection["heads"][0]
    first["name"] = selection["programs"][first["program_id"]]["name"] = HOSTILE_NAME
    selection["programs"][first["program_id"]]["hypothesis"] = HOSTILE_HYPOTHESIS
    write_json(folder / "selection.json", selection)
    return folder


@pytest.fixture(scope="module")
def page(run):
    path = write_report(run)
    assert path == run / "report.html"
    return path.read_text(encoding="utf-8")


def embedded(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    return json.loads(match.group(1))


def test_page_needs_no_network(page):
    assert not re.search(r"<(link|img|iframe)\b|<[^<>]*\ssrc=|@import|url\(", page)
    links = re.findall(r'href="([^"]*)"', page)
    assert links and all(link.startswith("#") for link in links)
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_run_text_is_escaped(page):
    assert page.count("</script>") == 2  # the data's and the code's own closing tags
    assert page.count("<script") == 2
    assert "<b>" not in page and "<img" not in page
    assert "&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/pre&gt;" in page
    data = embedded(page)
    assert "</script>" in data["tokens"] and "<b>" in data["tokens"]
    assert data["heads"][0]["name"] == HOSTILE_NAME


def test_embedded_data_is_the_runs_attention_and_patterns(run, page):
    data = embedded(page)
    n = len(data["tokens"])
    assert n == 32 and data["total"] == 40
    assert [h["spec"] for h in data["heads"]] == [f"{a}.{b}" for a, b in sorted(PROGRAMS)]
    rows, cols = np.tril_indices(n)
    previous = library()["previous_token"]
    expected = np.rint(previous(data["tokens"])[rows, cols] * 100)
    np.testing.assert_array_equal(data["predicted"][previous.id], expected)
    real = np.array(data["heads"][0]["real"]) / 100  # head 0.0: 0.8 previous + 0.2 uniform
    uniform = (np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None])[rows, cols]
    np.testing.assert_allclose(real, 0.8 * expected / 100 + 0.2 * uniform, atol=0.006)
    assert data["initial"] == "1.1"  # the best head (uniform, IoU 1) is shown first


def test_page_lists_every_head_and_program_with_its_source(run, page):
    selection = read_json(run / "selection.json")
    for entry in selection["heads"]:
        assert f'href="#head-{entry["layer"]}.{entry["head"]}"' in page
    for pid in selection["programs"]:
        assert f'id="prog-{pid}"' in page
    assert "zeros" in page and "range" in page  # highlighted program text
    assert page.count('<tr><td class=num><a href="#head-') == len(selection["heads"])


def test_report_of_a_run_still_writing_its_summary(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "summary.json").unlink()  # as while the run's report stage runs
    out = write_report(copy, tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html"
    summary = read_json(run / "summary.json")
    assert f"<td class=num>{summary['mean_iou']:.3f}</td>" in out.read_text(encoding="utf-8")


def test_perplexity_curve_puts_higher_perplexity_higher():
    rows = [
        {"fraction": 0.0, "heads": 0, "programs": 10.0, "uniform": 10.0, "first": 10.0},
        {"fraction": 0.5, "heads": 4, "programs": 12.0, "uniform": 40.0, "first": 90.0},
    ]
    svg = perplexity_svg(rows)
    lines = {
        name: points
        for points, name in re.findall(r'points="([^"]*)" class="series" data-series="(\w+)"', svg)
    }
    assert set(lines) == {"programs", "uniform", "first"}  # no mean measured: not drawn
    ends = {
        name: [float(v) for v in points.split()[-1].split(",")] for name, points in lines.items()
    }
    starts = {name: points.split()[0] for name, points in lines.items()}
    assert len(set(starts.values())) == 1  # all start at the same perplexity
    assert ends["programs"][1] > ends["uniform"][1] > ends["first"][1]  # SVG y grows down
    assert "no perplexity" in perplexity_svg([])


def chromium(*args: str, tmp_path) -> str:
    done = subprocess.run(
        [
            "chromium",
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs chromium (apt-get install chromium) to render the page",
)
def test_chromium_draws_every_heatmap(run, page, tmp_path):
    dom = chromium("--dump-dom", str(run / "report.html"), tmp_path=tmp_path)
    assert dom.count('data-drawn="1"') == len(PROGRAMS)  # every head's gallery canvas
    detail = dom[dom.index('id="detail"') : dom.index("<h2>Heads")]
    assert 'data-head="1.1"' in detail
    assert detail.count("<rect") == 2 * 32 * 33 // 2  # real and predicted, lower triangles
    assert "&lt;/script&gt;" in detail and "&lt;b&gt;" in detail  # tokens drawn as text
    assert "<b>" not in dom and "<img" not in dom
