"""Scoring throughput: C candidates against every head of a model on P passages.

    python benchmarks/bench_scores.py [--cache DIR] [--candidates 1000] [--passages 100]
                                      [--metric iou] [--torch-passages 1]
                                      [--torch-candidates 100] [--json FILE]

With `--cache` the attention is real (an `attndsl extract` folder; its vocabulary comes from the
model's tokenizer); without it, synthetic: 30 layers × 9 heads of random causal softmax rows
(rounded to float16) over windows of `--length` TinyStories word tokens. Cases:

- `programs`: C kernel runs, the 31 starter-library programs cycled (real kernel time);
- `mixtures`: the 31 programs plus C − 31 mixtures of one to three of them with the
  first-token sink, as the enumerator makes them;
- `dense`: C mixtures that all include `uniform_causal`: every row full, the comparison's worst
  case.

Each row splits the time into patterns (running/mixing candidates), attention (reading the
cache) and compare (`attndsl.scores.pairwise`), and gives C×K×P pairs per second. A last
table times the plain torch broadcast (`_pairwise_torch`) against the Numba kernel on the same
passages. `--json` writes {rows, torch_vs_numba, machine, target}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch

import attndsl
from attndsl.bench import load_average, load_corpus
from attndsl.compiler import Vocab, word_vocab
from attndsl.synth.scores import _pairwise_torch, pairwise, run_kernels, score_patterns

TARGET_S = 60.0
LAYERS, HEADS = 30, 9


class SyntheticCache:
    """What `score_patterns` reads from an `AttentionCache`, with random attention."""

    def __init__(self, sequences: list[list[int]]) -> None:
        self.folder, self.layers, self.heads = Path("<synthetic>"), LAYERS, HEADS
        self.records = [type("Record", (), {"ids": tuple(s)})() for s in sequences]
        self.manifest = {"model": "synthetic"}

    def __len__(self) -> int:
        return len(self.records)

    def attention(self, passage: int) -> np.ndarray:
        n = len(self.records[passage].ids)
        generator = torch.Generator().manual_seed(passage)
        logits = torch.randn((self.layers, self.heads, n, n), generator=generator) * 3
        logits.masked_fill_(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf)
        return logits.softmax(-1).half().float().numpy()


def load(args) -> tuple[object, Vocab, str]:
    if args.cache:
        from transformers import AutoTokenizer

        from attndsl.models import AttentionCache
        from attndsl.models._registry import model_folder

        cache = AttentionCache(args.cache)
        tokenizer = AutoTokenizer.from_pretrained(model_folder(cache.manifest["model"]))
        return cache, Vocab.from_tokenizer(tokenizer), f"{args.cache} ({cache.manifest['model']})"
    sequences, source = load_corpus(args.passages, args.length)
    vocab = word_vocab(sequences)
    return (
        SyntheticCache([vocab.encode(s).tolist() for s in sequences]),
        vocab,
        f"synthetic attention over {source}",
    )


def mixture_weights(count: int, names: list[str], dense: bool, seed: int = 0) -> np.ndarray:
    """[count, programs] convex weights: one to three programs plus the first-token sink."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((count, len(names)))
    sink, uniform = names.index("first_token_sink"), names.index("uniform_causal")
    for row in weights:
        chosen = rng.choice(len(names), rng.integers(1, 4), replace=False)
        if dense:
            chosen[0] = uniform
        row[chosen] = rng.random(len(chosen)) + 0.1
        row[sink] += rng.random()
    return (weights / weights.sum(1, keepdims=True)).astype(np.float32)


def make_patterns(kernels: list, vocab: Vocab, count: int, case: str, names: list[str]):
    """The `patterns(batch)` function of a case, and a clock of kernel seconds."""
    clock = {"kernels": 0.0}
    mix = (
        None
        if case == "programs"
        else mixture_weights(count - (case == "mixtures") * len(kernels), names, case == "dense")
    )

    def patterns(batch) -> np.ndarray:
        size, start = batch.max_length, time.perf_counter()
        calls = len(kernels) if mix is not None else count
        base = run_kernels([kernels[c % len(kernels)] for c in range(calls)], batch, vocab)
        clock["kernels"] += time.perf_counter() - start
        if mix is None:
            return base
        mixed = torch.from_numpy(mix) @ torch.from_numpy(base.reshape(len(kernels), -1))
        mixed = mixed.numpy().reshape(len(mix), len(batch), size, size)
        return mixed if case == "dense" else np.concatenate([base, mixed])

    return patterns, clock


def run_case(case: str, cache, vocab, kernels, names, args) -> dict:
    patterns, clock = make_patterns(kernels, vocab, args.candidates, case, names)
    passages = list(range(min(args.passages, len(cache))))
    start = time.perf_counter()
    table = score_patterns(
        [str(c) for c in range(args.candidates)], patterns, cache, passages, args.metric
    )
    total = time.perf_counter() - start
    heads = cache.layers * cache.heads
    return {
        "case": case,
        "candidates": args.candidates,
        "heads": heads,
        "passages": len(passages),
        "metric": args.metric,
        "kernel_s": clock["kernels"],
        **{f"{k}_s": v for k, v in table.seconds.items()},
        "total_s": total,
        "pairs_per_s": args.candidates * heads * len(passages) / total,
        "compare_pairs_per_s": args.candidates * heads * len(passages) / table.seconds["compare"],
        "mean_best": float(
            table.mean.max(0).mean() if args.metric != "jsd" else table.mean.min(0).mean()
        ),
    }


def torch_vs_numba(cache, vocab, kernels, names, args) -> dict:
    """Seconds per passage of the plain torch broadcast and the Numba kernel on the first
    `--torch-candidates` mixtures (the broadcast is too slow for all C)."""
    from attndsl.compiler import Batch

    patterns, _ = make_patterns(kernels, vocab, args.candidates, "mixtures", names)
    times = {"torch": 0.0, "numba": 0.0}
    worst = 0.0
    for passage in range(min(args.torch_passages, len(cache))):
        ids = cache.records[passage].ids
        cand = torch.from_numpy(patterns(Batch.from_sequences([ids]))[: args.torch_candidates, 0])
        real = torch.from_numpy(cache.attention(passage).reshape(-1, len(ids), len(ids)))
        start = time.perf_counter()
        slow = _pairwise_torch(cand, real, args.metric)
        times["torch"] += time.perf_counter() - start
        start = time.perf_counter()
        fast = pairwise(cand, real, args.metric)
        times["numba"] += time.perf_counter() - start
        worst = max(worst, float((slow - fast).abs().max()))
    count = max(1, min(args.torch_passages, len(cache)))
    return {
        "passages": count,
        "candidates": min(args.torch_candidates, args.candidates),
        "torch_s_per_passage": times["torch"] / count,
        "numba_s_per_passage": times["numba"] / count,
        "speedup": times["torch"] / max(times["numba"], 1e-12),
        "max_abs_diff": worst,
    }


def report(rows: list[dict], versus: dict, machine: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"attndsl scores: {machine['source']}")
    for column in (
        "case",
        "C",
        "K",
        "P",
        "patterns s",
        "(kernels s)",
        "attention s",
        "compare s",
        "total s",
        "C·K·P/s",
        "compare C·K·P/s",
        "mean best",
    ):
        table.add_column(column, justify="left" if column == "case" else "right")
    for r in rows:
        table.add_row(
            r["case"],
            str(r["candidates"]),
            str(r["heads"]),
            str(r["passages"]),
            f"{r['patterns_s']:.2f}",
            f"{r['kernel_s']:.2f}",
            f"{r['attention_s']:.2f}",
            f"{r['compare_s']:.2f}",
            f"{r['total_s']:.2f}",
            f"{r['pairs_per_s']:,.0f}",
            f"{r['compare_pairs_per_s']:,.0f}",
            f"{r['mean_best']:.3f}",
        )
    console = Console(width=160)
    console.print(table)
    console.print(
        f"torch broadcast vs Numba, {versus['passages']} passage(s) × "
        f"{versus['candidates']} candidates: {versus['torch_s_per_passage']:.2f} s vs "
        f"{versus['numba_s_per_passage']:.3f} s per passage "
        f"(×{versus['speedup']:.0f}; max |diff| {versus['max_abs_diff']:.1e})"
    )
    console.print(
        f"load average before {machine['load_average_before']}, after "
        f"{machine['load_average_after']}; {machine['numba_threads']} Numba threads"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", help="an attention cache folder (default: synthetic)")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=100)
    parser.add_argument("--length", type=int, default=128, help="synthetic passage length")
    parser.add_argument("--metric", default="iou", choices=("iou", "mass", "jsd"))
    parser.add_argument("--cases", default="programs,mixtures,dense")
    parser.add_argument("--torch-passages", type=int, default=1)
    parser.add_argument("--torch-candidates", type=int, default=100)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    load_before = load_average()
    cache, vocab, source = load(args)
    library = attndsl.library()
    names = list(library)
    start = time.perf_counter()
    kernels = [attndsl.compile(p, backend="numba") for p in library.values()]
    compile_s = time.perf_counter() - start
    pairwise(np.eye(2, dtype=np.float32)[None], np.eye(2, dtype=np.float32)[None], args.metric)
    rows = [run_case(case, cache, vocab, kernels, names, args) for case in args.cases.split(",")]
    versus = torch_vs_numba(cache, vocab, kernels, names, args)
    machine = {
        "source": source,
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "library_compile_s": compile_s,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "torch": torch.__version__,
    }
    programs = next((r for r in rows if r["case"] == "programs"), None)
    target = {
        "description": f"{args.candidates} programs × all heads × {args.passages} "
        f"passages under {TARGET_S:.0f} s",
        "total_s": programs and programs["total_s"],
        "met": programs and programs["total_s"] < TARGET_S,
    }
    report(rows, versus, machine)
    print(
        f"target: {target['description']}: {target['total_s']} s → "
        f"{'met' if target['met'] else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"rows": rows, "torch_vs_numba": versus, "machine": machine, "target": target},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
