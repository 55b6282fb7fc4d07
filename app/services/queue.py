"""Agent runs on a task queue: Celery over Redis or RabbitMQ (``TILLER_WORKER_BROKER``).

A queued run is recorded first (``begin_run``), then its id goes to the broker; any
``tiller worker`` takes it. Everything a run needs lives in the database, not in the
worker: the run record, the graph's checkpoints, the ledger. So a worker killed mid-run
loses nothing but time: the broker hands the unacknowledged run to another worker
(``acks_late`` + ``reject_on_worker_lost``; RabbitMQ at once, Redis after
``TILLER_WORKER_VISIBILITY_TIMEOUT_S``), which resumes it from its last checkpoint; the
executor's deterministic order ids keep an order from being sent twice.

Two workers never drive one run at once: a worker holds the run's lock (a PostgreSQL
advisory lock, or a file lock next to a SQLite ledger; both released by the kernel or
the server when the worker dies) while it drives; a second delivery of a run someone
holds is retried later; a delivery of a run that has finished, or that has paused for a
person once (from then on it is driven by whoever decides on it, as without a queue),
does nothing. Each worker that takes a run writes a ``worker_started`` event (who, which
process, which delivery) into the run's record.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, NotFoundError, UnavailableError

if TYPE_CHECKING:
    from celery import Celery

    from app.bootstrap import Container
    from app.services.runs import RunView
    from app.services.usage import Reservation

log = logging.getLogger("app.services.queue")
TASK = "tiller.drive_run"
RETRY_BUSY_S = 5  # a run another worker holds is looked at again after this long


class RunQueue:
    """The producer side: hands recorded runs to the broker."""

    def __init__(self, broker: str, queue: str, visibility_timeout_s: int) -> None:
        self.broker, self.queue = broker, queue
        self.app = celery_app(broker, queue, visibility_timeout_s)

    @property
    def where(self) -> str:
        """The broker without its credentials, for records and messages."""
        scheme, _, rest = self.broker.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    def enqueue(self, c: Container, run_id: str, reservation: Reservation | None = None) -> str:
        """Send the run to the workers; its task id. The run-shaping settings of ``c`` go
        with it (a worker may only tighten them: see ``_run_container``)."""
        from kombu.exceptions import OperationalError

        plan = {
            "trading_venue": c.settings.trading_venue,
            "llm_max_cost_per_run_usd": str(c.settings.llm_max_cost_per_run_usd),
            "limits": c.limits.as_dict(),
            "reservation": None
            if reservation is None
            else {"key_id": reservation.key_id, "day": reservation.day,
                  "amount": str(reservation.amount)},
        }  # fmt: skip
        try:
            result = self.app.send_task(
                TASK, args=[run_id, plan], queue=self.queue, task_id=f"run-{run_id}", retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 0.5,
                              "interval_max": 1.0},
            )  # fmt: skip
        except (OperationalError, OSError) as exc:
            raise UnavailableError(
                f"cannot reach the run queue at {self.where}: {exc}",
                hint="start Redis or RabbitMQ there, or unset TILLER_WORKER_BROKER to run "
                "agent runs in this process",
            ) from None
        return str(result.id)


def celery_app(broker: str, queue: str, visibility_timeout_s: int) -> Celery:
    """The Celery application both sides use: late acknowledgement (a run is acked when it
    finishes, so a dead worker's run is delivered again), one run prefetched per process,
    JSON messages, no result backend (results live in the run record)."""
    from celery import Celery

    app = Celery("tiller", broker=broker, set_as_current=False)
    restore_every = max(1, min(10, visibility_timeout_s // 4))
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            "unacked_restore_interval": restore_every,
            "unacked_restore_throttle": 1,
        },
    )
    app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)(_drive_task)
    return app


# -- the worker side ---------------------------------------------------------------------
_WORKER: dict[str, Any] = {}  # this worker process's container, built on its first run


def _drive_task(task: Any, run_id: str, plan: dict[str, Any]) -> str:
    from app.bootstrap import build

    if "container" not in _WORKER:
        _WORKER["container"] = build()
    who = {
        "worker": task.request.hostname or socket.gethostname(), "pid": os.getpid(),
        "task_id": task.request.id,
        "redelivered": bool((task.request.delivery_info or {}).get("redelivered")),
    }  # fmt: skip
    from sqlalchemy.exc import OperationalError

    try:
        outcome = work_on(_WORKER["container"], run_id, plan, who)
    except (UnavailableError, OperationalError) as exc:  # the database, before the run
        log.warning("run %s not taken yet (%s); trying again shortly", run_id, exc)
        outcome = "busy"
    if outcome == "busy":
        raise task.retry(countdown=RETRY_BUSY_S, max_retries=None)
    return outcome


def work_on(c: Container, run_id: str, plan: dict[str, Any], who: dict[str, Any]) -> str:
    """Drive one delivered run, unless another worker holds it ("busy") or it has nothing
    left to do ("finished", "awaiting_approval"). Returns what happened."""
    from app.services.runs import drive_here, fail_run, show_run
    from core.errors import TillerError
    from core.ledger.runlog import RunLog

    lock = run_lock(c, run_id)
    if not lock.acquire():
        return "busy"
    try:
        try:
            view = show_run(c, run_id, events=False)
        except NotFoundError:
            log.warning("run %s is not in this worker's ledger: dropped", run_id)
            return "unknown"
        if view.status != "running":
            return view.status
        runlog = RunLog(c.ledger)
        if any(e.kind == "awaiting_approval" for e in runlog.events(run_id)):
            # Past its pause, a run belongs to whoever decides on it (the API, the CLI):
            # a late second delivery must not drive it beside the decision.
            return "decided elsewhere"
        runlog.append(run_id, "queue", "worker_started", who)
        try:
            rc = _run_container(c, plan)
        except ConfigError as exc:
            fail_run(c, run_id, f"this worker cannot run it: {exc}")
            return "failed"
        try:
            return drive_here(rc, run_id).status
        except TillerError as exc:  # recorded with the run by the runner
            log.warning("run %s failed: %s", run_id, exc)
            return "failed"
        except Exception as exc:  # a bug: the run must not stay RUNNING for ever
            log.exception("run %s failed with an internal error", run_id)
            fail_run(c, run_id, f"internal error ({type(exc).__name__})")
            return "failed"
        finally:
            _settle(c, run_id, plan.get("reservation"))
    finally:
        lock.release()


def _run_container(c: Container, plan: dict[str, Any]) -> Container:
    """The worker's container as the run asked for it: the venue only towards paper, the
    LLM budget and the risk limits only tighter than this worker's own."""
    from policies.risk import load_limits

    venue = str(plan.get("trading_venue", c.settings.trading_venue)).strip().lower()
    own = c.settings.trading_venue.strip().lower()
    if venue not in (own, "paper"):
        raise ConfigError(f"the run trades on {venue!r} and this worker on {own!r}")
    cost = min(Decimal(str(plan.get("llm_max_cost_per_run_usd", "Infinity"))),
               c.settings.llm_max_cost_per_run_usd)  # fmt: skip
    rc = copy.copy(c)
    rc.settings = c.settings.model_copy(
        update={"trading_venue": venue, "llm_max_cost_per_run_usd": cost}
    )
    rc.__dict__.pop("broker", None)  # built for the worker's venue
    limits = plan.get("limits")
    if limits is not None and limits != c.limits.as_dict():
        rc.limits = load_limits(limits, ceilings=c.limits)
    return rc


def _settle(c: Container, run_id: str, reservation: dict[str, Any] | None) -> None:
    """What the run spent replaces what the API key reserved for it (once it has ended or
    paused; a run that pauses spends nothing more until a person decides)."""
    if reservation is None:
        return
    from app.services.usage import Reservation, run_llm_cost, settle

    held = Reservation(reservation["key_id"], reservation["day"], Decimal(reservation["amount"]))
    settle(c, held, run_llm_cost(c, run_id))


# -- one driver per run --------------------------------------------------------------------
@dataclass
class RunLock:
    """Held while a worker drives a run; lost with the worker's process or session."""

    c: Container
    run_id: str
    _held: Any = None

    def acquire(self) -> bool:
        engine = self.c.ledger.engine
        if engine.url.get_backend_name() == "postgresql":
            return self._advisory(engine)
        return self._flock()

    def _advisory(self, engine: Any) -> bool:
        import hashlib

        from sqlalchemy import text

        conn = engine.connect()
        where = conn.execute(text("SELECT current_database(), current_schema()")).one()
        name = f"tiller.run:{where[0]}:{where[1]}:{self.run_id}"
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()  # the lock is the session's, not the transaction's
        if not got:
            conn.close()
            return False
        self._held = (conn, key)
        return True

    def _flock(self) -> bool:
        import fcntl

        folder = self.c.settings.state_path / "run-locks"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{self.run_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._held = fd
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if isinstance(held, int):
            # Closing drops the flock. The file stays: unlinking it could let a worker
            # that opened the old file and one that creates a new one both lock.
            os.close(held)
            return
        from sqlalchemy import text

        conn, key = held
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        finally:
            conn.close()


def run_lock(c: Container, run_id: str) -> RunLock:
    return RunLock(c, run_id)


# -- waiting for a queued run --------------------------------------------------------------
def wait_for(c: Container, run_id: str, timeout_s: float, poll_s: float = 0.5) -> RunView:
    """The run once a worker has finished it or paused it for a person."""
    from app.services.runs import show_run

    deadline = time.monotonic() + timeout_s
    while True:
        view = show_run(c, run_id, events=False)
        if view.status != "running":
            return view
        if time.monotonic() > deadline:
            raise UnavailableError(
                f"no worker finished run {run_id} within {timeout_s:.0f} s; it stays queued",
                hint="start one with `tiller worker` (same TILLER_WORKER_BROKER and database)",
            )
        time.sleep(poll_s)


def start_worker(
    broker: str, queue: str, visibility_timeout_s: int, concurrency: int, name: str
) -> None:
    """Run a Celery worker in this process until it is stopped (Ctrl-C, SIGTERM)."""
    app = celery_app(broker, queue, visibility_timeout_s)
    app.worker_main([
        "worker", f"--concurrency={concurrency}", f"--hostname={name}", "--loglevel=INFO",
        f"--queues={queue}", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])  # fmt: skip
