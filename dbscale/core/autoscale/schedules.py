"""Schedules: periods of the week, in a time zone, that set the autoscaler's bounds or hold a cluster paused.

A :class:`Period` reads like a sign on a shop door: ``Period("Mon-Fri 07:30-19:00",
tz="Europe/Berlin", min_nodes=4)``. Times are wall-clock times in ``tz`` (an IANA zone, read with
:mod:`zoneinfo`), so a period keeps its local hours across daylight-saving changes: on the night the
clocks go forward a period starting at 02:30 starts when the clock jumps to 03:00; on the night
they go back, the repeated hour is inside a period that covers it both times. An end before the
start runs past midnight (``"Fri 22:00-06:00"`` ends Saturday 06:00); ``24:00`` ends at midnight.

A holiday (a date) switches off every period that would have started on that date in the period's
own time zone: on a holiday the policy's own bounds apply, and with ``paused_outside_schedule`` the
cluster stays paused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from ..clock import zone
from ..errors import InvalidRequest

__all__ = ["DAYS", "Period", "ScheduleBounds", "bounds_at", "parse_holidays"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as a period spells them (any case), Monday first (``datetime.weekday()`` order)."""

_SPEC = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")
_CLOCK = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})$")
_MINUTES_PER_DAY = 1440


def _parse_days(text: str, spec: str) -> frozenset[int]:
    if text.strip().lower() in ("daily", "every day"):
        return frozenset(range(7))
    days: set[int] = set()
    for item in text.split(","):
        item = item.strip().lower()
        ends = [part.strip() for part in item.split("-")]
        if not item or len(ends) > 2 or any(end not in DAYS for end in ends):
            raise InvalidRequest(
                f"period '{spec}': '{item}' is not a day or a day range; use Mon, Tue, Wed, Thu, Fri, Sat, Sun, "
                "ranges like Mon-Fri or Fri-Mon, lists like Sat,Sun, or Daily",
                field="schedule",
            )
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        span = (last - first) % 7
        days.update((first + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


def _parse_clock(text: str, spec: str, *, end: bool) -> int:
    """Minutes after midnight; ``24:00`` is allowed as an end."""
    match = _CLOCK.match(text)
    hours, minutes = (int(match["h"]), int(match["m"])) if match else (-1, -1)
    if hours == 24 and minutes == 0 and end:
        return _MINUTES_PER_DAY
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise InvalidRequest(
            f"period '{spec}': '{text}' is not a time of day "
            f"(HH:MM, 00:00 to 23:59{', or 24:00 as an end' if end else ''})",
            field="schedule",
        )
    return hours * 60 + minutes


def _whole(value: object, name: str, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidRequest(f"{name} must be a whole number, at least {low}; got {value!r}", field=name)
    return value


def _acu(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 256 or (value * 2) % 1:
        raise InvalidRequest(f"{name} must be 0 to 256 ACUs in steps of 0.5; got {value!r}", field=name)
    return float(value)


@dataclass(frozen=True)
class Period:
    """A weekly period: ``spec`` is ``"<days> <HH:MM>-<HH:MM>"`` in time zone ``tz`` (default UTC).

    While a period is on, the autoscaler keeps a Redshift cluster within ``min_nodes``..``max_nodes``
    and a Serverless v2 cluster's ACU range within ``min_acu``..``max_acu`` (each None: the
    policy's own bound), and the metric-driven rules move inside those bounds. ``paused=True``
    holds the cluster paused (Redshift) or stopped (Aurora) instead; it takes no bounds.
    """

    spec: str
    tz: str = "UTC"
    min_nodes: int | None = None
    max_nodes: int | None = None
    min_acu: float | None = None
    max_acu: float | None = None
    paused: bool = False
    days: frozenset[int] = field(init=False, repr=False, compare=False)
    start_minute: int = field(init=False, repr=False, compare=False)
    end_minute: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, str):
            raise InvalidRequest(
                f"a period must be a string like 'Mon-Fri 07:30-19:00', got {self.spec!r}", field="schedule"
            )
        match = _SPEC.match(self.spec)
        if match is None:
            raise InvalidRequest(
                f"period '{self.spec}' does not read as '<days> <HH:MM>-<HH:MM>', e.g. 'Mon-Fri 07:30-19:00'",
                field="schedule",
            )
        if not isinstance(self.tz, str) or not self.tz:
            raise InvalidRequest(f"period '{self.spec}': tz must be an IANA time zone name", field="schedule")
        try:
            zone(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidRequest(
                f"period '{self.spec}': '{self.tz}' is not a time zone (use an IANA name such as 'Europe/Berlin')",
                field="schedule",
            ) from None
        start = _parse_clock(match["start"], self.spec, end=False)
        end = _parse_clock(match["end"], self.spec, end=True)
        if start == end % _MINUTES_PER_DAY and end != _MINUTES_PER_DAY:
            raise InvalidRequest(f"period '{self.spec}' starts and ends at the same time", field="schedule")
        object.__setattr__(self, "days", _parse_days(match["days"], self.spec))
        object.__setattr__(self, "start_minute", start)
        object.__setattr__(self, "end_minute", end)
        low = _whole(self.min_nodes, "schedule.min_nodes", 2)
        high = _whole(self.max_nodes, "schedule.max_nodes", 2)
        if low is not None and high is not None and low > high:
            raise InvalidRequest(
                f"period '{self.spec}': min_nodes ({low}) is greater than max_nodes ({high})",
                field="schedule.min_nodes",
            )
        low_acu = _acu(self.min_acu, "schedule.min_acu")
        high_acu = _acu(self.max_acu, "schedule.max_acu")
        if high_acu is not None and high_acu < 1:
            raise InvalidRequest(f"period '{self.spec}': max_acu must be at least 1", field="schedule.max_acu")
        if low_acu is not None and high_acu is not None and low_acu > high_acu:
            raise InvalidRequest(
                f"period '{self.spec}': min_acu ({low_acu:g}) is greater than max_acu ({high_acu:g})",
                field="schedule.min_acu",
            )
        object.__setattr__(self, "min_acu", low_acu)
        object.__setattr__(self, "max_acu", high_acu)
        if not isinstance(self.paused, bool):
            raise InvalidRequest(f"period '{self.spec}': paused must be True or False", field="schedule.paused")
        if self.paused and any(v is not None for v in (low, high, low_acu, high_acu)):
            raise InvalidRequest(
                f"period '{self.spec}' is paused, so it cannot also set bounds", field="schedule.paused"
            )

    @property
    def overnight(self) -> bool:
        return self.end_minute <= self.start_minute

    def occurrence_day(self, moment: datetime) -> date | None:
        """The local date on which the occurrence containing ``moment`` (aware) started; None when off."""
        local = moment.astimezone(zone(self.tz))
        minute = local.hour * 60 + local.minute
        today = local.date()
        if self.overnight:
            if minute >= self.start_minute and today.weekday() in self.days:
                return today
            yesterday = today - timedelta(days=1)
            if minute < self.end_minute and yesterday.weekday() in self.days:
                return yesterday
            return None
        if today.weekday() in self.days and self.start_minute <= minute < self.end_minute:
            return today
        return None

    def describe(self) -> str:
        what = (
            "paused"
            if self.paused
            else ", ".join(
                f"{name} {getattr(self, name):g}"
                for name in ("min_nodes", "max_nodes", "min_acu", "max_acu")
                if getattr(self, name) is not None
            )
            or "running"
        )
        return f"{self.spec} {self.tz} ({what})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "tz": self.tz,
            **{
                name: getattr(self, name)
                for name in ("min_nodes", "max_nodes", "min_acu", "max_acu")
                if getattr(self, name) is not None
            },
            **({"paused": True} if self.paused else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Period) -> Period:
        if isinstance(data, Period):
            return data
        if not isinstance(data, Mapping):
            raise InvalidRequest(f"a schedule period must be an object, got {data!r}", field="schedule")
        allowed = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidRequest(f"schedule period has unknown keys: {', '.join(unknown)}", field="schedule")
        return cls(**dict(data))


@dataclass(frozen=True)
class ScheduleBounds:
    """What the schedule says at one moment. ``active`` lists the periods that are on (their descriptions).

    ``paused`` is True when a paused period is on (or, with ``paused_outside_schedule``, when none is);
    the bounds are None where no period sets them.
    """

    active: tuple[str, ...] = ()
    paused: bool = False
    min_nodes: int | None = None
    max_nodes: int | None = None
    min_acu: float | None = None
    max_acu: float | None = None
    holiday: str | None = None

    @property
    def scheduled(self) -> bool:
        return bool(self.active) or self.paused


def _max(values: Iterable[float | None]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def bounds_at(
    periods: Iterable[Period], moment: float, *, holidays: Iterable[date] = (), paused_outside: bool = False
) -> ScheduleBounds:
    """The schedule at ``moment`` (epoch seconds).

    Overlapping periods combine towards capacity: a paused period wins only when no running period
    is on at the same time; otherwise the largest minimum and the largest maximum apply.
    """
    when = datetime.fromtimestamp(moment, tz=timezone.utc)
    closed = frozenset(holidays)
    on: list[Period] = []
    holiday = None
    for period in periods:
        day = period.occurrence_day(when)
        if day is None:
            continue
        if day in closed:
            holiday = day.isoformat()
            continue
        on.append(period)
    running = [p for p in on if not p.paused]
    if not running:
        paused = bool(on) or paused_outside
        return ScheduleBounds(active=tuple(p.describe() for p in on), paused=paused, holiday=holiday)
    return ScheduleBounds(
        active=tuple(p.describe() for p in running),
        min_nodes=_max(p.min_nodes for p in running),
        max_nodes=_max(p.max_nodes for p in running),
        min_acu=_max(p.min_acu for p in running),
        max_acu=_max(p.max_acu for p in running),
        holiday=holiday,
    )


def parse_holidays(values: Iterable[object]) -> tuple[date, ...]:
    """Holidays as dates; accepts ``date`` objects and ISO strings (``2025-12-25``)."""
    if isinstance(values, (str, bytes)):
        raise InvalidRequest("holidays must be a list of dates", field="holidays")
    found: list[date] = []
    for index, value in enumerate(values):
        if isinstance(value, datetime):
            raise InvalidRequest(f"holidays[{index}] must be a date, not a datetime: {value!r}", field="holidays")
        if isinstance(value, date):
            found.append(value)
            continue
        if isinstance(value, str):
            try:
                found.append(date.fromisoformat(value))
                continue
            except ValueError:
                pass
        raise InvalidRequest(f"holidays[{index}] must be a date (YYYY-MM-DD), got {value!r}", field="holidays")
    return tuple(sorted(set(found)))
