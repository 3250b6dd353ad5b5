"""Scaling checks: is a cluster over- or underused, slow, or worth booting? Exact figures, with reasons.

Conventions (see ``docs/scaling.md`` for the arithmetic and the AWS facts behind each check):

* Each check has the seed's plain form, which returns the answer, and a ``*_result`` form, which
  returns a :class:`CheckResult` with the numbers behind it. The plain forms return ``True`` /
  ``False`` (a percentage for the ``get_*_percentage`` checks) and ``None`` when there is no data
  (a paused or stopped cluster, an empty window). ``None`` is falsy, so seed-style code
  (``if ps.check_redshift_utilization(...):``) acts only on evidence; code that cares tests
  ``is None``.
* A paused Redshift cluster or a stopped Aurora cluster emits no metrics: its result is
  ``verdict=None`` with the note ``"no data (paused)"``, never "underused".
* Windows are ``[end - window, end)`` where ``end`` is ``clock.now()`` rounded down to the whole
  minute (CloudWatch rounds a start time down to the minute in any case).
* :meth:`ProvisionScaling.evaluate` runs many checks on many clusters at once: every CloudWatch
  metric they need is fetched with batched ``GetMetricData`` calls (up to 500 metrics and 100,800
  datapoints per call), and Redshift Data API statements are submitted together and polled together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .aws import aws_errors, client
from .clock import SYSTEM_CLOCK, Clock
from .errors import AwsError, ClusterNotFound, InvalidRequest, OperationTimeout
from .limits import (
    ATHENA_MIN_BYTES_PER_QUERY,
    ATHENA_USD_PER_TB,
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    GIB,
    REDSHIFT_NODE_TYPES,
    SERVERLESS_V2_GIB_PER_ACU,
    TB,
)
from .validation import validate_aurora_instance_class, validate_cluster_identifier, validate_redshift_nodes

if TYPE_CHECKING:
    import boto3

__all__ = [
    "CHECK_KINDS",
    "NO_DATA",
    "NO_DATA_PAUSED",
    "UTILIZATION_TYPES",
    "Check",
    "CheckResult",
    "ProvisionScaling",
    "SlowQueryLogSetup",
    "aurora_slow_query_setup",
]

# --- AWS facts the arithmetic depends on (sources in docs/scaling.md) ------------------------

METRICS_PER_CALL = 500
"""GetMetricData takes at most 500 metric queries per call ..."""
DATAPOINTS_PER_CALL = 100_800
"""... and returns at most 100,800 datapoints per call (more needs NextToken pages)."""
MAX_POINTS_PER_METRIC = DATAPOINTS_PER_CALL // METRICS_PER_CALL
"""Periods are chosen so one metric's window has at most this many datapoints: 500 metrics per call."""
_MB = 1000**2
"""Athena rounds the bytes it bills up to the next megabyte (decimal, like its TB)."""
_ATHENA_CHARGED_STATES = frozenset({"SUCCEEDED", "CANCELLED"})
"""Athena bills succeeded and cancelled queries for the data they scanned; failed queries are free."""
_ATHENA_BATCH = 50
"""BatchGetQueryExecution takes at most 50 query execution IDs."""
_DATA_API_DONE = frozenset({"FINISHED", "FAILED", "ABORTED"})

UTILIZATION_TYPES = ("cpu", "memory", "disk")
NO_DATA = "no data"
NO_DATA_PAUSED = "no data (paused)"
NO_DATA_NOT_FOUND = "no data (cluster not found)"

CHECK_KINDS = (
    "can_boot_redshift",
    "redshift_utilization",
    "aurora_utilization",
    "redshift_slow_percentage",
    "aurora_slow",
    "aurora_slow_percentage",
)
_REDSHIFT_KINDS = frozenset({"redshift_utilization", "redshift_slow_percentage"})
_AURORA_KINDS = frozenset({"aurora_utilization", "aurora_slow", "aurora_slow_percentage"})

# Latency metrics Aurora publishes per DB instance (dimension DBInstanceIdentifier), each paired
# with the throughput that weights it. SelectLatency/DMLLatency exist for Aurora MySQL only;
# Aurora PostgreSQL publishes CommitLatency/CommitThroughput (both engines do).
_LATENCY_METRICS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "mysql": (("SelectLatency", "SelectThroughput"), ("DMLLatency", "DMLThroughput")),
    "postgresql": (("CommitLatency", "CommitThroughput"),),
}

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

# Aurora slow query logs exported to CloudWatch Logs: how to find one entry's duration.
_MYSQL_QUERY_TIME = re.compile(r"Query_time:\s*([0-9.]+)")
_POSTGRES_DURATION = re.compile(r"duration:\s*([0-9.]+)\s*ms\s+(?:statement|execute\b)")


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


_SLOW_LOG_SETUPS: Mapping[str, SlowQueryLogSetup] = {
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


def _engine_family(engine: str) -> str:
    """``mysql`` for aurora-mysql (and the legacy ``aurora``), ``postgresql`` for aurora-postgresql."""
    return "postgresql" if "postgres" in engine else "mysql"


def aurora_slow_query_setup(engine: str) -> SlowQueryLogSetup:
    """The parameter group settings and log exports ``get_aurora_slow_percentage`` needs for ``engine``."""
    if engine not in ("aurora-mysql", "aurora-postgresql", "aurora"):
        raise InvalidRequest(
            f"engine '{engine}' is not an Aurora engine; allowed: aurora-mysql, aurora-postgresql", field="engine"
        )
    return _SLOW_LOG_SETUPS[_engine_family(engine)]


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check's answer and the numbers behind it.

    ``verdict`` is True/False, or None when there is no data (``note`` says why: ``"no data"``,
    ``"no data (paused)"`` ...). ``value`` is compared with ``threshold`` using ``comparison``
    (``">"``, ``"<"`` or ``">="``) in ``unit``. ``datapoints`` counts the observations behind
    ``value`` (CloudWatch datapoints, Athena queries, Redshift queries, log entries) over the
    ``window_minutes`` that ended at ``window_end`` (epoch seconds). ``source`` names the metric or
    API; ``details`` keeps the intermediate figures (per-instance values, bytes, prices).
    ``reason`` is one sentence a person can act on.
    """

    check: str
    cluster: str | None
    value: float | None
    threshold: float
    verdict: bool | None
    datapoints: int
    window_minutes: float
    source: str
    reason: str
    note: str = ""
    unit: str = ""
    comparison: str = ""
    window_end: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        """True when the check could not answer (``verdict`` is None)."""
        return self.verdict is None

    @property
    def paused(self) -> bool:
        """True when there is no data because the cluster is paused or stopped."""
        return self.note == NO_DATA_PAUSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for handlers, logs and the autoscaler's state)."""
        data = asdict(self)
        data["details"] = dict(self.details)
        return data


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
        _positive(self.window_minutes, "window_minutes")
        _number(self.threshold, "threshold")
        _number(self.percent_threshold, "percent_threshold")
        if self.kind == "can_boot_redshift":
            if not isinstance(self.cluster, str) or not self.cluster:
                raise InvalidRequest("athena_catalog_name is required", field="athena_catalog_name")
            validate_redshift_nodes(self.node_type, self.node_count, count_field="node_count", elastic=True)
        else:
            field_name = "redshift_cluster_name" if self.kind in _REDSHIFT_KINDS else "aurora_cluster_name"
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


def _positive(value: object, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise InvalidRequest(f"{name} must be greater than 0, got {value!r}", field=name)
    return number


# --- windows and metric series ----------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    period: int

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60

    @property
    def points(self) -> int:
        return max(1, round((self.end - self.start) / self.period))


def _window(now: float, window_minutes: float) -> _Window:
    """The window that ends at ``now`` rounded down to the minute, in whole periods.

    The period is 1 minute (the resolution Redshift and RDS publish at) while a window has at most
    :data:`MAX_POINTS_PER_METRIC` minutes; longer windows use a longer period, a multiple of what
    CloudWatch keeps for data of that age (1 min up to 15 days, 5 min up to 63 days, 1 h beyond),
    and are rounded up to whole periods (``CheckResult.window_minutes`` reports the window used).
    """
    end = math.floor(now / 60) * 60
    span = window_minutes * 60
    age = now - (end - span)
    base = 60 if age <= 15 * 86400 else 300 if age <= 63 * 86400 else 3600
    period = base * max(1, math.ceil(span / (base * MAX_POINTS_PER_METRIC)))
    return _Window(start=end - math.ceil(span / period) * period, end=end, period=period)


@dataclass(frozen=True)
class _MetricKey:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    window: _Window

    def describe(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.metric} ({dims})"


Series = list[tuple[float, float]]
"""(epoch seconds, value) datapoints, oldest first."""


def _redshift_metric(cluster: str, metric: str, window: _Window) -> _MetricKey:
    return _MetricKey("AWS/Redshift", metric, (("ClusterIdentifier", cluster),), "Average", window)


def _instance_metric(instance: str, metric: str, window: _Window) -> _MetricKey:
    return _MetricKey("AWS/RDS", metric, (("DBInstanceIdentifier", instance),), "Average", window)


def _cluster_metric(cluster: str, metric: str, window: _Window) -> _MetricKey:
    return _MetricKey("AWS/RDS", metric, (("DBClusterIdentifier", cluster),), "Average", window)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _fmt(value: float) -> str:
    """A number for a sentence: up to 6 significant digits, no trailing zeros."""
    return f"{value:,.6g}" if abs(value) < 1e15 else f"{value:.6g}"


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.6g}"


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _sql_time(epoch: float) -> str:
    return _utc(epoch).strftime("%Y-%m-%d %H:%M:%S")


# --- cluster state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClusterState:
    name: str
    status: str


@dataclass(frozen=True)
class _RedshiftState(_ClusterState):
    database: str | None
    secret_arn: str | None
    user: str | None


@dataclass(frozen=True)
class _AuroraState(_ClusterState):
    engine: str
    members: tuple[tuple[str, str], ...]  # (DBInstanceIdentifier, "writer" | "reader")
    max_acu: float | None


def _redshift_state(c: Mapping[str, Any]) -> _RedshiftState:
    return _RedshiftState(
        name=str(c["ClusterIdentifier"]),
        status=str(c.get("ClusterStatus", "")),
        database=c.get("DBName"),
        secret_arn=c.get("MasterPasswordSecretArn"),
        user=c.get("MasterUsername"),
    )


def _aurora_state(c: Mapping[str, Any]) -> _AuroraState:
    members = sorted(
        (str(m["DBInstanceIdentifier"]), "writer" if m.get("IsClusterWriter") else "reader")
        for m in c.get("DBClusterMembers") or []
    )
    members.sort(key=lambda m: m[1] != "writer")  # the writer first, then readers by name
    acu = c.get("ServerlessV2ScalingConfiguration") or {}
    return _AuroraState(
        name=str(c["DBClusterIdentifier"]),
        status=str(c.get("Status", "")),
        engine=str(c.get("Engine", "")),
        members=tuple(members),
        max_acu=float(acu["MaxCapacity"]) if acu.get("MaxCapacity") is not None else None,
    )


_State = TypeVar("_State", bound=_ClusterState)


@dataclass(frozen=True)
class _Service(Generic[_State]):
    """How the checks of one service find their clusters, and when a cluster emits no metrics."""

    name: str
    kinds: frozenset[str]
    client: str
    describe: str  # the Describe operation, also the name of its paginator
    id_key: str  # names the cluster in the request and in the response
    list_key: str
    idle: frozenset[str]
    state: Callable[[Mapping[str, Any]], _State]


_REDSHIFT = _Service(
    name="Redshift",
    kinds=_REDSHIFT_KINDS,
    client="redshift",
    describe="describe_clusters",
    id_key="ClusterIdentifier",
    list_key="Clusters",
    idle=frozenset({"paused", "pausing"}),
    state=_redshift_state,
)
_AURORA = _Service(
    name="Aurora",
    kinds=_AURORA_KINDS,
    client="rds",
    describe="describe_db_clusters",
    id_key="DBClusterIdentifier",
    list_key="DBClusters",
    idle=frozenset({"stopped", "stopping"}),
    state=_aurora_state,
)


# --- pending work ---------------------------------------------------------------------------------


@dataclass
class _MetricPlan:
    keys: list[_MetricKey]
    finish: Callable[[Mapping[_MetricKey, Series]], CheckResult]


@dataclass
class _StatementPlan:
    check: Check
    window: _Window
    state: _RedshiftState
    sql: str
    parameters: dict[str, str]
    finish: Callable[[list[int]], CheckResult]
    statement_id: str | None = None
    status: str = ""
    error: str = ""


_Plan = CheckResult | _MetricPlan | _StatementPlan


class ProvisionScaling:
    """Scaling checks on one Athena catalog, one Redshift cluster and one Aurora cluster.

    ``athena_workgroup`` is where ``can_boot_redshift`` looks for the catalog's queries.
    ``redshift_database``/``redshift_secret_arn``/``redshift_db_user`` say how the Redshift checks
    that read query history connect through the Redshift Data API; by default the cluster's
    database, and its AWS-managed master secret when it has one (else temporary credentials for
    the master user). ``data_api_timeout_seconds`` bounds the wait for those statements.
    ``redshift_node_prices`` (node type -> USD per node-hour, or the ``PriceQuote`` values of
    :func:`dbscale.core.pricing.redshift_node_prices`) replaces the table's US East prices in
    ``can_boot_redshift``.
    """

    def __init__(
        self,
        athena_catalog_name: str | None = None,
        redshift_cluster_name: str | None = None,
        aurora_cluster_name: str | None = None,
        *,
        athena_workgroup: str = "primary",
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        redshift_database: str | None = None,
        redshift_secret_arn: str | None = None,
        redshift_db_user: str | None = None,
        data_api_timeout_seconds: float = 300.0,
        redshift_node_prices: Mapping[str, Any] | None = None,
    ) -> None:
        if redshift_cluster_name is not None:
            validate_cluster_identifier(redshift_cluster_name, field="redshift_cluster_name")
        if aurora_cluster_name is not None:
            validate_cluster_identifier(aurora_cluster_name, field="aurora_cluster_name")
        if athena_catalog_name is not None and (not isinstance(athena_catalog_name, str) or not athena_catalog_name):
            raise InvalidRequest("athena_catalog_name must be a non-empty string", field="athena_catalog_name")
        if not isinstance(athena_workgroup, str) or not athena_workgroup:
            raise InvalidRequest("athena_workgroup must be a non-empty string", field="athena_workgroup")
        self.athena_catalog_name = athena_catalog_name
        self.redshift_cluster_name = redshift_cluster_name
        self.aurora_cluster_name = aurora_cluster_name
        self.athena_workgroup = athena_workgroup
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._redshift_database = redshift_database
        self._redshift_secret_arn = redshift_secret_arn
        self._redshift_db_user = redshift_db_user
        self._data_api_timeout = _positive(data_api_timeout_seconds, "data_api_timeout_seconds")
        self._node_prices: dict[str, float] = {}
        for node_type, price in (redshift_node_prices or {}).items():
            value = getattr(price, "usd_per_node_hour", price)
            self._node_prices[node_type] = _positive(value, f"redshift_node_prices[{node_type!r}]")
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"ProvisionScaling(athena_catalog_name={self.athena_catalog_name!r}, "
            f"redshift_cluster_name={self.redshift_cluster_name!r}, "
            f"aurora_cluster_name={self.aurora_cluster_name!r}, athena_workgroup={self.athena_workgroup!r})"
        )

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self._session)
        return self._clients[service]

    def _require(self, value: str | None, field_name: str) -> str:
        if value is None:
            raise InvalidRequest(f"this check needs {field_name}; pass it to ProvisionScaling", field=field_name)
        return value

    # --- the seed's checks, plain and explained ---------------------------------------------

    def can_boot_redshift(self, node_type: str, node_count: int, window_minutes: float) -> bool:
        """True when Athena's spend on the catalog over the window is at least what the given
        Redshift cluster would cost for the same window (node price x node count)."""
        return bool(self.can_boot_redshift_result(node_type, node_count, window_minutes).verdict)

    def can_boot_redshift_result(self, node_type: str, node_count: int, window_minutes: float) -> CheckResult:
        catalog = self._require(self.athena_catalog_name, "athena_catalog_name")
        check = Check.can_boot_redshift(catalog, node_type, node_count, window_minutes, workgroup=self.athena_workgroup)
        return self._evaluate([check], strict=True)[0]

    def check_redshift_utilization(
        self, check_overused: bool, utilization_type: str, utilization_threshold: float, window_minutes: float
    ) -> bool | None:
        """Whether the Redshift cluster's ``cpu``, ``memory`` or ``disk`` utilization (percent) is
        over (``check_overused=True``) or under the threshold; None when there is no data."""
        return self.check_redshift_utilization_result(
            check_overused, utilization_type, utilization_threshold, window_minutes
        ).verdict

    def check_redshift_utilization_result(
        self, check_overused: bool, utilization_type: str, utilization_threshold: float, window_minutes: float
    ) -> CheckResult:
        cluster = self._require(self.redshift_cluster_name, "redshift_cluster_name")
        check = Check.redshift_utilization(
            cluster, check_overused, utilization_type, utilization_threshold, window_minutes
        )
        return self._evaluate([check], strict=True)[0]

    def check_aurora_utilization(
        self,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
        node_type: str | None = None,
    ) -> bool | None:
        """Whether the Aurora cluster's ``cpu``, ``memory`` or ``disk`` utilization (percent) is over
        or under the threshold; None when there is no data. Memory needs ``node_type`` (the DB
        instance class, ``db.serverless`` for Serverless v2)."""
        return self.check_aurora_utilization_result(
            check_overused, utilization_type, utilization_threshold, window_minutes, node_type
        ).verdict

    def check_aurora_utilization_result(
        self,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
        node_type: str | None = None,
    ) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        check = Check.aurora_utilization(
            cluster, check_overused, utilization_type, utilization_threshold, window_minutes, node_type
        )
        return self._evaluate([check], strict=True)[0]

    def get_redshift_slow_percentage(self, running_time_threshold_secs: float, window_minutes: float) -> float | None:
        """Percent of the Redshift queries that finished in the window and ran longer than the
        threshold, counted per query from SYS_QUERY_HISTORY; None when there is no data."""
        return self.get_redshift_slow_percentage_result(running_time_threshold_secs, window_minutes).value

    def get_redshift_slow_percentage_result(
        self, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> CheckResult:
        cluster = self._require(self.redshift_cluster_name, "redshift_cluster_name")
        check = Check.redshift_slow_percentage(
            cluster, running_time_threshold_secs, window_minutes, percent_threshold=percent_threshold
        )
        return self._evaluate([check], strict=True)[0]

    def is_aurora_slow(self, latency_threshold_ms: float, window_minutes: float) -> bool | None:
        """Whether the Aurora cluster's statement latency, averaged over its writer and readers and
        weighted by each statement type's throughput, exceeds the threshold; None when there is no data."""
        return self.is_aurora_slow_result(latency_threshold_ms, window_minutes).verdict

    def is_aurora_slow_result(self, latency_threshold_ms: float, window_minutes: float) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        return self._evaluate([Check.aurora_slow(cluster, latency_threshold_ms, window_minutes)], strict=True)[0]

    def get_aurora_slow_percentage(self, running_time_threshold_secs: float, window_minutes: float) -> float | None:
        """Percent of the Aurora statements that finished in the window and ran longer than the
        threshold, counted per statement from the slow query log exported to CloudWatch Logs (see
        :func:`aurora_slow_query_setup`); None when there is no data."""
        return self.get_aurora_slow_percentage_result(running_time_threshold_secs, window_minutes).value

    def get_aurora_slow_percentage_result(
        self, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        check = Check.aurora_slow_percentage(
            cluster, running_time_threshold_secs, window_minutes, percent_threshold=percent_threshold
        )
        return self._evaluate([check], strict=True)[0]

    # --- the fleet form -----------------------------------------------------------------------

    def evaluate(self, checks: Iterable[Check]) -> list[CheckResult]:
        """Run many checks on many clusters; results come back in the order of ``checks``.

        Clusters are described once per service, all CloudWatch metrics are fetched together in
        ``GetMetricData`` calls of up to 500 metrics, and Redshift Data API statements are
        submitted together before any is waited on. A cluster that does not exist gives a result
        with ``verdict=None`` and the note ``"no data (cluster not found)"``.
        """
        return self._evaluate(list(checks), strict=False)

    def _evaluate(self, checks: list[Check], *, strict: bool) -> list[CheckResult]:
        now = self._clock.now()
        redshift = self._describe(_REDSHIFT, checks, strict)
        aurora = self._describe(_AURORA, checks, strict)
        athena_cache: dict[tuple[str, float, float], list[dict[str, Any]]] = {}
        plans: list[_Plan] = []
        for check in checks:
            window = _window(now, check.window_minutes)
            if check.kind == "can_boot_redshift":
                plans.append(self._plan_can_boot(check, window, athena_cache))
            elif check.kind in _REDSHIFT_KINDS:
                plans.append(_plan_on(_REDSHIFT, redshift, check, window, self._plan_redshift))
            else:
                plans.append(_plan_on(_AURORA, aurora, check, window, self._plan_aurora))
        series = self._fetch_metrics([key for plan in plans if isinstance(plan, _MetricPlan) for key in plan.keys])
        self._run_statements([plan for plan in plans if isinstance(plan, _StatementPlan)], strict)
        results: list[CheckResult] = []
        for plan in plans:
            if isinstance(plan, CheckResult):
                results.append(plan)
            elif isinstance(plan, _MetricPlan):
                results.append(plan.finish(series))
            else:
                results.append(self._finish_statement(plan, strict))
        return results

    # --- describing clusters ------------------------------------------------------------------

    def _describe(self, service: _Service[_State], checks: list[Check], strict: bool) -> dict[str, _State]:
        """The clusters of ``service`` that ``checks`` look at, by name."""
        names = {c.cluster for c in checks if c.kind in service.kinds}
        if not names:
            return {}
        api = self._client(service.client)
        found: dict[str, _State] = {}
        if len(names) <= 3:
            for name in sorted(names):
                try:
                    with aws_errors(f"describe {service.name} cluster '{name}'"):
                        clusters = getattr(api, service.describe)(**{service.id_key: name})[service.list_key]
                except ClusterNotFound:
                    clusters = []
                for c in clusters:
                    found[str(c[service.id_key])] = service.state(c)
        else:
            with aws_errors(f"describe {service.name} clusters"):
                for page in api.get_paginator(service.describe).paginate():
                    for c in page[service.list_key]:
                        if c[service.id_key] in names:
                            found[str(c[service.id_key])] = service.state(c)
        if strict and (missing := names - set(found)):
            raise ClusterNotFound(f"{service.name} cluster '{sorted(missing)[0]}' does not exist")
        return found

    # --- CloudWatch ---------------------------------------------------------------------------

    def _fetch_metrics(self, keys: Iterable[_MetricKey]) -> dict[_MetricKey, Series]:
        """Fetch every series with as few GetMetricData calls as the API limits allow."""
        by_window: dict[_Window, list[_MetricKey]] = {}
        for key in dict.fromkeys(keys):
            by_window.setdefault(key.window, []).append(key)
        data: dict[_MetricKey, Series] = {}
        if not by_window:
            return data
        cloudwatch = self._client("cloudwatch")
        for window, group in by_window.items():
            per_call = max(1, min(METRICS_PER_CALL, DATAPOINTS_PER_CALL // window.points))
            for first in range(0, len(group), per_call):
                chunk = group[first : first + per_call]
                queries = [
                    {
                        "Id": f"m{i}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": key.namespace,
                                "MetricName": key.metric,
                                "Dimensions": [{"Name": n, "Value": v} for n, v in key.dimensions],
                            },
                            "Period": window.period,
                            "Stat": key.stat,
                        },
                        "ReturnData": True,
                    }
                    for i, key in enumerate(chunk)
                ]
                request: dict[str, Any] = {
                    "MetricDataQueries": queries,
                    "StartTime": _utc(window.start),
                    "EndTime": _utc(window.end),
                    "ScanBy": "TimestampAscending",
                }
                while True:
                    with aws_errors("read CloudWatch metrics"):
                        response = cloudwatch.get_metric_data(**request)
                    for result in response.get("MetricDataResults", []):
                        if result.get("StatusCode") in ("InternalError", "Forbidden"):
                            raise AwsError(
                                f"could not read CloudWatch metrics: {result.get('StatusCode')} for "
                                f"{chunk[int(result['Id'][1:])].describe()}",
                                code=str(result.get("StatusCode")),
                                operation_name="GetMetricData",
                            )
                        series = data.setdefault(chunk[int(result["Id"][1:])], [])
                        for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                            epoch = stamp.timestamp()
                            if window.start <= epoch < window.end:
                                series.append((epoch, float(value)))
                    token = response.get("NextToken")
                    if not token:
                        break
                    request["NextToken"] = token
        for series in data.values():
            series.sort()
        return data

    # --- can_boot_redshift --------------------------------------------------------------------

    def _plan_can_boot(
        self, check: Check, window: _Window, cache: dict[tuple[str, float, float], list[dict[str, Any]]]
    ) -> CheckResult:
        assert check.node_type is not None and check.node_count is not None
        key = (check.workgroup, window.start, window.end)
        if key not in cache:
            cache[key] = self._athena_executions(check.workgroup, window)
        catalog = check.cluster
        charged: list[int] = []
        free = 0
        scanned = 0
        for execution in cache[key]:
            context = execution.get("QueryExecutionContext") or {}
            if str(context.get("Catalog") or "AwsDataCatalog").lower() != catalog.lower():
                continue
            state = (execution.get("Status") or {}).get("State")
            stats = execution.get("Statistics") or {}
            if state not in _ATHENA_CHARGED_STATES or execution.get("StatementType") != "DML":
                free += 1
                continue
            data_scanned = int(stats.get("DataScannedInBytes") or 0)
            scanned += data_scanned
            charged.append(max(math.ceil(data_scanned / _MB) * _MB, ATHENA_MIN_BYTES_PER_QUERY))
        billed = sum(charged)
        athena_usd = billed / TB * ATHENA_USD_PER_TB
        node_price = self._node_prices.get(check.node_type, REDSHIFT_NODE_TYPES[check.node_type].usd_per_node_hour)
        redshift_usd = node_price * check.node_count * window.minutes / 60
        verdict = athena_usd >= redshift_usd
        reason = (
            f"Athena catalog '{catalog}' (workgroup '{check.workgroup}') was billed for "
            f"{_fmt(billed)} bytes in {len(charged)} queries in the last {_fmt(window.minutes)} minutes: "
            f"{_usd(athena_usd)} at {_usd(ATHENA_USD_PER_TB)} per TB, "
            f"{'at least' if verdict else 'less than'} the {_usd(redshift_usd)} that {check.node_count} x "
            f"{check.node_type} would cost for the same time ({_usd(node_price)} per node-hour): "
            f"{'booting Redshift pays off' if verdict else 'Athena is cheaper'}."
        )
        return CheckResult(
            check="can_boot_redshift",
            cluster=catalog,
            value=athena_usd,
            threshold=redshift_usd,
            verdict=verdict,
            datapoints=len(charged),
            window_minutes=window.minutes,
            source=f"Athena GetQueryExecution Statistics.DataScannedInBytes (workgroup '{check.workgroup}')",
            reason=reason,
            unit="USD",
            comparison=">=",
            window_end=window.end,
            details={
                "bytes_scanned": scanned,
                "bytes_billed": billed,
                "queries_charged": len(charged),
                "queries_free": free,
                "athena_usd_per_tb": ATHENA_USD_PER_TB,
                "node_type": check.node_type,
                "node_count": check.node_count,
                "usd_per_node_hour": node_price,
                "price_source": "given" if check.node_type in self._node_prices else "limits table",
                "athena_usd": athena_usd,
                "redshift_usd": redshift_usd,
            },
        )

    def _athena_executions(self, workgroup: str, window: _Window) -> list[dict[str, Any]]:
        """The workgroup's query executions that completed inside the window.

        ListQueryExecutions pages go from the newest submission back; listing stops after a page
        whose queries were all submitted and completed before the window.
        """
        athena = self._client("athena")
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"WorkGroup": workgroup}
        while True:
            with aws_errors(f"list Athena query executions of workgroup '{workgroup}'"):
                page = athena.list_query_executions(**request)
            ids = list(page.get("QueryExecutionIds", []))
            all_before = bool(ids)
            for first in range(0, len(ids), _ATHENA_BATCH):
                for execution in self._athena_batch(ids[first : first + _ATHENA_BATCH]):
                    status = execution.get("Status") or {}
                    submitted = status.get("SubmissionDateTime")
                    completed = status.get("CompletionDateTime")
                    if submitted is None or submitted.timestamp() >= window.start:
                        all_before = False
                    if completed is None:
                        all_before = False
                        continue
                    if completed.timestamp() >= window.start:
                        all_before = False
                    if window.start <= completed.timestamp() < window.end:
                        found.append(execution)
            token = page.get("NextToken")
            if not token or all_before:
                return found
            request["NextToken"] = token

    def _athena_batch(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        athena = self._client("athena")
        with aws_errors("read Athena query executions"):
            response = athena.batch_get_query_execution(QueryExecutionIds=ids)
        executions: list[dict[str, Any]] = list(response.get("QueryExecutions", []))
        for unprocessed in response.get("UnprocessedQueryExecutionIds", []):
            with aws_errors("read an Athena query execution"):
                executions.append(
                    athena.get_query_execution(QueryExecutionId=unprocessed["QueryExecutionId"])["QueryExecution"]
                )
        return executions

    # --- Redshift -----------------------------------------------------------------------------

    def _plan_redshift(self, check: Check, state: _RedshiftState, window: _Window) -> _Plan:
        if check.kind == "redshift_slow_percentage":
            return self._plan_query_share(
                check,
                state,
                window,
                REDSHIFT_SLOW_SQL,
                source="Redshift SYS_QUERY_HISTORY.elapsed_time via the Redshift Data API",
                did=f"ran longer than {_fmt(check.threshold)} s",
                counted="slow_queries",
                details={"running_time_threshold_secs": check.threshold},
                parameters={"threshold_us": str(round(check.threshold * 1_000_000))},
            )
        if check.utilization_type == "memory":
            return self._plan_query_share(
                check,
                state,
                window,
                REDSHIFT_SPILL_SQL,
                source="Redshift SYS_QUERY_DETAIL spilled_block_local_disk + spilled_block_remote_disk per query "
                "via the Redshift Data API (Redshift publishes no memory metric)",
                did="spilled to disk for lack of memory",
                aside=", Redshift's measure of memory pressure",
                counted="spilled_queries",
                details={"measure": "share of queries that spilled to disk"},
                unmeasured=", so memory pressure cannot be measured",
            )
        metric = "CPUUtilization" if check.utilization_type == "cpu" else "PercentageDiskSpaceUsed"
        key = _redshift_metric(state.name, metric, window)

        def finish(data: Mapping[_MetricKey, Series]) -> CheckResult:
            values = [v for _, v in data.get(key, [])]
            label = "CPU utilization" if check.utilization_type == "cpu" else "disk space used"
            if not values:
                return _no_data(
                    check,
                    window,
                    key.describe(),
                    f"Redshift cluster '{state.name}' ({state.status}) "
                    f"published no {metric} datapoints in the last {_fmt(window.minutes)} minutes",
                )
            value = _mean(values)
            return _answered(
                check,
                window,
                value,
                len(values),
                key.describe() + f", Average per {window.period} s",
                f"Redshift cluster '{state.name}': {label} averaged {_fmt(value)}% over {len(values)} "
                f"datapoints in the last {_fmt(window.minutes)} minutes",
                {"metric": metric},
            )

        return _MetricPlan([key], finish)

    def _plan_query_share(
        self,
        check: Check,
        state: _RedshiftState,
        window: _Window,
        sql: str,
        *,
        source: str,
        did: str,
        counted: str,
        details: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        aside: str = "",
        unmeasured: str = "",
    ) -> _StatementPlan:
        """A statement whose row is (queries that finished in the window, how many of them ``did`` something);
        the check's value is that share in percent, its details name the count ``counted``."""

        def finish(row: list[int]) -> CheckResult:
            queries, matched = row[0], row[1]
            if queries == 0:
                return _no_data(
                    check,
                    window,
                    source,
                    f"no query finished on Redshift cluster '{state.name}' in the last {_fmt(window.minutes)} "
                    f"minutes{unmeasured}",
                )
            value = 100.0 * matched / queries
            return _answered(
                check,
                window,
                value,
                queries,
                source,
                f"Redshift cluster '{state.name}': {matched} of the {queries} queries that finished in the last "
                f"{_fmt(window.minutes)} minutes {did} ({_fmt(value)}%{aside})",
                {"queries": queries, counted: matched, **details},
            )

        window_parameters = {"window_start": _sql_time(window.start), "window_end": _sql_time(window.end)}
        return _StatementPlan(check, window, state, sql, {**window_parameters, **(parameters or {})}, finish)

    def _run_statements(self, plans: list[_StatementPlan], strict: bool) -> None:
        """Submit every statement, then poll them together until all have finished.

        In the fleet form (``strict=False``) a statement that cannot be submitted or does not finish
        in time is marked failed (its result says so) instead of failing the whole fleet.
        """
        if not plans:
            return
        data = self._client("redshift-data")
        for plan in plans:
            request: dict[str, Any] = {
                "ClusterIdentifier": plan.state.name,
                "Database": self._redshift_database or plan.state.database or "dev",
                "Sql": plan.sql,
                "Parameters": [{"name": k, "value": v} for k, v in plan.parameters.items()],
                "StatementName": "dbscale-check",
            }
            secret = self._redshift_secret_arn or (None if self._redshift_db_user else plan.state.secret_arn)
            if secret:
                request["SecretArn"] = secret
            else:
                request["DbUser"] = self._redshift_db_user or plan.state.user or "admin"
            try:
                with aws_errors(f"run a statement on Redshift cluster '{plan.state.name}'"):
                    plan.statement_id = str(data.execute_statement(**request)["Id"])
            except AwsError as err:
                if strict:
                    raise
                plan.status, plan.error = "FAILED", str(err)
        deadline = self._clock.now() + self._data_api_timeout
        delay = 0.25
        while True:
            for plan in plans:
                if plan.status in _DATA_API_DONE:
                    continue
                with aws_errors(f"describe a statement on Redshift cluster '{plan.state.name}'"):
                    described = data.describe_statement(Id=plan.statement_id)
                plan.status = str(described.get("Status", ""))
                plan.error = str(described.get("Error", ""))
            pending = [p for p in plans if p.status not in _DATA_API_DONE]
            if not pending:
                return
            if self._clock.now() >= deadline:
                message = (
                    f"the Redshift Data API statement on cluster '{pending[0].state.name}' did not finish within "
                    f"{_fmt(self._data_api_timeout)} s (status {pending[0].status or 'unknown'})"
                )
                if strict:
                    raise OperationTimeout(message)
                for plan in pending:
                    plan.status, plan.error = "TIMEOUT", f"did not finish within {_fmt(self._data_api_timeout)} s"
                return
            self._clock.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _finish_statement(self, plan: _StatementPlan, strict: bool) -> CheckResult:
        if plan.status != "FINISHED":
            message = (
                f"the Redshift Data API statement on cluster '{plan.state.name}' ended {plan.status}: "
                f"{plan.error or 'no error message'}"
            )
            if strict:
                raise AwsError(message, code=f"Statement{plan.status.title()}", operation_name="ExecuteStatement")
            return _no_data(plan.check, plan.window, "Redshift Data API", message, note="no data (query failed)")
        data = self._client("redshift-data")
        with aws_errors(f"read a statement result from Redshift cluster '{plan.state.name}'"):
            records = data.get_statement_result(Id=plan.statement_id).get("Records", [])
        row = [_long(cell) for cell in (records[0] if records else [])]
        return plan.finish(row + [0] * (2 - len(row)))

    # --- Aurora -------------------------------------------------------------------------------

    def _plan_aurora(self, check: Check, state: _AuroraState, window: _Window) -> _Plan:
        if check.kind == "aurora_slow":
            return self._plan_aurora_slow(check, state, window)
        if check.kind == "aurora_slow_percentage":
            return self._aurora_slow_percentage(check, state, window)
        if check.utilization_type == "disk":
            return self._plan_aurora_disk(check, state, window)
        if not state.members:
            return _no_data(check, window, "AWS/RDS", f"Aurora cluster '{state.name}' has no DB instances")
        memory = check.utilization_type == "memory"
        metric = "FreeableMemory" if memory else "CPUUtilization"
        keys = {instance: _instance_metric(instance, metric, window) for instance, _ in state.members}
        capacity_bytes: float | None = None
        capacity_note = ""
        if memory:
            assert check.node_type is not None
            if check.node_type == AURORA_SERVERLESS_INSTANCE_CLASS:
                if state.max_acu is None:
                    return _no_data(
                        check,
                        window,
                        "AWS/RDS FreeableMemory",
                        f"Aurora cluster '{state.name}' has "
                        "no Serverless v2 capacity range, so db.serverless memory is unknown",
                    )
                # For Serverless v2, FreeableMemory is measured against the maximum capacity.
                capacity_bytes = state.max_acu * SERVERLESS_V2_GIB_PER_ACU * GIB
                capacity_note = (
                    f"{_fmt(state.max_acu)} ACU maximum x {SERVERLESS_V2_GIB_PER_ACU} GiB = "
                    f"{_fmt(capacity_bytes / GIB)} GiB"
                )
            else:
                gib = AURORA_INSTANCE_CLASSES[check.node_type].memory_gib
                capacity_bytes = float(gib * GIB)
                capacity_note = f"{check.node_type} has {gib} GiB"

        def finish(data: Mapping[_MetricKey, Series]) -> CheckResult:
            per_instance: dict[str, float] = {}
            count = 0
            for instance, key in keys.items():
                values = [v for _, v in data.get(key, [])]
                if not values:
                    continue
                count += len(values)
                if capacity_bytes is not None:
                    per_instance[instance] = 100.0 * (1.0 - _mean(values) / capacity_bytes)
                else:
                    per_instance[instance] = _mean(values)
            source = f"AWS/RDS {metric} (DBInstanceIdentifier), Average per {window.period} s"
            if not per_instance:
                return _no_data(
                    check,
                    window,
                    source,
                    f"the instances of Aurora cluster '{state.name}' "
                    f"({state.status}) published no {metric} datapoints in the last "
                    f"{_fmt(window.minutes)} minutes",
                )
            busiest = max(per_instance, key=lambda i: per_instance[i])
            value = per_instance[busiest]
            what = "memory used" if memory else "CPU utilization"
            basis = f" ({capacity_note}, used = capacity - FreeableMemory)" if memory else ""
            return _answered(
                check,
                window,
                value,
                count,
                source,
                f"Aurora cluster '{state.name}': {what} of its busiest instance '{busiest}' averaged "
                f"{_fmt(value)}%{basis} over the last {_fmt(window.minutes)} minutes "
                f"({count} datapoints on {len(per_instance)} of {len(keys)} instances)",
                {
                    "per_instance": per_instance,
                    "busiest_instance": busiest,
                    "metric": metric,
                    **({"capacity_bytes": capacity_bytes} if capacity_bytes is not None else {}),
                },
            )

        return _MetricPlan(list(keys.values()), finish)

    def _plan_aurora_disk(self, check: Check, state: _AuroraState, window: _Window) -> _MetricPlan:
        used_key = _cluster_metric(state.name, "VolumeBytesUsed", window)
        left_key = _cluster_metric(state.name, "AuroraVolumeBytesLeftTotal", window)
        source = "AWS/RDS VolumeBytesUsed / (VolumeBytesUsed + AuroraVolumeBytesLeftTotal) (DBClusterIdentifier)"

        def finish(data: Mapping[_MetricKey, Series]) -> CheckResult:
            left = dict(data.get(left_key, []))
            shares = [
                100.0 * used / (used + left[t])
                for t, used in data.get(used_key, [])
                if t in left and used + left[t] > 0
            ]
            if not shares:
                return _no_data(
                    check,
                    window,
                    source,
                    f"Aurora cluster '{state.name}' published no paired "
                    "VolumeBytesUsed and AuroraVolumeBytesLeftTotal datapoints in the last "
                    f"{_fmt(window.minutes)} minutes",
                )
            value = _mean(shares)
            return _answered(
                check,
                window,
                value,
                len(shares),
                source,
                f"Aurora cluster '{state.name}': the cluster volume was {_fmt(value)}% used (of used + "
                f"remaining bytes) on average over {len(shares)} datapoints in the last {_fmt(window.minutes)} minutes",
                {},
            )

        return _MetricPlan([used_key, left_key], finish)

    def _plan_aurora_slow(self, check: Check, state: _AuroraState, window: _Window) -> _Plan:
        family = _engine_family(state.engine)
        pairs = _LATENCY_METRICS[family]
        source = (
            f"AWS/RDS {' and '.join(f'{lat} weighted by {thr}' for lat, thr in pairs)} "
            f"(DBInstanceIdentifier, writer and readers), Average per {window.period} s"
        )
        if not state.members:
            return _no_data(check, window, source, f"Aurora cluster '{state.name}' has no DB instances")
        keys = {
            (instance, lat, thr): (_instance_metric(instance, lat, window), _instance_metric(instance, thr, window))
            for instance, _ in state.members
            for lat, thr in pairs
        }
        roles = dict(state.members)

        def finish(data: Mapping[_MetricKey, Series]) -> CheckResult:
            weighted = 0.0
            statements = 0.0
            count = 0
            per_instance: dict[str, dict[str, float]] = {}
            for (instance, _lat, _thr), (lat_key, thr_key) in keys.items():
                throughput = dict(data.get(thr_key, []))
                for stamp, latency in data.get(lat_key, []):
                    if stamp not in throughput:
                        continue
                    count += 1
                    rate = throughput[stamp]
                    weighted += latency * rate
                    statements += rate
                    entry = per_instance.setdefault(instance, {"weighted_ms_per_s": 0.0, "statements_per_s": 0.0})
                    entry["weighted_ms_per_s"] += latency * rate
                    entry["statements_per_s"] += rate
            if statements <= 0:
                why = "published no latency datapoints" if count == 0 else "ran no statements"
                return _no_data(
                    check,
                    window,
                    source,
                    f"Aurora cluster '{state.name}' ({state.status}) {why} in the last {_fmt(window.minutes)} minutes",
                )
            value = weighted / statements
            summary = {
                instance: {
                    "role": roles[instance],
                    "latency_ms": entry["weighted_ms_per_s"] / entry["statements_per_s"]
                    if entry["statements_per_s"] > 0
                    else None,
                    "statements": entry["statements_per_s"] * window.period,
                }
                for instance, entry in per_instance.items()
            }
            return _answered(
                check,
                window,
                value,
                count,
                source,
                f"Aurora cluster '{state.name}': statement latency averaged {_fmt(value)} ms weighted by "
                f"throughput over its writer and readers ({_fmt(statements * window.period)} statements, "
                f"{count} datapoint pairs) in the last {_fmt(window.minutes)} minutes",
                {"engine": state.engine, "per_instance": summary, "statements": statements * window.period},
            )

        return _MetricPlan([k for pair in keys.values() for k in pair], finish)

    def _aurora_slow_percentage(self, check: Check, state: _AuroraState, window: _Window) -> CheckResult:
        setup = _SLOW_LOG_SETUPS[_engine_family(state.engine)]
        group = setup.log_group(state.name)
        source = f"CloudWatch Logs {group} (every statement's duration; see aurora_slow_query_setup)"
        logs = self._client("logs")
        request: dict[str, Any] = {
            "logGroupName": group,
            "startTime": int(window.start * 1000),
            "endTime": int(window.end * 1000) - 1,
            "filterPattern": setup.filter_pattern,
        }
        durations: list[float] = []
        try:
            while True:
                with aws_errors(f"read the slow query log of Aurora cluster '{state.name}'"):
                    page = logs.filter_log_events(**request)
                for event in page.get("events", []):
                    message = str(event.get("message", ""))
                    if setup.engine == "aurora-mysql":
                        durations += [float(m) for m in _MYSQL_QUERY_TIME.findall(message)]
                    else:
                        durations += [float(m) / 1000.0 for m in _POSTGRES_DURATION.findall(message)]
                token = page.get("nextToken")
                if not token:
                    break
                request["nextToken"] = token
        except AwsError as err:
            if err.code != "ResourceNotFoundException":
                raise
            settings = ", ".join(f"{k}={v}" for k, v in setup.cluster_parameters.items())
            return _no_data(
                check,
                window,
                source,
                f"Aurora cluster '{state.name}' exports no statement log to {group}: set {settings} in its "
                f"cluster parameter group and export the '{setup.cloudwatch_logs_exports[0]}' log",
                note="no data (slow query log not exported)",
            )
        if not durations:
            return _no_data(
                check,
                window,
                source,
                f"no statement of Aurora cluster '{state.name}' was logged in the last {_fmt(window.minutes)} minutes",
            )
        slow = sum(1 for d in durations if d > check.threshold)
        value = 100.0 * slow / len(durations)
        return _answered(
            check,
            window,
            value,
            len(durations),
            source,
            f"Aurora cluster '{state.name}': {slow} of the {len(durations)} statements logged in the last "
            f"{_fmt(window.minutes)} minutes ran longer than {_fmt(check.threshold)} s ({_fmt(value)}%)",
            {
                "statements": len(durations),
                "slow_statements": slow,
                "running_time_threshold_secs": check.threshold,
                "log_group": group,
            },
        )


# --- result builders --------------------------------------------------------------------------


def _long(cell: Mapping[str, Any]) -> int:
    if cell.get("isNull"):
        return 0
    for key in ("longValue", "doubleValue", "stringValue"):
        if key in cell:
            return int(float(cell[key]))
    return 0


def _no_data(
    check: Check,
    window: _Window,
    source: str,
    why: str,
    *,
    note: str = NO_DATA,
    details: Mapping[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        check=check.kind,
        cluster=check.cluster,
        value=None,
        threshold=_threshold(check),
        verdict=None,
        datapoints=0,
        window_minutes=window.minutes,
        source=source,
        reason=f"{why}: {note}, so no verdict.",
        note=note,
        window_end=window.end,
        details=dict(details or {}),
    )


def _plan_on(
    service: _Service[_State],
    states: Mapping[str, _State],
    check: Check,
    window: _Window,
    plan: Callable[[Check, _State, _Window], _Plan],
) -> _Plan:
    """``plan`` the check on its cluster, unless the cluster does not exist or emits no metrics."""
    state = states.get(check.cluster)
    if state is None:
        why, note = f"{service.name} cluster '{check.cluster}' does not exist", NO_DATA_NOT_FOUND
    elif state.status in service.idle:
        why, note = f"{service.name} cluster '{state.name}' is {state.status} and emits no metrics", NO_DATA_PAUSED
    else:
        return plan(check, state, window)
    return _no_data(check, window, "cluster status", why, note=note)


def _threshold(check: Check) -> float:
    # The slow-percentage checks' threshold is the running time; their verdict compares the share.
    return check.percent_threshold if check.kind.endswith("_percentage") else check.threshold


def _answered(
    check: Check, window: _Window, value: float, datapoints: int, source: str, observed: str, details: Mapping[str, Any]
) -> CheckResult:
    """``check``'s verdict on ``value``; the reason is ``observed``, then how ``value`` compares with the threshold."""
    threshold = _threshold(check)
    over, unit, label, limit = True, "%", "", f"the {_fmt(threshold)}% threshold"
    if check.kind.endswith("_percentage"):
        limit = f"{_fmt(threshold)}%"
    elif check.kind == "aurora_slow":
        unit, label, limit = "ms", "slow", f"the {_fmt(threshold)} ms threshold"
    else:
        over = check.check_overused
        label = "overused" if over else "underused"
        details = {"utilization_type": check.utilization_type, "check_overused": over, **details}
    verdict = value > threshold if over else value < threshold
    negation = "" if verdict else "not "
    reason = f"{observed}, {negation}{'above' if over else 'below'} {limit}"
    if label:
        reason += f": {negation}{label}"
    return CheckResult(
        check=check.kind,
        cluster=check.cluster,
        value=value,
        threshold=threshold,
        verdict=verdict,
        datapoints=datapoints,
        window_minutes=window.minutes,
        source=source,
        reason=reason + ".",
        unit=unit,
        comparison=">" if over else "<",
        window_end=window.end,
        details=details,
    )
