"""Forecasts by hour of week, the guide the rules follow, and the schedule and forecast rules' decisions."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.autoscale import AutoscalePolicy, Autoscaler, ClusterRef, MemoryStateStore, Period
from dbscale.core.autoscale.forecasts import (
    CAPACITY_METRIC,
    ForecastCheck,
    history_window,
    hour_of_week,
    learn,
    load_history,
)
from dbscale.core.autoscale.guide import block_peak_so_far, busy_block, guide_for, trust_forecast
from dbscale.core.autoscale.memory import Memory
from dbscale.core.autoscale.observe import Observed
from tests.fakes import FakeClock

MONDAY = datetime(2025, 1, 13, tzinfo=timezone.utc).timestamp()
HOUR = 3600


def weekday_load(stamp: float) -> float:
    """A working week: 400 from 08:00 to 18:00 on weekdays, 100 on weekend afternoons, else 0."""
    moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
    if moment.weekday() < 5:
        return 400.0 if 8 <= moment.hour < 18 else 0.0
    return 100.0 if 12 <= moment.hour < 16 else 0.0


def history(days: int, load: Any = weekday_load, end: float = MONDAY) -> tuple[list[tuple[float, float]], ...]:
    stamps = [end - (days * 24 - h) * HOUR for h in range(days * 24)]
    return [(s, load(s)) for s in stamps], [(s, load(s) * 0.9) for s in stamps]


def test_hour_of_week_is_wall_clock_in_the_zone() -> None:
    assert hour_of_week(MONDAY) == 0
    assert hour_of_week(MONDAY + 167 * HOUR) == 167
    assert hour_of_week(MONDAY, "Europe/Berlin") == 1  # 01:00 CET on Monday


def test_a_short_history_gives_no_usable_forecast() -> None:
    peaks, troughs = history(10)
    forecast = learn(peaks, troughs, now=MONDAY)
    assert not forecast.usable and "10.0 days of history, fewer than the 14" in forecast.reason


def test_a_regular_history_is_learnt_by_hour_of_week_and_back_tested() -> None:
    peaks, troughs = history(21)
    forecast = learn(peaks, troughs, now=MONDAY)
    assert forecast.usable and forecast.error == 0.0
    assert forecast.peak(MONDAY + 8 * HOUR, MONDAY + 9 * HOUR) == 400.0
    assert forecast.trough(MONDAY + 8 * HOUR, MONDAY + 9 * HOUR) == 360.0
    assert forecast.peak(MONDAY, MONDAY + 7 * HOUR) == 0.0
    assert forecast.peak(MONDAY + 5 * 86400 + 12 * HOUR, MONDAY + 5 * 86400 + 13 * HOUR) == 100.0


def test_a_history_whose_last_week_broke_the_pattern_is_not_trusted() -> None:
    def changed(stamp: float) -> float:
        return weekday_load(stamp) if stamp < MONDAY - 7 * 86400 else weekday_load(stamp + 6 * HOUR)

    forecast = learn(*history(21, changed), now=MONDAY)
    assert not forecast.usable and forecast.error is not None and forecast.error > 0.35
    assert "more than the 35% allowed" in forecast.reason


def test_the_live_check_flags_both_directions() -> None:
    assert ForecastCheck(observed=600, low=360, high=400, tolerance=10).under
    assert ForecastCheck(observed=20, low=360, high=400, tolerance=10).over
    check = ForecastCheck(observed=380, low=360, high=400, tolerance=10)
    assert not check.wrong and "within the forecast band 360-400" in check.describe()


def test_busy_stretches_are_found_ahead_and_measured_from_their_start() -> None:
    forecast = learn(*history(21), now=MONDAY)
    block = busy_block(forecast, MONDAY + 7 * HOUR, within=2 * HOUR, quiet=10)
    assert block == (MONDAY + 8 * HOUR, MONDAY + 18 * HOUR, 400.0)
    assert busy_block(forecast, MONDAY + 2 * HOUR, within=2 * HOUR, quiet=10) is None
    assert block_peak_so_far(forecast, MONDAY + 17 * HOUR, quiet=10) == 400.0
    assert block_peak_so_far(forecast, MONDAY + 19 * HOUR, quiet=10) == 0.0


def test_a_forecast_the_live_load_leaves_is_set_aside_then_taken_back() -> None:
    policy = AutoscalePolicy(forecasts=True)
    forecast = learn(*history(21, end=MONDAY + 9 * HOUR), now=MONDAY + 9 * HOUR)
    now = MONDAY + 9 * HOUR
    memory = Memory()
    states = []
    for step in range(4):  # a holiday: nothing runs where 360-400 was expected
        guide, memory = trust_forecast(guide_for(policy, now, forecast), memory, 0.0, now, 10, 10)
        states.append(guide.usable_forecast() is not None)
        now += 600
    assert states == [True, True, False, False]
    assert "forecast set aside: load 0 is below the forecast band" in guide.forecast_note
    for _ in range(4):  # back to normal: 30 minutes in the band before it is followed again
        guide, memory = trust_forecast(guide_for(policy, now, forecast), memory, 380.0, now, 10, 10)
        now += 600
    assert guide.usable_forecast() is not None and not memory.forecast_off


# --- the rules, fed a guide directly -------------------------------------------------------------------


def decide(policy: AutoscalePolicy, status: str, nodes: int, now: float, memory: Memory | None = None, **kw: Any):
    scaler = Autoscaler(policy, state_store=MemoryStateStore(), log=lambda _: None)
    ref = ClusterRef.redshift("warehouse", declared_paused=kw.pop("declared_paused", False))
    obs = Observed(ref, True, status=status, node_type="ra3.xlplus", nodes=nodes)
    guide = guide_for(policy, now, *kw.pop("forecast", (None, "")))
    return scaler._decide(obs, memory or Memory(), {}, now, "test", guide)


def test_before_a_forecast_busy_day_the_cluster_resumes_then_grows_while_quiet() -> None:
    policy = AutoscalePolicy(forecasts=True, redshift_max_nodes=16, expected_resume_minutes=10)
    forecast = learn(*history(21), now=MONDAY)
    # Resuming (10 min), one resize (15 min) and two evaluation intervals: 35 minutes before 08:00.
    early = decide(policy, "paused", 4, MONDAY + 7 * HOUR + 20 * 60, Memory(paused_by_autoscaler=True), forecast=(forecast, ""))
    assert early.action == "none"
    wake = decide(policy, "paused", 4, MONDAY + 7 * HOUR + 25 * 60, Memory(paused_by_autoscaler=True), forecast=(forecast, ""))
    assert (wake.action, wake.rule, wake.target) == ("resume", "forecast", {"paused": False})
    assert "busy from Mon 08:00 UTC peaking at 400" in wake.reason and wake.figures["forecast_nodes"] == 6
    grow = decide(policy, "available", 4, MONDAY + 7 * HOUR + 35 * 60, forecast=(forecast, ""))
    assert (grow.action, grow.rule, grow.target) == ("scale_up", "forecast", {"nodes": 6})
    assert "quiet now" in grow.reason and grow.figures["forecast"]["usable"] is True
    assert math.isclose(grow.figures["forecast_peak"], 400.0)


def test_without_a_usable_forecast_the_rules_react_and_say_why() -> None:
    policy = AutoscalePolicy(forecasts=True)
    short = learn(*history(7), now=MONDAY)
    decision = decide(policy, "available", 2, MONDAY + 7 * HOUR + 20 * 60, forecast=(short, ""))
    assert decision.action == "none" and decision.rule == "none"
    assert "fewer than the 14" in decision.figures["forecast"]["reason"]


def test_the_schedule_pauses_resumes_and_sizes_ahead_of_its_periods() -> None:
    policy = AutoscalePolicy(
        redshift_max_nodes=16,
        schedule=(Period("Mon-Fri 08:00-18:00", tz="Europe/Berlin", min_nodes=6),),
        paused_outside_schedule=True,
        expected_resume_minutes=10,
        expected_resize_minutes=15,
    )
    night = MONDAY + 2 * HOUR
    held = decide(policy, "available", 2, night)
    assert (held.action, held.rule) == ("pause", "schedule") and "outside every running period" in held.reason
    berlin_eight = MONDAY + 7 * HOUR  # 08:00 CET
    stays = decide(policy, "paused", 2, berlin_eight - 20 * 60, Memory(paused_by_autoscaler=True))
    assert (stays.action, stays.rule) == ("none", "schedule")
    wake = decide(policy, "paused", 2, berlin_eight - 15 * 60, Memory(paused_by_autoscaler=True))
    assert (wake.action, wake.rule) == ("resume", "schedule")
    grow = decide(policy, "available", 2, berlin_eight - 15 * 60, Memory(last_action="resume", last_action_at=berlin_eight - 16 * 60))
    assert (grow.action, grow.rule, grow.target) == ("scale_up", "schedule", {"nodes": 4})  # one elastic resize
    assert "outside the schedule's 6-16" in grow.reason


def test_a_cluster_the_stack_declares_paused_stays_paused_whatever_the_schedule() -> None:
    policy = AutoscalePolicy(schedule=(Period("Daily 00:00-24:00", min_nodes=4),))
    decision = decide(policy, "paused", 2, MONDAY + 9 * HOUR, Memory(paused_by_autoscaler=True), declared_paused=True)
    assert decision.action == "none" and "as the stack declares" in decision.reason


# --- the history, from CloudWatch ------------------------------------------------------------------------


def test_the_history_is_cpu_times_the_published_capacity_in_one_call(
    boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    from tests.fakes.cloudwatch import put_series

    cw = boto_session.client("cloudwatch")
    now = MONDAY + 3 * HOUR
    stamps = [datetime.fromtimestamp(MONDAY + h * HOUR, tz=timezone.utc) for h in range(3)]
    dims = {"ClusterIdentifier": "warehouse"}
    put_series(cw, "AWS/Redshift", "CPUUtilization", dims, [(stamps[0], 50.0), (stamps[1], 40.0), (stamps[2], 30.0)])
    put_series(cw, "dbscale/Autoscaler", CAPACITY_METRIC, {"Cluster": "warehouse"}, [(stamps[1], 8.0)])
    peaks, troughs = load_history(
        cw, service="redshift", cluster="warehouse", window=history_window(now, 14), current_capacity=4
    )
    # Before the first published capacity the current size (4) is assumed; after it, 8 holds.
    assert peaks == [(stamps[0].timestamp(), 200.0), (stamps[1].timestamp(), 320.0), (stamps[2].timestamp(), 240.0)]
    assert troughs == peaks


def test_a_forecast_set_aside_stays_aside_while_paused_and_is_back_the_next_day() -> None:
    policy = AutoscalePolicy(forecasts=True)
    now = MONDAY + 9 * HOUR
    forecast = learn(*history(21, end=now), now=now)
    memory = Memory()
    for _ in range(3):
        guide, memory = trust_forecast(guide_for(policy, now, forecast), memory, 0.0, now, 10, 10)
        now += 600
    assert memory.forecast_off and memory.forecast_off_until == MONDAY + 86400
    paused, memory = trust_forecast(guide_for(policy, now + 3 * HOUR, forecast), memory, None, now + 3 * HOUR, 10, 10)
    assert paused.usable_forecast() is None and "set aside" in paused.forecast_note
    tuesday, memory = trust_forecast(guide_for(policy, MONDAY + 86400, forecast), memory, None, MONDAY + 86400, 10, 10)
    assert tuesday.usable_forecast() is not None and not memory.forecast_off


def test_a_serverless_maximum_is_raised_ahead_of_a_forecast_peak() -> None:
    policy = AutoscalePolicy(forecasts=True, aurora_acu_range=(1, 16))
    forecast = learn(*history(21), now=MONDAY)  # Aurora load is ACU x 100: 400 = 4 ACU
    scaler = Autoscaler(policy, state_store=MemoryStateStore(), log=lambda _: None)
    obs = Observed(
        ClusterRef.aurora("orders"), True, status="available", instance_class="db.serverless", acu=(0.5, 2.0),
        roles={"orders-1": "writer"}, engine="aurora-postgresql", engine_version="16.4", all_serverless=True,
    )
    now = MONDAY + 7 * HOUR + 45 * 60
    decision = scaler._decide(obs, Memory(), {}, now, "test", guide_for(policy, now, forecast))
    assert (decision.action, decision.rule, decision.target) == ("scale_up", "forecast", {"acu": [0.5, 5.0]})
    assert "up to 4 ACU" in decision.reason and decision.figures["forecast_acu"] == 5.0
