"""A loopback OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 (port 0, in a
thread) answering `POST /v1/chat/completions` with whatever a test's script says."""

from __future__ import annotations

import json
import threading
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


def completion(
    content: str | None,
    prompt_tokens: int | None = 100,
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


Script = Callable[[dict], "Reply | Hang"]


class StubServer:
    """`with StubServer(script) as server:` — `server.url` is the base URL (…/v1) and
    `server.requests` every request body received, in order."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    reply = Reply('{"error": {"message": "not found"}}', 404)
                else:
                    with stub._lock:
                        stub.requests.append(body)
                    reply = stub.script(body)
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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
