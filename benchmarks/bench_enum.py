"""Quality of the enumerative synthesiser, held out: fit, select and test on three caches.

    python benchmarks/bench_enum.py --fit DIR --select DIR --test DIR [--model smollm2]
                                    [--keep 2] [--json FILE]

The caches are `attndsl extract` folders of the fit, select and test splits of one corpus.
Candidates are fitted on the fit split (`enumerate_candidates`, on about MAX_FIT_TOKENS
of its tokens); each head's best candidate is picked on the select split and reported on the
test split, both with the programs' real compiled kernels (`attndsl.scores.score_programs`).
For comparison the starter library alone goes through the same select and test steps.
Prints the mean test soft IoU over all heads, the heads above 0.75, the library size (unique
programs chosen), the mean by layer, and the time of each step; `--json` writes it all.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from attndsl.compiler import Vocab
from attndsl.lang import library
from attndsl.models import AttentionCache, load_tokenizer
from attndsl.synth.enum import enumerate_candidates, fit_passages
from attndsl.synth.scores import score_programs

GOOD = 0.75


def pick(
    programs: dict,
    select: AttentionCache,
    test: AttentionCache,
    vocab: Vocab,
    allowed: dict | None = None,
) -> tuple[dict, dict, dict]:
    """Each head's best program on select (among `allowed[head]` ids, else all), and its
    test score: (chosen ids by head, test IoU by head, seconds)."""
    ids = list(programs)
    clock = time.perf_counter()
    table = score_programs([programs[i] for i in ids], select, None, vocab)
    seconds = {"select": time.perf_counter() - clock}
    row = {pid: k for k, pid in enumerate(ids)}
    chosen = {}
    for layer in range(select.layers):
        for head in range(select.heads):
            pool = allowed[(layer, head)] if allowed else ids
            scores = [table.mean[row[p], layer, head] for p in pool]
            chosen[(layer, head)] = pool[int(np.argmax(scores))]
    unique = sorted(set(chosen.values()))
    clock = time.perf_counter()
    final = score_programs([programs[i] for i in unique], test, None, vocab)
    seconds["test"] = time.perf_counter() - clock
    at = {pid: k for k, pid in enumerate(unique)}
    iou = {h: float(final.mean[at[pid], h[0], h[1]]) for h, pid in chosen.items()}
    return chosen, iou, seconds


def summary(chosen: dict, iou: dict, layers: int) -> dict:
    values = np.array([iou[h] for h in sorted(iou)])
    by_layer = [float(np.mean([iou[h] for h in iou if h[0] == layer])) for layer in range(layers)]
    return {
        "mean_iou": float(values.mean()),
        "heads_above": int((values > GOOD).sum()),
        "heads": len(values),
        "library_size": len(set(chosen.values())),
        "by_layer": by_layer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", required=True)
    parser.add_argument("--select", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--keep", type=int, default=2, help="candidates per head")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    fit, select, test = (AttentionCache(f) for f in (args.fit, args.select, args.test))
    vocab = Vocab.from_tokenizer(load_tokenizer(args.model))

    clock = time.perf_counter()
    found = enumerate_candidates(fit, range(len(fit)), vocab, keep=args.keep)
    enum_seconds = time.perf_counter() - clock
    programs = {c.id: c.program for cands in found.values() for c in cands}
    allowed = {h: [c.id for c in cands] for h, cands in found.items()}
    chosen, iou, seconds = pick(programs, select, test, vocab, allowed)
    seconds["enumerate"] = enum_seconds
    enum = summary(chosen, iou, fit.layers)
    hypotheses = {c.id: c.hypothesis for cands in found.values() for c in cands}

    starter = {p.id: p.canonical for p in library().values()}
    lib_chosen, lib_iou, lib_seconds = pick(starter, select, test, vocab)
    baseline = summary(lib_chosen, lib_iou, fit.layers)

    print(
        f"enumeration: {len(found)} heads in {enum_seconds:.0f} s "
        f"({len(fit_passages(fit, range(len(fit))))} fit passages), {len(programs)} candidates; "
        f"select {seconds['select']:.0f} s, test {seconds['test']:.0f} s"
    )
    for name, result in (("enum alone", enum), ("starter library alone", baseline)):
        print(
            f"{name:22s} test mean soft IoU {result['mean_iou']:.4f}   heads > {GOOD}: "
            f"{result['heads_above']}/{result['heads']}   library size "
            f"{result['library_size']}"
        )
    print("by layer (enum | library):")
    for layer, (a, b) in enumerate(zip(enum["by_layer"], baseline["by_layer"])):
        print(f"  {layer:2d}  {a:.3f} | {b:.3f}")
    if args.json:
        heads = [
            {
                "layer": h[0],
                "head": h[1],
                "iou": iou[h],
                "program_id": chosen[h],
                "hypothesis": hypotheses[chosen[h]],
                "library_iou": lib_iou[h],
            }
            for h in sorted(iou)
        ]
        Path(args.json).write_text(
            json.dumps(
                {
                    "enum": enum,
                    "library": baseline,
                    "heads": heads,
                    "keep": args.keep,
                    "fit_passages": len(fit_passages(fit, range(len(fit)))),
                    "seconds": {**seconds, "library": lib_seconds},
                    "caches": {"fit": args.fit, "select": args.select, "test": args.test},
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
