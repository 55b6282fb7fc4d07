"""Load files and folders into ``Document``s, one loader per format.

==========================  =====================================================
extension                   loader
==========================  =====================================================
``.html``, ``.htm``         SEC inline-XBRL / EDGAR HTML, or any HTML page
``.pdf``                    PDF with a text layer
``.md``, ``.markdown``      markdown, optional front matter (team primers)
``.txt``                    plain text
``.jsonl``                  news / social items, one JSON object per line
==========================  =====================================================

``load_path`` never raises for a bad file: each one becomes a ``LoadError`` (what is
wrong and how to fix it) and the others still load. In a folder, files with other
extensions and hidden files (names starting with ".") are skipped without an error;
a single file given directly with an unknown extension is an error. Folders are walked
recursively in sorted order, so the same folder always loads the same way.

``load_file`` is the strict form for one file: it returns the documents or raises
``DataError`` (for a JSONL file, if any line is bad).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from core.errors import DataError, NotFoundError
from knowledge_base.document import Document, LoadError, LoadReport, SuppliedMeta


# Each format's module (and lxml or pypdf) is imported on first use, so importing
# ``knowledge_base`` for its types stays cheap.
def _html(path: Path, data: bytes) -> Document:
    from knowledge_base._html import load_html

    return load_html(path, data)


def _pdf(path: Path, data: bytes) -> Document:
    from knowledge_base._pdf import load_pdf

    return load_pdf(path, data)


def _markdown(path: Path, data: bytes) -> Document:
    from knowledge_base._markdown import load_markdown

    return load_markdown(path, data)


def _text(path: Path, data: bytes) -> Document:
    from knowledge_base._markdown import load_text

    return load_text(path, data)


def _news(path: Path, data: bytes) -> LoadReport:
    from knowledge_base._news import load_news

    return load_news(path, data)


_LOADERS: dict[str, Callable[[Path, bytes], Document]] = {
    ".html": _html,
    ".htm": _html,
    ".xhtml": _html,
    ".pdf": _pdf,
    ".md": _markdown,
    ".markdown": _markdown,
    ".txt": _text,
}
_NEWS_SUFFIXES = frozenset({".jsonl"})
SUPPORTED_SUFFIXES = tuple(sorted({*_LOADERS, *_NEWS_SUFFIXES}))


def load_path(path: Path) -> LoadReport:
    """Every document in a file or a folder (recursively), with one error per bad file
    or bad news line. Raises ``NotFoundError`` when ``path`` does not exist or is a folder
    holding no file of a supported type (nothing to load is not a success)."""
    path = Path(path)
    files = loadable_files(path)
    if path.is_dir():
        report = LoadReport()
        for file in files:
            one = _load_one(file)
            report.documents.extend(one.documents)
            report.errors.extend(one.errors)
        return report
    if not _supported(path):
        return LoadReport(
            errors=[
                LoadError(
                    str(path),
                    f"unsupported file type {path.suffix or '(none)'!r}; "
                    f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
                )
            ]
        )
    return _load_one(path)


def loadable_files(path: Path) -> list[Path]:
    """The files ``load_path`` would read: ``path`` itself, or a folder's files of a
    supported type. Raises ``NotFoundError`` when ``path`` does not exist or is a folder
    without any such file (cheap: callers check before expensive set-up)."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if not path.is_dir():
        return [path]
    files = _files(path)
    if not files:
        raise NotFoundError(
            f"{path}: no {', '.join(SUPPORTED_SUFFIXES)} files in this folder (or its subfolders)"
        )
    return files


def load_file(path: Path) -> list[Document]:
    """The documents of one file. Raises ``NotFoundError`` for a missing file and
    ``DataError`` for an unsupported or malformed one."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; use load_path for folders")
    report = load_path(path)
    if report.errors:
        details = "; ".join(
            e.error if e.error.startswith(e.source) else f"{e.source}: {e.error}"
            for e in report.errors
        )
        raise DataError(details)
    return report.documents


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.is_file() and _supported(file):
            found.append(file)
    return sorted(found, key=lambda f: f.relative_to(folder).as_posix())


def _supported(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in _LOADERS or suffix in _NEWS_SUFFIXES


def _load_one(path: Path) -> LoadReport:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return LoadReport(
            errors=[LoadError(str(path), f"cannot read the file ({exc.strerror or exc})")]
        )
    suffix = path.suffix.lower()
    if suffix in _NEWS_SUFFIXES:
        return _news(path, data)
    try:
        document = _LOADERS[suffix](path, data)
    except DataError as exc:
        return LoadReport(errors=[LoadError(str(path), _without_source(str(exc), path))])
    from knowledge_base._filing_meta import future_date_problem

    problem = future_date_problem(document.published_at, datetime.now(UTC))
    if problem:
        where = document.metadata_sources.get("published_at")
        taken = f" (taken from the {where})" if where else ""
        return LoadReport(errors=[LoadError(str(path), problem + taken)])
    return LoadReport(documents=[document])


def _without_source(message: str, path: Path) -> str:
    """Loader messages start with the file name for ``DataError`` readers; a ``LoadError``
    already carries it in ``source``."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def supplied_meta(
    tickers: Sequence[str], form: str | None, published_at: str | None
) -> SuppliedMeta | None:
    """What a person gives at ingestion, checked: tickers and form upper-cased, a date
    alone (``2024-11-01``) public by 17:30 New York time that day as a filing's date is,
    a time with its offset as given. None when nothing is given. Raises ``ValueError``
    (with the fix) for an unreadable or future date."""
    from knowledge_base._filing_meta import future_date_problem, parse_published, public_by

    if not (tickers or form or published_at):
        return None
    when = None
    if published_at:
        try:
            day = date.fromisoformat(published_at.strip())
        except ValueError:
            when = parse_published(published_at, require_time=True)
        else:
            when = public_by(day)
        problem = future_date_problem(when, datetime.now(UTC))
        if problem:
            raise ValueError(problem)
    cleaned = tuple(t.strip().upper() for t in tickers if t.strip())
    return SuppliedMeta(cleaned, (form or "").strip().upper() or None, when)
