"""The CLI's pipeline commands: run, evaluate, review and report."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from ._common import count, folder, heads, llm_heads, positive, positive_float

EXAMPLES = {
    "run": "attndsl run                                  # smollm2, shipped stories, enum\n"
    "  attndsl run --heads 0.*,5.3 --max-passages 16 --out runs/quick\n"
    "  attndsl run --synth both --llm-heads worst:10 --base-url http://127.0.0.1:8080/v1 "
    "--llm-model qwen2.5-coder-1.5b   # after: attndsl llm serve\n"
    "  attndsl run --out runs/smollm2 --resume       # continue an interrupted run",
    "evaluate": "attndsl evaluate --run runs/smollm2 --corpus ../shared/data/tinystories/"
    "valid-sample.jsonl --json eval.json",
    "review": "attndsl review runs/smollm2\n  attndsl review runs/smollm2 --head 12.3\n"
    "  attndsl review runs/smollm2 --library\n  attndsl review runs/smollm2 --json",
    "report": "attndsl report runs/smollm2               # writes runs/smollm2/report.html",
}


def add_commands(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Register run, evaluate, review and report with the CLI's `add(name, help)`."""
    from ..models import COST_METHODS
    from ..pipeline import SYNTHESISERS, RunOptions
    from ..synth.llm import GRAMMARS

    defaults = RunOptions()
    sub = add(
        "run",
        "Run the whole pipeline: extract attention, summarise, synthesise "
        "programs, select the best per head on held-out text, replace heads and "
        "measure perplexity, report.",
    )
    sub.add_argument(
        "--model",
        default=defaults.model,
        help="smollm2 (default), gemma3-270m, a Hugging Face id or a folder",
    )
    sub.add_argument(
        "--corpus", help="text, JSON Lines or hf:NAME[:SPLIT] (default: the shipped stories)"
    )
    sub.add_argument(
        "--heads",
        type=heads,
        default=defaults.heads,
        help="heads to explain, e.g. 0.3,5.* (default: all)",
    )
    sub.add_argument(
        "--synth",
        choices=SYNTHESISERS,
        default=defaults.synth,
        help="enum: offline enumeration (default); llm: an OpenAI-compatible "
        "endpoint; both; none: the starter library alone (a baseline)",
    )
    sub.add_argument(
        "--max-passages",
        type=count,
        default=defaults.max_passages,
        help="most passages of the select and test splits (%(default)s; 0: all)",
    )
    sub.add_argument(
        "--max-tokens",
        type=positive,
        default=defaults.max_tokens,
        help="most tokens per passage (%(default)s)",
    )
    sub.add_argument(
        "--pack",
        action="store_true",
        help="pack consecutive sentences into passages of up to --max-tokens "
        "(default: one sentence per passage, as in the paper)",
    )
    sub.add_argument("--seed", type=int, default=defaults.seed, help="split seed (0)")
    sub.add_argument(
        "--fit-passages",
        type=count,
        default=defaults.fit_passages,
        help="most passages of the fit split (%(default)s)",
    )
    sub.add_argument(
        "--cost-passages",
        type=count,
        default=defaults.cost_passages,
        help="select passages each head's replacement cost is measured on (%(default)s; 0: all)",
    )
    sub.add_argument(
        "--costs",
        choices=COST_METHODS,
        default=defaults.costs,
        help="how replacement costs are measured: screened (every head by attribution, then "
        "the cheapest exactly: the default), attribution (every head from one backward pass "
        "per batch) or exact (one forward pass per head)",
    )
    sub.add_argument(
        "--perplexity-passages",
        type=count,
        default=defaults.perplexity_passages,
        help="test passages perplexity is measured on (%(default)s; 0: all)",
    )
    sub.add_argument(
        "--out", type=folder, default="runs/latest", help="run directory (runs/latest)"
    )
    sub.add_argument("--resume", action="store_true", help="continue the run in --out")
    llm = sub.add_argument_group(
        "LLM synthesiser (--synth llm|both; key from OPENAI_API_KEY; a local server: "
        "attndsl llm serve)"
    )
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8080/v1")
    llm.add_argument("--llm-model", default=defaults.llm_model, help="model at the endpoint")
    llm.add_argument(
        "--llm-heads",
        type=llm_heads,
        default=defaults.llm_heads,
        help="heads to ask about: all (default) or worst:N, the N heads the starters and the "
        "enumerator explain worst on the select split",
    )
    llm.add_argument(
        "--concurrency",
        type=positive,
        default=defaults.concurrency,
        help="heads asked about at once (default: 1 with --base-url, else 4)",
    )
    llm.add_argument(
        "--timeout",
        type=positive_float,
        default=defaults.timeout_s,
        dest="timeout_s",
        help="seconds one request may take once sent (%(default)s; not retried)",
    )
    llm.add_argument("--programs-per-request", type=positive, default=defaults.programs_per_request)
    llm.add_argument("--repair-rounds", type=count, default=defaults.repair_rounds)
    llm.add_argument("--refine-rounds", type=count, default=defaults.refine_rounds)
    llm.add_argument("--temperature", type=float, default=defaults.temperature)
    llm.add_argument(
        "--llm-max-tokens",
        type=positive,
        default=defaults.llm_max_tokens,
        help="most tokens of one answer (%(default)s)",
    )
    llm.add_argument("--llm-seed", type=int, default=defaults.llm_seed, help="sampling seed")
    llm.add_argument(
        "--llm-stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop the answer at TEXT (may be given again)",
    )
    llm.add_argument(
        "--frequency-penalty",
        type=float,
        default=defaults.frequency_penalty,
        help="above 0 discourages an answer that repeats itself (%(default)s)",
    )
    llm.add_argument(
        "--grammar",
        choices=GRAMMARS,
        default=defaults.grammar,
        help="auto: hold decoding to the language where the server takes a grammar "
        "(llama.cpp); off: send none",
    )
    llm.add_argument(
        "--head-tokens", type=positive, help="completion tokens one head may spend (no limit)"
    )
    llm.add_argument(
        "--head-seconds", type=positive_float, help="seconds one head may wait (no limit)"
    )
    llm.add_argument(
        "--dry-run",
        action="store_true",
        help="write every prompt to the run directory, send nothing, and stop",
    )
    sub.set_defaults(handler=cmd_run)

    sub = add(
        "evaluate",
        "Re-score a finished run's programs on another corpus (text the run "
        "never saw): IoU per head and perplexity with heads replaced.",
    )
    sub.add_argument("--run", required=True, metavar="DIR", help="a finished run directory")
    sub.add_argument("--corpus", required=True, help="text, JSON Lines or hf:NAME[:SPLIT]")
    sub.add_argument("--max-passages", type=count, default=0, help="0: every passage")
    sub.add_argument("--json", metavar="FILE", help="also write the result here")
    sub.set_defaults(handler=cmd_evaluate)

    sub = add(
        "review",
        "Read a run's results in the terminal: heads, one head in detail "
        "(program, summary, real vs predicted heatmaps), or the library.",
    )
    sub.add_argument("dir", metavar="DIR", help="run directory")
    sub.add_argument("--head", help="one head in detail, e.g. 12.3")
    sub.add_argument("--passage", type=count, default=0, help="test passage for the heatmaps")
    sub.add_argument("--library", action="store_true", help="unique programs and their heads")
    sub.add_argument("--json", action="store_true", help="the same data as JSON")
    sub.set_defaults(handler=cmd_review)

    sub = add(
        "report",
        "Write a self-contained HTML report of a run (tables, every program, "
        "heatmaps, the perplexity curve).",
    )
    sub.add_argument("dir", metavar="DIR", help="run directory")
    sub.add_argument("--out", help="HTML file (default DIR/report.html)")
    sub.set_defaults(handler=cmd_report)


@contextlib.contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int, str], None]]:
    """One rich progress display for a whole run: a bar per stage, made when it starts, and
    what the stage is doing now beside it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description:<18}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "{task.fields[note]}",
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int, note: str = "") -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, note="")
            bar.update(tasks[stage], completed=done, total=total, note=note)

        yield report


def headline_table(summary: dict) -> object:
    """The run's headline numbers as a rich table."""
    from rich.table import Table

    from ..rundir import describe_share

    table = Table(title="attndsl run", show_header=False)
    table.add_row("heads explained", str(summary["heads"]))
    table.add_row("mean held-out IoU", f"{summary['mean_iou']:.3f}")
    table.add_row("heads above 0.75", str(summary["heads_above_0.75"]))
    table.add_row("library size", str(summary["library_size"]))
    replaced = summary.get("heads_replaced", {})
    for fraction, value in summary["perplexity"].items():
        change = summary["perplexity_increase"][fraction]
        heads, of = replaced.get(fraction, (None, None))
        label = (
            f"{float(fraction):.0%} replaced"
            if heads is None or of is None
            else f"{heads} of {of} heads replaced"
        )
        table.add_row(f"perplexity, {label}", f"{value:.2f} ({change:+.1%})")
    if "llm" in summary:
        table.add_row("LLM", describe_share(summary["llm"]))
    for stage, seconds in summary["stage_seconds"].items():
        table.add_row(f"time: {stage}", f"{seconds:.1f} s")
    return table


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..pipeline import RunOptions, run_pipeline
    from ..rundir import nothing_answered

    options = RunOptions(
        **{name: getattr(args, name) for name in RunOptions.names() if hasattr(args, name)}
    )
    with stage_progress() as report:
        summary = run_pipeline(options, args.out, resume=args.resume, progress=report)
    console = Console()
    if summary is None:
        llm = Path(args.out) / "llm"
        print((llm / "tokens.txt").read_text(encoding="utf-8"), end="")
        console.print(
            f"dry run: prompts written to {llm / 'prompts'}, this table to {llm / 'tokens.txt'}"
        )
        return 0
    console.print(headline_table(summary))
    console.print(f"results in {args.out}: attndsl review {args.out}")
    if nothing_answered(summary.get("llm")):
        console.print(
            f"[bold red]the LLM answered none of its requests[/]: see {args.out}/llm.jsonl; "
            "the results above are the starters' and the enumerator's alone"
        )
        return 1
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..pipeline import evaluate

    with stage_progress() as report:
        result = evaluate(args.run, args.corpus, args.max_passages, progress=report)
    brief = {k: v for k, v in result.items() if k != "heads"}
    print(json.dumps(brief, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from ..views import review

    review(args.dir, head=args.head, library=args.library, passage=args.passage, as_json=args.json)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..views import write_report

    path = write_report(args.dir, args.out)
    print(f"wrote {path}")
    return 0
