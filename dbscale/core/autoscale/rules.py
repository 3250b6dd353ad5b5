"""What every rule shares: cooldown, streaks (hysteresis), and the wording of a decision."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..limits import (
    SERVERLESS_V2_ACU_STEP,
)
from ..scaling import CheckResult

if TYPE_CHECKING:
    pass
from .decisions import _CHANGES, Decision
from .memory import Memory
from .policy import AutoscalePolicy

AURORA_AUTO_START_SECONDS = 7 * 86400
"""Aurora starts a cluster that has been stopped for seven days (Aurora User Guide, "Stopping and
starting an Amazon Aurora DB cluster": "If you don't manually start your DB cluster after seven
days, your DB cluster is automatically started")."""


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _ceil_acu(value: float) -> float:
    return math.ceil(value / SERVERLESS_V2_ACU_STEP - 1e-9) * SERVERLESS_V2_ACU_STEP


def _scaled(count: float, value: float, target: float) -> float:
    """The capacity at which ``value`` (measured on ``count``) would be ``target``."""
    return count * value / target


def _in_cooldown(what: str, cooldown: float, memory: Memory) -> str:
    return f"{what}, but in cooldown for another {_minutes(cooldown)} after {memory.last_action}"


_Results = Mapping[str, CheckResult]
"""A cluster's check results by signal (``cpu_high``, ``cpu_low``, ``idle`` ...)."""
_Decide = Callable[..., Decision]
"""Builds the decision: ``decide(action, reason, memory, **changes)``."""


class _Rules:
    policy: AutoscalePolicy

    def _cooldown_left(self, memory: Memory, now: float) -> float:
        if memory.last_action_at is None or memory.last_action not in _CHANGES:
            return 0.0
        return max(0.0, memory.last_action_at + self.policy.cooldown_minutes * 60 - now)

    @staticmethod
    def _scale_up_wait(memory: Memory, cooldown: float) -> float:
        """How long a scale-up the load calls for still waits: the cooldown only after a reactive scale-up
        (whose window may still hold the old size's figures), never after a shrink, a pause or a resume
        (flapping costs money, a late scale-up costs overload), nor after a forecast's change, nor between
        the steps of a catch-up (its goal was measured before)."""
        if memory.catch_up_to is not None or memory.last_action_rule == "forecast":
            return 0.0
        return cooldown if memory.last_action == "scale_up" else 0.0

    def _streaks(
        self,
        memory: Memory,
        results: Mapping[str, CheckResult],
        now: float,
        *,
        cooling: bool,
        idle_pauses: bool = False,
    ) -> tuple[Memory, float | None, float | None]:
        """Update the underuse and idle streaks; return the memory and the streaks' lengths (seconds).

        A streak continues only while consecutive evaluations each found the condition over their
        whole window with no gap between windows. Underuse is not counted during a cooldown (the
        window still holds the old size's figures); idleness is absolute and is. With ``idle_pauses``
        (an idle cluster gets paused) an idle window is not underuse: a cluster kept running for load
        that is about to come is not shrunk at its start.
        """
        window = self.policy.window_minutes * 60
        if memory.last_evaluated_at is not None and now - memory.last_evaluated_at > window + 60:
            memory = memory.without_streaks()  # a gap with no evidence breaks both streaks

        def since(previous: float | None, result: CheckResult | None) -> float | None:
            if result is None or result.verdict is not True:
                return None
            start = (result.window_end or now) - result.window_minutes * 60
            if memory.last_action_at is not None:
                start = max(start, memory.last_action_at)
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
        memory = replace(
            memory,
            underused_since=underused_since,
            idle_since=idle_since,
            last_evaluated_at=now if active else None,
        )
        return (
            memory,
            None if underused_since is None else now - underused_since,
            None if idle_since is None else now - idle_since,
        )

    @staticmethod
    def _acted(memory: Memory, action: str, now: float, **changes: Any) -> Memory:
        return replace(memory.without_streaks(), last_action=action, last_action_at=now, **changes)

    @staticmethod
    def _verdict(results: Mapping[str, CheckResult], signal: str) -> CheckResult | None:
        result = results.get(signal)
        return result if result is not None and result.verdict is True else None

    def _not_underused(
        self,
        under: CheckResult | None,
        results: _Results,
        memory: Memory,
        cooldown: float,
        decide: _Decide,
        *,
        cpu: str,
        memory_busy: str,
    ) -> Decision:
        """Why a cluster with no underuse streak is left as it is (``cpu``/``memory_busy`` word it per service)."""
        if under is None or under.verdict is None:
            why = under.reason if under is not None else "no utilization data"
            return decide("none", f"no evidence to act on: {why}", memory)
        if under.verdict and cooldown > 0:
            return decide("none", _in_cooldown("underused", cooldown, memory), memory)
        memory_low = results.get("memory_low")
        if under.verdict and memory_low is not None and memory_low.verdict is False:
            return decide("none", f"CPU is low but {memory_busy}: {memory_low.reason}", memory)
        t = self.policy.thresholds
        return decide(
            "none",
            f"within thresholds: {cpu} {_fmt(under.value)}% is between {t.cpu_low:g}% and {t.cpu_high:g}%",
            memory,
        )

    def _scale_down(
        self,
        memory: Memory,
        underused_for: float,
        now: float,
        decide: _Decide,
        *,
        needs: str,
        move: tuple[dict[str, Any], str] | None,
        smallest: str,
        causes: tuple[str, ...],
    ) -> Decision:
        """Scale down by ``move`` (target, arithmetic) once underuse has lasted the policy's sustain time.

        ``needs`` is the figure quoted while the streak is too short; ``smallest`` says why there
        is nothing to remove when ``move`` is None.
        """
        sustain = self.policy.scale_down_sustain_minutes
        underused = f"underused for {_minutes(underused_for)}"
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
            self._acted(memory, "scale_down", now),
            target=target,
            causes=causes,
        )

    @staticmethod
    def _why(over: Sequence[tuple[str, CheckResult]]) -> str:
        return "; ".join(
            f"{signal} {_fmt(result.value)}{result.unit} > {_fmt(result.threshold)}" for signal, result in over
        )
