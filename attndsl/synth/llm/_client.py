"""Transport of the LLM synthesiser: its configuration, the on-disk response cache, and chat
requests through the official `openai` client (async, bounded concurrency, retries).

Only the text of an answer leaves this module; nothing in it is ever run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import time
import warnings
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from ..._io import write_text
from ...lang import AttnDslError

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"
CACHE_VERSION = 2
USAGE_KEYS = (
    "prompt_tokens",
    "completion_tokens",
    "requests",
    "cached_requests",
    "answers",
    "programs",
    "parsed",
    "checked",
    "duplicates",
    "seconds",
)
GRAMMARS = ("auto", "off")


class LLMError(AttnDslError):
    """The LLM synthesiser cannot start (no key, no endpoint, a bad option)."""


class EndpointError(LLMError):
    """The endpoint cannot serve this run at all (its context is too small for the prompt, or
    it drops the system message): asking further would only waste its time."""


def _default_cache_dir() -> Path:
    from ..._io import cache_root

    return cache_root() / "llm"


@dataclass
class LLMConfig:
    """Every option of the LLM synthesiser.

    - `model`: the chat model's name at the endpoint (`--llm-model`).
    - `base_url`: any OpenAI-compatible endpoint, e.g. `http://localhost:8080/v1`
      (`--base-url`); default `$OPENAI_BASE_URL`, else OpenAI's own API.
    - `api_key`: default `$OPENAI_API_KEY`; an endpoint given by `base_url` may need none.
    - `concurrency`: heads whose conversations run at once; each head's requests (first,
      repairs, refinements) go one after another, so a server can reuse the head's prompt.
      Default: 1 with `base_url` (a local server computes one answer at a time; more would
      only queue there), else 4.
    - `timeout_s`: seconds one request may take once sent (default 600: a local CPU model
      writes 3-4 tokens a second). A timed-out request is not sent again: the server may
      still be computing it.
    - `retries`: further attempts after a 429, a 5xx or a connection error (other 4xx
      answers and timeouts are not retried).
    - `backoff_s`, `max_backoff_s`: the first retry waits about `backoff_s` (jittered, x0.5-1.5),
      doubling each time; a server's Retry-After is obeyed; no wait exceeds `max_backoff_s`.
    - `programs_per_request`: programs asked for in the first request and in each refinement.
    - `repair_rounds`: times a reply's rejected programs go back with the checker's errors, in
      the first request and in each refinement.
    - `refine_rounds`: rounds showing the best candidate's results on fit text (needs `refine`).
    - `temperature`, `max_tokens`, `seed`, `stop`, `frequency_penalty`: sent with every
      request (`seed`: None sends none; `frequency_penalty` > 0 discourages an answer that
      repeats itself).
    - `grammar`: `auto` holds decoding to the language where the server takes a grammar
      (`grammar` in the request body, as llama.cpp's servers take it: GBNF derived from the
      Lark grammar, `attndsl.grammar.gbnf`); a server that refuses it is asked without. `off`
      sends none. OpenAI's own API never gets one.
    - `head_tokens`, `head_seconds`: a head's budget of completion tokens and of seconds
      waiting for answers; once spent, no further request is sent for it (None: no budget).
    - `cache_dir`: answers on disk, one JSON file per request, named by the SHA-256 of the
      request (model, messages, parameters, grammar; not the URL, so `localhost` and
      `127.0.0.1`, or another port, share it): a re-run sends nothing it has sent before.
    """

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = None
    concurrency: int | None = None
    timeout_s: float = 600.0
    retries: int = 2
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    programs_per_request: int = 4
    repair_rounds: int = 1
    refine_rounds: int = 1
    temperature: float = 0.7
    max_tokens: int = 1200
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    frequency_penalty: float = 0.0
    grammar: str = "auto"
    head_tokens: int | None = None
    head_seconds: float | None = None
    cache_dir: Path = field(default_factory=_default_cache_dir)

    def __post_init__(self) -> None:
        self.base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key = self.api_key or os.environ.get("OPENAI_API_KEY") or None
        self.cache_dir = Path(self.cache_dir)
        self.stop = tuple(self.stop)
        if self.concurrency is None:
            self.concurrency = 1 if self.base_url else 4
        for name in ("concurrency", "programs_per_request", "max_tokens"):
            if getattr(self, name) < 1:
                raise LLMError(f"LLMConfig.{name} must be at least 1, not {getattr(self, name)}")
        for name in ("retries", "repair_rounds", "refine_rounds"):
            if getattr(self, name) < 0:
                raise LLMError(f"LLMConfig.{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("timeout_s", "head_tokens", "head_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise LLMError(f"LLMConfig.{name} must be positive, not {value}")
        if self.grammar not in GRAMMARS:
            raise LLMError(f"LLMConfig.grammar must be one of {GRAMMARS}, not {self.grammar!r}")

    @property
    def url(self) -> str:
        return (self.base_url or OPENAI_URL).rstrip("/")

    @property
    def sends_grammar(self) -> bool:
        """Whether requests carry the language's grammar (`grammar="auto"` and an endpoint
        other than OpenAI's own API, which refuses unknown fields)."""
        return self.grammar == "auto" and self.url != OPENAI_URL

    def require_key(self) -> str:
        """The key to send; raises `LLMError` when there is neither a key nor an endpoint."""
        if self.api_key:
            return self.api_key
        if self.base_url:
            return "none"  # local OpenAI-compatible servers take any key
        raise LLMError(
            "no API key for the LLM synthesiser: set OPENAI_API_KEY, or pass "
            "--base-url URL for an OpenAI-compatible server (or use --synth enum)"
        )


# ------------------------------------------------------------------------------- the cache


class ResponseCache:
    """Answers by request: `<dir>/<key[:2]>/<key>.json` = {version, request, body}, written
    through a temporary file and a rename. A file that does not read back is ignored with a
    warning (and rewritten by the next answer)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(request: dict) -> str:
        text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: dict) -> str | None:
        path = self.path(self.key(request))
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            warnings.warn(
                f"{path}: unreadable LLM cache entry ignored, asking again ({exc})", stacklevel=2
            )
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("version") != CACHE_VERSION
            or entry.get("request") != request
            or not isinstance(entry.get("body"), str)
        ):
            warnings.warn(
                f"{path}: LLM cache entry does not match its request; asking again", stacklevel=2
            )
            return None
        return entry["body"]

    def put(self, request: dict, body: str) -> Path:
        path = self.path(self.key(request))
        entry = {"version": CACHE_VERSION, "request": request, "body": body}
        write_text(path, json.dumps(entry, ensure_ascii=False))
        return path


# ------------------------------------------------------------------------------ answers


@dataclass
class Answer:
    """What one chat request gave: the message text, or a failure record; and its usage."""

    content: str | None
    failure: dict | None
    usage: dict
    truncated: bool = False  # the model stopped at max_tokens


def read_body(body: str, usage: dict) -> Answer:
    """The message text of a chat-completions body; any malformed body is a failure."""

    def fail(error: str) -> Answer:
        return Answer(None, {"stage": "reply", "error": error, "body": body[:200]}, usage)

    try:
        data = json.loads(body)
    except ValueError as exc:
        return fail(f"the answer is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return fail("the answer is not a JSON object")
    reported = data.get("usage")
    tokens = reported if isinstance(reported, dict) else {}
    for name in ("prompt_tokens", "completion_tokens"):
        value = tokens.get(name)
        usage[name] += value if isinstance(value, int) and value >= 0 else 0
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return fail("the answer has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        return fail("the answer has no message content")
    return Answer(content, None, usage, truncated=choices[0].get("finish_reason") == "length")


def retry_after(headers) -> float | None:
    """Seconds a server asks to wait (`retry-after-ms`, `retry-after` in seconds or a date)."""
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def backoff(config: LLMConfig, attempt: int, hint: float | None) -> float:
    """The wait before retry number `attempt + 1`: the server's hint, else exponential with
    jitter; never more than `max_backoff_s`."""
    if hint is not None:
        return min(hint, config.max_backoff_s)
    return min(config.max_backoff_s, config.backoff_s * 2**attempt * (0.5 + random.random()))


_WORDS_AND_MARKS = re.compile(r"\w+|[^\w\s]")
_CONTEXT_FULL = re.compile(
    r"context (window|length|size)|exceeds? .*context|n_ctx|too many tokens|prompt is too long",
    re.IGNORECASE,
)
#: a server that reports fewer prompt tokens than this share of our estimate dropped a message
DROPPED_SHARE = 0.5


def estimate_tokens(text: str) -> int:
    """A rough token count: one per word, number and punctuation mark (on these prompts,
    closer to a BPE tokenizer's count than characters / 4, and still a little under it)."""
    return len(_WORDS_AND_MARKS.findall(text))


class Chat:
    """Sends chat requests for every head of a run: `async with Chat(config) as chat:
    answer = await chat.ask(messages)`. `grammar`: the text sent as the request's `grammar`
    when `config.sends_grammar` (dropped for the rest of the run if the server refuses it)."""

    def __init__(self, config: LLMConfig, grammar: str | None = None) -> None:
        self.config = config
        self.cache = ResponseCache(config.cache_dir)
        self.grammar = grammar if config.sends_grammar else None
        self.grammar_refused: str | None = None  # the server's words, when it refused
        self._client: Any = None  # openai.AsyncOpenAI inside `async with`

    async def __aenter__(self) -> Chat:
        import openai

        self._client = openai.AsyncOpenAI(
            base_url=self.config.url,
            api_key=self.config.require_key(),
            timeout=self.config.timeout_s,
            max_retries=0,
        )
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._client is not None:
            await self._client.close()

    def request(self, messages: list[dict]) -> dict:
        """The request as the cache keys it: everything that decides the answer, not the URL
        (the grammar by its SHA-256)."""
        c = self.config
        request = {
            "model": c.model,
            "messages": messages,
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "seed": c.seed,
            "stop": list(c.stop),
            "frequency_penalty": c.frequency_penalty,
        }
        if self.grammar is not None:
            request["grammar_sha256"] = hashlib.sha256(self.grammar.encode()).hexdigest()
        return request

    async def ask(self, messages: list[dict]) -> Answer:
        """The answer to `messages`: from the cache, else from the endpoint (then cached).
        Failures come back as `Answer.failure`; an endpoint that cannot serve the run at all
        raises `EndpointError`."""
        request = self.request(messages)
        usage: dict[str, Any] = dict.fromkeys(USAGE_KEYS, 0)
        body = self.cache.get(request)
        if body is not None:
            usage["cached_requests"] = 1
            return self._read(body, usage, messages)
        started = time.monotonic()
        body, failure = await self._send(request, usage)
        usage["seconds"] = round(time.monotonic() - started, 3)
        if body is None:
            return Answer(None, failure, usage)
        path = await asyncio.to_thread(self.cache.put, request, body)  # fsync off the loop
        answer = self._read(body, usage, messages)
        if answer.failure is not None:
            answer.failure["cache_file"] = str(path)  # delete it to ask again
        return answer

    def _read(self, body: str, usage: dict, messages: list[dict]) -> Answer:
        before = usage["prompt_tokens"]
        answer = read_body(body, usage)
        counted = usage["prompt_tokens"] - before
        if answer.failure is not None:
            return answer
        usage["answers"] += 1
        if counted and messages[0]["role"] == "system":
            expected = sum(estimate_tokens(m["content"]) for m in messages)
            if counted < DROPPED_SHARE * expected:
                raise EndpointError(
                    f"{self.config.url}: the server counted {counted} prompt tokens for a "
                    f"prompt of about {expected}: it drops the system message (a chat "
                    "template without a system role?); serve the model with a template "
                    "that keeps it"
                )
        return answer

    async def _send(self, request: dict, usage: dict) -> tuple[str | None, dict | None]:
        import openai

        config, error, status = self.config, "", None
        for attempt in range(config.retries + 1):
            hint = None
            usage["requests"] += 1
            try:
                raw = await asyncio.wait_for(self._create(request), config.timeout_s)
                return raw.text, None
            except openai.APIStatusError as exc:
                status = exc.status_code
                message = str(exc.message)[:300]
                error = f"HTTP {status} from {config.url}: {message}"
                if status == 400 and self.grammar is not None and "grammar" in message.lower():
                    self.grammar, self.grammar_refused = None, message
                    request.pop("grammar_sha256", None)
                    return await self._send(request, usage)  # the same request, without
                if status == 400 and _CONTEXT_FULL.search(message):
                    raise EndpointError(
                        f"{config.url}: the prompt does not fit the model's context "
                        f"({message}); serve the model with a larger context (llama.cpp: "
                        "--n_ctx 8192)"
                    ) from None
                if status != 429 and status < 500:
                    return None, {
                        "stage": "request",
                        "error": error,
                        "status": status,
                        "attempts": attempt + 1,
                    }
                hint = retry_after(exc.response.headers)
            except (openai.APITimeoutError, asyncio.TimeoutError):
                return None, {
                    "stage": "request",
                    "error": f"no answer from {config.url} in {config.timeout_s:g} s (not "
                    "sent again: the server may still be computing it)",
                    "attempts": attempt + 1,
                }
            except openai.APIConnectionError as exc:
                status, error = None, f"cannot reach {config.url}: {exc.__cause__ or exc}"
            if attempt < config.retries:
                await asyncio.sleep(backoff(config, attempt, hint))
        failure = {
            "stage": "request",
            "error": f"{error} (gave up after {config.retries + 1} attempts)",
            "attempts": config.retries + 1,
        }
        if status is not None:
            failure["status"] = status
        return None, failure

    def _create(self, request: dict):
        c = self.config
        options: dict[str, Any] = {
            "model": request["model"],
            "messages": request["messages"],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
        }
        if c.seed is not None:
            options["seed"] = c.seed
        if c.stop:
            options["stop"] = list(c.stop)
        if c.frequency_penalty:
            options["frequency_penalty"] = c.frequency_penalty
        if self.grammar is not None:
            options["extra_body"] = {"grammar": self.grammar}
        return self._client.chat.completions.with_raw_response.create(**options)
