"""When jobs fire: cron times are wall-clock times in the job's zone (DST included),
intervals are absolute, and crontab weekdays mean what crontab means."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.autopilot import JobSpec, parse_duration, trigger
from core.errors import ConfigError

NY = ZoneInfo("America/New_York")


def fire_times(spec: JobSpec, start: datetime, n: int) -> list[datetime]:
    """The next ``n`` fire times after ``start``, as the scheduler asks for them."""
    trig = trigger(spec)
    times: list[datetime] = []
    previous, now = None, start
    for _ in range(n):
        nxt = trig.get_next_fire_time(previous, now)
        assert nxt is not None
        times.append(nxt.astimezone(UTC))
        previous = now = nxt
    return times


def job(**fields: object) -> JobSpec:
    return JobSpec(**{"name": "t", "symbols": ["AAPL"], **fields})  # type: ignore[arg-type]


def test_cron_weekdays_1_to_5_then_monday_to_friday_not_apschedulers_tuesday_to_saturday() -> None:
    # 2026-03-02 is a Monday. APScheduler 3 counts weekdays from Monday = 0, so handing
    # it "1-5" unchanged would run Tuesday to Saturday.
    times = fire_times(job(cron="30 9 * * 1-5"), datetime(2026, 3, 1, tzinfo=UTC), 5)
    assert [t.strftime("%a") for t in times] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [("0", ["Sun"]), ("7", ["Sun"]), ("sat,sun", ["Sat", "Sun"]), ("5-7", ["Fri", "Sat", "Sun"]),
     ("*/2", ["Sun", "Tue", "Thu", "Sat"])],
)  # fmt: skip
def test_cron_weekday_forms_then_crontab_meaning(weekdays: str, expected: list[str]) -> None:
    times = fire_times(job(cron=f"0 12 * * {weekdays}"), datetime(2026, 3, 1, tzinfo=UTC), 14)
    assert sorted({t.strftime("%a") for t in times}, key=expected.index) == expected


def test_cron_at_the_open_in_new_york_across_dst_start_then_same_local_time() -> None:
    # Clocks went forward on Sunday 2026-03-08: 9:30 is 14:30 UTC before, 13:30 after.
    spec = job(cron="30 9 * * 1-5", timezone="America/New_York")
    times = fire_times(spec, datetime(2026, 3, 5, tzinfo=UTC), 4)
    assert [t.isoformat() for t in times] == [
        "2026-03-05T14:30:00+00:00", "2026-03-06T14:30:00+00:00",
        "2026-03-09T13:30:00+00:00", "2026-03-10T13:30:00+00:00",
    ]  # fmt: skip
    assert {t.astimezone(NY).strftime("%H:%M") for t in times} == {"09:30"}


def test_cron_at_the_open_in_new_york_across_dst_end_then_same_local_time() -> None:
    spec = job(cron="30 9 * * 1-5", timezone="America/New_York")
    times = fire_times(spec, datetime(2026, 10, 29, tzinfo=UTC), 3)
    assert [t.isoformat() for t in times] == [
        "2026-10-29T13:30:00+00:00", "2026-10-30T13:30:00+00:00", "2026-11-02T14:30:00+00:00",
    ]  # fmt: skip


def test_daily_cron_in_the_hour_clocks_repeat_then_runs_once_that_night() -> None:
    # On 2026-11-01 New York's 01:00-02:00 happens twice; APScheduler 3 alone fires 01:30
    # in both (05:30 and 06:30 UTC).
    times = fire_times(job(cron="30 1 * * *", timezone="America/New_York"),
                       datetime(2026, 10, 31, 12, tzinfo=UTC), 3)  # fmt: skip
    assert [t.isoformat() for t in times] == [
        "2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00", "2026-11-03T06:30:00+00:00",
    ]  # fmt: skip


def test_daily_cron_in_the_hour_clocks_skip_then_runs_once_an_hour_later() -> None:
    # 02:30 does not exist in New York on 2026-03-08: that day's run is at 03:30 EDT.
    times = fire_times(job(cron="30 2 * * *", timezone="America/New_York"),
                       datetime(2026, 3, 7, 12, tzinfo=UTC), 3)  # fmt: skip
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in times] == [
        "03-08 03:30", "03-09 02:30", "03-10 02:30",
    ]  # fmt: skip


def test_every_hour_across_a_dst_change_then_stays_sixty_minutes_apart() -> None:
    spec = job(every=timedelta(hours=1), timezone="America/New_York")
    times = fire_times(spec, datetime(2026, 3, 8, 5, tzinfo=UTC), 5)
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(hours=1)}


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"every": timedelta(hours=1), "cron": "0 9 * * *"}, "exactly one schedule"),
        ({}, "exactly one schedule"),
        ({"cron": "0 9 * *"}, "5 fields"),
        ({"cron": "0 25 * * *"}, "invalid cron schedule"),
        ({"cron": "0 9 * * 8"}, "weekday '8'"),
        ({"cron": "0 9 * * 5-1"}, "runs backwards"),
        ({"every": timedelta(hours=1), "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every": timedelta(hours=1), "name": "../etc"}, "letters, digits"),
        ({"every": timedelta(hours=1), "symbols": []}, "at least 1"),
    ],
)
def test_invalid_job_then_refused_saying_what_is_wrong(fields: dict, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        job(**fields)


@pytest.mark.parametrize("text", ["1", "1h30m", "-5m", "0s", "400d", "soon"])
def test_duration_that_is_not_a_number_and_a_unit_then_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--every"):
        parse_duration(text, option="--every")


def test_durations_read_as_people_write_them() -> None:
    assert parse_duration("90s", option="x") == timedelta(seconds=90)
    assert parse_duration("1w", option="x") == timedelta(days=7)
