"""A Redshift cluster at one evaluation, as the Redshift rules read it: bounds, forecast floor, overuse, blockers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from ..errors import InvalidRequest
from ..limits import REDSHIFT_NODE_TYPES, RedshiftNodeType
from ..scaling import CheckResult
from .guide import FORECAST_HEADROOM_POINTS, block_peak_so_far, busy_block
from .rules import Case, fmt, fmt_clock, scaled
from .safety import BACKLOG_DRAIN_MINUTES, measured_load

RISING = 1.1
"""A load more than 10% (plus the idle level) above the last evaluation's is rising: no scale-down into it."""


class _Wake(NamedTuple):
    """A paused cluster's forecast busy stretch that starts within a resume and its resizes."""

    start: float
    peak: float
    nodes: int
    resizes: int
    lead: float


class _Floor(NamedTuple):
    """What the forecast's next busy stretch asks of a running cluster.

    ``floor`` nodes to hold (0: none, ``text`` its arithmetic), ``figures`` for the decision, and
    ``quiet`` the resize to make now, while the cluster is quiet before the stretch ((target, text) or None).
    """

    floor: int = 0
    text: str = ""
    figures: dict[str, Any] = {}
    quiet: tuple[int, str] | None = None


class _Up(NamedTuple):
    """The scale-up the overused signals ask for: ``goal`` nodes, ``target`` within one resize and the maximum."""

    goal: int
    target: int
    arithmetic: str
    causes: tuple[str, ...]


@dataclass
class RedshiftCase(Case):
    """A Redshift cluster at one evaluation; ``cooldown`` ... ``idle_for`` are set by the streaks note (seconds)."""

    cooldown: float = 0.0
    settling: float = 0.0
    underused_for: float | None = None
    idle_for: float | None = None

    @property
    def paused(self) -> bool:
        return self.obs.status == "paused"

    @property
    def n(self) -> int:
        return self.obs.nodes or 0

    @property
    def spec(self) -> RedshiftNodeType:
        return REDSHIFT_NODE_TYPES[str(self.obs.node_type)]

    @property
    def interval(self) -> float:
        return self.policy.evaluation_interval_minutes * 60

    @cached_property
    def bounds_error(self) -> InvalidRequest | None:
        try:
            self.policy.redshift_bounds(str(self.obs.node_type))
        except InvalidRequest as err:
            return err
        return None

    @cached_property
    def bounds(self) -> tuple[int, int, str]:
        """The node range (the policy's under the schedule, within the type's elastic maximum), and its periods."""
        low, high = self.policy.redshift_bounds(str(self.obs.node_type))
        low, high, periods = self.guide.node_bounds(low, high)
        high = min(high, self.spec.elastic_max_nodes)
        return min(low, high), high, periods

    @property
    def elastic_low(self) -> int:
        return max(math.ceil(self.n / (self.spec.elastic_shrink_factor or self.spec.elastic_factor)), 2)

    @property
    def elastic_high(self) -> int:
        return min(self.n * self.spec.elastic_factor, self.spec.elastic_max_nodes)

    @cached_property
    def wake(self) -> _Wake | None:
        """A paused cluster's next forecast busy stretch, when resuming and resizing for it must start now."""
        p, t, n, now = self.policy, self.policy.thresholds, self.n, self.now
        forecast = self.guide.usable_forecast()
        if forecast is None:
            return None
        block = busy_block(forecast, now, within=4 * 3600, quiet=p.idle_cpu_percent * min(p.redshift_min_nodes, n))
        if block is None:
            return None
        start, _, peak = block
        need = max(math.ceil(peak / (t.cpu_high - FORECAST_HEADROOM_POINTS) - 1e-9), 2)
        steps = 0 if need == n else 1 if need < n else math.ceil(math.log(need / n, self.spec.elastic_factor))
        lead = (p.expected_resume_minutes + steps * p.expected_resize_minutes) * 60 + 2 * self.interval
        return _Wake(start, peak, need, steps, lead) if start <= now + lead else None

    @cached_property
    def ahead(self) -> _Floor:
        """The next busy stretch the forecast expects: during it, hold enough nodes for its peak (one resize,
        not one per hour: every resize makes the cluster read-only); before it, while the cluster is quiet,
        resize to that size, since a read-only resize then costs nothing."""
        p, t, n, now = self.policy, self.policy.thresholds, self.n, self.now
        low, high, _ = self.bounds
        forecast = self.guide.usable_forecast()
        if forecast is None:
            return _Floor()
        lead = p.expected_resize_minutes * 60 + self.interval
        aim = t.cpu_high - FORECAST_HEADROOM_POINTS
        block = busy_block(forecast, now, within=lead + 3600, quiet=p.idle_cpu_percent * low)
        if block is None:
            return _Floor()
        start, end, peak = block
        coming = peak  # what the rest of the stretch still needs
        if start <= now + lead:
            # Size for the whole stretch, the hours already past included: shrinking in its evening would
            # make the cluster read-only while it still works.
            peak = max(peak, block_peak_so_far(forecast, now, quiet=p.idle_cpu_percent * low))
        need = max(math.ceil(peak / aim - 1e-9), 2)
        sized = min(max(need, low), high)
        figures = {"forecast_peak": peak, "forecast_nodes": need, "busy_from": start, "busy_until": end}
        text = (
            f"forecast: busy {fmt_clock(start)}-{fmt_clock(end)} UTC peaking at {fmt(peak)} (CPU% x nodes) / "
            f"{aim:g}% = {need} nodes"
        )
        if start > now + lead:
            if sized == n:
                return _Floor(figures=figures)
            target = min(sized, self.elastic_high) if sized > n else max(sized, self.elastic_low)
            return _Floor(figures=figures, quiet=(target, text))
        # Hold the stretch's size; grow only for what is still to come (not for its past peak, nor for a
        # stretch that ends before the resize would).
        coming_need = min(max(math.ceil(coming / aim - 1e-9), 2, low), high)
        floor = max(min(sized, n), coming_need) if end - now > lead else min(sized, n)
        if end - now > lead and (start > now or 4 * (n - floor) < n):
            # Never shrink into a stretch; during one, not by less than a quarter of the nodes: a resize is
            # read-only while the load runs, worth it only for a real saving.
            floor = max(floor, n)
        return _Floor(floor, text, figures)

    @cached_property
    def over(self) -> list[tuple[str, CheckResult]]:
        """The overused signals; queued work counts as load only while the CPU is busy: a queue with CPU to
        spare waits on something else (WLM slots, locks, a read-only resize), which more nodes do not fix."""
        over = [(s, r) for s in ("cpu_high", "disk_high", "memory_high", "slow_queries_high") if (r := self.verdict(s))]
        backlog = self.verdict("backlog")
        if backlog is not None and any(s == "cpu_high" for s, _ in over):
            over.append(("backlog", backlog))
        return over

    @cached_property
    def up(self) -> _Up:
        wanted = [self._wanted(signal, result) for signal, result in self.over]
        floor = self.ahead.floor
        goal = max(max(w for w, _ in wanted), self.n + 1, floor, self.memory.catch_up_to or 0)
        target = min(goal, self.bounds[1], self.elastic_high)
        arithmetic = "; ".join(text for _, text in wanted) + (f"; {self.ahead.text}" if floor > self.n else "")
        return _Up(goal, target, arithmetic, tuple(s for s, _ in self.over))

    def _wanted(self, signal: str, result: CheckResult) -> tuple[int, str]:
        """The nodes one overused signal asks for, with its arithmetic."""
        t, n, value = self.policy.thresholds, self.n, result.value or 0.0
        if signal in ("cpu_high", "disk_high"):
            label, aim = ("CPU", t.cpu_target) if signal == "cpu_high" else ("disk", t.disk_target)
            need = scaled(n, value, aim)
            return math.ceil(need - 1e-9), f"{label} {fmt(value)}% x {n} nodes / {aim:g}% target = {fmt(need)}"
        if signal == "backlog":
            # The longest queue wait is the backlog in minutes of the cluster's full capacity: carry the
            # load and drain the backlog within BACKLOG_DRAIN_MINUTES.
            busy = self.results.get("cpu_high")
            cpu = busy.value if busy is not None and busy.value is not None else 100.0
            extra = 100 * value / 60 / BACKLOG_DRAIN_MINUTES
            need = scaled(n, cpu + extra, t.cpu_target)
            return math.ceil(need - 1e-9), (
                f"backlog: queries waited up to {fmt(value)} s = {fmt(value / 60)} min of "
                f"{n} nodes; (CPU {fmt(cpu)}% + {fmt(extra)}% to drain it in "
                f"{BACKLOG_DRAIN_MINUTES:g} min) x {n} / {t.cpu_target:g}% = {fmt(need)}"
            )
        what = "queries spilled to disk" if signal == "memory_high" else "queries were slow"
        return math.ceil(n * 1.5), f"{fmt(value)}% of {what}: +50% nodes"

    @property
    def up_wait(self) -> float:
        """A scale-up waits for the cooldown, and for one whole window on the new size after a resize."""
        wait = self.scale_up_wait(self.cooldown)
        return max(wait, 0.0 if self.memory.catch_up_to is not None else self.settling)

    @cached_property
    def pause_blocker(self) -> tuple[str, tuple[str, ...]]:
        """Why an idle cluster is not paused ('' when nothing blocks it), and the causes to quote."""
        p, now, low = self.policy, self.now, self.bounds[0]
        blocker = ""
        forecast = self.guide.usable_forecast()
        if self.guide.in_running_period:
            blocker = f"the schedule runs it ({self.guide.schedule_text()})"
        elif forecast is not None:
            # Paused for less than 20 minutes saves nothing worth a pause and a resume; any longer gap before
            # the forecast's load is paused (the forecast resumes it ahead of the load).
            until = now + (p.expected_resume_minutes + 20) * 60 + self.interval
            expected = forecast.peak(now, until)
            if expected is not None and expected > p.idle_cpu_percent * low:
                blocker = (
                    f"forecast: load up to {fmt(expected)} (CPU% x nodes) by {fmt_clock(until)} UTC, above the idle "
                    f"level {fmt(p.idle_cpu_percent * self.n)}"
                )
        causes = ("schedule",) if self.guide.in_running_period else ("forecast",)
        waiting = self.results.get("backlog")
        if waiting is not None and waiting.value:
            # Pausing now would leave queued work waiting until something resumes the cluster.
            return f"work is queued (longest wait {fmt(waiting.value)} s)", ("backlog",)
        return blocker, causes

    @property
    def idle_long_enough(self) -> bool:
        minutes = self.policy.idle_pause_minutes
        return minutes is not None and self.idle_for is not None and self.idle_for >= minutes * 60

    @property
    def load_rising(self) -> bool:
        last = self.memory.last_load
        return last is not None and self.load_now > last * RISING + self.policy.idle_cpu_percent * self.bounds[0]

    @property
    def load_now(self) -> float:
        """The measure ``last_load`` holds: CPU% x nodes plus the backlog."""
        return measured_load(self.results, self.n, self.policy.window_minutes) or 0.0
