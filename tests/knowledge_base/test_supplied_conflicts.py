"""Metadata given at ingestion (--ticker, --form, --published-at) that disagrees with a
document is said out loud: kept out when the document states its own, replacing what
only the file name said, and silent only when the two agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import (
    SuppliedMetaWarning,
    load_file,
    supplied_conflicts,
    supplied_meta,
    with_supplied,
)
from tests.knowledge_base.test_pdf_pages_and_cover import COVER, SIGNATURES, write_pdf


@pytest.fixture
def ten_k(tmp_path: Path):  # type: ignore[no-untyped-def]
    [document] = load_file(write_pdf(tmp_path / "report.pdf", [COVER, SIGNATURES]))
    return document


def test_ticker_that_contradicts_the_cover_page_then_warned_and_the_cover_page_kept(
    ten_k,  # type: ignore[no-untyped-def]
) -> None:
    supplied = supplied_meta(["MMM"], None, None)
    assert supplied is not None

    with pytest.warns(SuppliedMetaWarning, match="--ticker MMM was not used: the cover page"):
        kept = with_supplied(ten_k, supplied)

    assert kept.tickers == ("ACME",)


def test_form_and_date_that_contradict_the_document_then_one_warning_each(
    ten_k,  # type: ignore[no-untyped-def]
) -> None:
    supplied = supplied_meta([], "10-Q", "2024-10-15")
    assert supplied is not None

    conflicts = supplied_conflicts(ten_k, supplied)

    assert len(conflicts) == 2
    assert "--form 10-Q was not used: the cover page states 10-K" in conflicts[0]
    assert (
        "--published-at 2024-10-15 was not used: the signature page states 2024-11-01"
        in (conflicts[1])
    )


def test_supplied_values_that_agree_then_no_warning(ten_k) -> None:  # type: ignore[no-untyped-def]
    supplied = supplied_meta(["acme"], "10-K", "2024-11-01")
    assert supplied is not None

    assert supplied_conflicts(ten_k, supplied) == []


def test_ticker_replacing_the_file_names_then_warned_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "abc-10-k-2024-11-01.md"
    path.write_text("# Notes\n\nWidget demand rose.\n", encoding="utf-8")
    [document] = load_file(path)
    supplied = supplied_meta(["XYZ"], None, None)
    assert supplied is not None

    with pytest.warns(SuppliedMetaWarning, match="--ticker XYZ replaces ABC from the file name"):
        changed = with_supplied(document, supplied)

    assert changed.tickers == ("XYZ",) and changed.metadata_sources["tickers"] == "user"
