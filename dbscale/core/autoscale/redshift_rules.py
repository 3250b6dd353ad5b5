"""The Redshift rules: schedule, bounds, forecast, overuse, idleness (pause), underuse, resume."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone

from ..errors import InvalidRequest
from ..limits import (
    REDSHIFT_NODE_TYPES,
)
from .decisions import Decision
from .guide import FORECAST_HEADROOM_POINTS, Guide, block_peak_so_far, busy_block
from .memory import Memory
from .observe import _Observed
from .rules import _Decide, _fmt, _in_cooldown, _minutes, _Results, _Rules, _scaled
from .safety import BACKLOG_DRAIN_MINUTES, measured_load

RISING = 1.1
"""A load more than 10% (plus the idle level) above the last evaluation's is rising: no scale-down into it."""


class _RedshiftRules(_Rules):
    # --- Redshift ---------------------------------------------------------------------------------

    def _decide_redshift(
        self, obs: _Observed, memory: Memory, results: _Results, now: float, decide: _Decide, guide: Guide
    ) -> Decision:
        p, t = self.policy, self.policy.thresholds
        if obs.node_type is None or obs.nodes is None:
            return decide("none", "the cluster's node type or count is unknown", memory)
        n = obs.nodes
        interval = p.evaluation_interval_minutes * 60
        if obs.status == "paused":
            memory = memory.without_streaks()
            if obs.ref.declared_paused:
                return decide("none", "paused, as the stack declares: the autoscaler leaves it paused", memory)
            if guide.hold_paused:
                return decide(
                    "none",
                    f"paused; the schedule holds it paused ({_schedule_text(guide)})",
                    memory,
                    causes=("schedule",),
                )
            if not memory.paused_by_autoscaler:
                return decide(
                    "none",
                    "paused outside the autoscaler, which resumes only the clusters it paused: no data (paused)",
                    memory,
                )
            if guide.run_soon:
                return decide(
                    "resume",
                    f"the schedule runs it ({_schedule_text(guide, ahead=True)}); resuming takes about "
                    f"{p.expected_resume_minutes:g} min, so it resumes now",
                    self._acted(memory, "resume", now, paused_by_autoscaler=False),
                    target={"paused": False},
                    causes=("schedule",),
                )
            forecast = guide.usable_forecast()
            if forecast is not None:
                low_now = min(p.redshift_min_nodes, n)
                block = busy_block(forecast, now, within=4 * 3600, quiet=p.idle_cpu_percent * low_now)
                if block is not None:
                    start, end, peak = block
                    wake_need = max(math.ceil(peak / (t.cpu_high - FORECAST_HEADROOM_POINTS) - 1e-9), 2)
                    spec = REDSHIFT_NODE_TYPES[obs.node_type]
                    steps = (
                        0
                        if wake_need == n
                        else 1
                        if wake_need < n
                        else math.ceil(math.log(wake_need / n, spec.elastic_factor))
                    )
                    lead = (p.expected_resume_minutes + steps * p.expected_resize_minutes) * 60 + 2 * interval
                    if start <= now + lead:
                        return decide(
                            "resume",
                            f"forecast: busy from {_clock(start)} UTC peaking at {_fmt(peak)} (CPU% x nodes) = "
                            f"{wake_need} nodes; resuming ({p.expected_resume_minutes:g} min) and {steps} resize(s) "
                            f"({p.expected_resize_minutes:g} min each) take until about {_clock(now + lead)}, so it "
                            "resumes now",
                            self._acted(memory, "resume", now, paused_by_autoscaler=False),
                            target={"paused": False},
                            causes=("forecast",),
                            figures={"forecast_peak": peak, "forecast_nodes": wake_need, "busy_from": start},
                        )
            boot = results.get("can_boot_redshift")
            if boot is None:
                return decide(
                    "none",
                    "paused by the autoscaler for idleness; no resume_catalog is set, so a deploy or a person "
                    "resumes it",
                    memory,
                )
            if boot.verdict:
                return decide(
                    "resume",
                    f"paused, and {boot.reason}",
                    self._acted(memory, "resume", now, paused_by_autoscaler=False),
                    target={"paused": False},
                    causes=("can_boot_redshift",),
                )
            return decide("none", f"paused; stays paused: {boot.reason}", memory)
        if memory.paused_by_autoscaler:
            memory = replace(memory, paused_by_autoscaler=False)  # resumed by someone else meanwhile
        if guide.hold_paused and not obs.ref.declared_paused:
            return decide(
                "pause",
                f"the schedule holds it paused ({_schedule_text(guide)})",
                self._acted(memory, "pause", now, paused_by_autoscaler=True),
                target={"paused": True},
                causes=("schedule",),
            )
        try:
            low, high = p.redshift_bounds(obs.node_type)
        except InvalidRequest as err:
            return decide("none", f"the policy's bounds do not fit this cluster: {err}", memory)
        spec = REDSHIFT_NODE_TYPES[obs.node_type]
        low, high, periods = guide.node_bounds(low, high)
        high = min(high, spec.elastic_max_nodes)
        low = min(low, high)
        elastic_low = max(math.ceil(n / (spec.elastic_shrink_factor or spec.elastic_factor)), 2)
        elastic_high = min(n * spec.elastic_factor, spec.elastic_max_nodes)
        cooldown = self._cooldown_left(memory, now)
        if memory.last_action_at is not None and (
            memory.settled_at is None or memory.settled_at < memory.last_action_at
        ):
            # The change ended by this first settled evaluation, and most likely one resize time after it began.
            settled_at = min(now, memory.last_action_at + p.expected_resize_minutes * 60)
            memory = replace(memory, settled_at=settled_at)
        # A window that still holds figures of the old size overstates what the new one needs: a reactive
        # scale-up after a resize waits for one whole window on the new size.
        settling = 0.0
        if memory.last_action == "scale_up" and memory.settled_at is not None:
            settling = max(0.0, memory.settled_at + p.window_minutes * 60 - now)
        memory, underused_for, idle_for = self._streaks(
            memory, results, now, cooling=cooldown > 0, idle_pauses=p.idle_pause_minutes is not None
        )

        if (cooldown <= 0 or periods) and not low <= n <= high:
            # Into the bounds, as far as one elastic resize reaches (a classic resize takes hours). A
            # schedule's bounds do not wait for the cooldown: the period starts on time.
            target = max(high, elastic_low) if n > high else min(low, elastic_high)
            action = "scale_up" if target > n else "scale_down"
            whose = f"the schedule's {low}-{high} ({periods})" if periods else f"the policy's {low}-{high}"
            return decide(
                action,
                f"{n} nodes is outside {whose}; {target} is the nearest count one elastic resize reaches",
                self._acted(memory, action, now),
                target={"nodes": target},
                causes=("schedule",) if periods else ("bounds",),
            )
        floor, floor_text, floor_figures = 0, "", {}
        forecast = guide.usable_forecast()
        if forecast is not None:
            # The next busy stretch the forecast expects: during it, hold enough nodes for its peak (one
            # resize, not one per hour: every resize makes the cluster read-only); before it, while the
            # cluster is quiet, resize to that size, since a read-only resize then costs nothing.
            lead = p.expected_resize_minutes * 60 + interval
            aim = t.cpu_high - FORECAST_HEADROOM_POINTS
            block = busy_block(forecast, now, within=lead + 3600, quiet=p.idle_cpu_percent * low)
            if block is not None:
                start, end, peak = block
                coming = peak  # what the rest of the stretch still needs
                if start <= now + lead:
                    # Size for the whole stretch, the hours already past included: shrinking in its
                    # evening would make the cluster read-only while it still works.
                    peak = max(peak, block_peak_so_far(forecast, now, quiet=p.idle_cpu_percent * low))
                block_need = max(math.ceil(peak / aim - 1e-9), 2)
                sized = min(max(block_need, low), high)
                floor_figures = {
                    "forecast_peak": peak,
                    "forecast_nodes": block_need,
                    "busy_from": start,
                    "busy_until": end,
                }
                text = (
                    f"forecast: busy {_clock(start)}-{_clock(end)} UTC peaking at {_fmt(peak)} (CPU% x nodes) / "
                    f"{aim:g}% = {block_need} nodes"
                )
                if start <= now + lead:
                    # Hold the stretch's size; grow only for what is still to come (not for its past peak,
                    # nor for a stretch that ends before the resize would).
                    coming_need = min(max(math.ceil(coming / aim - 1e-9), 2, low), high)
                    floor = max(min(sized, n), coming_need) if end - now > lead else min(sized, n)
                    floor_text = text
                    if end - now > lead and (start > now or 4 * (n - floor) < n):
                        # Never shrink into a stretch; during one, not by less than a quarter of the nodes:
                        # a resize is read-only while the load runs, worth it only for a real saving.
                        floor = max(floor, n)
                elif sized != n:
                    target = min(sized, elastic_high) if sized > n else max(sized, elastic_low)
                    action = "scale_up" if target > n else "scale_down"
                    return decide(
                        action,
                        f"quiet now; {text} -> {target} nodes now, while a resize (read-only for about "
                        f"{p.expected_resize_minutes:g} min) costs nothing",
                        self._acted(memory, action, now),
                        target={"nodes": target},
                        causes=("forecast",),
                        figures=floor_figures,
                    )
        over = [
            (s, r)
            for s in ("cpu_high", "disk_high", "memory_high", "slow_queries_high")
            if (r := self._verdict(results, s))
        ]
        backlog = self._verdict(results, "backlog")
        if backlog is not None and any(s == "cpu_high" for s, _ in over):
            # Queued work counts as load only while the CPU is busy: a queue with CPU to spare waits on
            # something else (WLM slots, locks, a read-only resize), which more nodes do not fix.
            over.append(("backlog", backlog))
        if not over and memory.catch_up_to is not None:
            memory = replace(memory, catch_up_to=None)
        if over:
            wanted: list[tuple[int, str]] = []
            busy = results.get("cpu_high")
            for signal, result in over:
                assert result.value is not None
                if signal in ("cpu_high", "disk_high"):
                    label, aim = ("CPU", t.cpu_target) if signal == "cpu_high" else ("disk", t.disk_target)
                    need = _scaled(n, result.value, aim)
                    text = f"{label} {_fmt(result.value)}% x {n} nodes / {aim:g}% target = {_fmt(need)}"
                    wanted.append((math.ceil(need - 1e-9), text))
                elif signal == "backlog":
                    # The longest queue wait is the backlog in minutes of the cluster's full capacity:
                    # carry the load and drain the backlog within BACKLOG_DRAIN_MINUTES.
                    cpu = busy.value if busy is not None and busy.value is not None else 100.0
                    extra = 100 * result.value / 60 / BACKLOG_DRAIN_MINUTES
                    need = _scaled(n, cpu + extra, t.cpu_target)
                    text = (
                        f"backlog: queries waited up to {_fmt(result.value)} s = {_fmt(result.value / 60)} min of "
                        f"{n} nodes; (CPU {_fmt(cpu)}% + {_fmt(extra)}% to drain it in "
                        f"{BACKLOG_DRAIN_MINUTES:g} min) x {n} / {t.cpu_target:g}% = {_fmt(need)}"
                    )
                    wanted.append((math.ceil(need - 1e-9), text))
                else:
                    what = "queries spilled to disk" if signal == "memory_high" else "queries were slow"
                    wanted.append((math.ceil(n * 1.5), f"{_fmt(result.value)}% of {what}: +50% nodes"))
            goal = max(max(w for w, _ in wanted), n + 1, floor, memory.catch_up_to or 0)
            target = min(goal, high, elastic_high)
            arithmetic = "; ".join(text for _, text in wanted) + (f"; {floor_text}" if floor > n else "")
            causes = tuple(s for s, _ in over)
            memory = replace(memory, underused_since=None, idle_since=None, last_evaluated_at=None)
            if target <= n:
                return decide(
                    "none",
                    f"overused ({arithmetic}) but already at the policy's maximum of {high} nodes",
                    memory,
                    causes=causes,
                )
            wait = self._scale_up_wait(memory, cooldown)
            wait = max(wait, 0.0 if memory.catch_up_to is not None else settling)
            if wait > 0:
                return decide("none", _in_cooldown(f"overused ({arithmetic})", wait, memory), memory, causes=causes)
            limit = ""
            if target < goal:
                limit = f", limited by {'the policy maximum' if target == high else 'one elastic resize'} ({target})"
            catch_up = goal if target < goal and target < high else None
            return decide(
                "scale_up",
                f"overused: {arithmetic} -> {goal} nodes{limit}",
                replace(self._acted(memory, "scale_up", now), catch_up_to=catch_up),
                target={"nodes": target},
                causes=causes,
                figures=floor_figures,
            )
        if floor > n:
            target = min(floor, elastic_high)
            limit = f", limited by one elastic resize ({target})" if target < floor else ""
            return decide(
                "scale_up",
                f"{floor_text} -> {floor} nodes{limit}; a resize takes about {p.expected_resize_minutes:g} min, so it "
                "starts now and the nodes are there when the load arrives",
                self._acted(memory, "scale_up", now),
                target={"nodes": target},
                causes=("forecast",),
                figures=floor_figures,
            )
        idle = results.get("idle")
        pause_blocker = ""
        if guide.in_running_period:
            pause_blocker = f"the schedule runs it ({_schedule_text(guide)})"
        elif forecast is not None:
            # Paused for less than 20 minutes saves nothing worth a pause and a resume; any longer gap before
            # the forecast's load is paused (the forecast resumes it ahead of the load).
            until = now + (p.expected_resume_minutes + 20) * 60 + interval
            expected = forecast.peak(now, until)
            if expected is not None and expected > p.idle_cpu_percent * low:
                pause_blocker = (
                    f"forecast: load up to {_fmt(expected)} (CPU% x nodes) by {_clock(until)} UTC, above the idle "
                    f"level {_fmt(p.idle_cpu_percent * n)}"
                )
        blocker_causes = ("schedule",) if guide.in_running_period else ("forecast",)
        waiting = results.get("backlog")
        if waiting is not None and waiting.value:
            # Pausing now would leave queued work waiting until something resumes the cluster.
            pause_blocker = f"work is queued (longest wait {_fmt(waiting.value)} s)"
            blocker_causes = ("backlog",)
        if (
            p.idle_pause_minutes is not None
            and idle_for is not None
            and idle_for >= p.idle_pause_minutes * 60
            and pause_blocker
        ):
            return decide(
                "none",
                f"idle for {_minutes(idle_for)}, but not paused: {pause_blocker}",
                memory,
                causes=blocker_causes,
            )
        if p.idle_pause_minutes is not None and idle_for is not None and idle_for >= p.idle_pause_minutes * 60:
            return decide(
                "pause",
                f"idle for {_minutes(idle_for)} (CPU under {p.idle_cpu_percent:g}% in every window; last "
                f"{_fmt(idle.value if idle else None)}%), at least the policy's {p.idle_pause_minutes:g} min",
                self._acted(memory, "pause", now, paused_by_autoscaler=True),
                target={"paused": True},
                causes=("idle",),
            )
        under = results.get("cpu_low")
        if underused_for is None:
            return self._not_underused(
                under, results, memory, cooldown, decide, cpu="CPU", memory_busy="memory is under pressure"
            )
        assert under is not None and under.value is not None
        load_now = measured_load(results, n, p.window_minutes) or 0.0  # the measure last_load holds
        if memory.last_load is not None and load_now > memory.last_load * RISING + p.idle_cpu_percent * low:
            # Shrinking into a ramp makes the cluster read-only and too small just as the load arrives.
            return decide(
                "none",
                f"underused for {_minutes(underused_for)}, but the load is rising ({_fmt(memory.last_load)} -> "
                f"{_fmt(load_now)} CPU% x nodes since the last evaluation): not scaled down into it",
                memory,
                causes=("cpu_low",),
            )
        if p.idle_pause_minutes is not None and idle_for is not None and not pause_blocker:
            # Idle and heading for a pause: a resize now would only make the cluster read-only meanwhile.
            return decide(
                "none",
                f"underused and idle for {_minutes(idle_for)}: it is paused after {p.idle_pause_minutes:g} idle min, "
                "so it is not resized meanwhile",
                memory,
                causes=("idle",),
            )
        disk = results.get("disk_low") or results.get("disk_high")
        need_cpu = _scaled(n, under.value, t.cpu_target)
        need = need_cpu
        arithmetic = f"CPU {_fmt(under.value)}% x {n} nodes / {t.cpu_target:g}% target = {_fmt(need_cpu)}"
        if disk is not None and disk.value is not None:
            need_disk = _scaled(n, disk.value, t.disk_target)
            arithmetic += f"; disk {_fmt(disk.value)}% x {n} / {t.disk_target:g}% = {_fmt(need_disk)}"
            need = max(need, need_disk)
        target = max(math.ceil(need - 1e-9), low, elastic_low, floor)
        if floor and target == floor and floor > math.ceil(need - 1e-9) and floor > low:
            arithmetic += f"; kept at {floor} by the {floor_text}"
        return self._scale_down(
            memory,
            underused_for,
            now,
            decide,
            needs=arithmetic,
            move=({"nodes": target}, f"{arithmetic} -> {target} nodes") if target < n else None,
            smallest=f"{n} nodes is the smallest that fits ({arithmetic}; policy minimum {low}, one elastic resize "
            f"reaches {elastic_low})",
            causes=("cpu_low",) + (("memory_low",) if self._verdict(results, "memory_low") else ()),
        )


def _schedule_text(guide: Guide, *, ahead: bool = False) -> str:
    bounds = guide.resume_ahead if ahead and not guide.now.active else guide.now
    text = "; ".join(bounds.active) or ("outside every running period" if bounds.paused else "no period")
    return f"{text}, holiday {bounds.holiday}" if bounds.holiday else text


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%a %H:%M")
