"""The knowledge base end to end on real SEC filings: ingest, search, point in time,
citations, idempotency and the CLI (`tiller kb ...`, `tiller ask`).

One store is built per session from four real filings plus the bundled primers (about
20 s of embedding on one thread) and shared read-only by the tests; tests that write
build their own."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.settings import load_settings
from knowledge_base import load_path
from rag_index.service import KnowledgeBase
from rag_index.stores import LocalStore, store_folder
from rag_index.types import Filters

FILES = (
    "aapl-10-k-2024-11-01.html",  # public 2024-11-01
    "aapl-10-q-2025-08-01.html",  # public 2025-08-01
    "bke-8-k-ex99-1.html",  # press release dated 2024-11-22
    "flws-8-k.html",  # dated only on its signature page: 2023-12-15
)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import SHARED_DATA

    filings = SHARED_DATA / "filings"
    if not filings.is_dir():
        pytest.skip(f"{filings} is absent (set TILLER_SHARED_DATA)")
    folder = tmp_path_factory.mktemp("filings")
    for name in FILES:
        shutil.copy(filings / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def state_dir(corpus: Path, embedder: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose knowledge base holds the corpus and the primers."""
    state = tmp_path_factory.mktemp("state")
    settings = load_settings(state_dir=state)
    store = LocalStore(store_folder(settings, embedder), embedder.dim)  # type: ignore[arg-type, attr-defined]
    kb = KnowledgeBase(store, embedder, settings)  # type: ignore[arg-type]
    report = kb.ingest(corpus)
    assert not report.errors and len(report.added) == len(FILES)
    kb.ensure_primers()
    kb.close()
    return state


@pytest.fixture
def kb(state_dir: Path, embedder: object) -> KnowledgeBase:
    settings = load_settings(state_dir=state_dir)
    store = LocalStore(store_folder(settings, embedder), embedder.dim)  # type: ignore[arg-type, attr-defined]
    knowledge = KnowledgeBase(store, embedder, settings)  # type: ignore[arg-type]
    yield knowledge  # type: ignore[misc]
    knowledge.close()


def _published(hit_date: datetime | None) -> datetime:
    assert hit_date is not None
    return hit_date


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_when_as_of_precedes_every_filing_then_nothing_from_later_is_returned(
    kb: KnowledgeBase, mode: str
) -> None:
    as_of = datetime(2023, 6, 30, tzinfo=UTC)

    hits = kb.search("supply chain risks", 50, Filters(collection=None, as_of=as_of), mode)  # type: ignore[arg-type]

    assert hits == []  # the filings are all later, the primers were written in 2026


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_when_as_of_between_filings_then_only_earlier_ones_and_k_is_filled(
    kb: KnowledgeBase, mode: str
) -> None:
    as_of = datetime(2024, 12, 31, tzinfo=UTC)

    hits = kb.search("net sales revenue", 20, Filters(collection=None, as_of=as_of), mode)  # type: ignore[arg-type]

    assert len(hits) == 20  # the filter runs inside the search, so k is still filled
    for hit in hits:
        assert _published(hit.chunk.published_at) <= as_of
    assert {h.chunk.form for h in hits} <= {"10-K", "EX-99.1", "8-K"}


def test_search_when_filing_day_given_then_filing_is_not_yet_public(kb: KnowledgeBase) -> None:
    morning = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York
    evening = datetime(2024, 11, 1, 22, 0, tzinfo=UTC)

    before = kb.search("iPhone", 5, Filters(collection=None, tickers=("AAPL",), as_of=morning))
    after = kb.search("iPhone", 5, Filters(collection=None, tickers=("AAPL",), as_of=evening))

    assert before == []
    assert after and all(h.chunk.form == "10-K" for h in after)


def test_search_when_ticker_and_form_filters_then_only_matching_chunks(kb: KnowledgeBase) -> None:
    hits = kb.search(
        "quarterly results", 10, Filters(collection=None, tickers=("aapl",), forms=("10-q",))
    )

    assert hits
    assert all(h.chunk.tickers == ("AAPL",) and h.chunk.form == "10-Q" for h in hits)


def test_search_hits_when_cited_then_span_is_the_exact_text_of_the_cleaned_document(
    kb: KnowledgeBase, corpus: Path
) -> None:
    documents = {d.doc_id: d for d in load_path(corpus).documents}

    hits = kb.search("single or limited sources for components", 10, Filters(collection="default"))

    assert hits
    for hit in hits:
        document = documents[hit.chunk.doc_id]
        assert document.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
        section = next(s for s in document.sections if s.path == hit.chunk.section)
        assert section.start <= hit.chunk.start and hit.chunk.end <= section.end


def test_ask_when_apple_supply_chain_then_cites_apple_10k_risk_factors(
    kb: KnowledgeBase, corpus: Path
) -> None:
    documents = {d.doc_id: d for d in load_path(corpus).documents}

    answer = kb.ask(
        "What risks does Apple describe about its supply chain?", Filters(collection=None)
    )

    assert answer.mode == "extractive"
    assert answer.citations
    risk = [c for c in answer.citations if c.chunk.section[-1:] == ("Item 1A. Risk Factors",)]
    assert risk, [c.chunk.section for c in answer.citations]
    for citation in answer.citations:
        assert citation.chunk.tickers == ("AAPL",) and citation.chunk.form == "10-K"
        assert (
            documents[citation.chunk.doc_id].text[citation.start : citation.end] == citation.quote
        )
    assert any("suppl" in c.quote.lower() for c in answer.citations)


def test_ingest_when_same_folder_again_then_nothing_changes(
    corpus: Path, embedder: object, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]
    kb = KnowledgeBase(store, embedder)  # type: ignore[arg-type]
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(corpus / "flws-8-k.html", small / "flws-8-k.html")
    first = kb.ingest(small)
    count = store.count_chunks()

    second = kb.ingest(small)

    assert len(first.added) == 1 and second.unchanged == first.added
    assert second.chunks == 0 and store.count_chunks() == count
    # A changed file replaces its chunks (never duplicates them).
    path = small / "flws-8-k.html"
    path.write_text(
        path.read_text(encoding="utf-8").replace("</body>", "<p>Added note.</p></body>")
    )
    third = kb.ingest(small)
    assert third.replaced == first.added
    assert store.count_chunks() in (count, count + 1)
    kb.close()


def test_ingest_when_folder_has_a_malformed_file_then_others_still_go_in(
    corpus: Path, embedder: object, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]
    kb = KnowledgeBase(store, embedder)  # type: ignore[arg-type]
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(corpus / "flws-8-k.html", folder / "flws-8-k.html")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "news.jsonl").write_text(
        '{"id": "n1", "text": "no date"}\nnot json\n', encoding="utf-8"
    )

    report = kb.ingest(folder)

    assert len(report.added) == 2  # the 8-K and the one valid news item
    assert {Path(e.source.split(":")[0]).name for e in report.errors} >= {
        "broken.pdf",
        "news.jsonl",
    }
    kb.close()


def _cli(state_dir: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("TILLER_STATE_DIR", str(state_dir))
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_cli_ask_json_when_apple_question_then_citations_carry_the_citation_fields(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, stdout = _cli(
        state_dir,
        monkeypatch,
        "ask",
        "What risks does Apple describe about its supply chain?",
        "--json",
    )

    assert code == 0, stdout
    answer = json.loads(stdout)
    assert answer["mode"] == "extractive" and answer["citations"]
    first = answer["citations"][0]
    assert first["ticker"] == "AAPL" and first["form"] == "10-K"
    assert first["section"].endswith("Item 1A. Risk Factors")
    assert first["date"].startswith("2024-11-01")
    assert first["end"] > first["start"]
    assert f"[{first['n']}]" in answer["answer"]


def test_cli_ask_when_llm_configured_then_model_answers_from_numbered_passages(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.openai_server import FakeOpenAI, ScriptedLLM, Text

    script = ScriptedLLM([Text("Apple depends on single-source suppliers [1].")])
    with FakeOpenAI(script, api_key="sk-test") as server:
        monkeypatch.setenv("TILLER_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("TILLER_LLM_MODEL", "test-model")
        monkeypatch.setenv("TILLER_LLM_API_KEY", "sk-test")
        code, stdout = _cli(
            state_dir, monkeypatch, "ask", "Which supply risks does Apple name?", "--json"
        )

    assert code == 0, stdout
    answer = json.loads(stdout)
    assert answer["mode"] == "llm"
    assert answer["answer"] == "Apple depends on single-source suppliers [1]."
    assert [c["n"] for c in answer["citations"]] == [1]
    assert "[1] (" in script.requests[0]["messages"][-1]["content"]


def test_cli_search_json_when_as_of_then_no_hit_is_later(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, stdout = _cli(
        state_dir, monkeypatch, "kb", "search", "revenue", "--as-of", "2023-06-30", "--json"
    )
    assert code == 0, stdout
    assert json.loads(stdout) == []

    code, stdout = _cli(
        state_dir,
        monkeypatch,
        "kb",
        "search",
        "revenue",
        "--as-of",
        "2025-01-01",
        "--k",
        "5",
        "--json",
    )
    hits = json.loads(stdout)
    assert code == 0 and len(hits) == 5
    assert all(h["date"] <= "2025-01-01" for h in hits)
    assert set(hits[0]) >= {
        "text",
        "score",
        "title",
        "ticker",
        "form",
        "date",
        "section",
        "start",
        "end",
    }


def test_cli_search_queries_when_batch_then_one_line_per_query_in_order(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": "a", "query": "supply chain", "ticker": "AAPL", "k": 2}\n'
        "\n"
        '{"id": "b", "query": "dividend", "as_of": "2023-06-30"}\n'
        '{"id": "c", "querry": "typo"}\n',
        encoding="utf-8",
    )

    code, stdout = _cli(state_dir, monkeypatch, "kb", "search", "--queries", str(queries), "--json")

    lines = [json.loads(line) for line in stdout.splitlines()]
    assert code == 3  # one bad line
    assert [line.get("id", line.get("line")) for line in lines] == ["a", "b", 4]
    assert len(lines[0]["hits"]) == 2 and all(h["ticker"] == "AAPL" for h in lines[0]["hits"])
    assert lines[1]["hits"] == []
    assert "query" in lines[2]["error"]


def test_cli_list_json_when_ingested_then_metadata_and_missing_fields_reported(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, stdout = _cli(state_dir, monkeypatch, "kb", "list", "--collection", "default", "--json")

    assert code == 0
    records = {Path(r["source"]).name: r for r in json.loads(stdout)}
    assert set(records) == set(FILES)
    assert records["aapl-10-k-2024-11-01.html"]["fiscal_period"] == "FY2024"
    flws = records["flws-8-k.html"]  # its name states no date; its signature page does
    assert "published_at" not in flws["missing"]
    assert flws["metadata_sources"]["published_at"] == "signature page"
