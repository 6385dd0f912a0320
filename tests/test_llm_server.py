"""The LLM synthesiser against servers that behave like real ones, over loopback HTTP: one
that computes one answer at a time (requests queue), one with a context too small for the
prompt, one that drops the system message, one whose answer runs away to the token limit,
one that refuses a grammar; and the response cache shared across URLs, per-head budgets, and
duplicates by pattern."""

from __future__ import annotations

import re

import pytest
from openai_stub import Reply, Slow, StubServer, completion
from test_llm import PREVIOUS, SELF, SINK, TYPE_ERROR, config, fenced, summary

import attndsl
from attndsl.grammar import gbnf
from attndsl.synth.llm import EndpointError, Hooks, LLMConfig, synthesise

CONTEXT_FULL = '{"error": {"message": "Requested tokens (3830) exceed context window of 2048"}}'


def scenario(body: dict) -> str:
    return re.search(r"SCENARIO (\w+)", body["messages"][1]["content"]).group(1)


def failures(results, stage: str) -> list[dict]:
    return [f for r in results.values() for f in r.failures if f["stage"] == stage]


def test_a_one_slot_server_gets_each_heads_requests_in_a_row(tmp_path):
    """With a server given, heads go one at a time (each head's repair right after its first
    request, so the server can reuse the conversation) and nothing times out; asking three
    heads at once of the same server makes the queued requests time out."""

    def script(body):
        repair = len(body["messages"]) > 2
        return Slow(0.15, completion(fenced(PREVIOUS) if repair else fenced(TYPE_ERROR, SINK)))

    heads = {(0, k): summary(f"h{k}") for k in range(3)}
    notes: list[str] = []
    with StubServer(script, single_slot=True) as server:
        cfg = config(server, tmp_path / "one", timeout_s=1.0, concurrency=None)
        assert cfg.concurrency == 1
        results = synthesise(heads, cfg, Hooks(progress=lambda d, t, note: notes.append(note)))
        order = [scenario(r) for r in server.requests]
    assert order == ["h0", "h0", "h1", "h1", "h2", "h2"]
    assert not failures(results, "request")
    assert all(len(r.candidates) == 2 for r in results.values())
    assert "0.1 first: asking" in notes and "0.1 first repair 1: asking" in notes
    assert notes[-1] == "0.2 done"

    with StubServer(script, single_slot=True) as server:
        cfg = config(server, tmp_path / "three", timeout_s=0.35, concurrency=3, repair_rounds=0)
        results = synthesise(heads, cfg)
    timed_out = failures(results, "request")
    assert timed_out and all("not sent again" in f["error"] for f in timed_out)


def test_a_context_too_small_stops_the_run_and_keeps_the_heads_finished(tmp_path):
    def script(body):
        if scenario(body) == "big":
            return Reply(CONTEXT_FULL, 400)
        return completion(fenced(PREVIOUS))

    heads = {(0, 0): summary("fine"), (0, 1): summary("big"), (0, 2): summary("never")}
    finished = []
    with StubServer(script) as server:
        cfg = config(server, tmp_path, concurrency=1)
        with pytest.raises(EndpointError, match=r"does not fit .* larger context"):
            synthesise(heads, cfg, Hooks(on_head=finished.append))
        asked = [scenario(r) for r in server.requests]
    assert [r.head for r in finished] == [(0, 0)] and finished[0].candidates
    assert asked == ["fine", "big"]


def test_a_server_that_drops_the_system_message_stops_the_run(tmp_path):
    """Gemma's template in llama-cpp-python dropped the system message silently: the prompt
    tokens the server reports give it away."""
    reply = completion(fenced(PREVIOUS), prompt_tokens=150)
    with (
        StubServer(lambda body: reply) as server,
        pytest.raises(EndpointError, match="drops the system message"),
    ):
        synthesise({(0, 0): summary("one")}, config(server, tmp_path))


def test_a_runaway_answer_is_cut_at_max_tokens_and_requests_carry_every_limit(tmp_path):
    runaway = fenced(PREVIOUS) + "\n" + "    out[i, i] = 1.0\n" * 300
    reply = completion(runaway, completion_tokens=64, finish_reason="length")
    with StubServer(lambda body: reply) as server:
        cfg = config(
            server,
            tmp_path,
            max_tokens=64,
            seed=5,
            temperature=0.2,
            stop=("<|im_end|>",),
            frequency_penalty=0.3,
            repair_rounds=0,
        )
        result = synthesise({(0, 0): summary("one")}, cfg, Hooks(grammar=gbnf(3)))[(0, 0)]
        [body] = server.requests
    assert body["max_tokens"] == 64 and body["seed"] == 5 and body["temperature"] == 0.2
    assert body["stop"] == ["<|im_end|>"] and body["frequency_penalty"] == 0.3
    assert body["grammar"] == gbnf(3)
    assert [f["error"] for f in result.failures] == ["the answer was cut off at max_tokens=64"]
    assert [c.id for c in result.candidates] == [attndsl.load(PREVIOUS).id]


def test_a_server_that_refuses_the_grammar_is_asked_without_it(tmp_path):
    def script(body):
        if "grammar" in body:
            return Reply('{"error": {"message": "Unrecognized argument: grammar"}}', 400)
        return completion(fenced(PREVIOUS))

    heads = {(0, 0): summary("a"), (0, 1): summary("b")}
    with StubServer(script) as server:
        cfg = config(server, tmp_path, concurrency=1)
        results = synthesise(heads, cfg, Hooks(grammar=gbnf(3)))
        sent = ["grammar" in r for r in server.requests]
    assert sent == [True, False, False]
    [refused] = failures(results, "grammar")
    assert "Unrecognized argument" in refused["error"] and refused in results[(0, 0)].failures
    assert all(r.candidates for r in results.values())


def test_grammar_off_and_openais_own_api_send_none(tmp_path):
    with StubServer(lambda body: completion(fenced(PREVIOUS))) as server:
        synthesise(
            {(0, 0): summary("a")}, config(server, tmp_path, grammar="off"), Hooks(grammar="x")
        )
        assert "grammar" not in server.requests[0]
    assert not LLMConfig(api_key="k", cache_dir=tmp_path).sends_grammar
    with pytest.raises(attndsl.AttnDslError, match="grammar"):
        LLMConfig(grammar="strict", cache_dir=tmp_path)


def test_the_cache_is_shared_by_every_url_of_a_server(tmp_path):
    """Another port, or localhost for 127.0.0.1, asks nothing already answered."""
    heads = {(0, 0): summary("a")}
    with StubServer(lambda body: completion(fenced(PREVIOUS))) as first:
        synthesise(heads, config(first, tmp_path))
    with StubServer(lambda body: completion(fenced(SINK))) as second:
        cfg = config(second, tmp_path)
        cfg.base_url = cfg.base_url.replace("127.0.0.1", "localhost")
        result = synthesise(heads, cfg)[(0, 0)]
        assert second.requests == []
    assert [c.id for c in result.candidates] == [attndsl.load(PREVIOUS).id]


def test_a_heads_budget_stops_its_requests(tmp_path):
    reply = completion(fenced(TYPE_ERROR), completion_tokens=50)
    with StubServer(lambda body: reply) as server:
        cfg = config(server, tmp_path, head_tokens=40, repair_rounds=2)
        result = synthesise({(0, 0): summary("a")}, cfg)[(0, 0)]
        assert len(server.requests) == 1
    [budget] = [f for f in result.failures if f["stage"] == "budget"]
    assert budget["error"] == "not asked: its budget of 40 completion tokens is spent"
    assert budget["step"] == "first repair 1"


def test_programs_with_the_same_pattern_are_one_candidate(tmp_path):
    """Deduplication by the caller's fingerprint (the pattern on a few passages), not only by
    canonical id: PREVIOUS and SELF share a fingerprint here, so SELF is dropped."""
    sink = attndsl.load(SINK).id

    def fingerprint(program) -> bytes:
        return b"sink" if program.id == sink else b"diagonal"

    with StubServer(lambda body: completion(fenced(PREVIOUS, SELF, SINK))) as server:
        hooks = Hooks(fingerprint=fingerprint)
        result = synthesise({(0, 0): summary("a")}, config(server, tmp_path), hooks)[(0, 0)]
    assert [c.id for c in result.candidates] == [attndsl.load(PREVIOUS).id, sink]
    assert result.usage["duplicates"] == 1 and result.usage["checked"] == 3


def test_a_full_disk_while_caching_an_answer_is_one_clear_line(tmp_path, monkeypatch, capsys):
    """The answer cache on a full disk: the error reaches the caller with the cache file's
    path, and the command line says it in one line with what to do."""
    import errno

    from attndsl.cli import _main
    from attndsl.synth.llm._client import ResponseCache

    def full(self, request, body):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.root / "ab.json"))

    monkeypatch.setattr(ResponseCache, "put", full)
    reply = completion(fenced(PREVIOUS))
    with StubServer(lambda body: reply) as server, pytest.raises(OSError) as caught:
        synthesise({(0, 0): summary("a")}, config(server, tmp_path))
    assert caught.value.errno == errno.ENOSPC

    def handler(args):
        raise caught.value

    monkeypatch.setattr(_main, "cmd_library", handler)
    assert _main.main(["library"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ab.json: the disk is full" in err and "--resume" in err
