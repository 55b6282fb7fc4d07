"""``tiller kb ...`` and ``tiller ask``: ingest documents, list them, search them, and
answer questions with citations. The bundled primers are ingested on first use."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli import sentiment as _sentiment
from app.cli._common import (
    err,
    handle_errors,
    numbered_lines,
    out,
    print_json,
    print_json_line,
    safe,
)
from app.services import documents as docs
from core.errors import ConfigError, DataError, NotFoundError

app = typer.Typer(help="The knowledge base: filings, news and primers.", no_args_is_help=True)
app.command("sentiment")(_sentiment.sentiment)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _collection(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise typer.BadParameter("must not be empty (leave it out to search every collection)")
    return value


CollectionOpt = Annotated[
    str | None,
    typer.Option("--collection", help="Only this collection (default: all).", callback=_collection),
]
TickerOpt = Annotated[list[str] | None, typer.Option("--ticker", help="Only these tickers.")]
FormOpt = Annotated[list[str] | None, typer.Option("--form", help="Only these forms, e.g. 10-K.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Point in time: only documents published by then (UTC)."),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="Published on or after (UTC).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Published on or before (UTC).")]
ModeOpt = Annotated[str, typer.Option("--mode", help="hybrid, dense or lexical.")]


def _settings() -> Any:
    from core.settings import load_settings

    return load_settings()


def _llm_session() -> Any:
    """One question's LLM session (the settings' per-run budget), or None offline."""
    from app.cli._common import container

    c = container()
    if c.chat_model is None:
        return None
    from core.llm import LLMSession

    return LLMSession.from_settings(c.chat_model, c.settings)


@contextmanager
def _open_kb(*, primers: bool = True, quiet: bool = False) -> Iterator[Any]:
    from rag_index.service import KnowledgeBase

    kb = KnowledgeBase.open(_settings())
    try:
        if primers:
            with _progress(quiet, "primers") as progress:
                kb.ensure_primers(progress)
        yield kb
    finally:
        kb.close()


@contextmanager
def _progress(quiet: bool, what: str) -> Iterator[Any]:
    """A progress bar on stderr for long ingests, with passages per second and the time
    left; silent in --json mode or off a TTY."""
    if quiet or not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn(f"ingesting {what}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        TextColumn("{task.fields[speed]}"),
        TextColumn("{task.fields[eta]}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=None, files="", speed="", eta="")
        yield _IngestBar(bar, task)


class _IngestBar:
    """What ingestion reports (``rag_index.ingest.PassageProgress``) shown on the bar:
    files (or documents) done, passages written per second, and the time left from the
    share of the source bytes done so far."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, done: int, total: int, label: str) -> None:
        label = safe(label[:50], one_line=True)
        self._bar.update(self._task, files=f"{done}/{total}", description=label)

    def passages(self, written: int, seconds: float, share: float) -> None:
        speed = f"{written:,} passages, {written / seconds:.1f}/s" if seconds > 0 else ""
        eta = ""
        if 0 < share < 1 and seconds > 0:
            left = round(seconds * (1 - share) / share)
            eta = f"ETA {left // 60}:{left % 60:02d}"
        self._bar.update(self._task, completed=share, total=1.0, speed=speed, eta=eta)


def _not_empty(query: str | None) -> None:
    """Refused before the knowledge base opens (its first opening ingests the primers)."""
    if query is not None and not query.strip():
        raise ConfigError("the query is empty: give a few words to search for")


@app.command()
@handle_errors
def ingest(
    path: Annotated[Path, typer.Argument(help="A file or a folder (searched recursively).")],
    collection: Annotated[
        str, typer.Option(help="Collection to put the documents in.")
    ] = "default",
    ticker: Annotated[
        list[str] | None,
        typer.Option("--ticker", help="Ticker(s) for documents that do not state theirs."),
    ] = None,
    form: Annotated[
        str | None, typer.Option("--form", help="Form (e.g. 10-K) for documents that do not.")
    ] = None,
    published_at: Annotated[
        str | None,
        typer.Option(
            "--published-at",
            help="Publication date or time (2024-11-01 or 2024-11-01T21:30:00Z) for "
            "documents that do not state it.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Load, chunk, embed and store documents: SEC filings (iXBRL HTML, PDF), Markdown,
    news JSON Lines. Idempotent; a changed file replaces its passages; a bad file is
    reported and skipped (exit code 3 when any file failed). --ticker, --form and
    --published-at fill what a document does not state (recorded as given by the user);
    what it states itself is kept."""
    from knowledge_base import SUPPORTED_SUFFIXES, loadable_files

    if not collection.strip():
        raise ConfigError("--collection must not be empty")
    docs.supplied_meta(ticker, form, published_at)  # checked before the primers' ingest
    # A wrong path is reported before the first opening ingests the primers.
    if loadable_files(path) == [path] and path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    with _open_kb(quiet=json_) as kb, _progress(json_, str(path)) as progress:
        report = docs.ingest(kb, path, collection, tickers=ticker, form=form,
                             published_at=published_at, progress=progress)  # fmt: skip
    if json_:
        omit = {"error"} if report.error is None else None
        print_json(report.model_dump(mode="json", exclude=omit))
    else:
        out.print(
            f"{len(report.added)} added, {len(report.replaced)} replaced, "
            f"{len(report.unchanged)} unchanged, {len(report.errors)} failed; "
            f"{report.chunks_written:,} passages written in {report.seconds:.1f} s"
        )
        for record in report.metadata:
            out.print(f"  {safe(_found_line(record))}", highlight=False)
        for warning in report.warnings:
            err.print(f"[yellow]warning[/] {safe(warning)}", highlight=False)
        for error in report.errors:
            err.print(f"[red]skipped[/] {safe(error.source)}: {safe(error.error)}")
    if report.errors:
        raise typer.Exit(DataError.exit_code)


def _found_line(record: docs.FoundMetadata) -> str:
    """ "aapl.pdf: Apple Inc. · AAPL · 10-K · FY2024 · 2024-11-01 (company, tickers, form,
    fiscal_period: cover page; published_at: signature page)" — what ingestion found and
    where, so a wrong or missing field is seen at once."""
    values = {
        "company": record.company,
        "tickers": ", ".join(record.tickers) or None,
        "form": record.form,
        "fiscal_period": record.fiscal_period,
        "published_at": f"{record.published_at:%Y-%m-%d}" if record.published_at else None,
    }
    shown = " · ".join(value or f"no {name}" for name, value in values.items())
    by_source: dict[str, list[str]] = {}
    for name in values:
        if name in record.metadata_sources:
            by_source.setdefault(record.metadata_sources[name], []).append(name)
    where = "; ".join(f"{', '.join(names)}: {src}" for src, names in by_source.items())
    pages = f", {record.pages} pages" if record.pages else ""
    return f"{record.source}{pages}: {shown}" + (f" ({where})" if where else "")


@app.command("list")
@handle_errors
def list_(collection: CollectionOpt = None, json_: JsonOpt = False) -> None:
    """The documents in the knowledge base, with their metadata."""
    with _open_kb(quiet=json_) as kb:
        records = docs.documents(kb, collection)
    if json_:
        print_json(records.model_dump(mode="json"))
        return
    out.print(documents_table(records.root))


def documents_table(records: list[docs.DocumentView]) -> Table:
    """``kb list`` as people read it; every cell comes from a document, so none is markup."""
    table = Table(
        "collection", "title", "tickers", "form", "period", "published", "passages", "missing",
        "from file name",
    )  # fmt: skip
    for r in records:
        named = [name for name, source in r.metadata_sources.items() if source == "filename"]
        cells = (r.collection, r.title or r.source, ",".join(r.tickers), r.form or "",
                 r.fiscal_period or "", f"{r.published_at:%Y-%m-%d}" if r.published_at else "",
                 str(r.passages), ",".join(r.missing), ",".join(named))  # fmt: skip
        table.add_row(*(safe(cell, one_line=True) for cell in cells))
    return table


@app.command()
@handle_errors
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    queries: Annotated[
        Path | None,
        typer.Option("--queries", help='JSON Lines of {"id", "query", optional filters}.'),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=200, help="Passages to return.")] = 10,
    collection: CollectionOpt = None,
    ticker: TickerOpt = None,
    form: FormOpt = None,
    as_of: AsOfOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    mode: ModeOpt = "hybrid",
    json_: JsonOpt = False,
) -> None:
    """Hybrid (BM25 + dense) search with filters applied inside the search."""
    if (query is None) == (queries is None):
        raise ConfigError('give either a query ("...") or --queries FILE.jsonl, not both')
    _not_empty(query)
    if queries is not None:
        _check_queries_file(queries)  # before the first opening ingests the primers
    base = docs.SearchFilters.parse(collection, ticker, form, as_of=as_of, start=start, end=end)
    with _open_kb(quiet=json_) as kb:
        if queries is not None:
            failed = _batch(kb, queries, base, k, mode)
            if failed:
                raise typer.Exit(DataError.exit_code)
            return
        assert query is not None
        hits = docs.search(kb, query, k, base, mode)
    if json_:
        print_json(hits.model_dump(mode="json"))
        return
    if not hits.root:
        out.print("no passage matches (check the filters, or ingest documents first)")
    for rank, hit in enumerate(hits.root, start=1):
        out.print(f"[bold]{rank}.[/] {safe(hit.cited_as)}  [dim]score {hit.score:.4f}[/]")
        out.print("   " + safe(" ".join(hit.text.split())[:400]), highlight=False)


def _batch(kb: Any, path: Path, base: docs.SearchFilters, k: int, mode: str) -> int:
    """One JSON object per input line on stdout, in order; a bad line gets an
    ``error`` instead of hits. Returns the number of bad lines."""
    _check_queries_file(path)
    handle = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    failed = 0
    with handle:
        for number, line in numbered_lines(handle, str(path)):
            if not line.strip():
                continue
            answer = docs.search_line(kb, line, number, base, k, mode)
            failed += answer.error is not None
            print_json_line(answer.model_dump(mode="json", exclude_unset=True))
    return failed


def _check_queries_file(path: Path) -> None:
    """A queries file that is missing, a folder or not text is refused before the first
    opening of the knowledge base (which ingests the primers); stdin is read as it comes."""
    if str(path) == "-":
        return
    if not path.exists():
        raise NotFoundError(f"{path}: no such file (--queries takes a JSON Lines file)")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file (--queries takes a JSON Lines file)")
    with path.open(encoding="utf-8") as handle:
        for _ in numbered_lines(handle, str(path)):
            pass


def _cite(chunk: Any, pages: Any = None) -> str:
    from rag_index.answer import cite_text

    return cite_text(chunk, pages)


def print_citations(answer: Any) -> None:
    """Each cited passage once, under its number (two quotes from one passage share it)."""
    for citation in answer.sources():
        pages = answer.pages_of(citation.n)
        out.print(f"  [{citation.n}] {safe(_cite(citation.chunk, pages))}", highlight=False)


@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about the ingested documents.")],
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Passages to answer from.")] = 6,
    collection: CollectionOpt = None,
    ticker: TickerOpt = None,
    form: FormOpt = None,
    as_of: AsOfOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Answer from retrieved passages with numbered citations (extractive offline; an
    LLM's answer, checked to cite only passages it was given, when one is configured)."""
    from app.services.knowledge import answer_view

    _not_empty(question)
    filters = docs.SearchFilters.parse(collection, ticker, form, as_of=as_of)
    llm = _llm_session()
    with _open_kb(quiet=json_) as kb:
        answer = kb.ask(question, filters.to_filters(), k=k, llm=llm)
    if json_:
        print_json(answer_view(answer).model_dump(mode="json"))
        return
    out.print(safe(answer.text), highlight=False)
    for warning in answer.warnings:
        err.print(f"[yellow]warning:[/] {safe(warning)}")
    print_citations(answer)


@app.command("fetch-filings")
@handle_errors
def fetch_filings(
    ticker: Annotated[str, typer.Argument(help="e.g. AAPL")],
    form: Annotated[str, typer.Option(help="e.g. 10-K, 10-Q, 8-K")] = "10-K",
    limit: Annotated[int, typer.Option(min=1, max=100, help="Most recent N filings.")] = 1,
    dest: Annotated[
        Path | None, typer.Option(help="Folder (default: TILLER_HOME/state/filings).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Download filings from SEC EDGAR (needs the network and TILLER_SEC_USER_AGENT);
    then `tiller kb ingest` the folder."""
    results = docs.fetch_filings(_settings(), ticker, form=form, limit=limit, dest=dest)
    if json_:
        print_json(results.model_dump(mode="json"))
        return
    for r in results.root:
        out.print(f"{r.status:10} {r.path}")
