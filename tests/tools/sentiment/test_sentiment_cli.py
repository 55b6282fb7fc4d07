"""``tiller kb sentiment`` through a throwaway typer app that registers the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import tools.sentiment
from app.cli.sentiment import BATCH_LINES, sentiment
from tools.sentiment._types import Scorer

cli = typer.Typer()
cli.command("sentiment")(sentiment)


@cli.command("other")
def _other() -> None:
    """A second command, so typer keeps the `sentiment` sub-command name."""


runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["sentiment", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_one_text_as_json() -> None:
    code, out, err = invoke("The quarterly loss narrowed sharply", "--fast", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["label"] == "positive" and data["model"] == "lexicon"
    assert data["confidence"] == max(data["scores"].values())


def test_one_text_readable() -> None:
    code, out, _ = invoke("Acme cut its dividend", "--fast")
    assert code == 0
    assert out.startswith("negative (") and "lexicon" in out


def test_file_mode_is_one_json_object_per_input_line_in_order(tmp_path: Path) -> None:
    lines = ["Revenue rose 12%", "", "Shares plunged after the profit warning", "   "]
    lines += [f"Headline {i}: sales fell" for i in range(BATCH_LINES + 5)]  # two batches
    path = tmp_path / "headlines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = invoke("--file", str(path), "--json", "--fast")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in rows] == list(range(1, len(lines) + 1))
    assert rows[0]["label"] == "positive" and rows[2]["label"] == "negative"
    assert rows[1] == {"line": 2, "error": "empty text"}
    assert rows[3] == {"line": 4, "error": "empty text"}
    assert all(r["label"] == "negative" for r in rows[4:])


def test_file_mode_reads_stdin_with_a_dash() -> None:
    code, out, _ = invoke("--file", "-", "--json", "--fast", stdin="Costs rose\n\nCosts fell\n")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("label", r.get("error")) for r in rows] == ["negative", "empty text", "positive"]


def test_file_mode_readable_keeps_one_line_per_input(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("Revenue rose\n\nRevenue fell\n", encoding="utf-8")
    code, out, _ = invoke("--file", str(path), "--fast")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["1", "positive"], ["2", "-"], ["3", "negative"],
    ]  # fmt: skip


def test_default_model_is_the_hybrid(
    monkeypatch: pytest.MonkeyPatch, scorers: dict[str, Scorer]
) -> None:
    picked: list[str] = []

    def fake_load(model: str = "default", **_: object) -> Scorer:
        picked.append(model)
        return scorers[model]

    monkeypatch.setattr(tools.sentiment, "load_scorer", fake_load)
    code, out, err = invoke("Regulators fined the bank $250 million", "--json")
    assert code == 0, err
    assert picked == ["hybrid"]
    data = json.loads(out)
    assert data["model"] == "hybrid" and data["label"] == "negative"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["   "], 2, "the text is empty"),
        ([], 2, "give one text to score, or --file"),
        (["text", "--file", "x.txt"], 2, "give one text to score, or --file"),
        (["text", "--model", "lexicon", "--fast"], 2, "--fast picks the lexicon"),
        (["text", "--model", "bert"], 2, "unknown sentiment model"),
        (["--file", "does-not-exist.txt"], 4, "does not exist"),
    ],
)
def test_bad_input_exits_with_a_message(args: list[str], code: int, message: str) -> None:
    exit_code, _, err = invoke(*args)
    assert exit_code == code
    assert message in " ".join(err.split())


def test_a_file_that_is_not_utf8_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Revenue rose\nCaf\xe9 chain sales fell\n".encode("latin-1"))
    code, _, err = invoke("--file", str(path), "--json", "--fast")
    assert code == 3
    assert "not UTF-8" in err
