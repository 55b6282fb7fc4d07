"""APScheduler 3, driven by the autopilot's own loop, with its job store in the ledger.

- ``DrivenScheduler`` has no thread of its own: the leader's loop calls ``run_due`` (and
  tests call it too, so nothing waits on wall-clock sleeps). Adding or changing a job in
  this process wakes the loop early; changes made by another process are seen at the
  next cycle.
- ``SlotExecutor`` hands the job function the slot it runs for (APScheduler's scheduled
  run time; with ``coalesce`` the latest missed one), so a restarted autopilot can tell a
  slot it already ran from a new one.
- Jobs are stored as the importable reference ``app.autopilot._runtime:run_slot`` with
  the job's name, ``replace_existing``, ``coalesce=True``, ``max_instances=1`` and the
  job's ``misfire_grace_time``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.autopilot._spec import JobSpec, trigger
from app.autopilot._store import JOBSTORE_TABLE

JOB_FUNC = "app.autopilot._runtime:run_slot"


class LedgerJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy store on the ledger's engine, which it must not dispose
    of when the scheduler shuts down (the ledger keeps using it)."""

    def shutdown(self) -> None:
        return None


class DrivenScheduler(BaseScheduler):
    """A scheduler whose jobs are processed when its owner calls ``run_due``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._event = threading.Event()

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)
        self._event.set()

    def wakeup(self) -> None:
        self._event.set()

    def run_due(self) -> float | None:
        """Start every due job; return seconds until the next one (None: none scheduled)."""
        wait: float | None = self._process_jobs()
        return wait

    def pause_for(self, seconds: float) -> None:
        """Sleep until ``seconds`` pass or a job is added or changed in this process."""
        self._event.wait(seconds)
        self._event.clear()


class SlotExecutor(BaseExecutor):
    """Runs each due job with ``slot`` (its scheduled time, ISO 8601) added to its kwargs:
    inline in the caller's thread (``workers=0``, tests) or in a pool of ``workers``."""

    def __init__(self, workers: int = 1) -> None:
        super().__init__()
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="autopilot")
            if workers > 0
            else None
        )

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        if self._pool is None:
            try:
                events = self._run(job, run_times)
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)
            return

        def done(future: concurrent.futures.Future[list[Any]]) -> None:
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(self._run, job, run_times).add_done_callback(done)

    def _run(self, job: Job, run_times: list[datetime]) -> list[Any]:
        events: list[Any] = []
        for run_time in run_times:
            events += run_job(_with_slot(job, run_time), job._jobstore_alias, [run_time],
                              self._logger.name)  # fmt: skip
        return events

    def shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait)


def _with_slot(job: Job, run_time: datetime) -> Job:
    """A copy of ``job`` whose kwargs name the slot (the scheduler keeps the original and
    stores it again, so the slot must not leak into the job store)."""
    clone: Job = Job.__new__(Job)
    clone.__setstate__(job.__getstate__())
    clone._scheduler, clone._jobstore_alias = job._scheduler, job._jobstore_alias
    clone.kwargs = {**job.kwargs, "slot": run_time.astimezone(UTC).isoformat()}
    return clone


def build_scheduler(engine: Engine, *, workers: int = 1) -> DrivenScheduler:
    return DrivenScheduler(
        jobstores={"default": LedgerJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": SlotExecutor(workers)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )


@contextmanager
def editing(engine: Engine) -> Iterator[DrivenScheduler]:
    """A paused scheduler on the job store: what another process uses to add, change or
    read jobs (a paused scheduler writes to the store at once and runs nothing)."""
    scheduler = build_scheduler(engine, workers=0)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def schedule(scheduler: BaseScheduler, spec: JobSpec, *, paused: bool = False) -> Job:
    options: dict[str, Any] = {}
    if paused:
        options["next_run_time"] = None
    return scheduler.add_job(
        JOB_FUNC, trigger=trigger(spec), id=spec.name, name=spec.name,
        kwargs={"name": spec.name}, replace_existing=True, coalesce=True, max_instances=1,
        misfire_grace_time=int(spec.grace.total_seconds()), **options,
    )  # fmt: skip


def next_run(scheduler: BaseScheduler, name: str) -> tuple[bool, datetime | None]:
    """(scheduled at all, next run time: None when paused)."""
    job = scheduler.get_job(name)
    if job is None:
        return False, None
    when = job.next_run_time
    return True, None if when is None else when.astimezone(UTC)


def unschedule(scheduler: BaseScheduler, name: str) -> None:
    # Already gone from the job store is fine: the job's own row is what counts.
    with contextlib.suppress(JobLookupError):
        scheduler.remove_job(name)
