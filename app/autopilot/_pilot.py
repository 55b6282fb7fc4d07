"""One slot of one job: decide whether to run, run the agents, record what happened.

Every run goes through ``app.services.runs`` on a copy of the composition root whose
limits are the autopilot's profile, whose venue is paper unless the job is live (and
live is switched on), and whose per-run LLM budget is what remains of the job's day.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.autopilot._spec import JobSpec, show_duration
from app.autopilot._store import AutopilotStore, JobRow
from core.clock import Clock, FixedClock, SystemClock
from core.errors import NotFoundError, TillerError, UnavailableError
from core.ledger import VerifiedPoint
from core.types import Timeframe

if TYPE_CHECKING:
    from app.autopilot._notify import Notifier
    from app.autopilot._settings import AutopilotSettings
    from app.bootstrap import Container
    from app.services.runs import RunView
    from core.ledger import VerifyReport
    from policies.risk import Limits

log = logging.getLogger("app.autopilot")


class AutopilotBusyError(UnavailableError):
    """Another autopilot leads this ledger."""

    code = "autopilot_busy"


@dataclass(frozen=True)
class SlotResult:
    status: str  # done | skipped
    outcome: str
    run_id: str | None = None
    cost: Decimal = Decimal(0)
    awaiting: bool = False


@dataclass
class Autopilot:
    """The leader's state. ``clock`` is wall time (heartbeats, expiry, budgets); a run's
    own clock is its as-of (fixed when the stored data ends before now)."""

    container: Container
    settings: AutopilotSettings
    limits: Limits
    clock: Clock = field(default_factory=SystemClock)
    notifier: Notifier | None = None
    store: AutopilotStore = field(init=False)
    market_time: datetime | None = None  # the newest as-of a replayed run reached
    warnings: list[str] = field(default_factory=list)
    chain_point: VerifiedPoint | None = None  # where the last slot's chain check ended
    chain_walked_at: float | None = None  # time.monotonic() of the last whole walk

    def __post_init__(self) -> None:
        self.store = AutopilotStore(self.container.ledger.engine)
        cursors = [row.cursor for row in self.store.jobs() if row.cursor is not None]
        self.market_time = max(cursors) if cursors else None

    # -- one slot -----------------------------------------------------------------------
    def run_slot(self, name: str, slot: datetime) -> str:
        now = self.clock.now()
        try:
            row = self.store.job(name)
        except NotFoundError:
            return "skipped: the job was removed"
        busy = [s for s in self.store.slots(name) if s.status == "running"]
        if not self.store.claim(name, slot, now):
            log.info("job %s: slot %s ran already; not again", name, slot.isoformat())
            return "skipped: this slot ran already"
        if busy:
            outcome = f"skipped: the run of {busy[-1].slot:%Y-%m-%d %H:%M} UTC is still running"
            self.store.finish(name, slot, now, status="skipped", outcome=outcome)
            return outcome
        try:
            result = self._slot(row, slot)
        except TillerError as exc:
            outcome = f"failed: {exc}"
            self.store.finish(name, slot, self.clock.now(), status="failed", outcome=outcome)
            self.notify("error", job=name, error=str(exc))
            return outcome
        except Exception as exc:  # a bug: recorded, then raised to APScheduler's log
            outcome = f"failed: internal error {type(exc).__name__}: {exc}"
            self.store.finish(name, slot, self.clock.now(), status="failed", outcome=outcome)
            self.notify("error", job=name, error=outcome)
            raise
        self.store.finish(
            name, slot, self.clock.now(), status=result.status, outcome=result.outcome,
            run_id=result.run_id, cost=result.cost, counted=result.run_id is not None,
            awaiting=result.awaiting,
        )  # fmt: skip
        return result.outcome

    def _slot(self, row: JobRow, slot: datetime) -> SlotResult:
        from agents.models import RunRequest
        from app.services.risk import hold_if_chain_broken
        from app.services.runs import begin_run, drive_run

        spec = row.spec
        blocked = self._blocked(spec)
        if blocked is not None:
            return SlotResult("skipped", f"skipped: {blocked}")
        remaining = self.remaining_budget(spec)
        if remaining is not None and remaining <= 0:
            return SlotResult("skipped", f"skipped: the LLM budget of ${spec.llm_budget_usd} "
                              "for today (UTC) is spent; runs resume tomorrow")  # fmt: skip
        as_of, why_not = self._as_of(row)
        if why_not is not None:
            return SlotResult("skipped", f"skipped: {why_not}")
        self.container.knowledge_base  # noqa: B018 - shared by every run (see run_container)
        rc = self.run_container(spec, remaining)
        # A broken chain halts trading: research goes on, no orders.
        hold_if_chain_broken(rc, self.verify_chain())
        request = RunRequest(symbols=spec.symbols, as_of=as_of, mode=spec.approval,
                             timeframe=spec.timeframe)  # fmt: skip
        origin = {"surface": "autopilot", "job": spec.name, "slot": slot.isoformat()}
        run_id = begin_run(rc, request, origin=origin).run_id
        self.store.attach_run(spec.name, slot, run_id)
        if as_of is not None:
            self.store.set_cursor(spec.name, as_of)  # this bar is spent, whatever happens
            self.market_time = max(self.market_time or as_of, as_of)
        self.mark(spec)  # before the agents decide: a breaker the market tripped applies now
        view = drive_run(rc, run_id)
        self.mark(spec)  # and after: what the run bought is marked at once
        self._notify_run(spec, view)
        return SlotResult("done", summarize(view, spec), run_id, run_cost(rc, run_id),
                          awaiting=view.status == "awaiting_approval")  # fmt: skip

    def verify_chain(self) -> VerifyReport:
        """The audit chain as a slot checks it: the entries written since the last check,
        and the whole chain at the first slot and every ``full_audit_every_s`` after (an
        edit of an older entry, possible only past the database's triggers, is found by
        then; the executor still walks it all before sending)."""
        now = time.monotonic()
        whole = (self.chain_point is None or self.chain_walked_at is None
                 or now - self.chain_walked_at >= self.settings.full_audit_every_s)  # fmt: skip
        audit = self.container.ledger.audit
        report = audit.verify() if whole else audit.verify(since=self.chain_point)
        if whole:
            self.chain_walked_at = now
        self.chain_point = VerifiedPoint.of(report)
        return report

    def _blocked(self, spec: JobSpec) -> str | None:
        if spec.mode == "live":
            problems = live_switch_problems(self.container, self.settings)
            if problems:
                return "live mode is not switched on: " + "; ".join(problems)
        if spec.approval == "copilot":
            for slot in self.store.open_approvals(spec.name):
                return f"run {slot.run_id} still waits for a person's decision"
        return None

    def _as_of(self, row: JobRow) -> tuple[datetime | None, str | None]:
        """(as_of, reason to skip). Data up to date: None (the run is made now). Stored data
        that ends before now, or an explicit --replay-from: the next stored bar's close after
        the job's cursor, one bar per run."""
        spec = row.spec
        closes = bar_closes(self.container, spec)
        now = self.clock.now()
        live = now - closes[-1] <= Timeframe(spec.timeframe).delta
        if live and spec.replay_from is None:
            return None, None
        if spec.mode == "live":  # real orders at past prices: never
            return None, (
                f"a live job trades on current bars only; the newest stored {spec.timeframe} "
                f"bar closed {closes[-1]:%Y-%m-%d %H:%M} UTC: fetch newer bars (`tiller data "
                "fetch`), or replay history in a paper job"
            )
        if row.cursor is None:
            start = spec.replay_from or closes[-1]
            later = closes[closes >= pd.Timestamp(start)]
        else:
            later = closes[closes > pd.Timestamp(row.cursor)]
        later = later[later <= pd.Timestamp(now)]
        if len(later) == 0:
            return None, (
                f"no {spec.timeframe} bar after {row.cursor or start:%Y-%m-%d %H:%M} UTC is "
                "stored: import or fetch newer bars (`tiller data import|fetch`)"
            )
        return later[0].to_pydatetime(), None

    def run_container(self, spec: JobSpec | None, remaining: Decimal | None = None) -> Container:
        """The composition root as an autopilot run sees it (a shallow copy: the ledger, the
        store, the knowledge base and the loaded models are shared)."""
        base = self.container
        # Built once on the base, so that every copy shares them: a copy computes a
        # cached property of its own, and each slot reloaded the prices and the models
        # (the soak's RSS grew by ~20 MiB a slot, bench/soak.py).
        for shared in ("store", "model_cache", "signer"):
            getattr(base, shared)
        rc = copy.copy(base)
        live = spec is not None and spec.mode == "live"
        update: dict[str, Any] = {"trading_venue": base.settings.trading_venue if live else "paper"}
        if remaining is not None:
            update["llm_max_cost_per_run_usd"] = min(
                base.settings.llm_max_cost_per_run_usd, remaining
            )
        rc.settings = base.settings.model_copy(update=update)
        rc.__dict__.pop("broker", None)  # built for the base venue
        rc.limits = self.limits
        return rc

    def remaining_budget(self, spec: JobSpec) -> Decimal | None:
        """What the job may still spend on LLM calls today (UTC); None offline."""
        if not self.container.settings.llm_enabled:
            return None
        now = self.clock.now()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        spent = sum((s.cost_usd for s in self.store.slots(spec.name, since=day)), Decimal(0))
        return spec.llm_budget_usd - spent

    # -- marks to market ----------------------------------------------------------------
    def mark(self, spec: JobSpec | None = None) -> dict[str, Any] | None:
        """Feed the account's equity to the breakers (daily loss, drawdown) at the market's
        time: the newest replayed as-of when the stored data ends before now, else now.
        None when there is no market time yet (stale data, no run so far): marking at
        today's date would start the risk day years after the bars being replayed."""
        from app.autopilot._marks import mark_account

        clock: Clock
        if self.market_time is not None:
            clock = FixedClock(self.market_time)
        elif self._replaying():
            return None
        else:
            clock = self.clock
        result = mark_account(self.run_container(spec), clock, [] if spec is None else spec.symbols)
        self.warnings = [result["problem"]] if result.get("problem") else []
        return result

    def mark_all(self) -> list[dict[str, Any]]:
        """The scheduled mark: every venue a job trades (paper when there is no job)."""
        specs: dict[str, JobSpec | None] = {}
        for row in self.store.jobs():
            specs.setdefault(row.spec.mode, row.spec)
        marks = [self.mark(spec) for spec in (specs.values() or [None])]
        return [m for m in marks if m is not None]

    def _replaying(self) -> bool:
        now = self.clock.now()
        for row in self.store.jobs():
            closes = bar_closes(self.container, row.spec)
            if (
                row.spec.replay_from is not None
                or now - closes[-1] > Timeframe(row.spec.timeframe).delta
            ):
                return True
        return False

    # -- notifications ------------------------------------------------------------------
    def notify(self, kind: str, **fields: Any) -> None:
        if self.notifier is not None:
            self.notifier.send(kind, self.clock.now(), **fields)

    def _notify_run(self, spec: JobSpec, view: RunView) -> None:
        report = view.report or {}
        for order in report.get("orders", []):
            self.notify("order", job=spec.name, run_id=view.run_id, order=order)
        for verdict in report.get("risk", []):
            if not verdict.get("approved"):
                self.notify("denial", job=spec.name, run_id=view.run_id,
                            symbol=verdict.get("symbol"),
                            reason_codes=verdict.get("reason_codes", []))  # fmt: skip


def live_switch_problems(c: Container, settings: AutopilotSettings) -> list[str]:
    """What is missing for live trading: both switches, each said in its own words."""
    problems = []
    if c.settings.trading_venue.strip().lower() == "paper":
        problems.append("TILLER_TRADING_VENUE is paper (set it to the exchange to trade)")
    if not settings.live:
        problems.append("TILLER_AUTOPILOT_LIVE is not 1 (the second, explicit switch)")
    return problems


def bar_closes(c: Container, spec: JobSpec) -> pd.DatetimeIndex:
    """Close times of the job's stored bars (all symbols together), oldest first."""
    delta = pd.Timedelta(Timeframe(spec.timeframe).delta)
    closes: pd.DatetimeIndex | None = None
    for symbol in spec.symbols:
        index = pd.DatetimeIndex(c.store.bars(symbol, spec.timeframe).index) + delta
        if len(index) == 0:
            raise NotFoundError(f"no {spec.timeframe} bars of {symbol} are stored")
        closes = index if closes is None else closes.union(index)
    assert closes is not None
    return closes.sort_values()


def run_cost(c: Container, run_id: str) -> Decimal:
    from app.services.runs import run_events

    return sum(
        (Decimal(str(e.payload.get("cost_usd", "0"))) for e in run_events(c, run_id)
         if e.kind == "llm_call"),
        Decimal(0),
    )  # fmt: skip


def summarize(view: RunView, spec: JobSpec) -> str:
    """One line a person reads in ``tiller autopilot status``."""
    report = view.report or {}
    as_of = str(report.get("as_of") or "")[:16].replace("T", " ")
    where = f" (as of {as_of} UTC)" if as_of else ""
    if view.status == "awaiting_approval":
        asks = "; ".join(f"{p.get('side')} {p.get('quantity')} {p.get('symbol')}"
                         for p in (view.pending or {}).get("proposals", []))  # fmt: skip
        return (f"awaiting approval{where}: {asks or 'see the run'}; rejected unless decided "
                f"within {show_duration(spec.expire_after)}")  # fmt: skip
    if view.status == "failed":
        return f"failed{where}: {view.error}"
    orders = [f"{o['side']} {o['quantity']} {o['symbol']} {o['status']}"
              + (f" @ {_price(o['avg_fill_price'])}" if o.get("avg_fill_price") else "")
              for o in report.get("orders", [])]  # fmt: skip
    denied = [f"{v['symbol']} denied ({', '.join(v.get('reason_codes', []))})"
              for v in report.get("risk", []) if not v.get("approved")]  # fmt: skip
    detail = "; ".join(orders or denied)
    if any("RISK_STATE_STALE" in v.get("reason_codes", []) for v in report.get("risk", [])):
        detail += (" — the risk state is dated later than this bar (trading was halted or "
                   "resumed at today's date): a replay of older bars cannot trade on it; "
                   "replay on a fresh ledger")  # fmt: skip
    return f"{view.outcome or view.status}{where}" + (f": {detail}" if detail else "")


def _price(text: str) -> str:
    """A fill price as people read it: four decimals at most."""
    value = Decimal(str(text))
    return str(value.quantize(Decimal("0.0001")).normalize()) if value.is_finite() else text
