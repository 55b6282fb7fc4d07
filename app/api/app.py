"""The FastAPI application: built around one ``Container`` (the composition root), with
authentication by API key, per-key rate limits, a request body limit, problem+json
errors, and a pool of background workers for agent runs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import admin, research, runs, trading
from app.api.deps import ApiState, RateLimiter, State
from app.api.problems import (
    BUSY,
    MEDIA_TYPE,
    ApiError,
    on_api_error,
    on_http_error,
    on_tiller_error,
    on_unexpected,
    on_validation_error,
    problem,
)
from app.api.workers import RunWorkers
from app.services.health import Readiness, readiness
from core.errors import TillerError

if TYPE_CHECKING:
    from app.bootstrap import Container

log = logging.getLogger("app.api")


class Health(BaseModel):
    status: str
    version: str


def create_app(c: Container | None = None, *, recover: bool = True) -> FastAPI:
    """The API around ``c`` (built from the settings when None). ``recover``: on start,
    resume the runs a previous server left unfinished."""
    if c is None:
        from app.bootstrap import build

        c = build()
    s = c.settings
    state = ApiState(c, RunWorkers(c, s.api_workers, s.api_queue_size),
                     RateLimiter(s.api_rate_limit_per_minute))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        c.ledger  # noqa: B018 - open (and migrate) the ledger before the first request
        if recover:
            state.workers.recover()
        yield
        await anyio.to_thread.run_sync(state.workers.close)

    app = FastAPI(
        title="Tiller", version=version("tiller"), lifespan=lifespan,
        description="Agents propose, the risk officer disposes. Send an API key "
        "(`tiller keys create`) in the X-API-Key header; errors are RFC 9457 problem "
        "documents with the CLI's error codes and hints.",
    )  # fmt: skip
    app.state.tiller = state
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(TillerError, on_tiller_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
    for router in (runs.router, trading.router, research.router, admin.router):
        app.include_router(router)
    _health_routes(app)
    app.add_middleware(BodyLimit, max_bytes=s.api_max_body_bytes)
    return app


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """The process answers (no key needed)."""
        return Health(status="ok", version=version("tiller"))

    @app.get("/readyz", response_model=Readiness, tags=["health"], responses=BUSY)
    def readyz(state: State) -> JSONResponse:
        """The database, the market-data store and the shipped models are reachable
        (no key needed); 503 when one is not."""
        report = readiness(state.container)
        return JSONResponse(report.model_dump(mode="json"), 200 if report.ready else 503)


class BodyLimit:
    """Refuses a request body larger than ``max_bytes`` with 413, whether it announces its
    length or streams in chunks (counted as it arrives, before the app sees it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "payload_too_large", f"the request body is larger than {self.max_bytes:,} bytes",
            hint="send less, or raise TILLER_API_MAX_BODY_BYTES",
        )  # fmt: skip
        response.headers["content-type"] = MEDIA_TYPE
        await response(scope, receive, send)
