"""``/v1/runs``: start agent runs (in the background), read them, follow their events as
server-sent events, and approve or reject what they propose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from agents.models import ApprovalDecision, RunRequest
from app.api._idempotent import idempotent
from app.api.deps import State, Trader, Viewer
from app.api.problems import AUTH_RESPONSES, BUSY, CONFLICT, NOT_FOUND
from app.services import runs as svc
from app.services.fields import IsoTime, PositiveQuantity, SymbolText, TimeframeText
from app.services.keys import KeyInfo
from app.services.runs import RunList, RunView
from app.services.usage import reserve, settle

router = APIRouter(prefix="/v1", tags=["runs"], responses=AUTH_RESPONSES)
RunId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
IdemKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255,
           description="Repeat a POST safely: the same key returns the first answer."),
]  # fmt: skip
# Run events under the names clients listen for; other kinds keep their own name.
EVENT_NAMES = {"decision": "risk_verdict", "human_action": "approval", "run_finished": "done"}
POLL_S = 0.25


class StartRun(BaseModel):
    """What to decide on: the same request as ``tiller run``."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[SymbolText] = Field(min_length=1, max_length=20)
    as_of: IsoTime | None = Field(
        None, description="Decide as of this time; default now, or the last stored bar."
    )
    mode: Literal["copilot", "auto"] = Field(
        "copilot",
        description="copilot: a person approves; auto: the risk officer's approval is enough.",
    )
    timeframe: TimeframeText = "1d"

    def request(self) -> RunRequest:
        return RunRequest(symbols=self.symbols, as_of=self.as_of, mode=self.mode,
                          timeframe=self.timeframe)  # fmt: skip


class ApprovalBody(BaseModel):
    """A person's decision on what a run proposes (the same decision as
    ``tiller run approve|reject``): approve, reject, or approve a smaller quantity."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject"]
    quantity: PositiveQuantity | None = Field(None, description="Approve this smaller quantity.")
    reason: str = Field("", max_length=1000, description="Why (recorded).")


def _api_view(view: RunView) -> RunView:
    if view.status == "awaiting_approval":
        view.next_step = (
            f"POST /v1/runs/{view.run_id}/approval with "
            '{"action": "approve"} (or "reject", or a smaller "quantity")'
        )
    elif view.status == "running":
        view.next_step = f"GET /v1/runs/{view.run_id}/events follows it"
    else:
        view.next_step = None
    return view


def _location(view: dict[str, Any]) -> dict[str, str]:
    return {"Location": f"/v1/runs/{view['run_id']}"}


@router.post(
    "/runs", status_code=202, response_model=RunView, responses={**NOT_FOUND, **BUSY, **CONFLICT},
    summary="Start an agent run (trader)",
)  # fmt: skip
def start_run(
    body: StartRun, key: Trader, state: State, idempotency_key: IdemKey = None
) -> JSONResponse:
    """Records the run and answers at once (202); a worker runs it. Follow it with
    ``GET /v1/runs/{id}/events``."""
    c = state.container

    def begin() -> RunView:
        reservation = reserve(c, key.id)
        origin = {"surface": "api", "key_id": key.id, "key_name": key.name}
        try:
            if c.run_queue is not None:  # a worker takes it, and settles the reservation
                return _api_view(svc.begin_run(c, body.request(), origin, reservation))
            with state.workers.slot() as slot:
                view = svc.begin_run(c, body.request(), origin)
                slot.submit(view.run_id, reservation)
        except BaseException:
            settle(c, reservation, Decimal(0))
            raise
        return _api_view(view)

    return idempotent(c, key, idempotency_key, "POST /v1/runs", body.model_dump(mode="json"),
                      begin, 202, _location)  # fmt: skip


@router.get("/runs", response_model=RunList, summary="Agent runs, newest first")
def list_runs(
    key: Viewer, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> RunList:
    return RunList(runs=[_api_view(v) for v in svc.list_runs(state.container, limit)])


@router.get("/runs/{run_id}", response_model=RunView, responses=NOT_FOUND, summary="A run")
def get_run(
    run_id: RunId, key: Viewer, state: State, events: Annotated[bool, Query()] = True
) -> RunView:
    """The run's whole record: inputs, report, and (``events=true``) every event."""
    return _api_view(svc.show_run(state.container, run_id, events=events))


def _existing(run_id: RunId, key: Viewer, state: State) -> str:
    svc.run_events(state.container, run_id, after=1_000_000_000)  # NotFoundError → 404
    return run_id


@router.get(
    "/runs/{run_id}/events", response_class=EventSourceResponse, responses=NOT_FOUND,
    summary="Follow a run's events (server-sent events)",
)  # fmt: skip
async def run_events(
    run_id: Annotated[str, Depends(_existing)],
    state: State,
    after: Annotated[int, Query(ge=0, le=2**31, description="Only events after this seq.")] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every event of the run as it happens: ``run_started``, ``node_started`` and
    ``node_finished`` (with the node's summary), ``tool_call``, ``retrieval``,
    ``llm_call``, ``proposal``, ``risk_verdict``, ``awaiting_approval``, ``approval``,
    ``order``, ``done``. Each event's id is its seq. The stream ends when the run waits
    for a person (after ``awaiting_approval``) or has finished (after ``done``);
    ``after`` (or ``Last-Event-ID``) continues from an event."""
    c = state.container
    resume_at = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    seen, last_kind = max(after, resume_at), None
    while True:
        fresh = await anyio.to_thread.run_sync(svc.run_events, c, run_id, seen)
        for event in fresh:
            seen, last_kind = event.seq, event.kind
            data: dict[str, Any] = event.model_dump(mode="json")
            yield ServerSentEvent(event=EVENT_NAMES.get(event.kind, event.kind), id=str(seen),
                                  data=data)  # fmt: skip
        if fresh:
            continue  # read again before deciding the run is quiet
        if last_kind == "awaiting_approval" or await anyio.to_thread.run_sync(_finished, c, run_id):
            return  # waiting for a person (nothing since the pause), or finished
        await anyio.sleep(POLL_S)


def _finished(c: Any, run_id: str) -> bool:
    record = c.ledger.get_run(run_id)
    return record is None or record.status.value != "running"


@router.post(
    "/runs/{run_id}/approval", response_model=RunView, responses={**NOT_FOUND, **CONFLICT},
    summary="Approve or reject what a run proposes (trader)",
)  # fmt: skip
def decide(
    run_id: RunId, body: ApprovalBody, key: Trader, state: State, idempotency_key: IdemKey = None
) -> JSONResponse:
    """The same approval as ``tiller run approve|reject``: an approval (of a smaller
    quantity too) goes through the risk officer again, fresh, then to the broker."""
    c = state.container
    decision = ApprovalDecision(action=body.action, quantity=body.quantity, reason=body.reason,
                                operator=_operator(key))  # fmt: skip

    def run() -> RunView:
        with state.workers.decision_lock(run_id):
            return _api_view(svc.decide_run(c, run_id, decision))

    scope = f"POST /v1/runs/{run_id}/approval"
    return idempotent(c, key, idempotency_key, scope, body.model_dump(mode="json"), run, 200,
                      lambda _v: {})  # fmt: skip


def _operator(key: KeyInfo) -> str:
    return f"api key {key.id} ({key.name})"[:128]
