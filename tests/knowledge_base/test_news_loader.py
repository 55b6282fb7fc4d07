"""News JSON Lines: one document per item, one error per bad line."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import DataError
from knowledge_base import load_file, load_path, make_doc_id

ITEM = {
    "id": "rt-1",
    "published_at": "2024-11-01T20:31:00Z",
    "source": "Reuters",
    "tickers": ["aapl"],
    "title": "Apple beats\u200b estimates",
    "text": "Apple reported\u00a0record services revenue.",
    "url": "https://example.com/rt-1",
}


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_when_valid_item_then_one_clean_news_document(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(ITEM)])

    [document] = load_file(path)

    assert document.kind == "news"
    assert document.doc_id == make_doc_id("news:rt-1")
    assert document.source == f"{path}#rt-1"
    assert document.text == "Apple reported record services revenue."
    assert document.title == "Apple beats estimates (Reuters)"
    assert document.tickers == ("AAPL",)
    assert document.published_at == datetime(2024, 11, 1, 20, 31, tzinfo=UTC)
    assert document.url == "https://example.com/rt-1"
    assert document.missing == ()
    assert [(s.path, s.start, s.end) for s in document.sections] == [((), 0, len(document.text))]


def test_load_when_item_keys_reordered_then_sha256_is_the_same(tmp_path: Path) -> None:
    reordered = dict(reversed(list(ITEM.items())))
    [first] = load_file(write_lines(tmp_path, [json.dumps(ITEM)]))
    [second] = load_file(write_lines(tmp_path, [json.dumps(reordered, indent=None)]))

    canonical = json.dumps(ITEM, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert first.sha256 == second.sha256 == hashlib.sha256(canonical.encode()).hexdigest()


def test_load_when_offset_time_then_converted_to_utc(tmp_path: Path) -> None:
    item = {**ITEM, "published_at": "2024-11-01T16:31:00-04:00"}

    [document] = load_file(write_lines(tmp_path, [json.dumps(item)]))

    assert document.published_at == datetime(2024, 11, 1, 20, 31, tzinfo=UTC)


def test_load_when_no_published_at_then_loaded_and_named_missing(tmp_path: Path) -> None:
    item = {k: v for k, v in ITEM.items() if k not in ("published_at", "tickers")}

    [document] = load_file(write_lines(tmp_path, [json.dumps(item)]))

    assert document.published_at is None
    assert document.missing == ("tickers", "published_at")


def test_load_when_some_lines_bad_then_each_reported_with_line_and_rest_load(
    tmp_path: Path,
) -> None:
    lines = [
        json.dumps(ITEM),
        "{not json",
        json.dumps({**ITEM, "id": "rt-3", "published_at": "2024-11-01T20:31:00"}),
        json.dumps({**ITEM, "id": "rt-4", "text": "  "}),
        "",
        json.dumps({k: v for k, v in ITEM.items() if k != "id"}),
        json.dumps({**ITEM, "id": "rt-7", "published_at": "2024-11-01"}),
        json.dumps({**ITEM, "id": "rt-8", "tickers": "AAPL"}),
        json.dumps(ITEM),
        "[1, 2]",
        json.dumps({**ITEM, "id": "rt-11"}),
    ]
    path = write_lines(tmp_path, lines)

    report = load_path(path)

    assert [d.doc_id for d in report.documents] == [
        make_doc_id("news:rt-1"),
        make_doc_id("news:rt-11"),
    ]
    errors = {e.source: e.error for e in report.errors}
    assert list(errors) == [f"{path}:{n}" for n in (2, 3, 4, 6, 7, 8, 9, 10)]
    assert "not valid JSON" in errors[f"{path}:2"]
    assert "add 'Z'" in errors[f"{path}:3"]
    assert 'no "text"' in errors[f"{path}:4"]
    assert 'missing "id"' in errors[f"{path}:6"]
    assert "date without a time" in errors[f"{path}:7"]
    assert "list of strings" in errors[f"{path}:8"]
    assert "duplicate id (first on line 1)" in errors[f"{path}:9"]
    assert "JSON object" in errors[f"{path}:10"]
    assert all(e.error.startswith("line ") for e in report.errors)


def test_load_file_when_any_line_bad_then_data_error_names_the_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(ITEM), "{oops"])

    with pytest.raises(DataError, match=r"news\.jsonl:2: line 2: not valid JSON"):
        load_file(path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xff\xfe bad utf8"])
def test_load_when_file_empty_or_undecodable_then_one_file_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "news.jsonl"
    path.write_bytes(content)

    report = load_path(path)

    assert report.documents == []
    [error] = report.errors
    assert error.source == str(path)
