"""Issue 14's acceptance through the CLI: `tiller kb ingest` of a PDF 10-K shows the
company, ticker, form and date it found and where it found each; an `--as-of` search
finds the document; `tiller ask --json` cites it by page, down to the cash-flow line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fpdf import FPDF
from typer.testing import CliRunner

from app.cli import app

PAGES = [
    [
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION",
        "FORM 10-K",
        "For the fiscal year ended December 31, 2023",
        "Halcyon Freight Corporation",
        "(Exact name of registrant as specified in its charter)",
        "Securities registered pursuant to Section 12(b) of the Act:",
        "Title of each class Trading symbol(s) Name of each exchange on which registered",
        "Common Stock, $0.01 par value per share HFRT New York Stock Exchange",
        "Securities registered pursuant to Section 12(g) of the Act: None",
    ],
    [
        "PART I",
        "Item 1A. Risk Factors",
        "Our barge fleet depends on river levels; a drought on the Rhine halts deliveries.",
        "Diesel prices swing our operating costs more than any other input.",
    ],
    [
        "PART II",
        "Item 8. Financial Statements and Supplementary Data",
        "CONSOLIDATED STATEMENTS OF CASH FLOWS",
        "(In millions)",
        "Years ended December 31,",
        "2023 2022",
        "Net income $ 412 $ 388",
        "Depreciation and amortization 97 91",
        "Purchases of barges, terminals and equipment (231) (184)",
        "Cash used in investing activities (219) (176)",
    ],
    [
        "SIGNATURES",
        "Pursuant to the requirements of Section 13 or 15(d) of the Securities Exchange Act.",
        "Date: February 20, 2024",
    ],
]


def _pdf(path: Path) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for lines in PAGES:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TILLER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("TILLER_LLM_BASE_URL", "TILLER_LLM_MODEL", "TILLER_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.mark.slow
def test_pdf_10k_ingested_then_found_metadata_and_sources_shown_and_ask_cites_the_page(
    cli: CliRunner, tmp_path: Path
) -> None:
    report = _pdf(tmp_path / "annual report.pdf")  # a name that states nothing

    ingested = cli.invoke(app, ["kb", "ingest", str(report)])

    assert ingested.exit_code == 0, ingested.output
    shown = " ".join(ingested.stdout.split())  # the console wraps long lines
    assert (
        "4 pages: Halcyon Freight Corporation · HFRT · 10-K · FY2023 · 2024-02-20 "
        "(company, tickers, form, fiscal_period: cover page; published_at: signature page)"
    ) in shown

    # The agents always search as of a date: the document must not be excluded.
    searched = cli.invoke(
        app, ["kb", "search", "barge fleet river levels", "--as-of", "2024-03-01", "--json"]
    )
    assert searched.exit_code == 0, searched.output
    hits = json.loads(searched.stdout)
    assert hits and hits[0]["ticker"] == "HFRT"

    asked = cli.invoke(
        app,
        ["ask", "How much did Halcyon Freight spend on barges and equipment in fiscal 2023?",
         "--json"],
    )  # fmt: skip

    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    cited = [c for c in answer["citations"] if c["ticker"] == "HFRT"]
    # The cash-flow row, quoted with its year and scale, on the statement's page.
    [row] = [c for c in cited if "2023: (231)" in c["quote"]]
    assert (row["pages"], row["page"]) == ([3], "p. 3")
    assert "(in millions)" in row["quote"]

    # A --ticker that contradicts the cover page is said, and the cover page's is kept.
    again = cli.invoke(app, ["kb", "ingest", str(report), "--ticker", "MMM", "--json"])

    assert again.exit_code == 0, again.output
    result = json.loads(again.stdout)
    assert result["unchanged"] == [str(report)]
    [warning] = result["warnings"]
    assert "--ticker MMM was not used: the cover page states HFRT" in warning
