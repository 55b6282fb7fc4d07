"""The autonomous mode: the agents on a schedule, paper by default, within a limits
profile that only tightens the main limits, with one leader per ledger.

    tiller autopilot add --name demo --symbols AAPL --every 1h
    tiller autopilot start

Jobs live in APScheduler's SQLAlchemy job store inside the ledger's database (their
specifications and slots in the autopilot's own tables next to it); ``serve`` leads.
"""

from app.autopilot._pilot import Autopilot, AutopilotBusyError
from app.autopilot._profile import AUTOPILOT_DEFAULTS, profile_limits
from app.autopilot._serve import serve
from app.autopilot._settings import AutopilotSettings, load_autopilot_settings
from app.autopilot._spec import JobSpec, parse_duration, trigger

__all__ = [
    "AUTOPILOT_DEFAULTS",
    "Autopilot",
    "AutopilotBusyError",
    "AutopilotSettings",
    "JobSpec",
    "load_autopilot_settings",
    "parse_duration",
    "profile_limits",
    "serve",
    "trigger",
]
