"""The account and the risk officer: portfolio, orders, risk status, the kill switch
(any key may pull it), resuming (admin only), the autopilot's status, and the audit
chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.api.deps import Admin, AnyKey, State, Viewer
from app.api.problems import AUTH_RESPONSES, BUSY, CONFLICT
from app.services import audit as audit_svc
from app.services import autopilot as autopilot_svc
from app.services import portfolio as book
from app.services import risk as risk_svc
from app.services.audit import AuditVerifyView
from app.services.autopilot import AutopilotStatus
from app.services.fields import SymbolText
from app.services.portfolio import OrderView, PortfolioView, RiskStatusView
from app.services.risk import HaltOutcome, ResumeOutcome
from core.types import OrderStatus, Symbol

router = APIRouter(prefix="/v1", responses=AUTH_RESPONSES)


class OrderList(BaseModel):
    orders: list[OrderView]


class HaltBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("kill switch", min_length=1, max_length=1000)


class ResumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S",
                        description="Why it is safe to trade again (recorded).")  # fmt: skip
    acknowledge_broken_chain: StrictBool = Field(
        False, description="Resume although the audit chain is broken (recorded)."
    )
    accept_losses: StrictBool = Field(
        False,
        description="Accept the losses so far: the breakers' peak and day's baseline restart "
        "at the equity marked now (recorded). Without it a loss that tripped a breaker "
        "trips it again at the next mark unless prices recover.",
    )


@router.get("/portfolio", response_model=PortfolioView, tags=["account"])
def portfolio(key: Viewer, state: State) -> PortfolioView:
    """Positions at the last stored close, cash, equity and exposure."""
    return book.portfolio(state.container)


@router.get("/orders", response_model=OrderList, tags=["account"])
def orders(
    key: Viewer, state: State,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this state.")] = None,
    symbol: Annotated[SymbolText | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OrderList:  # fmt: skip
    """Orders at the trading venue, newest first."""
    wanted = None if status is None else status.value
    only = None if symbol is None else str(Symbol(symbol))
    return OrderList(orders=book.orders(state.container, status=wanted, symbol=only, limit=limit))


@router.get("/risk", response_model=RiskStatusView, tags=["risk"], responses=BUSY)
def risk(key: Viewer, state: State) -> RiskStatusView:
    """Trading state, limits, exposure and today's P&L (a broken audit chain halts)."""
    return book.risk_status(state.container)


@router.post("/risk/halt", response_model=HaltOutcome, tags=["risk"])
def halt(body: HaltBody, key: AnyKey, state: State) -> HaltOutcome:
    """The kill switch, for every key: HALTED first, then every working order is
    cancelled (``failed`` lists those the venue did not confirm; halt again)."""
    return risk_svc.halt(state.container, body.reason, operator=_who(key.id, key.name))


@router.post("/risk/resume", response_model=ResumeOutcome, tags=["risk"], responses=CONFLICT)
def resume(body: ResumeBody, key: Admin, state: State) -> ResumeOutcome:
    """Back to ACTIVE (admin only), with a reason; refused (409) while the audit chain
    is broken unless ``acknowledge_broken_chain``."""
    return risk_svc.resume(state.container, body.reason, operator=_who(key.id, key.name),
                           acknowledge_broken_chain=body.acknowledge_broken_chain,
                           accept_losses=body.accept_losses)  # fmt: skip


@router.get("/autopilot", response_model=AutopilotStatus, tags=["autopilot"])
def autopilot(key: Viewer, state: State) -> AutopilotStatus:
    """The autopilot as `tiller autopilot status` shows it: its leader and heartbeat
    (``leader.stale``: a leader holds the lock but has not beaten for three cycles), its
    jobs with their last and next runs, and whether live trading is switched on."""
    return autopilot_svc.status(state.container)


@router.get("/audit/verify", response_model=AuditVerifyView, tags=["audit"])
def audit_verify(
    key: Viewer, state: State,
    expect_head: Annotated[str | None, Query(min_length=64, max_length=64,
                                             pattern="^[0-9a-f]+$")] = None,
) -> AuditVerifyView:  # fmt: skip
    """Recompute the audit chain (``ok``); a broken chain halts trading."""
    return audit_svc.verify(state.container, expect_head)


def _who(key_id: str, name: str) -> str:
    return f"api key {key_id} ({name})"[:128]
