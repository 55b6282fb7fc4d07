"""Driving the graph: start a run, stream its progress, pause for approval, resume.

This is the one entry point the CLI, the API, the chat and the autopilot share (through
``app/services``). Every run has a record in the ledger (``RunLog``) and a checkpoint
thread named by its run id.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from sqlalchemy.exc import DBAPIError

from agents.context import AgentContext
from agents.models import ApprovalDecision, RunRequest
from core.clock import Clock, FixedClock, SystemClock
from core.errors import ConfigError, NotFoundError, TillerError, UnavailableError
from core.ledger import RunStatus
from core.ledger.runlog import RunLog
from core.types import Timeframe

# Marks a resume value whose human_action event the runner already recorded.
RECORDED = "_recorded"


class DecisionTakenError(ConfigError):
    """Someone else answered the run's pause first (the API answers 409)."""


def _taken(run_id: str) -> DecisionTakenError:
    return DecisionTakenError(
        f"run {run_id} is no longer waiting for an approval: another decision on it was made "
        "meanwhile (`tiller runs show` says which)"
    )


Progress = Callable[[dict[str, Any]], None]
# Built per run by the composition root: the run's clock and id in, dependencies out.
ContextFactory = Callable[[Clock, str], AgentContext]


@dataclass
class RunResult:
    run_id: str
    status: str  # awaiting_approval | succeeded | failed
    state: dict[str, Any]
    pending: dict[str, Any] | None = None  # what the approval asks, when waiting
    notes: list[str] = field(default_factory=list)


def run_clock(request: RunRequest, last_close: datetime, now: datetime) -> tuple[datetime, bool]:
    """(as_of, fixed). An explicit as-of fixes the clock there. Otherwise the run is made
    now, unless the stored data ends before now: then as of the last stored close, with
    the clock fixed there (the same path a backtest of the agent takes)."""
    if request.as_of is not None:
        if request.as_of > now:
            raise ConfigError(f"--as-of {request.as_of:%Y-%m-%d %H:%M} is in the future")
        return request.as_of, True
    if last_close < now:
        tf = Timeframe(request.timeframe)
        if now - last_close > tf.delta:
            return last_close, True
    return now, False


@dataclass
class AgentRunner:
    graph: CompiledStateGraph[Any, Any, Any, Any]
    runlog: RunLog
    make_context: ContextFactory
    last_close: Callable[[RunRequest], datetime]
    inputs_extra: dict[str, Any] = field(default_factory=dict)

    def start(self, request: RunRequest, progress: Progress | None = None) -> RunResult:
        return self.first(self.begin(request), progress)

    def begin(self, request: RunRequest, extra: dict[str, Any] | None = None) -> str:
        """Record the run (its inputs and clock) without running anything yet: the API
        answers with the id at once and a worker drives it (``first``)."""
        now = datetime.now(UTC)
        as_of, fixed = run_clock(request, self.last_close(request), now)
        inputs = {
            "request": request.model_dump(mode="json"), "as_of": as_of.isoformat(),
            "fixed_clock": fixed, **self.inputs_extra, **(extra or {}),
        }  # fmt: skip
        hashes = {"inputs": hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()}
        return self.runlog.start("agent", inputs, hashes).id

    def first(self, run_id: str, progress: Progress | None = None) -> RunResult:
        """Drive a recorded run from its start, with the inputs its record holds."""
        record = self.runlog.ledger.get_run(run_id)
        if record is None:
            raise NotFoundError(f"no run {run_id!r}: `tiller runs list` shows the runs")
        inputs = record.inputs
        state = {"run_id": run_id, "request": inputs["request"], "as_of": inputs["as_of"],
                 "fixed_clock": inputs["fixed_clock"], "notes": []}  # fmt: skip
        return self._drive(run_id, state, progress)

    def resume(self, run_id: str, progress: Progress | None = None) -> RunResult:
        """Continue a run from its last checkpoint (after a crash); a run that stopped
        before its first checkpoint starts again from its recorded inputs."""
        self._running(run_id)
        if not self.graph.get_state(_config(run_id)).values:
            return self.first(run_id, progress)
        return self._drive(run_id, None, progress)

    def decide(
        self, run_id: str, decision: ApprovalDecision, progress: Progress | None = None
    ) -> RunResult:
        try:
            self._running(run_id)
        except ConfigError:
            if self._answered(run_id):  # another decision won the race and finished it
                raise _taken(run_id) from None
            raise
        pending = self.pending(run_id)
        if pending is None:
            if self._answered(run_id):  # another decision won the race and resumed it
                raise _taken(run_id)
            raise ConfigError(f"run {run_id} is not waiting for an approval")
        if decision.quantity is not None:
            proposals = pending.get("proposals", [])
            if len(proposals) != 1:
                raise ConfigError("--qty works for a run with exactly one proposal")
            if decision.quantity >= _dec(proposals[0]["quantity"]):
                raise ConfigError(
                    f"--qty {decision.quantity} is not smaller than the proposed "
                    f"{proposals[0]['quantity']}: only a smaller quantity can be approved"
                )
        answer = decision.model_dump(mode="json")
        # Claim the pause in the ledger before resuming: two people (or two servers)
        # approving at once would otherwise both resume the graph and both execute.
        if self.runlog.append_if_last(run_id, "awaiting_approval", "approval", "human_action",
                                      answer) is None:  # fmt: skip
            raise _taken(run_id)
        command: Command[Any] = Command(resume={**answer, RECORDED: True})
        return self._drive(run_id, command, progress)

    def _answered(self, run_id: str) -> bool:
        """A decision is recorded after the run's last pause."""
        kinds = [e.kind for e in self.runlog.events(run_id)]
        if "awaiting_approval" not in kinds:
            return False
        last_pause = len(kinds) - 1 - kinds[::-1].index("awaiting_approval")
        return "human_action" in kinds[last_pause:]

    def pending(self, run_id: str) -> dict[str, Any] | None:
        snapshot = self.graph.get_state(_config(run_id))
        for task in snapshot.tasks:
            for intr in task.interrupts:
                value: dict[str, Any] = intr.value
                return value
        return None

    def state(self, run_id: str) -> dict[str, Any]:
        return dict(self.graph.get_state(_config(run_id)).values)

    def _running(self, run_id: str) -> None:
        record = self.runlog.ledger.get_run(run_id)
        if record is None:
            raise NotFoundError(f"no run {run_id!r}: `tiller runs list` shows the runs")
        if record.status is not RunStatus.RUNNING:
            raise ConfigError(f"run {run_id} has already finished ({record.status.value})")

    def clock_of(self, run_id: str) -> Clock:
        record = self.runlog.ledger.get_run(run_id)
        assert record is not None
        if record.inputs.get("fixed_clock"):
            return FixedClock(datetime.fromisoformat(record.inputs["as_of"]))
        return SystemClock()

    def _drive(self, run_id: str, value: Any, progress: Progress | None) -> RunResult:
        ctx = self.make_context(self.clock_of(run_id), run_id)
        config = _config(run_id)
        try:
            stream = self.graph.stream(
                value, config, context=ctx, stream_mode=["custom", "updates"], durability="sync"
            )
            for mode, chunk in stream:
                if mode == "custom" and progress is not None and isinstance(chunk, dict):
                    progress(chunk)
        except TillerError as exc:
            self.runlog.finish(run_id, RunStatus.FAILED, {"error": str(exc)}, error=str(exc))
            raise
        except (DBAPIError, sqlite3.OperationalError) as exc:
            # The database failed under the run (locked past its timeout, full, its
            # session killed). Nothing can be recorded now, not even the failure: the run
            # stays where its last checkpoint is (every order sent is in the ledger) and
            # is resumed once the database is back. A clear error, not a traceback.
            cause = getattr(exc, "orig", None) or exc
            raise UnavailableError(
                f"the database failed during run {run_id} ({cause}); nothing was sent "
                "that is not recorded",
                hint=f"fix the database (space, locks), then `tiller run resume {run_id}`",
            ) from exc
        pending = self.pending(run_id)
        state = self.state(run_id)
        if pending is not None:
            self.runlog.append(run_id, "approval", "awaiting_approval", pending)
            return RunResult(run_id, "awaiting_approval", state, pending)
        self.runlog.finish(run_id, RunStatus.SUCCEEDED, state.get("report", {}))
        return RunResult(run_id, "succeeded", state)


def _config(run_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": run_id}}


def _dec(value: Any) -> Any:
    from decimal import Decimal

    return Decimal(str(value))
