"""The HTML loader on small inline-XBRL documents written here (real filings: see
test_real_filings.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import DataError
from knowledge_base import Document, load_file, load_path

HEADER = """<div style="display:none"><ix:header><ix:hidden>
<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c-1">2024</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentFiscalPeriodFocus" contextRef="c-1">FY</ix:nonNumeric>
<ix:nonNumeric name="us-gaap:SecretPolicy" contextRef="c-1">hidden fact text</ix:nonNumeric>
</ix:hidden><ix:references><link:schemaRef xlink:href="acme-20241231.xsd"/></ix:references>
<ix:resources><xbrli:context id="c-1"><xbrli:entity><xbrli:identifier
scheme="http://www.sec.gov/CIK">0000000042</xbrli:identifier></xbrli:entity><xbrli:period>
<xbrli:startDate>2024-01-01</xbrli:startDate><xbrli:endDate>2024-12-31</xbrli:endDate>
</xbrli:period></xbrli:context><xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure>
</xbrli:unit></ix:resources></ix:header></div>"""

COVER = """<div><span>FORM </span><ix:nonNumeric name="dei:DocumentType"
contextRef="c-1"><span>10-K</span></ix:nonNumeric></div>
<div><ix:nonNumeric name="dei:EntityRegistrantName" contextRef="c-1">Acme Widgets,
Inc.</ix:nonNumeric></div>
<div>(Exact name of registrant as specified in its charter)</div>
<table>
<tr><td>Title of each class</td><td>Trading symbol</td></tr>
<tr><td><ix:nonNumeric name="dei:Security12bTitle" contextRef="c-2">Common Stock</ix:nonNumeric>
</td><td><ix:nonNumeric name="dei:TradingSymbol" contextRef="c-2">ACME</ix:nonNumeric></td></tr>
<tr><td><ix:nonNumeric name="dei:Security12bTitle" contextRef="c-3">1.5% Notes due 2026
</ix:nonNumeric></td><td><ix:nonNumeric name="dei:TradingSymbol" contextRef="c-3">ACME26
</ix:nonNumeric></td></tr>
</table>"""

TOC = """<div>TABLE OF CONTENTS</div><table>
<tr><td>Part I</td><td></td><td></td></tr>
<tr><td>Item 1.</td><td>Business</td><td>3</td></tr>
<tr><td>Item 1A.</td><td>Risk Factors</td><td>5</td></tr>
<tr><td>Part II</td><td></td><td></td></tr>
<tr><td>Item 7.</td><td>Management's Discussion and Analysis</td><td>9</td></tr>
</table>"""

BODY = """<div>2</div><hr style="page-break-after:always"/>
<div><span style="font-weight:700">PART I</span></div>
<div><span style="font-weight:700">Item 1.&#160;&#160;&#160;&#160;Business</span></div>
<div>Acme makes widgets. See Item 1A of this report for risks.</div>
<div><span style="font-weight:700">ITEM 1A. RISK FACTORS</span></div>
<div>We depend on a few sup&#8203;pliers for <span>steel</span>.</div>
<div>PART II</div>
<div>Item 7.</div><div>Management's Discussion and Analysis</div>
<div>Net sales were as follows (in millions):</div>
<table>
<tr><td></td><td>2024</td><td></td><td>Change</td></tr>
<tr><td style="width:40%">Widgets</td><td>$</td><td><ix:nonFraction name="us-gaap:Revenues"
contextRef="c-1" unitRef="usd" scale="6">1,234</ix:nonFraction></td><td>&#160;</td>
<td>(12</td><td>)%</td></tr>
<tr><td>Gadgets</td><td>$</td><td>56</td><td></td><td>5.2</td><td>%</td></tr>
</table>
<div>3</div>"""


def ixbrl(body: str, *, header: str = HEADER, title: str = "acme-20241231") -> str:
    return (
        "<?xml version='1.0' encoding='ASCII'?>\n"
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"'
        ' xmlns:dei="http://xbrl.sec.gov/dei/2024" xmlns:xbrli="http://www.xbrl.org/2003/instance">'
        f"<head><title>{title}</title></head><body>{header}{body}</body></html>"
    )


@pytest.fixture
def ten_k(tmp_path: Path) -> Document:
    path = tmp_path / "acme-10-k-2025-02-14.html"
    path.write_text(ixbrl(COVER + TOC + BODY), encoding="ascii")
    [document] = load_file(path)
    return document


def section_texts(document: Document) -> dict[tuple[str, ...], str]:
    return {s.path: document.section_text(s) for s in document.sections}


def test_load_when_ixbrl_10k_then_metadata_comes_from_dei_facts(ten_k: Document) -> None:
    assert ten_k.kind == "filing"
    assert ten_k.company == "Acme Widgets, Inc."
    assert ten_k.form == "10-K"
    assert ten_k.fiscal_period == "FY2024"
    assert ten_k.tickers == ("ACME",)  # the notes' symbol ACME26 is not an equity ticker
    assert ten_k.title == "Acme Widgets, Inc. 10-K FY2024"
    assert ten_k.missing == ()


def test_load_when_file_name_has_date_then_published_at_is_that_day_1730_new_york(
    ten_k: Document,
) -> None:
    assert ten_k.published_at == datetime(2025, 2, 14, 22, 30, tzinfo=UTC)  # 17:30 New York


def test_load_when_ixbrl_then_hidden_facts_contexts_and_units_are_not_in_text(
    ten_k: Document,
) -> None:
    for noise in ("hidden fact text", "iso4217", "0000000042", "us-gaap:", "dei:", "xsd"):
        assert noise not in ten_k.text


def test_load_when_visible_ixbrl_fact_then_its_text_is_kept(ten_k: Document) -> None:
    assert "FORM 10-K" in ten_k.text
    assert "Acme Widgets, Inc." in ten_k.text


def test_load_when_toc_lists_items_then_sections_start_at_body_headings(ten_k: Document) -> None:
    texts = section_texts(ten_k)

    assert list(texts) == [
        (),
        ("Part I",),
        ("Part I", "Item 1. Business"),
        ("Part I", "Item 1A. Risk Factors"),
        ("Part II",),
        ("Part II", "Item 7. Management's Discussion and Analysis"),
    ]
    assert "TABLE OF CONTENTS" in texts[()]
    assert texts[("Part I", "Item 1. Business")].startswith("Item 1. Business\n\nAcme makes")


def test_load_when_sections_then_they_cover_the_text_exactly(ten_k: Document) -> None:
    assert "".join(section_texts(ten_k).values()) == ten_k.text


def test_load_when_word_has_zero_width_space_then_it_is_searchable(ten_k: Document) -> None:
    risk = section_texts(ten_k)[("Part I", "Item 1A. Risk Factors")]

    assert "We depend on a few suppliers for steel." in risk


def test_load_when_table_then_rows_are_lines_and_split_numbers_rejoined(ten_k: Document) -> None:
    # Under "(in millions)" each row also names its columns and the scale (statement rows).
    assert (
        "2024 | Change\nWidgets (in millions) | 2024: $1,234 | change: (12)%\n"
        "Gadgets (in millions) | 2024: $56 | change: 5.2%"
    ) in ten_k.text


def test_load_when_bare_page_numbers_then_dropped(ten_k: Document) -> None:
    assert "\n\n2\n\n" not in ten_k.text
    assert not ten_k.text.endswith("3")


def test_load_when_8k_then_items_are_sections_without_parts(tmp_path: Path) -> None:
    body = (
        '<div>FORM <ix:nonNumeric name="dei:DocumentType" contextRef="c-1">8-K</ix:nonNumeric>'
        '</div><div><ix:nonNumeric name="dei:EntityRegistrantName" contextRef="c-1">Acme Widgets,'
        ' Inc.</ix:nonNumeric></div><div><ix:nonNumeric name="dei:DocumentPeriodEndDate" '
        'contextRef="c-1">March 3, 2025</ix:nonNumeric></div>'
        "<div>Item 2.02 Results of Operations and Financial Condition.</div>"
        "<div>On March 3, 2025 Acme reported results.</div>"
        "<div>Item 9.01 Financial Statements and Exhibits.</div><div>99.1 Press release</div>"
    )
    path = tmp_path / "acme-8-k-2025-03-04.html"
    header = '<div style="display:none"><ix:header></ix:header></div>'
    path.write_text(ixbrl(body, header=header), encoding="utf-8")

    [document] = load_file(path)

    assert [s.path for s in document.sections] == [
        (),
        ("Item 2.02 Results of Operations and Financial Condition",),
        ("Item 9.01 Financial Statements and Exhibits",),
    ]
    assert document.form == "8-K"
    assert document.title == "Acme Widgets, Inc. 8-K March 3, 2025"
    assert document.fiscal_period is None
    assert document.missing == ("fiscal_period",)


def test_load_when_plain_html_without_facts_then_h_tags_outline_and_missing_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.html"
    path.write_text(
        "<html><head><title>Widget market notes</title><style>p{color:red}</style></head>"
        "<body><script>var x = 1;</script><h1>Widgets</h1><p>Demand is up.</p>"
        "<h2>Prices</h2><p>Steel&nbsp;costs   rose.</p></body></html>",
        encoding="utf-8",
    )

    [document] = load_file(path)

    assert document.kind == "document"
    assert document.title == "Widget market notes"
    assert document.text == "Widgets\n\nDemand is up.\n\nPrices\n\nSteel costs rose."
    assert [s.path for s in document.sections] == [("Widgets",), ("Widgets", "Prices")]
    assert document.missing == ("published_at",)
    assert "var x" not in document.text


def test_load_when_edgar_sgml_envelope_then_type_is_form_and_envelope_not_in_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "acme-8-k-ex99-1.html"
    path.write_text(
        "<DOCUMENT>\n<TYPE>EX-99.1\n<SEQUENCE>2\n<FILENAME>acme-ex991.htm\n<TEXT>\n"
        "<html><head><title>Document</title></head><body><div>Exhibit 99.1</div>"
        "<div>For Immediate Release: March 4, 2025</div>"
        "<div>ACME WIDGETS REPORTS RECORD FOURTH QUARTER SALES</div><div>Sales rose.</div>"
        "</body></html>\n</TEXT>\n</DOCUMENT>",
        encoding="utf-8",
    )

    [document] = load_file(path)

    assert document.form == "EX-99.1"
    assert document.tickers == ("ACME",)
    assert document.title == "ACME WIDGETS REPORTS RECORD FOURTH QUARTER SALES"
    assert document.published_at == datetime(2025, 3, 4, 22, 30, tzinfo=UTC)
    assert "company" in document.missing
    assert "acme-ex991.htm" not in document.text
    assert [s.path for s in document.sections] == [()]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"<html><body><div style='display:none'>x</div></body></html>", "no visible text"),
    ],
)
def test_load_when_malformed_html_then_load_error_says_what_is_wrong(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "broken.html"
    path.write_bytes(content)

    report = load_path(path)

    assert report.documents == []
    [error] = report.errors
    assert error.source == str(path)
    assert expected in error.error
    with pytest.raises(DataError, match=expected):
        load_file(path)


FOOTNOTED = """<html><body>
<p>Results (in millions, except per share data):</p>
<table>
<tr><td></td><td>2024</td><td>2023</td></tr>
<tr><td><span>Basic Net Income Per Share</span><span
 style="font-size:5.85pt;position:relative;top:-3.15pt;vertical-align:baseline">1</span></td>
<td>$2.47</td><td>$2.48</td></tr>
<tr><td>Total pension plan assets<sup>(2)</sup></td><td>$3,761</td><td>$4,056</td></tr>
<tr><td>Revenue</td><td><span style="margin-top:-2pt;position:relative">12</span></td>
<td>11</td></tr>
</table>
<p><span style="position:relative;top:-3pt">1</span>Computed on the weighted average.</p>
<p>Acme Cola<span style="position:relative;top:-3pt">®</span> grew 10<sup>th</sup> year.</p>
</body></html>"""


def test_superscript_footnote_marks_then_dropped_and_not_glued_to_the_word_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.html"
    path.write_text(FOOTNOTED, encoding="utf-8")

    [document] = load_file(path)
    lines = document.text.splitlines()

    assert "Basic Net Income Per Share | 2024: $2.47 | 2023: $2.48" in lines
    assert "Total pension plan assets (in millions) | 2024: $3,761 | 2023: $4,056" in lines
    assert "Revenue (in millions) | 2024: 12 | 2023: 11" in lines  # a value, not a mark
    assert "Computed on the weighted average." in lines
    assert "Acme Cola® grew 10th year." in lines  # raised, but no footnote mark
    assert "Share1" not in document.text
