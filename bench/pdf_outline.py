"""PDF loader vs HTML loader on the same filings: section outline and metadata.

    .venv/bin/python bench/pdf_outline.py [--pdf-dir DIR]

Every filing in ``../shared/data/filings`` (or ``$TILLER_SHARED_DATA/filings``) that is
HTML is printed to PDF with Chromium (``chromium --headless --print-to-pdf``, browser
header and footer included, as a person would print it) into ``--pdf-dir`` (default: a
folder in the temp directory, reused between runs; never the repository). Both copies
are loaded with the product's loaders and compared:

- outline: recall and precision of the PDF's Part/Item heading paths against the HTML's,
  and, per common section, how much of the HTML section's words the PDF section holds
  (multiset Jaccard; 1.0 = same text under the same heading, so a heading found on the
  table-of-contents page instead of the body would score near 0);
- metadata: company, tickers, form, fiscal period and date of each copy side by side, with
  where the PDF loader read each (cover page, signature page, document text, file name);
- statement rows: how many of the HTML's rewritten rows ("label (in millions) | 2024: 5
  | 2023: 4") the PDF's text holds word for word.

The HTML loader reads iXBRL facts the PDF has lost, so it is the reference.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge_base import Document, load_file

FIELDS = ("company", "tickers", "form", "fiscal_period", "published_at")
# A statement row as _statements writes it: a column named by its year (and period).
ROW = re.compile(r" \| (?:[a-z]+ (?:months |weeks )?)?(?:19|20)\d\d: ")


def _filings() -> Path:
    root = Path(
        os.environ.get(
            "TILLER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    return root / "filings"


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[a-z]+", text.lower()))


def _value(document: Document, name: str) -> str:
    value = getattr(document, name)
    if name == "published_at":
        return f"{value:%Y-%m-%d}" if value else "-"
    if name == "tickers":
        return ",".join(value) or "-"
    return str(value) if value else "-"


def _compare(pdf: Document, html: Document) -> tuple[int, int, int, list[float]]:
    want = {s.path: s for s in html.sections if s.path}
    got = {s.path: s for s in pdf.sections if s.path}
    agreement = []
    for path in set(want) & set(got):
        a, b = _words(html.section_text(want[path])), _words(pdf.section_text(got[path]))
        agreement.append(sum((a & b).values()) / max(1, sum((a | b).values())))
    return len(want), len(got), len(set(want) & set(got)), agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pdf-dir", type=Path, default=Path(tempfile.gettempdir()) / "tiller-filing-pdfs"
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    args.pdf_dir.mkdir(parents=True, exist_ok=True)
    totals = [0, 0, 0]
    agreement: list[float] = []
    agree_fields = Counter[str]()
    rows_html = rows_found = 0
    n = 0
    for html_path in sorted(_filings().glob("*.html")):
        pdf_path = args.pdf_dir / f"{html_path.stem}.pdf"
        if not pdf_path.exists():
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--print-to-pdf={pdf_path}", str(html_path)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
        [pdf] = load_file(pdf_path)
        [html] = load_file(html_path)
        want, got, common, scores = _compare(pdf, html)
        totals = [totals[0] + want, totals[1] + got, totals[2] + common]
        agreement += scores
        n += 1
        for name in FIELDS:
            agree_fields[name] += _value(pdf, name) == _value(html, name)
        mean = sum(scores) / len(scores) if scores else float("nan")
        html_rows = [line for line in html.text.splitlines() if ROW.search(line)]
        pdf_lines = set(pdf.text.splitlines())
        found = sum(row in pdf_lines for row in html_rows)
        rows_html, rows_found = rows_html + len(html_rows), rows_found + found
        print(f"{html_path.stem:24s} pages {len(pdf.page_starts):3d}  sections html {want:2d} "
              f"pdf {got:2d} common {common:2d} text {mean:.2f}  "
              f"statement rows {found}/{len(html_rows)}")  # fmt: skip
        for name in FIELDS:
            source = pdf.metadata_sources.get(name, "")
            mine, theirs = _value(pdf, name), _value(html, name)
            print(f"    {name:14s} pdf {mine:32.32s} html {theirs:32.32s} {source}")
    recall = totals[2] / max(1, totals[0])
    precision = totals[2] / max(1, totals[1])
    print(f"\noutline: recall {recall:.3f}  precision {precision:.3f}  "
          f"section text agreement mean {sum(agreement) / max(1, len(agreement)):.3f} "
          f"min {min(agreement, default=0):.2f}")  # fmt: skip
    print(
        "metadata equal to the HTML loader's: "
        + ", ".join(f"{k} {v}/{n}" for k, v in agree_fields.items())
    )
    print(
        f"statement rows of the HTML found word for word in the PDF: {rows_found}/{rows_html}"
        f" ({rows_found / max(1, rows_html):.3f})"
    )


if __name__ == "__main__":
    main()
