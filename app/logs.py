"""Logging for the long-lived processes (``tiller serve``, the autopilot, the chat): the
standard ``logging`` module with one logger per package (``app.api``, ``app.autopilot``,
``agents``, ``core.ledger``...), one line per record on stderr, as text or, with
``TILLER_LOG_FORMAT=json``, as JSON objects. No secret reaches a line: every message
goes through the ledger's redactor (the settings' secret values, ``key=value`` pairs
whose name looks secret) and API keys are masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.ledger.redact import MASK, Redactor, secret_values

if TYPE_CHECKING:
    from core.settings import Settings

_API_KEY = re.compile(r"\btk_[0-9a-f]{6,32}_[A-Za-z0-9_-]+")
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, *, json_lines: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor, self.json_lines = redactor, json_lines

    def clean(self, text: str) -> str:
        return _API_KEY.sub(MASK, self.redactor.text(text))

    def format(self, record: logging.LogRecord) -> str:
        if not self.json_lines:
            return self.clean(super().format(record))
        data: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }  # fmt: skip
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        text = json.dumps(self.redactor.data(data), default=str, ensure_ascii=False)
        return _API_KEY.sub(MASK, text)


def configure_logging(settings: Settings, level: str | None = None) -> None:
    """Route every logger (uvicorn's included) to one redacting handler on stderr."""
    formatter = RedactingFormatter(
        Redactor(secret_values(settings)), json_lines=settings.log_format == "json"
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
