"""The load traces the autoscaling benchmark and its tests read: a documented generative model, written to files.

Each trace is 21 days of demand, one value per minute, in CPU-percent x nodes (440 = 8 nodes at
55%), starting Monday 2024-12-30 00:00 UTC: 14 days of *history* (what CloudWatch would hold when
the simulated week starts, and what a careful user would read to write a schedule) and the 7-day
*simulated week* from Monday 2025-01-13.

The model, minute ``m`` of day ``d``:

    demand = PEAK x growth(d) x shape(d, hour) x (1 + 0.08 sin(2 pi m / 97) + U(-a, a)) + bursts

* ``shape`` is the working day: 0 before 06:00, a half-cosine ramp to 1 by 09:00, 1 until 17:00, a
  half-cosine fall to 0 by 21:00; weekends peak at 30% from 10:00 to 18:00 (ramp from 09:00, 0 by 21:00).
* ``a`` = 0.04; ``growth`` = 1; no bursts - unless the trace's kind changes them:

  ============ ==============================================================================
  periodic     the model as it stands
  spike        simulated Wednesday 14:00-15:30: +0.9 x PEAK on top (10-minute ramp)
  holiday      simulated Thursday: nobody works (shape 0 all day)
  shifted      simulated Tuesday: the whole day 3 hours earlier (ramp from 03:00)
  drift        growth(d) = 1 + 0.015 d over all 21 days (the simulated week is ~20% above week 1)
  noise        a = 0.25, and bursts: each minute a 1/600 chance of a 20-60 minute +50% burst
  ============ ==============================================================================

``U`` and the bursts come from ``random.Random(seed)``; seeds 1, 2, 3 are written. Files:
``tests/data/autoscale_traces/<kind>-<seed>.csv.gz`` (header ``minute,demand``; demand to 0.1).

    python bench/autoscale_traces.py            # (re)write every trace
"""

from __future__ import annotations

import gzip
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACE_DIR = ROOT / "tests" / "data" / "autoscale_traces"
KINDS = ("periodic", "spike", "holiday", "shifted", "drift", "noise")
SEEDS = (1, 2, 3)
PEAK = 440.0
DAYS = 21
HISTORY_DAYS = 14
START_EPOCH = 1735516800  # Monday 2024-12-30 00:00 UTC
SIM_START_EPOCH = START_EPOCH + HISTORY_DAYS * 86400  # Monday 2025-01-13 00:00 UTC
SIM_MINUTES = (DAYS - HISTORY_DAYS) * 1440


def _ramp(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return (1 - math.cos(math.pi * x)) / 2


def shape(weekday: int, hour: float) -> float:
    """The working-day shape, 0 to 1 (weekends up to 0.3)."""
    if weekday >= 5:
        up, plateau, down, off, top = 9, 10, 18, 21, 0.3
    else:
        up, plateau, down, off, top = 6, 9, 17, 21, 1.0
    if hour < up or hour >= off:
        return 0.0
    if hour < plateau:
        return top * _ramp((hour - up) / (plateau - up))
    if hour < down:
        return top
    return top * (1 - _ramp((hour - down) / (off - down)))


def generate(kind: str, seed: int, days: int = DAYS) -> list[float]:
    """The trace ``kind`` with ``seed``: ``days`` x 1440 demand values (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; one of {', '.join(KINDS)}")
    rng = random.Random(f"{kind}-{seed}")
    noise = 0.25 if kind == "noise" else 0.04
    burst_left = 0
    values: list[float] = []
    for minute in range(days * 1440):
        day, rest = divmod(minute, 1440)
        hour = rest / 60
        weekday = day % 7
        sim_day = day - HISTORY_DAYS  # 0 = simulated Monday
        level = shape(weekday, hour)
        if kind == "holiday" and sim_day == 3:
            level = 0.0
        if kind == "shifted" and sim_day == 1:
            level = shape(weekday, hour + 3)
        growth = 1 + 0.015 * day if kind == "drift" else 1.0
        wobble = 1 + 0.08 * math.sin(2 * math.pi * minute / 97) + rng.uniform(-noise, noise)
        demand = PEAK * growth * level * wobble if level > 0 else 0.0
        if kind == "noise":
            if burst_left == 0 and rng.random() < 1 / 600:
                burst_left = rng.randint(20, 60)
            if burst_left:
                burst_left -= 1
                demand += 0.5 * PEAK * max(level, 0.2)
        if kind == "spike" and sim_day == 2 and 14 <= hour < 15.5:
            demand += 0.9 * PEAK * min(1.0, (hour - 14) * 6)
        values.append(max(0.0, demand))
    return values


def path(kind: str, seed: int) -> Path:
    return TRACE_DIR / f"{kind}-{seed}.csv.gz"


def write(kind: str, seed: int) -> Path:
    target = path(kind, seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = ["minute,demand"] + [f"{m},{v:.1f}" for m, v in enumerate(generate(kind, seed))]
    # mtime=0: the same trace gives the same bytes, so regenerating does not churn the repository.
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(("\n".join(lines) + "\n").encode())
    return target


def read(kind: str, seed: int) -> list[float]:
    """A written trace: 21 x 1440 values (history first)."""
    with gzip.open(path(kind, seed), "rt") as source:
        rows = source.read().splitlines()
    if rows[0] != "minute,demand":
        raise ValueError(f"{path(kind, seed)} has no 'minute,demand' header")
    return [float(row.split(",")[1]) for row in rows[1:]]


if __name__ == "__main__":
    for kind in KINDS:
        for seed in SEEDS:
            print(write(kind, seed).relative_to(ROOT))
    sys.exit(0)
