"""The README's promises about the CLI, checked against the code: the first examples run on
a fresh install (bundled data only), the import column names it lists are the ones the
importer reads, and its news JSON Lines example loads as it says."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from knowledge_base import load_path
from tools.market_data._readers import _ALIASES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _first_cli_block() -> list[list[str]]:
    """The commands of the first ``sh`` block under "## The CLI", without comments and
    optional ``[...]`` parts."""
    section = README[README.index("## The CLI") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        line = re.sub(r"\[[^\]]*\]", "", line.split(" # ")[0]).strip()
        if line.startswith("tiller "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_readme_first_cli_examples_when_run_on_a_fresh_install_then_each_succeeds() -> None:
    commands = [c for c in _first_cli_block() if c != ["demo"]]  # the demo has its own tests
    assert len(commands) >= 8 and ["version"] in commands
    runner = CliRunner()

    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)


def test_readme_first_cli_examples_then_none_needs_data_that_is_not_bundled() -> None:
    bundled = {"AAPL", "MSFT", "IBM", "GOOG", "FB"}
    for args in _first_cli_block():
        symbols = [a for a in args if re.fullmatch(r"[A-Z]{2,5}(/[A-Z]{3,5})?", a)]
        assert set(symbols) <= bundled, args


def test_readme_import_column_table_when_compared_with_the_importer_then_it_lists_every_name() -> (
    None
):
    table = README[README.index("| field | accepted column names") :].split("\n\n")[0]
    documented = [re.findall(r"`([^`]+)`", row) for row in table.splitlines()[2:]]

    assert documented == [list(names) for names in _ALIASES.values()]


def test_readme_news_example_when_saved_as_jsonl_then_it_loads_with_the_fields_described(
    tmp_path: Path,
) -> None:
    section = README[README.index("**News and social items**") :]
    example = re.search(r"```json\n\s*(\{.*?\})\n", section, re.S)
    assert example is not None
    path = tmp_path / "news.jsonl"
    path.write_text(example.group(1) + "\n", encoding="utf-8")

    [document] = load_path(path).documents

    item = json.loads(example.group(1))
    assert document.kind == "news" and document.tickers == tuple(item["tickers"])
    assert document.title == f"{item['title']} ({item['source']})"
    assert document.published_at is not None and document.missing == ()


@pytest.mark.parametrize("flag", ["--fee", "--equity-curve"])
def test_readme_when_a_backtest_flag_exists_then_it_is_documented(flag: str) -> None:
    assert f"`{flag}" in README
