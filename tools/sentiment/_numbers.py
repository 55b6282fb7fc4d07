"""Tone from numbers alone: "operating profit EUR 13.9 mn, compared with EUR 9.2 mn".

Results are often reported without a single tone word: a figure and the prior period's
("EPS $0.41 vs $0.66 a year ago", "pre-tax profit SEK 212 mn (SEK 148 mn)", "net debt
rose to EUR 540 mn from EUR 390 mn", "order intake: EUR 52.3 mn, -14% y/y"). The
direction is in the numbers, and whether up is good depends on what is measured: more
profit is good news, more debt or a higher combined ratio is not.

``numeric_tone`` finds the measured quantity (the last metric word before the first
figure), the current figure and the prior one, and returns +1, -1 or 0:

- the current figure is the first one, except in "from <prior> to <current>";
- a loss is a negative profit ("a net loss of $0.08, compared with a net loss of
  $0.31" is up; "a loss of EUR 1.7 mn, compared with a profit of EUR 0.9 mn" is down);
- a signed growth rate ("+18% year over year", "-14% y/y") is its own direction;
- changes under half a percent, and figures for something with no known direction
  (employees, stores, shares), are 0: a fact, not news.
"""

from __future__ import annotations

import re

_CURRENCY = r"(?:EUR|USD|SEK|NOK|DKK|GBP|CHF|JPY|CAD|AUD|US\$|C\$|A\$|\$|€|£|¥)"
_FIGURE = re.compile(
    r"(?P<currency>" + _CURRENCY + r")?\s?(?P<sign>[-−+])?\s?(?P<currency2>" + _CURRENCY + r")?"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"\s?(?P<unit>%|percent\b|x\b|mn\b|million\b|bn\b|billion\b|m\b|k\b)?",
    re.IGNORECASE,
)
# Up is good for these, bad for those; matched as words, longest first where they nest.
_GOOD = (
    "operating profit",
    "operating income",
    "operating result",
    "net profit",
    "net income",
    "pre-tax profit",
    "profit",
    "earnings",
    "eps",
    "ebitda margin",
    "ebitda",
    "ebit",
    "revenue",
    "revenues",
    "net sales",
    "sales",
    "turnover",
    "order intake",
    "orders",
    "order backlog",
    "backlog",
    "bookings",
    "free cash flow",
    "cash flow",
    "cash and equivalents",
    "cash",
    "gross margin",
    "operating margin",
    "margin",
    "arr",
    "deliveries",
    "load factor",
    "solvency ratio",
    "capital ratio",
    "like-for-like sales",
    "comparable sales",
    "same-store sales",
    "charter rate",
    "realised gas price",
    "realised oil price",
    "realised price",
    "price",
    "dividend",
    "volumes",
    "production",
    "subscribers",
    "users",
)
_BAD = (
    "net loss",
    "loss",
    "losses",
    "net debt",
    "debt",
    "leverage",
    "combined ratio",
    "cost-to-income ratio",
    "costs",
    "expenses",
    "non-performing loans",
    "impairments",
    "cancellation rate",
    "days sales outstanding",
    "churn",
    "unemployment",
    "write-downs",
    "provisions",
    "default rate",
    "inventory days",
)
_METRIC = re.compile(
    r"\b(?P<metric>"
    + "|".join(re.escape(m) for m in sorted(_GOOD + _BAD, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
_LOSS = re.compile(r"\b(?:net\s+)?loss(?:es)?\b(?:\s+\w+){0,3}\s*$", re.IGNORECASE)
_PROFIT = re.compile(r"\b(?:net\s+)?(?:profit|income)\b(?:\s+\w+){0,3}\s*$", re.IGNORECASE)
_FROM_TO = re.compile(r"\bfrom\s*$", re.IGNORECASE)
_GROWTH = re.compile(r"^\s*(?:y/y|yoy|year[- ]over[- ]year|year[- ]on[- ]year|y-o-y)", re.I)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_MONTH_BEFORE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s*$", re.IGNORECASE
)
_FLAT = 0.01
# What may stand between a figure and the prior period's: "vs", "compared with", "(",
# "from", "previous year", "against". Anything else ("above the minimum of", "or 12% of
# the total", "to" in a range) is not a comparison with the past.
_CONNECTOR = re.compile(
    r"\b(?:vs\.?|versus|compared|against|from|previous|prior|last\s+year|a\s+year\s+(?:ago|earlier)"
    r"|year\s+earlier|year\s+before|in\s+\d{4})\b|\(",
    re.IGNORECASE,
)
_LOSSES = ("net loss", "loss", "losses")


def _figures(text: str) -> list[tuple[re.Match[str], float]]:
    """The figures of ``text`` with their signed values; years, days of a month and
    ordinals are not figures."""
    found = []
    for match in _FIGURE.finditer(text):
        number = match.group("number")
        currency = match.group("currency") or match.group("currency2")
        if re.match(r":\d", text[match.end() :]) or re.search(r"\d:\s?$", text[: match.start()]):
            continue  # a time of day, "5:00"
        if not currency and not match.group("unit"):
            if _YEAR.match(number) or _MONTH_BEFORE.search(text[: match.start()]):
                continue
            if re.match(r"(?:st|nd|rd|th)\b", text[match.end() :]):
                continue
        value = float(number.replace(",", ""))
        if match.group("sign") in ("-", "−"):
            value = -value
        found.append((match, value))
    return found


def _named(text: str, match: re.Match[str], pattern: re.Pattern[str]) -> bool:
    return bool(pattern.search(text[max(0, match.start() - 40) : match.start()]))


def numeric_tone(text: str) -> int:
    """+1 when the figures say things got better, -1 worse, 0 when they do not say
    (see the module doc)."""
    figures = _figures(text)
    if not figures:
        return 0
    first, value = figures[0]
    metrics = list(_METRIC.finditer(text, 0, first.start()))
    if not metrics:
        return 0
    metric = metrics[-1].group("metric").lower()
    for match, rate in figures:  # "-14% y/y": a growth rate is its own direction
        unit = (match.group("unit") or "").lower()
        after = text[match.end() : match.end() + 30].lstrip(", ")
        if match.group("sign") and unit in ("%", "percent") and _GROWTH.match(after):
            return (1 if rate > 0 else -1 if rate < 0 else 0) * _polarity(metric)
    if len(figures) < 2:
        return 0
    second, other = figures[1]
    between = text[first.end() : second.start()]
    from_to = _FROM_TO.search(text[: first.start()]) and re.fullmatch(r"\s*to\s*", between)
    if not (from_to or _CONNECTOR.search(between)) or _kind(first) != _kind(second):
        return 0
    if from_to:  # "from <prior> to <current>"
        (first, value), (second, other) = (second, other), (first, value)
    current, prior = value, other
    if metric in _LOSSES or _named(text, first, _LOSS):
        # A loss is a negative profit; the prior figure is a loss too unless named a profit.
        current = -abs(value)
        prior = abs(other) if _named(text, second, _PROFIT) else -abs(other)
        metric = "profit"
    elif _named(text, second, _LOSS):
        prior = -abs(other)
    change = current - prior
    if abs(change) <= _FLAT * max(abs(prior), abs(current), 1e-9):
        return 0
    return (1 if change > 0 else -1) * _polarity(metric)


def _kind(match: re.Match[str]) -> str:
    """Percentages compare with percentages, multiples with multiples, amounts with
    amounts."""
    unit = (match.group("unit") or "").lower()
    return {"%": "%", "percent": "%", "x": "x"}.get(unit, "amount")


def _polarity(metric: str) -> int:
    return -1 if metric in _BAD else 1


def is_metric(words: str) -> bool:
    """Whether ``words`` name a measured quantity ("loss", "net debt"): when figures give
    its direction, the word's own tone is not news."""
    return bool(_METRIC.fullmatch(words.strip()))
