"""Table rows as one line of text: cells joined by " | ", split numbers rejoined.

SEC filings (and markdown converted from them) put a number's parts in separate cells:
"$" | "1,234", "(12" | ")", "5.2" | "%". A reader sees "$1,234", "(12)", "5.2%", and so
should the index: otherwise a search for "$1,234" finds nothing. Empty spacer cells are
dropped and a bullet cell ("•") is joined to the text it marks.
"""

from __future__ import annotations

from knowledge_base.sanitize import clean_line

_PREFIXES = frozenset({"$", "€", "£", "¥", "US$", "C$", "A$", "(", "$(", "($"})
_BULLETS = frozenset({"•", "●", "◦", "▪", "■", "○", "-", "–", "—", "·"})
_SUFFIXES = frozenset({")", "%", ")%", "%)"})


def join_cells(cells: list[str]) -> str:
    """One table row as text (see module doc for the rules)."""
    out: list[str] = []
    prefix = ""
    for raw in cells:
        cell = clean_line(raw)
        if not cell:
            continue
        if cell in _PREFIXES:
            prefix += cell
            continue
        if cell in _BULLETS and not out and not prefix:
            prefix = cell + " "
            continue
        if out and not prefix and cell in _SUFFIXES:
            out[-1] += cell
            continue
        out.append(prefix + cell)
        prefix = ""
    if prefix.strip():
        out.append(prefix.strip())
    return " | ".join(out)


def markdown_row(line: str) -> str | None:
    """A markdown table row ("| a | | b |") as a row of text; ``None`` for the
    "|---|:--:|" rule under a header row."""
    if "-" in line and not set(line) - set("|-: "):
        return None
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    return join_cells(body.split("|"))
