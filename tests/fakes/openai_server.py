"""A fake OpenAI-compatible chat server for tests: a real HTTP server on a real socket.

``FakeOpenAI(reply)`` answers ``POST /v1/chat/completions`` with whatever
``reply(request_json)`` returns, records every request body in ``requests``, and refuses
requests without the expected bearer key when one is set. A reply is one of:

- a ``str`` or ``Text``: the assistant's message;
- ``ToolCalls``: calls to the tools the request offered (OpenAI ``tool_calls`` format);
- ``Structured``: a structured answer delivered the way the request asked for one: as
  the forced tool call's arguments (function calling, also the legacy ``functions``
  shape), or as the message content (``response_format`` json_schema / json_object).
  A ``str`` value is sent verbatim, so malformed JSON is ``Structured('{"qty": ')``;
- ``Slow(seconds, then)``: answers ``then`` after sleeping (beyond a client's timeout);
- ``Fail(status)``: an OpenAI-style error (429 carries a short ``retry-after-ms``);
- a ``Reply``: sent as is.

Every answer carries ``usage`` token counts (given, or about 4 characters a token;
``usage=False`` leaves them out, as some local servers do). ``stream: true`` requests
get the same answer as server-sent events.

``ScriptedLLM([...])`` is a ``reply`` that answers in order, keeps the requests, and
answers 500 "script exhausted" when asked more often than scripted::

    script = ScriptedLLM([Fail(429), Structured({"symbol": "AAPL", "quantity": 10000})])
    with FakeOpenAI(script) as server:
        settings = load_settings(**llm_overrides(server))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes._http import Reply


@dataclass(frozen=True)
class Text:
    content: str
    usage: tuple[int, int] | bool = True


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # a str is sent verbatim (e.g. malformed JSON)


@dataclass(frozen=True)
class ToolCalls:
    calls: Sequence[ToolCall]
    content: str = ""
    usage: tuple[int, int] | bool = True


@dataclass(frozen=True)
class Structured:
    value: Any  # JSON-encoded unless a str
    usage: tuple[int, int] | bool = True


@dataclass(frozen=True)
class Slow:
    seconds: float
    then: Answer = field(default_factory=lambda: Text("late"))


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


Answer = str | Text | ToolCalls | Structured | Slow | Fail | Reply
Responder = Callable[[dict[str, Any]], Answer]


class ScriptedLLM:
    """Answers requests with the scripted answers in order; ``requests`` keeps them."""

    def __init__(self, answers: Iterable[Answer]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Answer:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
            if n > len(self.answers):
                return Fail(500, f"script exhausted: {len(self.answers)} answers, request {n}")
            return self.answers[n - 1]

    @property
    def remaining(self) -> int:
        return max(len(self.answers) - len(self.requests), 0)


class FakeOpenAI:
    def __init__(self, reply: Responder, *, api_key: str | None = None) -> None:
        self.reply = reply
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.attempts = 0  # every request that arrived, refused ones included
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        # A short poll keeps shutdown (and so each test) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def respond(self, body: dict[str, Any], authorization: str | None) -> Reply:
        self.attempts += 1
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return Reply(401, {"error": {"message": "Incorrect API key provided"}})
        self.requests.append(body)
        answer = self.reply(body)
        while isinstance(answer, Slow):
            if self._closing.wait(answer.seconds):
                return Reply(503, {"error": {"message": "server closing"}})
            answer = answer.then
        return render(answer, body)


def llm_overrides(server: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    """``load_settings`` overrides pointing Tiller at ``server`` with test-sized timeouts."""
    return {
        "llm_base_url": server.base_url,
        "llm_model": "test-model",
        "llm_api_key": server.api_key or "sk-test",
        "llm_timeout_s": 2.0,
        "llm_max_retries": 2,
        **extra,
    }


def render(answer: Answer, body: dict[str, Any]) -> Reply:
    """The HTTP reply for ``answer`` to the request ``body``."""
    if isinstance(answer, Reply):
        return answer
    if isinstance(answer, Fail):
        headers = dict(answer.headers)
        if answer.status == 429 and not {"retry-after", "retry-after-ms"} & set(headers):
            headers["retry-after-ms"] = "10"  # tests stay fast; a real server says more
        error = answer.message or f"scripted HTTP {answer.status}"
        return Reply(answer.status, {"error": {"message": error}}, headers)
    if isinstance(answer, Slow):
        raise TypeError("FakeOpenAI.respond waits out a Slow answer before rendering it")
    message, usage, finish = _message(Text(answer) if isinstance(answer, str) else answer, body)
    completion: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        completion["usage"] = usage
    return Reply(200, completion)


def _message(
    answer: Text | ToolCalls | Structured, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, int] | None, str]:
    if isinstance(answer, Text):
        message: dict[str, Any] = {"role": "assistant", "content": answer.content}
        return message, _usage(answer.usage, body, answer.content), "stop"
    if isinstance(answer, ToolCalls):
        calls = [_tool_call(n, c.name, c.arguments) for n, c in enumerate(answer.calls)]
        message = {"role": "assistant", "content": answer.content or None, "tool_calls": calls}
        text = answer.content + "".join(c["function"]["arguments"] for c in calls)
        return message, _usage(answer.usage, body, text), "tool_calls"
    arguments = answer.value if isinstance(answer.value, str) else json.dumps(answer.value)
    usage = _usage(answer.usage, body, arguments)
    forced = _forced_function(body)
    if forced is not None and "functions" in body:  # the legacy function-calling shape
        message = {
            "role": "assistant",
            "content": None,
            "function_call": {"name": forced, "arguments": arguments},
        }
        return message, usage, "function_call"
    if forced is not None:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [_tool_call(0, forced, arguments)],
        }
        return message, usage, "tool_calls"
    return {"role": "assistant", "content": arguments}, usage, "stop"


def _forced_function(body: dict[str, Any]) -> str | None:
    """The function a structured answer must call: the forced one, or the only one."""
    for key in ("tool_choice", "function_call"):
        choice = body.get(key)
        if isinstance(choice, dict):
            name = (choice.get("function") or choice).get("name")
            if name:
                return str(name)
    if isinstance(body.get("response_format"), dict):
        return None
    offered = body.get("tools") or body.get("functions") or []
    if len(offered) == 1:
        spec = offered[0].get("function", offered[0])
        return str(spec.get("name"))
    return None


def _tool_call(n: int, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": name, "arguments": encoded},
    }


def _usage(
    usage: tuple[int, int] | bool, body: dict[str, Any], answer: str
) -> dict[str, int] | None:
    if usage is False:
        return None
    if usage is True:
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        usage = (prompt // 4 + 1, len(answer) // 4 + 1)
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def _stream(reply: Reply) -> bytes:
    """A completed answer as the server-sent events of a streamed one."""
    body = reply.body
    choice = body["choices"][0]
    delta = {k: v for k, v in choice["message"].items() if v is not None}
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(delta["tool_calls"])]
    base = {k: body[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    events = [
        base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
    ]
    if "usage" in body:
        events.append(base | {"choices": [], "usage": body["usage"]})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body: dict[str, Any] = {}
            if self.path != "/v1/chat/completions":
                reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
            else:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    reply = Reply(400, {"error": {"message": "invalid JSON"}})
                else:
                    reply = server.respond(body, self.headers.get("Authorization"))
            streamed = bool(body.get("stream")) and reply.status == 200
            data = _stream(reply) if streamed else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                kind = "text/event-stream" if streamed else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return _Handler
