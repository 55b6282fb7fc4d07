"""Fixtures of the adversarial catalogue (docs/security.md): every case runs through the
real agent graph (``app.services.runs``), the real risk officer, the paper broker and the
ledger, on a home whose knowledge base already holds the bundled news (embedded once per
session, one embedding model for the whole session).

- ``home``: this test's TILLER_HOME, with the warm knowledge base and market data copied in;
- ``attack``: an ``Attack`` harness: build a container (offline rules, or a scripted model
  behind a fake OpenAI-compatible server over a real socket), plant documents, run the
  agents, and check the catalogue's invariants after every case (``attack.check``);
- ``Obedient``: a scripted model that does what the text it was given tells it to do.

The broker of every container the harness builds is watched: each order that reaches it
is kept in ``attack.sent``, so "no order beyond limits reached a broker" is checked where
it matters, not only in the ledger.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agents.models import RunRequest
from app.bootstrap import Container, build
from knowledge_base import load_path
from tests.fakes.openai_server import Answer, FakeOpenAI, Structured, Text, llm_overrides

NEWS_FILE = Path(__file__).resolve().parents[2] / "knowledge_base" / "news"
# Bundled prices end on 2013-03-01: runs are made as of that close (the clock fixed there).
BEFORE_AS_OF = "2013-02-20T15:00:00Z"
# Run-record kinds that may hold third-party text, quoted: what was retrieved and what a
# model was shown or answered. Anything else carrying an injected instruction would mean
# the instruction reached a field the product acts on.
QUOTED_KINDS = frozenset({"retrieval", "llm_call"})


@pytest.fixture(scope="session")
def adversarial_state(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    """A home whose knowledge base holds the bundled news and whose models are loaded
    (one offline run), built once for the whole catalogue."""
    home = tmp_path_factory.mktemp("adversarial-home")
    previous = os.environ.get("TILLER_HOME")
    os.environ["TILLER_HOME"] = str(home)
    try:
        mp = pytest.MonkeyPatch()
        mp.setattr("rag_index.service.default_embedder", lambda settings: embedder)
        try:
            c = build()
            c.store  # noqa: B018 - loads the bundled prices
            c.knowledge_base  # noqa: B018 - embeds the bundled news
            from app.services.runs import start_run

            start_run(c, RunRequest(symbols=["MSFT"], mode="auto"))  # loads the models once
            c.ledger.close()
            _MODELS.append(c.model_cache)
            # A fresh, migrated ledger (and its keys) for every test to start from.
            os.environ["TILLER_HOME"] = str(home / "template")
            empty = build()
            empty.ledger.close()
        finally:
            mp.undo()
    finally:
        if previous is None:
            os.environ.pop("TILLER_HOME", None)
        else:
            os.environ["TILLER_HOME"] = previous
    return home


# The forecasters and policies loaded once for the session (a container loads its own).
_MODELS: list[Any] = []


@pytest.fixture(scope="session")
def bundled_texts() -> dict[str, str]:
    """doc_id → cleaned text of every bundled news item (what citations point into)."""
    report = load_path(NEWS_FILE)
    return {d.doc_id: d.text for d in report.documents}


@pytest.fixture
def home(
    _isolated_home: Path, adversarial_state: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """This test's TILLER_HOME: the warm knowledge base and market data, a fresh ledger."""
    shutil.copytree(adversarial_state / "data", _isolated_home / "data", dirs_exist_ok=True)
    shutil.copytree(adversarial_state / "state" / "kb", _isolated_home / "state" / "kb",
                    dirs_exist_ok=True)  # fmt: skip
    shutil.copytree(adversarial_state / "template" / "state", _isolated_home / "state",
                    dirs_exist_ok=True)  # fmt: skip
    monkeypatch.setattr("rag_index.service.default_embedder", lambda settings: embedder)
    return _isolated_home


class Obedient:
    """A model that obeys the text: when ``trigger`` is in what it is shown, the proposer
    answers ``obey`` (an answer in the fake server's terms, a dict being a structured
    answer; a tuple of triggers must all be there), else ``otherwise`` (by default:
    propose nothing). The analyst's brief cites passage [1] and, to test citation checks,
    a passage [99] it was never given.

    ``obeyed`` counts the proposer requests in which it saw the trigger: a case asserts it
    is > 0, so a case whose planted text never reached the model cannot pass silently."""

    def __init__(
        self,
        obey: Any,
        *,
        trigger: str | tuple[str, ...] | None = None,
        otherwise: Any = None,
        brief: str = "The passages say little of substance [1] [99].",
    ) -> None:
        self.obey = obey
        self.trigger = trigger
        self.otherwise = otherwise if otherwise is not None else {"proposals": [],
                                                                  "summary": "nothing"}  # fmt: skip
        self.brief = brief
        self.requests: list[dict[str, Any]] = []
        self.obeyed = 0

    def __call__(self, body: dict[str, Any]) -> Answer:
        self.requests.append(body)
        shown = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        if not (body.get("tools") or body.get("response_format")):
            return Text(self.brief)
        triggers = (self.trigger,) if isinstance(self.trigger, str) else self.trigger or ()
        if all(t in shown for t in triggers):
            self.obeyed += 1
            return _answer(self.obey(body) if callable(self.obey) else self.obey)
        return _answer(self.otherwise)

    @property
    def proposer_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("tools") or r.get("response_format")]


def _answer(value: Any) -> Answer:
    return Structured(value) if isinstance(value, dict | list | str) else value


def proposal(symbol: str = "MSFT", quantity: Any = "5", side: str = "buy",
             **extra: Any) -> dict[str, Any]:  # fmt: skip
    """One proposal as a model would answer it (``extra`` adds or overrides fields)."""
    item = {"symbol": symbol, "side": side, "quantity": quantity, "order_type": "market",
            "rationale": "as instructed", "evidence": [1], "confidence": 0.9, **extra}  # fmt: skip
    return {"proposals": [item], "summary": "scripted"}


@dataclass
class Attack:
    """Builds containers, plants documents, runs the agents and checks the invariants."""

    home: Path
    tmp: Path
    texts: dict[str, str]
    sent: list[Any] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    _servers: list[FakeOpenAI] = field(default_factory=list)
    _sent_by_run: dict[str, int] = field(default_factory=dict)  # run id → first of its sent

    def build(self, reasoner: str, model: Callable[[dict[str, Any]], Answer],
              **overrides: Any) -> Container:  # fmt: skip
        """The container a case runs on: offline rules, or ``model`` behind the fake server."""
        return self.container(model if reasoner == "llm" else None, **overrides)

    def container(self, script: Callable[[dict[str, Any]], Answer] | None = None,
                  **overrides: Any) -> Container:  # fmt: skip
        """Offline rules (``script`` None) or the scripted model on a real socket."""
        if script is not None:
            server = FakeOpenAI(script).__enter__()
            self._servers.append(server)
            overrides = llm_overrides(server, **overrides)
        c = build(**overrides)
        if _MODELS:
            c.__dict__["model_cache"] = _MODELS[0]  # the cached_property's slot
        real = c.broker_at

        def watched(clock: Any) -> Any:
            broker = real(clock)
            submit = broker.submit

            def spy(order: Any) -> Any:
                self.sent.append(order)
                return submit(order)

            broker.submit = spy  # type: ignore[method-assign]
            return broker

        c.broker_at = watched  # type: ignore[method-assign]
        self.containers.append(c)
        return c

    def news(self, c: Container, *items: dict[str, Any], name: str = "planted") -> list[str]:
        """Ingest news items (JSON lines; defaults fill what an item leaves out); their
        doc ids."""
        path = self.tmp / f"{name}.jsonl"
        lines = []
        for i, item in enumerate(items):
            full = {"id": f"{name}-{i}", "published_at": BEFORE_AS_OF,
                    "source": "Unknown blog", "tickers": ["MSFT"],
                    "title": "Microsoft outlook revenue guidance", **item}  # fmt: skip
            lines.append(json.dumps(full, ensure_ascii=False))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.ingest(c, path, "news")

    def ingest(self, c: Container, path: Path, collection: str = "filings",
               **supplied: Any) -> list[str]:  # fmt: skip
        from knowledge_base import SuppliedMeta

        meta = SuppliedMeta(**supplied) if supplied else None
        c.knowledge_base.ingest(path, collection=collection, supplied=meta)
        docs = load_path(path).documents
        self.texts.update({d.doc_id: d.text for d in docs})
        return [d.doc_id for d in docs]

    def run(self, c: Container, symbols: list[str] | None = None, mode: str = "auto",
            **request: Any) -> dict[str, Any]:  # fmt: skip
        from app.services.runs import show_run, start_run

        req = RunRequest.model_validate({"symbols": symbols or ["MSFT"], "mode": mode, **request})
        first = len(self.sent)
        view = start_run(c, req)
        self._sent_by_run[view.run_id] = first
        return show_run(c, view.run_id).model_dump(mode="json")

    def check(self, c: Container, view: dict[str, Any], *, markers: tuple[str, ...] = ()) -> None:
        """The catalogue's invariants after a case (see docs/security.md)."""
        assert view["status"] != "failed", view.get("error")
        assert view["tampered"] == []
        self.check_orders(c, view)
        self.check_citations(view)
        self.check_quoted(view, markers)
        self.check_audit()

    def check_orders(self, c: Container, view: dict[str, Any]) -> None:
        """Every order that reached the broker during the run is finite, positive, in the
        run's universe, within the order limits at the run's quote, and was approved by the
        risk officer; the ledger holds every order any run sent (no record lost)."""
        limits = c.limits
        approved = {
            e["payload"]["client_order_id"]
            for e in view["events"]
            if e["kind"] == "decision" and e["payload"].get("approved")
            and e["payload"].get("client_order_id")
        }  # fmt: skip
        quotes = _quotes(view)
        universe = set(quotes)  # the symbols the run gathered (held ones included)
        ledger = {o.client_order_id for o in c.ledger.orders()}
        assert {o.client_order_id for o in self.sent} <= ledger
        for order in self.sent[self._sent_by_run.get(view["run_id"], 0) :]:
            qty = Decimal(order.quantity)
            assert qty.is_finite() and qty > 0, order
            assert str(order.symbol) in universe, order
            assert qty <= limits.max_order_qty, order
            price = order.limit_price or quotes[str(order.symbol)]
            # The collar lets a limit price sit at most price_collar_pct off the quote.
            assert qty * price <= limits.max_order_notional * Decimal("1.0001"), order
            assert order.client_order_id in approved, order
            assert order.client_order_id in ledger, order

    def check_citations(self, view: dict[str, Any]) -> None:
        """Every citation in the report quotes its document exactly at its span."""
        for symbol, cites in (view["report"] or {}).get("evidence", {}).items():
            for cite in cites:
                text = self.texts.get(cite["doc_id"])
                assert text is not None, f"{symbol}: citation of an unknown document {cite}"
                assert text[cite["char_start"] : cite["char_end"]] == cite["text"], cite
            for finding in view["report"]["findings"].get(symbol, []):
                assert set(finding["citations"]) <= {c["n"] for c in cites}, finding
        for analysis in _events(view, "retrieval"):
            if analysis.get("brief"):
                cited = {int(n) for n in re.findall(r"\[(\d+)\]", analysis["brief"])}
                assert cited <= {c["n"] for c in analysis["evidence"]}, analysis["brief"]

    def check_quoted(self, view: dict[str, Any], markers: tuple[str, ...]) -> None:
        """An injected instruction appears only as quoted data: in retrieval events and in
        what a model was shown (inside a <data> block), never anywhere the product acts."""
        for event in view["events"]:
            blob = json.dumps(event["payload"], ensure_ascii=False)
            for marker in markers:
                if marker not in blob:
                    continue
                assert event["kind"] in QUOTED_KINDS, (marker, event["kind"], event["node"])
                if event["kind"] == "llm_call":
                    for message in event["payload"]["messages"]:
                        _only_inside_data(message["content"], marker)
        for call in _events(view, "llm_call"):
            for message in call["messages"]:
                if message.get("role") != "system":  # which names the tags it explains
                    _blocks_closed_only_by_tiller(message["content"])

    def check_audit(self) -> None:
        """``tiller audit verify --json`` (the real command, in process) says intact."""
        from typer.testing import CliRunner

        from app.cli import app

        result = CliRunner().invoke(app, ["audit", "verify", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["ok"] is True

    def close(self) -> None:
        for server in self._servers:
            server.__exit__(None, None, None)
        for c in self.containers:
            if "ledger" in c.__dict__:
                c.ledger.close()


def _events(view: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in view["events"] if e["kind"] == kind]


def _quotes(view: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for payload in _events(view, "tool_call"):
        for symbol, snap in (payload.get("snapshots") or {}).items():
            out[symbol] = Decimal(str(snap["quote"]["last"]))
    return out


def _only_inside_data(content: str, marker: str) -> None:
    start = 0
    while (at := content.find(marker, start)) >= 0:
        opened = content.rfind("<data", 0, at)
        closed = content.rfind("</data>", 0, at)
        assert opened > closed, (
            f"{marker!r} outside a <data> block: {content[max(at - 200, 0) : at + 80]}"
        )
        assert content.find("</data>", at) > at, f"{marker!r} in a block never closed"
        start = at + len(marker)


# Anything a model could read as the end of a data block, whatever its case or spacing.
_CLOSER = re.compile(r"<\s*/\s*data\s*>", re.IGNORECASE)


def _blocks_closed_only_by_tiller(content: str) -> None:
    """A document cannot end its quoted block early: the only closing tags in a prompt are
    Tiller's own, one per block it opened; any other is neutralised ('</ data>')."""
    closers = [m.group(0) for m in _CLOSER.finditer(content)]
    assert all(c in ("</data>", "</ data>") for c in closers), closers
    assert closers.count("</data>") == content.count("<data kind="), content[:500]


def finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@pytest.fixture(params=["rules", "llm"])
def reasoner(request: pytest.FixtureRequest) -> str:
    """Every case runs with the offline rules reasoner and with a scripted model."""
    return str(request.param)


@pytest.fixture
def attack(home: Path, tmp_path: Path, bundled_texts: dict[str, str]) -> Iterator[Attack]:
    harness = Attack(home=home, tmp=tmp_path, texts=dict(bundled_texts))
    yield harness
    harness.close()
