"""``tiller worker``: a process that takes agent runs from the run queue
(``TILLER_WORKER_BROKER``) and drives them, with the same database as everyone else."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from app.cli._common import container, err, handle_errors
from core.errors import ConfigError


@handle_errors
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Runs driven at once (default: the cores here)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="This worker's name in run records (default: worker-PID@HOST)."),
    ] = None,
) -> None:
    """Drive the agent runs that the API, the autopilot and `tiller run --queue` put on
    the run queue, until stopped (Ctrl-C). Start as many as you like, on any machine that
    reaches the broker and the database; a run whose worker died goes to another."""
    from app.logs import configure_logging
    from app.services.queue import start_worker

    c = container()
    broker = c.settings.worker_broker
    if broker is None:
        raise ConfigError(
            "no run queue is configured",
            hint="set TILLER_WORKER_BROKER=redis://localhost:6379/0 (or "
            "amqp://guest:guest@localhost:5672//) here and where runs are started",
        )
    if c.ledger.engine.url.get_backend_name() != "postgresql":
        err.print("[yellow]warning:[/] the ledger is SQLite: only workers on this machine "
                  "see it. Point TILLER_DATABASE_URL at PostgreSQL to add machines.")  # fmt: skip
    workers = concurrency or os.cpu_count() or 1
    label = name or f"worker-{os.getpid()}@{socket.gethostname()}"
    queue = c.run_queue
    assert queue is not None
    err.print(f"tiller worker {label}: {workers} at once, queue {queue.queue} on "
              f"{queue.where}", highlight=False)  # fmt: skip
    configure_logging(c.settings, c.settings.log_level)
    start_worker(broker.get_secret_value(), c.settings.worker_queue,
                 c.settings.worker_visibility_timeout_s, workers, label)  # fmt: skip
