"""The Redshift rules, as one table read top to bottom: paused, schedule, bounds, forecast, overuse, idleness, underuse.

:data:`REDSHIFT_RULES` is the table (the first rule that holds decides; notes update the memory on the way);
:class:`~dbscale.core.autoscale.redshift_case.RedshiftCase` holds the figures the rules share, and each
rule's decision is a small function here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..scaling import CheckResult
from .decisions import Decision
from .guide import Guide
from .memory import Memory
from .observe import Observed
from .policy import AutoscalePolicy
from .redshift_case import RISING, RedshiftCase
from .rules import (
    Decide,
    Note,
    Results,
    Rule,
    always,
    first_match,
    fmt,
    fmt_clock,
    fmt_minutes,
    in_cooldown,
    scaled,
)

__all__ = ["REDSHIFT_RULES", "RISING", "RedshiftCase", "decide_redshift"]


# --- the decisions ----------------------------------------------------------------------------------------


def _verdict(result: CheckResult | None) -> bool | None:
    return None if result is None else result.verdict


def _reason(result: CheckResult | None) -> str:
    return "" if result is None else result.reason


def _none(c: RedshiftCase, reason: str, *causes: str) -> Decision:
    return c.decide("none", reason, c.memory, causes=causes)


def _shape_unknown(c: RedshiftCase) -> Decision:
    return _none(c, "the cluster's node type or count is unknown")


def _declared_paused(c: RedshiftCase) -> Decision:
    return _none(c, "paused, as the stack declares: the autoscaler leaves it paused")


def _held(c: RedshiftCase) -> Decision:
    return _none(c, f"paused; the schedule holds it paused ({c.guide.schedule_text()})", "schedule")


def _paused_by_others(c: RedshiftCase) -> Decision:
    return _none(c, "paused outside the autoscaler, which resumes only the clusters it paused: no data (paused)")


def _no_resume_catalog(c: RedshiftCase) -> Decision:
    return _none(
        c, "paused by the autoscaler for idleness; no resume_catalog is set, so a deploy or a person resumes it"
    )


def _stays_paused(c: RedshiftCase) -> Decision:
    return _none(c, f"paused; stays paused: {_reason(_boot(c))}")


def _bounds_misfit(c: RedshiftCase) -> Decision:
    return _none(c, f"the policy's bounds do not fit this cluster: {c.bounds_error}")


def _waits(c: RedshiftCase) -> Decision:
    return _none(c, in_cooldown(f"overused ({c.up.arithmetic})", c.up_wait, c.memory), *c.up.causes)


def _pause_blocked(c: RedshiftCase) -> Decision:
    text, causes = c.pause_blocker
    return _none(c, f"idle for {fmt_minutes(c.idle_for or 0)}, but not paused: {text}", *causes)


def _not_underused(c: RedshiftCase) -> Decision:
    return c.not_underused(c.cooldown, cpu="CPU", memory_busy="memory is under pressure")


def _rising(c: RedshiftCase) -> Decision:
    # Shrinking into a ramp makes the cluster read-only and too small just as the load arrives.
    return _none(
        c,
        f"underused for {fmt_minutes(c.underused_for or 0)}, but the load is rising ({fmt(c.memory.last_load)} -> "
        f"{fmt(c.load_now)} CPU% x nodes since the last evaluation): not scaled down into it",
        "cpu_low",
    )


def _pause_first(c: RedshiftCase) -> Decision:
    # Idle and heading for a pause: a resize now would only make the cluster read-only meanwhile.
    return _none(
        c,
        f"underused and idle for {fmt_minutes(c.idle_for or 0)}: it is paused after "
        f"{c.policy.idle_pause_minutes:g} idle min, so it is not resized meanwhile",
        "idle",
    )


def _resume(c: RedshiftCase, reason: str, cause: str, **changes: Any) -> Decision:
    memory = c.acted("resume", paused_by_autoscaler=False)
    return c.decide("resume", reason, memory, target={"paused": False}, causes=(cause,), **changes)


def _resume_on_time(c: RedshiftCase) -> Decision:
    return _resume(
        c,
        f"the schedule runs it ({c.guide.schedule_text(ahead=True)}); resuming takes about "
        f"{c.policy.expected_resume_minutes:g} min, so it resumes now",
        "schedule",
    )


def _resume_for_spend(c: RedshiftCase) -> Decision:
    return _resume(c, f"paused, and {_reason(_boot(c))}", "can_boot_redshift")


def _resume_for_forecast(c: RedshiftCase) -> Decision:
    p, wake = c.policy, c.wake
    if wake is None:  # the rule's `when` saw to it
        raise RuntimeError("no forecast busy stretch to resume for")
    return _resume(
        c,
        f"forecast: busy from {fmt_clock(wake.start)} UTC peaking at {fmt(wake.peak)} (CPU% x nodes) = "
        f"{wake.nodes} nodes; resuming ({p.expected_resume_minutes:g} min) and {wake.resizes} resize(s) "
        f"({p.expected_resize_minutes:g} min each) take until about {fmt_clock(c.now + wake.lead)}, so it "
        "resumes now",
        "forecast",
        figures={"forecast_peak": wake.peak, "forecast_nodes": wake.nodes, "busy_from": wake.start},
    )


def _pause(c: RedshiftCase, reason: str, cause: str) -> Decision:
    memory = c.acted("pause", paused_by_autoscaler=True)
    return c.decide("pause", reason, memory, target={"paused": True}, causes=(cause,))


def _pause_for_schedule(c: RedshiftCase) -> Decision:
    return _pause(c, f"the schedule holds it paused ({c.guide.schedule_text()})", "schedule")


def _pause_when_idle(c: RedshiftCase) -> Decision:
    p, idle = c.policy, c.results.get("idle")
    return _pause(
        c,
        f"idle for {fmt_minutes(c.idle_for or 0)} (CPU under {p.idle_cpu_percent:g}% in every window; last "
        f"{fmt(idle.value if idle else None)}%), at least the policy's {p.idle_pause_minutes:g} min",
        "idle",
    )


def _resize(
    c: RedshiftCase, target: int, reason: str, *causes: str, action: str = "", memory: Memory | None = None, **kw: Any
) -> Decision:
    action = action or ("scale_up" if target > c.n else "scale_down")
    memory = memory if memory is not None else c.acted(action)
    return c.decide(action, reason, memory, target={"nodes": target}, causes=causes, **kw)


def _settle_and_count(c: RedshiftCase) -> None:
    """The cooldown left; when the last change settled; how long the underuse and idle streaks have lasted."""
    p, memory, now = c.policy, c.memory, c.now
    c.cooldown = c.cooldown_left()
    if memory.last_action_at is not None and (memory.settled_at is None or memory.settled_at < memory.last_action_at):
        # The change ended by this first settled evaluation, and most likely one resize time after it began.
        c.memory = replace(memory, settled_at=min(now, memory.last_action_at + p.expected_resize_minutes * 60))
    # A window that still holds figures of the old size overstates what the new one needs: a reactive
    # scale-up after a resize waits for one whole window on the new size.
    if c.memory.last_action == "scale_up" and c.memory.settled_at is not None:
        c.settling = max(0.0, c.memory.settled_at + p.window_minutes * 60 - now)
    c.underused_for, c.idle_for = c.count_streaks(cooling=c.cooldown > 0, idle_pauses=p.idle_pause_minutes is not None)


def _outside_bounds(c: RedshiftCase) -> bool:
    """Outside the bounds, and free to move: a schedule's bounds do not wait for the cooldown (the period starts
    on time)."""
    low, high, periods = c.bounds
    return (c.cooldown <= 0 or bool(periods)) and not low <= c.n <= high


def _into_bounds(c: RedshiftCase) -> Decision:
    """Into the bounds, as far as one elastic resize reaches (a classic resize takes hours)."""
    low, high, periods = c.bounds
    target = max(high, c.elastic_low) if c.n > high else min(low, c.elastic_high)
    whose = f"the schedule's {low}-{high} ({periods})" if periods else f"the policy's {low}-{high}"
    reason = f"{c.n} nodes is outside {whose}; {target} is the nearest count one elastic resize reaches"
    return _resize(c, target, reason, "schedule" if periods else "bounds")


def _resize_while_quiet(c: RedshiftCase) -> Decision:
    target, text = c.ahead.quiet or (c.n, "")
    reason = (
        f"quiet now; {text} -> {target} nodes now, while a resize (read-only for about "
        f"{c.policy.expected_resize_minutes:g} min) costs nothing"
    )
    return _resize(c, target, reason, "forecast", figures=c.ahead.figures)


def _at_maximum(c: RedshiftCase) -> Decision:
    high = c.bounds[1]
    return _none(c, f"overused ({c.up.arithmetic}) but already at the policy's maximum of {high} nodes", *c.up.causes)


def _scale_up(c: RedshiftCase) -> Decision:
    goal, target, arithmetic, causes = c.up
    high = c.bounds[1]
    limit = ""
    if target < goal:
        limit = f", limited by {'the policy maximum' if target == high else 'one elastic resize'} ({target})"
    catch_up = goal if target < goal and target < high else None
    memory = replace(c.acted("scale_up"), catch_up_to=catch_up)
    reason = f"overused: {arithmetic} -> {goal} nodes{limit}"
    return _resize(c, target, reason, *causes, action="scale_up", memory=memory, figures=c.ahead.figures)


def _scale_up_ahead(c: RedshiftCase) -> Decision:
    floor = c.ahead.floor
    target = min(floor, c.elastic_high)
    limit = f", limited by one elastic resize ({target})" if target < floor else ""
    reason = (
        f"{c.ahead.text} -> {floor} nodes{limit}; a resize takes about {c.policy.expected_resize_minutes:g} min, so "
        "it starts now and the nodes are there when the load arrives"
    )
    return _resize(c, target, reason, "forecast", action="scale_up", figures=c.ahead.figures)


def _scale_down(c: RedshiftCase) -> Decision:
    t, n, floor = c.policy.thresholds, c.n, c.ahead.floor
    low = c.bounds[0]
    under = c.results["cpu_low"]
    cpu = under.value or 0.0
    disk = c.results.get("disk_low") or c.results.get("disk_high")
    need = scaled(n, cpu, t.cpu_target)
    arithmetic = f"CPU {fmt(cpu)}% x {n} nodes / {t.cpu_target:g}% target = {fmt(need)}"
    if disk is not None and disk.value is not None:
        need_disk = scaled(n, disk.value, t.disk_target)
        arithmetic += f"; disk {fmt(disk.value)}% x {n} / {t.disk_target:g}% = {fmt(need_disk)}"
        need = max(need, need_disk)
    target = max(math.ceil(need - 1e-9), low, c.elastic_low, floor)
    if floor and target == floor and floor > math.ceil(need - 1e-9) and floor > low:
        arithmetic += f"; kept at {floor} by the {c.ahead.text}"
    return c.scale_down(
        c.underused_for or 0.0,
        needs=arithmetic,
        move=({"nodes": target}, f"{arithmetic} -> {target} nodes") if target < n else None,
        smallest=f"{n} nodes is the smallest that fits ({arithmetic}; policy minimum {low}, one elastic resize "
        f"reaches {c.elastic_low})",
    )


# --- the table ------------------------------------------------------------------------------------------


def _paused(c: RedshiftCase) -> bool:
    return c.paused


def _boot(c: RedshiftCase) -> CheckResult | None:
    return c.results.get("can_boot_redshift")


def _set_memory(**changes: Any) -> Callable[[RedshiftCase], None]:
    def note(c: RedshiftCase) -> None:
        c.memory = replace(c.memory, **changes)

    return note


def _forget_streaks(c: RedshiftCase) -> None:
    c.memory = c.memory.without_streaks()


REDSHIFT_RULES: tuple[Rule[RedshiftCase] | Note[RedshiftCase], ...] = (
    Rule("node type or count unknown: nothing to go on",
         lambda c: c.obs.nodes is None or c.obs.node_type is None, _shape_unknown),
    Note("paused: the streaks start again", _paused, _forget_streaks),
    Rule("paused, and the stack declares it paused: stays paused",
         lambda c: c.paused and c.obs.ref.declared_paused, _declared_paused),
    Rule("paused, and the schedule holds it paused", lambda c: c.paused and c.guide.hold_paused, _held),
    Rule("paused by someone else: stays paused",
         lambda c: c.paused and not c.memory.paused_by_autoscaler, _paused_by_others),
    Rule("paused, and the schedule runs it soon: resume", lambda c: c.paused and c.guide.run_soon, _resume_on_time),
    Rule("paused, and the forecast's load comes: resume", lambda c: c.paused and bool(c.wake), _resume_for_forecast),
    Rule("paused, and no resume_catalog: a deploy or a person resumes it",
         lambda c: c.paused and _boot(c) is None, _no_resume_catalog),
    Rule("paused, and the Athena spend pays for the cluster: resume",
         lambda c: c.paused and bool(_verdict(_boot(c))), _resume_for_spend),
    Rule("paused, and the Athena spend does not pay for it: stays paused", _paused, _stays_paused),
    Note("running: a pause by the autoscaler is over (someone resumed it)",
         lambda c: c.memory.paused_by_autoscaler, _set_memory(paused_by_autoscaler=False)),
    Rule("the schedule holds it paused: pause",
         lambda c: c.guide.hold_paused and not c.obs.ref.declared_paused, _pause_for_schedule),
    Rule("the policy's bounds do not fit the node type", lambda c: c.bounds_error is not None, _bounds_misfit),
    Note("settle the last change, count the streaks", always, _settle_and_count),
    Rule("outside the bounds: into them, as far as one elastic resize reaches", _outside_bounds, _into_bounds),
    Rule("forecast: quiet before a busy stretch: resize for it now",
         lambda c: c.ahead.quiet is not None, _resize_while_quiet),
    Note("no overuse: a catch-up is over",
         lambda c: not c.over and c.memory.catch_up_to is not None, _set_memory(catch_up_to=None)),
    Note("overused: no underuse or idle streak", lambda c: bool(c.over), RedshiftCase.end_streaks),
    Rule("overused, but at the maximum", lambda c: bool(c.over) and c.up.target <= c.n, _at_maximum),
    Rule("overused, but the scale-up waits (cooldown, settling)", lambda c: bool(c.over) and c.up_wait > 0, _waits),
    Rule("overused: scale up", lambda c: bool(c.over), _scale_up),
    Rule("forecast: a busy stretch needs more nodes: scale up ahead", lambda c: c.ahead.floor > c.n, _scale_up_ahead),
    Rule("idle long enough, but a pause is blocked (schedule, forecast, queued work)",
         lambda c: c.idle_long_enough and bool(c.pause_blocker[0]), _pause_blocked),
    Rule("idle long enough: pause", lambda c: c.idle_long_enough, _pause_when_idle),
    Rule("not underused: nothing to do", lambda c: c.underused_for is None, _not_underused),
    Rule("underused, but the load is rising", lambda c: c.load_rising, _rising),
    Rule("underused and idle: the pause comes first",
         lambda c: c.policy.idle_pause_minutes is not None and c.idle_for is not None and not c.pause_blocker[0],
         _pause_first),
    Rule("underused: scale down, once it has lasted the sustain time", always, _scale_down),
)  # fmt: skip
"""The Redshift rules in order: the first whose ``when`` holds decides; a note updates the case on the way."""


def decide_redshift(
    policy: AutoscalePolicy, obs: Observed, memory: Memory, results: Results, now: float, decide: Decide, guide: Guide
) -> Decision:
    """The decision of :data:`REDSHIFT_RULES` for one Redshift cluster at ``now`` (epoch seconds)."""
    return first_match(REDSHIFT_RULES, RedshiftCase(policy, obs, memory, results, now, decide, guide))
