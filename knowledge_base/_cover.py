"""What a filing's own pages state about it, read from plain text (a PDF has no iXBRL facts).

- ``cover_page_tickers``: the trading symbols of the equity rows of the cover page's
  "Securities registered pursuant to Section 12(b)" table (notes and preferred shares are
  left out when an equity row exists: IBM 25A is a note, not a listing to trade).
- ``cover_page_fiscal_period``: "For the fiscal year ended September 28, 2024" → FY2024.
  A quarterly cover states only the quarter's end date, not which fiscal quarter it is,
  so nothing is read from it (the quarter number would be a guess).
- ``signature_date``: the date on the signature page ("Date: November 1, 2024").
- ``dateline_date``: an earnings release's date in its first lines ("CUPERTINO, CALIF. —
  October 31, 2024 —", "For Immediate Release: November 22, 2024").

A date is a calendar day; ``public_by`` turns it into the moment the document was
certainly public. A signature precedes the filing (often by a day), so the loader never
lets a signature date make a filing visible earlier than EDGAR's date when it has both.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from knowledge_base._filing_meta import normalise_tickers, public_by
from knowledge_base.document import MetaSource

_MONTH = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = _MONTH + r"\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4})"
_FISCAL_YEAR = re.compile(r"for\s+the\s+(?:fiscal\s+)?year\s+ended:?\s+" + _DATE, re.IGNORECASE)
_SECTION_12B = re.compile(r"section\s+12\(b\)", re.IGNORECASE)
_TABLE_END = re.compile(r"section\s+12\(g\)|indicate\s+by\s+check\s+mark", re.IGNORECASE)
_EXCHANGE = (
    r"(?:the\s+)?(?:nasdaq|new\s+york\s+stock\b|nyse|cboe|chicago\s+stock"
    r"|boston\s+stock|nyse\s+american)"
)
_SYMBOL_ROW = re.compile(
    r"(?P<title>.*?)\s(?P<symbol>[A-Z]{1,5}(?:[.\-][A-Z]{1,3})?)\s+" + _EXCHANGE + r".*",
    re.IGNORECASE,
)
_EQUITY = re.compile(r"\b(?:common|capital|ordinary)\b", re.IGNORECASE)
_NOT_EQUITY = re.compile(
    r"\b(?:preferred|depositary|notes?|debentures?|warrants?|due)\b|%", re.IGNORECASE
)
_SIGNATURES = re.compile(r"^\s*SIGNATURES?\s*$", re.MULTILINE)
_SIGNED = re.compile(r"(?:\bdated?:?\s*|\bas\s+of\s+|^)" + _DATE, re.IGNORECASE | re.MULTILINE)
_DATELINE = re.compile(
    r"(?:for\s+immediate\s+release|release\s+date|[—–]|--|\bPRNewswire\b|\bBUSINESS WIRE\b)"
    r"\s*[:\-–—)]?\s*" + _DATE,
    re.IGNORECASE,
)


def _day(match: re.Match[str]) -> date | None:
    month = match.group("month")[:3].title()
    try:
        return datetime.strptime(
            f"{month} {match.group('day')} {match.group('year')}", "%b %d %Y"
        ).date()
    except ValueError:
        return None


def cover_page_tickers(cover: str) -> tuple[str, ...]:
    """The equity trading symbols the cover page's Section 12(b) table lists."""
    start = _SECTION_12B.search(cover)
    if start is None:
        return ()
    end = _TABLE_END.search(cover, start.end())
    table = cover[start.end() : end.start() if end else start.end() + 3_000]
    equity: list[str] = []
    other: list[str] = []
    lines = [line.strip() for line in table.splitlines() if line.strip()]
    for at, line in enumerate(lines):
        # A row may wrap before its exchange's name ("... $1-2/3 WFC" / "New York Stock").
        following = lines[at + 1] if at + 1 < len(lines) else ""
        match = _SYMBOL_ROW.match(line) or _SYMBOL_ROW.fullmatch(f"{line} {following}")
        if match is None or match.group("symbol").upper() in ("LLC", "INC"):
            continue
        title = match.group("title")
        symbol = match.group("symbol")
        if not symbol.isupper():
            continue
        if _EQUITY.search(title) and not _NOT_EQUITY.search(title):
            equity.append(symbol)
        elif not _NOT_EQUITY.search(title):
            other.append(symbol)
    return normalise_tickers(equity or other)


def cover_page_fiscal_period(cover: str) -> str | None:
    """``FY<year>`` from "For the fiscal year ended <date>" (fiscal years are named by
    the calendar year they end in, as the filings' own ``dei:DocumentFiscalYearFocus``
    does), or None."""
    match = _FISCAL_YEAR.search(cover)
    day = _day(match) if match else None
    return f"FY{day.year}" if day else None


def signature_date(text: str) -> date | None:
    """The first date after the last "SIGNATURES" heading (within its first lines)."""
    headings = list(_SIGNATURES.finditer(text))
    if not headings:
        return None
    page = text[headings[-1].end() : headings[-1].end() + 2_500]
    match = _SIGNED.search(page)
    return _day(match) if match else None


def dateline_date(head: str) -> date | None:
    """The date an earnings release states in its first lines."""
    match = _DATELINE.search(head[:2_000])
    return _day(match) if match else None


def stated_date(text: str, head: str, form: str | None) -> tuple[datetime, MetaSource] | None:
    """The date a document states for itself, as the moment it was public by (see
    ``public_by``), and where it was read: a filing's signature page, else a release's
    dateline. ``text``: the whole text; ``head``: its first lines."""
    if form:
        signed = signature_date(text)
        if signed:
            return public_by(signed), "signature page"
    released = dateline_date(head)
    return (public_by(released), "document") if released else None


def later_of_filed(
    filed: datetime | None, dated: tuple[datetime, MetaSource] | None
) -> tuple[datetime | None, MetaSource | None]:
    """The publication time and its source: EDGAR's date (in the name fetch-filings
    writes) is when the filing became public and a signature precedes it, so the later of
    the two never shows a filing early. Source ``None`` means the file name."""
    if filed and (dated is None or filed > dated[0]):
        return filed, None
    return (dated[0], dated[1]) if dated else (None, None)
