"""Run a POST handler at most once per ``Idempotency-Key`` (see app/services/idempotency)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.problems import MEDIA_TYPE, Problem, status_of
from app.services.idempotency import claim, complete, release, request_hash
from app.services.keys import KeyInfo
from core.errors import TillerError, error_code

REPLAYED = "Idempotent-Replayed"


Headers = Callable[[dict[str, Any]], dict[str, str]]


def idempotent(
    c: Any, key: KeyInfo, idem_key: str | None, scope: str, body: Any,
    handler: Callable[[], BaseModel], status: int, headers: Headers,
) -> JSONResponse:  # fmt: skip
    """``handler``'s answer; with ``idem_key``, the first answer ever given to this key
    for this request, a refusal of the request itself included (invalid, not found).
    A refusal that depends on the moment (the run is busy, a limit, a server error)
    is not kept: retrying with the same key may succeed."""
    if idem_key is None:
        data = handler().model_dump(mode="json")
        return JSONResponse(data, status, headers=headers(data))
    stored = claim(c, key.id, idem_key, scope, request_hash(scope, body))
    if stored is not None:
        failed = stored.status_code >= 400
        extra = {} if failed else headers(stored.body)
        media = MEDIA_TYPE if failed else None
        return JSONResponse(stored.body, stored.status_code, media_type=media,
                            headers={REPLAYED: "true", **extra})  # fmt: skip
    try:
        result = handler()
    except TillerError as exc:
        code = status_of(exc)
        if code >= 500 or code in (409, 429):  # may succeed later: the key stays usable
            release(c, key.id, idem_key)
            raise
        name = error_code(exc)
        problem = Problem(
            type=f"urn:tiller:problem:{name}", title=HTTPStatus(code).phrase, status=code,
            detail=str(exc), code=name, hint=exc.hint,
        )  # fmt: skip
        complete(c, key.id, idem_key, code, problem.model_dump(mode="json", exclude_none=True))
        raise
    except BaseException:
        release(c, key.id, idem_key)
        raise
    data = result.model_dump(mode="json")
    complete(c, key.id, idem_key, status, data)
    return JSONResponse(data, status, headers=headers(data))
