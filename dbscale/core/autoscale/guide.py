"""What the schedule and the forecast say about one cluster at one evaluation: the rules' guide.

The schedule is read three times: now, one resume time ahead and one resize time ahead (each plus
one evaluation interval, since the next evaluation comes that much later), so a cluster is resumed
or grown before a period starts and the capacity is there when it does; it is paused or shrunk
when a period actually starts, never ahead of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any

from ..clock import zone
from .forecasts import Forecast, ForecastCheck
from .memory import Memory
from .policy import AutoscalePolicy
from .schedules import ScheduleBounds, bounds_at

__all__ = ["FORECAST_HEADROOM_POINTS", "TRUST_AGAIN_MINUTES", "Guide", "guide_for", "trust_forecast"]

FORECAST_HEADROOM_POINTS = 5.0
"""A forecast floor sizes the cluster so the predicted peak runs this many CPU points under ``cpu_high``."""
TRUST_AGAIN_MINUTES = 60
"""A forecast distrusted for under-predicting is followed again after this long of predictions within its tolerance."""


@dataclass(frozen=True)
class Guide:
    now: ScheduleBounds = field(default_factory=ScheduleBounds)
    resume_ahead: ScheduleBounds = field(default_factory=ScheduleBounds)
    resize_ahead: ScheduleBounds = field(default_factory=ScheduleBounds)
    forecast: Forecast | None = None
    forecast_note: str = "forecasts are off in the policy"

    @property
    def hold_paused(self) -> bool:
        """The schedule holds the cluster paused now and still will when a resume started now would end."""
        return self.now.paused and self.resume_ahead.paused

    @property
    def run_soon(self) -> bool:
        """A running period is on now, or will be by the time a resume started now ends."""
        return (bool(self.now.active) and not self.now.paused) or (
            bool(self.resume_ahead.active) and not self.resume_ahead.paused
        )

    @property
    def in_running_period(self) -> bool:
        return bool(self.now.active) and not self.now.paused

    def node_bounds(self, low: int, high: int) -> tuple[int, int, str]:
        """The policy's node range under the schedule, and the periods that set it ('' when none did).

        A minimum that starts within one resize time counts now (so the nodes are there on time);
        a lower maximum counts only once its period has started.
        """
        mins = [b.min_nodes for b in (self.now, self.resize_ahead) if b.min_nodes is not None]
        new_low = max(mins) if mins else low
        new_high = self.now.max_nodes if self.now.max_nodes is not None else high
        new_high = max(new_high, new_low)
        if self.resize_ahead.max_nodes is not None:
            new_high = max(new_high, min(self.resize_ahead.max_nodes, max(high, new_low)))
        if new_low == low and new_high == high:
            return low, high, ""
        periods = self.now.active + tuple(p for p in self.resize_ahead.active if p not in self.now.active)
        return new_low, max(new_high, new_low), "; ".join(periods)

    def acu_bounds(self, low: float, high: float) -> tuple[float, float, str]:
        """The policy's Serverless v2 maximum-capacity range under the schedule (as :meth:`node_bounds`)."""
        mins = [b.min_acu for b in (self.now, self.resize_ahead) if b.min_acu is not None]
        maxes = [b.max_acu for b in (self.now, self.resize_ahead) if b.max_acu is not None]
        if not mins and not maxes:
            return low, high, ""
        new_high = max(maxes) if maxes else high
        new_low = max(min(max(mins), new_high) if mins else low, 1.0)
        return new_low, max(new_high, new_low), "; ".join(self.now.active + self.resize_ahead.active)

    def schedule_text(self, *, ahead: bool = False) -> str:
        """The periods on now (``ahead``: by the time a resume started now ends, when none is on now), for a reason."""
        bounds = self.resume_ahead if ahead and not self.now.active else self.now
        text = "; ".join(bounds.active) or ("outside every running period" if bounds.paused else "no period")
        return f"{text}, holiday {bounds.holiday}" if bounds.holiday else text

    def without_forecast(self) -> Guide:
        """The same schedule, no forecast: what the reactive rules see."""
        return replace(self, forecast=None, forecast_note="reactive rules: the forecast is not consulted")

    def usable_forecast(self) -> Forecast | None:
        return self.forecast if self.forecast is not None and self.forecast.usable else None

    def figures(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.now.active or self.now.paused or self.now.holiday:
            data["schedule"] = {
                "active": list(self.now.active),
                "paused": self.now.paused,
                **({"holiday": self.now.holiday} if self.now.holiday else {}),
            }
        if self.forecast is not None:
            data["forecast"] = self.forecast.summary()
        elif self.forecast_note:
            data["forecast"] = {"usable": False, "reason": self.forecast_note}
        return data


def guide_for(policy: AutoscalePolicy, now: float, forecast: Forecast | None = None, note: str = "") -> Guide:
    """The schedule at ``now`` and ahead by the policy's resume and resize times, with ``forecast``."""
    interval = policy.evaluation_interval_minutes * 60

    def at(moment: float) -> ScheduleBounds:
        if not policy.schedule:
            return ScheduleBounds()
        return bounds_at(
            policy.schedule, moment, holidays=policy.holidays, paused_outside=policy.paused_outside_schedule
        )

    return Guide(
        now=at(now),
        resume_ahead=at(now + policy.expected_resume_minutes * 60 + interval),
        resize_ahead=at(now + policy.expected_resize_minutes * 60 + interval),
        forecast=forecast,
        forecast_note=note or ("" if forecast is not None else "forecasts are off in the policy"),
    )


def trust_forecast(
    guide: Guide, memory: Memory, observed: float | None, now: float, window_minutes: float, tolerance: float
) -> tuple[Guide, Memory]:
    """Decide whether the forecast may be followed at ``now``, from the load seen over the last window.

    * **Under-prediction distrusts at once.** A window whose ``observed`` load (plus any backlog) is above
      the forecast's peak for those hours by more than the forecast's own tolerance
      (:attr:`Forecast.tolerance`, plus ``tolerance`` load units for near-idle hours) makes the forecast
      *distrusted* until it has predicted well for :data:`TRUST_AGAIN_MINUTES` of evaluations in a row
      (no midnight amnesty: a launch does not end at midnight).
    * **Over-prediction sets aside** (a holiday, a shifted day): the load below half the forecast's trough
      for two windows sets it aside until it has been back in its band for 30 minutes, or the next
      midnight (``forecast_tz``). Following an over-prediction costs money, not safety.

    ``observed`` None (paused, no data) is no new evidence: the last verdict stands.
    """
    forecast = guide.usable_forecast()
    if forecast is None:  # nothing to follow, so nothing to distrust (a new forecast starts trusted)
        if memory.forecast_distrusted_since is not None:
            memory = replace(memory, forecast_distrusted_since=None, forecast_good_since=None)
        return guide, memory
    if memory.forecast_off and memory.forecast_off_until is not None and now >= memory.forecast_off_until:
        memory = replace(memory, forecast_off=False, forecast_flip_since=None, forecast_off_until=None)
    start = now - window_minutes * 60
    if observed is not None:
        predicted = forecast.peak(start, now)
        allowed = (predicted or 0.0) * (1 + forecast.tolerance) + tolerance
        if observed > allowed:
            memory = replace(
                memory,
                forecast_distrusted_since=memory.forecast_distrusted_since or now,
                forecast_good_since=None,
                forecast_miss={
                    "at": now,
                    "observed": round(observed, 1),
                    "predicted": None if predicted is None else round(predicted, 1),
                    "tolerance": round(forecast.tolerance, 3),
                },
            )
        elif memory.forecast_distrusted_since is not None:
            good_since = memory.forecast_good_since if memory.forecast_good_since is not None else start
            if now - good_since >= TRUST_AGAIN_MINUTES * 60 - 1:
                memory = replace(memory, forecast_distrusted_since=None, forecast_good_since=None)
            else:
                memory = replace(memory, forecast_good_since=good_since)
    if memory.forecast_distrusted_since is not None:
        miss = memory.forecast_miss or {}
        note = (
            f"forecast distrusted: it under-predicted the load ({_num(miss.get('observed'))} seen, "
            f"{_num(miss.get('predicted'))} forecast + {float(miss.get('tolerance') or 0):.0%} tolerance) at "
            f"{_hhmm(miss.get('at'))} UTC; it is followed again after {TRUST_AGAIN_MINUTES} min of predictions within "
            "its tolerance"
        )
        return _aside(guide, forecast, note), memory
    if observed is None:  # paused or no data: no new evidence, the last verdict stands
        if memory.forecast_off:
            note = "forecast set aside: the live load left its band and has not been seen back in it"
            return _aside(guide, forecast, note), memory
        return guide, memory
    check = ForecastCheck(observed, forecast.trough(start, now), forecast.peak(start, now), tolerance)
    off, since = memory.forecast_off, memory.forecast_flip_since
    if check.over != off:  # the evidence points the other way: count how long it has
        since = since if since is not None else now
        needed = 2 * window_minutes * 60 if not off else 30 * 60
        if now - since >= needed - 1:
            off, since = not off, None
    else:
        since = None
    until = memory.forecast_off_until
    if off and not memory.forecast_off:  # set aside for the rest of the day (a holiday, a shifted day)
        until = _next_midnight(now, forecast.tz)
    memory = replace(memory, forecast_off=off, forecast_flip_since=since, forecast_off_until=until if off else None)
    if off:
        return _aside(guide, forecast, f"forecast set aside: {check.describe()}"), memory
    return guide, memory


def _aside(guide: Guide, forecast: Forecast, note: str) -> Guide:
    return replace(guide, forecast=replace(forecast, usable=False, reason=note), forecast_note=note)


def _num(value: object) -> str:
    return "n/a" if not isinstance(value, (int, float)) else f"{value:,.0f}"


def _hhmm(epoch: object) -> str:
    if not isinstance(epoch, (int, float)):
        return "?"
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%a %H:%M")


def _next_midnight(now: float, tz: str) -> float:
    local = datetime.fromtimestamp(now, tz=timezone.utc).astimezone(zone(tz))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone(tz))
    return midnight.timestamp()


def busy_block(
    forecast: Forecast, now: float, *, within: float, quiet: float, longest: float = 16 * 3600
) -> tuple[float, float, float] | None:
    """The next stretch of hours the forecast expects above ``quiet`` (load units), starting within ``within`` s.

    Returns (start, end, peak) in epoch seconds and load units; a stretch already under way starts
    ``now``. None when the forecast expects nothing above ``quiet`` that soon.
    """
    hour = 3600.0
    cursor = math.floor(now / hour) * hour
    start = None
    peak = 0.0
    while cursor < now + within + longest:
        value = forecast.peak(cursor, cursor + hour)
        busy = value is not None and value > quiet
        if start is None:
            if cursor > now + within:
                return None
            if busy:
                start = max(cursor, now)
                peak = value or 0.0
        elif busy:
            peak = max(peak, value or 0.0)
        else:
            return start, cursor, peak
        cursor += hour
    return (start, cursor, peak) if start is not None else None


def block_peak_so_far(forecast: Forecast, now: float, *, quiet: float, longest: float = 16 * 3600) -> float:
    """The highest forecast load of the busy stretch under way at ``now``, from its first hour (0 when quiet)."""
    hour = 3600.0
    cursor = math.floor(now / hour) * hour
    peak = 0.0
    while cursor > now - longest:
        value = forecast.peak(cursor, cursor + hour)
        if value is None or value <= quiet:
            break
        peak = max(peak, value)
        cursor -= hour
    return peak
