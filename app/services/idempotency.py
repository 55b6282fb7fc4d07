"""``Idempotency-Key``: a POST repeated with the same key gets the first answer, and
never starts a second run or sends a second order.

The first request claims the key (a row whose primary key is the API key and the
idempotency key, so two concurrent claims cannot both succeed); a repeat waits for the
first to finish and returns its stored answer. The same key with a different request
(another path or body) is refused. A request that failed with a server error releases
its claim, so it can be retried.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from core.errors import ConfigError
from core.ledger.models import IdempotencyRow

if TYPE_CHECKING:
    from app.bootstrap import Container

MAX_KEY_CHARS = 255


class IdempotencyConflictError(ConfigError):
    """The idempotency key was used for another request, or its first use is still
    being processed."""


@dataclass(frozen=True)
class Stored:
    status_code: int
    body: dict[str, Any]


def request_hash(scope: str, body: Any) -> str:
    text = json.dumps({"scope": scope, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(
    c: Container, key_id: str, idem_key: str, scope: str, digest: str, wait_s: float = 60.0
) -> Stored | None:
    """None: this request owns the key and must ``complete`` (or ``release``) it.
    Otherwise the stored answer of the first request with this key."""
    if not idem_key or len(idem_key) > MAX_KEY_CHARS:
        raise ConfigError(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters")
    row = IdempotencyRow(key_id=key_id, idem_key=idem_key, scope=scope, request_hash=digest,
                         status_code=None, response=None, created_at=c.clock.now())  # fmt: skip
    try:
        with c.ledger._tx() as session:
            session.add(row)
        return None
    except IntegrityError:
        pass
    deadline = time.monotonic() + wait_s
    while True:
        with c.ledger._read() as session:
            found = session.get(IdempotencyRow, (key_id, idem_key))
        if found is None:  # the first request released it after a server error: retry
            return claim(c, key_id, idem_key, scope, digest, max(0.0, deadline - time.monotonic()))
        if found.request_hash != digest:
            raise IdempotencyConflictError(
                f"Idempotency-Key {idem_key!r} was already used for a different request "
                f"({found.scope})",
                hint="use a new Idempotency-Key for a new request",
            )
        if found.status_code is not None and found.response is not None:
            return Stored(found.status_code, dict(found.response))
        if time.monotonic() > deadline:
            raise IdempotencyConflictError(
                f"the first request with Idempotency-Key {idem_key!r} is still being "
                "processed", hint="retry in a few seconds with the same key",
            )  # fmt: skip
        time.sleep(0.05)


def complete(c: Container, key_id: str, idem_key: str, status_code: int, body: Any) -> None:
    with c.ledger._tx() as session:
        session.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.key_id == key_id, IdempotencyRow.idem_key == idem_key)
            .values(status_code=status_code, response=body)
        )


def release(c: Container, key_id: str, idem_key: str) -> None:
    with c.ledger._tx() as session:
        session.execute(
            delete(IdempotencyRow).where(
                IdempotencyRow.key_id == key_id, IdempotencyRow.idem_key == idem_key
            )
        )
