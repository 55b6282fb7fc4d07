"""Family 5 of the catalogue (docs/security.md): the API and the chat under attack.

Every endpoint without a key and with too low a role is covered by
tests/app/api/test_api_security.py (it walks the app's routes, so a new endpoint is
covered too); this file adds what it does not: a key anywhere but its header, another
key's idempotent answers (the only per-key data), malformed and hostile bodies,
header injection, HTML and script in what the chat renders, and a 10,000-message chat
session. After each API case: no order reached the broker, the audit chain verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.adversarial._helpers_b import Web, invariants, web
from tests.adversarial.conftest import Attack

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "app" / "chat" / "main.py"
MAX_HISTORY = 200  # app/chat/pages/chat.py (importing a page runs it)
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture
def w(attack: Attack) -> Any:
    with web(attack, api_max_body_bytes=20_000, api_rate_limit_per_minute=100_000) as built:
        yield built


def _problem(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in codes, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert "Traceback" not in response.text
    return body


def test_a_key_anywhere_but_its_header_is_refused(w: Web) -> None:
    key = w.keys["admin"]
    for how in ({"params": {"api_key": key}}, {"params": {"X-API-Key": key}},
                {"headers": {"Authorization": f"Bearer {key}"}},
                {"headers": {"X-API-Key": key + " "}},
                {"headers": {"X-API-Key": key.upper()}}):  # fmt: skip
        response = w.client.get("/v1/keys", **how)  # type: ignore[arg-type]
        _problem(response, 401)
    w.client.cookies.set("X-API-Key", key)
    _problem(w.client.get("/v1/keys"), 401)
    w.client.cookies.clear()
    invariants(w.attack, w.c)


def test_another_keys_idempotent_answer_is_never_replayed_to_a_key(w: Web) -> None:
    """Idempotency records are the only per-key data: a second trader sending the first
    one's Idempotency-Key gets an answer of its own, never the first one's."""
    from app.services.keys import KeyRequest, create_key

    other = create_key(w.c, KeyRequest(name="other-trader", role="trader")).key
    body = {"symbols": ["NOSUCH"]}  # refused (404) and kept: no agent run needed
    first = w.client.post("/v1/runs", json=body,
                          headers=w.h("trader", **{"Idempotency-Key": "shared"}))  # fmt: skip
    assert first.status_code == 404
    second = w.client.post("/v1/runs", json={"symbols": ["ALSO-NOT"]},
                           headers={"X-API-Key": other, "Idempotency-Key": "shared"})  # fmt: skip
    assert second.status_code == 404 and "ALSO-NOT" in second.json()["detail"]
    assert "idempotent-replayed" not in second.headers
    # Keys and their names are the admin's only: a viewer or trader reads none.
    for role in ("viewer", "trader"):
        assert w.client.get("/v1/keys", headers=w.h(role)).status_code == 403
    invariants(w.attack, w.c)


@pytest.mark.parametrize(
    ("name", "content", "ctype"),
    [
        ("truncated JSON", b'{"symbols": ["MSFT"', "application/json"),
        ("not JSON", b"symbols=MSFT", "application/x-www-form-urlencoded"),
        ("invalid UTF-8", b'{"symbols": ["\xff\xfe"]}', "application/json"),
        ("NaN", b'{"symbols": ["MSFT"], "as_of": NaN}', "application/json"),
        ("deep nesting", b'{"symbols": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json"),
        ("a list, not an object", b'[["MSFT"]]', "application/json"),
        ("a huge number", b'{"symbols": ["MSFT"], "timeframe": 1e999999}', "application/json"),
        ("control characters", b'{"symbols": ["MS\\u0000FT\\r\\n"]}', "application/json"),
        (
            "21 symbols",
            json.dumps({"symbols": [f"S{i}" for i in range(21)]}).encode(),
            "application/json",
        ),
        ("extra field", b'{"symbols": ["MSFT"], "max_order_notional": 1e12}', "application/json"),
    ],
)
def test_a_malformed_or_hostile_run_request_is_a_4xx_problem_and_starts_nothing(
    w: Web, name: str, content: bytes, ctype: str
) -> None:
    response = w.client.post("/v1/runs", content=content,
                             headers=w.h("trader", **{"Content-Type": ctype}))  # fmt: skip
    _problem(response, 400, 404, 413, 415, 422)
    assert w.client.get("/v1/runs", headers=w.h("viewer")).json()["runs"] == []
    invariants(w.attack, w.c)


@pytest.mark.parametrize(
    "body",
    [
        {"action": "approve", "quantity": "NaN"},
        {"action": "approve", "quantity": "-1"},
        {"action": "approve", "quantity": "1e308"},
        {"action": "approve", "quantity": "Infinity"},
        {"action": "approve", "operator": "someone else"},
        {"action": "APPROVE"},
        {"action": "approve", "reason": "x" * 5_000},
    ],
)
def test_a_malformed_approval_is_a_422_problem_and_sends_nothing(
    w: Web, body: dict[str, Any]
) -> None:
    url = "/v1/runs/0123abcd/approval"
    _problem(w.client.post(url, json=body, headers=w.h("trader")), 404, 422)
    assert w.orders() == [] and w.attack.sent == []
    invariants(w.attack, w.c)


def _raw(w: Web, method: str, path: str, headers: list[tuple[bytes, bytes]],
         body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]], bytes]:  # fmt: skip
    """One request straight into the ASGI app, headers as bytes a lax proxy could pass
    on (httpx itself refuses CR/LF in a header)."""
    app = w.client.app
    out: dict[str, Any] = {"body": b""}

    async def call() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"], out["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}  # fmt: skip
        await app(scope, receive, send)  # type: ignore[arg-type]

    portal = w.client.portal
    assert portal is not None
    portal.call(call)
    return out["status"], out["headers"], out["body"]


def test_header_injection_through_idempotency_key_or_api_key_goes_nowhere(w: Web) -> None:
    key = w.keys["trader"].encode()
    evil = [b"abc\r\nSet-Cookie: pwned=1", b"abc\nLocation: http://evil", b"\x00\xff" * 10,
            b"k" * 256, "ключ".encode()]  # fmt: skip
    for value in evil:
        status, headers, body = _raw(w, "POST", "/v1/runs", [
            (b"x-api-key", key), (b"idempotency-key", value),
            (b"content-type", b"application/json")], b'{"symbols": ["NOSUCH"]}')  # fmt: skip
        assert status in (404, 422), (value, status, body[:300])
        names = {k.lower() for k, _ in headers}
        assert b"set-cookie" not in names and b"location" not in names, headers
        assert all(b"\r" not in v and b"\n" not in v for _, v in headers), headers
    status, headers, _ = _raw(w, "GET", "/v1/portfolio",
                              [(b"x-api-key", key + b"\r\nX-Injected: 1")])  # fmt: skip
    assert status == 401 and all(k.lower() != b"x-injected" for k, _ in headers)
    assert w.client.get("/v1/runs", headers=w.h("viewer")).json()["runs"] == []
    invariants(w.attack, w.c)


# -- the chat -------------------------------------------------------------------------------
def test_no_unsafe_allow_html_or_raw_html_in_the_chat_or_any_surface() -> None:
    """Streamlit renders markdown as text unless told otherwise: nothing of ours may tell
    it otherwise (untrusted text reaches every page: documents, models, strategy text)."""
    pattern = re.compile(r"unsafe_allow_html\s*=\s*True|\bst\.html\(|components\.v1|"
                         r"components\.html\(|allow_html")  # fmt: skip
    found = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
             for path in sorted((REPO / "app").rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]  # fmt: skip
    assert found == []


def _no_html_rendered(at: AppTest) -> str:
    """Every markdown element renders as text (no HTML allowed), no raw-HTML element;
    returns everything shown."""
    for element in at.get("markdown"):
        assert element.proto.allow_html is False, element.value
    assert list(at.get("html")) == []
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(str(e.value) for e in [*at.get("markdown"), *at.get("caption"),
                                             *at.get("info"), *at.get("error")])  # fmt: skip
    return shown.replace("\\", "")


def test_html_and_script_in_a_strategy_description_are_shown_as_text_in_the_chat(
    home: Path,
) -> None:
    at = AppTest.from_file(str(MAIN), default_timeout=300)
    at.run()
    text = f"backtest: buy when the 10-day moving average crosses above the 50-day {PAYLOAD}"
    at.chat_input(key="prompt").set_value(text).run()
    shown = _no_html_rendered(at)
    assert "<script>window.__pwned=1</script>" in shown  # as typed, as text
    assert 'onerror="window.__pwned=2"' in shown


def _answer_page(data: dict) -> None:  # type: ignore[type-arg]  # run as a script of its own
    from app.chat._answers import render_answer

    render_answer(data)


def test_html_and_script_in_a_retrieved_document_are_shown_as_text_in_the_chat(
    attack: Attack,
) -> None:
    """A planted news item carrying a script is retrieved, quoted and cited; the chat's
    own answer renderer shows the quote as text."""
    from app.services.knowledge import answer_view
    from rag_index.types import Filters

    c = attack.container()
    attack.news(c, {"title": "Microsoft recalls its Zephyr widgets",
                    "text": f"Microsoft recalled its Zephyr widgets after a defect. {PAYLOAD} "
                    "The recall covers every Zephyr widget sold this year."})  # fmt: skip
    answer = c.knowledge_base.ask(
        "Why did Microsoft recall its Zephyr widgets?", Filters(collection=None)
    )
    data = answer_view(answer).model_dump(mode="json")
    quoted = " ".join(str(cite["quote"]) for cite in data["citations"])
    assert "Zephyr" in quoted, data
    at = AppTest.from_function(_answer_page, args=(data,), default_timeout=120)
    at.run()
    for expander in at.get("expander"):
        expander.proto.expanded = True
    shown = _no_html_rendered(at)
    assert "Zephyr" in shown
    if "__pwned" in quoted:  # kept by the loader: shown as the document has it, as text
        assert "window.__pwned" in shown


def test_a_10000_message_chat_session_stays_bounded_and_keeps_working(home: Path) -> None:
    at = AppTest.from_file(str(MAIN), default_timeout=300)
    at.session_state["history"] = [
        {"id": i, "role": ("user", "assistant")[i % 2], "kind": "text",
         "text": f"message {i} {PAYLOAD if i % 1000 == 0 else ''}"}
        for i in range(10_000)
    ]  # fmt: skip
    at.session_state["next_id"] = 10_000
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.chat_input(key="prompt").set_value("run the agents").run()  # asks which symbol
    shown = _no_html_rendered(at)
    history = at.session_state["history"]
    assert len(history) == MAX_HISTORY
    assert history[-1]["kind"] == "clarify" and history[-2]["text"] == "run the agents"
    assert len(at.get("chat_message")) <= MAX_HISTORY + 2
    assert at.session_state["dropped"] == 10_002 - MAX_HISTORY
    assert "earlier messages of this conversation are no longer shown" in shown
    assert "message 9999" in shown and "message 0 " not in shown
