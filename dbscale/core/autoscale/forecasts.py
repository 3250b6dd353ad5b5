"""Forecasts: the load a cluster will carry, learned by hour of week from its own CloudWatch history.

Load is in capacity units times percent: for Redshift, CPU percent x nodes (``CPUUtilization`` x
the node count the autoscaler published as ``dbscale/Autoscaler Capacity``; hours before the first
published count are taken at the cluster's current size); for Aurora Serverless v2, the ACUs Aurora
allotted (``ServerlessDatabaseCapacity``) x 100. Each hour of the week keeps the median over the
weeks of that hour's maximum (so one burst in one week moves it only half way, with two weeks) and
the lowest minimum seen in that hour, over the history (at least ``MIN_HISTORY_DAYS``), in the time
zone the policy names.

A forecast is *trusted* only when the last week of history, predicted from the weeks before it, came
out within ``TRUST_ERROR`` (relative error of the hourly maxima); the autoscaler then also stops
following it while the live load leaves the forecast's band (see :class:`ForecastCheck`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ..clock import hour_of_week
from ..scaling.metrics import MetricKey, MetricWindow, Series, fetch_metric_series
from .decisions import DECISION_NAMESPACE

__all__ = [
    "CAPACITY_METRIC",
    "HOURS_PER_WEEK",
    "MIN_HISTORY_DAYS",
    "MIN_TOLERANCE",
    "TRUST_ERROR",
    "Forecast",
    "ForecastCheck",
    "hour_of_week",
    "learn",
]

HOURS_PER_WEEK = 168
MIN_HISTORY_DAYS = 14
"""Days of history a forecast needs: two of each hour of the week."""
TRUST_ERROR = 0.35
"""Largest relative error of the back-test (last week predicted from the weeks before) for a trusted forecast."""
OVER_SHARE = 0.6
"""A live load under this share of the forecast's trough for the hour (less a near-idle tolerance) is an
over-prediction: the forecast is set aside (a holiday, a migration away) and the reactive rules size the cluster."""
MIN_TOLERANCE = 0.25
"""The least relative under-prediction a forecast is allowed before it is distrusted (see ``Forecast.tolerance``)."""
CAPACITY_METRIC = "Capacity"
"""``dbscale/Autoscaler Capacity`` (dimension ``Cluster``): the nodes (Redshift) or maximum ACUs (Aurora)
at each evaluation, so a forecast can turn CPU percent back into load after resizes."""
_HOUR = 3600
RECENT_HOURS_LEFT_OUT = 24


@dataclass(frozen=True)
class Forecast:
    """Load by hour of week: ``peaks[h]``/``troughs[h]`` are None where history has no data for hour ``h``.

    ``history_days`` is the span of the data learned from; ``error`` the back-test's relative error
    (None without a full week to test on); ``usable`` says whether the autoscaler may act on it,
    and ``reason`` why (not).
    """

    peaks: tuple[float | None, ...]
    troughs: tuple[float | None, ...]
    history_days: float
    error: float | None
    usable: bool
    reason: str
    tz: str = "UTC"
    trend: float = 1.0

    @property
    def tolerance(self) -> float:
        """How far above its peak the live load may go before the forecast counts as under-predicting: its
        back-test error, at least :data:`MIN_TOLERANCE`."""
        return max(MIN_TOLERANCE, self.error or 0.0)

    def peak(self, start: float, end: float) -> float | None:
        """The highest forecast load in the hours that overlap ``[start, end)`` (epoch seconds)."""
        values = [self.peaks[h] for h in self._hours(start, end)]
        known = [v for v in values if v is not None]
        return max(known) if known else None

    def trough(self, start: float, end: float) -> float | None:
        """The lowest forecast load in the hours that overlap ``[start, end)``."""
        values = [self.troughs[h] for h in self._hours(start, end)]
        known = [v for v in values if v is not None]
        return min(known) if known else None

    def _hours(self, start: float, end: float) -> list[int]:
        first = math.floor(start / _HOUR) * _HOUR
        return [hour_of_week(t, self.tz) for t in range(int(first), int(max(end, start + 1)), _HOUR)]

    def summary(self) -> dict[str, Any]:
        return {
            "history_days": round(self.history_days, 2),
            "error": None if self.error is None else round(self.error, 3),
            "usable": self.usable,
            "reason": self.reason,
            "trend": round(self.trend, 3),
        }


def _buckets(points: Sequence[tuple[float, float]], tz: str, pick: Any) -> list[float | None]:
    found: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    for stamp, value in points:
        found[hour_of_week(stamp, tz)].append(value)
    return [pick(values) if values else None for values in found]


def _weekly_median(points: Sequence[tuple[float, float]], tz: str) -> list[float | None]:
    """Each hour of the week: the median over the weeks of that hour's peak (one burst in one week moves it half)."""
    found: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    for stamp, value in points:
        found[hour_of_week(stamp, tz)].append(value)
    return [statistics.median(values) if values else None for values in found]


def learn(
    peaks: Sequence[tuple[float, float]],
    troughs: Sequence[tuple[float, float]],
    *,
    now: float,
    tz: str = "UTC",
    min_history_days: float = MIN_HISTORY_DAYS,
    trust_error: float = TRUST_ERROR,
) -> Forecast:
    """A forecast from hourly load maxima ``peaks`` and minima ``troughs`` ((epoch, load) pairs, any order).

    The last ``RECENT_HOURS_LEFT_OUT`` hours are left out: an hour-of-week forecast needs them only a
    week later, and learning them now would feed today's own effects back (a backlog drained at full
    speed after a resize reads as a higher peak, which asks for a bigger resize ...).
    """
    cut_recent = now - RECENT_HOURS_LEFT_OUT * _HOUR
    recent = sorted(p for p in peaks if cut_recent - 2 * _HOUR <= p[0] < now)  # yesterday's same hours, whole
    peaks = sorted(p for p in peaks if p[0] < cut_recent)
    troughs = sorted(p for p in troughs if p[0] < cut_recent)
    history_days = (now - peaks[0][0]) / 86400 if peaks else 0.0
    high = _weekly_median(peaks, tz)
    low = _buckets(troughs, tz, min)
    if history_days < min_history_days - 1 / 24:
        return Forecast(
            tuple(high),
            tuple(low),
            history_days,
            None,
            False,
            f"{history_days:.1f} days of history, fewer than the {min_history_days:g} a forecast needs",
            tz,
        )
    trend = _weekly_trend(peaks, tz)
    level = _recent_level([None if v is None else v * trend for v in high], recent, tz)
    if trend * level > 1.0:
        high = [None if v is None else v * trend * level for v in high]
    cut = now - 7 * 86400
    trained = _buckets([p for p in peaks if p[0] < cut], tz, max)
    tested = [(t, v) for t, v in peaks if t >= cut]
    num = den = 0.0
    for stamp, actual in tested:
        predicted = trained[hour_of_week(stamp, tz)]
        if predicted is None:
            continue
        num += abs(predicted - actual)
        den += max(predicted, actual)
    error = num / den if den > 0 else 0.0
    usable = error <= trust_error
    reason = (
        f"{history_days:.1f} days of history; the last week predicted from the weeks before it was off by "
        f"{error:.0%} ({'within' if usable else 'more than'} the {trust_error:.0%} allowed)"
    )
    if trend > 1.0:
        reason += f"; load growing week on week, peaks raised by {trend - 1:.0%}"
    if level > 1.0:
        reason += f"; the last 24 hours ran {level - 1:.0%} above the forecast, and so do the next"
    return Forecast(tuple(high), tuple(low), history_days, error, usable, reason, tz, trend * level)


MAX_TREND = 1.5
"""The most a growing history raises a forecast's peaks (a trend is extrapolated, so it is capped)."""


MAX_RECENT_LEVEL = 3.0
"""The most the last 24 hours raise a forecast's peaks (a launch at 1.8x is followed, a glitch is capped)."""


def _recent_level(high: Sequence[float | None], recent: Sequence[tuple[float, float]], tz: str) -> float:
    """How far the last 24 hours' busy peaks ran above the forecast for those hours (1.0 when not above).

    The forecast leaves the last 24 hours out of its weekly median; this carries their level forward, so a
    cluster is never sized below what the same hours measured yesterday (the median of the busy hours'
    ratios, capped at :data:`MAX_RECENT_LEVEL`). Only upwards: a lower day is left to the reactive rules.
    """
    known = [v for v in high if v is not None]
    if not recent or not known:
        return 1.0
    busiest = max(known)
    ratios = []
    for stamp, value in recent:
        predicted = high[hour_of_week(stamp, tz)]
        if predicted is not None and predicted > busiest * 0.25:
            ratios.append(value / predicted)
    if not ratios:
        return 1.0
    return float(min(MAX_RECENT_LEVEL, max(1.0, statistics.median(ratios))))


def _weekly_trend(peaks: Sequence[tuple[float, float]], tz: str) -> float:
    """How much the peaks grow week on week, carried forward to the coming week: 1.0 when flat or falling.

    Per hour of week with a busy peak in consecutive weeks, the ratio of the later to the earlier; the
    median ratio, raised to the number of weeks from the middle of the history (where the weekly median
    sits) to the coming week, capped at :data:`MAX_TREND`. Only growth counts: a forecast that is too
    high costs money, one that is too low costs overload, and falling load is for the reactive rules.
    """
    if not peaks:
        return 1.0
    first = peaks[0][0]
    by_week: dict[int, dict[int, float]] = {}
    for stamp, value in peaks:
        week = int((stamp - first) // (7 * 86400))
        hour = hour_of_week(stamp, tz)
        by_week.setdefault(week, {})[hour] = max(value, by_week.get(week, {}).get(hour, 0.0))
    weeks = sorted(w for w in by_week if len(by_week[w]) >= HOURS_PER_WEEK * 0.9)  # whole weeks only
    if len(weeks) < 2:
        return 1.0
    busiest = max(v for w in weeks for v in by_week[w].values())
    ratios = [
        by_week[b][h] / by_week[a][h]
        for a, b in pairwise(weeks)
        for h in by_week[a]
        if h in by_week[b] and by_week[a][h] > busiest * 0.25 and by_week[b][h] > busiest * 0.25
    ]
    if len(ratios) < 24:
        return 1.0
    weekly = statistics.median(ratios)
    if weekly <= 1.0:
        return 1.0
    return float(min(MAX_TREND, weekly ** ((len(weeks) + 1) / 2)))


@dataclass(frozen=True)
class ForecastCheck:
    """Whether the load seen now lies in the forecast's band for this hour (``low`` x OVER_SHARE .. ``high`` x 1.25).

    ``tolerance`` (load units) keeps a near-idle hour from failing on noise.
    """

    observed: float
    low: float | None
    high: float | None
    tolerance: float

    @property
    def under(self) -> bool:
        """The load is above what the forecast expected: it under-predicts."""
        return self.high is not None and self.observed > self.high * 1.25 + self.tolerance

    @property
    def over(self) -> bool:
        """The load is below the least the forecast expected this hour: it over-predicts (a holiday)."""
        return self.low is not None and self.observed < self.low * OVER_SHARE - self.tolerance

    @property
    def wrong(self) -> bool:
        return self.under or self.over

    def describe(self) -> str:
        band = f"{_num(self.low)}-{_num(self.high)}"
        verdict = "above" if self.under else "below" if self.over else "within"
        return f"load {_num(self.observed)} is {verdict} the forecast band {band} for this hour"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


# --- reading the history ---------------------------------------------------------------------------


def history_window(now: float, days: float) -> MetricWindow:
    """Whole hours ending at the last full hour before ``now``, ``days`` long, hourly periods."""
    end = math.floor(now / _HOUR) * _HOUR
    return MetricWindow(start=end - math.ceil(days * 24) * _HOUR, end=end, period=_HOUR)


def load_history(
    cloudwatch: Any,
    *,
    service: str,
    cluster: str,
    window: MetricWindow,
    current_capacity: float,
) -> tuple[Series, Series]:
    """Hourly load maxima and minima of one cluster over ``window``, in one batched GetMetricData call.

    Redshift: CPU maximum/minimum x the published capacity of that hour (the current capacity
    where none was published). Aurora Serverless v2: ``ServerlessDatabaseCapacity`` x 100.
    """
    if service == "redshift":
        dims: tuple[tuple[str, str], ...] = (("ClusterIdentifier", cluster),)
        high = MetricKey("AWS/Redshift", "CPUUtilization", dims, "Maximum", window)
        low = MetricKey("AWS/Redshift", "CPUUtilization", dims, "Minimum", window)
        capacity = MetricKey(DECISION_NAMESPACE, CAPACITY_METRIC, (("Cluster", cluster),), "Maximum", window)
        data = fetch_metric_series(cloudwatch, [high, low, capacity])
        sizes: Mapping[float, float] = dict(data.get(capacity, []))
        known = sorted(sizes.items())

        def size(stamp: float) -> float:
            if stamp in sizes:
                return sizes[stamp]
            before = [v for t, v in known if t <= stamp]
            return before[-1] if before else current_capacity

        return (
            [(t, v * size(t)) for t, v in data.get(high, [])],
            [(t, v * size(t)) for t, v in data.get(low, [])],
        )
    dims = (("DBClusterIdentifier", cluster),)
    high = MetricKey("AWS/RDS", "ServerlessDatabaseCapacity", dims, "Maximum", window)
    low = MetricKey("AWS/RDS", "ServerlessDatabaseCapacity", dims, "Minimum", window)
    data = fetch_metric_series(cloudwatch, [high, low])
    return [(t, v * 100) for t, v in data.get(high, [])], [(t, v * 100) for t, v in data.get(low, [])]
