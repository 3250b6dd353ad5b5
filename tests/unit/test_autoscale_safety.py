"""Forecasts only add safety: the arbiter, the distrust, and a property over random traces (Redshift and Aurora)."""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbscale.core.autoscale import AutoscalePolicy, Decision, Memory
from dbscale.core.autoscale.forecasts import learn
from dbscale.core.autoscale.guide import TRUST_AGAIN_MINUTES, guide_for, trust_forecast
from dbscale.core.autoscale.safety import Evidence, arbitrate, capacity_after, measured_load
from dbscale.core.autoscale.simulate import ClusterModel, simulate
from dbscale.core.autoscale.simulate_serverless import ServerlessModel, simulate_serverless
from dbscale.core.autoscale.strategies import (
    AutoscalerStrategy,
    ServerlessAutoscalerStrategy,
    policy_for,
    serverless_policy,
)
from dbscale.core.scaling import CheckResult

MONDAY = 1736726400  # 2025-01-13 00:00 UTC
HOUR = 3600
HISTORY_DAYS = 14

# --- the arbiter -------------------------------------------------------------------------------------


def _decision(action: str, target: dict[str, Any], *, nodes: int = 4, paused: bool = False, causes=()) -> Decision:
    return Decision(
        cluster="warehouse",
        service="redshift",
        action=action,
        reason=f"{action} because",
        current={"node_type": "ra3.xlplus", "nodes": nodes, "paused": paused, "status": "available"},
        target=target,
        causes=tuple(causes),
    )


NONE = _decision("none", {})
UP6 = _decision("scale_up", {"nodes": 6}, causes=("cpu_high",))
UP8_FORECAST = _decision("scale_up", {"nodes": 8}, causes=("forecast",))
DOWN2_FORECAST = _decision("scale_down", {"nodes": 2}, causes=("forecast",))
DOWN3 = _decision("scale_down", {"nodes": 3}, causes=("cpu_low",))
PAUSE_FORECAST = _decision("pause", {"paused": True}, causes=("forecast",))
PAUSE_IDLE = _decision("pause", {"paused": True}, causes=("idle",))
QUIET = Evidence(load=8.0, idle=True, aim=70.0)
BUSY = Evidence(load=250.0, idle=False, aim=70.0)


def test_capacity_is_nodes_running_and_nothing_paused() -> None:
    assert capacity_after(UP6) == (1.0, 6.0) and capacity_after(NONE) == (1.0, 4.0)
    assert capacity_after(PAUSE_IDLE) == (0.0, 4.0)  # paused, it keeps its nodes for the resume
    serverless = Decision(
        cluster="orders",
        service="aurora",
        action="pause",
        reason="",
        current={"acu": [0.5, 8.0], "readers": 0},
        target={"acu": [0.0, 8.0]},
    )
    assert capacity_after(serverless) == (1.0, 8.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("reactive", "ahead", "evidence", "kept"),
    [
        (NONE, UP8_FORECAST, QUIET, "ahead"),  # a forecast may scale up ahead of time (while quiet)
        (UP6, UP8_FORECAST, QUIET, "ahead"),  # and raise a scale-up the load asks for
        (UP6, NONE, BUSY, "reactive"),  # never cancel a scale-up the measured load calls for
        (UP6, DOWN2_FORECAST, QUIET, "reactive"),  # nor turn it into a shrink
        (DOWN3, NONE, BUSY, "ahead"),  # holding capacity is allowed
        (PAUSE_IDLE, NONE, QUIET, "ahead"),
        (NONE, PAUSE_FORECAST, BUSY, "reactive"),  # no pause ahead of the forecast unless idle
        (NONE, PAUSE_FORECAST, QUIET, "ahead"),
        (NONE, DOWN2_FORECAST, BUSY, "reactive"),  # a resize ahead waits for quiet; 250 does not fit 2 x 70%
        (NONE, DOWN2_FORECAST, Evidence(load=100.0, idle=None, aim=70.0), "ahead"),  # fits, and nothing says busy
        (NONE, UP8_FORECAST, BUSY, "reactive"),  # a read-only resize ahead of the load is not started under load
    ],
)
def test_the_arbiter_keeps_the_safe_decision(
    reactive: Decision, ahead: Decision, evidence: Evidence, kept: str
) -> None:
    chosen = arbitrate(reactive, ahead, evidence)
    expected = ahead if kept == "ahead" else reactive
    assert (chosen.action, dict(chosen.target)) == (expected.action, dict(expected.target))
    if kept == "reactive" and ahead.changes:
        assert "forecast overruled" in chosen.reason and chosen.figures["forecast_overruled"]["why"]


@given(
    reactive=st.sampled_from([NONE, UP6, DOWN3, PAUSE_IDLE]),
    ahead=st.sampled_from([NONE, UP6, UP8_FORECAST, DOWN2_FORECAST, DOWN3, PAUSE_FORECAST]),
    load=st.floats(0, 600),
    idle=st.sampled_from([True, False, None]),
)
@settings(max_examples=300, deadline=None)
def test_the_arbiter_never_leaves_less_than_a_reactive_scale_up(
    reactive: Decision, ahead: Decision, load: float, idle: bool | None
) -> None:
    chosen = arbitrate(reactive, ahead, Evidence(load, idle, 70.0))
    took_ahead = (chosen.action, dict(chosen.target)) != (reactive.action, dict(reactive.target))
    if reactive.action in ("scale_up", "resume"):
        assert all(a >= r for a, r in zip(capacity_after(chosen), capacity_after(reactive), strict=True))
    below = not all(a >= r for a, r in zip(capacity_after(chosen), capacity_after(reactive), strict=True))
    if took_ahead and below:  # the forecast left less than the reactive rules: only when the load allows it
        if chosen.action == "pause":
            assert idle is True
        else:
            assert idle is not False and load <= capacity_after(chosen)[1] * 70.0


# --- the distrust ------------------------------------------------------------------------------------------


def _history(days: int, peak: float = 400.0) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    start = MONDAY - days * 86400
    peaks = []
    for hour in range(days * 24):
        at = start + hour * HOUR
        busy = 8 <= (hour % 24) < 18 and (hour // 24) % 7 < 5
        peaks.append((at, peak if busy else 0.0))
    return peaks, peaks


def test_an_under_predicting_forecast_is_distrusted_at_once_and_trusted_after_an_hour_of_good_predictions() -> None:
    policy = AutoscalePolicy(forecasts=True)
    forecast = learn(*_history(21), now=MONDAY + 9 * HOUR)
    now = MONDAY + 9 * HOUR + 600
    guide, memory = trust_forecast(guide_for(policy, now, forecast), Memory(), 700.0, now, 10, 10)
    assert guide.usable_forecast() is None and memory.forecast_distrusted_since == now
    assert "under-predicted the load (700 seen, 400 forecast + 25% tolerance)" in guide.forecast_note
    assert memory.forecast_miss is not None and memory.forecast_miss["observed"] == 700.0
    trusted = []
    for _ in range(TRUST_AGAIN_MINUTES // 10 + 1):  # back within its tolerance
        now += 600
        guide, memory = trust_forecast(guide_for(policy, now, forecast), memory, 420.0, now, 10, 10)
        trusted.append(guide.usable_forecast() is not None)
    assert trusted[:-2] == [False] * (len(trusted) - 2) and trusted[-1] is True
    # A miss within the hour starts the count again.
    _, memory = trust_forecast(guide_for(policy, now + 600, forecast), memory, 900.0, now + 600, 10, 10)
    assert memory.forecast_distrusted_since == now + 600 and memory.forecast_good_since is None


def test_the_backlog_counts_as_load() -> None:
    def result(signal: str, value: float) -> CheckResult:
        return CheckResult(
            check="x",
            cluster="c",
            value=value,
            threshold=0,
            verdict=True,
            datapoints=1,
            window_minutes=10,
            source="test",
            reason=signal,
        )

    plain = {"cpu_low": result("cpu_low", 100.0)}
    assert measured_load(plain, 4, 10) == 400.0
    queued = {**plain, "backlog": result("backlog", 120.0)}  # 2 minutes of 4 nodes, arrived within 10 minutes
    assert measured_load(queued, 4, 10) == pytest.approx(400.0 + 2 * 400 / 10)
    assert measured_load({}, 4, 10) is None


# --- the property: random traces, both engines ---------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    start: float  # hour the day's load starts
    hours: float  # how long it lasts
    level: float  # peak, in CPU% x nodes (Redshift) or ACU x 100 (Aurora)
    weekend: float  # weekend share
    noise: float
    sim_level: float  # the simulated days' level relative to the history (a step up or down)
    bursts: tuple[tuple[int, int, float], ...]  # (minute of the simulated days, minutes, height x level)
    seed: int


@st.composite
def shapes(draw: Any) -> Shape:
    bursts = draw(
        st.lists(st.tuples(st.integers(0, 2 * 1440 - 1), st.integers(5, 90), st.floats(0.2, 2.0)), max_size=3)
    )
    return Shape(
        start=draw(st.floats(0, 20)),
        hours=draw(st.floats(2, 16)),
        level=draw(st.floats(40, 900)),
        weekend=draw(st.sampled_from([0.0, 0.3, 1.0])),
        noise=draw(st.floats(0, 0.3)),
        sim_level=draw(st.sampled_from([0.4, 0.8, 1.0, 1.0, 1.3, 1.8])),
        bursts=tuple(bursts),
        seed=draw(st.integers(0, 2**16)),
    )


def trace(shape: Shape, sim_days: int) -> tuple[list[float], list[float]]:
    """History (14 days) and the simulated days, per minute, from ``shape``; the simulated days start on a Monday."""
    rng = random.Random(shape.seed)
    values = []
    for minute in range((HISTORY_DAYS + sim_days) * 1440):
        day, rest = divmod(minute, 1440)
        hour = (rest / 60 - shape.start) % 24
        inside = hour < shape.hours
        edge = min(hour, shape.hours - hour) if inside else 0.0
        level = shape.level * min(1.0, edge / 0.75 + 0.1) if inside else 0.0
        if day % 7 >= 5:
            level *= shape.weekend
        if day >= HISTORY_DAYS:
            level *= shape.sim_level
        values.append(max(0.0, level * (1 + rng.uniform(-shape.noise, shape.noise))))
    sim = values[HISTORY_DAYS * 1440 :]
    for at, length, height in shape.bursts:
        for minute in range(at, min(at + length, len(sim))):
            sim[minute] += height * shape.level
    return values[: HISTORY_DAYS * 1440], sim


SIM_DAYS = 2
LONG_SEARCH = os.environ.get("DBSCALE_SAFETY_EXAMPLES")
EXAMPLES = int(LONG_SEARCH or "25")
"""Examples per engine. ``make test`` runs 25 derandomized ones (the same every run, so CI never flakes);
DBSCALE_SAFETY_EXAMPLES=500 runs a long random search (and keeps what it finds in .hypothesis/)."""
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=LONG_SEARCH is None,
    database=None if LONG_SEARCH is None else settings.default.database,
)


@given(shape=shapes())
@PROPERTY
def test_redshift_forecasts_add_at_most_10_overload_minutes_and_15_to_the_longest_stretch(shape: Shape) -> None:
    history, sim = trace(shape, SIM_DAYS)
    model = ClusterModel()
    start = MONDAY
    runs = {}
    for forecasts in (False, True):
        strategy = AutoscalerStrategy(
            policy_for(model, forecasts=forecasts), model=model, start_epoch=start, history=history
        )
        runs[forecasts] = simulate(sim, strategy, start_nodes=2, model=model)
    reactive, ahead = runs[False], runs[True]
    assert ahead.overload_minutes <= reactive.overload_minutes + 10, (reactive.row(), ahead.row())
    assert ahead.longest_overload <= reactive.longest_overload + 15, (reactive.row(), ahead.row())


@given(shape=shapes())
@PROPERTY
def test_aurora_forecasts_add_at_most_10_overload_minutes_and_15_to_the_longest_stretch(shape: Shape) -> None:
    history, sim = trace(shape, SIM_DAYS)
    model = ServerlessModel()
    # Aurora: the same shapes in ACU x 100 (0.4-9 ACU at the peak, bursts to 27); the history is what
    # CloudWatch holds, the capacity Aurora allotted.
    history = [model.allotted(v, 0.5, 32) * 100 for v in history]
    runs = {}
    for forecasts in (False, True):
        strategy = ServerlessAutoscalerStrategy(
            serverless_policy(forecasts=forecasts), start_epoch=MONDAY, history=history
        )
        runs[forecasts] = simulate_serverless(sim, strategy, start_acu=(0.5, 4.0), model=model)
    reactive, ahead = runs[False], runs[True]
    assert ahead.overload_minutes <= reactive.overload_minutes + 10, (reactive.row(), ahead.row())
    assert ahead.longest_overload <= reactive.longest_overload + 15, (reactive.row(), ahead.row())


def test_the_generated_traces_cover_steps_bursts_and_idle_days() -> None:
    flat = Shape(8, 10, 400, 0.0, 0.0, 1.8, ((600, 30, 1.0),), 1)
    history, sim = trace(flat, SIM_DAYS)
    assert len(history) == HISTORY_DAYS * 1440 and len(sim) == SIM_DAYS * 1440
    assert max(sim) > 1.7 * max(history)  # the step and the burst
    assert max(history[5 * 1440 : 7 * 1440]) == 0  # the weekend share 0
    assert math.isclose(max(history), 400.0)


def test_a_growing_history_and_a_busier_last_day_raise_the_forecast() -> None:
    def weeks(levels: list[float], last_day: float | None = None) -> list[tuple[float, float]]:
        start = MONDAY - len(levels) * 7 * 86400
        points = []
        for hour in range(len(levels) * 7 * 24):
            at = start + hour * HOUR
            busy = 8 <= hour % 24 < 18
            value = 400.0 * levels[hour // (7 * 24)] if busy else 0.0
            if last_day is not None and at >= MONDAY - 86400 and busy:
                value = 400.0 * last_day
            points.append((at, value))
        return points

    flat = learn(weeks([1.0, 1.0, 1.0]), weeks([1.0, 1.0, 1.0]), now=MONDAY)
    assert flat.trend == 1.0 and flat.peak(MONDAY + 9 * HOUR, MONDAY + 10 * HOUR) == 400.0
    growing = learn(weeks([1.0, 1.1, 1.21]), weeks([1.0, 1.1, 1.21]), now=MONDAY)
    assert growing.trend > 1.1 and "growing week on week" in growing.reason
    assert growing.peak(MONDAY + 9 * HOUR, MONDAY + 10 * HOUR) >= 1.21 * 400  # at least the last week's level
    launch = learn(weeks([1.0, 1.0, 1.0], last_day=1.8), weeks([1.0, 1.0, 1.0]), now=MONDAY)
    assert launch.trend == pytest.approx(1.8) and launch.peak(MONDAY + 9 * HOUR, MONDAY + 10 * HOUR) == pytest.approx(
        720
    )
    quieter = learn(weeks([1.0, 1.0, 1.0], last_day=0.5), weeks([1.0, 1.0, 1.0]), now=MONDAY)
    assert quieter.trend == 1.0  # lower load is for the reactive rules
