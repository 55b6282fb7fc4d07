"""The risk officer's controls: the kill switch, the audit chain's hold on trading, and
the only way back. The CLI renders these models; the API and the chat call the same
functions.

Halting needs the ledger and nothing else: not the limits, not the token key, not a
reachable venue. Whatever else is wrong is reported as a warning, never a reason to
keep trading. A broken audit chain halts trading wherever it is noticed, and trading
resumes only once the chain verifies or a human acknowledges the break (recorded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.errors import ConfigError, TillerError, UnavailableError
from core.types import Fill, Instrument, Symbol

if TYPE_CHECKING:
    from app.bootstrap import Container
    from core.ledger import Ledger, VerifyReport
    from policies.risk import Limits, RiskState
    from tools.executor import Broker, BrokerOrder, OrderState

_BROKER_SETTINGS = frozenset({"trading_venue", "paper_cash", "paper_currency", "data_dir"})


class CancelFailure(BaseModel):
    client_order_id: str
    error: str


class HaltOutcome(BaseModel):
    """What the kill switch did. ``state`` is the risk state after it (HALTED)."""

    venue: str
    state: dict[str, Any]
    canceled: list[str]
    failed: list[CancelFailure]
    audited: bool  # False: the audit log could not take the entry; HALTED is still saved
    venue_reachable: bool  # False: nothing was cancelled at the venue; halt again later
    warnings: list[str]

    @property
    def complete(self) -> bool:
        """HALTED recorded and every working order cancelled."""
        return not self.failed


class ChainCheck(BaseModel):
    """The audit chain as trading sees it. ``halted_now``: this check halted trading."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    detail: str | None
    acknowledged: list[dict[str, Any]]
    halted_now: bool = False


class ResumeOutcome(BaseModel):
    state: dict[str, Any]
    acknowledged_seq: int | None  # the audit entry that acknowledged a broken chain
    equity_baseline: Decimal | None = None  # --accept-losses: where the breakers restart
    warning: str | None = None  # e.g. a loss that still stands and will trip again


def halt(
    c: Container,
    reason: str,
    *,
    operator: str,
    problems: Iterable[str] = (),
    ignored_settings: frozenset[str] = frozenset(),
) -> HaltOutcome:
    """Set HALTED in the ledger, then cancel every working order at the venue.

    ``problems`` and ``ignored_settings`` come from ``bootstrap.build_lenient``: settings
    that were invalid and replaced by defaults. A broker that needs one of them is not
    built (it could cancel at the wrong venue); HALTED is recorded all the same."""
    from tools.executor import Executor

    warnings = [*problems, *configuration_problems(c)]
    ledger = _ledger(c, warnings)
    broker = _broker(c, warnings, ignored_settings)
    executor = Executor(
        broker=broker, ledger=ledger, signer=None, limits=_limits(c), clock=c.clock,
        initial_equity=c.settings.paper_cash,
    )  # fmt: skip
    report = executor.halt(reason, operator=operator)
    if not report.audited:
        warnings.append(
            "the audit log could not record the halt: HALTED is saved in the risk state "
            "(every send checks it); run `tiller audit verify`"
        )
    return HaltOutcome(
        venue=executor.venue,
        state=report.state.to_dict(),
        canceled=list(report.canceled),
        failed=[CancelFailure(client_order_id=cid, error=e) for cid, e in report.failed],
        audited=report.audited,
        venue_reachable=not isinstance(broker, UnreachableBroker),
        warnings=warnings,
    )


def configuration_problems(c: Container) -> list[str]:
    """What would stop trading (limits, token key), each as one sentence."""
    found = []
    for what in ("limits", "signer"):
        try:
            getattr(c, what)
        except (ConfigError, OSError) as exc:
            found.append(f"{exc} (halting does not need it; fix it before resuming)")
    return found


def chain_halt_reason(report: VerifyReport) -> str:
    where = "" if report.first_bad_seq is None else f" at seq {report.first_bad_seq}"
    problem = report.problem.value if report.problem else "?"
    return f"audit chain broken{where} ({problem})"


def hold_if_chain_broken(c: Container, report: VerifyReport | None = None) -> ChainCheck:
    """Verify the audit chain; if it is broken (and not acknowledged), halt trading
    unless it is halted already. Every entry point calls this before showing or
    changing the trading state."""
    report = report or c.ledger.audit.verify()
    halted_now = False
    if not report.ok:
        venue = c.settings.trading_venue.strip().lower()
        record = c.ledger.load_risk_state(venue)
        if record is None or record.trading_state != "halted":
            halt(c, chain_halt_reason(report), operator="system")
            halted_now = True
    return ChainCheck(
        ok=report.ok, entries=report.entries, head_seq=report.head_seq,
        head_hash=report.head_hash, first_bad_seq=report.first_bad_seq,
        problem=report.problem.value if report.problem else None, detail=report.detail,
        acknowledged=[asdict(a) for a in report.acknowledged],
        halted_now=halted_now,
    )  # fmt: skip


def resume(
    c: Container, reason: str, *, operator: str, acknowledge_broken_chain: bool = False,
    accept_losses: bool = False,
) -> ResumeOutcome:  # fmt: skip
    """Back to ACTIVE, with a reason. Refused (``AuditChainError``, exit 9) while the
    audit chain is broken, unless ``acknowledge_broken_chain``: then the break is
    recorded as acknowledged by ``operator`` (an audit entry), and checked again.

    The breakers keep their peak and the day's baseline, so a loss that tripped one still
    stands and trips it again at the next mark unless prices recover (``warning`` says
    so). ``accept_losses`` restarts both at the account's equity marked now, recorded
    in the resume's audit entry (``equity_baseline``)."""
    from core.ledger import AuditChainError

    if not reason.strip():
        raise ConfigError("resuming trading needs a reason (e.g. --reason 'limits reviewed')")
    executor = c.executor()  # trading again needs valid limits and token key
    audit = c.ledger.audit
    report = audit.verify()
    acknowledged_seq = None
    if not report.ok:
        hold_if_chain_broken(c, report)
        if not acknowledge_broken_chain:
            raise AuditChainError(
                f"{chain_halt_reason(report)}: {report.detail}. Trading stays HALTED until "
                "the chain verifies (`tiller audit verify`); to resume anyway, an admin "
                "runs `tiller risk resume --acknowledge-broken-chain --reason ...` "
                "(recorded in the audit log)"
            )
        entry = audit.acknowledge(report, operator=operator, reason=reason, at=c.clock.now())
        acknowledged_seq = entry.seq
        after = audit.verify()
        if not after.ok:
            raise AuditChainError(
                f"the acknowledgement was recorded (seq {entry.seq}) but the chain is still "
                f"broken: {chain_halt_reason(after)}: {after.detail}"
            )
    before = executor.risk_state()
    baseline = _equity_now(c) if accept_losses else None
    state = executor.resume(reason, operator=operator, equity=baseline)
    return ResumeOutcome(state=state.to_dict(), acknowledged_seq=acknowledged_seq,
                         equity_baseline=baseline,
                         warning=None if accept_losses else _loss_stands(before))  # fmt: skip


def _equity_now(c: Container) -> Decimal:
    from app.services.equity import marked_equity

    marked = marked_equity(c, c.clock.now())
    if marked.equity is None:
        raise ConfigError(
            f"{marked.problem}: the losses cannot be accepted at an equity nobody knows; "
            "import or fetch the missing prices, or resume without accepting the losses"
        )
    return marked.equity


def _loss_stands(state: RiskState) -> str | None:
    from policies.risk import ReasonCode

    if state.reason_code not in (ReasonCode.DRAWDOWN, ReasonCode.DAILY_LOSS):
        return None
    return (
        f"the breaker's loss still stands ({state.halted_reason}; peak "
        f"{state.peak_equity}, day's start {state.day_start_equity}): the next mark to "
        "market trips it again unless prices recover. To accept the losses and restart "
        "the breakers at the current equity, resume with --accept-losses"
    )


def _ledger(c: Container, warnings: list[str]) -> Ledger:
    """The application's ledger; with an unusable audit key, the same database opened
    without it (the halt then lands in the risk state, see ``Executor.halt``)."""
    try:
        c.audit_key  # noqa: B018 - building it is the check
    except ConfigError as exc:
        from core.ledger import open_ledger, secret_values

        warnings.append(f"{exc}; the halt is recorded without the audit key")
        c.settings.state_path.mkdir(parents=True, exist_ok=True)
        return open_ledger(c.settings.ledger_url, secrets=secret_values(c.settings), clock=c.clock)
    return c.ledger


def _limits(c: Container) -> Limits:
    """Limits matter to a halt only when a cancel books a fill that closes a trade (the
    loss cooldown): the built-in ceilings stand in for a broken limits file."""
    from policies.risk import load_limits

    try:
        return c.limits
    except ConfigError:
        return load_limits(None)


def _broker(c: Container, warnings: list[str], ignored: frozenset[str]) -> Broker:
    venue = c.settings.trading_venue.strip().lower()
    unusable = sorted(n for n in ignored if n in _BROKER_SETTINGS or n.startswith("exchange_"))
    if unusable:
        why = "invalid settings: " + ", ".join(f"TILLER_{n.upper()}" for n in unusable)
    else:
        try:
            return c.broker
        except (TillerError, OSError) as exc:
            why = str(exc)
    warnings.append(
        f"cannot reach {venue} ({why}): working orders were not cancelled there; "
        "run `tiller risk halt` again once it is reachable"
    )
    return UnreachableBroker(venue, why)


class UnreachableBroker:
    """Stands in for a broker that could not be built: it names the venue (so the
    right risk state is halted) and answers every request with ``UnavailableError``,
    which the executor reports as a cancel to retry."""

    def __init__(self, venue: str, why: str) -> None:
        self._venue, self._why = venue, why

    @property
    def venue(self) -> str:
        return self._venue

    def _down(self) -> UnavailableError:
        return UnavailableError(f"{self._venue} is unreachable: {self._why}")

    def instruments(self) -> Mapping[Symbol, Instrument]:
        raise self._down()

    def submit(self, order: BrokerOrder) -> OrderState:
        raise self._down()

    def fetch_order(self, client_order_id: str, symbol: Symbol) -> OrderState | None:
        raise self._down()

    def cancel(self, client_order_id: str, symbol: Symbol) -> OrderState:
        raise self._down()

    def open_orders(self, symbol: Symbol | None = None) -> list[OrderState]:
        raise self._down()

    def balances(self) -> dict[str, Decimal]:
        raise self._down()

    def fills_since(self, since: datetime, symbol: Symbol) -> list[Fill]:
        raise self._down()
