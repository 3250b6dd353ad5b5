"""The autoscaling policy: bounds, thresholds and timing, validated on construction."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfoNotFoundError

from ..clock import zone
from ..errors import InvalidRequest
from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    REDSHIFT_NODE_TYPES,
    SERVERLESS_V2_LOWEST_MAX_ACU,
)
from ..validation import (
    validate_aurora_instance_class,
    validate_reader_count,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_serverless_v2_capacity,
)
from .forecasts import MIN_HISTORY_DAYS
from .schedules import Period, parse_holidays

if TYPE_CHECKING:
    pass


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
        return cls(**known_keys(cls, data, "thresholds"))


def known_keys(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` as a dict, refused (:class:`InvalidRequest` on ``where``) unless a mapping of ``cls``'s fields only."""
    if not isinstance(data, Mapping):
        raise InvalidRequest(f"{where} must be an object, got {data!r}", field=where)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidRequest(f"{where} has unknown keys: {', '.join(unknown)}", field=f"{where}.{unknown[0]}")
    return dict(data)


def _flags(policy: object, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(policy, name), bool):
            raise InvalidRequest(f"{name} must be True or False", field=name)


_WHOLE_MINUTES = (
    ("window_minutes", 1, 1440),
    ("evaluation_interval_minutes", 1, 60),
    ("resume_window_minutes", 1, 1440),
)
"""Timing fields that are whole minutes: (name, lowest, highest)."""
_TIMING_NUMBERS: tuple[tuple[str, float, float | None, bool], ...] = (
    ("cooldown_minutes", 0, None, False),
    ("scale_down_sustain_minutes", 0, None, False),
    ("idle_pause_minutes", 1, None, True),
    ("idle_cpu_percent", 0, 100, False),
)
"""Timing fields that are numbers: (name, lowest, highest or None, None allowed)."""


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
    ``evaluation_interval_minutes``; after any change no scale-down happens for ``cooldown_minutes``,
    and no scale-up after a reactive scale-up (a scale-up is never held back after a shrink or pause);
    a scale-down needs underuse sustained for ``scale_down_sustain_minutes`` (hysteresis); a
    Redshift cluster whose CPU stayed under ``idle_cpu_percent`` for ``idle_pause_minutes`` is
    paused (None: never; "idle" is the load under ``idle_cpu_percent`` of the smallest size the policy
    allows, see ``docs/autoscaling.md``), and resumed when ``can_boot_redshift`` says the Athena catalog
    ``resume_catalog`` (workgroup ``resume_workgroup``) spent at least what the cluster would cost
    over ``resume_window_minutes``. ``aurora_stop_when_idle`` stops idle Aurora clusters too
    (nothing restarts them but a person, a deploy, or AWS after 7 days, after which they are
    stopped again). ``redshift_query_checks`` adds the Redshift checks that read query history
    through the Data API (spill share as memory, slow-query share, and the longest WLM queue wait, a
    backlog the scale-up then counts as load); they need the cluster's secret.
    An operation still running after ``operation_timeout_minutes`` is given up (and logged).

    Schedules (see :mod:`dbscale.core.autoscale.schedules`): while a :class:`Period` of
    ``schedule`` is on, its bounds replace the policy's node (or ACU) bounds and the metric-driven
    rules move inside them; a paused period holds the cluster paused. ``holidays`` (dates) switch
    off the periods that would start on them. ``paused_outside_schedule`` holds the cluster paused
    whenever no running period is on (the Instance Scheduler model). A cluster the stack declares
    paused stays paused whatever the schedule says.

    Forecasts (``forecasts=True``; see :mod:`dbscale.core.autoscale.forecasts`): the load by hour
    of week (wall clock in ``forecast_tz``), learned from the last ``forecast_history_days`` of the
    cluster's CloudWatch history (at least 14), sets a floor so the capacity for a predicted ramp is
    in place ``expected_resize_minutes`` (resize) or ``expected_resume_minutes`` (resume) before it
    arrives. Short history, a back-test that misses, or a live load outside the forecast's band:
    the rules react instead, and each decision says which rule made it.

    ``aurora_auto_pause``: for a Serverless v2 cluster (every instance ``db.serverless``) whose engine
    version supports it (Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 and later; Aurora MySQL 3.08.0
    and later), pausing sets the minimum capacity to 0 ACU with ``SecondsUntilAutoPause`` (the
    idle time, 300 to 86,400 s) instead of stopping the cluster: Aurora pauses it when it has no
    connections and resumes it on the next one (about 15 s), with no 7-day restart.
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
    schedule: tuple[Period, ...] = ()
    holidays: tuple[date, ...] = ()
    paused_outside_schedule: bool = False
    forecasts: bool = False
    forecast_tz: str = "UTC"
    forecast_history_days: int = 21
    expected_resize_minutes: float = 15
    expected_resume_minutes: float = 10
    aurora_auto_pause: bool = True

    def __post_init__(self) -> None:
        # Checked in this order (the first problem found is the one reported); each check may normalize its
        # fields (a list to a tuple, a dict to Thresholds, strings to dates).
        for check in _POLICY_CHECKS:
            check(self)

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
            elif f.name == "schedule":
                value = [p.to_dict() for p in value]
            elif f.name == "holidays":
                value = [d.isoformat() for d in value]
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoscalePolicy:
        values = known_keys(cls, data, "policy")
        if "thresholds" in values:
            values["thresholds"] = Thresholds.from_dict(values["thresholds"])
        if values.get("aurora_acu_range") is not None:
            acu = values["aurora_acu_range"]
            values["aurora_acu_range"] = tuple(acu) if isinstance(acu, list) else acu
        if "aurora_instance_classes" in values and isinstance(values["aurora_instance_classes"], list):
            values["aurora_instance_classes"] = tuple(values["aurora_instance_classes"])
        return cls(**values)


# --- validation, check by check ---------------------------------------------------------------


def _check_redshift_bounds(policy: AutoscalePolicy) -> None:
    for name in ("redshift_min_nodes", "redshift_max_nodes"):
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be a whole number, got {value!r}", field=name)
    if policy.redshift_min_nodes < 2:
        raise InvalidRequest(
            f"redshift_min_nodes must be at least 2, got {policy.redshift_min_nodes}: elastic resize is not "
            "available to or from a single-node cluster, and a classic resize takes hours",
            field="redshift_min_nodes",
        )
    if policy.redshift_min_nodes > policy.redshift_max_nodes:
        raise InvalidRequest(
            f"redshift_min_nodes ({policy.redshift_min_nodes}) is greater than redshift_max_nodes "
            f"({policy.redshift_max_nodes})",
            field="redshift_min_nodes",
        )
    if policy.redshift_node_type is not None:
        policy.redshift_bounds(policy.redshift_node_type)
        return
    largest = max(spec.elastic_max_nodes for spec in REDSHIFT_NODE_TYPES.values())
    if policy.redshift_max_nodes > largest:
        raise InvalidRequest(
            f"redshift_max_nodes {policy.redshift_max_nodes} exceeds what any node type allows ({largest})",
            field="redshift_max_nodes",
        )


def _check_ladder(policy: AutoscalePolicy) -> None:
    ladder = policy.aurora_instance_classes
    if isinstance(ladder, str) or not isinstance(ladder, (tuple, list)):
        raise InvalidRequest(
            "aurora_instance_classes must be a list of instance classes", field="aurora_instance_classes"
        )
    object.__setattr__(policy, "aurora_instance_classes", tuple(ladder))
    for index, name in enumerate(policy.aurora_instance_classes):
        validate_aurora_instance_class(name, field=f"aurora_instance_classes[{index}]")
        if name == AURORA_SERVERLESS_INSTANCE_CLASS:
            raise InvalidRequest(
                f"{AURORA_SERVERLESS_INSTANCE_CLASS} has no place on the class ladder: use aurora_acu_range "
                "for Serverless v2 clusters",
                field=f"aurora_instance_classes[{index}]",
            )
        if index:
            lower, upper = (AURORA_INSTANCE_CLASSES[n] for n in policy.aurora_instance_classes[index - 1 : index + 1])
            if not (upper.usd_per_hour > lower.usd_per_hour and upper.vcpu >= lower.vcpu):
                raise InvalidRequest(
                    f"aurora_instance_classes must climb, cheapest first: {upper.name} (${upper.usd_per_hour}/h, "
                    f"{upper.vcpu} vCPU) does not follow {lower.name} (${lower.usd_per_hour}/h, {lower.vcpu} vCPU)",
                    field=f"aurora_instance_classes[{index}]",
                )


def _check_acu_range(policy: AutoscalePolicy) -> None:
    acu = policy.aurora_acu_range
    if acu is None:
        return
    if isinstance(acu, str) or not isinstance(acu, (tuple, list)) or len(acu) != 2:
        raise InvalidRequest("aurora_acu_range must be a (lowest, highest) pair of ACUs", field="aurora_acu_range")
    checked = validate_serverless_v2_capacity(
        acu[0],
        acu[1],
        instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
        min_field="aurora_acu_range[0]",
        max_field="aurora_acu_range[1]",
    )
    if checked is None:  # not for a pair of numbers, which the call checked
        raise InvalidRequest("aurora_acu_range must be a (lowest, highest) pair of ACUs", field="aurora_acu_range")
    if checked[0] < SERVERLESS_V2_LOWEST_MAX_ACU:
        raise InvalidRequest(
            f"aurora_acu_range[0] bounds the maximum capacity, which cannot be below "
            f"{SERVERLESS_V2_LOWEST_MAX_ACU:g} ACU; got {checked[0]:g}",
            field="aurora_acu_range[0]",
        )
    object.__setattr__(policy, "aurora_acu_range", checked)


def _check_readers(policy: AutoscalePolicy) -> None:
    if (policy.aurora_min_readers is None) != (policy.aurora_max_readers is None):
        raise InvalidRequest(
            "set both aurora_min_readers and aurora_max_readers, or neither (readers are then left alone)",
            field="aurora_min_readers" if policy.aurora_min_readers is None else "aurora_max_readers",
        )
    if policy.aurora_min_readers is not None and policy.aurora_max_readers is not None:
        low = validate_reader_count(policy.aurora_min_readers, field="aurora_min_readers")
        high = validate_reader_count(policy.aurora_max_readers, field="aurora_max_readers")
        if low > high:
            raise InvalidRequest(
                f"aurora_min_readers ({low}) is greater than aurora_max_readers ({high})",
                field="aurora_min_readers",
            )


def _check_thresholds(policy: AutoscalePolicy) -> None:
    if isinstance(policy.thresholds, Mapping):
        object.__setattr__(policy, "thresholds", Thresholds.from_dict(policy.thresholds))
    if not isinstance(policy.thresholds, Thresholds):
        raise InvalidRequest("thresholds must be a Thresholds", field="thresholds")


def _check_timing(policy: AutoscalePolicy) -> None:
    for name, low, high in _WHOLE_MINUTES:
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidRequest(
                f"{name} must be a whole number of minutes from {low} to {high}, got {value!r}", field=name
            )
    for name, least, most, optional in _TIMING_NUMBERS:
        if not (optional and getattr(policy, name) is None):
            _number(getattr(policy, name), name, low=least, high=most)
    if policy.idle_cpu_percent >= policy.thresholds.cpu_low:
        raise InvalidRequest(
            f"idle_cpu_percent ({policy.idle_cpu_percent:g}) must be below thresholds.cpu_low "
            f"({policy.thresholds.cpu_low:g})",
            field="idle_cpu_percent",
        )
    if _number(policy.operation_timeout_minutes, "operation_timeout_minutes", low=0) <= 0:
        raise InvalidRequest("operation_timeout_minutes must be greater than 0", field="operation_timeout_minutes")


def _check_schedule(policy: AutoscalePolicy) -> None:
    periods = policy.schedule
    if isinstance(periods, (str, Mapping)) or not isinstance(periods, (tuple, list)):
        raise InvalidRequest("schedule must be a list of Period", field="schedule")
    checked = tuple(Period.from_dict(p) for p in periods)
    for period in checked:
        for bound in ("min_nodes", "max_nodes"):
            count = getattr(period, bound)
            if count is not None and policy.redshift_node_type is not None:
                validate_redshift_nodes(policy.redshift_node_type, count, count_field=f"schedule.{bound}", elastic=True)
    object.__setattr__(policy, "schedule", checked)
    object.__setattr__(policy, "holidays", parse_holidays(policy.holidays))
    _flags(policy, "paused_outside_schedule", "forecasts", "aurora_auto_pause")
    if policy.paused_outside_schedule and not any(not p.paused for p in checked):
        raise InvalidRequest(
            "paused_outside_schedule needs at least one running period in schedule (else the cluster is never running)",
            field="paused_outside_schedule",
        )


def _check_forecasts(policy: AutoscalePolicy) -> None:
    try:
        if not isinstance(policy.forecast_tz, str) or not policy.forecast_tz:
            raise ValueError(policy.forecast_tz)
        zone(policy.forecast_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"forecast_tz '{policy.forecast_tz}' is not a time zone (an IANA name such as 'Europe/Berlin')",
            field="forecast_tz",
        ) from None
    days = policy.forecast_history_days
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_HISTORY_DAYS <= days <= 455:
        raise InvalidRequest(
            f"forecast_history_days must be a whole number from {MIN_HISTORY_DAYS} to 455 (CloudWatch keeps "
            f"hourly data 455 days), got {days!r}",
            field="forecast_history_days",
        )
    _number(policy.expected_resize_minutes, "expected_resize_minutes", low=0, high=1440)
    _number(policy.expected_resume_minutes, "expected_resume_minutes", low=0, high=1440)


def _check_resume(policy: AutoscalePolicy) -> None:
    _flags(policy, "aurora_stop_when_idle", "redshift_query_checks")
    if policy.resume_catalog is not None and (not isinstance(policy.resume_catalog, str) or not policy.resume_catalog):
        raise InvalidRequest("resume_catalog must be a non-empty string or None", field="resume_catalog")
    if not isinstance(policy.resume_workgroup, str) or not policy.resume_workgroup:
        raise InvalidRequest("resume_workgroup must be a non-empty string", field="resume_workgroup")


_POLICY_CHECKS: tuple[Callable[[AutoscalePolicy], None], ...] = (
    _check_redshift_bounds,
    _check_ladder,
    _check_acu_range,
    _check_readers,
    _check_thresholds,
    _check_timing,
    _check_schedule,
    _check_forecasts,
    _check_resume,
)
"""What :class:`AutoscalePolicy` checks, in order (the first problem found is the one reported)."""
