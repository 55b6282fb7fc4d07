"""Text that comes from users, files and documents (a halt reason, a spec name, a document
title) is printed as it is: Rich markup shows literally and terminal escapes are shown
escaped, so nobody can restyle or clear the operator's screen through them."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from app.cli import app
from app.cli._common import safe
from app.cli.kb import documents_table
from app.services.documents import DocumentView

runner = CliRunner()


def test_halt_reason_with_rich_markup_and_an_escape_then_status_shows_it_literally() -> None:
    reason = "[bold red]ALL CLEAR[/]\x1b[2J"
    halted = runner.invoke(app, ["risk", "halt", "--reason", reason])
    assert halted.exit_code == 0, halted.stderr
    status = runner.invoke(app, ["risk", "status"])
    assert "[bold red]ALL CLEAR[/]\\x1b[2J" in status.stdout
    assert "\x1b" not in status.stdout


def test_spec_name_with_a_clear_screen_escape_then_report_shows_it_escaped(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"name": "\x1b[2Jevil", "entry": {"op": "gt", "left": "close", "right": 1}})
    )
    result = runner.invoke(app, ["backtest", "--spec", str(spec), "--symbol", "AAPL"])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\\x1b[2Jevil" in result.stdout


def test_document_title_with_markup_and_escapes_then_kb_list_shows_them_literally() -> None:
    record = DocumentView(
        doc_id="d1", collection="default", source="evil.md", kind="markdown", sha256="0" * 64,
        title="[bold red]Guaranteed\x1b[2J returns[/]", tickers=["AAPL"], company=None,
        form=None, fiscal_period=None, published_at=None, url=None, passages=1, missing=[],
        metadata_sources={}, pages=None, outline=[],
    )  # fmt: skip
    buffer = io.StringIO()
    Console(file=buffer, width=400, color_system=None).print(documents_table([record]))
    assert "[bold red]Guaranteed\\x1b[2J returns[/]" in buffer.getvalue()
    assert "\x1b" not in buffer.getvalue()


def test_safe_keeps_newlines_unless_asked_for_one_line() -> None:
    assert safe("a\nb\tc") == "a\nb\tc"
    assert safe("a\nb", one_line=True) == "a\\x0ab"
    assert safe("\x9b2J[x]") == "\\x9b2J\\[x]"
