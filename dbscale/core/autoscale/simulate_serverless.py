"""A minute-by-minute model of one Aurora Serverless v2 cluster under a load trace, for comparing scaling rules.

The model (every figure a parameter of :class:`ServerlessModel`):

* Demand arrives each minute in ACU x 100 (the unit of the forecasts: ``ServerlessDatabaseCapacity``
  x 100; a trace's 440 is 4.4 fully used ACUs). Aurora allots capacity by itself within the cluster's
  range, within the minute: enough for the demand at ``allot_percent`` utilization, rounded up to
  0.5 ACU, never below the minimum nor above the maximum. The cluster serves up to its **maximum**
  x 100 a minute; what it cannot serve queues and is served later, oldest first.
* CPU is reported against the maximum capacity (as the autoscaler's checks read it).
* A new capacity range (``ModifyDBCluster``) takes effect after ``modify_minutes``; the cluster keeps
  serving meanwhile (no read-only phase, unlike a Redshift resize), but is busy for the autoscaler.
* With a 0-ACU minimum the instance pauses after ``auto_pause_seconds`` without demand and costs
  nothing while paused; demand wakes it and waits ``resume_minutes`` (Aurora: about 15 s, so 1).
* Billing: the allotted ACUs, per minute, at :data:`~dbscale.core.limits.SERVERLESS_V2_USD_PER_ACU_HOUR`.
* A minute is an **overload** minute when CPU is above ``cpu_high`` or any demand is queued.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidRequest
from ..limits import SERVERLESS_V2_ACU_STEP, SERVERLESS_V2_USD_PER_ACU_HOUR
from .simulate import SimResult

__all__ = ["ServerlessModel", "ServerlessStrategy", "ServerlessView", "simulate_serverless"]


@dataclass(frozen=True)
class ServerlessModel:
    """The physical model: how Aurora allots capacity, timings (minutes) and the overload threshold."""

    allot_percent: float = 70.0
    modify_minutes: float = 2
    resume_minutes: float = 1
    cpu_high: float = 75.0
    usd_per_acu_hour: float = SERVERLESS_V2_USD_PER_ACU_HOUR

    def __post_init__(self) -> None:
        if not 0 < self.allot_percent <= 100:
            raise InvalidRequest("allot_percent must be above 0 and at most 100", field="allot_percent")
        for name in ("modify_minutes", "resume_minutes"):
            if getattr(self, name) < 1:
                raise InvalidRequest(f"{name} must be at least 1 minute", field=name)

    def allotted(self, demand: float, low: float, high: float) -> float:
        """The ACUs Aurora gives ``demand`` (ACU x 100) within [low, high]."""
        wanted = demand / self.allot_percent
        step = SERVERLESS_V2_ACU_STEP
        return min(high, max(low, math.ceil(wanted / step - 1e-9) * step))


class ServerlessStrategy(Protocol):
    name: str

    def step(self, view: ServerlessView) -> tuple[float, float, int | None] | None:
        """A new capacity range ``(minimum, maximum, seconds until auto-pause)`` or None, once a minute."""


@dataclass
class ServerlessView:
    """What a strategy sees each minute: the range, the state, and the per-minute series so far."""

    minute: int
    status: str  # available | modifying | paused (auto-paused at 0 ACU)
    acu: tuple[float, float]
    auto_pause_seconds: int | None
    cpu: list[float | None]
    load: list[float]  # ServerlessDatabaseCapacity x 100 per minute (what the forecast learns from)
    queued: list[float]

    @property
    def settled(self) -> bool:
        return self.status != "modifying"


def simulate_serverless(
    demand: Sequence[float],
    strategy: ServerlessStrategy,
    *,
    start_acu: tuple[float, float],
    model: ServerlessModel | None = None,
) -> SimResult:
    """Run ``strategy`` over ``demand`` (one value per minute); the cluster starts available with ``start_acu``."""
    model = model or ServerlessModel()
    result = SimResult(strategy=getattr(strategy, "name", type(strategy).__name__))
    view = ServerlessView(0, "available", start_acu, None, [], [], [])
    pending: tuple[float, float, int | None] | None = None
    busy_until = 0.0
    idle_minutes = 0
    waking = 0
    queue: deque[list[float]] = deque()
    for minute, arriving in enumerate(demand):
        view.minute = minute
        if view.status == "modifying" and minute >= busy_until and pending is not None:
            view.acu, view.auto_pause_seconds, pending = (pending[0], pending[1]), pending[2], None
            view.status = "available"
        ask = strategy.step(view)
        if ask is not None:
            if not view.settled:
                result.refused += 1
            else:
                low, high, pause_after = ask
                pending, busy_until = (float(low), float(high), pause_after), minute + model.modify_minutes
                view.status = "modifying" if view.status != "paused" else "paused"
                result.operations += 1
                if view.status == "paused":  # a paused instance takes the new range at once
                    view.acu, view.auto_pause_seconds, pending = (float(low), float(high)), pause_after, None
        if arriving > 0:
            queue.append([minute, arriving])
        low, high = view.acu
        if view.status == "paused" or waking:
            if queue and not waking:
                waking = math.ceil(model.resume_minutes)
            if waking:
                waking -= 1
                if waking == 0:
                    view.status = "available" if pending is None else "modifying"
            spare = 0.0
        else:
            spare = high * 100.0
        served = 0.0
        while spare > 1e-9 and queue:
            take = result.serve_oldest(queue, spare, minute)
            spare -= take
            served += take
        queued = sum(item[1] for item in queue)
        running = view.status != "paused" and not waking
        allotted = model.allotted(served + queued, low, high) if running else 0.0
        if running and low == 0 and view.auto_pause_seconds is not None:
            idle_minutes = idle_minutes + 1 if served + queued <= 1e-9 else 0
            if idle_minutes * 60 >= view.auto_pause_seconds and view.status == "available":
                view.status, allotted, idle_minutes = "paused", 0.0, 0
        cpu = min(100.0, served / high) if running and high > 0 else None
        view.cpu.append(cpu)
        view.load.append(allotted * 100)
        view.queued.append(queued)
        result.compute_usd += allotted * model.usd_per_acu_hour / 60
        result.node_hours += allotted / 60
        result.peak_nodes = max(result.peak_nodes, math.ceil(high))
        result.count_minute(queued > 1e-6 or (cpu is not None and cpu > model.cpu_high))
    if queue:
        result.worst_delay_minutes = max(result.worst_delay_minutes, len(demand) - int(queue[0][0]))
        result.unserved_at_end = sum(item[1] for item in queue)
        result.notes.append(f"{result.unserved_at_end:,.0f} load units still queued at the end")
    return result
