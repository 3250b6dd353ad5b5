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

One module per concept: ``checks`` (what to measure), ``results`` (the answers), ``metrics``
(CloudWatch queries, batched), ``plans`` (cluster state and result builders), ``athena``,
``redshift_checks`` and ``aurora_checks`` (each service's checks), ``provision`` (:class:`ProvisionScaling`).
"""

from __future__ import annotations

from .checks import (
    CHECK_KINDS,
    REDSHIFT_SLOW_SQL,
    REDSHIFT_SPILL_SQL,
    UTILIZATION_TYPES,
    Check,
    SlowQueryLogSetup,
    aurora_slow_query_setup,
)
from .metrics import (
    DATAPOINTS_PER_CALL,
    MAX_POINTS_PER_METRIC,
    METRICS_PER_CALL,
    Series,
    fetch_metric_series,
    metric_window,
)
from .provision import ProvisionScaling
from .results import NO_DATA, NO_DATA_NOT_FOUND, NO_DATA_PAUSED, CheckResult

__all__ = [
    "CHECK_KINDS",
    "DATAPOINTS_PER_CALL",
    "MAX_POINTS_PER_METRIC",
    "METRICS_PER_CALL",
    "NO_DATA",
    "NO_DATA_NOT_FOUND",
    "NO_DATA_PAUSED",
    "REDSHIFT_SLOW_SQL",
    "REDSHIFT_SPILL_SQL",
    "UTILIZATION_TYPES",
    "Check",
    "CheckResult",
    "ProvisionScaling",
    "Series",
    "SlowQueryLogSetup",
    "aurora_slow_query_setup",
    "fetch_metric_series",
    "metric_window",
]
