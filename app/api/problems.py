"""Errors as RFC 9457 problem documents (``application/problem+json``), with the same
stable codes and fix hints the CLI's ``--json`` errors carry."""

from __future__ import annotations

import logging
import re
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    AmbiguousOutcomeError,
    ConfigError,
    DataError,
    NotFoundError,
    RejectedError,
    StaleDataError,
    ThrottledError,
    TillerError,
    UnavailableError,
    error_code,
)

log = logging.getLogger("app.api")
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document. ``code`` is the CLI's stable error code."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    code: str
    hint: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(None, description="Invalid fields, if any.")


class ApiError(Exception):
    """A problem raised by the API layer itself (authentication, roles, limits)."""

    def __init__(
        self, status: int, code: str, detail: str, *, hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.hint, self.headers = hint, headers or {}


def _doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {MEDIA_TYPE: {}}}


# Every route may answer these (documented so clients and schemathesis know them).
AUTH_RESPONSES: Responses = {
    400: _doc("Malformed request"),
    401: _doc("Missing or unknown API key"),
    403: _doc("The key's role does not allow this"),
    413: _doc("Request body too large"),
    422: _doc("Invalid input"),
    429: _doc("Rate limit or daily LLM budget reached (see Retry-After)"),
}
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: _doc("No such resource")}
CONFLICT: Responses = {409: _doc("The resource is not in a state that allows this")}
BUSY: Responses = {
    503: _doc("A dependency is unavailable or the run queue is full (see Retry-After)")
}


def problem(
    status: int, code: str, detail: str, *, hint: str | None = None,
    request: Request | None = None, headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:  # fmt: skip
    body = Problem(
        type=f"urn:tiller:problem:{code}", title=HTTPStatus(status).phrase, status=status,
        detail=detail, code=code, hint=hint,
        instance=None if request is None else request.url.path, errors=errors,
    )  # fmt: skip
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status,
        media_type=MEDIA_TYPE, headers=headers,
    )  # fmt: skip


def status_of(exc: TillerError) -> int:
    """How each kind of Tiller error reads over HTTP."""
    from agents.runner import DecisionTakenError
    from app.services.idempotency import IdempotencyConflictError
    from app.services.runs import RunStateError

    if isinstance(exc, ThrottledError):
        return 429
    if isinstance(exc, RunStateError | DecisionTakenError | IdempotencyConflictError
                  | StaleDataError):  # fmt: skip
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UnavailableError):
        return 503
    if isinstance(exc, AmbiguousOutcomeError):
        return 502
    if isinstance(exc, ConfigError | DataError | RejectedError):
        return 422
    if exc.exit_code in (9, 10):  # audit chain broken, not reconciled: trading is held
        return 409
    return 500


def _headers(exc: BaseException) -> dict[str, str]:
    retry = getattr(exc, "retry_after", None)
    return {} if retry is None else {"Retry-After": str(int(retry))}


async def on_tiller_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TillerError)
    status = status_of(exc)
    headers = _headers(exc)
    if status == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = "60"
    return problem(status, error_code(exc), str(exc), hint=exc.hint, request=request,
                   headers=headers)  # fmt: skip


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.code, exc.detail, hint=exc.hint, request=request,
                   headers=exc.headers)  # fmt: skip


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors: list[dict[str, Any]] = []
    parts = []
    for e in exc.errors():
        loc, msg = [str(p) for p in e.get("loc", ())], str(e.get("msg", ""))
        errors.append({"loc": loc, "msg": msg})
        parts.append(f"{'.'.join(loc) or 'body'}: {msg.removeprefix('Value error, ')}")
    detail = "invalid input: " + "; ".join(parts)
    return problem(422, "config_error", detail[:2000], request=request, errors=errors,
                   hint="the OpenAPI schema at /openapi.json describes every field")  # fmt: skip


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of one route; a path served by several routes
        # (GET and POST /v1/keys) allows all of theirs.
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    return problem(exc.status_code, code, str(exc.detail), request=request, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods the app's OpenAPI schema documents for the request's path."""
    paths = request.app.openapi().get("paths", {})
    found: set[str] = set()
    for template, operations in paths.items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if template.startswith("/v1/market/"):
            pattern = pattern.replace("[^/]+", ".+", 1)  # a pair's symbol holds a '/'
        if re.fullmatch(pattern, request.url.path):
            found |= {m.upper() for m in operations}
    return sorted(found)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback on the server, one line to the client."""
    log.error("internal error on %s %s\n%s", request.method, request.url.path,
              "".join(traceback.format_exception(exc)))  # fmt: skip
    # The message stays in the log: it may hold what a client must not see.
    return problem(
        500, "internal_error", f"internal error ({type(exc).__name__})",
        hint="please report; details are in the server's log", request=request,
    )  # fmt: skip
