"""API keys, for admins: create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import Admin, State
from app.api.problems import AUTH_RESPONSES, NOT_FOUND
from app.services import keys as svc
from app.services.keys import CreatedKey, KeyInfo, KeyList, KeyRequest

router = APIRouter(prefix="/v1", tags=["keys"], responses=AUTH_RESPONSES)


@router.post("/keys", status_code=201, response_model=CreatedKey)
def create_key(body: KeyRequest, key: Admin, state: State) -> CreatedKey:
    """A new key; ``key`` is in this answer only (stored as its SHA-256)."""
    return svc.create_key(state.container, body)


@router.get("/keys", response_model=KeyList)
def list_keys(key: Admin, state: State) -> KeyList:
    return KeyList(keys=svc.list_keys(state.container))


@router.delete("/keys/{key_id}", response_model=KeyInfo, responses=NOT_FOUND)
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=32, pattern="^[0-9a-f]+$")],
    key: Admin, state: State,
) -> KeyInfo:  # fmt: skip
    """Revoke a key at once (its next request is a 401)."""
    return svc.revoke_key(state.container, key_id)
