"""The Aurora rules: classes, readers, Serverless v2 capacity, stop and AWS's 7-day restart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_LOWEST_MAX_ACU,
)
from ..scaling import CheckResult

if TYPE_CHECKING:
    pass
from .decisions import Decision
from .memory import Memory
from .observe import _Observed
from .rules import (
    AURORA_AUTO_START_SECONDS,
    _ceil_acu,
    _Decide,
    _fmt,
    _in_cooldown,
    _minutes,
    _Results,
    _Rules,
    _scaled,
)


class _AuroraRules(_Rules):
    # --- Aurora -------------------------------------------------------------------------------------

    def _decide_aurora(
        self, obs: _Observed, memory: Memory, results: _Results, now: float, decide: _Decide
    ) -> Decision:
        p = self.policy
        if obs.status == "stopped":
            stopped_since = memory.stopped_since if memory.stopped_since is not None else now
            memory = replace(memory.without_streaks(), stopped_since=stopped_since)
            restart = stopped_since + AURORA_AUTO_START_SECONDS
            return decide(
                "none",
                f"stopped (no data); AWS starts it again around "
                f"{datetime.fromtimestamp(restart, tz=timezone.utc):%Y-%m-%d %H:%M} UTC and the autoscaler "
                "will stop it again then",
                memory,
            )
        if memory.stopped_since is not None:
            stopped_for = now - memory.stopped_since
            tolerance = 2 * p.evaluation_interval_minutes * 60 + 60
            if stopped_for >= AURORA_AUTO_START_SECONDS - tolerance:
                return decide(
                    "stop_again",
                    f"running again {stopped_for / 86400:.2f} days after it was stopped: AWS starts a cluster that "
                    "has been stopped for 7 days, so it is stopped again",
                    self._acted(memory, "stop_again", now, stopped_since=now),
                    target={"paused": True},
                    causes=("aws_auto_start",),
                )
            memory = replace(memory, stopped_since=None)  # started by a person or a deploy: respected
        cooldown = self._cooldown_left(memory, now)
        memory, underused_for, idle_for = self._streaks(memory, results, now, cooling=cooldown > 0)
        if (
            p.aurora_stop_when_idle
            and p.idle_pause_minutes is not None
            and idle_for is not None
            and idle_for >= p.idle_pause_minutes * 60
            and not self._verdict(results, "cpu_high")
        ):
            return decide(
                "pause",
                f"idle for {_minutes(idle_for)} (CPU of every instance under {p.idle_cpu_percent:g}%): stopping it",
                self._acted(memory, "pause", now, stopped_since=now),
                target={"paused": True},
                causes=("idle",),
            )
        over = [(s, r) for s in ("cpu_high", "memory_high", "latency_high") if (r := self._verdict(results, s))]
        if over:
            memory = replace(memory, underused_since=None, idle_since=None, last_evaluated_at=None)
            plan = self._aurora_up(obs, over)
            causes = tuple(s for s, _ in over)
            if plan is None:
                return decide(
                    "none", f"overused ({self._why(over)}) but already at the policy's maximum", memory, causes=causes
                )
            target, arithmetic = plan
            if cooldown > 0:
                return decide("none", _in_cooldown(f"overused ({arithmetic})", cooldown, memory), memory, causes=causes)
            return decide(
                "scale_up",
                f"overused: {arithmetic}",
                self._acted(memory, "scale_up", now),
                target=target,
                causes=causes,
            )
        under = results.get("cpu_low")
        if underused_for is None:
            return self._not_underused(
                under, results, memory, cooldown, decide, cpu="the busiest instance's CPU", memory_busy="memory is not"
            )
        return self._scale_down(
            memory,
            underused_for,
            now,
            decide,
            needs=f"busiest instance CPU {_fmt(under.value if under else None)}%",
            move=self._aurora_down(obs, results),
            smallest="already at the smallest shape the policy and the load allow",
            causes=("cpu_low",) + (("memory_low",) if self._verdict(results, "memory_low") else ()),
        )

    def _aurora_up(self, obs: _Observed, over: Sequence[tuple[str, CheckResult]]) -> tuple[dict[str, Any], str] | None:
        p, t = self.policy, self.policy.thresholds
        why = self._why(over)
        busiest_roles = {
            obs.roles.get(str(r.details.get("busiest_instance"))) for s, r in over if s in ("cpu_high", "memory_high")
        }
        if (
            p.manages_readers
            and busiest_roles == {"reader"}
            and p.aurora_max_readers is not None
            and obs.readers < p.aurora_max_readers
        ):
            return {"readers": obs.readers + 1}, f"{why}; the busiest instance is a reader: one more reader"
        if obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
            if obs.acu is None or p.aurora_acu_range is None:
                return None
            low_acu, high_acu = obs.acu
            wanted = high_acu
            parts = []
            for signal, result in over:
                assert result.value is not None
                if signal == "cpu_high":
                    need = _scaled(high_acu, result.value, t.cpu_target)
                    parts.append(
                        f"CPU {_fmt(result.value)}% of {high_acu:g} ACU / {t.cpu_target:g}% = {_fmt(need)} ACU"
                    )
                elif signal == "memory_high":
                    need = _scaled(high_acu, result.value, t.memory_target)
                    parts.append(
                        f"memory {_fmt(result.value)}% of {high_acu:g} ACU / {t.memory_target:g}% = {_fmt(need)} ACU"
                    )
                else:
                    need = high_acu * 2
                    parts.append(
                        f"latency {_fmt(result.value)} ms > {t.latency_high_ms:g} ms: double to {_fmt(need)} ACU"
                    )
                wanted = max(wanted, need)
            new_max = min(max(_ceil_acu(wanted), high_acu + SERVERLESS_V2_ACU_STEP), p.aurora_acu_range[1])
            if new_max <= high_acu:
                return None
            return {"acu": [low_acu, new_max]}, f"{'; '.join(parts)} -> maximum {new_max:g} ACU"
        ladder = p.aurora_instance_classes
        if obs.instance_class not in ladder:
            if p.manages_readers and p.aurora_max_readers is not None and obs.readers < p.aurora_max_readers:
                return {
                    "readers": obs.readers + 1
                }, f"{why}; class {obs.instance_class} is not on the ladder: one more reader"
            return None
        index = ladder.index(obs.instance_class)
        current = AURORA_INSTANCE_CLASSES[obs.instance_class]
        rung = index + 1
        parts = []
        for signal, result in over:
            assert result.value is not None
            if signal == "cpu_high":
                need = _scaled(current.vcpu, result.value, t.cpu_target)
                parts.append(f"CPU {_fmt(result.value)}% x {current.vcpu} vCPU / {t.cpu_target:g}% = {_fmt(need)} vCPU")
                rung = max(
                    rung,
                    next((i for i, c in enumerate(ladder) if AURORA_INSTANCE_CLASSES[c].vcpu >= need), len(ladder) - 1),
                )
            elif signal == "memory_high":
                need = _scaled(current.memory_gib, result.value, t.memory_target)
                parts.append(
                    f"memory {_fmt(result.value)}% x {current.memory_gib} GiB / {t.memory_target:g}% = {_fmt(need)} GiB"
                )
                rung = max(
                    rung,
                    next(
                        (i for i, c in enumerate(ladder) if AURORA_INSTANCE_CLASSES[c].memory_gib >= need),
                        len(ladder) - 1,
                    ),
                )
            else:
                parts.append(f"latency {_fmt(result.value)} ms > {t.latency_high_ms:g} ms: one rung up")
        rung = min(rung, len(ladder) - 1)
        if rung <= index:
            if p.manages_readers and p.aurora_max_readers is not None and obs.readers < p.aurora_max_readers:
                return {"readers": obs.readers + 1}, f"{why}; top of the ladder: one more reader"
            return None
        return {"instance_class": ladder[rung]}, f"{'; '.join(parts)} -> {ladder[rung]}"

    def _aurora_down(self, obs: _Observed, results: Mapping[str, CheckResult]) -> tuple[dict[str, Any], str] | None:
        p, t = self.policy, self.policy.thresholds
        under = results["cpu_low"]
        assert under.value is not None
        mem = results.get("memory_low")
        mem_used = mem.value if mem is not None and mem.value is not None else None
        if p.manages_readers and p.aurora_min_readers is not None and obs.readers > p.aurora_min_readers:
            return (
                {"readers": obs.readers - 1},
                f"the busiest instance's CPU {_fmt(under.value)}% < {t.cpu_low:g}%: one reader fewer "
                f"(policy minimum {p.aurora_min_readers})",
            )
        if obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
            if obs.acu is None or p.aurora_acu_range is None:
                return None
            low_acu, high_acu = obs.acu
            need = _scaled(high_acu, under.value, t.cpu_target)
            text = f"CPU {_fmt(under.value)}% of {high_acu:g} ACU / {t.cpu_target:g}% = {_fmt(need)} ACU"
            if mem_used is not None:
                need_mem = _scaled(high_acu, mem_used, t.memory_target)
                text += f"; memory {_fmt(mem_used)}% of {high_acu:g} ACU / {t.memory_target:g}% = {_fmt(need_mem)} ACU"
                need = max(need, need_mem)
            new_max = max(_ceil_acu(need), p.aurora_acu_range[0], SERVERLESS_V2_LOWEST_MAX_ACU)
            if new_max >= high_acu:
                return None
            return {"acu": [min(low_acu, new_max), new_max]}, f"{text} -> maximum {new_max:g} ACU"
        ladder = p.aurora_instance_classes
        if obs.instance_class not in ladder:
            return None
        index = ladder.index(obs.instance_class)
        if index == 0:
            return None
        current = AURORA_INSTANCE_CLASSES[obs.instance_class]
        need_cpu = _scaled(current.vcpu, under.value, t.cpu_target)
        need_mem = _scaled(current.memory_gib, mem_used, t.memory_target) if mem_used is not None else 0.0
        fits = [
            i
            for i, name in enumerate(ladder[:index])
            if AURORA_INSTANCE_CLASSES[name].vcpu >= need_cpu and AURORA_INSTANCE_CLASSES[name].memory_gib >= need_mem
        ]
        rung = fits[0] if fits else index
        if rung >= index:
            return None
        text = f"CPU {_fmt(under.value)}% x {current.vcpu} vCPU / {t.cpu_target:g}% = {_fmt(need_cpu)} vCPU"
        if mem_used is not None:
            text += (
                f"; memory {_fmt(mem_used)}% x {current.memory_gib} GiB / {t.memory_target:g}% = {_fmt(need_mem)} GiB"
            )
        return {"instance_class": ladder[rung]}, f"{text} -> {ladder[rung]}"
