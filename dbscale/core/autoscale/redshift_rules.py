"""The Redshift rules: bounds, overuse, idleness (pause), underuse, resume from Athena spend."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import InvalidRequest
from ..limits import (
    REDSHIFT_NODE_TYPES,
)

if TYPE_CHECKING:
    pass
from .decisions import Decision
from .memory import Memory
from .observe import _Observed
from .rules import _Decide, _fmt, _in_cooldown, _minutes, _Results, _Rules, _scaled


class _RedshiftRules(_Rules):
    # --- Redshift ---------------------------------------------------------------------------------

    def _decide_redshift(
        self, obs: _Observed, memory: Memory, results: _Results, now: float, decide: _Decide
    ) -> Decision:
        p, t = self.policy, self.policy.thresholds
        assert obs.node_type is not None and obs.nodes is not None
        n = obs.nodes
        if obs.status == "paused":
            memory = memory.without_streaks()
            if obs.ref.declared_paused:
                return decide("none", "paused, as the stack declares: the autoscaler leaves it paused", memory)
            if not memory.paused_by_autoscaler:
                return decide(
                    "none",
                    "paused outside the autoscaler, which resumes only the clusters it paused: no data (paused)",
                    memory,
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
        try:
            low, high = p.redshift_bounds(obs.node_type)
        except InvalidRequest as err:
            return decide("none", f"the policy's bounds do not fit this cluster: {err}", memory)
        spec = REDSHIFT_NODE_TYPES[obs.node_type]
        elastic_low = max(math.ceil(n / (spec.elastic_shrink_factor or spec.elastic_factor)), 2)
        elastic_high = min(n * spec.elastic_factor, spec.elastic_max_nodes)
        cooldown = self._cooldown_left(memory, now)
        memory, underused_for, idle_for = self._streaks(memory, results, now, cooling=cooldown > 0)

        if cooldown <= 0 and not low <= n <= high:
            # Into the bounds, as far as one elastic resize reaches (a classic resize takes hours).
            target = max(high, elastic_low) if n > high else min(low, elastic_high)
            action = "scale_up" if target > n else "scale_down"
            return decide(
                action,
                f"{n} nodes is outside the policy's {low}-{high}; {target} is the nearest count one elastic "
                "resize reaches",
                self._acted(memory, action, now),
                target={"nodes": target},
                causes=("bounds",),
            )
        over = [
            (s, r)
            for s in ("cpu_high", "disk_high", "memory_high", "slow_queries_high")
            if (r := self._verdict(results, s))
        ]
        if over:
            wanted: list[tuple[int, str]] = []
            for signal, result in over:
                assert result.value is not None
                if signal in ("cpu_high", "disk_high"):
                    label, aim = ("CPU", t.cpu_target) if signal == "cpu_high" else ("disk", t.disk_target)
                    need = _scaled(n, result.value, aim)
                    text = f"{label} {_fmt(result.value)}% x {n} nodes / {aim:g}% target = {_fmt(need)}"
                    wanted.append((math.ceil(need - 1e-9), text))
                else:
                    what = "queries spilled to disk" if signal == "memory_high" else "queries were slow"
                    wanted.append((math.ceil(n * 1.5), f"{_fmt(result.value)}% of {what}: +50% nodes"))
            goal = max(max(w for w, _ in wanted), n + 1)
            target = min(goal, high, elastic_high)
            arithmetic = "; ".join(text for _, text in wanted)
            causes = tuple(s for s, _ in over)
            memory = replace(memory, underused_since=None, idle_since=None, last_evaluated_at=None)
            if target <= n:
                return decide(
                    "none",
                    f"overused ({arithmetic}) but already at the policy's maximum of {high} nodes",
                    memory,
                    causes=causes,
                )
            if cooldown > 0:
                return decide("none", _in_cooldown(f"overused ({arithmetic})", cooldown, memory), memory, causes=causes)
            limit = ""
            if target < goal:
                limit = f", limited by {'the policy maximum' if target == high else 'one elastic resize'} ({target})"
            return decide(
                "scale_up",
                f"overused: {arithmetic} -> {goal} nodes{limit}",
                self._acted(memory, "scale_up", now),
                target={"nodes": target},
                causes=causes,
            )
        idle = results.get("idle")
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
        disk = results.get("disk_low") or results.get("disk_high")
        need_cpu = _scaled(n, under.value, t.cpu_target)
        need = need_cpu
        arithmetic = f"CPU {_fmt(under.value)}% x {n} nodes / {t.cpu_target:g}% target = {_fmt(need_cpu)}"
        if disk is not None and disk.value is not None:
            need_disk = _scaled(n, disk.value, t.disk_target)
            arithmetic += f"; disk {_fmt(disk.value)}% x {n} / {t.disk_target:g}% = {_fmt(need_disk)}"
            need = max(need, need_disk)
        target = max(math.ceil(need - 1e-9), low, elastic_low)
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
