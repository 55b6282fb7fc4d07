"""``serve``: what ``tiller autopilot start`` runs in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.autopilot._leader import new_leader, take_lead
from app.autopilot._live import check_live
from app.autopilot._pilot import Autopilot
from app.autopilot._profile import profile_limits

if TYPE_CHECKING:
    from app.autopilot._settings import AutopilotSettings
    from app.bootstrap import Container


def serve(
    c: Container,
    settings: AutopilotSettings,
    *,
    limits_file: Path | None = None,
    wait: bool = False,
    wait_timeout_s: float | None = None,
    exit_after_s: float | None = None,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Lead this ledger's autopilot until stopped; return why it stopped. Refuses (or
    waits, with ``wait``) while another autopilot leads the same ledger."""
    limits = profile_limits(c.limits, limits_file or settings.limits_file)
    pilot = Autopilot(container=c, settings=settings, limits=limits)
    leader = new_leader(pilot)
    if stop is not None:
        leader.stop = stop
    take_lead(leader.lock, pilot, wait=wait, timeout_s=wait_timeout_s, say=say)
    try:
        if settings.notify_webhook is not None:
            from app.autopilot._notify import Notifier

            pilot.notifier = Notifier(str(settings.notify_webhook))
        for warning in check_live(pilot):
            say(f"warning: {warning}")
        for line in leader.open():
            say(line)
        jobs = pilot.store.jobs()
        say(f"autopilot started ({leader.holder}): {len(jobs)} job(s); heartbeat every "
            f"{settings.cycle_s:g} s, marks to market every {settings.mark_every_s:g} s; "
            "stop with `tiller autopilot stop` or Ctrl-C")  # fmt: skip
        return leader.run(exit_after_s=exit_after_s)
    finally:
        leader.close()
