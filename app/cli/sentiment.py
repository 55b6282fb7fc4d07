"""``tiller kb sentiment``: the financial tone of a text, or of every line of a file."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli._common import handle_errors, numbered_lines, out, print_json, print_json_line, safe
from app.services import sentiment as tones
from core.errors import ConfigError, NotFoundError

BATCH_LINES = 512
EMPTY_LINE = tones.EMPTY_LINE
_COLOURS = {"negative": "red", "neutral": "yellow", "positive": "green"}


@handle_errors
def sentiment(
    text: Annotated[
        str | None, typer.Argument(help="A sentence, headline or document to score.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Score every line of FILE ('-' reads stdin); output stays 1:1."
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="default (= hybrid), hybrid, embedding, lexicon, or llm (the configured LLM)."
        ),
    ] = "default",
    fast: Annotated[
        bool, typer.Option("--fast", help="Use the lexicon: no transformer, ~60× faster.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="JSON: one object, or one object per line of FILE.")
    ] = False,
) -> None:
    """Financial tone (negative / neutral / positive, with a probability), offline.

    With --file, line n of the output is about line n of FILE; an empty line gives
    {"line": n, "error": "empty text"} instead of a score."""
    from tools.sentiment import load_scorer, resolve_model

    if fast and model != "default":
        raise ConfigError("--fast picks the lexicon; leave out --model or drop --fast")
    if (text is None) == (file is None):
        raise ConfigError("give one text to score, or --file FILE (one text per line)")
    if file is not None and str(file) != "-" and not file.is_file():
        # Before the model loads (seconds): a wrong path is reported at once.
        raise NotFoundError(f"{file} does not exist or is not a file")
    if model == "llm" and not fast:
        from app.cli._common import container

        scorer = tones.llm_scorer(container())
    else:
        scorer = load_scorer("lexicon" if fast else resolve_model(model))
    if file is None:
        assert text is not None
        _score_text(text, scorer, json_)
        return
    if str(file) == "-":
        _score_lines(numbered_lines(sys.stdin, "stdin"), scorer, json_)
        return
    with file.open(encoding="utf-8", newline=None) as handle:
        _score_lines(numbered_lines(handle, str(file)), scorer, json_)


def _score_text(text: str, scorer: Any, json_: bool) -> None:
    result = tones.score_one(text, scorer)
    if json_:
        print_json(result.model_dump(mode="json"))
        return
    colour = _COLOURS[result.label]
    detail = " · ".join(f"{label} {p:.2f}" for label, p in result.scores.items())
    out.print(
        f"[bold {colour}]{result.label}[/] ({result.confidence:.2f})  [dim]{detail} — "
        f"{result.model}[/]",
        highlight=False,
    )


def _batches(lines: Iterable[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for item in lines:
        batch.append(item)
        if len(batch) == BATCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


def _score_lines(lines: Iterable[tuple[int, str]], scorer: Any, json_: bool) -> None:
    """Score in batches and write each batch's results in input order before reading on."""
    for batch in _batches(lines):
        for (number, line), result in zip(batch, tones.score_lines(batch, scorer), strict=True):
            if json_:
                print_json_line(result.model_dump(mode="json", exclude_unset=True))
            elif result.label is None:
                out.print(f"{number:>6}  [dim]-        {EMPTY_LINE}[/]", highlight=False)
            else:
                colour = _COLOURS[result.label]
                out.print(
                    f"{number:>6}  [{colour}]{result.label:<8}[/] {result.confidence:.2f}  "
                    f"{safe(line[:100], one_line=True)}",
                    highlight=False,
                )
        sys.stdout.flush()
