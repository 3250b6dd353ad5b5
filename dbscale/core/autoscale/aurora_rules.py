"""The Aurora rules: schedule, classes, readers, Serverless v2 capacity and auto-pause, stop and AWS's 7-day restart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from ..aurora.settings import supports_auto_pause
from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_LOWEST_MAX_ACU,
)
from ..scaling import CheckResult
from .decisions import Decision
from .guide import Guide
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

FORECAST_ACU_HEADROOM = 1.25
"""A forecast sets the Serverless v2 maximum to the predicted peak ACUs times this."""


def _auto_pause_seconds(minutes: float | None) -> int:
    """SecondsUntilAutoPause for an idle time: 300 to 86,400 seconds (AWS's range)."""
    return int(min(max((minutes or 5) * 60, 300), 86400))


class _AuroraRules(_Rules):
    # --- Aurora -------------------------------------------------------------------------------------

    def _decide_aurora(
        self, obs: _Observed, memory: Memory, results: _Results, now: float, decide: _Decide, guide: Guide
    ) -> Decision:
        p = self.policy
        auto_pause = (
            p.aurora_auto_pause
            and obs.all_serverless
            and obs.acu is not None
            and supports_auto_pause(obs.engine, obs.engine_version)
        )
        if (
            obs.status == "stopped"
            and not obs.ref.declared_paused
            and memory.paused_by_autoscaler
            and guide.run_soon
            and not guide.hold_paused
        ):
            return decide(
                "resume",
                f"stopped by the schedule, which runs it now ({'; '.join(guide.resume_ahead.active)}); starting "
                f"takes about {p.expected_resume_minutes:g} min",
                self._acted(memory.without_streaks(), "resume", now, paused_by_autoscaler=False, stopped_since=None),
                target={"paused": False},
                causes=("schedule",),
            )
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
        if guide.hold_paused and not obs.ref.declared_paused:
            if auto_pause and obs.acu is not None:
                if obs.acu[0] == 0:
                    return decide(
                        "none",
                        "the schedule holds it paused; minimum 0 ACU is set, so Aurora pauses it when idle",
                        memory,
                        causes=("schedule",),
                    )
                seconds = _auto_pause_seconds(5)
                return decide(
                    "pause",
                    f"the schedule holds it paused ({'; '.join(guide.now.active) or 'outside every running period'}): "
                    f"minimum 0 ACU with auto-pause after {seconds} s idle ({obs.engine} {obs.engine_version} supports "
                    "it), instead of stopping it",
                    self._acted(memory, "pause", now, paused_by_autoscaler=True, acu_min_before_pause=obs.acu[0]),
                    target={"acu": [0.0, obs.acu[1]], "auto_pause_seconds": seconds},
                    causes=("schedule",),
                )
            return decide(
                "pause",
                f"the schedule holds it paused ({'; '.join(guide.now.active) or 'outside every running period'}): "
                "stopping it",
                self._acted(memory, "pause", now, paused_by_autoscaler=True, stopped_since=now),
                target={"paused": True},
                causes=("schedule",),
            )
        forecast = guide.usable_forecast()
        if auto_pause and obs.acu is not None and obs.acu[0] == 0 and memory.acu_min_before_pause is not None:
            interval = p.evaluation_interval_minutes * 60
            horizon = now + p.expected_resume_minutes * 60 + interval
            peak = forecast.peak(now, horizon) if forecast is not None else None
            warm = guide.run_soon or (peak is not None and peak > p.idle_cpu_percent * obs.acu[1])
            if warm:
                restore = max(memory.acu_min_before_pause, 0.5)
                why = (
                    f"the schedule runs it ({'; '.join(guide.resume_ahead.active)})"
                    if guide.run_soon
                    else f"forecast: load up to {_fmt((peak or 0) / 100)} ACU by the next evaluation"
                )
                return decide(
                    "resume",
                    f"{why}: minimum back to {restore:g} ACU so the instances are awake when the load arrives",
                    self._acted(memory, "resume", now, paused_by_autoscaler=False, acu_min_before_pause=None),
                    target={"acu": [restore, obs.acu[1]]},
                    causes=("schedule",) if guide.run_soon else ("forecast",),
                    figures={"forecast_peak": peak} if peak is not None else {},
                )
        acu_range = p.aurora_acu_range
        if acu_range is not None and obs.acu is not None and obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
            low_acu, high_acu, periods = guide.acu_bounds(*acu_range)
            acu_range = (low_acu, high_acu)
            if periods and not low_acu <= obs.acu[1] <= high_acu:
                new_max = low_acu if obs.acu[1] < low_acu else high_acu
                action = "scale_up" if new_max > obs.acu[1] else "scale_down"
                return decide(
                    action,
                    f"maximum {obs.acu[1]:g} ACU is outside the schedule's {low_acu:g}-{high_acu:g} ACU ({periods})",
                    self._acted(memory, action, now),
                    target={"acu": [min(obs.acu[0], new_max), new_max]},
                    causes=("schedule",),
                )
        if forecast is not None and acu_range is not None and obs.acu is not None and obs.all_serverless:
            # Aurora moves the capacity inside the range by itself; the forecast keeps the maximum high
            # enough for the coming peak (with FORECAST_ACU_HEADROOM), ahead of it by a resize time.
            horizon = now + p.expected_resize_minutes * 60 + p.evaluation_interval_minutes * 60
            peak = forecast.peak(now, horizon)
            if peak is not None:
                need = _ceil_acu(peak / 100 * FORECAST_ACU_HEADROOM)
                new_max = min(need, acu_range[1])
                if new_max > obs.acu[1]:
                    return decide(
                        "scale_up",
                        f"forecast: up to {_fmt(peak / 100)} ACU by "
                        f"{datetime.fromtimestamp(horizon, tz=timezone.utc):%a %H:%M} UTC x {FORECAST_ACU_HEADROOM:g} "
                        f"headroom = {need:g} ACU -> maximum {new_max:g} ACU",
                        self._acted(memory, "scale_up", now),
                        target={"acu": [obs.acu[0], new_max]},
                        causes=("forecast",),
                        figures={"forecast_peak_acu": peak / 100, "forecast_acu": need},
                    )
        cooldown = self._cooldown_left(memory, now)
        memory, underused_for, idle_for = self._streaks(memory, results, now, cooling=cooldown > 0)
        if (
            p.aurora_stop_when_idle
            and auto_pause
            and obs.acu is not None
            and obs.acu[0] > 0
            and not guide.in_running_period
            and not self._verdict(results, "cpu_high")
        ):
            seconds = _auto_pause_seconds(p.idle_pause_minutes)
            peak = None
            if forecast is not None:
                peak = forecast.peak(now, now + seconds + p.expected_resume_minutes * 60 + 3600)
            if peak is None or peak <= p.idle_cpu_percent * obs.acu[1]:
                return decide(
                    "pause",
                    f"{obs.engine} {obs.engine_version} supports auto-pause: minimum 0 ACU, and Aurora pauses each "
                    f"instance after {seconds} s without connections (no stop, no 7-day restart; resumes in about "
                    "15 s on the next connection)",
                    self._acted(memory, "pause", now, paused_by_autoscaler=True, acu_min_before_pause=obs.acu[0]),
                    target={"acu": [0.0, obs.acu[1]], "auto_pause_seconds": seconds},
                    causes=("idle",),
                    figures={"forecast_peak": peak} if peak is not None else {},
                )
        if (
            p.aurora_stop_when_idle
            and not auto_pause
            and not guide.in_running_period
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
            plan = self._aurora_up(obs, over, acu_range)
            causes = tuple(s for s, _ in over)
            if plan is None:
                return decide(
                    "none", f"overused ({self._why(over)}) but already at the policy's maximum", memory, causes=causes
                )
            target, arithmetic = plan
            wait = self._scale_up_wait(memory, cooldown)
            if wait > 0:
                return decide("none", _in_cooldown(f"overused ({arithmetic})", wait, memory), memory, causes=causes)
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
            move=self._aurora_down(obs, results, acu_range),
            smallest="already at the smallest shape the policy and the load allow",
            causes=("cpu_low",) + (("memory_low",) if self._verdict(results, "memory_low") else ()),
        )

    def _aurora_up(
        self, obs: _Observed, over: Sequence[tuple[str, CheckResult]], acu_range: tuple[float, float] | None
    ) -> tuple[dict[str, Any], str] | None:
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
            if obs.acu is None or acu_range is None:
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
            new_max = min(max(_ceil_acu(wanted), high_acu + SERVERLESS_V2_ACU_STEP), acu_range[1])
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

    def _aurora_down(
        self, obs: _Observed, results: Mapping[str, CheckResult], acu_range: tuple[float, float] | None
    ) -> tuple[dict[str, Any], str] | None:
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
            if obs.acu is None or acu_range is None:
                return None
            low_acu, high_acu = obs.acu
            need = _scaled(high_acu, under.value, t.cpu_target)
            text = f"CPU {_fmt(under.value)}% of {high_acu:g} ACU / {t.cpu_target:g}% = {_fmt(need)} ACU"
            if mem_used is not None:
                need_mem = _scaled(high_acu, mem_used, t.memory_target)
                text += f"; memory {_fmt(mem_used)}% of {high_acu:g} ACU / {t.memory_target:g}% = {_fmt(need_mem)} ACU"
                need = max(need, need_mem)
            new_max = max(_ceil_acu(need), acu_range[0], SERVERLESS_V2_LOWEST_MAX_ACU)
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
