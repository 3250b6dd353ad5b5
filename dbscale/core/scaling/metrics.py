"""CloudWatch metric queries: windows, metric keys, and batched GetMetricData."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..errors import AwsError

if TYPE_CHECKING:
    pass


METRICS_PER_CALL = 500
"""GetMetricData takes at most 500 metric queries per call ..."""
DATAPOINTS_PER_CALL = 100_800
"""... and returns at most 100,800 datapoints per call (more needs NextToken pages)."""
MAX_POINTS_PER_METRIC = DATAPOINTS_PER_CALL // METRICS_PER_CALL
"""Periods are chosen so one metric's window has at most this many datapoints: 500 metrics per call."""


# --- windows and metric series ----------------------------------------------------------------


@dataclass(frozen=True)
class MetricWindow:
    start: float
    end: float
    period: int

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60

    @property
    def points(self) -> int:
        return max(1, round((self.end - self.start) / self.period))


def metric_window(now: float, window_minutes: float) -> MetricWindow:
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
    return MetricWindow(start=end - math.ceil(span / period) * period, end=end, period=period)


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    window: MetricWindow

    def describe(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.metric} ({dims})"


Series = list[tuple[float, float]]
"""(epoch seconds, value) datapoints, oldest first."""


def redshift_metric(cluster: str, metric: str, window: MetricWindow) -> MetricKey:
    """The average of a Redshift cluster's ``metric`` (dimension ClusterIdentifier) over ``window``."""
    return MetricKey("AWS/Redshift", metric, (("ClusterIdentifier", cluster),), "Average", window)


def instance_metric(instance: str, metric: str, window: MetricWindow) -> MetricKey:
    """The average of a DB instance's ``metric`` (dimension DBInstanceIdentifier) over ``window``."""
    return MetricKey("AWS/RDS", metric, (("DBInstanceIdentifier", instance),), "Average", window)


def cluster_metric(cluster: str, metric: str, window: MetricWindow) -> MetricKey:
    """The average of an Aurora cluster's ``metric`` (dimension DBClusterIdentifier) over ``window``."""
    return MetricKey("AWS/RDS", metric, (("DBClusterIdentifier", cluster),), "Average", window)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def fetch_metric_series(cloudwatch: Any, keys: Iterable[MetricKey]) -> dict[MetricKey, Series]:
    """Fetch every series with as few GetMetricData calls as the API limits allow.

    Keys are grouped by window; each call carries up to 500 metrics and 100,800 datapoints, and
    ``NextToken`` pages are followed. Datapoints outside a key's window are dropped.
    """
    by_window: dict[MetricWindow, list[MetricKey]] = {}
    for key in dict.fromkeys(keys):
        by_window.setdefault(key.window, []).append(key)
    data: dict[MetricKey, Series] = {}
    if not by_window:
        return data
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
