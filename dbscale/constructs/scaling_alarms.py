"""``ScalingAlarms``: one CloudWatch alarm per scaling check CloudWatch can evaluate, from a table.

Each row of :data:`ALARM_SPECS` names the check it mirrors, the metric (or metric math) that
expresses it, the :class:`~dbscale.core.autoscale.Thresholds` field it compares with and the
direction. The alarms use the same window as the checks (one period of ``window``, statistic as
the check computes it) and treat missing data as not breaching, so a paused Redshift cluster or a
stopped Aurora cluster, which publish nothing, never alarm.

Redshift publishes no memory metric and no per-query durations: the autoscaler publishes its
spill share and slow-query share to ``dbscale/Checks`` (``RedshiftSpillPercent``,
``RedshiftSlowQueryPercent``, dimension ``ClusterIdentifier``) when its policy enables the query
history checks; until then those alarms stay OK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from dbscale.core.autoscale import CHECKS_NAMESPACE, SLOW_QUERY_METRIC, SPILL_METRIC, Thresholds
from dbscale.core.limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    GIB,
    SERVERLESS_V2_GIB_PER_ACU,
)

from ._support import fail, is_token, warn
from .aurora import AuroraCluster
from .redshift import RedshiftCluster

ClusterArg = Any
"""A ``RedshiftCluster``/``AuroraCluster``, a list of them, or None."""


def declared(cluster: Construct, attribute: str, prop: str) -> Any:
    """What the cluster construct declares: its attribute when it has one, else its resource property."""
    value = getattr(cluster, attribute, None)
    if value is not None:
        return value
    resource = getattr(cluster, "resource", None)
    cfn = resource.node.default_child if resource is not None else None
    properties = getattr(cfn, "_cfn_properties", None) or {}
    return properties.get(prop)


def as_list(scope: Construct, value: ClusterArg, kind: type, field: str) -> list[Any]:
    """``value`` as a list of ``kind`` constructs; anything else is an error naming ``field``."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, kind):
            raise fail(
                scope, f"{field} must be a {kind.__name__} or a list of them, got {type(item).__name__}", field=field
            )
    return items


@dataclass(frozen=True)
class Target:
    """One cluster as the alarm table sees it."""

    cluster: Construct
    identifier: str
    engine: str | None = None
    memory_bytes: float | None = None


MetricFactory = Callable[[Target, Duration], "cloudwatch.IMetric | None"]


@dataclass(frozen=True)
class AlarmSpec:
    """One row of the alarm table.

    ``service`` is ``redshift`` or ``aurora``; ``key`` names the alarm (construct id, e.g.
    ``CpuHigh``); ``threshold`` is the :class:`Thresholds` field; ``over`` alarms above it (else
    below); ``metric`` builds the metric for a cluster (None: the cluster lacks what it needs);
    ``mirrors`` names the check; ``what`` is the description's subject.
    """

    service: str
    key: str
    threshold: str
    over: bool
    metric: MetricFactory
    mirrors: str
    what: str
    unit: str = "%"


def _metric(namespace: str, name: str, dimension: str, stat: str = "Average") -> MetricFactory:
    def build(target: Target, window: Duration) -> cloudwatch.IMetric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={dimension: target.identifier},
            statistic=stat,
            period=window,
        )

    return build


def _aurora_memory(target: Target, window: Duration) -> cloudwatch.IMetric | None:
    if target.memory_bytes is None:
        return None
    free = cloudwatch.Metric(
        namespace="AWS/RDS",
        metric_name="FreeableMemory",
        dimensions_map={"DBClusterIdentifier": target.identifier},
        statistic="Minimum",  # the instance with the least free memory: the busiest one
        period=window,
    )
    return cloudwatch.MathExpression(
        expression=f"100 * (1 - free / {target.memory_bytes:.0f})",
        using_metrics={"free": free},
        period=window,
        label="memory used %",
    )


def _rds_average(target: Target, name: str, window: Duration) -> cloudwatch.Metric:
    """The cluster-level average of an AWS/RDS metric over ``window``."""
    return cloudwatch.Metric(
        namespace="AWS/RDS",
        metric_name=name,
        dimensions_map={"DBClusterIdentifier": target.identifier},
        statistic="Average",
        period=window,
    )


def _aurora_disk(target: Target, window: Duration) -> cloudwatch.IMetric:
    def metric(name: str) -> cloudwatch.Metric:
        return _rds_average(target, name, window)

    return cloudwatch.MathExpression(
        expression="100 * used / (used + left)",
        using_metrics={"used": metric("VolumeBytesUsed"), "left": metric("AuroraVolumeBytesLeftTotal")},
        period=window,
        label="volume used %",
    )


def _aurora_latency(target: Target, window: Duration) -> cloudwatch.IMetric:
    def metric(name: str) -> cloudwatch.Metric:
        return _rds_average(target, name, window)

    if target.engine == "aurora-mysql":
        # Latency weighted by throughput, as is_aurora_slow computes it (MySQL publishes both pairs).
        return cloudwatch.MathExpression(
            expression="(sl * st + dl * dt) / (st + dt)",
            using_metrics={
                "sl": metric("SelectLatency"),
                "st": metric("SelectThroughput"),
                "dl": metric("DMLLatency"),
                "dt": metric("DMLThroughput"),
            },
            period=window,
            label="latency ms (weighted by throughput)",
        )
    return metric("CommitLatency")  # Aurora PostgreSQL (and both engines) publish commit latency


_REDSHIFT_CPU = _metric("AWS/Redshift", "CPUUtilization", "ClusterIdentifier")
_REDSHIFT_DISK = _metric("AWS/Redshift", "PercentageDiskSpaceUsed", "ClusterIdentifier")
_REDSHIFT_SPILL = _metric(CHECKS_NAMESPACE, SPILL_METRIC, "ClusterIdentifier", "Maximum")
_REDSHIFT_SLOW = _metric(CHECKS_NAMESPACE, SLOW_QUERY_METRIC, "ClusterIdentifier", "Maximum")
# The cluster-level series aggregates every instance: Maximum is the busiest instance's minute.
_AURORA_CPU = _metric("AWS/RDS", "CPUUtilization", "DBClusterIdentifier", "Maximum")

ALARM_SPECS: tuple[AlarmSpec, ...] = (
    AlarmSpec("redshift", "CpuHigh", "cpu_high", True, _REDSHIFT_CPU, "redshift_utilization cpu", "CPU utilization"),
    AlarmSpec("redshift", "CpuLow", "cpu_low", False, _REDSHIFT_CPU, "redshift_utilization cpu", "CPU utilization"),
    AlarmSpec(
        "redshift", "DiskHigh", "disk_high", True, _REDSHIFT_DISK, "redshift_utilization disk", "disk space used"
    ),
    AlarmSpec("redshift", "DiskLow", "disk_low", False, _REDSHIFT_DISK, "redshift_utilization disk", "disk space used"),
    AlarmSpec(
        "redshift", "MemoryHigh", "spill_high", True, _REDSHIFT_SPILL, "redshift_utilization memory", "queries spilling"
    ),
    AlarmSpec(
        "redshift", "MemoryLow", "spill_low", False, _REDSHIFT_SPILL, "redshift_utilization memory", "queries spilling"
    ),
    AlarmSpec(
        "redshift",
        "SlowQueriesHigh",
        "slow_query_percent_high",
        True,
        _REDSHIFT_SLOW,
        "redshift_slow_percentage",
        "queries slower than thresholds.slow_query_seconds",
    ),
    AlarmSpec("aurora", "CpuHigh", "cpu_high", True, _AURORA_CPU, "aurora_utilization cpu", "busiest instance's CPU"),
    AlarmSpec("aurora", "CpuLow", "cpu_low", False, _AURORA_CPU, "aurora_utilization cpu", "busiest instance's CPU"),
    AlarmSpec("aurora", "MemoryHigh", "memory_high", True, _aurora_memory, "aurora_utilization memory", "memory used"),
    AlarmSpec("aurora", "MemoryLow", "memory_low", False, _aurora_memory, "aurora_utilization memory", "memory used"),
    AlarmSpec("aurora", "DiskHigh", "disk_high", True, _aurora_disk, "aurora_utilization disk", "volume used"),
    AlarmSpec("aurora", "DiskLow", "disk_low", False, _aurora_disk, "aurora_utilization disk", "volume used"),
    AlarmSpec(
        "aurora", "LatencyHigh", "latency_high_ms", True, _aurora_latency, "aurora_slow", "statement latency", " ms"
    ),
)
"""The alarm table: every check CloudWatch can evaluate, over and under."""


def window_minutes(scope: Construct, window: Duration) -> int:
    """``window`` as whole minutes from 1 to 1440 (an alarm period is a multiple of 60 s, at most a day)."""
    if is_token(window.to_seconds()):
        raise fail(scope, "window must be a literal Duration", field="window")
    seconds = window.to_seconds()
    if seconds % 60 or not 60 <= seconds <= 86400:
        raise fail(scope, f"window must be whole minutes from 1 to 1440, got {seconds:g} s", field="window")
    return int(seconds // 60)


class ScalingAlarms(Construct):
    """CloudWatch alarms over the clusters' metrics, one per check CloudWatch can evaluate (see :data:`ALARM_SPECS`).

    :param redshift: a ``RedshiftCluster`` or a list of them.
    :param aurora: an ``AuroraCluster`` or a list of them.
    :param thresholds: the figures compared with. Default ``Thresholds()`` (the autoscaler's).
    :param window: the period each alarm averages over, as the checks do. Default 10 minutes.
    :param alarm_topic: an SNS topic notified when an alarm goes into ALARM. Default None.

    ``alarms`` lists every alarm; ``alarms_for(cluster)`` maps a cluster's alarm keys
    (``CpuHigh``, ``MemoryLow`` ...) to its alarms. The Aurora memory alarm turns FreeableMemory into
    a share of the declared instance class's memory (of the maximum ACUs for Serverless v2): when the
    class or capacity is a token it is left out with a warning.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        redshift: ClusterArg = None,
        aurora: ClusterArg = None,
        thresholds: Thresholds | None = None,
        window: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.thresholds = thresholds if thresholds is not None else Thresholds()
        if not isinstance(self.thresholds, Thresholds):
            raise fail(self, "thresholds must be a dbscale.core.autoscale.Thresholds", field="thresholds")
        self.window = window if window is not None else Duration.minutes(10)
        self.window_minutes = window_minutes(self, self.window)
        redshift_clusters = as_list(self, redshift, RedshiftCluster, "redshift")
        aurora_clusters = as_list(self, aurora, AuroraCluster, "aurora")
        if not redshift_clusters and not aurora_clusters:
            raise fail(self, "give at least one cluster (redshift=... or aurora=...)", field="redshift")
        self.alarms: list[cloudwatch.Alarm] = []
        self._by_cluster: dict[int, dict[str, cloudwatch.Alarm]] = {}
        self._action = cw_actions.SnsAction(alarm_topic) if alarm_topic is not None else None
        used: set[str] = set()
        for service, clusters in (("redshift", redshift_clusters), ("aurora", aurora_clusters)):
            for cluster in clusters:
                self._add(service, self._target(service, cluster), used)

    def alarms_for(self, cluster: Construct) -> dict[str, cloudwatch.Alarm]:
        """The alarms of ``cluster`` by key (``CpuHigh``, ``CpuLow`` ...)."""
        return dict(self._by_cluster.get(id(cluster), {}))

    def _target(self, service: str, cluster: Any) -> Target:
        identifier = cluster.cluster_identifier
        if service == "redshift":
            return Target(cluster, identifier)
        engine = declared(cluster, "engine", "Engine")
        instance_class = declared(cluster, "instance_class", "InstanceClass")
        memory: float | None = None
        if instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
            max_acu = declared(cluster, "serverless_v2_max_capacity", "ServerlessV2MaxCapacity")
            if isinstance(max_acu, (int, float)) and not is_token(max_acu):
                memory = float(max_acu) * SERVERLESS_V2_GIB_PER_ACU * GIB
        elif isinstance(instance_class, str) and instance_class in AURORA_INSTANCE_CLASSES:
            memory = float(AURORA_INSTANCE_CLASSES[instance_class].memory_gib * GIB)
        if memory is None:
            warn(
                self,
                "memoryAlarmSkipped",
                f"no memory alarms for {cluster.node.path}: its instance class or Serverless v2 maximum "
                "capacity is not known at synth time",
            )
        return Target(cluster, identifier, engine if isinstance(engine, str) and not is_token(engine) else None, memory)

    def _add(self, service: str, target: Target, used: set[str]) -> None:
        base = target.cluster.node.id
        name = base
        counter = 2
        while name in used:
            name, counter = f"{base}{counter}", counter + 1
        used.add(name)
        group = Construct(self, name)
        mine: dict[str, cloudwatch.Alarm] = {}
        what = "Redshift" if service == "redshift" else "Aurora"
        for spec in (s for s in ALARM_SPECS if s.service == service):
            metric = spec.metric(target, self.window)
            if metric is None:
                continue
            threshold = float(getattr(self.thresholds, spec.threshold))
            direction = "above" if spec.over else "below"
            alarm = cloudwatch.Alarm(
                group,
                spec.key,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                comparison_operator=(
                    cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                    if spec.over
                    else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                ),
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    f"dbscale: {what} cluster {target.cluster.node.path} {spec.what} {direction} "
                    f"{threshold:g}{spec.unit} over {self.window_minutes} min (check {spec.mirrors}, "
                    f"thresholds.{spec.threshold}); missing data (paused, stopped) is not breaching"
                ),
            )
            if self._action is not None:
                alarm.add_alarm_action(self._action)
            mine[spec.key] = alarm
            self.alarms.append(alarm)
        self._by_cluster[id(target.cluster)] = mine
