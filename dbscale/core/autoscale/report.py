"""Reporting decisions: one JSON log line each, and CloudWatch metrics (decisions, capacity, Redshift check figures)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..errors import AwsError
from .decisions import DECISION_NAMESPACE, Decision
from .forecasts import CAPACITY_METRIC
from .memory import LOG

if TYPE_CHECKING:
    import boto3

DECISION_METRIC = "Decision"
DRY_RUN_DECISION_METRIC = "DryRunDecision"
CHECKS_NAMESPACE = "dbscale/Checks"
"""Where the autoscaler publishes check figures CloudWatch has no metric for (dimension ``ClusterIdentifier``)."""
SLOW_QUERY_METRIC = "RedshiftSlowQueryPercent"
SPILL_METRIC = "RedshiftSpillPercent"


def log_line(decision: Decision) -> str:
    """The decision's structured log line (JSON)."""
    return json.dumps({"message": "dbscale autoscaler decision", **decision.to_dict()}, default=str)


def metric_data(decisions: Sequence[Decision], *, forecasts: bool, now: float) -> list[dict[str, Any]]:
    """The datapoints of ``decisions``: the decision count, the capacity seen (``forecasts``: the history they
    learn from) and the Redshift check figures CloudWatch has no metric for; ``now`` stamps undated ones."""
    data: list[dict[str, Any]] = []
    for d in decisions:
        stamp = datetime.fromtimestamp(d.at or now, tz=timezone.utc)
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
        capacity = d.current.get("nodes") if d.service == "redshift" else (d.current.get("acu") or [None, None])[1]
        if forecasts and capacity is not None and not d.current.get("paused"):
            data.append(
                {
                    "MetricName": CAPACITY_METRIC,
                    "Dimensions": [{"Name": "Cluster", "Value": d.cluster}],
                    "Timestamp": stamp,
                    "Value": float(capacity),
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


def publish(data: list[dict[str, Any]], session: boto3.Session | None) -> None:
    """Put ``data`` (:func:`metric_data`) to CloudWatch, 1,000 datapoints a call; a failure is logged, not raised."""
    if not data:
        return
    cloudwatch = client("cloudwatch", session)
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
