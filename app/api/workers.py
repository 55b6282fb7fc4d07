"""Agent runs in the background: a bounded pool of worker threads in the API process.

At most ``workers`` runs execute at once and ``queue`` more wait; beyond that a new run
is refused (503 with Retry-After) *before* it is recorded, so no run is left without a
worker. A restarted server resumes the runs it had started that were still running and
not waiting for a person (their record and checkpoints are in the database); a run that
cannot continue is marked failed with the reason.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from core.errors import TillerError, UnavailableError

if TYPE_CHECKING:
    from app.bootstrap import Container
    from app.services.usage import Reservation

log = logging.getLogger("app.api.workers")
SURFACE = "api"


class QueueFullError(UnavailableError):
    retry_after = 5


class RunWorkers:
    def __init__(self, c: Container, workers: int, queue: int) -> None:
        self.c = c
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tiller-run")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self._active: dict[str, Future[None]] = {}
        self._decisions: dict[str, threading.Lock] = {}
        self.capacity = workers + queue

    def decision_lock(self, run_id: str) -> threading.Lock:
        """One decision at a time per run in this process (two people approving at once
        must not both resume the paused graph)."""
        with self._lock:
            return self._decisions.setdefault(run_id, threading.Lock())

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """A place in the pool, taken before the run is recorded: ``Slot.submit`` hands
        the run to a worker; leaving the block without submitting frees the place."""
        if not self._slots.acquire(blocking=False):
            raise QueueFullError(
                f"{self.capacity} agent runs are running or queued; try again shortly",
                hint="raise TILLER_API_WORKERS or TILLER_API_QUEUE_SIZE",
            )
        slot = Slot(self)
        try:
            yield slot
        finally:
            if not slot.submitted:
                self._slots.release()

    def _submit(self, run_id: str, reservation: Reservation | None) -> None:
        future = self._pool.submit(self._drive, run_id, reservation)
        with self._lock:
            self._active[run_id] = future
        future.add_done_callback(lambda _f: self._done(run_id))

    def _done(self, run_id: str) -> None:
        with self._lock:
            self._active.pop(run_id, None)
        self._slots.release()

    def _drive(self, run_id: str, reservation: Reservation | None) -> None:
        from app.services.runs import drive_run, fail_run
        from app.services.usage import run_llm_cost, settle

        try:
            drive_run(self.c, run_id)
        except TillerError as exc:  # the runner recorded the failure with the run
            log.warning("run %s failed: %s", run_id, exc)
        except Exception as exc:  # a bug: the run must not stay RUNNING for ever
            if sys.is_finalizing() or "after shutdown" in str(exc):
                # The process is exiting under the run: the next server resumes it.
                log.warning("run %s interrupted by the server's exit", run_id)
                return
            log.exception("run %s failed with an internal error", run_id)
            fail_run(self.c, run_id, f"internal error ({type(exc).__name__})")
        finally:
            if reservation is not None:
                settle(self.c, reservation, run_llm_cost(self.c, run_id))

    def running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._active

    def recover(self) -> list[str]:
        """Hand this server's unfinished runs (not waiting for a person) to workers."""
        from app.services.runs import fail_run, unfinished_runs

        resumed = []
        for view in unfinished_runs(self.c, SURFACE):
            if self.running(view.run_id) or view.queued:  # a queue worker has that one
                continue
            try:
                with self.slot() as slot:
                    slot.submit(view.run_id, None)
                resumed.append(view.run_id)
            except QueueFullError:
                fail_run(self.c, view.run_id, "the API restarted and its run queue was full; "
                         "start the run again")  # fmt: skip
        if resumed:
            log.info("resuming %d run(s) interrupted by a restart: %s", len(resumed), resumed)
        return resumed

    def close(self, wait: bool = True) -> None:
        """Finish the runs in progress (``wait``); queued ones stay RUNNING in the record
        and the next server resumes them."""
        self._pool.shutdown(wait=wait, cancel_futures=True)


class Slot:
    def __init__(self, workers: RunWorkers) -> None:
        self._workers = workers
        self.submitted = False

    def submit(self, run_id: str, reservation: Reservation | None) -> None:
        self._workers._submit(run_id, reservation)
        self.submitted = True
