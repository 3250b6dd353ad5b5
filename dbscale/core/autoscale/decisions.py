"""Clusters and decisions: what the autoscaler manages and what it decided, with the numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from ..validation import (
    validate_cluster_identifier,
)

if TYPE_CHECKING:
    pass


ACTIONS = ("none", "scale_up", "scale_down", "pause", "resume", "stop_again", "skip_busy")
"""Every action a :class:`Decision` can carry."""
CHANGES = frozenset({"scale_up", "scale_down", "pause", "resume", "stop_again"})
"""The actions that change the cluster (and start the cooldown)."""
SERVICES = ("redshift", "aurora")


# --- clusters, decisions, memory ------------------------------------------------------------

DECISION_NAMESPACE = "dbscale/Autoscaler"
"""The CloudWatch namespace of what the autoscaler publishes: its decisions and the capacity it saw."""


@dataclass(frozen=True)
class ClusterRef:
    """A cluster the autoscaler manages: ``service`` is ``redshift`` or ``aurora``.

    ``declared_paused`` says the stack declares the cluster paused (stopped): the autoscaler then
    never resumes it (but still stops an Aurora cluster again after AWS's 7-day restart).
    """

    service: str
    name: str
    declared_paused: bool = False

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise InvalidRequest(f"service '{self.service}' is not one of {', '.join(SERVICES)}", field="service")
        validate_cluster_identifier(self.name, field="name")
        if not isinstance(self.declared_paused, bool):
            raise InvalidRequest("declared_paused must be True or False", field="declared_paused")

    @classmethod
    def redshift(cls, name: str, *, declared_paused: bool = False) -> ClusterRef:
        return cls("redshift", name, declared_paused)

    @classmethod
    def aurora(cls, name: str, *, declared_paused: bool = False) -> ClusterRef:
        return cls("aurora", name, declared_paused)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


@dataclass(frozen=True)
class Decision:
    """One cluster's decision, with the numbers behind it.

    ``action`` is one of :data:`ACTIONS`; ``current`` is the cluster's shape and state when it was
    evaluated, ``target`` what the action changes (empty for ``none``/``skip_busy``). ``checks``
    are the :class:`CheckResult` s of the evaluation as dicts, each with the ``signal`` it stands
    for (``cpu_high``, ``cpu_low``, ``idle``, ...), and ``causes`` names the signals that caused the
    action. ``outcome`` is filled in by :meth:`Autoscaler.act` (what was started, or why not);
    ``memory`` is what the autoscaler remembers after this decision. ``figures`` holds the numbers
    of the schedule and forecast rules (active periods, forecast peak, lead time ...), and
    :attr:`rule` names the rule that made the decision.
    """

    cluster: str
    service: str
    action: str
    reason: str
    current: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Mapping[str, Any], ...] = ()
    causes: tuple[str, ...] = ()
    dry_run: bool = False
    at: float = 0.0
    trigger: str = "schedule"
    outcome: str = ""
    memory: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidRequest(f"action '{self.action}' is not one of {', '.join(ACTIONS)}", field="action")

    @property
    def rule(self) -> str:
        """Which rule made the decision: ``schedule``, ``forecast``, ``bounds``, ``reactive`` (the metric
        checks, idleness, Athena spend, AWS's restart) or ``none`` (nothing to act on, or busy)."""
        for name in ("schedule", "forecast", "bounds"):
            if name in self.causes:
                return name
        return "reactive" if self.changes or self.causes else "none"

    @property
    def changes(self) -> bool:
        """True when the action changes the cluster (scale, pause, resume, stop)."""
        return self.action in CHANGES

    @property
    def change(self) -> str:
        """``"2 -> 4 nodes"``, ``"running -> paused"`` ...; empty when nothing changes."""
        parts = []
        for key, new in self.target.items():
            old = self.current.get(key)
            if key == "paused":
                word = "stopped" if self.service == "aurora" else "paused"
                parts.append(f"{word if old else 'running'} -> {word if new else 'running'}")
            elif key == "acu":
                parts.append(f"{_acu_text(old)} -> {_acu_text(new)} ACU")
            elif key == "nodes":
                parts.append(f"{old} -> {new} nodes")
            else:
                parts.append(f"{key.replace('_', ' ')} {old} -> {new}")
        return ", ".join(parts)

    def summary(self) -> str:
        """One sentence: what, to which cluster, and why."""
        head = f"{self.service} cluster '{self.cluster}': {self.action}"
        if self.change:
            head += f" ({self.change})"
        if self.dry_run:
            head += " [dry run]"
        text = f"{head}: {self.reason}"
        return f"{text} -> {self.outcome}" if self.outcome else text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the structured log line, minus its ``message``."""
        return {
            "cluster": self.cluster,
            "service": self.service,
            "action": self.action,
            "change": self.change,
            "current": dict(self.current),
            "target": dict(self.target),
            "reason": self.reason,
            "causes": list(self.causes),
            "rule": self.rule,
            "figures": dict(self.figures),
            "checks": [dict(c) for c in self.checks],
            "dry_run": self.dry_run,
            "at": self.at,
            "at_utc": datetime.fromtimestamp(self.at, tz=timezone.utc).isoformat() if self.at else None,
            "trigger": self.trigger,
            "outcome": self.outcome,
            "memory": dict(self.memory),
        }


def _acu_text(value: object) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{float(value[0]):g}-{float(value[1]):g}"
    return str(value)
