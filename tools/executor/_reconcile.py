"""Start-up: prove the records are intact and agree with the venue before trading.

The executor refuses to trade (``NotReconciledError``) until this passes: a broken audit
chain halts trading; an order whose outcome is still unknown, an order the venue has
that the ledger does not, or a working order the venue does not know, all block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.errors import UnavailableError
from core.ledger import AuditKind, Balance, OrderRecord
from core.types import OrderStatus, Side
from tools.executor._executor import Executor, NotReconciledError
from tools.executor._paper import PaperBroker
from tools.executor._types import OrderState

_UNRESOLVED = (OrderStatus.SENT, OrderStatus.UNKNOWN, OrderStatus.PENDING_SEND)


@dataclass
class ReconcileReport:
    resolved: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    balances: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "resolved": self.resolved, "problems": self.problems,
                "balances": self.balances}  # fmt: skip


def startup(executor: Executor) -> ReconcileReport:
    """Verify the audit chain, reconcile, and allow trading only if both pass."""
    executor.reconciled = False
    chain = executor.ledger.audit.verify()
    if not chain.ok:
        executor.halt(f"audit chain broken at seq {chain.first_bad_seq}", operator="system")
        chain.raise_if_broken()
    report = reconcile(executor)
    if not report.ok:
        raise NotReconciledError(
            "cannot reconcile with the venue; trading stays off until fixed: "
            + "; ".join(report.problems)
        )
    executor.reconciled = True
    return report


def reconcile(executor: Executor) -> ReconcileReport:
    ledger, broker = executor.ledger, executor.broker
    report = ReconcileReport()
    if isinstance(broker, PaperBroker):
        _forget_paper_orders(executor, report)
    for record in ledger.working_orders(venue=executor.venue):
        _reconcile_order(executor, record, report)
    try:
        at_venue = broker.open_orders()
        balances = broker.balances()
    except UnavailableError as exc:
        report.problems.append(f"venue unreachable: {exc}")
        return _audited(executor, report)
    known = {r.client_order_id for r in ledger.orders(venue=executor.venue)}
    for state in at_venue:
        if state.client_order_id not in known:
            report.problems.append(
                f"the venue has an open order {state.client_order_id} ({state.symbol} "
                f"{state.side} {state.quantity}) that the ledger does not"
            )
    _store_balances(executor, balances, at_venue)
    report.balances = {c: str(v) for c, v in sorted(balances.items())}
    return _audited(executor, report)


def refresh_account(executor: Executor) -> None:
    """Book what the venue filled since the last look and take its balances: what an
    exchange account holds before it is marked to market. ``UnavailableError`` when the
    venue cannot be asked (then nothing is marked on stale balances)."""
    executor.sync()
    at_venue = executor.broker.open_orders()
    _store_balances(executor, executor.broker.balances(), at_venue)


def _store_balances(
    executor: Executor, free: dict[str, Decimal], at_venue: list[OrderState]
) -> None:
    used = _reserved(executor, at_venue)
    executor.ledger.set_balances(executor.venue, [
        Balance(c, max(free.get(c, Decimal(0)), Decimal(0)), used.get(c, Decimal(0)))
        for c in sorted(set(free) | set(used))
    ])  # fmt: skip


def _reserved(executor: Executor, at_venue: list[OrderState]) -> dict[str, Decimal]:
    """What the venue's open orders lock (a buy's price x quantity in the quote currency,
    a sell's quantity in the base asset): ``balances()`` gives only the free amounts, and
    an account's cash and equity include what its working orders hold."""
    used: dict[str, Decimal] = {}
    for state in at_venue:
        record = executor.ledger.get_order(state.client_order_id)
        remaining = state.quantity - state.filled_qty
        if record is None or remaining <= 0 or not state.symbol.is_pair:
            continue
        if state.side is Side.SELL:
            asset, amount = state.symbol.base, remaining
        elif record.limit_price is not None and state.symbol.quote is not None:
            asset, amount = state.symbol.quote, remaining * record.limit_price
        else:
            continue
        used[asset] = used.get(asset, Decimal(0)) + amount
    return used


def _reconcile_order(executor: Executor, record: OrderRecord, report: ReconcileReport) -> None:
    cid = record.client_order_id
    if record.status in _UNRESOLVED:
        after = executor.resolve(record)
        if after.status in _UNRESOLVED:
            report.problems.append(f"order {cid} is {after.status}: its outcome is not known yet")
    else:
        try:
            state = executor.broker.fetch_order(cid, record.symbol)
        except UnavailableError as exc:
            report.problems.append(f"order {cid}: venue unreachable ({exc})")
            return
        if state is None:
            report.problems.append(
                f"order {cid} is {record.status} here but the venue does not know it"
            )
            return
        after = executor.apply(state)
    if after.status != record.status:
        report.resolved.append(f"{cid}: {record.status} -> {after.status}")


def _forget_paper_orders(executor: Executor, report: ReconcileReport) -> None:
    """A paper broker lives in one process: its working orders end with it."""
    broker = executor.broker
    assert isinstance(broker, PaperBroker)
    live = {s.client_order_id for s in broker.open_orders()}
    for record in executor.ledger.working_orders(venue=executor.venue):
        if record.client_order_id not in live and record.status is not OrderStatus.PENDING_SEND:
            executor.ledger.update_order(
                record.client_order_id, OrderStatus.CANCELED,
                error="paper broker restarted: paper orders do not outlive their process",
            )  # fmt: skip
            report.resolved.append(f"{record.client_order_id}: {record.status} -> canceled")


def _audited(executor: Executor, report: ReconcileReport) -> ReconcileReport:
    executor.ledger.audit.append(AuditKind.RECONCILE, report.to_json(), at=executor.clock.now())
    return report
