"""The error member of a partial result: a batch (an import, an ingest) that wrote some
files and refused others answers with what it did *and* the same ``{"code", "message",
"hint"}`` object a failed command prints, so a script checks one field either way."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str | None = None


def data_error(message: str) -> ErrorDetail:
    """Some inputs were refused for their content (exit code 3 on the command line)."""
    return ErrorDetail(code="data_error", message=message, hint=None)
