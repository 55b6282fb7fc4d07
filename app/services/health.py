"""Readiness: can this process serve? The ledger answers, the market-data store reads,
and the shipped models are there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from app.bootstrap import Container


class Check(BaseModel):
    name: str
    ok: bool
    detail: str | None = None


class Readiness(BaseModel):
    ready: bool
    checks: list[Check]


def readiness(c: Container) -> Readiness:
    checks = [_check("database", lambda: _database(c)), _check("market_data", lambda: _store(c)),
              _check("models", _models)]  # fmt: skip
    return Readiness(ready=all(k.ok for k in checks), checks=checks)


def _check(name: str, probe: object) -> Check:
    try:
        detail = probe()  # type: ignore[operator]
    except Exception as exc:  # a failing probe is the answer, not an error
        return Check(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
    return Check(name=name, ok=True, detail=str(detail) if detail else None)


def _database(c: Container) -> str:
    from sqlalchemy import text

    with c.ledger.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return c.ledger.engine.dialect.name


def _store(c: Container) -> str:
    symbols = c.store.catalog()
    if not symbols:
        raise RuntimeError("no market data stored")
    return f"{len(symbols)} series"


def _models() -> str:
    from tools.forecaster import SHIPPED_DIR as FORECASTERS
    from tools.policy import SHIPPED_DIR as POLICIES

    found = {p.name: len(list(p.glob("*"))) for p in (FORECASTERS, POLICIES)}
    if not all(found.values()):
        raise RuntimeError(f"shipped models missing: {found}")
    return ", ".join(f"{k}: {v}" for k, v in found.items())
