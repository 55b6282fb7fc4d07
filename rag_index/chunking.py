"""Cut documents into passages that never cross a section boundary.

Each section of a ``Document`` is split on its own with llama-index's ``SentenceSplitter``
(paragraphs, then sentences, then words), so a passage from "Item 1A. Risk Factors"
never runs into "Item 1B". Every chunk keeps its section path and the exact character
span in the document's cleaned text: ``document.text[chunk.start:chunk.end] ==
chunk.text``, which is what makes a citation point at the precise passage.

Token counts use a simple word/punctuation tokenizer (not tiktoken, whose vocabulary is
downloaded on first use and so is unavailable offline). 160 such tokens is about 200
word pieces, under MiniLM's 256-piece input limit, so the embedder sees whole chunks.

A passage is also capped in characters (``max_chars``): the splitter never cuts inside a
token, so one enormous "word" (a base64 blob, a run of dashes, a minified script pasted
into a page) would otherwise be one passage of any length. Real filings' passages stay
under 1,200 characters, so the cap only ever cuts such runs, at whitespace when it can.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from core.errors import ConfigError
from knowledge_base.document import Document, Section
from rag_index.types import DEFAULT_COLLECTION, Chunk

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

# Names the store folder (``kb/<model>-c<version>``), so a bump leaves every stored
# passage behind: only for a change that makes stored passages wrong (spans, ids), not for
# better boundaries. Passages cut by an older rule stay valid (each span is exact) until
# their document is ingested again.
CHUNKER_VERSION = 1
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SPACE = re.compile(r"\s+")


def count_tokens(text: str) -> list[str]:
    """The tokenizer the splitter measures chunk sizes with (a list, as it expects)."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class ChunkConfig:
    """Passage size and overlap in tokens; sections shorter than ``min_tokens`` are
    still kept (a short 8-K item is a passage of its own)."""

    chunk_size: int = 160
    chunk_overlap: int = 24
    max_chars: int = 2_000

    def __post_init__(self) -> None:
        if self.chunk_size < 16:
            raise ConfigError(f"chunk_size must be >= 16 tokens, got {self.chunk_size}")
        if self.max_chars < 100:
            raise ConfigError(f"max_chars must be >= 100 characters, got {self.max_chars}")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise ConfigError(
                f"chunk_overlap must be in [0, chunk_size/2), got {self.chunk_overlap}"
            )


# A financial statement row as the loaders write it: "Net sales (in millions) | 2024: ...".
_STATEMENT_ROW = re.compile(r" \| (?:19|20)\d\d: ")


def _units(sentences: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """The splitter's sentence units, except that a "sentence" holding statement rows
    (a table has no full stops, so the sentence tokenizer returns it whole) is cut into
    its lines: passages then break between rows, never inside one. Before, the splitter's
    fallback cut such a block at commas, and 7.5% of the statement rows of the shared
    filings (HTML and PDF) were split across two passages ("Payments for acquisition of
    property, plant and equipment (in millions) | 2024: (9,447) | 2023: (10," / "959)")."""

    def split(text: str) -> list[str]:
        units: list[str] = []
        for sentence in sentences(text):
            if "\n" in sentence and _STATEMENT_ROW.search(sentence):
                units.extend(sentence.splitlines(keepends=True))
            else:
                units.append(sentence)
        return units

    return split


@cache
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=count_tokens,
        paragraph_separator="\n\n",
        chunking_tokenizer_fn=_units(split_by_sentence_tokenizer()),
    )


def _locate(haystack: str, needle: str, start: int) -> tuple[int, int] | None:
    """Where ``needle`` occurs in ``haystack`` at or after ``start``: exactly, or with
    any run of whitespace standing for any other (the splitter may trim it)."""
    at = haystack.find(needle, start)
    if at >= 0:
        return at, at + len(needle)
    words = needle.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    match = pattern.search(haystack, start)
    return (match.start(), match.end()) if match else None


def split_section(
    text: str, section: Section, config: ChunkConfig = ChunkConfig()
) -> Iterator[tuple[int, int]]:
    """Spans ``(start, end)`` in ``text`` of the passages of one section."""
    body = text[section.start : section.end]
    if not body.strip():
        return
    pieces = _splitter(config.chunk_size, config.chunk_overlap).split_text(body)
    cursor = 0
    for piece in pieces:
        if not piece.strip():
            continue
        span = _locate(body, piece, cursor)
        if span is None:  # cannot happen with the splitter's concatenating merge
            raise RuntimeError(
                f"chunker lost track of a passage in section {section.path!r}: {piece[:60]!r}"
            )
        cursor = span[0] + 1
        for start, end in _capped(body, span[0], span[1], config.max_chars):
            yield section.start + start, section.start + end


def _capped(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` cut into spans of at most ``limit`` characters: at the last
    whitespace of each window when it lies in the window's second half, else mid-token.
    Whitespace at a cut is left out of both sides."""
    while end - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind(" "), window.rfind("\n"))
        if cut < limit // 2:
            cut = limit
        yield start, start + len(window[:cut].rstrip())
        start += cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        yield start, end


def chunk_document(
    document: Document,
    collection: str = DEFAULT_COLLECTION,
    config: ChunkConfig = ChunkConfig(),
) -> list[Chunk]:
    """The document's passages, in order, each with its section path and exact span."""
    chunks: list[Chunk] = []
    for section in document.sections:
        for start, end in split_section(document.text, section, config):
            ordinal = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{document.doc_id}:{ordinal}",
                    doc_id=document.doc_id,
                    collection=collection,
                    ordinal=ordinal,
                    text=document.text[start:end],
                    start=start,
                    end=end,
                    section=section.path,
                    title=document.title,
                    tickers=document.tickers,
                    form=document.form,
                    published_at=document.published_at,
                    source=document.source,
                    kind=document.kind,
                    metadata_sources=dict(document.metadata_sources),
                    pages=(pages := document.pages_of(start, end)),
                    page_starts=tuple(max(document.page_starts[page - 1], start) for page in pages),
                )
            )
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees for a chunk: the passage under its title and section, so
    "the risks Apple describes" can match a passage that never names Apple."""
    context = " > ".join(part for part in (chunk.title, *chunk.section) if part)
    return f"{context}\n{chunk.text}" if context else chunk.text


def passages_tokens(chunks: Sequence[Chunk]) -> int:
    return sum(len(count_tokens(c.text)) for c in chunks)


def normalise_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()
