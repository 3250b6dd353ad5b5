"""The load traces the autoscaling benchmark and its tests read: a documented, seeded generative model.

Each trace is 21 days of demand, one value per minute, in CPU-percent x nodes (440 = 8 nodes at
55%): 14 days of *history* (what CloudWatch would hold when the simulated week starts, and what a
careful user would read to write a schedule) and the 7-day *simulated week*. Every trace starts on a
Monday 00:00 UTC: 2024-12-30 (simulated week from Monday 2025-01-13), except ``dst``, which starts
2025-02-24 so that its history is in US winter time and its simulated week (from 2025-03-10) in
summer time.

The base model, minute ``m`` of day ``d``:

    demand = PEAK x level(d) x shape(d, hour) x (1 + 0.08 sin(2 pi m / 97) + U(-a, a)) + extra

* ``shape`` is the working day: 0 before 06:00, a half-cosine ramp to 1 by 09:00, 1 until 17:00, a
  half-cosine fall to 0 by 21:00; weekends peak at 30% from 10:00 to 18:00 (ramp from 09:00, 0 by 21:00).
* ``a`` = 0.04, ``level`` = 1, no ``extra``, unless the family changes them. "Day N" below counts
  simulated days from 0 (Monday); nothing in a family is announced in its history unless said.

================ ====================================================================================
family           what changes
================ ====================================================================================
periodic         nothing: the model as it stands
spike            simulated Wednesday 14:00-15:30: +0.9 x PEAK on top (10-minute ramp)
holiday          simulated Thursday: nobody works (shape 0 all day)
shifted          simulated Tuesday: the whole day 3 hours earlier (ramp from 03:00)
drift            level(d) = 1 + 0.015 d over all 21 days (the simulated week is ~20% above week 1)
noise            a = 0.25, and bursts: each minute a 1/600 chance of a 20-60 minute +50% burst
random_walk      level(d): a random walk, each day x exp(N(0, 0.2)), kept within 0.5-1.5
night_batch      every day 01:00-04:00, a nightly ETL at 0.8 x PEAK (half-cosine edges of 20 min)
month_end        simulated Thursday and Friday (a month-end close): level 1.7, never seen in the history
quarter_end      simulated Wednesday to Friday (a quarter-end): level 2.0 and the day runs until 23:00
step_up          from simulated Tuesday on (a launch): level 1.8
step_down        from simulated Tuesday on (a migration away): level 0.4
multi_peak       weekdays: three peaks (08:00-10:00, 12:30-14:00, 16:30-18:30) over a 0.3 base
flash_crowd      office hours at level 0.5, plus 4-8 flash crowds a week at random minutes of the
                 working day (history too, elsewhere): 15-45 minutes at +1.0-2.0 x PEAK
dst              the working day pinned to America/New_York wall clock: weekdays 08:00-18:00 (half-cosine
                 edges of 2 h), weekends 0.3 from 10:00-16:00; the plateau is 13:00-23:00 UTC in the
                 history (EST) and 12:00-22:00 UTC in the simulated week (EDT)
idle_dev         an idle developer cluster: weekdays 1-4 sessions of 20-90 minutes between 09:00 and
                 18:00 at 0.05-0.3 x PEAK; nothing else
amplitude        the weekly pattern with an amplitude that changes each week: level 0.6-1.4, drawn per
                 week (the simulated week's level is not the history's)
two_shifts       two regions' shifts on weekdays: 00:00-08:00 at 0.6 and 13:00-21:00 at 1.0 (half-cosine
                 edges of an hour); weekends nothing
================ ====================================================================================

``U``, the walks, bursts, sessions and crowds come from ``random.Random(f"{family}-{seed}")``: the
same family and seed give the same trace everywhere. The autoscaler's rules never see the family.

    python bench/autoscale_traces.py --write DIR    # write every trace as DIR/<family>-<seed>.csv.gz
"""

from __future__ import annotations

import gzip
import math
import random
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

KINDS = (
    "periodic",
    "spike",
    "holiday",
    "shifted",
    "drift",
    "noise",
    "random_walk",
    "night_batch",
    "month_end",
    "quarter_end",
    "step_up",
    "step_down",
    "multi_peak",
    "flash_crowd",
    "dst",
    "idle_dev",
    "amplitude",
    "two_shifts",
)
SEEDS = (1, 2, 3)
PEAK = 440.0
DAYS = 21
HISTORY_DAYS = 14
START_EPOCH = 1735516800  # Monday 2024-12-30 00:00 UTC
SIM_START_EPOCH = START_EPOCH + HISTORY_DAYS * 86400  # Monday 2025-01-13 00:00 UTC
DST_START_EPOCH = 1740355200  # Monday 2025-02-24 00:00 UTC; US summer time begins Sunday 2025-03-09
SIM_MINUTES = (DAYS - HISTORY_DAYS) * 1440
_NEW_YORK = ZoneInfo("America/New_York")


def start_epoch(kind: str) -> int:
    """The trace's first minute (a Monday 00:00 UTC)."""
    return DST_START_EPOCH if kind == "dst" else START_EPOCH


def sim_start_epoch(kind: str) -> int:
    """The simulated week's first minute (a Monday 00:00 UTC)."""
    return start_epoch(kind) + HISTORY_DAYS * 86400


def _ramp(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return (1 - math.cos(math.pi * x)) / 2


def _window(hour: float, start: float, end: float, edge: float) -> float:
    """1 inside [start, end) hours with half-cosine edges ``edge`` hours wide (outside the window), else 0."""
    if start - edge <= hour < start:
        return _ramp((hour - start + edge) / edge)
    if start <= hour < end:
        return 1.0
    if end <= hour < end + edge:
        return 1 - _ramp((hour - end) / edge)
    return 0.0


def shape(weekday: int, hour: float, *, end: float = 17) -> float:
    """The working-day shape, 0 to 1 (weekends up to 0.3); ``end`` moves the start of the evening fall."""
    if weekday >= 5:
        up, plateau, down, off, top = 9, 10, 18, 21, 0.3
    else:
        up, plateau, down, off, top = 6, 9, end, end + 4, 1.0
    if hour < up or hour >= off:
        return 0.0
    if hour < plateau:
        return top * _ramp((hour - up) / (plateau - up))
    if hour < down:
        return top
    return top * (1 - _ramp((hour - down) / (off - down)))


def _multi_peak(weekday: int, hour: float) -> float:
    if weekday >= 5:
        return shape(weekday, hour)
    base = 0.3 * _window(hour, 7.5, 19, 0.5)
    peaks = max(_window(hour, 8, 10, 0.5), _window(hour, 12.5, 14, 0.5), _window(hour, 16.5, 18.5, 0.5))
    return max(base, peaks)


def _two_shifts(weekday: int, hour: float) -> float:
    if weekday >= 5:
        return 0.0
    return max(0.6 * _window(hour, 0.5, 7.5, 0.5), _window(hour, 13, 21, 1))


def _sessions(rng: random.Random, days: int) -> list[tuple[int, int, float]]:
    """idle_dev: (first minute, last minute, level) of each weekday session."""
    found = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        for _ in range(rng.randint(1, 4)):
            start = day * 1440 + rng.randint(9 * 60, 18 * 60)
            found.append((start, start + rng.randint(20, 90), rng.uniform(0.05, 0.3)))
    return found


def _crowds(rng: random.Random, days: int) -> list[tuple[int, int, float]]:
    """flash_crowd: (first minute, last minute, extra x PEAK) of each crowd, 4-8 a week in working hours."""
    found = []
    for week in range(math.ceil(days / 7)):
        for _ in range(rng.randint(4, 8)):
            day = week * 7 + rng.randint(0, 4)
            start = day * 1440 + rng.randint(9 * 60, 17 * 60)
            found.append((start, start + rng.randint(15, 45), rng.uniform(1.0, 2.0)))
    return found


def _daily_levels(kind: str, rng: random.Random, days: int) -> list[float]:
    levels = [1.0] * days
    if kind == "random_walk":
        level = 1.0
        for day in range(days):
            level = min(1.5, max(0.5, level * math.exp(rng.gauss(0, 0.2))))
            levels[day] = level
    elif kind == "amplitude":
        weekly = [rng.uniform(0.6, 1.4) for _ in range(math.ceil(days / 7))]
        if abs(weekly[-1] - weekly[-2]) < 0.25:  # the simulated week must not repeat the last one
            weekly[-1] = 1.4 if weekly[-2] < 1.0 else 0.6
        levels = [weekly[day // 7] for day in range(days)]
    elif kind == "drift":
        levels = [1 + 0.015 * day for day in range(days)]
    for day in range(days):
        sim_day = day - HISTORY_DAYS
        if kind == "month_end" and sim_day in (3, 4):
            levels[day] = 1.7
        elif kind == "quarter_end" and sim_day in (2, 3, 4):
            levels[day] = 2.0
        elif kind == "step_up" and sim_day >= 1:
            levels[day] = 1.8
        elif kind == "step_down" and sim_day >= 1:
            levels[day] = 0.4
        elif kind == "flash_crowd":
            levels[day] = 0.5
    return levels


def _shape_for(kind: str, epoch: int) -> Callable[[int, int, float], float]:
    """The family's working-day shape as a function of (day, weekday, hour UTC)."""
    if kind == "multi_peak":
        return lambda day, weekday, hour: _multi_peak(weekday, hour)
    if kind == "two_shifts":
        return lambda day, weekday, hour: _two_shifts(weekday, hour)
    if kind == "idle_dev":
        return lambda day, weekday, hour: 0.0
    if kind == "dst":

        def new_york(day: int, weekday: int, hour: float) -> float:
            from datetime import datetime, timezone

            moment = datetime.fromtimestamp(epoch + day * 86400 + hour * 3600, tz=timezone.utc).astimezone(_NEW_YORK)
            local = moment.hour + moment.minute / 60
            if moment.weekday() >= 5:
                return 0.3 * _window(local, 10, 16, 1)
            return _window(local, 8, 18, 2)

        return new_york
    if kind == "holiday":
        return lambda day, weekday, hour: 0.0 if day - HISTORY_DAYS == 3 else shape(weekday, hour)
    if kind == "shifted":
        return lambda day, weekday, hour: shape(weekday, hour + 3) if day - HISTORY_DAYS == 1 else shape(weekday, hour)
    if kind == "quarter_end":
        return lambda day, weekday, hour: shape(weekday, hour, end=19 if day - HISTORY_DAYS in (2, 3, 4) else 17)
    return lambda day, weekday, hour: shape(weekday, hour)


@lru_cache(maxsize=64)
def _generate(kind: str, seed: int, days: int) -> tuple[float, ...]:
    if kind not in KINDS:
        raise ValueError(f"unknown trace family {kind!r}; one of {', '.join(KINDS)}")
    rng = random.Random(f"{kind}-{seed}")
    noise = 0.25 if kind == "noise" else 0.04
    levels = _daily_levels(kind, rng, days)
    extras: list[tuple[int, int, float]] = []
    if kind == "idle_dev":
        extras = [(a, b, v) for a, b, v in _sessions(rng, days)]
    elif kind == "flash_crowd":
        extras = _crowds(rng, days)
    day_shape = _shape_for(kind, start_epoch(kind))
    extra_at = [0.0] * (days * 1440)
    for first, last, value in extras:
        for minute in range(first, min(last, days * 1440)):
            extra_at[minute] = max(extra_at[minute], value)
    burst_left = 0
    values: list[float] = []
    for minute in range(days * 1440):
        day, rest = divmod(minute, 1440)
        hour = rest / 60
        weekday = day % 7
        level = day_shape(day, weekday, hour)
        wobble = 1 + 0.08 * math.sin(2 * math.pi * minute / 97) + rng.uniform(-noise, noise)
        demand = PEAK * levels[day] * level * wobble if level > 0 else 0.0
        if kind == "night_batch":
            demand += 0.8 * PEAK * _window(hour, 1 + 1 / 3, 4 - 1 / 3, 1 / 3) * wobble
        if kind == "noise":
            if burst_left == 0 and rng.random() < 1 / 600:
                burst_left = rng.randint(20, 60)
            if burst_left:
                burst_left -= 1
                demand += 0.5 * PEAK * max(level, 0.2)
        if extra_at[minute]:
            demand += PEAK * extra_at[minute] * wobble
        if kind == "spike" and day - HISTORY_DAYS == 2 and 14 <= hour < 15.5:
            demand += 0.9 * PEAK * min(1.0, (hour - 14) * 6)
        values.append(max(0.0, demand))
    return tuple(values)


def generate(kind: str, seed: int, days: int = DAYS) -> list[float]:
    """The trace of family ``kind`` with ``seed``: ``days`` x 1440 demand values (see the module docstring)."""
    return list(_generate(kind, seed, days))


def read(kind: str, seed: int) -> list[float]:
    """The full trace (history first), rounded to 0.1 as a written file holds it."""
    return [round(v, 1) for v in _generate(kind, seed, DAYS)]


def write(kind: str, seed: int, directory: Path) -> Path:
    """``directory/<kind>-<seed>.csv.gz`` (header ``minute,demand``); the same trace gives the same bytes."""
    target = directory / f"{kind}-{seed}.csv.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = ["minute,demand"] + [f"{m},{v:.1f}" for m, v in enumerate(read(kind, seed))]
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(("\n".join(lines) + "\n").encode())
    return target


if __name__ == "__main__":
    if "--write" not in sys.argv[1:]:
        print(__doc__)
        sys.exit(0)
    out_dir = Path(sys.argv[sys.argv.index("--write") + 1])
    for family in KINDS:
        for each in SEEDS:
            print(write(family, each, out_dir))
    sys.exit(0)
