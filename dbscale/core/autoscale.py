"""Autoscaling Redshift and Aurora clusters from the scaling checks: policy, decisions, memory.

:class:`Autoscaler` turns :class:`~dbscale.core.scaling.CheckResult` s into one :class:`Decision`
per cluster (``evaluate``) and carries it out (``act``) by starting the core's ``rescale`` with
``wait=False``: the change runs on in AWS, the next evaluation finds the cluster busy and skips it
(or advances the stored :class:`~dbscale.core.operation.Operation` one poll). Nothing here waits.

What the autoscaler remembers between invocations (last action for the cooldown, since when a
cluster has been underused or idle, whether it paused the cluster, the operation in flight) is a
small JSON document per cluster in a :class:`StateStore`: by default one SSM parameter
``/dbscale/autoscaler/<service>/<cluster>`` (see ``docs/autoscaling.md`` for why not tags).

Every decision is logged as one JSON line and published as the CloudWatch metric
``dbscale/Autoscaler Decision`` (dimensions ``Cluster`` and ``Action``); the Redshift figures
CloudWatch does not have (slow-query share, spill share) are published to ``dbscale/Checks`` so
alarms can watch them.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .aws import aws_errors, client
from .clock import SYSTEM_CLOCK, Clock
from .errors import AwsError, ClusterNotFound, DbscaleError, InvalidRequest, InvalidState
from .limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    REDSHIFT_NODE_TYPES,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_LOWEST_MAX_ACU,
)
from .scaling import Check, CheckResult, ProvisionScaling
from .validation import (
    validate_aurora_instance_class,
    validate_cluster_identifier,
    validate_flag,
    validate_reader_count,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_serverless_v2_capacity,
)

if TYPE_CHECKING:
    import boto3

__all__ = [
    "ACTIONS",
    "CHECKS_NAMESPACE",
    "CONFIG_ENV",
    "DECISION_METRIC",
    "DECISION_NAMESPACE",
    "DRY_RUN_DECISION_METRIC",
    "SLOW_QUERY_METRIC",
    "SPILL_METRIC",
    "STATE_PARAMETER_PREFIX",
    "AutoscalePolicy",
    "Autoscaler",
    "AutoscalerConfig",
    "ClusterRef",
    "Decision",
    "MemoryStateStore",
    "SsmStateStore",
    "StateStore",
    "Thresholds",
]

LOG = logging.getLogger("dbscale.autoscaler")

ACTIONS = ("none", "scale_up", "scale_down", "pause", "resume", "stop_again", "skip_busy")
"""Every action a :class:`Decision` can carry."""
_CHANGES = frozenset({"scale_up", "scale_down", "pause", "resume", "stop_again"})
SERVICES = ("redshift", "aurora")

DECISION_NAMESPACE = "dbscale/Autoscaler"
DECISION_METRIC = "Decision"
DRY_RUN_DECISION_METRIC = "DryRunDecision"
CHECKS_NAMESPACE = "dbscale/Checks"
"""Where the autoscaler publishes check figures CloudWatch has no metric for (dimension ``ClusterIdentifier``)."""
SLOW_QUERY_METRIC = "RedshiftSlowQueryPercent"
SPILL_METRIC = "RedshiftSpillPercent"
STATE_PARAMETER_PREFIX = "/dbscale/autoscaler"
CONFIG_ENV = "DBSCALE_AUTOSCALER"
"""The environment variable holding the handler's :class:`AutoscalerConfig` as JSON."""

AURORA_AUTO_START_SECONDS = 7 * 86400
"""Aurora starts a cluster that has been stopped for seven days (Aurora User Guide, "Stopping and
starting an Amazon Aurora DB cluster": "If you don't manually start your DB cluster after seven
days, your DB cluster is automatically started")."""

_SSM_STANDARD_MAX = 4096
"""An SSM Standard parameter holds up to 4 KB; larger state uses the Advanced tier (8 KB)."""

_REDSHIFT_SETTLED = frozenset({"available", "paused"})
_AURORA_SETTLED = frozenset({"available", "stopped"})
_REDSHIFT_BUSY_AVAILABILITY = frozenset({"Modifying", "Maintenance", "Failed"})


# --- policy -------------------------------------------------------------------------------------


def _number(value: object, name: str, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        raise InvalidRequest(f"{name} must be a number, got {value!r}", field=name)
    number = float(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"from {low:g}" if low is not None else ""
        bounds += f" to {high:g}" if high is not None else " or more"
        raise InvalidRequest(f"{name} must be {bounds.strip()}, got {value!r}", field=name)
    return number


def _pair(thresholds: Thresholds, low: str, high: str) -> None:
    if getattr(thresholds, low) >= getattr(thresholds, high):
        raise InvalidRequest(
            f"thresholds.{low} ({getattr(thresholds, low):g}) must be below thresholds.{high} "
            f"({getattr(thresholds, high):g}): the band between them is the hysteresis that keeps "
            "a scale-up from being undone by the next scale-down",
            field=f"thresholds.{low}",
        )


@dataclass(frozen=True)
class Thresholds:
    """The figures the checks and the alarms compare with (percent unless named otherwise).

    * ``cpu_high``/``cpu_low``: CPU utilization above which a cluster is overused and below which
      it is underused (Redshift: the cluster; Aurora: its busiest instance).
    * ``memory_high``/``memory_low``: Aurora memory used by the busiest instance.
    * ``spill_high``/``spill_low``: Redshift's memory pressure, the share of finished queries that
      spilled to disk (Redshift publishes no memory metric).
    * ``disk_high``/``disk_low``: Redshift ``PercentageDiskSpaceUsed``; Aurora volume used share.
    * ``latency_high_ms``: Aurora statement latency weighted by throughput.
    * ``slow_query_seconds``/``slow_query_percent_high``: Redshift is slow when more than this
      percent of its queries ran longer than this.

    The scaler aims for the middle of each band, e.g. 50% CPU with the defaults.
    """

    cpu_high: float = 75.0
    cpu_low: float = 25.0
    memory_high: float = 85.0
    memory_low: float = 50.0
    spill_high: float = 10.0
    spill_low: float = 1.0
    disk_high: float = 80.0
    disk_low: float = 40.0
    latency_high_ms: float = 100.0
    slow_query_seconds: float = 60.0
    slow_query_percent_high: float = 10.0

    def __post_init__(self) -> None:
        for name in ("cpu_high", "cpu_low", "memory_high", "memory_low", "spill_high", "spill_low"):
            _number(getattr(self, name), f"thresholds.{name}", low=0, high=100)
        for name in ("disk_high", "disk_low", "slow_query_percent_high"):
            _number(getattr(self, name), f"thresholds.{name}", low=0, high=100)
        for name in ("latency_high_ms", "slow_query_seconds"):
            if _number(getattr(self, name), f"thresholds.{name}", low=0) <= 0:
                raise InvalidRequest(f"thresholds.{name} must be greater than 0", field=f"thresholds.{name}")
        for low, high in (("cpu_low", "cpu_high"), ("memory_low", "memory_high"), ("spill_low", "spill_high")):
            _pair(self, low, high)
        _pair(self, "disk_low", "disk_high")

    @property
    def cpu_target(self) -> float:
        """The CPU utilization a resize aims for: the middle of the band."""
        return (self.cpu_high + self.cpu_low) / 2

    @property
    def memory_target(self) -> float:
        return (self.memory_high + self.memory_low) / 2

    @property
    def disk_target(self) -> float:
        return (self.disk_high + self.disk_low) / 2

    def to_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        return cls(**_known(cls, data, "thresholds"))


def _known(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidRequest(f"{where} must be an object, got {data!r}", field=where)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidRequest(f"{where} has unknown keys: {', '.join(unknown)}", field=f"{where}.{unknown[0]}")
    return dict(data)


@dataclass(frozen=True)
class AutoscalePolicy:
    """What the autoscaler may do and when. Validated on construction (:class:`InvalidRequest`).

    Bounds:

    * ``redshift_min_nodes``/``redshift_max_nodes``: the node count stays in this range (and
      within the node type's elastic limits, so every resize is an elastic one). At least 2:
      elastic resize is not available to or from a single node. ``redshift_node_type``, when
      given, validates the bounds against that type now; otherwise against the cluster's type at
      run time.
    * ``aurora_instance_classes``: the ladder of provisioned classes, cheapest first; an Aurora
      cluster whose writer is on the ladder moves up and down it (a rolling change with one
      failover). ``aurora_acu_range``: (lowest, highest) Serverless v2 *maximum* capacity the
      autoscaler may set on a ``db.serverless`` cluster (AWS scales within the range by itself).
    * ``aurora_min_readers``/``aurora_max_readers``: when both are set, readers are added when a
      reader is the busiest instance and removed first when the cluster is underused.

    Timing (minutes): checks look at the last ``window_minutes``; the schedule evaluates every
    ``evaluation_interval_minutes``; after any change no scaling happens for ``cooldown_minutes``;
    a scale-down needs underuse sustained for ``scale_down_sustain_minutes`` (hysteresis); a
    Redshift cluster whose CPU stayed under ``idle_cpu_percent`` for ``idle_pause_minutes`` is
    paused (None: never), and resumed when ``can_boot_redshift`` says the Athena catalog
    ``resume_catalog`` (workgroup ``resume_workgroup``) spent at least what the cluster would cost
    over ``resume_window_minutes``. ``aurora_stop_when_idle`` stops idle Aurora clusters too
    (nothing restarts them but a person, a deploy, or AWS after 7 days, after which they are
    stopped again). ``redshift_query_checks`` adds the Redshift checks that read query history
    through the Data API (spill share as memory, slow-query share); they need the cluster's secret.
    An operation still running after ``operation_timeout_minutes`` is given up (and logged).
    """

    redshift_min_nodes: int = 2
    redshift_max_nodes: int = 8
    redshift_node_type: str | None = None
    aurora_instance_classes: tuple[str, ...] = ()
    aurora_acu_range: tuple[float, float] | None = None
    aurora_min_readers: int | None = None
    aurora_max_readers: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    window_minutes: int = 10
    evaluation_interval_minutes: int = 5
    cooldown_minutes: float = 20
    scale_down_sustain_minutes: float = 30
    idle_pause_minutes: float | None = 60
    idle_cpu_percent: float = 5.0
    aurora_stop_when_idle: bool = False
    resume_catalog: str | None = None
    resume_workgroup: str = "primary"
    resume_window_minutes: int = 15
    redshift_query_checks: bool = False
    operation_timeout_minutes: float = 180

    def __post_init__(self) -> None:
        for name in ("redshift_min_nodes", "redshift_max_nodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"{name} must be a whole number, got {value!r}", field=name)
        if self.redshift_min_nodes < 2:
            raise InvalidRequest(
                f"redshift_min_nodes must be at least 2, got {self.redshift_min_nodes}: elastic resize is not "
                "available to or from a single-node cluster, and a classic resize takes hours",
                field="redshift_min_nodes",
            )
        if self.redshift_min_nodes > self.redshift_max_nodes:
            raise InvalidRequest(
                f"redshift_min_nodes ({self.redshift_min_nodes}) is greater than redshift_max_nodes "
                f"({self.redshift_max_nodes})",
                field="redshift_min_nodes",
            )
        if self.redshift_node_type is not None:
            self.redshift_bounds(self.redshift_node_type)
        else:
            largest = max(spec.elastic_max_nodes for spec in REDSHIFT_NODE_TYPES.values())
            if self.redshift_max_nodes > largest:
                raise InvalidRequest(
                    f"redshift_max_nodes {self.redshift_max_nodes} exceeds what any node type allows ({largest})",
                    field="redshift_max_nodes",
                )
        ladder = self.aurora_instance_classes
        if isinstance(ladder, str) or not isinstance(ladder, (tuple, list)):
            raise InvalidRequest(
                "aurora_instance_classes must be a list of instance classes", field="aurora_instance_classes"
            )
        object.__setattr__(self, "aurora_instance_classes", tuple(ladder))
        for index, name in enumerate(self.aurora_instance_classes):
            validate_aurora_instance_class(name, field=f"aurora_instance_classes[{index}]")
            if name == AURORA_SERVERLESS_INSTANCE_CLASS:
                raise InvalidRequest(
                    f"{AURORA_SERVERLESS_INSTANCE_CLASS} has no place on the class ladder: use aurora_acu_range "
                    "for Serverless v2 clusters",
                    field=f"aurora_instance_classes[{index}]",
                )
            if index:
                lower, upper = (AURORA_INSTANCE_CLASSES[n] for n in self.aurora_instance_classes[index - 1 : index + 1])
                if not (upper.usd_per_hour > lower.usd_per_hour and upper.vcpu >= lower.vcpu):
                    raise InvalidRequest(
                        f"aurora_instance_classes must climb, cheapest first: {upper.name} (${upper.usd_per_hour}/h, "
                        f"{upper.vcpu} vCPU) does not follow {lower.name} (${lower.usd_per_hour}/h, {lower.vcpu} vCPU)",
                        field=f"aurora_instance_classes[{index}]",
                    )
        if self.aurora_acu_range is not None:
            acu = self.aurora_acu_range
            if isinstance(acu, str) or not isinstance(acu, (tuple, list)) or len(acu) != 2:
                raise InvalidRequest(
                    "aurora_acu_range must be a (lowest, highest) pair of ACUs", field="aurora_acu_range"
                )
            checked = validate_serverless_v2_capacity(
                acu[0],
                acu[1],
                instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
                min_field="aurora_acu_range[0]",
                max_field="aurora_acu_range[1]",
            )
            assert checked is not None
            if checked[0] < SERVERLESS_V2_LOWEST_MAX_ACU:
                raise InvalidRequest(
                    f"aurora_acu_range[0] bounds the maximum capacity, which cannot be below "
                    f"{SERVERLESS_V2_LOWEST_MAX_ACU:g} ACU; got {checked[0]:g}",
                    field="aurora_acu_range[0]",
                )
            object.__setattr__(self, "aurora_acu_range", checked)
        if (self.aurora_min_readers is None) != (self.aurora_max_readers is None):
            raise InvalidRequest(
                "set both aurora_min_readers and aurora_max_readers, or neither (readers are then left alone)",
                field="aurora_min_readers" if self.aurora_min_readers is None else "aurora_max_readers",
            )
        if self.aurora_min_readers is not None and self.aurora_max_readers is not None:
            low = validate_reader_count(self.aurora_min_readers, field="aurora_min_readers")
            high = validate_reader_count(self.aurora_max_readers, field="aurora_max_readers")
            if low > high:
                raise InvalidRequest(
                    f"aurora_min_readers ({low}) is greater than aurora_max_readers ({high})",
                    field="aurora_min_readers",
                )
        if isinstance(self.thresholds, Mapping):
            object.__setattr__(self, "thresholds", Thresholds.from_dict(self.thresholds))
        if not isinstance(self.thresholds, Thresholds):
            raise InvalidRequest("thresholds must be a Thresholds", field="thresholds")
        for name, low, high in (
            ("window_minutes", 1, 1440),
            ("evaluation_interval_minutes", 1, 60),
            ("resume_window_minutes", 1, 1440),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidRequest(
                    f"{name} must be a whole number of minutes from {low} to {high}, got {value!r}", field=name
                )
        _number(self.cooldown_minutes, "cooldown_minutes", low=0)
        _number(self.scale_down_sustain_minutes, "scale_down_sustain_minutes", low=0)
        if self.idle_pause_minutes is not None:
            _number(self.idle_pause_minutes, "idle_pause_minutes", low=1)
        _number(self.idle_cpu_percent, "idle_cpu_percent", low=0, high=100)
        if self.idle_cpu_percent >= self.thresholds.cpu_low:
            raise InvalidRequest(
                f"idle_cpu_percent ({self.idle_cpu_percent:g}) must be below thresholds.cpu_low "
                f"({self.thresholds.cpu_low:g})",
                field="idle_cpu_percent",
            )
        if _number(self.operation_timeout_minutes, "operation_timeout_minutes", low=0) <= 0:
            raise InvalidRequest("operation_timeout_minutes must be greater than 0", field="operation_timeout_minutes")
        for name in ("aurora_stop_when_idle", "redshift_query_checks"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidRequest(f"{name} must be True or False", field=name)
        if self.resume_catalog is not None and (not isinstance(self.resume_catalog, str) or not self.resume_catalog):
            raise InvalidRequest("resume_catalog must be a non-empty string or None", field="resume_catalog")
        if not isinstance(self.resume_workgroup, str) or not self.resume_workgroup:
            raise InvalidRequest("resume_workgroup must be a non-empty string", field="resume_workgroup")

    # --- bounds -----------------------------------------------------------------------------

    def redshift_bounds(self, node_type: str) -> tuple[int, int]:
        """The node range for ``node_type``: the policy's, checked against the type's elastic limits."""
        validate_redshift_node_type(node_type, field="redshift_node_type")
        low = validate_redshift_nodes(
            node_type, self.redshift_min_nodes, count_field="redshift_min_nodes", elastic=True
        )
        high = validate_redshift_nodes(
            node_type, self.redshift_max_nodes, count_field="redshift_max_nodes", elastic=True
        )
        return low[1], high[1]

    @property
    def manages_readers(self) -> bool:
        return self.aurora_min_readers is not None and self.aurora_max_readers is not None

    # --- JSON -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` turns back into an equal policy."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Thresholds):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoscalePolicy:
        values = _known(cls, data, "policy")
        if "thresholds" in values:
            values["thresholds"] = Thresholds.from_dict(values["thresholds"])
        if values.get("aurora_acu_range") is not None:
            acu = values["aurora_acu_range"]
            values["aurora_acu_range"] = tuple(acu) if isinstance(acu, list) else acu
        if "aurora_instance_classes" in values and isinstance(values["aurora_instance_classes"], list):
            values["aurora_instance_classes"] = tuple(values["aurora_instance_classes"])
        return cls(**values)


# --- clusters, decisions, memory ------------------------------------------------------------


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
class Memory:
    """What the autoscaler remembers about one cluster between invocations (epoch seconds)."""

    last_action: str | None = None
    last_action_at: float | None = None
    last_evaluated_at: float | None = None
    underused_since: float | None = None
    idle_since: float | None = None
    paused_by_autoscaler: bool = False
    stopped_since: float | None = None
    operation: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["operation"] = dict(self.operation) if self.operation is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Memory:
        if not data:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def without_streaks(self) -> Memory:
        return replace(self, underused_since=None, idle_since=None, last_evaluated_at=None)


@dataclass(frozen=True)
class Decision:
    """One cluster's decision, with the numbers behind it.

    ``action`` is one of :data:`ACTIONS`; ``current`` is the cluster's shape and state when it was
    evaluated, ``target`` what the action changes (empty for ``none``/``skip_busy``). ``checks``
    are the :class:`CheckResult` s of the evaluation as dicts, each with the ``signal`` it stands
    for (``cpu_high``, ``cpu_low``, ``idle``, ...), and ``causes`` names the signals that caused the
    action. ``outcome`` is filled in by :meth:`Autoscaler.act` (what was started, or why not);
    ``memory`` is what the autoscaler remembers after this decision.
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

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidRequest(f"action '{self.action}' is not one of {', '.join(ACTIONS)}", field="action")

    @property
    def changes(self) -> bool:
        """True when the action changes the cluster (scale, pause, resume, stop)."""
        return self.action in _CHANGES

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


# --- state stores ------------------------------------------------------------------------------


class StateStore(Protocol):
    """Where the autoscaler keeps each cluster's :class:`Memory` (a small JSON-safe dict)."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, data: dict[str, Any]) -> None: ...


class MemoryStateStore:
    """A dict: for tests, simulations and one-process use (forgotten when the process ends)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        found = self.data.get(key)
        return json.loads(json.dumps(found)) if found is not None else None

    def save(self, key: str, data: dict[str, Any]) -> None:
        self.data[key] = json.loads(json.dumps(data))


class SsmStateStore:
    """One SSM parameter per cluster: ``<prefix>/<service>/<cluster>`` (``<prefix>/dry-run/...`` in dry run).

    A Standard parameter (free, 4 KB) holds the memory and an in-flight operation; a larger
    document goes to the Advanced tier (8 KB). Every write is a new parameter version, so SSM keeps
    the last 100 states of each cluster.
    """

    def __init__(self, prefix: str = STATE_PARAMETER_PREFIX, *, session: boto3.Session | None = None) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise InvalidRequest(f"prefix '{prefix}' must start with '/' and not end with '/'", field="prefix")
        self.prefix = prefix
        self._session = session

    def name(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        ssm = client("ssm", self._session)
        try:
            with aws_errors(f"read the autoscaler state {self.name(key)}"):
                value = ssm.get_parameter(Name=self.name(key))["Parameter"]["Value"]
        except AwsError as err:
            if err.code == "ParameterNotFound":
                return None
            raise
        try:
            data = json.loads(value)
        except ValueError:
            LOG.warning("autoscaler state %s is not JSON; starting afresh", self.name(key))
            return None
        return data if isinstance(data, dict) else None

    def save(self, key: str, data: dict[str, Any]) -> None:
        value = json.dumps(data, separators=(",", ":"), sort_keys=True)
        ssm = client("ssm", self._session)
        with aws_errors(f"write the autoscaler state {self.name(key)}"):
            ssm.put_parameter(
                Name=self.name(key),
                Value=value,
                Type="String",
                Overwrite=True,
                Tier="Standard" if len(value.encode()) <= _SSM_STANDARD_MAX else "Advanced",
            )


# --- configuration shared by the construct and the handler -------------------------------------


@dataclass(frozen=True)
class AutoscalerConfig:
    """What the ``Autoscaler`` construct hands the handler (environment variable :data:`CONFIG_ENV`)."""

    policy: AutoscalePolicy
    clusters: tuple[ClusterRef, ...]
    dry_run: bool = False
    state_prefix: str = STATE_PARAMETER_PREFIX

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_dict(),
            "clusters": [
                {"service": c.service, "name": c.name, "declared_paused": c.declared_paused} for c in self.clusters
            ],
            "dry_run": self.dry_run,
            "state_prefix": self.state_prefix,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoscalerConfig:
        values = _known(cls, data, "config")
        clusters = values.get("clusters") or []
        if not isinstance(clusters, list):
            raise InvalidRequest("config.clusters must be a list", field="config.clusters")
        return cls(
            policy=AutoscalePolicy.from_dict(values.get("policy") or {}),
            clusters=tuple(ClusterRef(**_known(ClusterRef, c, "config.clusters[]")) for c in clusters),
            dry_run=bool(values.get("dry_run", False)),
            state_prefix=str(values.get("state_prefix", STATE_PARAMETER_PREFIX)),
        )

    @classmethod
    def from_json(cls, text: str) -> AutoscalerConfig:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InvalidRequest(f"{CONFIG_ENV} is not JSON: {err}", field=CONFIG_ENV) from None
        return cls.from_dict(data)


# --- what the autoscaler sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Observed:
    ref: ClusterRef
    found: bool
    status: str = ""
    busy: str | None = None
    node_type: str | None = None
    nodes: int | None = None
    instance_class: str | None = None
    roles: Mapping[str, str] = field(default_factory=dict)  # instance id -> writer | reader
    acu: tuple[float, float] | None = None

    @property
    def paused(self) -> bool:
        return self.status in ("paused", "stopped")

    @property
    def readers(self) -> int:
        return sum(1 for role in self.roles.values() if role == "reader")

    def current(self) -> dict[str, Any]:
        if not self.found:
            return {"status": "not found"}
        if self.ref.service == "redshift":
            return {"node_type": self.node_type, "nodes": self.nodes, "paused": self.paused, "status": self.status}
        data: dict[str, Any] = {"instance_class": self.instance_class, "readers": self.readers}
        if self.acu is not None:
            data["acu"] = list(self.acu)
        data.update({"paused": self.paused, "status": self.status})
        return data


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


# --- the autoscaler -------------------------------------------------------------------------------


class Autoscaler:
    """Evaluates clusters against an :class:`AutoscalePolicy` and starts the changes it decides.

    ``session``/``clock`` as everywhere in the core. ``state_store`` keeps each cluster's memory
    (default :class:`SsmStateStore`). With ``dry_run`` nothing is changed: decisions are logged and
    published (as ``DryRunDecision``) and remembered under a separate ``dry-run/`` key, as if
    carried out, so cooldown and hysteresis behave as they would. ``log`` receives each decision's
    JSON line (default: the ``dbscale.autoscaler`` logger at INFO). ``data_api_timeout_seconds``
    bounds the Redshift query-history checks.
    """

    def __init__(
        self,
        policy: AutoscalePolicy,
        *,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        state_store: StateStore | None = None,
        dry_run: bool = False,
        log: Callable[[str], None] | None = None,
        data_api_timeout_seconds: float = 90.0,
    ) -> None:
        if not isinstance(policy, AutoscalePolicy):
            raise InvalidRequest("policy must be an AutoscalePolicy", field="policy")
        self.policy = policy
        self.dry_run = bool(validate_flag(dry_run, field="dry_run"))
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._store: StateStore = state_store if state_store is not None else SsmStateStore(session=session)
        self._log = log or (lambda line: LOG.info("%s", line))
        self._scaling = ProvisionScaling(
            session=session, clock=self._clock, data_api_timeout_seconds=data_api_timeout_seconds
        )
        self._saved: dict[str, dict[str, Any]] = {}

    # --- public ----------------------------------------------------------------------------

    def evaluate(self, cluster: ClusterRef, *, trigger: str = "manual") -> Decision:
        """The decision for one cluster; changes nothing (see :meth:`act`)."""
        return self.evaluate_many([cluster], trigger=trigger)[0]

    def evaluate_many(self, clusters: Iterable[ClusterRef], *, trigger: str = "schedule") -> list[Decision]:
        """Decisions for many clusters: every check of every cluster in one ``ProvisionScaling.evaluate``."""
        refs = list(clusters)
        for ref in refs:
            if not isinstance(ref, ClusterRef):
                raise InvalidRequest(f"clusters must be ClusterRef, got {ref!r}", field="clusters")
        now = self._clock.now()
        observed = [self._observe(ref) for ref in refs]
        memories = [self._load(ref) for ref in refs]
        plans = [self._plan(obs, mem) for obs, mem in zip(observed, memories, strict=True)]
        flat = [check for plan in plans for _, check in plan]
        results = self._scaling.evaluate(flat) if flat else []
        decisions = []
        offset = 0
        for obs, mem, plan in zip(observed, memories, plans, strict=True):
            labelled = {signal: results[offset + i] for i, (signal, _) in enumerate(plan)}
            offset += len(plan)
            decisions.append(self._decide(obs, mem, labelled, now, trigger))
        return decisions

    def act(self, decision: Decision, *, publish: bool = True) -> Decision:
        """Carry out ``decision``: start its change (never waiting), remember it, log and publish it.

        Returns the decision with ``outcome`` (and possibly ``action``: a cluster found busy when
        the change is started becomes ``skip_busy``) filled in. Errors are reported in the outcome,
        not raised, so one cluster cannot stop the others.
        """
        ref = ClusterRef(decision.service, decision.cluster)
        memory = Memory.from_dict(decision.memory)
        outcome = decision.outcome
        action = decision.action
        reason = decision.reason
        if self.dry_run:
            outcome = "dry run: not applied" if decision.changes else outcome or "dry run"
        elif action == "skip_busy" and memory.operation is not None:
            memory, outcome = self._continue(ref, memory)
        elif decision.changes:
            try:
                memory, outcome = self._start(ref, decision, memory)
            except InvalidState as err:
                action, reason = "skip_busy", f"{reason}; not started: {err}"
                outcome = "skipped: the cluster became busy"
            except DbscaleError as err:
                outcome = f"failed: {err}"
        final = replace(decision, action=action, reason=reason, outcome=outcome, memory=memory.to_dict())
        self._save(ref, memory)
        self._log(self._log_line(final))
        if publish:
            self._publish(self._metric_data([final]))
        return final

    def run(self, clusters: Iterable[ClusterRef], *, trigger: str = "schedule") -> list[Decision]:
        """Evaluate and act on every cluster; the metrics of the whole run go out in one call."""
        decisions = [self.act(d, publish=False) for d in self.evaluate_many(clusters, trigger=trigger)]
        self._publish(self._metric_data(decisions))
        return decisions

    # --- observing --------------------------------------------------------------------------

    def _observe(self, ref: ClusterRef) -> _Observed:
        try:
            return self._observe_redshift(ref) if ref.service == "redshift" else self._observe_aurora(ref)
        except ClusterNotFound:
            return _Observed(ref, found=False)

    def _observe_redshift(self, ref: ClusterRef) -> _Observed:
        from .redshift import describe_cluster

        c = describe_cluster(client("redshift", self._session), ref.name)
        status = str(c.get("ClusterStatus", ""))
        busy = None
        if status not in _REDSHIFT_SETTLED:
            busy = f"the cluster is '{status}'"
        elif c.get("ClusterAvailabilityStatus") in _REDSHIFT_BUSY_AVAILABILITY:
            busy = f"the cluster's availability is '{c['ClusterAvailabilityStatus']}'"
        return _Observed(
            ref, True, status=status, busy=busy, node_type=str(c["NodeType"]), nodes=int(c["NumberOfNodes"])
        )

    def _observe_aurora(self, ref: ClusterRef) -> _Observed:
        from .aurora import _acu, describe_db_cluster

        rds = client("rds", self._session)
        c = describe_db_cluster(rds, ref.name)
        with aws_errors(f"describe the instances of Aurora cluster '{ref.name}'"):
            pages = rds.get_paginator("describe_db_instances").paginate(
                Filters=[{"Name": "db-cluster-id", "Values": [ref.name]}]
            )
            instances = {str(i["DBInstanceIdentifier"]): i for page in pages for i in page["DBInstances"]}
        roles = {
            str(m["DBInstanceIdentifier"]): "writer" if m.get("IsClusterWriter") else "reader"
            for m in c.get("DBClusterMembers") or []
        }
        writer = next((name for name, role in roles.items() if role == "writer"), None)
        status = str(c.get("Status", ""))
        busy = None
        if status not in _AURORA_SETTLED:
            busy = f"the cluster is '{status}'"
        else:
            for name, instance in sorted(instances.items()):
                if instance.get("DBInstanceStatus") not in _AURORA_SETTLED:
                    busy = f"instance '{name}' is '{instance.get('DBInstanceStatus')}'"
                    break
        if busy is None and writer is None:
            busy = "the cluster has no writer instance"
        instance_class = str(instances[writer]["DBInstanceClass"]) if writer in instances else None
        return _Observed(ref, True, status=status, busy=busy, instance_class=instance_class, roles=roles, acu=_acu(c))

    # --- memory -----------------------------------------------------------------------------

    def _key(self, ref: ClusterRef) -> str:
        return f"dry-run/{ref.key}" if self.dry_run else ref.key

    def _load(self, ref: ClusterRef) -> Memory:
        key = self._key(ref)
        data = self._store.load(key)
        self._saved[key] = data or {}
        return Memory.from_dict(data)

    def _save(self, ref: ClusterRef, memory: Memory) -> None:
        key = self._key(ref)
        data = memory.to_dict()
        if self._saved.get(key) == data or (key not in self._saved and data == Memory().to_dict()):
            return
        self._store.save(key, data)
        self._saved[key] = data

    # --- planning the checks -------------------------------------------------------------------

    def _plan(self, obs: _Observed, memory: Memory) -> list[tuple[str, Check]]:
        if not obs.found or obs.busy is not None or memory.operation is not None:
            return []
        p, t, w = self.policy, self.policy.thresholds, self.policy.window_minutes
        name = obs.ref.name
        if obs.ref.service == "redshift":
            plan: list[tuple[str, Check]] = [
                ("cpu_high", Check.redshift_utilization(name, True, "cpu", t.cpu_high, w)),
                ("cpu_low", Check.redshift_utilization(name, False, "cpu", t.cpu_low, w)),
                ("idle", Check.redshift_utilization(name, False, "cpu", p.idle_cpu_percent, w)),
                ("disk_high", Check.redshift_utilization(name, True, "disk", t.disk_high, w)),
                ("disk_low", Check.redshift_utilization(name, False, "disk", t.disk_low, w)),
            ]
            if p.redshift_query_checks and not obs.paused:
                plan += [
                    ("memory_high", Check.redshift_utilization(name, True, "memory", t.spill_high, w)),
                    ("memory_low", Check.redshift_utilization(name, False, "memory", t.spill_low, w)),
                    (
                        "slow_queries_high",
                        Check.redshift_slow_percentage(
                            name, t.slow_query_seconds, w, percent_threshold=t.slow_query_percent_high
                        ),
                    ),
                ]
            if (
                obs.status == "paused"
                and p.resume_catalog
                and memory.paused_by_autoscaler
                and not obs.ref.declared_paused
                and obs.node_type is not None
                and obs.node_type in REDSHIFT_NODE_TYPES
                and obs.nodes is not None
            ):
                plan.append(
                    (
                        "can_boot_redshift",
                        Check.can_boot_redshift(
                            p.resume_catalog,
                            obs.node_type,
                            obs.nodes,
                            p.resume_window_minutes,
                            workgroup=p.resume_workgroup,
                        ),
                    )
                )
            return plan
        plan = [
            ("cpu_high", Check.aurora_utilization(name, True, "cpu", t.cpu_high, w)),
            ("cpu_low", Check.aurora_utilization(name, False, "cpu", t.cpu_low, w)),
            ("latency_high", Check.aurora_slow(name, t.latency_high_ms, w)),
        ]
        if p.aurora_stop_when_idle:
            plan.append(("idle", Check.aurora_utilization(name, False, "cpu", p.idle_cpu_percent, w)))
        if obs.instance_class is not None and (
            obs.instance_class in AURORA_INSTANCE_CLASSES
            or (obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS and obs.acu is not None)
        ):
            plan += [
                ("memory_high", Check.aurora_utilization(name, True, "memory", t.memory_high, w, obs.instance_class)),
                ("memory_low", Check.aurora_utilization(name, False, "memory", t.memory_low, w, obs.instance_class)),
            ]
        return plan

    # --- deciding -------------------------------------------------------------------------------

    def _decide(
        self, obs: _Observed, memory: Memory, results: Mapping[str, CheckResult], now: float, trigger: str
    ) -> Decision:
        checks = tuple({"signal": signal, **result.to_dict()} for signal, result in results.items())
        base = Decision(
            cluster=obs.ref.name,
            service=obs.ref.service,
            action="none",
            reason="",
            current=obs.current(),
            checks=checks,
            dry_run=self.dry_run,
            at=now,
            trigger=trigger,
        )

        def decide(action: str, reason: str, mem: Memory, **changes: Any) -> Decision:
            return replace(base, action=action, reason=reason, memory=mem.to_dict(), **changes)

        if not obs.found:
            return decide("none", f"the {obs.ref.service} cluster does not exist", Memory())
        if memory.operation is not None:
            op = memory.operation
            return decide(
                "skip_busy",
                f"the autoscaler's own operation is in progress ({op.get('description', 'operation')}, "
                f"last state: {op.get('last_detail') or 'started'}); it is advanced, not restarted",
                memory,
            )
        if obs.busy is not None:
            return decide("skip_busy", f"{obs.busy}: never act on a cluster mid-operation", memory)
        if obs.ref.service == "redshift":
            return self._decide_redshift(obs, memory, results, now, decide)
        return self._decide_aurora(obs, memory, results, now, decide)

    def _cooldown_left(self, memory: Memory, now: float) -> float:
        if memory.last_action_at is None or memory.last_action not in _CHANGES:
            return 0.0
        return max(0.0, memory.last_action_at + self.policy.cooldown_minutes * 60 - now)

    def _streaks(
        self, memory: Memory, results: Mapping[str, CheckResult], now: float, *, cooling: bool
    ) -> tuple[Memory, float | None, float | None]:
        """Update the underuse and idle streaks; return the memory and the streaks' lengths (seconds).

        A streak continues only while consecutive evaluations each found the condition over their
        whole window with no gap between windows. Underuse is not counted during a cooldown (the
        window still holds the old size's figures); idleness is absolute and is.
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

    # --- acting -------------------------------------------------------------------------------------

    def _start(self, ref: ClusterRef, decision: Decision, memory: Memory) -> tuple[Memory, str]:
        target = decision.target
        if ref.service == "redshift":
            from .redshift import RedshiftProvisioning

            redshift = RedshiftProvisioning(ref.name, session=self._session, clock=self._clock)
            op = redshift.rescale(
                new_cluster_size=target.get("nodes"),
                new_paused=target.get("paused"),
                resize_type="auto",
                wait=False,
            )
        else:
            from .aurora import RdsProvisioning

            aurora = RdsProvisioning(ref.name, session=self._session, clock=self._clock)
            acu = target.get("acu")
            op = aurora.rescale(
                new_paused=target.get("paused"),
                new_instance_type=target.get("instance_class"),
                new_reader_count=target.get("readers"),
                new_serverless_v2_capacity=(float(acu[0]), float(acu[1])) if acu else None,
                wait=False,
            )
        result = op.poll()
        if result.failed:
            return replace(memory, operation=None), f"failed: {result.reason}"
        if result.done:
            return replace(memory, operation=None), f"done: {op.description}"
        return replace(memory, operation=op.to_dict()), f"started: {op.description} ({result.reason})"

    def _continue(self, ref: ClusterRef, memory: Memory) -> tuple[Memory, str]:
        from .operation import Operation

        assert memory.operation is not None
        try:
            op = Operation.from_dict(dict(memory.operation), session=self._session, clock=self._clock)
        except (ValueError, KeyError) as err:
            return replace(memory, operation=None), f"dropped an unreadable stored operation: {err}"
        if op.elapsed_seconds() > self.policy.operation_timeout_minutes * 60:
            return (
                replace(memory, operation=None),
                f"gave up on '{op.description}' after {_minutes(op.elapsed_seconds())} "
                f"(operation_timeout_minutes {self.policy.operation_timeout_minutes:g}); last state: {op.last_detail}",
            )
        try:
            result = op.poll()
        except (DbscaleError, KeyError) as err:  # a step that cannot run again: drop it, do not loop on it
            return replace(memory, operation=None), f"failed: '{op.description}' cannot continue: {err!r}"
        if result.done:
            return replace(memory, operation=None), f"done: {op.description}"
        if result.failed:
            return replace(memory, operation=None), f"failed: {result.reason}"
        return replace(memory, operation=op.to_dict()), f"in progress: {result.reason}"

    # --- reporting -----------------------------------------------------------------------------------

    @staticmethod
    def _log_line(decision: Decision) -> str:
        return json.dumps({"message": "dbscale autoscaler decision", **decision.to_dict()}, default=str)

    def _metric_data(self, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = []
        for d in decisions:
            stamp = datetime.fromtimestamp(d.at or self._clock.now(), tz=timezone.utc)
            data.append(
                {
                    "MetricName": DRY_RUN_DECISION_METRIC if d.dry_run else DECISION_METRIC,
                    "Dimensions": [{"Name": "Cluster", "Value": d.cluster}, {"Name": "Action", "Value": d.action}],
                    "Timestamp": stamp,
                    "Value": 1.0,
                    "Unit": "Count",
                    "_namespace": DECISION_NAMESPACE,
                }
            )
            for check in d.checks:
                metric = None
                if check.get("check") == "redshift_slow_percentage":
                    metric = SLOW_QUERY_METRIC
                elif check.get("check") == "redshift_utilization" and check.get("signal") == "memory_high":
                    metric = SPILL_METRIC
                if metric is not None and check.get("value") is not None:
                    data.append(
                        {
                            "MetricName": metric,
                            "Dimensions": [{"Name": "ClusterIdentifier", "Value": d.cluster}],
                            "Timestamp": stamp,
                            "Value": float(check["value"]),
                            "Unit": "Percent",
                            "_namespace": CHECKS_NAMESPACE,
                        }
                    )
        return data

    def _publish(self, data: list[dict[str, Any]]) -> None:
        if not data:
            return
        cloudwatch = client("cloudwatch", self._session)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for datum in data:
            entry = dict(datum)
            by_namespace.setdefault(entry.pop("_namespace"), []).append(entry)
        for namespace, entries in by_namespace.items():
            for first in range(0, len(entries), 1000):  # PutMetricData takes at most 1,000 datapoints
                try:
                    with aws_errors(f"publish {namespace} metrics"):
                        cloudwatch.put_metric_data(Namespace=namespace, MetricData=entries[first : first + 1000])
                except AwsError as err:  # a metric lost must not lose the decision
                    LOG.warning("could not publish %s metrics: %s", namespace, err)
