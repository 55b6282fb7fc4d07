"""What every route depends on: the application's state, the caller's API key (401
without one), its role (403), and its rate limit (429 with Retry-After)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from app.api.problems import ApiError
from app.services.keys import KeyInfo, Role, allows, authenticate

if TYPE_CHECKING:
    from app.api.workers import RunWorkers
    from app.bootstrap import Container

KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="An API key from "
                        "`tiller keys create --role viewer|trader|admin --name NAME`.")  # fmt: skip


class RateLimiter:
    """A token bucket per API key: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """0 when allowed, else seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate


@dataclass
class ApiState:
    container: Container
    workers: RunWorkers
    limiter: RateLimiter
    warnings: list[str] = field(default_factory=list)


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.tiller
    return state


State = Annotated[ApiState, Depends(get_state)]


def caller(
    request: Request, state: State, key: Annotated[str | None, Security(_api_key)] = None
) -> KeyInfo:
    """The API key making this request, counted against its rate limit."""
    hint = (f"create a key with `tiller keys create --role viewer --name NAME` and send it "
            f"in the {KEY_HEADER} header")  # fmt: skip
    challenge = {"WWW-Authenticate": f'ApiKey header="{KEY_HEADER}"'}
    if not key:
        raise ApiError(401, "unauthorized", f"no API key: send one in the {KEY_HEADER} header",
                       hint=hint, headers=challenge)  # fmt: skip
    info = authenticate(state.container, key)
    if info is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", hint=hint,
                       headers=challenge)  # fmt: skip
    wait = state.limiter.take(info.id)
    if wait > 0:
        per_minute = int(state.limiter.capacity)
        raise ApiError(
            429, "throttled", f"rate limit of {per_minute} requests per minute reached",
            hint="slow down, or raise TILLER_API_RATE_LIMIT_PER_MINUTE",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )  # fmt: skip
    request.state.key = info
    return info


def require(role: Role) -> Callable[..., KeyInfo]:
    def check(key: Annotated[KeyInfo, Depends(caller)]) -> KeyInfo:
        if not allows(key.role, role):
            raise ApiError(
                403, "forbidden", f"this needs a {role} key; {key.name!r} is a {key.role} key",
                hint=f"ask an admin for a key with `tiller keys create --role {role} ...`",
            )  # fmt: skip
        return key

    return check


AnyKey = Annotated[KeyInfo, Depends(caller)]
Viewer = Annotated[KeyInfo, Depends(require("viewer"))]
Trader = Annotated[KeyInfo, Depends(require("trader"))]
Admin = Annotated[KeyInfo, Depends(require("admin"))]
