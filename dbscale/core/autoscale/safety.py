"""Forecasts only add safety: the rule that decides between what the measured load asks and what the forecast asks.

Every evaluation with a usable forecast decides twice, with the same checks and memory: once as if
there were no forecast (*reactive*: the measured load, the schedule, the bounds), once with it
(*ahead*). :func:`arbitrate` keeps

* the forecast's decision when it leaves the cluster with **at least** the capacity the reactive one
  does (it scales up or resumes ahead of time, or holds capacity the reactive rules would give up);
* the reactive decision when the reactive rules **add** capacity (a scale-up or resume the measured
  load calls for is never delayed, shrunk or cancelled by a forecast);
* the forecast's smaller decision (a resize down to the coming stretch's size, an early pause) only
  when the measured load carries it: the cluster is idle for a pause, and the load it carries now fits
  the smaller size under ``cpu_high`` less the forecast headroom for a scale-down;
* and a forecast-led resize of any direction only while the cluster is quiet (a window that is not
  busy: idle, or no datapoints yet just after a resume): a resize makes a Redshift cluster read-only
  for its whole duration, so it is free only when nothing runs.

A forecast that under-predicted recent load by more than its tolerance is not used at all (see
:func:`dbscale.core.autoscale.guide.trust_forecast`); the decision log names which rule won and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..limits import AURORA_INSTANCE_CLASSES
from ..scaling import CheckResult
from .decisions import Decision

__all__ = [
    "BACKLOG_DRAIN_MINUTES",
    "BACKLOG_WAIT_SECONDS",
    "MISS_MEMORY_HOURS",
    "Evidence",
    "arbitrate",
    "capacity_after",
    "measured_load",
]

MISS_MEMORY_HOURS = 24
"""A forecast that under-predicted within this many hours may add capacity, but not shrink or pause a cluster."""
BACKLOG_WAIT_SECONDS = 60.0
"""A queue wait longer than this (Redshift ``queue_time``) means work is queued for lack of capacity."""
BACKLOG_DRAIN_MINUTES = 30.0
"""A scale-up sized for a backlog drains it within this long while carrying the load that keeps arriving."""


def measured_load(results: Mapping[str, CheckResult], capacity: float | None, window_minutes: float) -> float | None:
    """The load of the last window in capacity units x percent: CPU x capacity, plus the queued backlog.

    A backlog (``backlog`` check: the longest queue wait, seconds) is work the cluster could not serve:
    ``wait / 60`` minutes of its full capacity, arrived within the window. None without CPU data.
    """
    under = results.get("cpu_low")
    if capacity is None or under is None or under.value is None:
        return None
    return under.value * capacity + backlog_rate(results, capacity, window_minutes)


def backlog_rate(results: Mapping[str, CheckResult], capacity: float, minutes: float) -> float:
    """The queued backlog spread over ``minutes``, in capacity units x percent (0 with no backlog check)."""
    backlog = results.get("backlog")
    if backlog is None or not backlog.value:
        return 0.0
    return backlog.value / 60 * capacity * 100 / minutes


def capacity_after(decision: Decision) -> tuple[float, ...]:
    """The capacity the cluster has once ``decision`` is carried out, as comparable parts.

    Redshift: (running, nodes). Aurora: (running, vCPU of the class or maximum ACU, readers, warm),
    where *warm* is 0 when the Serverless v2 minimum is 0 ACU (auto-pause) and 1 otherwise. A paused
    cluster keeps its size for the resume, so "paused at 4 nodes" is neither more nor less than
    "running at 2": each part is compared on its own.
    """
    state: dict[str, Any] = {**decision.current, **(decision.target if decision.changes else {})}
    running = 0.0 if state.get("paused") else 1.0
    if decision.service == "redshift":
        return (running, float(state.get("nodes") or 0))
    acu = state.get("acu")
    if acu:
        size = float(acu[1])
        warm = 1.0 if float(acu[0]) > 0 else 0.0
    else:
        spec = AURORA_INSTANCE_CLASSES.get(str(state.get("instance_class")))
        size, warm = (float(spec.vcpu) if spec is not None else 0.0), 1.0
    return (running, size, float(state.get("readers") or 0), running * warm)


def _at_least(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y - 1e-9 for x, y in zip(a, b, strict=True))


class Evidence:
    """What the measured load says now, for gating a forecast's decision (load in capacity units x percent).

    ``load`` is the load the cluster carried over the last window (CPU% x nodes, or x maximum ACU)
    plus any queued backlog; ``idle`` whether the window was idle by the policy's idle level (None:
    no data, e.g. paused); ``aim`` the percent a forecast sizes for (``cpu_high`` less the headroom);
    ``missed`` says when the forecast last under-predicted, if within :data:`MISS_MEMORY_HOURS`: until
    then it may add capacity but not take any away.
    """

    def __init__(self, load: float | None, idle: bool | None, aim: float, missed: str = "") -> None:
        self.load = load
        self.idle = idle
        self.aim = aim
        self.missed = missed

    def carries(self, decision: Decision) -> str:
        """'' when the measured load allows the forecast's smaller ``decision``, else why not."""
        if self.missed:
            return self.missed
        target: Mapping[str, Any] = decision.target
        if decision.action in ("pause", "stop_again") or (target.get("acu") and float(target["acu"][0]) == 0):
            if self.idle is not True:
                return "the measured load is not idle, so the cluster is not paused ahead of the forecast"
            return ""
        if self.load is None:  # no datapoints yet (just resumed): nothing says the forecast is wrong
            return ""
        size = capacity_after(decision)[1]
        if self.load > size * self.aim:
            return (
                f"the measured load {self.load:,.0f} would not fit {size:g} at {self.aim:g}%, so the forecast's "
                "smaller size waits"
            )
        return ""


def _resizes(decision: Decision) -> bool:
    return decision.changes and any(k in decision.target for k in ("nodes", "instance_class", "readers"))


def arbitrate(
    reactive: Decision, ahead: Decision, evidence: Evidence, memory: Mapping[str, Any] | None = None
) -> Decision:
    """The decision to carry out, given the reactive one and the forecast's (see the module docstring).

    ``memory`` is the cluster's memory before either decision (kept when the cluster is held)."""
    if (reactive.action, dict(reactive.target)) == (ahead.action, dict(ahead.target)):
        return ahead
    if ahead.changes and "forecast" in ahead.causes and _resizes(ahead) and evidence.idle is False:
        # A Redshift resize is read-only while it runs: ahead of time it is only free while nothing runs.
        # (No data, e.g. just resumed, is not a busy window.) Waiting must not turn into shrinking: when
        # the reactive rules would give up capacity the forecast wanted to keep or add, the cluster is held.
        why = "a resize ahead of the forecast waits for a quiet (idle) window"
        current = capacity_after(replace(reactive, action="none"))
        if not _at_least(capacity_after(reactive), current) and _at_least(capacity_after(ahead), current):
            before = dict(memory) if memory is not None else dict(reactive.memory)
            held = replace(reactive, action="none", target={}, memory=before, causes=("forecast",))
            return _overruled(held, ahead, why + "; the cluster is held meanwhile, not shrunk")
        return _overruled(reactive, ahead, why)
    kept, given = capacity_after(ahead), capacity_after(reactive)
    if _at_least(kept, given):
        return ahead
    if reactive.changes and not _at_least(capacity_after(replace(reactive, action="none")), given):
        return _overruled(reactive, ahead, "the measured load asks for more capacity, and that is never delayed")
    why = evidence.carries(ahead)
    if not why and _resizes(ahead) and evidence.idle is False:
        why = "a smaller size than the measured load asks for waits for a quiet (idle) window"
    if why:
        return _overruled(reactive, ahead, why)
    return ahead


def _overruled(reactive: Decision, ahead: Decision, why: str) -> Decision:
    """``reactive``, saying what the forecast would have done instead and why it did not."""
    wanted = f"{ahead.action} {ahead.change}".strip() if ahead.changes else "no change"
    note = f"forecast overruled ({wanted}): {why}"
    figures = {**ahead.figures, **reactive.figures, "forecast_overruled": {"wanted": wanted, "why": why}}
    return replace(reactive, reason=f"{reactive.reason}; {note}", figures=figures)
