"""Schedules: strict parsing, wall-clock periods across DST, overnight periods, holidays, and the policy's JSON."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from dbscale.core import Period
from dbscale.core.autoscale import AutoscalePolicy, AutoscalerConfig, ClusterRef
from dbscale.core.autoscale.schedules import bounds_at, parse_holidays
from dbscale.core.errors import InvalidRequest

BERLIN = ZoneInfo("Europe/Berlin")


def at(year: int, month: int, day: int, hour: int, minute: int = 0, tz: ZoneInfo | None = None) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=tz or timezone.utc).timestamp()


def on(period: Period, moment: float) -> bool:
    return period.occurrence_day(datetime.fromtimestamp(moment, tz=timezone.utc)) is not None


@pytest.mark.parametrize(
    ("spec", "days", "start", "end"),
    [
        ("Mon-Fri 07:30-19:00", {0, 1, 2, 3, 4}, 450, 1140),
        ("sat,SUN 00:00-24:00", {5, 6}, 0, 1440),
        ("Fri-Mon 22:00-06:00", {4, 5, 6, 0}, 1320, 360),
        ("Daily 9:05-17:00", set(range(7)), 545, 1020),
    ],
)
def test_a_period_reads_like_a_sign_on_a_door(spec: str, days: set[int], start: int, end: int) -> None:
    period = Period(spec)
    assert (set(period.days), period.start_minute, period.end_minute) == (days, start, end)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spec": "Mon-Fri"}, "does not read as"),
        ({"spec": "Mon-Fri 7-19"}, "does not read as"),
        ({"spec": "Moo 07:00-08:00"}, "'moo' is not a day"),
        ({"spec": "Mon-Tue-Wed 07:00-08:00"}, "is not a day"),
        ({"spec": "Mon 25:00-26:00"}, "'25:00' is not a time of day"),
        ({"spec": "Mon 24:00-06:00"}, "'24:00' is not a time of day"),
        ({"spec": "Mon 07:60-08:00"}, "is not a time of day"),
        ({"spec": "Mon 07:00-07:00"}, "starts and ends at the same time"),
        ({"spec": "Mon 07:00-08:00", "tz": "Mars/Olympus"}, "is not a time zone"),
        ({"spec": "Mon 07:00-08:00", "min_nodes": 6, "max_nodes": 4}, "greater than max_nodes"),
        ({"spec": "Mon 07:00-08:00", "min_nodes": 1}, "at least 2"),
        ({"spec": "Mon 07:00-08:00", "min_nodes": 2.5}, "whole number"),
        ({"spec": "Mon 07:00-08:00", "max_acu": 0.5}, "at least 1"),
        ({"spec": "Mon 07:00-08:00", "min_acu": 1.25}, "steps of 0.5"),
        ({"spec": "Mon 07:00-08:00", "paused": True, "min_nodes": 4}, "cannot also set bounds"),
        ({"spec": "Mon 07:00-08:00", "paused": "yes"}, "True or False"),
    ],
)
def test_a_period_that_does_not_parse_is_refused_with_the_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        Period(**kwargs)  # type: ignore[arg-type]


def test_periods_keep_their_wall_clock_hours_across_daylight_saving() -> None:
    period = Period("Mon-Fri 07:30-19:00", tz="Europe/Berlin", min_nodes=4)
    # Friday 2025-03-28 is CET (UTC+1), Monday 2025-03-31 is CEST (UTC+2): 07:30 local both days.
    assert on(period, at(2025, 3, 28, 6, 30)) and not on(period, at(2025, 3, 28, 6, 29))
    assert on(period, at(2025, 3, 31, 5, 30)) and not on(period, at(2025, 3, 31, 5, 29))
    assert on(period, at(2025, 3, 31, 16, 59)) and not on(period, at(2025, 3, 31, 17, 0))
    # Back to CET on Sunday 2025-10-26: Monday opens at 06:30 UTC again.
    assert on(period, at(2025, 10, 27, 6, 30)) and not on(period, at(2025, 10, 27, 5, 30))


def test_a_period_in_the_spring_forward_gap_starts_when_the_clock_jumps() -> None:
    period = Period("Sun 02:30-04:00", tz="Europe/Berlin")
    # 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 never happens; 03:00 is inside.
    assert not on(period, at(2025, 3, 30, 0, 59))
    assert on(period, at(2025, 3, 30, 1, 0))
    assert not on(period, at(2025, 3, 30, 2, 0))


def test_the_repeated_hour_when_clocks_go_back_is_inside_a_period_that_covers_it() -> None:
    period = Period("Sun 02:00-03:00", tz="Europe/Berlin")
    # 2025-10-26: 03:00 CEST goes back to 02:00 CET; 02:00-03:00 local happens twice (00:00-02:00 UTC).
    assert on(period, at(2025, 10, 26, 0, 0)) and on(period, at(2025, 10, 26, 1, 30))
    assert not on(period, at(2025, 10, 26, 2, 0))


def test_an_overnight_period_belongs_to_the_day_it_starts() -> None:
    period = Period("Fri 22:00-06:00")
    assert not on(period, at(2025, 1, 17, 21, 59))  # Friday
    assert on(period, at(2025, 1, 17, 22, 0)) and on(period, at(2025, 1, 18, 5, 59))  # into Saturday
    assert not on(period, at(2025, 1, 18, 6, 0)) and not on(period, at(2025, 1, 18, 22, 0))
    closed = bounds_at([period], at(2025, 1, 18, 3, 0), holidays=[date(2025, 1, 17)])
    assert closed.active == () and closed.holiday == "2025-01-17"


def test_holidays_switch_periods_off_in_the_periods_own_time_zone() -> None:
    period = Period("Mon-Fri 07:30-19:00", tz="Europe/Berlin", min_nodes=4)
    christmas = at(2025, 12, 25, 8, 0, BERLIN)
    assert bounds_at([period], christmas).min_nodes == 4
    off = bounds_at([period], christmas, holidays=[date(2025, 12, 25)])
    assert (off.min_nodes, off.active, off.holiday) == (None, (), "2025-12-25")
    held = bounds_at([period], christmas, holidays=[date(2025, 12, 25)], paused_outside=True)
    assert held.paused


def test_overlapping_periods_combine_towards_capacity() -> None:
    periods = [
        Period("Mon-Fri 00:00-24:00", paused=True),
        Period("Mon 08:00-18:00", min_nodes=4, max_nodes=6),
        Period("Mon 12:00-14:00", min_nodes=6, max_nodes=10),
    ]
    monday_noon = at(2025, 1, 13, 12, 30)
    both = bounds_at(periods, monday_noon)
    assert (both.paused, both.min_nodes, both.max_nodes, len(both.active)) == (False, 6, 10, 2)
    assert bounds_at(periods, at(2025, 1, 13, 19, 0)).paused
    assert not bounds_at(periods, at(2025, 1, 18, 12, 0)).scheduled  # Saturday: no period


def test_holidays_parse_strictly() -> None:
    assert parse_holidays(["2025-12-26", date(2025, 12, 25), "2025-12-25"]) == (date(2025, 12, 25), date(2025, 12, 26))
    for bad in (["25.12.2025"], [datetime(2025, 12, 25)], "2025-12-25", [20251225]):
        with pytest.raises(InvalidRequest, match="holidays"):
            parse_holidays(bad)  # type: ignore[arg-type]


def test_the_policy_carries_schedules_through_json_to_the_handler() -> None:
    policy = AutoscalePolicy(
        redshift_node_type="ra3.xlplus",
        schedule=(
            Period("Mon-Fri 07:30-19:00", tz="Europe/Berlin", min_nodes=4),
            Period("Mon-Fri 19:00-07:30", tz="Europe/Berlin", paused=True),
        ),
        holidays=("2025-12-25",),
        forecasts=True,
        forecast_tz="Europe/Berlin",
    )
    assert policy.holidays == (date(2025, 12, 25),)
    config = AutoscalerConfig(policy=policy, clusters=(ClusterRef.redshift("warehouse"),))
    again = AutoscalerConfig.from_json(json.dumps(config.to_dict()))
    assert again.policy == policy and again.policy.schedule[0].min_nodes == 4


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schedule": "Mon-Fri 07:00-19:00"}, "schedule"),
        ({"schedule": ({"spec": "Mon 07:00-08:00", "colour": "red"},)}, "schedule"),
        ({"redshift_node_type": "ra3.xlplus", "schedule": (Period("Mon 07:00-08:00", min_nodes=64),)}, "schedule.min_nodes"),
        ({"schedule": (Period("Mon 07:00-08:00", paused=True),), "paused_outside_schedule": True}, "paused_outside_schedule"),
        ({"forecast_tz": "Nowhere/Else"}, "forecast_tz"),
        ({"forecast_history_days": 7}, "forecast_history_days"),
        ({"expected_resize_minutes": -1}, "expected_resize_minutes"),
        ({"forecasts": "yes"}, "forecasts"),
    ],
)
def test_a_policy_with_a_bad_schedule_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        AutoscalePolicy(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
