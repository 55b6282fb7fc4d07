"""Logs of the long-lived processes: one JSON object per line with TILLER_LOG_FORMAT=json,
and no secret in any line (settings' secrets, secret-looking key=value pairs, API keys)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from app.logs import configure_logging
from core.settings import Settings

SECRET = "sk-test-0f1e2d3c4b5a69788796"
API_KEY = "tk_0123456789ab_Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbg"


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("_restore_logging")
def test_json_logs_are_one_object_per_line_with_every_secret_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", llm_api_key=SECRET))
    log = logging.getLogger("app.api")
    log.info("calling the model with %s", SECRET, extra={"run_id": "r1"})
    log.warning("request with X-API-Key %s and password=hunter2", API_KEY)
    lines = capsys.readouterr().err.strip().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert (first["level"], first["logger"], first["run_id"]) == ("info", "app.api", "r1")
    text = "\n".join(lines)
    assert SECRET not in text and API_KEY not in text and "hunter2" not in text
    assert "[REDACTED]" in first["message"] and "[REDACTED]" in second["message"]


@pytest.mark.usefixtures("_restore_logging")
def test_text_logs_are_masked_too_and_the_level_is_the_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_level="warning", llm_api_key=SECRET))
    logging.getLogger("agents").info("not shown")
    logging.getLogger("agents").warning("key %s", SECRET)
    err = capsys.readouterr().err
    assert "not shown" not in err and "WARNING agents: key [REDACTED]" in err
