"""What a rescale would do, before doing it: steps, expected duration, and the read-only or unavailable window.

:meth:`RedshiftProvisioning.plan_rescale <dbscale.core.redshift.RedshiftProvisioning.plan_rescale>` and
:meth:`RdsProvisioning.plan_rescale <dbscale.core.aurora.provisioning.RdsProvisioning.plan_rescale>` build the same
operation steps ``rescale`` would run and price each one in minutes from AWS's documented figures
(:data:`STEP_FIGURES`; sources in docs/aws-facts.md, section 9). Nothing changes in AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Availability of the database while a step runs.
AVAILABLE = "available"
READ_ONLY = "read-only"
WRITE_UNAVAILABLE = "write-unavailable"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class StepFigure:
    """The documented duration range of one kind of step (minutes), what the database can do
    meanwhile, and the source (a docs/aws-facts.md reference)."""

    min_minutes: float
    max_minutes: float
    availability: str
    source: str


_REDSHIFT_RESIZE = "aws-facts.md#9 (Redshift resize)"
_REDSHIFT_PAUSE = "aws-facts.md#9 (Redshift pause and resume)"
_AURORA = "aws-facts.md#9 (Aurora)"

STEP_FIGURES: Mapping[str, StepFigure] = {
    # Redshift. Elastic: "Typically, elastic resize takes 10-15 minutes. During the resize
    # operation, the cluster is read-only" (Management Guide, 2020 edition); the current guide:
    # "The cluster is unavailable briefly, usually only a few minutes".
    "redshift:elastic": StepFigure(10, 15, READ_ONLY, _REDSHIFT_RESIZE),
    # Classic: "read-only state for the duration ... anywhere from a couple of hours to a couple of days".
    "redshift:classic": StepFigure(120, 2880, READ_ONLY, _REDSHIFT_RESIZE),
    "redshift:resume": StepFigure(2, 10, UNAVAILABLE, _REDSHIFT_PAUSE),
    "redshift:pause": StepFigure(2, 10, UNAVAILABLE, _REDSHIFT_PAUSE),
    # Aurora. Failover: "service is typically restored in less than 120 seconds, and often less
    # than 60 seconds" (writes and the writer's reads fail meanwhile).
    "aurora:failover": StepFigure(0.5, 2, WRITE_UNAVAILABLE, _AURORA),
    "aurora:create_instance": StepFigure(5, 20, AVAILABLE, _AURORA),
    "aurora:modify_instance": StepFigure(5, 15, AVAILABLE, _AURORA),  # a reader reboots; the others serve
    "aurora:delete_instance": StepFigure(1, 10, AVAILABLE, _AURORA),
    "aurora:modify_cluster": StepFigure(0, 1, AVAILABLE, _AURORA),
    "aurora:start": StepFigure(5, 15, UNAVAILABLE, _AURORA),
    "aurora:stop": StepFigure(5, 15, UNAVAILABLE, _AURORA),
}
"""Minutes per step kind. Steps not listed (waits, bookkeeping) take no time of their own."""


@dataclass(frozen=True)
class PlannedStep:
    """One step of a plan: the operation step, a sentence, its minutes and the availability meanwhile."""

    action: str
    description: str
    min_minutes: float
    max_minutes: float
    availability: str
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "description": self.description,
            "min_minutes": self.min_minutes,
            "max_minutes": self.max_minutes,
            "availability": self.availability,
            "source": self.source,
        }


@dataclass(frozen=True)
class RescalePlan:
    """What a rescale would do, without doing it.

    ``steps`` are the timed steps; ``operation_steps`` the raw steps ``rescale`` would run (the
    :class:`~dbscale.core.operation.Operation` format). ``duration_minutes``, ``read_only_minutes``
    and ``write_unavailable_minutes`` are (min, max) ranges in minutes; ``write_unavailable``
    includes fully unavailable time. ``method`` is ``elastic``, ``classic``, ``rolling``, ``deferred``,
    ``pause``/``resume``, ``stop``/``start`` or ``none``. ``notes`` say what the figures assume.
    """

    service: str
    cluster_name: str
    description: str
    method: str
    reason: str
    steps: tuple[PlannedStep, ...]
    operation_steps: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """False when nothing would change."""
        return bool(self.operation_steps)

    def _sum(self, states: tuple[str, ...]) -> tuple[float, float]:
        chosen = [s for s in self.steps if s.availability in states]
        return (sum(s.min_minutes for s in chosen), sum(s.max_minutes for s in chosen))

    @property
    def duration_minutes(self) -> tuple[float, float]:
        """Expected (min, max) minutes from start to done."""
        return (sum(s.min_minutes for s in self.steps), sum(s.max_minutes for s in self.steps))

    @property
    def read_only_minutes(self) -> tuple[float, float]:
        """(min, max) minutes during which reads work and writes fail."""
        return self._sum((READ_ONLY,))

    @property
    def write_unavailable_minutes(self) -> tuple[float, float]:
        """(min, max) minutes during which writes fail (read-only, write-unavailable or unavailable)."""
        return self._sum((READ_ONLY, WRITE_UNAVAILABLE, UNAVAILABLE))

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "cluster_name": self.cluster_name,
            "description": self.description,
            "method": self.method,
            "reason": self.reason,
            "changes": self.changes,
            "duration_minutes": list(self.duration_minutes),
            "read_only_minutes": list(self.read_only_minutes),
            "write_unavailable_minutes": list(self.write_unavailable_minutes),
            "steps": [s.to_dict() for s in self.steps],
            "operation_steps": [dict(s) for s in self.operation_steps],
            "notes": list(self.notes),
        }


def _timed(key: str, action: str, description: str) -> PlannedStep:
    figure = STEP_FIGURES[key]
    return PlannedStep(action, description, figure.min_minutes, figure.max_minutes, figure.availability, figure.source)


def redshift_plan(cluster_name: str, description: str, steps: list[dict[str, Any]], paused_now: bool) -> RescalePlan:
    """Time the steps of a Redshift rescale (as built by :func:`dbscale.core.redshift.plan_rescale`)."""
    timed: list[PlannedStep] = []
    method, reason = "none", "the cluster already has the requested shape and state"
    notes: list[str] = []
    for step in steps:
        action = step["action"]
        if action == "resize":
            kind = "classic" if step.get("classic") else "elastic"
            method, reason = kind, str(step.get("reason", ""))
            timed.append(
                _timed(
                    f"redshift:{kind}",
                    action,
                    f"{kind} resize to {step['number_of_nodes']} x {step['node_type']} ({reason})",
                )
            )
            if kind == "classic":
                notes.append(
                    "classic resize time grows with the data copied; RA3 clusters may use AWS's faster "
                    "classic resize (minutes of read-only time), which this range does not assume"
                )
        elif action in ("resume", "pause"):
            if method == "none":
                method, reason = action, f"the cluster is {'paused' if paused_now else 'running'}"
            verb = "resume the paused cluster" if action == "resume" else "pause the cluster (compute billing stops)"
            timed.append(_timed(f"redshift:{action}", action, verb))
    if paused_now and any(s.action == "resume" for s in timed):
        notes.append("the cluster is paused now, so it serves nothing until it is resumed")
    return RescalePlan("redshift", cluster_name, description, method, reason, tuple(timed), tuple(steps), tuple(notes))


def aurora_plan(cluster_name: str, description: str, steps: list[dict[str, Any]], immediate: bool) -> RescalePlan:
    """Time the steps of an Aurora rescale (as built by :func:`dbscale.core.aurora.rescale.plan_rescale`)."""
    timed: list[PlannedStep] = []
    notes: list[str] = []
    method, reason = "none", "the cluster already has the requested shape and state"
    for step in steps:
        action = step["action"]
        if action == "create_instance":
            role = "writer (then failed over to)" if step.get("promotion_tier") == 0 else "reader"
            timed.append(
                _timed(
                    "aurora:create_instance", action, f"add {role} '{step['instance_id']}' ({step['instance_class']})"
                )
            )
        elif action == "modify_instance":
            if step.get("apply_immediately", True):
                text = f"change reader '{step['instance_id']}' to {step['instance_class']} (it reboots; others serve)"
                timed.append(_timed("aurora:modify_instance", action, text))
            else:
                text = f"change '{step['instance_id']}' to {step['instance_class']} in its next maintenance window"
                timed.append(PlannedStep(action, text, 0, 0, AVAILABLE, _AURORA))
                method, reason = (
                    "deferred",
                    "immediate=False defers class changes to each instance's maintenance window",
                )
                notes.append(
                    "deferred class changes reboot each instance in place in its maintenance window "
                    "(the writer too: an outage of several minutes then, not now)"
                )
        elif action == "failover":
            timed.append(_timed("aurora:failover", action, f"fail over to '{step['instance_id']}'"))
        elif action == "delete_instance":
            timed.append(_timed("aurora:delete_instance", action, f"delete instance '{step['instance_id']}'"))
        elif action == "modify_cluster":
            acu = step.get("acu")
            text = f"set the Serverless v2 range to {acu[0]:g}-{acu[1]:g} ACUs" if acu else "change the ACU range"
            timed.append(_timed("aurora:modify_cluster", action, text))
        elif action in ("start", "stop"):
            text = "start the stopped cluster" if action == "start" else "stop the cluster (instance billing stops)"
            timed.append(_timed(f"aurora:{action}", action, text))
    if method == "none" and steps:
        actions = {s["action"] for s in steps}
        if "failover" in actions:
            method, reason = "rolling", "new writer added, then one failover; readers changed one at a time"
        elif actions & {"create_instance", "delete_instance", "modify_instance", "modify_cluster"}:
            method, reason = "rolling", "instances added, changed or removed one at a time while the cluster serves"
        elif "stop" in actions:
            method, reason = "stop", "the cluster is running"
        elif "start" in actions:
            method, reason = "start", "the cluster is stopped"
    if not immediate and method != "deferred" and steps:
        notes.append("reader count and start/stop changes cannot be deferred and happen now")
    return RescalePlan("aurora", cluster_name, description, method, reason, tuple(timed), tuple(steps), tuple(notes))
