"""What every rule table shares: the table itself, the case it reads, cooldown, streaks and wording.

A service's rules are an ordered table (``REDSHIFT_RULES``, ``AURORA_RULES``) of :class:`Rule` s and
:class:`Note` s read top to bottom: the first rule whose ``when`` holds decides; a note on the way
updates what the case remembers (streaks, a pause that is over) for the rules below it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from ..limits import SERVERLESS_V2_ACU_STEP
from ..scaling import CheckResult
from .decisions import CHANGES, Decision
from .guide import Guide
from .memory import Memory
from .observe import Observed
from .policy import AutoscalePolicy

AURORA_AUTO_START_SECONDS = 7 * 86400
"""Aurora starts a cluster that has been stopped for seven days (Aurora User Guide, "Stopping and
starting an Amazon Aurora DB cluster": "If you don't manually start your DB cluster after seven
days, your DB cluster is automatically started")."""

Results = Mapping[str, CheckResult]
"""A cluster's check results by signal (``cpu_high``, ``cpu_low``, ``idle`` ...)."""
Decide = Callable[..., Decision]
"""Builds the decision: ``decide(action, reason, memory, **changes)``."""


def fmt(value: float | None) -> str:
    """A figure as a decision's reason quotes it: four significant digits, ``n/a`` for None."""
    if value is None:
        return "n/a"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"


def fmt_minutes(seconds: float) -> str:
    """``"12 min"`` for 720 seconds."""
    return f"{seconds / 60:.0f} min"


def fmt_clock(epoch: float) -> str:
    """``"Mon 08:00"``: a moment (epoch seconds) as a decision's reason quotes it (UTC)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%a %H:%M")


def ceil_acu(value: float) -> float:
    """``value`` rounded up to the Serverless v2 capacity step (0.5 ACU)."""
    return math.ceil(value / SERVERLESS_V2_ACU_STEP - 1e-9) * SERVERLESS_V2_ACU_STEP


def scaled(count: float, value: float, target: float) -> float:
    """The capacity at which ``value`` (measured on ``count``) would be ``target``."""
    return count * value / target


def in_cooldown(what: str, cooldown: float, memory: Memory) -> str:
    """The reason of a change held back by the cooldown (``cooldown`` seconds still to go)."""
    return f"{what}, but in cooldown for another {fmt_minutes(cooldown)} after {memory.last_action}"


# --- the table --------------------------------------------------------------------------------------------

C = TypeVar("C", bound="Case")


@dataclass(frozen=True)
class Rule(Generic[C]):
    """A named rule: when ``when(case)`` holds, ``then(case)`` is the decision."""

    name: str
    when: Callable[[C], bool]
    then: Callable[[C], Decision]


@dataclass(frozen=True)
class Note(Generic[C]):
    """A named step between rules: when ``when(case)`` holds, ``do(case)`` updates the case; it decides nothing."""

    name: str
    when: Callable[[C], bool]
    do: Callable[[C], None]


def always(case: Case) -> bool:
    """The ``when`` of a table's last rule, and of the notes every case passes."""
    return True


def first_match(table: Sequence[Rule[C] | Note[C]], case: C) -> Decision:
    """The decision of the first rule of ``table`` whose ``when`` holds (notes on the way update ``case``)."""
    for entry in table:
        if not entry.when(case):
            continue
        if isinstance(entry, Note):
            entry.do(case)
        else:
            return entry.then(case)
    raise RuntimeError("the rule table ends without a rule for every case")  # each table ends with `always`


# --- the case the rules read --------------------------------------------------------------------------------


@dataclass
class Case:
    """One cluster at one evaluation, as the rules read it; ``memory`` is what it will remember (notes update it)."""

    policy: AutoscalePolicy
    obs: Observed
    memory: Memory
    results: Results
    now: float
    decide: Decide
    guide: Guide

    def cooldown_left(self) -> float:
        """Seconds of the policy's cooldown still to go after the last change (0 when none)."""
        memory = self.memory
        if memory.last_action_at is None or memory.last_action not in CHANGES:
            return 0.0
        return max(0.0, memory.last_action_at + self.policy.cooldown_minutes * 60 - self.now)

    def scale_up_wait(self, cooldown: float) -> float:
        """How long a scale-up the load calls for still waits: the cooldown only after a reactive scale-up
        (whose window may still hold the old size's figures), never after a shrink, a pause or a resume
        (flapping costs money, a late scale-up costs overload), nor after a forecast's change, nor between
        the steps of a catch-up (its goal was measured before)."""
        memory = self.memory
        if memory.catch_up_to is not None or memory.last_action_rule == "forecast":
            return 0.0
        return cooldown if memory.last_action == "scale_up" else 0.0

    def count_streaks(self, *, cooling: bool, idle_pauses: bool = False) -> tuple[float | None, float | None]:
        """Update the underuse and idle streaks in ``memory``; return their lengths (seconds, None: no streak).

        A streak continues only while consecutive evaluations each found the condition over their
        whole window with no gap between windows. Underuse is not counted during a cooldown (the
        window still holds the old size's figures); idleness is absolute and is. With ``idle_pauses``
        (an idle cluster gets paused) an idle window is not underuse: a cluster kept running for load
        that is about to come is not shrunk at its start.
        """
        memory, results, now = self.memory, self.results, self.now
        window = self.policy.window_minutes * 60
        if memory.last_evaluated_at is not None and now - memory.last_evaluated_at > window + 60:
            memory = memory.without_streaks()  # a gap with no evidence breaks both streaks
        last_action_at = memory.last_action_at

        def since(previous: float | None, result: CheckResult | None) -> float | None:
            if result is None or result.verdict is not True:
                return None
            start = (result.window_end or now) - result.window_minutes * 60
            if last_action_at is not None:
                start = max(start, last_action_at)
            return previous if previous is not None else start

        under = results.get("cpu_low")
        memory_pressure = results.get("memory_low")
        underused = under is not None and under.verdict is True
        if memory_pressure is not None and memory_pressure.verdict is False:
            underused = False
        idle = results.get("idle")
        if idle_pauses and idle is not None and idle.verdict is True:
            underused = False  # idle time is the pause rule's: a scale-down needs underuse with load
        underused_since = None if cooling or not underused else since(memory.underused_since, under)
        idle_since = since(memory.idle_since, results.get("idle"))
        active = underused_since is not None or idle_since is not None
        self.memory = replace(
            memory,
            underused_since=underused_since,
            idle_since=idle_since,
            last_evaluated_at=now if active else None,
        )
        return (
            None if underused_since is None else now - underused_since,
            None if idle_since is None else now - idle_since,
        )

    def acted(self, action: str, **changes: Any) -> Memory:
        """The memory after starting ``action`` now: streaks end, the cooldown starts."""
        return replace(self.memory.without_streaks(), last_action=action, last_action_at=self.now, **changes)

    def verdict(self, signal: str) -> CheckResult | None:
        """The result of ``signal`` when it found its condition (verdict True), else None."""
        result = self.results.get(signal)
        return result if result is not None and result.verdict is True else None

    def end_streaks(self) -> None:
        """An overused cluster is neither underused nor idle: both streaks end."""
        self.memory = replace(self.memory, underused_since=None, idle_since=None, last_evaluated_at=None)

    def not_underused(self, cooldown: float, *, cpu: str, memory_busy: str) -> Decision:
        """Why a cluster with no underuse streak is left as it is (``cpu``/``memory_busy`` word it per service)."""
        under, memory, decide = self.results.get("cpu_low"), self.memory, self.decide
        if under is None or under.verdict is None:
            why = under.reason if under is not None else "no utilization data"
            return decide("none", f"no evidence to act on: {why}", memory)
        if under.verdict and cooldown > 0:
            return decide("none", in_cooldown("underused", cooldown, memory), memory)
        memory_low = self.results.get("memory_low")
        if under.verdict and memory_low is not None and memory_low.verdict is False:
            return decide("none", f"CPU is low but {memory_busy}: {memory_low.reason}", memory)
        t = self.policy.thresholds
        return decide(
            "none",
            f"within thresholds: {cpu} {fmt(under.value)}% is between {t.cpu_low:g}% and {t.cpu_high:g}%",
            memory,
        )

    def scale_down(
        self,
        underused_for: float,
        *,
        needs: str,
        move: tuple[dict[str, Any], str] | None,
        smallest: str,
    ) -> Decision:
        """Scale down by ``move`` (target, arithmetic) once underuse has lasted the policy's sustain time.

        ``needs`` is the figure quoted while the streak is too short; ``smallest`` says why there
        is nothing to remove when ``move`` is None.
        """
        memory, decide = self.memory, self.decide
        sustain = self.policy.scale_down_sustain_minutes
        underused = f"underused for {fmt_minutes(underused_for)}"
        if underused_for < sustain * 60:
            return decide(
                "none", f"{underused} of the {sustain:g} min a scale-down needs ({needs})", memory, causes=("cpu_low",)
            )
        if move is None:
            return decide("none", f"{underused}, but {smallest}", memory, causes=("cpu_low",))
        target, arithmetic = move
        return decide(
            "scale_down",
            f"{underused} (at least {sustain:g} min): {arithmetic}",
            self.acted("scale_down"),
            target=target,
            causes=("cpu_low",) + (("memory_low",) if self.verdict("memory_low") else ()),
        )


def overuse_text(over: Sequence[tuple[str, CheckResult]]) -> str:
    """``"cpu_high 90% > 75; latency_high ..."``: the overused signals with value and threshold."""
    return "; ".join(f"{signal} {fmt(result.value)}{result.unit} > {fmt(result.threshold)}" for signal, result in over)
