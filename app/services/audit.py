"""The audit chain: verify it, read its tail. Output is redacted again with today's
secrets: a key configured after an entry was written still never reaches a screen."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, RootModel

if TYPE_CHECKING:
    from app.bootstrap import Container


class AuditVerifyView(BaseModel):
    """``ok``: no break, or only breaks a person acknowledged (``acknowledged``)."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    keyed_from: int | None
    first_bad_seq: int | None
    problem: str | None
    detail: str | None
    acknowledged: list[dict[str, Any]]
    first_bad_entry: dict[str, Any] | None = None
    halted_now: bool = False  # this check found the chain broken and halted trading


class AuditEntryView(BaseModel):
    seq: int
    at: datetime
    kind: str
    payload: Any
    prev_hash: str
    hash: str


class AuditEntries(RootModel[list[AuditEntryView]]):
    """Entries, oldest first."""


def verify(c: Container, expect_head: str | None = None) -> AuditVerifyView:
    """Recompute the whole chain. A broken chain also halts trading (as everywhere)."""
    from app.services.risk import hold_if_chain_broken
    from core.ledger import Redactor, secret_values

    report = c.ledger.audit.verify(expect_head=expect_head)
    bad = None
    if report.first_bad_seq is not None:
        entry = c.ledger.audit.entry(report.first_bad_seq)
        bad = None if entry is None else entry.to_json()
    halted = False
    if not report.ok:
        halted = hold_if_chain_broken(c, report).halted_now
    data = Redactor(secret_values(c.settings)).data({**report.to_json(), "first_bad_entry": bad})
    return AuditVerifyView.model_validate({**data, "halted_now": halted})


def tail(c: Container, n: int = 20) -> AuditEntries:
    """The latest ``n`` entries, oldest first."""
    from core.ledger import Redactor, secret_values

    redactor = Redactor(secret_values(c.settings))
    return AuditEntries([AuditEntryView.model_validate(redactor.data(e.to_json()))
                         for e in c.ledger.audit.tail(n)])  # fmt: skip
