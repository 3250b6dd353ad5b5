"""The Aurora rules, as one table read top to bottom: stopped, AWS's 7-day restart, schedule, auto-pause, capacity.

:data:`AURORA_RULES` is the table (the first rule that holds decides; notes update the memory on the way);
:class:`AuroraCase` holds the figures the rules share, and each rule's decision is a small function here.
The moves themselves (readers, ACUs, the class ladder) are in :mod:`~dbscale.core.autoscale.aurora_moves`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from ..aurora.settings import supports_auto_pause
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS
from ..scaling import CheckResult
from .aurora_moves import Move, aurora_down, aurora_up
from .decisions import Decision
from .guide import Guide
from .memory import Memory
from .observe import Observed
from .policy import AutoscalePolicy
from .rules import (
    AURORA_AUTO_START_SECONDS,
    Case,
    Decide,
    Note,
    Results,
    Rule,
    always,
    ceil_acu,
    first_match,
    fmt,
    fmt_minutes,
    in_cooldown,
    overuse_text,
)

FORECAST_ACU_HEADROOM = 1.25
"""A forecast sets the Serverless v2 maximum to the predicted peak ACUs times this."""


def auto_pause_seconds(minutes: float | None) -> int:
    """SecondsUntilAutoPause for an idle time (minutes, default 5): 300 to 86,400 seconds (AWS's range)."""
    return int(min(max((minutes or 5) * 60, 300), 86400))


@dataclass
class AuroraCase(Case):
    """An Aurora cluster at one evaluation; ``cooldown`` ... ``idle_for`` are set by the streaks note (seconds)."""

    cooldown: float = 0.0
    underused_for: float | None = None
    idle_for: float | None = None

    @property
    def acu(self) -> tuple[float, float]:
        """The Serverless v2 (minimum, maximum) ACUs; (0, 0) when there are none (the rules check ``obs.acu``)."""
        return self.obs.acu or (0.0, 0.0)

    @cached_property
    def auto_pause(self) -> bool:
        """Pausing is a 0-ACU minimum (every instance Serverless v2, an engine version that can auto-pause)."""
        obs = self.obs
        return bool(
            self.policy.aurora_auto_pause
            and obs.all_serverless
            and obs.acu is not None
            and supports_auto_pause(obs.engine, obs.engine_version)
        )

    @property
    def held(self) -> bool:
        """The schedule holds it paused, and the stack does not declare it paused (it is then left as it is)."""
        return self.guide.hold_paused and not self.obs.ref.declared_paused

    @property
    def stopped_for(self) -> float:
        return self.now - (self.memory.stopped_since or 0.0)

    @property
    def restarted_by_aws(self) -> bool:
        """Running again about 7 days after the autoscaler stopped it: AWS started it."""
        tolerance = 2 * self.policy.evaluation_interval_minutes * 60 + 60
        return self.memory.stopped_since is not None and self.stopped_for >= AURORA_AUTO_START_SECONDS - tolerance

    @cached_property
    def warm_peak(self) -> tuple[bool, float | None]:
        """Whether an auto-paused cluster should be awake by the next evaluation (schedule or forecast), and the
        forecast's peak until then."""
        p, now, forecast = self.policy, self.now, self.guide.usable_forecast()
        horizon = now + p.expected_resume_minutes * 60 + p.evaluation_interval_minutes * 60
        peak = forecast.peak(now, horizon) if forecast is not None else None
        return self.guide.run_soon or (peak is not None and peak > p.idle_cpu_percent * self.acu[1]), peak

    @property
    def auto_paused(self) -> bool:
        """Paused by the autoscaler through a 0-ACU minimum."""
        return self.auto_pause and self.acu[0] == 0 and self.memory.acu_min_before_pause is not None

    @cached_property
    def acu_bounds(self) -> tuple[tuple[float, float] | None, str]:
        """The policy's range of maximum ACUs under the schedule (None: no range), and the periods that set it."""
        acu_range = self.policy.aurora_acu_range
        if acu_range is None or self.obs.acu is None or self.obs.instance_class != AURORA_SERVERLESS_INSTANCE_CLASS:
            return acu_range, ""
        low_acu, high_acu, periods = self.guide.acu_bounds(*acu_range)
        return (low_acu, high_acu), periods

    @property
    def outside_schedule_acu(self) -> bool:
        acu_range, periods = self.acu_bounds
        return bool(periods) and acu_range is not None and not acu_range[0] <= self.acu[1] <= acu_range[1]

    @cached_property
    def forecast_max(self) -> tuple[float, float, float, float] | None:
        """The maximum ACUs the forecast's coming peak needs (with FORECAST_ACU_HEADROOM), ahead of it by a resize
        time, when above the current maximum: (new maximum, need, peak, horizon). Aurora moves the capacity inside
        the range by itself; the forecast keeps the maximum high enough."""
        p, now, forecast = self.policy, self.now, self.guide.usable_forecast()
        acu_range = self.acu_bounds[0]
        if forecast is None or acu_range is None or self.obs.acu is None or not self.obs.all_serverless:
            return None
        horizon = now + p.expected_resize_minutes * 60 + p.evaluation_interval_minutes * 60
        peak = forecast.peak(now, horizon)
        if peak is None:
            return None
        need = ceil_acu(peak / 100 * FORECAST_ACU_HEADROOM)
        new_max = min(need, acu_range[1])
        return (new_max, need, peak, horizon) if new_max > self.acu[1] else None

    @property
    def may_idle(self) -> bool:
        """Idleness may pause or stop it: the policy says so, no running period is on, and it is not overused."""
        p = self.policy
        return p.aurora_stop_when_idle and not self.guide.in_running_period and not self.verdict("cpu_high")

    @cached_property
    def idle_peak(self) -> tuple[bool, float | None]:
        """Whether an idle auto-pausing cluster gets a 0-ACU minimum now (no forecast load within the auto-pause
        time, a resume and an hour), and that forecast peak."""
        p, now, forecast = self.policy, self.now, self.guide.usable_forecast()
        seconds = auto_pause_seconds(p.idle_pause_minutes)
        peak = None
        if forecast is not None:
            peak = forecast.peak(now, now + seconds + p.expected_resume_minutes * 60 + 3600)
        return peak is None or peak <= p.idle_cpu_percent * self.acu[1], peak

    @property
    def idle_long_enough(self) -> bool:
        minutes = self.policy.idle_pause_minutes
        return minutes is not None and self.idle_for is not None and self.idle_for >= minutes * 60

    @cached_property
    def over(self) -> list[tuple[str, CheckResult]]:
        return [(s, r) for s in ("cpu_high", "memory_high", "latency_high") if (r := self.verdict(s))]

    @property
    def up_wait(self) -> float:
        return self.scale_up_wait(self.cooldown)

    @cached_property
    def up(self) -> Move | None:
        return aurora_up(self.policy, self.obs, self.over, self.acu_bounds[0])


# --- the decisions ----------------------------------------------------------------------------------------


def _none(c: AuroraCase, reason: str, *causes: str) -> Decision:
    return c.decide("none", reason, c.memory, causes=causes)


def _periods(active: tuple[str, ...]) -> str:
    return "; ".join(active) or "outside every running period"


def _start_on_time(c: AuroraCase) -> Decision:
    return c.decide(
        "resume",
        f"stopped by the schedule, which runs it now ({'; '.join(c.guide.resume_ahead.active)}); starting "
        f"takes about {c.policy.expected_resume_minutes:g} min",
        c.acted("resume", paused_by_autoscaler=False, stopped_since=None),
        target={"paused": False},
        causes=("schedule",),
    )


def _stopped(c: AuroraCase) -> Decision:
    stopped_since = c.memory.stopped_since if c.memory.stopped_since is not None else c.now
    c.memory = replace(c.memory.without_streaks(), stopped_since=stopped_since)
    restart = datetime.fromtimestamp(stopped_since + AURORA_AUTO_START_SECONDS, tz=timezone.utc)
    return _none(
        c, f"stopped (no data); AWS starts it again around {restart:%Y-%m-%d %H:%M} UTC and the autoscaler will stop "
        "it again then"
    )  # fmt: skip


def _stop(c: AuroraCase, action: str, reason: str, cause: str, **remember: Any) -> Decision:
    memory = c.acted(action, stopped_since=c.now, **remember)
    return c.decide(action, reason, memory, target={"paused": True}, causes=(cause,))


def _stop_again(c: AuroraCase) -> Decision:
    reason = (
        f"running again {c.stopped_for / 86400:.2f} days after it was stopped: AWS starts a cluster that "
        "has been stopped for 7 days, so it is stopped again"
    )
    return _stop(c, "stop_again", reason, "aws_auto_start")


def _held_at_zero(c: AuroraCase) -> Decision:
    reason = "the schedule holds it paused; minimum 0 ACU is set, so Aurora pauses it when idle"
    return _none(c, reason, "schedule")


def _zero_minimum(c: AuroraCase, reason: str, cause: str, seconds: int, **changes: Any) -> Decision:
    return c.decide(
        "pause",
        reason,
        c.acted("pause", paused_by_autoscaler=True, acu_min_before_pause=c.acu[0]),
        target={"acu": [0.0, c.acu[1]], "auto_pause_seconds": seconds},
        causes=(cause,),
        **changes,
    )


def _held_auto_pause(c: AuroraCase) -> Decision:
    seconds, obs = auto_pause_seconds(5), c.obs
    return _zero_minimum(
        c,
        f"the schedule holds it paused ({_periods(c.guide.now.active)}): minimum 0 ACU with auto-pause after "
        f"{seconds} s idle ({obs.engine} {obs.engine_version} supports it), instead of stopping it",
        "schedule",
        seconds,
    )


def _held_stop(c: AuroraCase) -> Decision:
    reason = f"the schedule holds it paused ({_periods(c.guide.now.active)}): stopping it"
    return _stop(c, "pause", reason, "schedule", paused_by_autoscaler=True)


def _wake_up(c: AuroraCase) -> Decision:
    peak = c.warm_peak[1]
    restore = max(c.memory.acu_min_before_pause or 0.0, 0.5)
    run_soon = c.guide.run_soon
    why = (
        f"the schedule runs it ({'; '.join(c.guide.resume_ahead.active)})"
        if run_soon
        else f"forecast: load up to {fmt((peak or 0) / 100)} ACU by the next evaluation"
    )
    return c.decide(
        "resume",
        f"{why}: minimum back to {restore:g} ACU so the instances are awake when the load arrives",
        c.acted("resume", paused_by_autoscaler=False, acu_min_before_pause=None),
        target={"acu": [restore, c.acu[1]]},
        causes=("schedule",) if run_soon else ("forecast",),
        figures={"forecast_peak": peak} if peak is not None else {},
    )


def _into_schedule_acu(c: AuroraCase) -> Decision:
    (low_acu, high_acu), periods = c.acu_bounds[0] or (0.0, 0.0), c.acu_bounds[1]
    new_max = low_acu if c.acu[1] < low_acu else high_acu
    action = "scale_up" if new_max > c.acu[1] else "scale_down"
    return c.decide(
        action,
        f"maximum {c.acu[1]:g} ACU is outside the schedule's {low_acu:g}-{high_acu:g} ACU ({periods})",
        c.acted(action),
        target={"acu": [min(c.acu[0], new_max), new_max]},
        causes=("schedule",),
    )


def _raise_ahead(c: AuroraCase) -> Decision:
    new_max, need, peak, horizon = c.forecast_max or (0.0, 0.0, 0.0, 0.0)
    return c.decide(
        "scale_up",
        f"forecast: up to {fmt(peak / 100)} ACU by "
        f"{datetime.fromtimestamp(horizon, tz=timezone.utc):%a %H:%M} UTC x {FORECAST_ACU_HEADROOM:g} "
        f"headroom = {need:g} ACU -> maximum {new_max:g} ACU",
        c.acted("scale_up"),
        target={"acu": [c.acu[0], new_max]},
        causes=("forecast",),
        figures={"forecast_peak_acu": peak / 100, "forecast_acu": need},
    )


def _count_streaks(c: AuroraCase) -> None:
    c.cooldown = c.cooldown_left()
    c.underused_for, c.idle_for = c.count_streaks(cooling=c.cooldown > 0)


def _auto_pause_when_idle(c: AuroraCase) -> Decision:
    seconds, obs, peak = auto_pause_seconds(c.policy.idle_pause_minutes), c.obs, c.idle_peak[1]
    return _zero_minimum(
        c,
        f"{obs.engine} {obs.engine_version} supports auto-pause: minimum 0 ACU, and Aurora pauses each "
        f"instance after {seconds} s without connections (no stop, no 7-day restart; resumes in about "
        "15 s on the next connection)",
        "idle",
        seconds,
        figures={"forecast_peak": peak} if peak is not None else {},
    )


def _stop_when_idle(c: AuroraCase) -> Decision:
    idle, cpu = fmt_minutes(c.idle_for or 0), c.policy.idle_cpu_percent
    return _stop(c, "pause", f"idle for {idle} (CPU of every instance under {cpu:g}%): stopping it", "idle")


def _causes(c: AuroraCase) -> tuple[str, ...]:
    return tuple(s for s, _ in c.over)


def _at_maximum(c: AuroraCase) -> Decision:
    return _none(c, f"overused ({overuse_text(c.over)}) but already at the policy's maximum", *_causes(c))


def _waits(c: AuroraCase) -> Decision:
    arithmetic = (c.up or ({}, ""))[1]
    return _none(c, in_cooldown(f"overused ({arithmetic})", c.up_wait, c.memory), *_causes(c))


def _scale_up(c: AuroraCase) -> Decision:
    target, arithmetic = c.up or ({}, "")
    return c.decide(
        "scale_up", f"overused: {arithmetic}", c.acted("scale_up"), target=target, causes=_causes(c)
    )  # fmt: skip


def _not_underused(c: AuroraCase) -> Decision:
    return c.not_underused(c.cooldown, cpu="the busiest instance's CPU", memory_busy="memory is not")


def _scale_down(c: AuroraCase) -> Decision:
    under = c.results.get("cpu_low")
    return c.scale_down(
        c.underused_for or 0.0,
        needs=f"busiest instance CPU {fmt(under.value if under else None)}%",
        move=aurora_down(c.policy, c.obs, c.results, c.acu_bounds[0]),
        smallest="already at the smallest shape the policy and the load allow",
    )


# --- the table ------------------------------------------------------------------------------------------


def _stopped_now(c: AuroraCase) -> bool:
    return c.obs.status == "stopped"


def _schedule_starts(c: AuroraCase) -> bool:
    """Stopped by the autoscaler, not declared stopped, and the schedule runs it soon and no longer holds it."""
    return (
        _stopped_now(c)
        and not c.obs.ref.declared_paused
        and c.memory.paused_by_autoscaler
        and c.guide.run_soon
        and not c.guide.hold_paused
    )


def _forget_stop(c: AuroraCase) -> None:
    c.memory = replace(c.memory, stopped_since=None)


AURORA_RULES: tuple[Rule[AuroraCase] | Note[AuroraCase], ...] = (
    Rule("stopped by the schedule, which runs it now: start it", _schedule_starts, _start_on_time),
    Rule("stopped: no data; AWS starts it again after 7 days", _stopped_now, _stopped),
    Rule("running again after AWS's 7-day restart: stop it again", lambda c: c.restarted_by_aws, _stop_again),
    Note("started by a person or a deploy: respected", lambda c: c.memory.stopped_since is not None, _forget_stop),
    Rule("the schedule holds it paused, and a 0-ACU minimum is set: Aurora pauses it",
         lambda c: c.held and c.auto_pause and c.acu[0] == 0, _held_at_zero),
    Rule("the schedule holds it paused: a 0-ACU minimum", lambda c: c.held and c.auto_pause, _held_auto_pause),
    Rule("the schedule holds it paused: stop it", lambda c: c.held, _held_stop),
    Rule("auto-paused, and load comes (schedule, forecast): minimum back up",
         lambda c: c.auto_paused and c.warm_peak[0], _wake_up),
    Rule("maximum ACUs outside the schedule's range: into it", lambda c: c.outside_schedule_acu, _into_schedule_acu),
    Rule("forecast: a peak above the maximum ACUs: raise it ahead", lambda c: bool(c.forecast_max), _raise_ahead),
    Note("count the cooldown and the streaks", always, _count_streaks),
    Rule("idle, and the engine auto-pauses: a 0-ACU minimum",
         lambda c: c.may_idle and c.auto_pause and c.acu[0] > 0 and c.idle_peak[0], _auto_pause_when_idle),
    Rule("idle long enough, no auto-pause: stop it",
         lambda c: c.may_idle and not c.auto_pause and c.idle_long_enough, _stop_when_idle),
    Note("overused: no underuse or idle streak", lambda c: bool(c.over), AuroraCase.end_streaks),
    Rule("overused, but at the maximum", lambda c: bool(c.over) and c.up is None, _at_maximum),
    Rule("overused, but in cooldown after a scale-up", lambda c: bool(c.over) and c.up_wait > 0, _waits),
    Rule("overused: a reader, more ACUs or a rung up", lambda c: bool(c.over), _scale_up),
    Rule("not underused: nothing to do", lambda c: c.underused_for is None, _not_underused),
    Rule("underused: a reader fewer, fewer ACUs or a rung down, once it has lasted", always, _scale_down),
)  # fmt: skip
"""The Aurora rules in order: the first whose ``when`` holds decides; a note updates the case on the way."""


def decide_aurora(
    policy: AutoscalePolicy, obs: Observed, memory: Memory, results: Results, now: float, decide: Decide, guide: Guide
) -> Decision:
    """The decision of :data:`AURORA_RULES` for one Aurora cluster at ``now`` (epoch seconds)."""
    return first_match(AURORA_RULES, AuroraCase(policy, obs, memory, results, now, decide, guide))
