"""Strategies for :func:`~dbscale.core.autoscale.simulate.simulate`: what users run instead, and the autoscaler.

* :class:`Static`: a fixed size, never changed.
* :class:`Timetable`: actions at fixed times of the week, as AWS Instance Scheduler (pause/resume)
  or Redshift scheduled actions (pause, resume, resize) run them; :func:`instance_scheduler` and
  :func:`scheduled_actions` write the timetable a careful user would write from the load history.
* :class:`AutoscalerStrategy`: the real :class:`~dbscale.core.autoscale.Autoscaler` rules, every
  ``evaluation_interval_minutes``, on check results computed from the model's CPU series; with
  ``forecasts`` it learns from the history plus what it has seen so far, hour by hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..limits import REDSHIFT_NODE_TYPES
from ..scaling import CheckResult
from ..scaling.metrics import metric_window
from ..scaling.plans import answered, no_data_result
from .decisions import ClusterRef
from .forecasts import HOURS_PER_WEEK, Forecast, learn
from .guide import FORECAST_HEADROOM_POINTS, guide_for, trust_forecast
from .memory import Memory, MemoryStateStore
from .observe import Observed
from .plan import plan_checks
from .policy import AutoscalePolicy
from .runner import Autoscaler
from .safety import measured_load
from .simulate import ClusterModel, ClusterView, ceil_nodes
from .simulate_serverless import ServerlessView

__all__ = [
    "AutoscalerStrategy",
    "ServerlessAutoscalerStrategy",
    "Static",
    "Timetable",
    "instance_scheduler",
    "scheduled_actions",
]

_WEEK = 7 * 1440


class Static:
    def __init__(self, nodes: int) -> None:
        self.nodes = nodes
        self.name = f"static {nodes} nodes"

    def step(self, view: ClusterView) -> tuple[str, int | None] | None:
        return None


class Timetable:
    """``actions``: (minute of the week, action, nodes); each is retried every minute until the cluster takes it."""

    def __init__(self, name: str, actions: Sequence[tuple[int, str, int | None]]) -> None:
        self.name = name
        self.actions = sorted(actions)
        self._pending: tuple[str, int | None] | None = None

    def step(self, view: ClusterView) -> tuple[str, int | None] | None:
        at = view.minute % _WEEK
        for minute, action, nodes in self.actions:
            if minute == at:
                self._pending = (action, nodes)
        if self._pending is None:
            return None
        action, nodes = self._pending
        done = (
            (action == "pause" and view.status in ("paused", "pausing"))
            or (action == "resume" and view.status in ("available", "resizing", "resuming"))
            or (action == "resize" and view.target_nodes == nodes and view.status != "paused")
        )
        if done:
            self._pending = None
            return None
        if not view.settled or (action == "resize" and view.status == "paused"):
            return None
        return self._pending


def _needed_by_hour(history: Sequence[float], cpu: float) -> list[int]:
    """Nodes each hour of the week needs (0: idle), from the highest minute of that hour in ``history``."""
    peaks = [0.0] * HOURS_PER_WEEK
    for minute, load in enumerate(history):
        hour = (minute // 60) % HOURS_PER_WEEK
        peaks[hour] = max(peaks[hour], load)
    return [ceil_nodes(p, cpu) if p > 0 else 0 for p in peaks]


def _busy_stretches(needed: Sequence[int]) -> list[tuple[int, int]]:
    """Runs of consecutive busy hours of the week, (first hour, hour after the last), wrapping past Sunday
    midnight, so a working day that runs past midnight UTC stays one stretch (as a careful user writes it)."""
    busy = [n > 0 for n in needed]
    if all(busy):
        return [(0, HOURS_PER_WEEK)]
    if not any(busy):
        return []
    first_idle = busy.index(False)
    stretches = []
    hour, start = first_idle, None
    for _ in range(HOURS_PER_WEEK):
        h = hour % HOURS_PER_WEEK
        if busy[h] and start is None:
            start = hour
        elif not busy[h] and start is not None:
            stretches.append((start, hour))
            start = None
        hour += 1
    if start is not None:
        stretches.append((start, hour))
    return stretches


def instance_scheduler(history: Sequence[float], model: ClusterModel) -> tuple[Timetable, int]:
    """Pause/resume at fixed times at one size: resumed ``resume_minutes`` before each busy stretch of the week,
    paused after it; the size carries the busiest hour of the history under ``cpu_high - 5``."""
    needed = _needed_by_hour(history, model.cpu_high - FORECAST_HEADROOM_POINTS)
    size = max(max(needed), 2)
    actions: list[tuple[int, str, int | None]] = []
    for start, end in _busy_stretches(needed):
        actions.append(((start * 60 - math.ceil(model.resume_minutes) - 5) % _WEEK, "resume", None))
        actions.append(((end * 60) % _WEEK, "pause", None))
    return Timetable(f"Instance Scheduler pause/resume, {size} nodes", actions), size


def scheduled_actions(history: Sequence[float], model: ClusterModel, *, per_day: bool = False) -> tuple[Timetable, int]:
    """Redshift scheduled actions. Default: per busy stretch resume at the morning size, resize up to the
    stretch's peak size ahead of the hour that needs it, down to the morning size after the peak, pause
    after it. ``per_day``: resume early and resize once, while quiet, to the size the stretch's peak needs;
    pause after it. (Stretches, not calendar days: a working day past midnight UTC is one stretch.)"""
    needed = _needed_by_hour(history, model.cpu_high - FORECAST_HEADROOM_POINTS)
    actions: list[tuple[int, str, int | None]] = []
    first_size = None
    lead = math.ceil(model.resize_minutes) + 5
    for start, end in _busy_stretches(needed):
        hours = list(range(start, end))
        day_needs = [needed[h % HOURS_PER_WEEK] for h in hours]
        peak = max(day_needs)
        base = max(2, math.ceil(peak / REDSHIFT_NODE_TYPES[model.node_type].elastic_factor), min(day_needs))
        if per_day:
            base = peak
        first_size = first_size or base
        # A paused cluster cannot be resized: resume first, then resize while it is still quiet.
        actions.append(((start * 60 - math.ceil(model.resume_minutes) - 5 - lead) % _WEEK, "resume", None))
        actions.append(((start * 60 - lead) % _WEEK, "resize", base))
        if peak > base:
            up = next(h for h in hours if needed[h % HOURS_PER_WEEK] > base)
            down = max(h for h in hours if needed[h % HOURS_PER_WEEK] > base) + 1
            actions.append(((up * 60 - lead) % _WEEK, "resize", peak))
            actions.append(((down * 60) % _WEEK, "resize", base))
        actions.append(((end * 60) % _WEEK, "pause", None))
    name = "Redshift scheduled actions, sized per day" if per_day else "Redshift scheduled actions, resizes by day"
    return Timetable(name, actions), first_size or 2


class AutoscalerStrategy:
    """The autoscaler's own rules on the model. ``history`` (demand per minute before the trace) feeds forecasts."""

    def __init__(
        self,
        policy: AutoscalePolicy,
        *,
        model: ClusterModel,
        start_epoch: float,
        history: Sequence[float] = (),
        name: str | None = None,
        cluster: str = "warehouse",
    ) -> None:
        self.policy = policy
        self.model = model
        self.start = start_epoch
        self.history = list(history)
        self.name = name or ("autoscaler + forecasts" if policy.forecasts else "autoscaler (reactive)")
        self._scaler = Autoscaler(policy, state_store=MemoryStateStore(), log=lambda _: None)
        self._ref = ClusterRef.redshift(cluster)
        self._memory = Memory()
        self._learnt = _HourlyForecast(policy, start_epoch, self.history)
        self.decisions: list[dict[str, Any]] = []

    def _now(self, minute: int) -> float:
        return self.start + minute * 60

    def step(self, view: ClusterView) -> tuple[str, int | None] | None:
        p = self.policy
        if (view.minute + 1) % p.evaluation_interval_minutes:
            return None
        now = self._now(view.minute + 1)
        busy = None if view.settled else f"the cluster is '{view.status}'"
        obs = Observed(self._ref, True, status=view.status, busy=busy, node_type=self.model.node_type, nodes=view.nodes)
        if busy is not None:
            return None
        results = {signal: self._answer(check, view, now) for signal, check in plan_checks(p, obs, self._memory)}
        guide = guide_for(p, now, *self._forecast_for(view, now))
        observed = measured_load(results, view.nodes, p.window_minutes)
        guide, memory = trust_forecast(
            guide, self._memory, observed, now, p.window_minutes, p.idle_cpu_percent * view.nodes
        )
        decision = self._scaler._decide(obs, memory, results, now, "schedule", guide)
        self._memory = Memory.from_dict(decision.memory)
        if not decision.changes:
            return None
        self.decisions.append({"minute": view.minute + 1, **decision.to_dict()})
        target = decision.target
        if "nodes" in target:
            return ("resize", int(target["nodes"]))
        return ("pause", None) if target.get("paused") else ("resume", None)

    def _forecast_for(self, view: ClusterView, now: float) -> tuple[Forecast | None, str]:
        if not self.policy.forecasts:
            return None, ""
        return self._learnt.at(view.minute, view.load, now), ""

    def _answer(self, check: Any, view: ClusterView, now: float) -> CheckResult:
        """What CloudWatch would answer for ``check`` from the model's per-minute figures."""
        window = metric_window(now, check.window_minutes)
        first = max(0, int((window.start - self.start) // 60))
        last = int((window.end - self.start) // 60)
        if check.kind == "can_boot_redshift":
            # The resume signal: the demand that waited in the window, priced as if it had run on
            # Athena at the rate that makes Athena at half the idle level cost the smallest cluster.
            waited = sum(view.queued[first:last]) / max(1, last - first) * (last - first)
            price = self.model.usd_per_node_hour
            rate = (
                price
                * self.policy.redshift_min_nodes
                / 60
                / (self.policy.idle_cpu_percent * self.policy.redshift_min_nodes / 2)
            )
            athena = waited * rate
            cost = price * view.nodes * window.minutes / 60
            return CheckResult(
                check="can_boot_redshift",
                cluster=check.cluster,
                value=athena,
                threshold=cost,
                verdict=athena >= cost,
                datapoints=last - first,
                window_minutes=window.minutes,
                source="model: queued demand priced as Athena",
                reason=f"waiting demand worth ${athena:.2f} vs ${cost:.2f}",
                unit="USD",
                comparison=">=",
                window_end=window.end,
            )
        if check.kind == "redshift_queue_wait":
            # FIFO at the cluster's full capacity: the queue at the window's end, in seconds of that capacity.
            queued = view.queued[min(last, len(view.queued)) - 1] if view.queued else 0.0
            wait = queued / (view.nodes * 100) * 60
            return answered(check, window, wait, last - first, "model queue", f"longest wait {wait:.0f} s", {})
        if check.kind == "redshift_slow_percentage" or check.utilization_type == "memory":
            return no_data_result(check, window, "model", "the model has no query durations or spill figures")
        if check.utilization_type == "disk":
            values = [30.0 * 2 / view.nodes for c in view.cpu[first:last] if c is not None]
        else:
            values = [c for c in view.cpu[first:last] if c is not None]
        if not values:
            return no_data_result(check, window, "model CPU", f"no datapoints for '{check.cluster}'")
        value = math.fsum(values) / len(values)
        return answered(check, window, value, len(values), "model CPU", f"mean {value:.1f}%", {})


class ServerlessAutoscalerStrategy:
    """The autoscaler's Aurora rules on an Aurora Serverless v2 model (one writer, ``aurora-postgresql`` 16.4,
    which can auto-pause). ``history`` is the allotted capacity x 100 per minute before the trace."""

    def __init__(
        self,
        policy: AutoscalePolicy,
        *,
        start_epoch: float,
        history: Sequence[float] = (),
        name: str | None = None,
        cluster: str = "orders",
    ) -> None:
        self.policy = policy
        self.start = start_epoch
        self.history = list(history)
        self.name = name or ("autoscaler + forecasts" if policy.forecasts else "autoscaler (reactive)")
        self._scaler = Autoscaler(policy, state_store=MemoryStateStore(), log=lambda _: None)
        self._ref = ClusterRef.aurora(cluster)
        self._memory = Memory()
        self._learnt = _HourlyForecast(policy, start_epoch, self.history)
        self.decisions: list[dict[str, Any]] = []

    def step(self, view: ServerlessView) -> tuple[float, float, int | None] | None:
        p = self.policy
        if (view.minute + 1) % p.evaluation_interval_minutes:
            return None
        now = self.start + (view.minute + 1) * 60
        busy = None if view.settled else "the cluster is 'modifying'"
        # An auto-paused Serverless v2 instance is still 'available' to RDS: only its capacity is 0.
        obs = Observed(
            self._ref,
            True,
            status="available" if view.settled else "modifying",
            busy=busy,
            instance_class="db.serverless",
            roles={f"{self._ref.name}-1": "writer"},
            acu=view.acu,
            engine="aurora-postgresql",
            engine_version="16.4",
            all_serverless=True,
            auto_pause_seconds=view.auto_pause_seconds,
        )
        if busy is not None:
            return None
        results = {
            signal: _cpu_answer(check, view.cpu, self.start, now) for signal, check in plan_checks(p, obs, self._memory)
        }
        forecast = self._learnt.at(view.minute, view.load, now) if p.forecasts else None
        guide = guide_for(p, now, forecast, "")
        observed = measured_load(results, view.acu[1], p.window_minutes)
        guide, memory = trust_forecast(
            guide, self._memory, observed, now, p.window_minutes, p.idle_cpu_percent * view.acu[1]
        )
        decision = self._scaler._decide(obs, memory, results, now, "schedule", guide)
        self._memory = Memory.from_dict(decision.memory)
        if not decision.changes or "acu" not in decision.target:
            return None
        self.decisions.append({"minute": view.minute + 1, **decision.to_dict()})
        low, high = decision.target["acu"]
        pause_after = decision.target.get("auto_pause_seconds", view.auto_pause_seconds if float(low) == 0 else None)
        return float(low), float(high), pause_after


class _HourlyForecast:
    """A forecast re-learnt once an hour from the history plus the load seen so far (as the Lambda would)."""

    def __init__(self, policy: AutoscalePolicy, start: float, history: list[float]) -> None:
        self.policy, self.start, self.history = policy, start, history
        self._hour = -1
        self._forecast: Forecast | None = None

    def at(self, minute: int, seen_so_far: Sequence[float], now: float) -> Forecast | None:
        hour = minute // 60
        if hour != self._hour:
            self._hour = hour
            seen = self.history + list(seen_so_far[: hour * 60])
            origin = self.start - len(self.history) * 60
            peaks, troughs = [], []
            for first in range(0, len(seen) - 59, 60):
                chunk = seen[first : first + 60]
                peaks.append((origin + first * 60, max(chunk)))
                troughs.append((origin + first * 60, min(chunk)))
            self._forecast = learn(peaks, troughs, now=now, tz=self.policy.forecast_tz)
        return self._forecast


def _cpu_answer(check: Any, cpu: Sequence[float | None], start: float, now: float) -> CheckResult:
    """A CPU check (any other: no data) answered from a model's per-minute CPU series."""
    window = metric_window(now, check.window_minutes)
    if check.utilization_type != "cpu":
        return no_data_result(check, window, "model", "the model has no figures for this check")
    first = max(0, int((window.start - start) // 60))
    last = int((window.end - start) // 60)
    values = [c for c in cpu[first:last] if c is not None]
    if not values:
        return no_data_result(check, window, "model CPU", f"no datapoints for '{check.cluster}'")
    value = math.fsum(values) / len(values)
    return answered(check, window, value, len(values), "model CPU", f"mean {value:.1f}%", {})


def serverless_policy(**changes: Any) -> AutoscalePolicy:
    """The simulated Aurora autoscaler's policy: maximum 1-32 ACU, auto-pause when idle."""
    base = AutoscalePolicy(aurora_acu_range=(1.0, 32.0), aurora_stop_when_idle=True, expected_resize_minutes=2)
    return replace(base, **changes)


def policy_for(model: ClusterModel, **changes: Any) -> AutoscalePolicy:
    """The simulated autoscaler's policy: 2-16 nodes of the model's type, resume from waiting demand."""
    base = AutoscalePolicy(
        redshift_min_nodes=2,
        redshift_max_nodes=16,
        redshift_node_type=model.node_type,
        resume_catalog="sales",
        redshift_query_checks=True,  # the backlog (queue wait); the model answers no spill or slow-query figures
        expected_resize_minutes=model.resize_minutes,
        expected_resume_minutes=model.resume_minutes,
    )
    return replace(base, **changes)
