"""Financial statement rows that say which year each number belongs to, and its scale.

A statement's numbers are meaningless without its column headings ("Years ended
September 28, 2024 | September 30, 2023 | September 24, 2022") and its scale line
("(In millions)"), yet a passage cut from the middle of a cash-flow statement has
neither. So every row of a table that has both is rewritten to carry them::

    Payments for acquisition of property, plant and equipment (in millions) | 2024: (9,447)
    | 2023: (10,959) | 2022: (10,708)            (one line in the text)

and "FY2022 capital expenditure" can match the cash-flow line that holds it. A PDF's
text layer gives a row as one line ("Net income $ 93,736 $ 96,995"), an HTML table as
cells ("Net income | $93,736 | $96,995"); both come out in the form above.

Only rows of a table whose heading names as many columns (years, and "Change" columns)
as the row has numbers are rewritten; anything else is left as it was. Rows about shares
or per-share amounts ("except per-share amounts") get no scale.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from knowledge_base._outline import Block

_SCALE = re.compile(
    r"\(\s*(?:(?:u\.s\.\s+)?dollars\s+|amounts\s+|\$\s*)?in\s+(millions|thousands|billions)\b",
    re.IGNORECASE,
)
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER = r"(?:\(\s?" + _DIGITS + r"\s?\)|" + _DIGITS + r")"
# A value: a number, or a dash for none; either may follow a dollar sign ("$ —" is the
# zero of a dollar column's first row, and must not leave its "$" to the label).
_VALUE = re.compile(r"(?:\$\s?)?(?:" + _NUMBER + r"(?:\s?%)?|[—–-]{1,2})")
_TRAILING_VALUE = re.compile(r"\s+((?:\$\s?)?(?:" + _NUMBER + r"(?:\s?%)?|[—–]|-{1,2}))$")
_YEAR = re.compile(r"(?:19|20)\d{2}")
# A number between a PDF row's text columns ("Foreign currency contracts $ 457 Net
# operating revenues $ 84"): a number after a lower-case word and before a capitalised
# one. Not a dash: "Average Shares Outstanding — Basic" is one label.
_INNER_VALUE = re.compile(r"[a-z)]\s+(?:\$\s?)?" + _NUMBER + r"\s+[A-Z]")
_COLUMN = re.compile(r"\b(?:19|20)\d{2}\b|\bchange\b|%\s*change", re.IGNORECASE)
_PERIOD = re.compile(
    r"\b(three|six|nine|twelve)\s+months\b|\b(\d{1,2})\s+weeks\b|\byears?\s+ended\b",
    re.IGNORECASE,
)
_HEADER_WORDS = re.compile(
    r"\b(?:change|ended|ending|years?|months|weeks|three|six|nine|twelve|fiscal|quarters?"
    r"|as\s+of|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|\d+)\b|[%,.$()|:]",
    re.IGNORECASE,
)
_NO_SCALE = re.compile(r"per[-\s](?:share|unit|rsu)|\bshares\b|\bper\b.*\bshare\b", re.IGNORECASE)
_END = re.compile(r"^(?:see\s+accompanying|see\s+notes|the\s+accompanying\s+notes)", re.I)
_HEADING = re.compile(r"^(?:part\s+[ivx]+\b|item\s+\d)", re.IGNORECASE)
# A wrapped row label: its second line starts with a lower-case parenthesis ("(credit)"),
# or its first line ends with a word or comma no label ends with.
_OPEN_PARENTHESIS = re.compile(r"\([a-z][a-z ]*\)")
_UNFINISHED = re.compile(r"(?:\b(?:of|and|on|to|for|the|in|at|from|by|with|or)|,)$")
# Lines without a row before a table is given up: a scale line in prose is not a table.
_PATIENCE = 8


@dataclass
class _Table:
    scale: str | None
    columns: list[str]
    header: list[str]
    context: str = ""  # the last group label ("Earnings per share:")
    idle: int = 0


def annotate_statements(blocks: Sequence[Block], *, cells: bool) -> list[Block]:
    """``blocks`` with the rows of financial statement tables rewritten (module doc).
    ``cells``: rows are " | "-joined cells (HTML, Markdown), else lines of text (PDF)."""
    out: list[Block] = []
    table: _Table | None = None
    for block in blocks:
        text = block.text
        scale = _SCALE.search(text)
        if scale and len(text) < 400:
            table = _Table(scale.group(1).lower(), [], [])
            out.append(block)
            continue
        if table is None:
            out.append(block)
            continue
        if _END.match(text) or _HEADING.match(text):
            table = None
            out.append(block)
            continue
        row = _row(text, cells)
        if row is None or _heading_row(text, *row, loose=not table.columns):
            if not _header_line(table, text):
                table = None
            out.append(block)
            continue
        label, values = row
        if not label:
            out.append(block)
            continue
        if not table.columns and table.header:
            table.columns = _columns(" ".join(table.header))
        if len(values) != len(table.columns) or _inner_value(label, cells) or _years(values):
            table.idle += 1
            if table.idle > _PATIENCE or len(text) > 160:
                table = None
            out.append(block)
            continue
        table.idle = 0
        label = _joined_label(out, block, label, cells)
        out.append(replace(block, text=_render(table, label, values), in_table=True))
    return out


def _header_line(table: _Table, text: str) -> bool:
    """A line that is not a row: a column heading, a group label ("Operating
    activities:") or prose. False when it ends the table."""
    if _is_header(text, loose=not table.columns):
        if table.columns:  # headings again (a new page, a second panel): start afresh
            table.columns, table.header = [], []
        table.header.append(text)
        return True
    if text.rstrip().endswith(":"):
        table.context = text
    table.idle += 1
    return table.idle <= _PATIENCE and not (len(text) > 160 and text.rstrip().endswith("."))


def _is_header(text: str, *, loose: bool = False) -> bool:
    """A line of column headings only: years, dates, "Change", "Years ended". Before a
    table's columns are known (``loose``) a heading line need not name a year
    ("Years ended", "September 28,")."""
    if not text.strip() or (not loose and not _COLUMN.search(text)):
        return False
    rest = _HEADER_WORDS.sub(" ", text)
    return not re.search(r"[A-Za-z]{3,}", rest)


def _years(values: list[str]) -> bool:
    """Only bare years ("2024", no "$", no thousands comma): a line ending in dates or
    a year in prose ("... outstanding at December 31, 2024"), not a row of amounts."""
    return all(_YEAR.fullmatch(value) for value in values)


def _has_numbers(text: str) -> bool:
    """Whether a PDF line ends in amounts of its own (years do not count)."""
    row = _row(text, False)
    return row is not None and not _years(row[1])


def _heading_row(text: str, label: str, values: list[str], *, loose: bool) -> bool:
    """A line that parses as a row but heads columns: its label is headings ("2024 2023"
    after "December 31,"), or its "values" are only years under heading words ("Year
    Ended December 31, 2023" starting a table's second panel) — not a row whose value
    is a year."""
    if _is_header(label, loose=loose):
        return True
    return _years(values) and _is_header(text, loose=True)


def _columns(header: str) -> list[str]:
    """Column names from the headings' text: each year (prefixed with its period when
    several periods share the headings: "three months 2025") and each "change"."""
    found = [m.group(0).lower() for m in _COLUMN.finditer(header)]
    found = ["change" if "change" in name else name for name in found]
    periods = [_period_name(m) for m in _PERIOD.finditer(header)]
    years = [name for name in found if name != "change"]
    if len(periods) > 1 and len(years) % len(periods) == 0 and len(set(years)) < len(years):
        per = len(years) // len(periods)
        named = iter(f"{periods[i // per]} {year}" for i, year in enumerate(years))
        found = [name if name == "change" else next(named) for name in found]
    return found


def _period_name(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1).lower()} months"
    if match.group(2):
        return f"{match.group(2)} weeks"
    return "year"


def _row(text: str, cells: bool) -> tuple[str, list[str]] | None:
    """A table row's label and its trailing numbers (``None`` when it has none)."""
    values: list[str] = []
    if cells:
        parts = text.split(" | ")
        while len(parts) > 1 and _VALUE.fullmatch(parts[-1].strip()):
            values.insert(0, parts.pop().strip())
        label = " | ".join(parts).strip()
    else:
        label = text
        while match := _TRAILING_VALUE.search(label):
            values.insert(0, match.group(1))
            label = label[: match.start()]
        label = label.strip()
    if not values:
        return None
    return label, [_tidy(value) for value in values]


def _inner_value(label: str, cells: bool) -> bool:
    """Whether a row has a number between its text columns (KO's cash-flow hedges:
    "Foreign currency contracts | $457 | Net operating revenues | $84", the gain in OCI
    before the line item, the gain reclassified after it). The headings' years name
    only the trailing numbers, so such a row is left as it is rather than rewritten with
    another column's number inside its label."""
    if cells:
        return any(_VALUE.fullmatch(cell.strip()) for cell in label.split(" | ")[1:])
    return _INNER_VALUE.search(label) is not None


def _tidy(value: str) -> str:
    """ "$ 30,737" → "$30,737", "3 %" → "3%", "( 12 )" → "(12)"."""
    return re.sub(r"(?<=[$(])\s+|\s+(?=[%)])", "", value)


def _joined_label(out: list[Block], block: Block, label: str, cells: bool) -> str:
    """A PDF row whose label wrapped ("..., beginning" / "balances $ 30,737 ...") gets
    the line before it back: that line is dropped and its text starts the label. A
    wrapped label goes on in lower case, with a parenthesis ("Amortization of prior
    service cost" / "(credit) 1 1 —"), or after a line that cannot end a label
    ("Total Comprehensive Income Attributable to Shareowners of" / "The Coca-Cola Company
    $ 8,063 ..."); the line before has no numbers of its own."""
    if cells or not out:
        return label
    previous = out[-1]
    prior = previous.text
    goes_on = label[:1].islower() or _OPEN_PARENTHESIS.match(label) or _UNFINISHED.search(prior)
    if (
        not goes_on
        or previous.group != block.group
        or previous.in_table
        or prior.endswith(":")
        or _SCALE.search(prior)
        or _is_header(prior)
        or len(prior) > 200
        or _has_numbers(prior)
    ):
        return label
    out.pop()
    return f"{prior} {label}"


def _named(label: str) -> str:
    """What a row is, without its parentheses and what follows a semicolon: "Treasury
    stock at cost (31,228,532 and 25,953,460 shares ...)" is an amount, not shares."""
    return re.sub(r"\([^)]*\)", " ", label).split(";")[0]


def _render(table: _Table, label: str, values: list[str]) -> str:
    scaled = table.scale and not all(v.endswith("%") for v in values)
    if scaled and not _NO_SCALE.search(_named(label)) and not _NO_SCALE.search(table.context):
        label = f"{label} (in {table.scale})"
    cells = [f"{column}: {value}" for column, value in zip(table.columns, values, strict=True)]
    return " | ".join([label, *cells])
