"""The cost advisor: which shape is cheapest for each cluster's workload, and how much each change saves.

    from dbscale.core.advisor import advise
    fleet = advise(["us-east-1", "eu-west-1"], days=14)
    for cluster in fleet.clusters:
        print(cluster.usage.cluster.name, cluster.best)

``advise`` finds every Redshift provisioned and Aurora cluster in the regions, reads their
utilization with batched ``GetMetricData`` calls, and recommends right-sizing, a pause schedule,
Serverless (Aurora v2 or Redshift), reserved capacity and the cheapest region, each with the monthly
saving and the reason in numbers. Prices come from :mod:`dbscale.core.pricing`; the result says which
source and date. :func:`~dbscale.core.advisor.report.html_report` renders it as one HTML file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..clock import SYSTEM_CLOCK, Clock, utc_datetime
from ..errors import InvalidRequest
from ..pricing import HOURS_PER_MONTH, PriceBook
from .fleet import ClusterInfo, SessionFactory, all_regions, discover, region_session
from .recommend import recommend
from .recommendation import Recommendation
from .schedule import time_zone
from .usage import ClusterUsage, Stats, measure

__all__ = [
    "ClusterAdvice",
    "ClusterInfo",
    "ClusterUsage",
    "FleetAdvice",
    "Recommendation",
    "Stats",
    "advise",
    "all_regions",
    "discover",
]


@dataclass(frozen=True)
class ClusterAdvice:
    """One cluster: its usage, cost now per month, and its recommendations (biggest saving first)."""

    usage: ClusterUsage
    monthly_usd: float | None
    recommendations: tuple[Recommendation, ...]

    @property
    def best(self) -> Recommendation | None:
        """The recommendation that saves most, when one saves anything."""
        saving = [r for r in self.recommendations if r.monthly_saving_usd > 0]
        return saving[0] if saving else None

    def to_dict(self, prices: PriceBook) -> dict[str, Any]:
        best = self.best
        return {
            "cluster": self.usage.cluster.to_dict(prices),
            "monthly_usd_now": None if self.monthly_usd is None else round(self.monthly_usd, 2),
            "best_monthly_saving_usd": round(best.monthly_saving_usd, 2) if best else 0.0,
            "usage": self.usage.to_dict(),
            "recommendations": [r.to_dict() for r in self.recommendations],
        }


@dataclass(frozen=True)
class FleetAdvice:
    """The advice for a fleet, with the window, the price sources and the CloudWatch calls it took."""

    clusters: tuple[ClusterAdvice, ...]
    regions: tuple[str, ...]
    days: float
    generated_at: str
    prices: PriceBook
    cloudwatch_calls: int
    metrics_read: int

    @property
    def monthly_saving_usd(self) -> float:
        """Sum over clusters of each one's best saving (savings within a cluster overlap, so not summed)."""
        return sum(c.best.monthly_saving_usd for c in self.clusters if c.best)

    @property
    def monthly_usd(self) -> float:
        return sum(c.monthly_usd or 0.0 for c in self.clusters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "regions": list(self.regions),
            "days": self.days,
            "prices": {"summary": self.prices.summary(), "provenance": self.prices.provenance},
            "cloudwatch_get_metric_data_calls": self.cloudwatch_calls,
            "metrics_read": self.metrics_read,
            "monthly_usd_now": round(self.monthly_usd, 2),
            "monthly_saving_usd": round(self.monthly_saving_usd, 2),
            "clusters": [c.to_dict(self.prices) for c in self.clusters],
        }


def advise(
    regions: Iterable[str],
    *,
    days: float = 14,
    prices: PriceBook | None = None,
    sessions: SessionFactory = region_session,
    tags: dict[str, str] | None = None,
    clock: Clock | None = None,
    tz: str | None = None,
) -> FleetAdvice:
    """Advise on every Redshift provisioned and Aurora cluster in ``regions`` carrying all ``tags``.

    ``days`` (default 14, at most 63: CloudWatch keeps hourly data that long at full detail) is the
    window, in whole hours up to the last full hour. ``prices`` defaults to
    :func:`dbscale.core.pricing.price_book` for the regions (Price List API, cache, snapshot).
    ``tz`` is the IANA time zone of the pause schedules' crontab lines (default UTC).
    """
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 1 <= days <= 63:
        raise InvalidRequest(f"days must be between 1 and 63, got {days!r}", field="days")
    time_zone(tz)  # an unknown zone is refused before any AWS call
    regions = tuple(dict.fromkeys(regions))
    if not regions:
        raise InvalidRequest("name at least one region", field="regions")
    clock = clock or SYSTEM_CLOCK
    clusters = discover(regions, sessions=sessions, tags=tags)
    if prices is None:
        from ..pricing import price_book

        prices = price_book(set(regions) | {c.region for c in clusters}, session=sessions(regions[0]))
    calls = 0
    metrics = 0
    advice: list[ClusterAdvice] = []
    for region in regions:
        in_region = [c for c in clusters if c.region == region]
        if not in_region:
            continue
        session = sessions(region)
        counter = _CallCounter()
        cloudwatch = _cloudwatch(session)
        cloudwatch.meta.events.register("provide-client-params.cloudwatch.GetMetricData", counter, unique_id=counter.id)
        try:
            usages = measure(in_region, days=days, session=session, clock=clock)
        finally:
            cloudwatch.meta.events.unregister("provide-client-params.cloudwatch.GetMetricData", unique_id=counter.id)
        calls += counter.calls
        metrics += counter.metrics
        for usage in usages:
            hourly = usage.cluster.hourly_usd(prices)
            if usage.cluster.serverless and usage.acu is not None:
                acu_price = prices.acu_hour(region, usage.cluster.engine) or 0.0
                hourly = usage.acu.mean * acu_price * max(1, len(usage.cluster.instances))
            # A cluster that published nothing was paused all along, or its metrics are missing:
            # then bill it as running now, as AWS would.
            running = usage.running_fraction if usage.hourly else (0.0 if usage.cluster.paused else 1.0)
            monthly = None if hourly is None else hourly * HOURS_PER_MONTH * running
            advice.append(ClusterAdvice(usage, monthly, tuple(recommend(usage, prices, tz=tz))))
    return FleetAdvice(
        tuple(advice),
        regions,
        float(days),
        utc_datetime(clock).strftime("%Y-%m-%dT%H:%M:%SZ"),
        prices,
        calls,
        metrics,
    )


class _CallCounter:
    """Counts GetMetricData calls and the metrics they asked for (a ``provide-client-params`` handler)."""

    _next = 0

    def __init__(self) -> None:
        _CallCounter._next += 1
        self.id = f"dbscale-advisor-{_CallCounter._next}"
        self.calls = 0
        self.metrics = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        self.metrics += len(params.get("MetricDataQueries", []))


def _cloudwatch(session: Any) -> Any:
    from ..aws import client

    return client("cloudwatch", session)
