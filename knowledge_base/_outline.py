"""Blocks of text → the document's text and its section outline.

Every loader turns its source into ``Block``s (a paragraph, a table row, a PDF line) that
are already cleaned. ``assemble`` joins them into the document text, remembering where
each block starts, and the heading detectors mark which blocks open a section:

- ``markdown_headings``: ``#`` headings nest by level;
- ``sec_headings``: "PART II" and "Item 1A. Risk Factors" / "Item 2.02 Results of ..."
  headings of SEC filings. A 10-K's table of contents lists every item before the body
  does, so for each (part, item) the *last* heading is taken, preferring headings that
  are not inside a table; headings then have to appear in the form's order, and any that
  do not (a stray cross-reference) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge_base.document import Section

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_PART = re.compile(r"^PART\s+(IV|I{1,3})\b\s*(?:[.:\-—–|]|$)", re.IGNORECASE)
_ITEM = re.compile(
    r"^ITEM\s*(\d{1,2}(?:\.\d{2})?)([A-D])?(?![\w.]*\d)(?![a-z])\s*(?:([.:\-—–|]+)\s*)?(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to"}
)
_REFERENCE = re.compile(
    r"\b(?:of|in|under)\s+this\s+(?:annual|quarterly|report|form)\b|\bincluded\s+in\b",
    re.IGNORECASE,
)
# The long item titles of 10-K, 10-Q and 8-K forms, which wrap in a PDF's narrow lines.
_STANDARD_TITLES = (
    "Market for Registrant's Common Equity, Related Stockholder Matters and Issuer "
    "Purchases of Equity Securities",
    "Management's Discussion and Analysis of Financial Condition and Results of Operations",
    "Quantitative and Qualitative Disclosures About Market Risk",
    "Financial Statements and Supplementary Data",
    "Changes in and Disagreements With Accountants on Accounting and Financial Disclosure",
    "Disclosure Regarding Foreign Jurisdictions that Prevent Inspections",
    "Directors, Executive Officers and Corporate Governance",
    "Security Ownership of Certain Beneficial Owners and Management and Related "
    "Stockholder Matters",
    "Certain Relationships and Related Transactions, and Director Independence",
    "Principal Accountant Fees and Services",
    "Exhibits and Financial Statement Schedules",
    "Exhibit and Financial Statement Schedules",
    "Unresolved Staff Comments",
    "Unregistered Sales of Equity Securities and Use of Proceeds",
    "Defaults Upon Senior Securities",
    "Results of Operations and Financial Condition",
    "Departure of Directors or Certain Officers; Election of Directors; Appointment of "
    "Certain Officers; Compensatory Arrangements of Certain Officers",
    "Entry into a Material Definitive Agreement",
    "Submission of Matters to a Vote of Security Holders",
)
_MAX_HEADING = 220
_MAX_TITLE_LOOKAHEAD = 160


@dataclass(frozen=True)
class Block:
    """A cleaned piece of text. Blocks of the same ``group`` (rows of one table, lines of
    one paragraph or page) are joined by a newline, other blocks by a blank line."""

    text: str
    group: int
    in_table: bool = False
    level: int = 0  # markdown heading level (1-6), 0 when the block is not a heading


def assemble(blocks: Sequence[Block]) -> tuple[str, list[int]]:
    """The document text and the offset at which each block starts."""
    parts: list[str] = []
    starts: list[int] = []
    position = 0
    for index, block in enumerate(blocks):
        if index:
            sep = "\n" if block.group == blocks[index - 1].group else "\n\n"
            parts.append(sep)
            position += len(sep)
        starts.append(position)
        parts.append(block.text)
        position += len(block.text)
    return "".join(parts), starts


def sections_from(
    text: str, starts: Sequence[int], headings: Sequence[tuple[int, tuple[str, ...]]]
) -> tuple[Section, ...]:
    """Sections covering ``text``: one per heading (block index, path), in order, plus a
    section with an empty path for any text before the first heading."""
    bounds: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    for block_index, path in headings:
        offset = starts[block_index]
        if offset == bounds[-1][0]:
            bounds[-1] = (offset, path)
        else:
            bounds.append((offset, path))
    ends = [start for start, _ in bounds[1:]] + [len(text)]
    return tuple(
        Section(path=path, start=start, end=end)
        for (start, path), end in zip(bounds, ends, strict=True)
    )


def markdown_headings(blocks: Sequence[Block]) -> list[tuple[int, tuple[str, ...]]]:
    """Heading paths from markdown heading levels: a ``###`` nests under the ``##``
    before it; a level that skips (``#`` then ``###``) nests directly."""
    stack: list[tuple[int, str]] = []
    found: list[tuple[int, tuple[str, ...]]] = []
    for index, block in enumerate(blocks):
        if not block.level:
            continue
        title = block.text.lstrip("#").strip().strip("#").strip()
        while stack and stack[-1][0] >= block.level:
            stack.pop()
        stack.append((block.level, title))
        found.append((index, tuple(t for _, t in stack)))
    return found


@dataclass(frozen=True)
class _Candidate:
    index: int
    in_table: bool
    part: int  # 0 when no part is known
    item: str | None  # normalised item number ("1A", "2.02"); None for a part heading
    label: str


def sec_headings(blocks: Sequence[Block]) -> list[tuple[int, tuple[str, ...]]]:
    """The Part/Item outline of an SEC filing (see module doc); empty when none is found."""
    candidates = _candidates(blocks)
    items = _choose_items([c for c in candidates if c.item is not None])
    parts = _choose_parts([c for c in candidates if c.item is None], items)
    chosen = sorted(items + parts, key=lambda c: c.index)
    found: list[tuple[int, tuple[str, ...]]] = []
    for cand in chosen:
        part_label = f"Part {_roman(cand.part)}" if cand.part else None
        if cand.item is None:
            found.append((cand.index, (cand.label,)))
        else:
            found.append((cand.index, (part_label, cand.label) if part_label else (cand.label,)))
    return found


def _candidates(blocks: Sequence[Block]) -> list[_Candidate]:
    found: list[_Candidate] = []
    part = 0
    seen_parts: list[int] = []
    last_item: tuple[int, int, str] | None = None
    for index, block in enumerate(blocks):
        text = block.text
        if len(text) > _MAX_HEADING or text[:4].upper() not in ("PART", "ITEM"):
            continue
        match = _PART.match(text)
        if match:
            part = _ROMAN[match.group(1).upper()]
            seen_parts.append(part)
            last_item = None
            found.append(_Candidate(index, block.in_table, part, None, f"Part {_roman(part)}"))
            continue
        label_item = _item_heading(blocks, index)
        if label_item is None:
            continue
        item, label = label_item
        order = _item_order(item)
        if last_item is not None and order <= last_item and seen_parts:
            # Items restart without a part heading: the body after a table of contents
            # whose part headings the body itself does not repeat. It starts at Part I.
            part = min(seen_parts)
        last_item = order
        found.append(_Candidate(index, block.in_table, part, item, label))
    return found


def _item_heading(blocks: Sequence[Block], index: int) -> tuple[str, str] | None:
    match = _ITEM.match(blocks[index].text)
    if match is None:
        return None
    number, letter, separator, rest = match.groups()
    rest = _strip_page_number(rest.replace(" | ", " ")).strip(" |")
    if not separator and rest[:1].islower():
        return None  # "Item 7 of this report ..." is a reference, not a heading
    if rest.startswith((",", ";")) or _REFERENCE.search(rest):
        # A PDF line that starts a cross-reference: 'Item 3, "Legal Proceedings" of this
        # Annual Report', "Item 1A Risk Factors of this Annual Report on Form 10-K."
        return None
    rest = _continued(blocks, index, rest) if rest else _title_below(blocks, index)
    item = number + (letter or "").upper()
    title = _tidy_title(rest)
    dotted = "." in number
    label = f"Item {item}{'' if dotted else '.'}" + (f" {title}" if title else "")
    return item, label


def _title_below(blocks: Sequence[Block], index: int) -> str:
    """A heading split over two blocks ("Item 1A." then "Risk Factors") takes the next."""
    if index + 1 >= len(blocks):
        return ""
    below = blocks[index + 1].text
    if len(below) > _MAX_TITLE_LOOKAHEAD or _ITEM.match(below) or _PART.match(below):
        return ""
    if below.rstrip(".").count(". ") or below[:1].islower():
        return ""
    return below


def _continued(blocks: Sequence[Block], index: int, title: str) -> str:
    """A heading wrapped over lines (a PDF's "ITEM 5. MARKET FOR REGISTRANT’S" then
    "COMMON EQUITY, RELATED ..."): the next lines are joined while the title keeps
    reading as a prefix of one of the items' titles Regulation S-K fixes."""
    for below in blocks[index + 1 : index + 7]:
        if below.group != blocks[index].group:
            break
        longer = f"{title} {_strip_page_number(below.text)}"
        words, more = _words(title), _words(longer)
        if len(more) == len(words) or not any(t[: len(more)] == more for t in _STANDARD):
            break
        title = longer
    return title


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.findall(r"[a-z]+", text.lower().replace("’", "'")) if w != "the")


_STANDARD = tuple(_words(title) for title in _STANDARD_TITLES)


def _strip_page_number(text: str) -> str:
    """A table-of-contents row's trailing page number ("Risk Factors | 5")."""
    return re.sub(r"(?:\s*\|\s*|\s+)\d{1,3}$", "", text)


def _tidy_title(title: str) -> str:
    title = _respaced(" ".join(title.split()).rstrip(".:").strip())
    letters = [ch for ch in title if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters):
        title = " ".join(_capitalise(word, first=not i) for i, word in enumerate(title.split(" ")))
    return title


def _squashed(text: str) -> str:
    return "".join(text.split()).lower().replace("’", "'")


_SQUASHED = {_squashed(title): title for title in _STANDARD_TITLES}


def _respaced(title: str) -> str:
    """A standard title whose words a PDF's text layer ran together (PDFium reads a
    widely letter-spaced "PRINCIPAL ACCOUNTANT" as "PRINCIPALACCOUNTANT") gets the
    standard's spaces back; its own letters and case are kept."""
    standard = _SQUASHED.get(_squashed(title))
    if standard is None or len(standard.split()) == len(title.split()):
        return title
    letters = iter(ch for ch in title if not ch.isspace())
    return "".join(" " if ch == " " else next(letters) for ch in standard)


def _capitalise(word: str, *, first: bool) -> str:
    """Title case for an all-caps heading word: MANAGEMENT’S → Management’s, OF → of,
    [RESERVED] → [Reserved]; 10-K and MD&A stay as they are."""
    if any(ch.isdigit() or ch in "&./" for ch in word.rstrip(".,;:")):
        return word  # 10-K, MD&A, U.S.
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    at = next((i for i, ch in enumerate(lower) if ch.isalpha()), 0)
    return lower[:at] + lower[at : at + 1].upper() + lower[at + 1 :]


def _item_order(item: str) -> tuple[int, int, str]:
    match = re.match(r"(\d+)(?:\.(\d+))?([A-D]?)", item)
    assert match is not None  # item numbers come from _ITEM
    return int(match.group(1)), int(match.group(2) or 0), match.group(3)


def _choose_items(candidates: list[_Candidate]) -> list[_Candidate]:
    # An item seen before any part heading (a TOC without part rows) whose number the
    # body repeats under a part is the TOC's entry, not a heading.
    under_parts = {c.item for c in candidates if c.part}
    candidates = [c for c in candidates if c.part or c.item not in under_parts]
    by_key: dict[tuple[int, str], _Candidate] = {}
    for cand in candidates:
        key = (cand.part, cand.item or "")
        kept = by_key.get(key)
        if kept is None or not (cand.in_table and not kept.in_table):
            by_key[key] = cand
    chosen = sorted(by_key.values(), key=lambda c: c.index)
    return _longest_ordered_run(chosen)


def _longest_ordered_run(chosen: list[_Candidate]) -> list[_Candidate]:
    """The longest subsequence whose (part, item) keys increase: drops out-of-order
    stragglers such as a TOC entry whose body heading could not be recognised."""
    keys = [(c.part, *_item_order(c.item or "")) for c in chosen]
    best: list[int] = [1] * len(chosen)
    previous: list[int] = [-1] * len(chosen)
    for i in range(len(chosen)):
        for j in range(i):
            if keys[j] < keys[i] and best[j] + 1 > best[i]:
                best[i], previous[i] = best[j] + 1, j
    if not chosen:
        return []
    at = max(range(len(chosen)), key=lambda i: (best[i], i))
    run: list[_Candidate] = []
    while at >= 0:
        run.append(chosen[at])
        at = previous[at]
    return run[::-1]


def _choose_parts(candidates: list[_Candidate], items: list[_Candidate]) -> list[_Candidate]:
    """For each part, the last part heading before that part's first chosen item (and
    after the previous part's items), so a TOC's "PART I" is not taken for the body's."""
    chosen: list[_Candidate] = []
    floor = -1
    for part in sorted({c.part for c in items if c.part}):
        first = min(c.index for c in items if c.part == part)
        before = [c for c in candidates if c.part == part and floor < c.index < first]
        if before:
            chosen.append(before[-1])
        floor = max(c.index for c in items if c.part == part)
    return chosen


def _roman(number: int) -> str:
    return {value: key for key, value in _ROMAN.items()}[number]
