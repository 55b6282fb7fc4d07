"""A document dated in the future (a typo such as 2099) is refused with the file (and the
line, for news) instead of loading and then winning every point-in-time query."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from knowledge_base import load_path


def test_markdown_dated_2099_in_its_front_matter_then_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outlook.md"
    path.write_text("---\ntitle: Outlook\npublished_at: 2099-01-01\n---\n# Outlook\nRates.\n")
    report = load_path(path)
    assert report.documents == []
    [error] = report.errors
    assert error.source == str(path)
    assert error.error.startswith("published_at 2099-01-01T00:00:00+00:00 is in the future")
    assert error.error.endswith("fix the date (taken from the document)")


def test_markdown_dated_2099_by_its_file_name_then_refused_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "msft-10-k-2099-01-01.md"
    path.write_text("# Annual report\nRevenue grew.\n")
    [error] = load_path(path).errors
    assert "2099-01-01" in error.error and error.error.endswith("(taken from the filename)")


def test_news_item_dated_2099_then_that_line_refused_and_the_others_load(tmp_path: Path) -> None:
    items = [
        {"id": "a", "published_at": "2024-11-01T20:31:00Z", "text": "Apple beat estimates."},
        {"id": "b", "published_at": "2099-11-01T20:31:00Z", "text": "From the future."},
    ]
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    report = load_path(path)
    assert [d.source for d in report.documents] == [f"{path}#a"]
    [error] = report.errors
    assert error.source == f"{path}:2"
    assert error.error.startswith("line 2: item 'b': published_at 2099-11-01T20:31:00+00:00")
    assert "is in the future" in error.error


def test_news_item_published_a_few_hours_ahead_then_accepted_as_clock_skew(
    tmp_path: Path,
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    path = tmp_path / "news.jsonl"
    path.write_text(json.dumps({"id": "a", "published_at": soon, "text": "Just in."}) + "\n")
    report = load_path(path)
    assert report.errors == [] and len(report.documents) == 1
