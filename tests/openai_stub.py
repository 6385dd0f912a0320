"""A loopback OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 (port 0, in a
thread) answering `POST /v1/chat/completions` with whatever a test's script says."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """An HTTP answer: status, raw body and headers."""

    body: str
    status: int = 200
    headers: dict = field(default_factory=dict)


class Hang:
    """No answer at all: the handler waits until the server stops."""


@dataclass
class Slow:
    """`reply` after `seconds` of computing."""

    seconds: float
    reply: Reply


def completion(
    content: str | None,
    prompt_tokens: int | None = 4000,
    completion_tokens: int | None = 50,
    finish_reason: str = "stop",
) -> Reply:
    """A well-formed chat-completions answer holding `content` (usage left out when None)."""
    body = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content},
            }
        ],
    }
    if prompt_tokens is not None:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return Reply(json.dumps(body))


Script = Callable[[dict], "Reply | Hang | Slow"]


class StubServer:
    """`with StubServer(script) as server:` — `server.url` is the base URL (…/v1) and
    `server.requests` every request body received, in order. `single_slot`: one answer is
    computed at a time and the others queue, as on a llama.cpp server with one slot."""

    def __init__(self, script: Script, single_slot: bool = False) -> None:
        self.script = script
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._slot = threading.Lock() if single_slot else contextlib.nullcontext()
        self._stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    reply = Reply('{"error": {"message": "not found"}}', 404)
                else:
                    with stub._slot:
                        with stub._lock:
                            stub.requests.append(body)
                        reply = stub.script(body)
                        if isinstance(reply, Slow):
                            time.sleep(reply.seconds)
                            reply = reply.reply
                if isinstance(reply, Hang):
                    stub._stop.wait(10)
                    return
                data = reply.body.encode("utf-8")
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that hung up (a cancelled or timed-out request)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
