"""The moves the Aurora rules make: one more or one fewer reader, a Serverless v2 maximum, a rung of the class ladder.

Each returns ``(target, arithmetic)``: the change for the decision and the figures that call for it,
or None when there is no move to make (at the top or bottom, or nothing to move).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_LOWEST_MAX_ACU,
)
from ..scaling import CheckResult
from .observe import Observed
from .policy import AutoscalePolicy
from .rules import Results, ceil_acu, fmt, overuse_text, scaled

Move = tuple[dict[str, Any], str]
"""A change (``{"readers": 2}``, ``{"acu": [0.5, 8.0]}``, ``{"instance_class": ...}``) and its arithmetic."""
Over = Sequence[tuple[str, CheckResult]]
"""The overused signals with their results."""


def aurora_up(policy: AutoscalePolicy, obs: Observed, over: Over, acu_range: tuple[float, float] | None) -> Move | None:
    """The move an overused cluster makes: a reader when a reader is the busiest, else more ACUs or a rung up."""
    why = overuse_text(over)
    busiest_roles = {
        obs.roles.get(str(r.details.get("busiest_instance"))) for s, r in over if s in ("cpu_high", "memory_high")
    }
    if busiest_roles == {"reader"} and _room_for_reader(policy, obs):
        return {"readers": obs.readers + 1}, f"{why}; the busiest instance is a reader: one more reader"
    if obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
        if obs.acu is None or acu_range is None:
            return None
        return _more_acu(policy, obs.acu, over, acu_range)
    ladder = policy.aurora_instance_classes
    if obs.instance_class not in ladder:
        if _room_for_reader(policy, obs):
            return {
                "readers": obs.readers + 1
            }, f"{why}; class {obs.instance_class} is not on the ladder: one more reader"
        return None
    move = _rung_up(policy, str(obs.instance_class), over)
    if move is None and _room_for_reader(policy, obs):
        return {"readers": obs.readers + 1}, f"{why}; top of the ladder: one more reader"
    return move


def _room_for_reader(policy: AutoscalePolicy, obs: Observed) -> bool:
    return policy.manages_readers and policy.aurora_max_readers is not None and obs.readers < policy.aurora_max_readers


def _more_acu(
    policy: AutoscalePolicy, acu: tuple[float, float], over: Over, acu_range: tuple[float, float]
) -> Move | None:
    t = policy.thresholds
    low_acu, high_acu = acu
    wanted = high_acu
    parts = []
    for signal, result in over:
        value = result.value or 0.0
        if signal == "cpu_high":
            need = scaled(high_acu, value, t.cpu_target)
            parts.append(f"CPU {fmt(value)}% of {high_acu:g} ACU / {t.cpu_target:g}% = {fmt(need)} ACU")
        elif signal == "memory_high":
            need = scaled(high_acu, value, t.memory_target)
            parts.append(f"memory {fmt(value)}% of {high_acu:g} ACU / {t.memory_target:g}% = {fmt(need)} ACU")
        else:
            need = high_acu * 2
            parts.append(f"latency {fmt(value)} ms > {t.latency_high_ms:g} ms: double to {fmt(need)} ACU")
        wanted = max(wanted, need)
    new_max = min(max(ceil_acu(wanted), high_acu + SERVERLESS_V2_ACU_STEP), acu_range[1])
    if new_max <= high_acu:
        return None
    return {"acu": [low_acu, new_max]}, f"{'; '.join(parts)} -> maximum {new_max:g} ACU"


def _rung_up(policy: AutoscalePolicy, instance_class: str, over: Over) -> Move | None:
    t, ladder = policy.thresholds, policy.aurora_instance_classes
    index = ladder.index(instance_class)
    current = AURORA_INSTANCE_CLASSES[instance_class]
    rung = index + 1
    parts = []
    for signal, result in over:
        value = result.value or 0.0
        if signal == "cpu_high":
            need = scaled(current.vcpu, value, t.cpu_target)
            parts.append(f"CPU {fmt(value)}% x {current.vcpu} vCPU / {t.cpu_target:g}% = {fmt(need)} vCPU")
            fits = (i for i, c in enumerate(ladder) if AURORA_INSTANCE_CLASSES[c].vcpu >= need)
            rung = max(rung, next(fits, len(ladder) - 1))
        elif signal == "memory_high":
            need = scaled(current.memory_gib, value, t.memory_target)
            parts.append(f"memory {fmt(value)}% x {current.memory_gib} GiB / {t.memory_target:g}% = {fmt(need)} GiB")
            fits = (i for i, c in enumerate(ladder) if AURORA_INSTANCE_CLASSES[c].memory_gib >= need)
            rung = max(rung, next(fits, len(ladder) - 1))
        else:
            parts.append(f"latency {fmt(value)} ms > {t.latency_high_ms:g} ms: one rung up")
    rung = min(rung, len(ladder) - 1)
    if rung <= index:
        return None
    return {"instance_class": ladder[rung]}, f"{'; '.join(parts)} -> {ladder[rung]}"


def aurora_down(
    policy: AutoscalePolicy, obs: Observed, results: Results, acu_range: tuple[float, float] | None
) -> Move | None:
    """The move an underused cluster makes: one reader fewer first, else a lower maximum ACU or a rung down."""
    t = policy.thresholds
    under = results["cpu_low"]
    cpu = under.value or 0.0
    mem = results.get("memory_low")
    mem_used = mem.value if mem is not None and mem.value is not None else None
    if policy.manages_readers and policy.aurora_min_readers is not None and obs.readers > policy.aurora_min_readers:
        return (
            {"readers": obs.readers - 1},
            f"the busiest instance's CPU {fmt(cpu)}% < {t.cpu_low:g}%: one reader fewer "
            f"(policy minimum {policy.aurora_min_readers})",
        )
    if obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
        if obs.acu is None or acu_range is None:
            return None
        low_acu, high_acu = obs.acu
        need = scaled(high_acu, cpu, t.cpu_target)
        text = f"CPU {fmt(cpu)}% of {high_acu:g} ACU / {t.cpu_target:g}% = {fmt(need)} ACU"
        if mem_used is not None:
            need_mem = scaled(high_acu, mem_used, t.memory_target)
            text += f"; memory {fmt(mem_used)}% of {high_acu:g} ACU / {t.memory_target:g}% = {fmt(need_mem)} ACU"
            need = max(need, need_mem)
        new_max = max(ceil_acu(need), acu_range[0], SERVERLESS_V2_LOWEST_MAX_ACU)
        if new_max >= high_acu:
            return None
        return {"acu": [min(low_acu, new_max), new_max]}, f"{text} -> maximum {new_max:g} ACU"
    return _rung_down(policy, obs, cpu, mem_used)


def _rung_down(policy: AutoscalePolicy, obs: Observed, cpu: float, mem_used: float | None) -> Move | None:
    t, ladder = policy.thresholds, policy.aurora_instance_classes
    if obs.instance_class not in ladder:
        return None
    index = ladder.index(str(obs.instance_class))
    if index == 0:
        return None
    current = AURORA_INSTANCE_CLASSES[str(obs.instance_class)]
    need_cpu = scaled(current.vcpu, cpu, t.cpu_target)
    need_mem = scaled(current.memory_gib, mem_used, t.memory_target) if mem_used is not None else 0.0
    fits = [
        i
        for i, name in enumerate(ladder[:index])
        if AURORA_INSTANCE_CLASSES[name].vcpu >= need_cpu and AURORA_INSTANCE_CLASSES[name].memory_gib >= need_mem
    ]
    rung = fits[0] if fits else index
    if rung >= index:
        return None
    text = f"CPU {fmt(cpu)}% x {current.vcpu} vCPU / {t.cpu_target:g}% = {fmt(need_cpu)} vCPU"
    if mem_used is not None:
        text += f"; memory {fmt(mem_used)}% x {current.memory_gib} GiB / {t.memory_target:g}% = {fmt(need_mem)} GiB"
    return {"instance_class": ladder[rung]}, f"{text} -> {ladder[rung]}"
