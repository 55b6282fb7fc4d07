"""Jobs in the ledger's database (SQLite and PostgreSQL): added, listed, paused, resumed
and removed from any process, and still there after a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.autopilot import AutopilotSettings, JobSpec
from app.bootstrap import build
from app.services.autopilot import (
    add_job,
    list_jobs,
    pause_job,
    remove_job,
    resume_job,
    status,
)
from core.errors import ConfigError, NotFoundError

HOURLY = JobSpec(name="hourly", symbols=["AAPL", "MSFT"], every=timedelta(hours=1))
OFF = AutopilotSettings()


def test_added_job_then_listed_with_its_next_run_and_kept_across_a_restart(
    database_url: str, home: Path
) -> None:
    c = build(database_url=database_url)
    added = add_job(c, HOURLY, OFF)
    assert added.schedule == "every 1h" and added.mode == "paper" and added.approval == "auto"
    assert added.next_run is not None and not added.paused
    restarted = build(database_url=database_url)  # as another process would
    (listed,) = list_jobs(restarted)
    assert listed.name == "hourly" and listed.symbols == ["AAPL", "MSFT"]
    assert listed.next_run == added.next_run  # the stored slot, not a new one


def test_pause_then_no_next_run_and_resume_then_a_future_one(database_url: str, home: Path) -> None:
    c = build(database_url=database_url)
    add_job(c, HOURLY, OFF)
    paused = pause_job(c, "hourly")
    assert paused.paused and paused.next_run is None
    resumed = resume_job(build(database_url=database_url), "hourly")
    assert not resumed.paused and resumed.next_run is not None


def test_removed_job_then_gone_everywhere(database_url: str, home: Path) -> None:
    c = build(database_url=database_url)
    add_job(c, HOURLY, OFF)
    remove_job(c, "hourly")
    assert list_jobs(c) == []
    with pytest.raises(NotFoundError, match="no autopilot job named 'hourly'"):
        pause_job(c, "hourly")
    add_job(c, HOURLY, OFF)  # the name is free again


def test_second_job_with_the_same_name_then_refused_and_the_first_kept(home: Path) -> None:
    c = build()
    add_job(c, HOURLY, OFF)
    with pytest.raises(ConfigError, match="named 'hourly' exists already"):
        add_job(c, HOURLY.model_copy(update={"symbols": ["IBM"]}), OFF)
    assert list_jobs(c)[0].symbols == ["AAPL", "MSFT"]


def test_job_on_a_symbol_with_no_stored_bars_then_refused_when_added(home: Path) -> None:
    c = build()
    with pytest.raises(NotFoundError, match="NOSUCH"):
        add_job(c, JobSpec(name="x", symbols=["NOSUCH"], every=timedelta(hours=1)), OFF)
    assert list_jobs(c) == []


@pytest.mark.parametrize(
    ("venue", "live", "missing"),
    [("paper", False, "TILLER_TRADING_VENUE is paper"),
     ("paper", True, "TILLER_TRADING_VENUE is paper"),
     ("binance", False, "TILLER_AUTOPILOT_LIVE is not 1")],
)  # fmt: skip
def test_live_job_without_both_switches_then_refused_naming_the_missing_one(
    home: Path, venue: str, live: bool, missing: str
) -> None:
    c = build(trading_venue=venue)
    spec = HOURLY.model_copy(update={"mode": "live"})
    with pytest.raises(ConfigError, match=missing):
        add_job(c, spec, AutopilotSettings(live=live))
    assert list_jobs(c) == []


def test_status_with_no_autopilot_ever_then_not_running_and_jobs_listed(
    database_url: str, home: Path
) -> None:
    c = build(database_url=database_url)
    add_job(c, HOURLY, OFF)
    data = status(c, OFF)
    assert not data.leader.running and data.leader.heartbeat_at is None
    assert [j.name for j in data.jobs] == ["hourly"]
    assert data.live_switches == {"trading_venue_not_paper": False, "TILLER_AUTOPILOT_LIVE": False}
