"""The checks: what to measure on which cluster, validated; the SQL and logs they read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from ..limits import (
    AURORA_SERVERLESS_INSTANCE_CLASS,
)
from ..validation import validate_aurora_instance_class, validate_cluster_identifier, validate_redshift_nodes

if TYPE_CHECKING:
    pass


UTILIZATION_TYPES = ("cpu", "memory", "disk")

CHECK_KINDS = (
    "can_boot_redshift",
    "redshift_utilization",
    "aurora_utilization",
    "redshift_slow_percentage",
    "redshift_queue_wait",
    "aurora_slow",
    "aurora_slow_percentage",
)
# Which service's clusters a check looks at (can_boot_redshift looks at an Athena catalog).
REDSHIFT_KINDS = frozenset({"redshift_utilization", "redshift_slow_percentage", "redshift_queue_wait"})
AURORA_KINDS = frozenset({"aurora_utilization", "aurora_slow", "aurora_slow_percentage"})

# Marks dbscale's own statements so the Redshift checks do not count them as user queries.
_SQL_MARKER = "/* dbscale-check */"


def _finished_in_window(alias: str = "") -> str:
    """SQL condition: the query finished (success, failed or canceled) inside the window and is not dbscale's."""
    a = f"{alias}." if alias else ""
    return (
        f"{a}status IN ('success', 'failed', 'canceled') "
        f"AND {a}end_time >= :window_start AND {a}end_time < :window_end "
        f"AND {a}query_text NOT LIKE '{_SQL_MARKER}%'"
    )


REDSHIFT_SLOW_SQL = (
    f"{_SQL_MARKER} SELECT COUNT(*) AS queries, "
    "COALESCE(SUM(CASE WHEN elapsed_time > :threshold_us THEN 1 ELSE 0 END), 0) AS slow "
    f"FROM sys_query_history WHERE {_finished_in_window()}"
)
"""Queries that finished in the window, and how many of them ran longer than the threshold
(``elapsed_time`` is in microseconds)."""
REDSHIFT_QUEUE_SQL = (
    f"{_SQL_MARKER} SELECT COUNT(*) AS queued, COALESCE(MAX(queue_time), 0) AS longest_queue_us "
    "FROM sys_query_history WHERE queue_time > 0 "
    "AND (status IN ('queued', 'running') OR (end_time >= :window_start AND end_time < :window_end)) "
    f"AND query_text NOT LIKE '{_SQL_MARKER}%'"
)
"""Queries that waited in a WLM queue and finished in the window or are still queued or running, and the
longest wait (``queue_time``, microseconds). Served oldest first, the wait of the latest query is the
queued backlog in minutes of the cluster's current throughput (Little's law)."""
REDSHIFT_SPILL_SQL = (
    f"{_SQL_MARKER} SELECT COUNT(*) AS queries, "
    "COALESCE(SUM(CASE WHEN q.spilled_blocks > 0 THEN 1 ELSE 0 END), 0) AS spilled "
    "FROM (SELECT h.query_id, "
    "COALESCE(SUM(COALESCE(d.spilled_block_local_disk, 0) + COALESCE(d.spilled_block_remote_disk, 0)), 0) "
    "AS spilled_blocks "
    "FROM sys_query_history h LEFT JOIN sys_query_detail d ON d.query_id = h.query_id "
    f"WHERE {_finished_in_window('h')} GROUP BY h.query_id) AS q"
)
"""Queries that finished in the window, and how many of them spilled blocks to disk because
their working memory was too small (Redshift's own measure of memory pressure)."""


@dataclass(frozen=True)
class SlowQueryLogSetup:
    """What an Aurora cluster needs for :meth:`ProvisionScaling.get_aurora_slow_percentage`.

    Set ``cluster_parameters`` in the cluster's DB cluster parameter group and export
    ``cloudwatch_logs_exports`` (``EnableCloudwatchLogsExports``); the log then lands in
    ``log_group``. Every statement's duration is logged, so the share of slow statements can be
    counted for any threshold; that costs CloudWatch Logs ingestion proportional to the
    statement rate.
    """

    engine: str
    cluster_parameters: Mapping[str, str]
    cloudwatch_logs_exports: tuple[str, ...]
    log_group_template: str
    filter_pattern: str

    def log_group(self, cluster_name: str) -> str:
        return self.log_group_template.format(cluster=cluster_name)


SLOW_LOG_SETUPS: Mapping[str, SlowQueryLogSetup] = {
    "mysql": SlowQueryLogSetup(
        engine="aurora-mysql",
        cluster_parameters={"slow_query_log": "1", "long_query_time": "0", "log_output": "FILE"},
        cloudwatch_logs_exports=("slowquery",),
        log_group_template="/aws/rds/cluster/{cluster}/slowquery",
        filter_pattern='"Query_time"',
    ),
    "postgresql": SlowQueryLogSetup(
        engine="aurora-postgresql",
        cluster_parameters={"log_min_duration_statement": "0"},
        cloudwatch_logs_exports=("postgresql",),
        log_group_template="/aws/rds/cluster/{cluster}/postgresql",
        filter_pattern='"duration:"',
    ),
}


def engine_family(engine: str) -> str:
    """``mysql`` for aurora-mysql (and the legacy ``aurora``), ``postgresql`` for aurora-postgresql."""
    return "postgresql" if "postgres" in engine else "mysql"


def aurora_slow_query_setup(engine: str) -> SlowQueryLogSetup:
    """The parameter group settings and log exports ``get_aurora_slow_percentage`` needs for ``engine``."""
    if engine not in ("aurora-mysql", "aurora-postgresql", "aurora"):
        raise InvalidRequest(
            f"engine '{engine}' is not an Aurora engine; allowed: aurora-mysql, aurora-postgresql", field="engine"
        )
    return SLOW_LOG_SETUPS[engine_family(engine)]


@dataclass(frozen=True)
class Check:
    """One check of the fleet form, :meth:`ProvisionScaling.evaluate`. Build it with the class methods.

    ``cluster`` is the Redshift or Aurora cluster identifier (for ``can_boot_redshift``, the
    Athena catalog). ``threshold`` is in the check's own unit: percent for utilization, ms for
    ``aurora_slow``, seconds of running time for the slow-percentage checks (whose verdict is
    ``percentage > percent_threshold``).
    """

    kind: str
    cluster: str
    window_minutes: float
    threshold: float
    check_overused: bool = True
    utilization_type: str | None = None
    node_type: str | None = None
    node_count: int | None = None
    percent_threshold: float = 0.0
    workgroup: str = "primary"

    def __post_init__(self) -> None:
        if self.kind not in CHECK_KINDS:
            raise InvalidRequest(f"check '{self.kind}' is not one of {', '.join(CHECK_KINDS)}", field="kind")
        require_positive(self.window_minutes, "window_minutes")
        _number(self.threshold, "threshold")
        _number(self.percent_threshold, "percent_threshold")
        if self.kind == "can_boot_redshift":
            if not isinstance(self.cluster, str) or not self.cluster:
                raise InvalidRequest("athena_catalog_name is required", field="athena_catalog_name")
            validate_redshift_nodes(self.node_type, self.node_count, count_field="node_count", elastic=True)
        else:
            field_name = "redshift_cluster_name" if self.kind in REDSHIFT_KINDS else "aurora_cluster_name"
            validate_cluster_identifier(self.cluster, field=field_name)
        if self.kind in ("redshift_utilization", "aurora_utilization"):
            if self.utilization_type not in UTILIZATION_TYPES:
                raise InvalidRequest(
                    f"utilization_type '{self.utilization_type}' is not one of {', '.join(UTILIZATION_TYPES)}",
                    field="utilization_type",
                )
            if not isinstance(self.check_overused, bool):
                raise InvalidRequest("check_overused must be True or False", field="check_overused")
        if self.kind == "aurora_utilization" and self.utilization_type == "memory":
            if self.node_type is None:
                raise InvalidRequest(
                    "node_type is required to check Aurora memory: FreeableMemory is turned into a share of "
                    f"the instance class's memory (e.g. db.r6g.large, or {AURORA_SERVERLESS_INSTANCE_CLASS})",
                    field="node_type",
                )
            validate_aurora_instance_class(self.node_type, field="node_type")

    @classmethod
    def can_boot_redshift(
        cls,
        athena_catalog_name: str,
        node_type: str,
        node_count: int,
        window_minutes: float,
        *,
        workgroup: str = "primary",
    ) -> Check:
        return cls(
            "can_boot_redshift",
            athena_catalog_name,
            window_minutes,
            0.0,
            node_type=node_type,
            node_count=node_count,
            workgroup=workgroup,
        )

    @classmethod
    def redshift_utilization(
        cls,
        cluster: str,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
    ) -> Check:
        return cls(
            "redshift_utilization",
            cluster,
            window_minutes,
            utilization_threshold,
            check_overused=check_overused,
            utilization_type=_lower(utilization_type),
        )

    @classmethod
    def aurora_utilization(
        cls,
        cluster: str,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
        node_type: str | None = None,
    ) -> Check:
        return cls(
            "aurora_utilization",
            cluster,
            window_minutes,
            utilization_threshold,
            check_overused=check_overused,
            utilization_type=_lower(utilization_type),
            node_type=node_type,
        )

    @classmethod
    def redshift_slow_percentage(
        cls, cluster: str, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> Check:
        return cls(
            "redshift_slow_percentage",
            cluster,
            window_minutes,
            running_time_threshold_secs,
            percent_threshold=percent_threshold,
        )

    @classmethod
    def redshift_queue_wait(cls, cluster: str, wait_threshold_secs: float, window_minutes: float) -> Check:
        """The longest WLM queue wait (seconds) of the queries of the last ``window_minutes``; over the threshold
        means work is queued: the autoscaler counts it as load (a backlog to catch up with)."""
        return cls("redshift_queue_wait", cluster, window_minutes, wait_threshold_secs)

    @classmethod
    def aurora_slow(cls, cluster: str, latency_threshold_ms: float, window_minutes: float) -> Check:
        return cls("aurora_slow", cluster, window_minutes, latency_threshold_ms)

    @classmethod
    def aurora_slow_percentage(
        cls, cluster: str, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> Check:
        return cls(
            "aurora_slow_percentage",
            cluster,
            window_minutes,
            running_time_threshold_secs,
            percent_threshold=percent_threshold,
        )


def _lower(value: object) -> Any:
    return value.lower() if isinstance(value, str) else value


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidRequest(f"{name} must be a number, got {value!r}", field=name)
    return float(value)


def require_positive(value: object, name: str) -> float:
    """``value`` as a float when it is a number above 0; InvalidRequest (field ``name``) otherwise."""
    number = _number(value, name)
    if number <= 0:
        raise InvalidRequest(f"{name} must be greater than 0, got {value!r}", field=name)
    return number
