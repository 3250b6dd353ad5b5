"""The Aurora checks: utilization, latency, volume, slow query logs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from statistics import fmean
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..errors import AwsError
from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    GIB,
    SERVERLESS_V2_GIB_PER_ACU,
)

if TYPE_CHECKING:
    pass

from .checks import SLOW_LOG_SETUPS, Check, engine_family
from .metrics import MetricKey, MetricWindow, Series, cluster_metric, instance_metric
from .plans import AuroraState, MetricPlan, Plan, ScalingContext, answered, no_data_result
from .results import CheckResult, format_number

# Latency metrics Aurora publishes per DB instance (dimension DBInstanceIdentifier), each paired
# with the throughput that weights it. SelectLatency/DMLLatency exist for Aurora MySQL only;
# Aurora PostgreSQL publishes CommitLatency/CommitThroughput (both engines do).
_LATENCY_METRICS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "mysql": (("SelectLatency", "SelectThroughput"), ("DMLLatency", "DMLThroughput")),
    "postgresql": (("CommitLatency", "CommitThroughput"),),
}

# Aurora slow query logs exported to CloudWatch Logs: how to find one entry's duration.
_MYSQL_QUERY_TIME = re.compile(r"Query_time:\s*([0-9.]+)")
_POSTGRES_DURATION = re.compile(r"duration:\s*([0-9.]+)\s*ms\s+(?:statement|execute\b)")


class AuroraChecks(ScalingContext):
    """The Aurora checks of :class:`ProvisionScaling`: utilization, latency, slow statement share."""

    # --- Aurora -------------------------------------------------------------------------------

    def _plan_aurora(self, check: Check, state: AuroraState, window: MetricWindow) -> Plan:
        if check.kind == "aurora_slow":
            return self._plan_aurora_slow(check, state, window)
        if check.kind == "aurora_slow_percentage":
            return self._aurora_slow_percentage(check, state, window)
        if check.utilization_type == "disk":
            return self._plan_aurora_disk(check, state, window)
        if not state.members:
            return no_data_result(check, window, "AWS/RDS", f"Aurora cluster '{state.name}' has no DB instances")
        memory = check.utilization_type == "memory"
        metric = "FreeableMemory" if memory else "CPUUtilization"
        keys = {instance: instance_metric(instance, metric, window) for instance, _ in state.members}
        capacity_bytes: float | None = None
        capacity_note = ""
        if memory:
            assert check.node_type is not None
            if check.node_type == AURORA_SERVERLESS_INSTANCE_CLASS:
                if state.max_acu is None:
                    return no_data_result(
                        check,
                        window,
                        "AWS/RDS FreeableMemory",
                        f"Aurora cluster '{state.name}' has "
                        "no Serverless v2 capacity range, so db.serverless memory is unknown",
                    )
                # For Serverless v2, FreeableMemory is measured against the maximum capacity.
                capacity_bytes = state.max_acu * SERVERLESS_V2_GIB_PER_ACU * GIB
                capacity_note = (
                    f"{format_number(state.max_acu)} ACU maximum x {SERVERLESS_V2_GIB_PER_ACU} GiB = "
                    f"{format_number(capacity_bytes / GIB)} GiB"
                )
            else:
                gib = AURORA_INSTANCE_CLASSES[check.node_type].memory_gib
                capacity_bytes = float(gib * GIB)
                capacity_note = f"{check.node_type} has {gib} GiB"

        def finish(data: Mapping[MetricKey, Series]) -> CheckResult:
            per_instance: dict[str, float] = {}
            count = 0
            for instance, key in keys.items():
                values = [v for _, v in data.get(key, [])]
                if not values:
                    continue
                count += len(values)
                if capacity_bytes is not None:
                    per_instance[instance] = 100.0 * (1.0 - fmean(values) / capacity_bytes)
                else:
                    per_instance[instance] = fmean(values)
            source = f"AWS/RDS {metric} (DBInstanceIdentifier), Average per {window.period} s"
            if not per_instance:
                return no_data_result(
                    check,
                    window,
                    source,
                    f"the instances of Aurora cluster '{state.name}' "
                    f"({state.status}) published no {metric} datapoints in the last "
                    f"{format_number(window.minutes)} minutes",
                )
            busiest = max(per_instance, key=lambda i: per_instance[i])
            value = per_instance[busiest]
            what = "memory used" if memory else "CPU utilization"
            basis = f" ({capacity_note}, used = capacity - FreeableMemory)" if memory else ""
            return answered(
                check,
                window,
                value,
                count,
                source,
                f"Aurora cluster '{state.name}': {what} of its busiest instance '{busiest}' averaged "
                f"{format_number(value)}%{basis} over the last {format_number(window.minutes)} minutes "
                f"({count} datapoints on {len(per_instance)} of {len(keys)} instances)",
                {
                    "per_instance": per_instance,
                    "busiest_instance": busiest,
                    "metric": metric,
                    **({"capacity_bytes": capacity_bytes} if capacity_bytes is not None else {}),
                },
            )

        return MetricPlan(list(keys.values()), finish)

    def _plan_aurora_disk(self, check: Check, state: AuroraState, window: MetricWindow) -> MetricPlan:
        used_key = cluster_metric(state.name, "VolumeBytesUsed", window)
        left_key = cluster_metric(state.name, "AuroraVolumeBytesLeftTotal", window)
        source = "AWS/RDS VolumeBytesUsed / (VolumeBytesUsed + AuroraVolumeBytesLeftTotal) (DBClusterIdentifier)"

        def finish(data: Mapping[MetricKey, Series]) -> CheckResult:
            left = dict(data.get(left_key, []))
            shares = [
                100.0 * used / (used + left[t])
                for t, used in data.get(used_key, [])
                if t in left and used + left[t] > 0
            ]
            if not shares:
                return no_data_result(
                    check,
                    window,
                    source,
                    f"Aurora cluster '{state.name}' published no paired "
                    "VolumeBytesUsed and AuroraVolumeBytesLeftTotal datapoints in the last "
                    f"{format_number(window.minutes)} minutes",
                )
            value = fmean(shares)
            return answered(
                check,
                window,
                value,
                len(shares),
                source,
                f"Aurora cluster '{state.name}': the cluster volume was {format_number(value)}% used (of used + "
                f"remaining bytes) on average over {len(shares)} datapoints "
                f"in the last {format_number(window.minutes)} minutes",
                {},
            )

        return MetricPlan([used_key, left_key], finish)

    def _plan_aurora_slow(self, check: Check, state: AuroraState, window: MetricWindow) -> Plan:
        family = engine_family(state.engine)
        pairs = _LATENCY_METRICS[family]
        source = (
            f"AWS/RDS {' and '.join(f'{lat} weighted by {thr}' for lat, thr in pairs)} "
            f"(DBInstanceIdentifier, writer and readers), Average per {window.period} s"
        )
        if not state.members:
            return no_data_result(check, window, source, f"Aurora cluster '{state.name}' has no DB instances")
        keys = {
            (instance, lat, thr): (instance_metric(instance, lat, window), instance_metric(instance, thr, window))
            for instance, _ in state.members
            for lat, thr in pairs
        }
        roles = dict(state.members)

        def finish(data: Mapping[MetricKey, Series]) -> CheckResult:
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
                return no_data_result(
                    check,
                    window,
                    source,
                    f"Aurora cluster '{state.name}' ({state.status}) {why} "
                    f"in the last {format_number(window.minutes)} minutes",
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
            return answered(
                check,
                window,
                value,
                count,
                source,
                f"Aurora cluster '{state.name}': statement latency averaged {format_number(value)} ms weighted by "
                f"throughput over its writer and readers ({format_number(statements * window.period)} statements, "
                f"{count} datapoint pairs) in the last {format_number(window.minutes)} minutes",
                {"engine": state.engine, "per_instance": summary, "statements": statements * window.period},
            )

        return MetricPlan([k for pair in keys.values() for k in pair], finish)

    def _aurora_slow_percentage(self, check: Check, state: AuroraState, window: MetricWindow) -> CheckResult:
        setup = SLOW_LOG_SETUPS[engine_family(state.engine)]
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
            return no_data_result(
                check,
                window,
                source,
                f"Aurora cluster '{state.name}' exports no statement log to {group}: set {settings} in its "
                f"cluster parameter group and export the '{setup.cloudwatch_logs_exports[0]}' log",
                note="no data (slow query log not exported)",
            )
        if not durations:
            return no_data_result(
                check,
                window,
                source,
                f"no statement of Aurora cluster '{state.name}' was logged "
                f"in the last {format_number(window.minutes)} minutes",
            )
        slow = sum(1 for d in durations if d > check.threshold)
        value = 100.0 * slow / len(durations)
        return answered(
            check,
            window,
            value,
            len(durations),
            source,
            f"Aurora cluster '{state.name}': {slow} of the {len(durations)} statements logged in the last "
            f"{format_number(window.minutes)} minutes ran longer than {format_number(check.threshold)} s "
            f"({format_number(value)}%)",
            {
                "statements": len(durations),
                "slow_statements": slow,
                "running_time_threshold_secs": check.threshold,
                "log_group": group,
            },
        )
