"""Planning checks: the clusters' state, pending work, and the builders of results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..aws import client
from ..clock import Clock
from ..errors import InvalidRequest

if TYPE_CHECKING:
    import boto3

from .checks import (
    AURORA_KINDS,
    REDSHIFT_KINDS,
    Check,
)
from .metrics import MetricKey, MetricWindow, Series
from .results import NO_DATA, NO_DATA_NOT_FOUND, NO_DATA_PAUSED, CheckResult, format_number

# --- cluster state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterState:
    """What the checks need to know of a described cluster: its name and status."""

    name: str
    status: str


@dataclass(frozen=True)
class RedshiftState(ClusterState):
    """A Redshift cluster, and how the Data API statements connect to it."""

    database: str | None
    secret_arn: str | None
    user: str | None


@dataclass(frozen=True)
class AuroraState(ClusterState):
    """An Aurora cluster: engine, DB instances (writer first) and Serverless v2 maximum ACU."""

    engine: str
    members: tuple[tuple[str, str], ...]  # (DBInstanceIdentifier, "writer" | "reader")
    max_acu: float | None


def _redshift_state(c: Mapping[str, Any]) -> RedshiftState:
    return RedshiftState(
        name=str(c["ClusterIdentifier"]),
        status=str(c.get("ClusterStatus", "")),
        database=c.get("DBName"),
        secret_arn=c.get("MasterPasswordSecretArn"),
        user=c.get("MasterUsername"),
    )


def _aurora_state(c: Mapping[str, Any]) -> AuroraState:
    members = sorted(
        (str(m["DBInstanceIdentifier"]), "writer" if m.get("IsClusterWriter") else "reader")
        for m in c.get("DBClusterMembers") or []
    )
    members.sort(key=lambda m: m[1] != "writer")  # the writer first, then readers by name
    acu = c.get("ServerlessV2ScalingConfiguration") or {}
    return AuroraState(
        name=str(c["DBClusterIdentifier"]),
        status=str(c.get("Status", "")),
        engine=str(c.get("Engine", "")),
        members=tuple(members),
        max_acu=float(acu["MaxCapacity"]) if acu.get("MaxCapacity") is not None else None,
    )


StateT = TypeVar("StateT", bound=ClusterState)


@dataclass(frozen=True)
class Service(Generic[StateT]):
    """How the checks of one service find their clusters, and when a cluster emits no metrics."""

    name: str
    kinds: frozenset[str]
    client: str
    describe: str  # the Describe operation, also the name of its paginator
    id_key: str  # names the cluster in the request and in the response
    list_key: str
    idle: frozenset[str]
    state: Callable[[Mapping[str, Any]], StateT]


REDSHIFT_SERVICE = Service(
    name="Redshift",
    kinds=REDSHIFT_KINDS,
    client="redshift",
    describe="describe_clusters",
    id_key="ClusterIdentifier",
    list_key="Clusters",
    idle=frozenset({"paused", "pausing"}),
    state=_redshift_state,
)
AURORA_SERVICE = Service(
    name="Aurora",
    kinds=AURORA_KINDS,
    client="rds",
    describe="describe_db_clusters",
    id_key="DBClusterIdentifier",
    list_key="DBClusters",
    idle=frozenset({"stopped", "stopping"}),
    state=_aurora_state,
)


# --- pending work ---------------------------------------------------------------------------------


@dataclass
class MetricPlan:
    """A check waiting for CloudWatch series: the ``keys`` to fetch, and ``finish`` to answer from them."""

    keys: list[MetricKey]
    finish: Callable[[Mapping[MetricKey, Series]], CheckResult]


@dataclass
class StatementPlan:
    """A check waiting for a Redshift Data API statement; ``finish`` answers from its first row."""

    check: Check
    window: MetricWindow
    state: RedshiftState
    sql: str
    parameters: dict[str, str]
    finish: Callable[[list[int]], CheckResult]
    statement_id: str | None = None
    status: str = ""
    error: str = ""


Plan = CheckResult | MetricPlan | StatementPlan
"""A check's answer, or the work still to do for it."""


class ScalingContext:
    """What every family of checks needs from :class:`ProvisionScaling`: clients, clock, settings."""

    _session: boto3.Session | None
    _clock: Clock
    _clients: dict[str, Any]
    _data_api_timeout: float
    _on_wait: Callable[[str], None] | None
    _node_prices: dict[str, float]
    _redshift_database: str | None
    _redshift_secret_arn: str | None
    _redshift_db_user: str | None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self._session)
        return self._clients[service]

    def _require(self, value: str | None, field_name: str) -> str:
        if value is None:
            raise InvalidRequest(f"this check needs {field_name}; pass it to ProvisionScaling", field=field_name)
        return value


# --- result builders --------------------------------------------------------------------------


def no_data_result(
    check: Check,
    window: MetricWindow,
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


def plan_on(
    service: Service[StateT],
    states: Mapping[str, StateT],
    check: Check,
    window: MetricWindow,
    plan: Callable[[Check, StateT, MetricWindow], Plan],
) -> Plan:
    """``plan`` the check on its cluster, unless the cluster does not exist or emits no metrics."""
    state = states.get(check.cluster)
    if state is None:
        why, note = f"{service.name} cluster '{check.cluster}' does not exist", NO_DATA_NOT_FOUND
    elif state.status in service.idle:
        why, note = f"{service.name} cluster '{state.name}' is {state.status} and emits no metrics", NO_DATA_PAUSED
    else:
        return plan(check, state, window)
    return no_data_result(check, window, "cluster status", why, note=note)


def _threshold(check: Check) -> float:
    # The slow-percentage checks' threshold is the running time; their verdict compares the share.
    return check.percent_threshold if check.kind.endswith("_percentage") else check.threshold


def answered(
    check: Check,
    window: MetricWindow,
    value: float,
    datapoints: int,
    source: str,
    observed: str,
    details: Mapping[str, Any],
) -> CheckResult:
    """``check``'s verdict on ``value``; the reason is ``observed``, then how ``value`` compares with the threshold."""
    threshold = _threshold(check)
    over, unit, label, limit = True, "%", "", f"the {format_number(threshold)}% threshold"
    if check.kind.endswith("_percentage"):
        limit = f"{format_number(threshold)}%"
    elif check.kind == "aurora_slow":
        unit, label, limit = "ms", "slow", f"the {format_number(threshold)} ms threshold"
    elif check.kind == "redshift_queue_wait":
        unit, label, limit = "s", "queued", f"the {format_number(threshold)} s threshold"
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
