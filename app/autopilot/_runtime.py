"""The job functions APScheduler calls by reference (``module:function``): a stored job
names a function, not an object, so the autopilot leading this process registers itself
here and the function finds it."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from app.autopilot._pilot import Autopilot

_lock = threading.Lock()
_active: Autopilot | None = None


def activate(pilot: Autopilot | None) -> None:
    global _active
    with _lock:
        _active = pilot


def active() -> Autopilot:
    with _lock:
        pilot = _active
    if pilot is None:
        raise ConfigError("no autopilot leads this process: jobs run only under `autopilot start`")
    return pilot


def run_slot(name: str, slot: str | None = None) -> str:
    """Run job ``name`` for its scheduled ``slot`` (ISO 8601, added by the autopilot's
    executor when the job is due; APScheduler checks at ``add_job`` that the stored
    arguments fit, so it has a default); return what happened."""
    if slot is None:
        raise ConfigError(f"job {name!r} was called without its slot; only the autopilot runs it")
    return active().run_slot(name, datetime.fromisoformat(slot))
