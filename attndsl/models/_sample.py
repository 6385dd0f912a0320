"""The shipped default corpus: short stories sampled from the default model itself.

Text a model wrote is in its own distribution, and needs no network. `attndsl corpus sample`
writes one JSON line per story, `{"text", "prompt", "seed"}`, a batch at a time, so an
interrupted run resumes where it stopped; prompts and seeds depend only on the story's
number, so the same command on the same torch build writes the same file.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_STORIES = 300
DEFAULT_SEED = 0
CORPUS_FILE = Path(__file__).parent / "data" / "stories.jsonl"

_CHARACTERS = (
    "a girl",
    "a boy",
    "a little dog",
    "a cat",
    "a bird",
    "a rabbit",
    "a bear",
    "two friends",
    "a fox",
    "a little robot",
    "a grandma",
    "a frog",
)
_THINGS = (
    "a red ball",
    "a big tree",
    "a lost key",
    "a kite",
    "a box of toys",
    "the rain",
    "a new friend",
    "a shiny stone",
    "a birthday cake",
    "a boat",
    "the moon",
    "a song",
)
_PLACES = (
    "in the park",
    "at the beach",
    "in the forest",
    "at school",
    "in a small town",
    "on a farm",
    "by the river",
    "in the garden",
    "at home",
    "on a hill",
)


def prompt_for(number: int, seed: int) -> str:
    """The request for story `number` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + number)
    return (
        f"Write a short story for a young child, in simple words, about "
        f"{rng.choice(_CHARACTERS)} and {rng.choice(_THINGS)} {rng.choice(_PLACES)}."
    )


def _whole_sentences(text: str) -> str:
    """The text up to its last finished sentence (generation stops mid-sentence)."""
    text = text.strip()
    ends = [m.end() for m in re.finditer(r"""[.!?]["'”’]?(?=\s|$)""", text)]
    return text[: ends[-1]] if ends else text


def sample_stories(
    model: Any,
    tokenizer: Any,
    out: str | Path,
    stories: int = DEFAULT_STORIES,
    seed: int = DEFAULT_SEED,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Sample `stories` stories into `out` (JSON Lines), resuming a partial file."""
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = len(out.read_text().splitlines()) if out.is_file() else 0
    tokenizer.padding_side = "left"
    for start in range(done, stories, batch_size):
        numbers = list(range(start, min(stories, start + batch_size)))
        prompts = [prompt_for(k, seed) for k in numbers]
        chats = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
            )
            for p in prompts
        ]
        batch = tokenizer(chats, return_tensors="pt", padding=True)
        torch.manual_seed(seed * 1_000_003 + start)
        with torch.inference_mode():
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = generated[:, batch["input_ids"].shape[1] :]
        with open(out, "a", encoding="utf-8") as handle:
            for number, prompt, ids in zip(numbers, prompts, new):
                text = _whole_sentences(tokenizer.decode(ids, skip_special_tokens=True))
                handle.write(
                    json.dumps({"text": text, "prompt": prompt, "seed": seed, "number": number})
                    + "\n"
                )
        if progress:
            progress(numbers[-1] + 1, stories)
    return out
