"""load_path / load_file: dispatch, folders, bad files, ids and hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from core.errors import DataError, NotFoundError
from knowledge_base import load_file, load_path, make_doc_id


def populate(folder: Path) -> None:
    (folder / "filings").mkdir(parents=True)
    (folder / "filings" / "acme-8-k.html").write_text(
        "<html><body><div>Item 2.02 Results of Operations</div><div>Sales rose.</div>"
        "</body></html>",
        encoding="utf-8",
    )
    (folder / "filings" / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")  # truncated
    (folder / "b-notes.md").write_text("# Notes\n\nWidgets.\n", encoding="utf-8")
    (folder / "a-notes.txt").write_text("Plain notes.\n", encoding="utf-8")
    news = {"id": "n1", "text": "Acme wins order.", "published_at": "2025-01-02T10:00:00Z"}
    (folder / "news.jsonl").write_text(json.dumps(news) + "\n", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.md").write_text("# Hidden\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00")


def test_load_when_folder_has_one_bad_file_then_the_rest_still_load(tmp_path: Path) -> None:
    populate(tmp_path)

    report = load_path(tmp_path)

    assert [Path(d.source).name for d in report.documents] == [
        "a-notes.txt",
        "b-notes.md",
        "acme-8-k.html",
        "news.jsonl#n1",
    ]
    [error] = report.errors
    assert error.source == str(tmp_path / "filings" / "broken.pdf")
    assert "truncated" in error.error


def test_load_when_folder_then_unknown_extensions_and_hidden_files_skipped_silently(
    tmp_path: Path,
) -> None:
    populate(tmp_path)

    report = load_path(tmp_path)

    sources = " ".join(d.source for d in report.documents) + str(report.errors)
    assert "image.png" not in sources
    assert "secret" not in sources
    assert ".DS_Store" not in sources


def test_load_when_same_folder_twice_then_identical_documents(tmp_path: Path) -> None:
    populate(tmp_path)

    assert load_path(tmp_path) == load_path(tmp_path)


def test_load_when_single_unknown_extension_then_error_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG")

    report = load_path(path)

    [error] = report.errors
    assert "unsupported file type '.png'" in error.error
    assert ".html" in error.error and ".jsonl" in error.error
    with pytest.raises(DataError, match="unsupported"):
        load_file(path)


def test_load_when_path_missing_then_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        load_path(tmp_path / "nope")
    with pytest.raises(NotFoundError):
        load_file(tmp_path / "nope.md")


def test_load_file_when_folder_then_data_error_points_to_load_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="use load_path"):
        load_file(tmp_path)


def test_load_when_file_then_doc_id_from_resolved_path_and_sha256_of_raw_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notes.md"
    raw = "# Title\n\nText\u200b here.\n".encode()
    path.write_bytes(raw)
    monkeypatch.chdir(tmp_path)

    [document] = load_file(Path("notes.md"))

    assert document.doc_id == make_doc_id(str(path.resolve()))
    assert document.sha256 == hashlib.sha256(raw).hexdigest()
    assert document.text == "# Title\n\nText here."


def test_load_when_upper_case_extension_then_dispatched(tmp_path: Path) -> None:
    path = tmp_path / "NOTES.MD"
    path.write_text("# Upper\n\nok\n", encoding="utf-8")

    [document] = load_file(path)

    assert document.sections[0].path == ("Upper",)
