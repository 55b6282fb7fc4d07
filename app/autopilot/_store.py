"""The autopilot's own tables, in the ledger's database next to APScheduler's job store.

- ``autopilot_jobs``: each job's specification (JSON) and what its last slot did;
- ``autopilot_slots``: one row per scheduled slot a job claimed, so a restarted
  autopilot never runs a slot twice (the primary key is the claim);
- ``autopilot_leader``: the leader's heartbeat, and a stop request from another process.

Like APScheduler's own table, these are created on first use rather than by the ledger's
migrations: the autopilot is optional, and a ledger that never ran it has none of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from app.autopilot._spec import JobSpec
from core.errors import ConfigError, NotFoundError

JOBSTORE_TABLE = "autopilot_apscheduler_jobs"


class _Utc(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an autopilot table")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
jobs_table = Table(
    "autopilot_jobs", metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("created_at", _Utc, nullable=False),
    Column("cursor", _Utc),  # replay: the as-of of the last bar this job decided on
    Column("runs", Integer, nullable=False, default=0),
    Column("last_slot", _Utc),
    Column("last_run_id", String(64)),
    Column("last_outcome", Text),
    Column("last_finished_at", _Utc),
)  # fmt: skip
slots_table = Table(
    "autopilot_slots", metadata,
    Column("job", String(64), primary_key=True),
    Column("slot", _Utc, primary_key=True),
    Column("started_at", _Utc, nullable=False),
    Column("finished_at", _Utc),
    Column("run_id", String(64)),
    Column("status", String(16), nullable=False),  # running | done | skipped | failed
    Column("outcome", Text),
    Column("cost_usd", String(32), nullable=False, default="0"),
    Column("approval_closed", Integer, nullable=False, default=0),
)  # fmt: skip
leader_table = Table(
    "autopilot_leader", metadata,
    Column("id", String(16), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("started_at", _Utc, nullable=False),
    Column("beat_at", _Utc, nullable=False),
    Column("state", String(16), nullable=False),  # running | stopped
    Column("stop_requested_at", _Utc),
    Column("info", Text, nullable=False, default="{}"),
)  # fmt: skip
_LEADER = "leader"


@dataclass(frozen=True)
class JobRow:
    spec: JobSpec
    created_at: datetime
    cursor: datetime | None
    runs: int
    last_slot: datetime | None
    last_run_id: str | None
    last_outcome: str | None
    last_finished_at: datetime | None


@dataclass(frozen=True)
class SlotRow:
    job: str
    slot: datetime
    started_at: datetime
    finished_at: datetime | None
    run_id: str | None
    status: str
    outcome: str | None
    cost_usd: Decimal
    approval_closed: bool


@dataclass(frozen=True)
class Heartbeat:
    holder: str
    started_at: datetime
    beat_at: datetime
    state: str
    stop_requested_at: datetime | None
    info: dict[str, Any]


class AutopilotStore:
    """Reads and writes of the autopilot's tables; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, checkfirst=True)

    # -- jobs ---------------------------------------------------------------------------
    def add(self, spec: JobSpec, now: datetime) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(jobs_table).values(
                    name=spec.name, spec=spec.model_dump_json(), created_at=now, runs=0,
                ))  # fmt: skip
        except IntegrityError:
            raise ConfigError(
                f"an autopilot job named {spec.name!r} exists already: pick another --name, "
                f"or `tiller autopilot remove {spec.name}` first"
            ) from None

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(delete(jobs_table).where(jobs_table.c.name == name)).rowcount
            conn.execute(delete(slots_table).where(slots_table.c.job == name))
        if not gone:
            raise self.missing(name)

    def missing(self, name: str) -> NotFoundError:
        known = [row.spec.name for row in self.jobs()]
        listed = f" (jobs: {', '.join(known)})" if known else " (there are no jobs)"
        return NotFoundError(f"no autopilot job named {name!r}{listed}")

    def jobs(self) -> list[JobRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs_table).order_by(jobs_table.c.name)).mappings().all()
        return [_job(row) for row in rows]

    def job(self, name: str) -> JobRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs_table).where(jobs_table.c.name == name)).mappings()
            found = row.first()
        if found is None:
            raise self.missing(name)
        return _job(found)

    def set_cursor(self, name: str, cursor: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs_table).where(jobs_table.c.name == name).values(cursor=cursor))

    # -- slots --------------------------------------------------------------------------
    def claim(self, job: str, slot: datetime, now: datetime) -> bool:
        """Claim ``slot`` for ``job``; False when it was claimed before (ran, or is running)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(slots_table).values(
                    job=job, slot=slot, started_at=now, status="running", cost_usd="0",
                    approval_closed=0,
                ))  # fmt: skip
        except IntegrityError:
            return False
        return True

    def attach_run(self, job: str, slot: datetime, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(slots_table)
                .where(slots_table.c.job == job, slots_table.c.slot == slot)
                .values(run_id=run_id)
            )

    def finish(
        self, job: str, slot: datetime, now: datetime, *, status: str, outcome: str,
        run_id: str | None = None, cost: Decimal = Decimal(0), counted: bool = False,
        awaiting: bool = False,
    ) -> None:  # fmt: skip
        """Close a slot and copy its outcome to the job (``counted``: it made a run;
        ``awaiting``: the run waits for a person, who may still decide or let it expire)."""
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"finished_at": now, "status": status, "outcome": outcome,
                                      "cost_usd": str(cost),
                                      "approval_closed": 0 if awaiting else 1}  # fmt: skip
            if run_id is not None:
                values["run_id"] = run_id
            conn.execute(
                update(slots_table)
                .where(slots_table.c.job == job, slots_table.c.slot == slot)
                .values(**values)
            )
            job_values: dict[str, Any] = {"last_slot": slot, "last_outcome": outcome,
                                          "last_finished_at": now}  # fmt: skip
            if run_id is not None:
                job_values["last_run_id"] = run_id
            if counted:
                job_values["runs"] = jobs_table.c.runs + 1
            conn.execute(update(jobs_table).where(jobs_table.c.name == job).values(**job_values))

    def record_missed(self, job: str, slot: datetime, now: datetime) -> None:
        """A slot APScheduler skipped: it was due longer ago than the job's grace time."""
        late = int((now - slot).total_seconds())
        outcome = f"missed: due {slot:%Y-%m-%d %H:%M} UTC, {late}s ago, beyond the job's "
        outcome += "grace time (the machine slept, or no leader ran)"
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(slots_table).values(
                    job=job, slot=slot, started_at=now, finished_at=now, status="missed",
                    outcome=outcome, cost_usd="0", approval_closed=1,
                ))  # fmt: skip
                conn.execute(update(jobs_table).where(jobs_table.c.name == job).values(
                    last_slot=slot, last_outcome=outcome, last_finished_at=now))  # fmt: skip
        except IntegrityError:
            return

    def note_outcome(self, job: str, slot: datetime, outcome: str) -> None:
        """A later event about a slot's run (its proposal expired, a person decided)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(slots_table)
                .where(slots_table.c.job == job, slots_table.c.slot == slot)
                .values(outcome=outcome, approval_closed=1)
            )
            # The newest thing that happened to the job, whichever slot it concerns.
            conn.execute(
                update(jobs_table).where(jobs_table.c.name == job).values(last_outcome=outcome)
            )

    def slots(self, job: str | None = None, *, since: datetime | None = None) -> list[SlotRow]:
        query = select(slots_table).order_by(slots_table.c.slot)
        if job is not None:
            query = query.where(slots_table.c.job == job)
        if since is not None:
            query = query.where(slots_table.c.started_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_slot(row) for row in rows]

    def open_approvals(self, job: str) -> list[SlotRow]:
        """Slots whose run may still be waiting for a person."""
        return [
            s for s in self.slots(job)
            if s.run_id is not None and not s.approval_closed and s.status == "done"
        ]  # fmt: skip

    # -- the leader's heartbeat ---------------------------------------------------------
    def beat(self, holder: str, now: datetime, *, started_at: datetime, state: str,
             info: dict[str, Any]) -> None:  # fmt: skip
        """Write the heartbeat (a new leader replaces the row, and any old stop request)."""
        values = {"holder": holder, "started_at": started_at, "beat_at": now, "state": state,
                  "info": json.dumps(info, default=str, sort_keys=True)}  # fmt: skip
        # Write first (no read before it): on SQLite a transaction that reads and then
        # writes can fail at once when another writer holds the lock; a write waits.
        keep = case((leader_table.c.holder == holder, leader_table.c.stop_requested_at),
                    else_=None)  # fmt: skip
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(leader_table).where(leader_table.c.id == _LEADER)
                .values(stop_requested_at=keep, **values)
            ).rowcount  # fmt: skip
            if not changed:
                conn.execute(insert(leader_table).values(id=_LEADER, **values))

    def heartbeat(self) -> Heartbeat | None:
        with self.engine.connect() as conn:
            query = select(leader_table).where(leader_table.c.id == _LEADER)
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return Heartbeat(
            holder=row["holder"], started_at=row["started_at"], beat_at=row["beat_at"],
            state=row["state"], stop_requested_at=row["stop_requested_at"],
            info=json.loads(row["info"] or "{}"),
        )  # fmt: skip

    def request_stop(self, now: datetime) -> bool:
        """Ask the running leader to stop; False when there is no heartbeat row."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(leader_table)
                .where(leader_table.c.id == _LEADER)
                .values(stop_requested_at=now)
            ).rowcount
        return bool(done)


def _job(row: Any) -> JobRow:
    return JobRow(
        spec=JobSpec.model_validate_json(row["spec"]), created_at=row["created_at"],
        cursor=row["cursor"], runs=row["runs"] or 0, last_slot=row["last_slot"],
        last_run_id=row["last_run_id"], last_outcome=row["last_outcome"],
        last_finished_at=row["last_finished_at"],
    )  # fmt: skip


def _slot(row: Any) -> SlotRow:
    return SlotRow(
        job=row["job"], slot=row["slot"], started_at=row["started_at"],
        finished_at=row["finished_at"], run_id=row["run_id"], status=row["status"],
        outcome=row["outcome"], cost_usd=Decimal(row["cost_usd"] or "0"),
        approval_closed=bool(row["approval_closed"]),
    )  # fmt: skip
