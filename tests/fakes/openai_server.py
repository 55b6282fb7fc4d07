"""A fake OpenAI-compatible chat server for tests: a real HTTP server on a real socket.

It answers ``POST /v1/chat/completions`` with whatever ``reply(request_json)`` returns
(a string becomes the assistant message; a ``Reply`` is sent as is), records every
request, and refuses requests without the expected bearer key when one is set.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes._http import Reply

Responder = Callable[[dict[str, Any]], "str | Reply"]


class FakeOpenAI:
    def __init__(self, reply: Responder, *, api_key: str | None = None) -> None:
        self.reply = reply
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, body: dict[str, Any], authorization: str | None) -> Reply:
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return Reply(401, {"error": {"message": "Incorrect API key provided"}})
        self.requests.append(body)
        answer = self.reply(body)
        if isinstance(answer, Reply):
            return answer
        return Reply(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                    }
                ],
            },
        )


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != "/v1/chat/completions":
                reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
            else:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    reply = Reply(400, {"error": {"message": "invalid JSON"}})
                else:
                    reply = server.respond(body, self.headers.get("Authorization"))
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return _Handler
