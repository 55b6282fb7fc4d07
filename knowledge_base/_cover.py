"""What a filing's own pages state about it, read from plain text (a PDF has no iXBRL facts).

- ``cover_page_tickers``: the trading symbols of the equity rows of the cover page's
  "Securities registered pursuant to Section 12(b)" table (notes and preferred shares are
  left out when an equity row exists: IBM 25A is a note, not a listing to trade).
- ``cover_page_fiscal_period``: "For the fiscal year ended September 28, 2024" → FY2024.
- ``quarterly_fiscal_period``: a 10-Q's cover states only the quarter's end date ("For
  the quarterly period ended June 28, 2025"), not which fiscal quarter it is. The rest of
  the document says so: its statements' column headings name the year to date ("Nine
  Months Ended" → Q3), and its text names the fiscal year around the quarter (the
  preceding year's end: "Form 10-K for the fiscal year ended September 28, 2024", the
  balance sheet's comparative column; or the current one's: "fiscal year ending
  December 31, 2025") → "Q3 2025". What the text does not establish is left out, never
  guessed: a quarter whose fiscal year it does not name (or names two of) is "Q3
  (quarter ended 2025-06-28)"; headings that every fiscal-year date the text names
  contradicts give no period at all (a date that agrees outvotes one that does not: a
  balance sheet compared with the previous quarter's end is not a year's end).
- ``fiscal_period_stated``: the period a 10-K or 10-Q states and where it was read.
- ``signature_date``: the date on the signature page ("Date: November 1, 2024").
- ``dateline_date``: an earnings release's date in its first lines ("CUPERTINO, CALIF. —
  October 31, 2024 —", "For Immediate Release: November 22, 2024").

A date is a calendar day; ``public_by`` turns it into the moment the document was
certainly public. A signature precedes the filing (often by a day), so the loader never
lets a signature date make a filing visible earlier than EDGAR's date when it has both.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

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


_QUARTER_ENDED = re.compile(
    r"for\s+the\s+(?:quarterly\s+period|quarter)\s+ended[\s:|]+" + _DATE, re.IGNORECASE
)
# The year to date a statement's column heading names, in months.
_TO_DATE = re.compile(
    r"\b(?:(?P<months>three|six|nine|3|6|9)[\s-]+months"
    r"|(?P<weeks>13|26|39|thirteen|twenty[\s-]six|thirty[\s-]nine)[\s-]+weeks)"
    r"\s+end(?:ed|ing)\b",
    re.IGNORECASE,
)
_TO_DATE_MONTHS = {"three": 3, "six": 6, "nine": 9, "13": 3, "26": 6, "39": 9}
_TO_DATE_MONTHS |= {"thirteen": 3, "twentysix": 6, "thirtynine": 9, "3": 3, "6": 6, "9": 9}
# What a column heading holds besides its periods: dates, years, and these words.
_HEADING_REST = re.compile(
    r"\b(?:twelve\s+months\s+ended|and|ended|ending|as\s+of|for\s+the|unaudited|fiscal"
    r"|quarters?|years?|periods?)\b|" + _MONTH + r"|\d+|[,.|()%$:\-]",
    re.IGNORECASE,
)
# Where the text names a fiscal year's end: the preceding one (the annual report's, the
# balance sheet's comparative column) or the current one.
_ANNUAL_REPORT_YEAR = re.compile(
    r"form\s+10-k\s+for\s+(?:the\s+)?(?:fiscal\s+)?year\s+ended,?\s+" + _DATE, re.IGNORECASE
)
_BALANCE_SHEET = re.compile(r"balance\s+sheets?\b", re.IGNORECASE)
_ANY_DATE = re.compile(_DATE, re.IGNORECASE)
_CURRENT_YEAR_END = re.compile(
    r"fiscal\s+year\s+(?:ending|ends)(?:\s+on)?\s+" + _DATE, re.IGNORECASE
)
# A 52/53-week calendar's quarter ends within days of the calendar months' count.
_SLACK = timedelta(days=10)


def _months_later(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, last)
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def _quarters_between(start: date, end: date) -> int | None:
    """1, 2 or 3 when ``end`` is that many quarters after ``start`` (within a 52/53-week
    calendar's slack), else None."""
    for quarters in (1, 2, 3):
        if abs(_months_later(start, 3 * quarters) - end) <= _SLACK:
            return quarters
    return None


def _month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def _year_to_date(text: str) -> int | None:
    """The quarter the statements' column headings name the year to date of ("Three
    Months Ended | Nine Months Ended" → 3), or None when no heading names one."""
    longest = 0
    for line in text.splitlines():
        periods = list(_TO_DATE.finditer(line))
        if not periods or len(line) > 200:
            continue
        rest = _HEADING_REST.sub(" ", _TO_DATE.sub(" ", line))
        if re.search(r"[A-Za-z]{2,}", rest):  # prose or a row, not a column heading
            continue
        for period in periods:
            name = re.sub(r"[\s-]", "", (period.group("months") or period.group("weeks")).lower())
            longest = max(longest, _TO_DATE_MONTHS[name])
    return longest // 3 or None


def _fiscal_years(text: str, end: date) -> set[tuple[int, int | None]]:
    """(quarter, fiscal year) as each statement of a fiscal year's end around the quarter
    ended ``end`` implies them; the year is None when the statement does not settle it."""
    implied: set[tuple[int, int | None]] = set()
    preceding = [_day(m) for m in _ANNUAL_REPORT_YEAR.finditer(text)]
    for heading in _BALANCE_SHEET.finditer(text):
        found = _ANY_DATE.finditer(text, heading.end(), heading.end() + 400)
        dates = [day for day in map(_day, found) if day]
        if len(dates) >= 2 and dates[0] == end and dates[1] < end:
            preceding.append(dates[1])
    for day in preceding:
        quarters = _quarters_between(day, end) if day and day < end else None
        if quarters is None or day is None:
            continue
        # Fiscal years are named by the calendar year they end in. A year ending a
        # month's last day ends 12 months on; a 52/53-week year ending within days of
        # New Year may fall on either side of it, which the preceding end cannot tell.
        year_end = _months_later(day, 12)
        if _month_end(day) and _month_end(end):
            implied.add((quarters, year_end.year))
        else:
            sure = (year_end - _SLACK).year == (year_end + _SLACK).year
            implied.add((quarters, year_end.year if sure else None))
    for match in _CURRENT_YEAR_END.finditer(text):
        day = _day(match)
        left = _quarters_between(end, day) if day and day > end else None
        if day and left:
            implied.add((4 - left, day.year))
    return implied


def quarterly_fiscal_period(cover: str, text: str) -> str | None:
    """A 10-Q's fiscal quarter as its own text states it (module doc): "Q3 2025", "Q3
    (quarter ended 2025-06-28)" when the text does not name the fiscal year, or None.
    ``cover``: the cover page's text; ``text``: the whole document's."""
    match = _QUARTER_ENDED.search(cover)
    end = _day(match) if match else None
    if end is None:
        return None
    headed = _year_to_date(text)
    implied = _fiscal_years(text, end)
    quarters = {quarter for quarter, _ in implied}
    if headed is not None:
        quarter = headed
    elif len(quarters) == 1:
        quarter = quarters.pop()
    else:
        return None  # neither headings nor one fiscal year's end name the quarter
    agreeing = {year for q, year in implied if q == quarter}
    if implied and not agreeing:
        # Every fiscal-year end the text names puts the quarter elsewhere than the
        # headings do: one of them is not what it seems, so neither is stated.
        return None
    years = agreeing - {None}
    year = years.pop() if len(years) == 1 else None  # two years named: neither
    return f"Q{quarter} {year}" if year else f"Q{quarter} (quarter ended {end.isoformat()})"


def fiscal_period_stated(
    form: str | None, cover: str, text: str
) -> tuple[str | None, MetaSource | None]:
    """The fiscal period a 10-K's cover page or a 10-Q's text states, and where it was
    read (``"cover page"``, ``"document text"``); (None, None) for other forms."""
    if form and form.startswith("10-K"):
        period = cover_page_fiscal_period(cover)
        return (period, "cover page") if period else (None, None)
    if form and form.startswith("10-Q"):
        period = quarterly_fiscal_period(cover, text)
        return (period, "document text") if period else (None, None)
    return None, None


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
