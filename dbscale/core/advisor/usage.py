"""Utilization over a window, for a whole fleet, with batched GetMetricData (the scaling checks' batcher).

Hourly averages of CPU, memory, disk, connections (and ACUs for Serverless v2) per cluster, fetched
for all clusters of a region together: GetMetricData takes up to 500 metrics and 100,800
datapoints per call, so 14 days of hourly points (336 per metric) is 300 metrics per call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import Clock, hour_of_week
from ..limits import AURORA_INSTANCE_CLASSES, GIB, SERVERLESS_V2_GIB_PER_ACU
from ..scaling import ProvisionScaling
from ..scaling.metrics import MetricKey, MetricWindow
from .fleet import ClusterInfo

if TYPE_CHECKING:
    import boto3

PERIOD_SECONDS = 3600
HOURS_PER_WEEK = 168
IDLE_MAX_CPU_PERCENT = 5.0
"""An hour is idle when CPU averaged at most this ..."""
IDLE_MAX_CONNECTIONS = 0.5
"""... and connections averaged at most this (nobody connected)."""


@dataclass(frozen=True)
class Stats:
    """Mean, 95th percentile and maximum of hourly averages, and how many hours had data."""

    mean: float
    p95: float
    max: float
    hours: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats | None:
        if not values:
            return None
        ordered = sorted(values)
        rank = max(0, math.ceil(0.95 * len(ordered)) - 1)
        return cls(math.fsum(ordered) / len(ordered), ordered[rank], ordered[-1], len(ordered))

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "p95": self.p95, "max": self.max, "hours": self.hours}


@dataclass(frozen=True)
class ClusterUsage:
    """What a cluster did over the window.

    ``cpu``/``memory``/``disk`` are percent used, ``connections`` a count, ``acu`` Serverless v2
    capacity (hourly averages). ``hourly`` maps each hour (epoch seconds) with data to
    ``(cpu, connections)``. ``by_hour_of_week`` is the mean CPU of each hour of the week (0 =
    Monday 00:00 UTC), None where the cluster published nothing. ``idle_hours`` lists the hours of
    the week that were idle in every week observed (CPU <= 5 %, connections <= 0.5).
    """

    cluster: ClusterInfo
    window_start: float
    window_end: float
    cpu: Stats | None
    memory: Stats | None
    disk: Stats | None
    connections: Stats | None
    acu: Stats | None
    disk_gib: float | None
    hourly: dict[float, tuple[float, float]]
    by_hour_of_week: tuple[float | None, ...]
    idle_hours: tuple[int, ...]
    notes: tuple[str, ...] = ()

    @property
    def window_hours(self) -> int:
        return round((self.window_end - self.window_start) / 3600)

    @property
    def running_fraction(self) -> float:
        """Share of the window's hours in which the cluster published metrics (was running)."""
        return len(self.hourly) / self.window_hours if self.window_hours else 0.0

    def to_dict(self) -> dict[str, Any]:
        def stats(s: Stats | None) -> dict[str, Any] | None:
            return None if s is None else s.to_dict()

        return {
            "window_hours": self.window_hours,
            "running_hours": len(self.hourly),
            "cpu_percent": stats(self.cpu),
            "memory_percent": stats(self.memory),
            "disk_percent": stats(self.disk),
            "disk_gib": self.disk_gib,
            "connections": stats(self.connections),
            "serverless_v2_acu": stats(self.acu),
            "cpu_by_hour_of_week": list(self.by_hour_of_week),
            "idle_hours_of_week": list(self.idle_hours),
            "notes": list(self.notes),
        }


def window(now: float, days: float) -> MetricWindow:
    """``days`` of whole hours ending at the last full hour before ``now``."""
    end = math.floor(now / PERIOD_SECONDS) * PERIOD_SECONDS
    return MetricWindow(start=end - round(days * 24) * PERIOD_SECONDS, end=end, period=PERIOD_SECONDS)


def _keys(cluster: ClusterInfo, span: MetricWindow) -> dict[str, MetricKey]:
    def metric(namespace: str, name: str, dimension: str, value: str) -> MetricKey:
        return MetricKey(namespace, name, ((dimension, value),), "Average", span)

    if cluster.service == "redshift":
        dim = ("ClusterIdentifier", cluster.name)
        return {
            "cpu": metric("AWS/Redshift", "CPUUtilization", *dim),
            "disk": metric("AWS/Redshift", "PercentageDiskSpaceUsed", *dim),
            "connections": metric("AWS/Redshift", "DatabaseConnections", *dim),
        }
    keys = {
        "connections": metric("AWS/RDS", "DatabaseConnections", "DBClusterIdentifier", cluster.name),
        "volume": metric("AWS/RDS", "VolumeBytesUsed", "DBClusterIdentifier", cluster.name),
    }
    if cluster.instances:
        writer = cluster.instances[0]
        keys["cpu"] = metric("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", writer)
        keys["freeable"] = metric("AWS/RDS", "FreeableMemory", "DBInstanceIdentifier", writer)
    if cluster.serverless:
        keys["acu"] = metric("AWS/RDS", "ServerlessDatabaseCapacity", "DBClusterIdentifier", cluster.name)
    return keys


def measure(
    clusters: Iterable[ClusterInfo],
    *,
    days: float,
    session: boto3.Session | None,
    clock: Clock,
) -> list[ClusterUsage]:
    """The usage of ``clusters`` (all in ``session``'s region) over the last ``days`` days.

    Every metric of every cluster is read with as few ``GetMetricData`` calls as AWS's limits
    allow, through :class:`~dbscale.core.scaling.ProvisionScaling`'s batcher.
    """
    clusters = list(clusters)
    span = window(clock.now(), days)
    keys = {c.name + "/" + c.service: _keys(c, span) for c in clusters}
    batcher = ProvisionScaling(session=session, clock=clock)
    data = batcher._fetch_metrics(k for per_cluster in keys.values() for k in per_cluster.values())
    return [_usage(c, span, keys[c.name + "/" + c.service], data) for c in clusters]


def _usage(
    cluster: ClusterInfo, span: MetricWindow, keys: Mapping[str, MetricKey], data: Mapping[MetricKey, list[Any]]
) -> ClusterUsage:
    series = {name: dict(data.get(key, [])) for name, key in keys.items()}
    notes: list[str] = []
    memory: list[float] = []
    if cluster.service == "redshift":
        notes.append("memory: Redshift publishes no memory metric")
    elif "freeable" in series:
        capacity = _memory_bytes(cluster)
        if capacity:
            memory = [max(0.0, 100.0 * (1 - v / capacity)) for v in series["freeable"].values()]
        else:
            notes.append(f"memory: the size of {cluster.instance_class} is not known to dbscale")
    disk = list(series.get("disk", {}).values())
    volume = series.get("volume", {})
    disk_gib = max(volume.values()) / GIB if volume else None
    cpu = series.get("cpu", {})
    connections = series.get("connections", {})
    hours = sorted(set(cpu) | set(connections))
    hourly = {h: (cpu.get(h, 0.0), connections.get(h, 0.0)) for h in hours}
    slots: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    idle_votes: list[list[bool]] = [[] for _ in range(HOURS_PER_WEEK)]
    for h, (c, n) in hourly.items():
        slot = hour_of_week(h)
        slots[slot].append(c)
        idle_votes[slot].append(c <= IDLE_MAX_CPU_PERCENT and n <= IDLE_MAX_CONNECTIONS)
    by_slot = tuple((math.fsum(v) / len(v)) if v else None for v in slots)
    idle = tuple(s for s in range(HOURS_PER_WEEK) if idle_votes[s] and all(idle_votes[s]))
    return ClusterUsage(
        cluster=cluster,
        window_start=span.start,
        window_end=span.end,
        cpu=Stats.of(list(cpu.values())),
        memory=Stats.of(memory),
        disk=Stats.of(disk),
        connections=Stats.of(list(connections.values())),
        acu=Stats.of(list(series.get("acu", {}).values())),
        disk_gib=disk_gib,
        hourly=hourly,
        by_hour_of_week=by_slot,
        idle_hours=idle,
        notes=tuple(notes),
    )


def _memory_bytes(cluster: ClusterInfo) -> float | None:
    if cluster.serverless:
        # For Serverless v2, FreeableMemory is measured against the maximum capacity.
        return cluster.acu[1] * SERVERLESS_V2_GIB_PER_ACU * GIB if cluster.acu else None
    spec = AURORA_INSTANCE_CLASSES.get(cluster.instance_class or "")
    return None if spec is None else float(spec.memory_gib * GIB)
