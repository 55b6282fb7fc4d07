"""API keys: created by ``tiller keys create`` (or an admin through the API), shown once,
stored as their SHA-256 only. Roles nest: a trader may do what a viewer does, an admin
what a trader does.

A key is ``tk_<id>_<secret>``: the id names the row (so a listing can say which key is
which without showing it), the 256-bit secret is what makes it unguessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from core.errors import ConfigError, NotFoundError
from core.ledger.models import ApiKeyRow

if TYPE_CHECKING:
    from app.bootstrap import Container

Role = Literal["viewer", "trader", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "trader", "admin")
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
PREFIX = "tk_"


class KeyInfo(BaseModel):
    """An API key as listings show it (never the key itself)."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class CreatedKey(KeyInfo):
    """A new key: ``key`` is shown this once and is not stored anywhere."""

    key: str = Field(description="The API key (send it as X-API-Key). Shown only once.")


class KeyList(BaseModel):
    keys: list[KeyInfo]


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    role: Role


def allows(role: str, needed: Role) -> bool:
    """Whether a key of ``role`` may do what ``needed`` may."""
    return _RANK.get(role, -1) >= _RANK[needed]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(c: Container, request: KeyRequest) -> CreatedKey:
    name = request.name.strip()
    if not name:
        raise ConfigError("a key needs a name (who or what uses it), e.g. --name ci-bot")
    key_id = uuid.uuid4().hex[:12]
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(id=key_id, name=name, role=request.role, key_hash=_digest(key),
                    created_at=c.clock.now(), revoked_at=None)  # fmt: skip
    with c.ledger._tx() as session:
        session.add(row)
    return CreatedKey(key=key, **_info(row).model_dump())


def list_keys(c: Container, *, include_revoked: bool = True) -> list[KeyInfo]:
    query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    if not include_revoked:
        query = query.where(ApiKeyRow.revoked_at.is_(None))
    with c.ledger._read() as session:
        return [_info(r) for r in session.execute(query).scalars()]


def revoke_key(c: Container, key_id: str) -> KeyInfo:
    """Revoke a key (by id, or by the key itself); revoking twice is a no-op."""
    key_id = _id_of(key_id)
    with c.ledger._tx() as session:
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=c.clock.now())
        )
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}: `tiller keys list` shows the keys")
        return _info(row)


def authenticate(c: Container, key: str) -> KeyInfo | None:
    """The active key matching ``key``, or None."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    digest = _digest(key)
    with c.ledger._read() as session:
        row = session.get(ApiKeyRow, _id_of(key))
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, digest):
            return None
        return _info(row)


def has_active_keys(c: Container) -> bool:
    return bool(list_keys(c, include_revoked=False))


def _id_of(key_or_id: str) -> str:
    if key_or_id.startswith(PREFIX):
        return key_or_id[len(PREFIX) :].split("_", 1)[0]
    return key_or_id


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(id=row.id, name=row.name, role=row.role,
                   created_at=row.created_at, revoked_at=row.revoked_at)  # fmt: skip
