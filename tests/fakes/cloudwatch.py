"""CloudWatch under moto, closer to AWS: GetMetricData's 500-metric limit, and writing realistic series.

moto 5 answers ``GetMetricData`` with any number of queries; AWS refuses more than 500 in one
call. :func:`enforce_limits` makes moto refuse too, so a test proves the caller batches. The
helpers write the series AWS services publish (one datapoint per minute per metric) into moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

METRICS_PER_CALL = 500
"""AWS: "A GetMetricData operation ... can retrieve as many as 500 different metrics in a single request"."""


@contextlib.contextmanager
def enforce_limits() -> Iterator[list[int]]:
    """Make moto's GetMetricData refuse more than 500 queries, as AWS does.

    Yields a list that receives the number of queries of every GetMetricData call.
    """
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data
    assert getattr(original, "_dbscale_fake", False) is False, "enforce_limits is already installed"
    calls: list[int] = []

    def get_metric_data(self: Any, queries: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(queries))
        if len(queries) > METRICS_PER_CALL:
            raise ValidationError(
                f"The collection MetricDataQueries must not have a size greater than {METRICS_PER_CALL}."
            )
        ids = [q["Id"] for q in queries]
        if len(set(ids)) != len(ids):
            raise ValidationError("The values for parameter Id in MetricDataQueries are not unique.")
        return original(self, queries, *args, **kwargs)

    get_metric_data._dbscale_fake = True  # type: ignore[attr-defined]
    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        CloudWatchBackend.get_metric_data = original  # type: ignore[method-assign]


def minutes_before(end: datetime, count: int, *, step: timedelta = timedelta(minutes=1)) -> list[datetime]:
    """``count`` timestamps, one per ``step``, the last one ``step`` before ``end`` (oldest first)."""
    return [end - step * (count - i) for i in range(count)]


def put_series(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    points: Iterable[tuple[datetime, float]],
    *,
    unit: str = "None",
) -> int:
    """Write ``(timestamp, value)`` datapoints of one metric; returns how many were written."""
    data = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": stamp.astimezone(timezone.utc),
            "Value": float(value),
            "Unit": unit,
        }
        for stamp, value in points
    ]
    for first in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 datapoints
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + 1000])
    return len(data)


def put_constant(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    stamps: Sequence[datetime],
    value: float,
    *,
    unit: str = "None",
) -> int:
    """Write the same value at every timestamp."""
    return put_series(cloudwatch, namespace, metric, dimensions, [(s, value) for s in stamps], unit=unit)
