"""The advisor's CloudWatch reads for 200 clusters x 14 days: batched GetMetricData vs one call per metric per cluster.

What is measured: ``dbscale.core.advisor.usage.measure`` (the advisor's metric step, through the
scaling checks' batcher) against the seed's way, one ``GetMetricStatistics`` call per metric per
cluster, for the same metrics, window (14 days) and period (1 hour), in the same run. Both go
through a real boto3 CloudWatch client (parameter validation, serialization, events); the answers
come from an in-memory CloudWatch registered on ``before-call`` (moto answers GetMetricData in time
quadratic in the datapoints, which would measure moto, not dbscale). Each fleet is random (seeded):
Redshift and Aurora clusters in random shapes, some Serverless v2.

Two wall-time figures are printed: the client alone (the fake answers at once), and a model of a
real region with a fixed per-call latency (``--latency-ms``, default 25 ms: an assumption, not a
measurement). The batched and the per-metric answers are checked to be the same numbers.

    .venv/bin/python bench/advise_fleet.py [--clusters 200] [--days 14] [--runs 5] [--latency-ms 25]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class FakeCloudWatch:
    """Answers GetMetricData and GetMetricStatistics from deterministic hourly series, after ``latency``."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: dict[str, int] = {"GetMetricData": 0, "GetMetricStatistics": 0}
        self._pending: dict[str, Any] = {}

    @staticmethod
    def value(namespace: str, metric: str, dims: tuple[tuple[str, str], ...], epoch: float) -> float:
        seed = hash((namespace, metric, dims)) % 1000
        hour = int(epoch // 3600)
        return float((seed * 7 + hour * 13) % 97)

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.cloudwatch.*", self._remember)
        client.meta.events.register("before-call.cloudwatch.*", self._answer)

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending[model.name] = params

    def _series(
        self, metric: dict[str, Any], start: datetime, end: datetime, period: int
    ) -> list[tuple[datetime, float]]:
        dims = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        first = math.ceil(start.timestamp() / period) * period
        return [
            (datetime.fromtimestamp(t, tz=timezone.utc), self.value(metric["Namespace"], metric["MetricName"], dims, t))
            for t in range(int(first), int(end.timestamp()), period)
        ]

    def _answer(self, model: Any, **_: Any) -> Any:
        params = self._pending.pop(model.name)
        self.calls[model.name] += 1
        if self.latency:
            time.sleep(self.latency)
        http = type("Http", (), {"status_code": 200, "headers": {}})()
        if model.name == "GetMetricData":
            results = []
            for q in params["MetricDataQueries"]:
                stat = q["MetricStat"]
                points = self._series(stat["Metric"], params["StartTime"], params["EndTime"], stat["Period"])
                results.append(
                    {
                        "Id": q["Id"],
                        "Label": stat["Metric"]["MetricName"],
                        "Timestamps": [p[0] for p in points],
                        "Values": [p[1] for p in points],
                        "StatusCode": "Complete",
                    }
                )
            return http, {"MetricDataResults": results, "Messages": []}
        metric = {k: params[k] for k in ("Namespace", "MetricName", "Dimensions")}
        points = self._series(metric, params["StartTime"], params["EndTime"], params["Period"])
        return http, {"Label": params["MetricName"], "Datapoints": [{"Timestamp": t, "Average": v} for t, v in points]}


def fleet(count: int, rng: random.Random) -> list[Any]:
    from dbscale.core.advisor.fleet import ClusterInfo

    clusters = []
    for i in range(count):
        if rng.random() < 0.5:
            node_type = rng.choice(["ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge", "dc2.large"])
            clusters.append(
                ClusterInfo("redshift", "us-east-1", f"rs-{i}", "redshift", "available", node_type, rng.randint(2, 16))
            )
        else:
            serverless = rng.random() < 0.2
            cls = "db.serverless" if serverless else rng.choice(["db.r6g.large", "db.r6g.xlarge", "db.r7g.2xlarge"])
            instances = tuple(f"au-{i}-{n}" for n in range(1 + rng.randint(0, 2)))
            clusters.append(
                ClusterInfo(
                    "aurora",
                    "us-east-1",
                    f"au-{i}",
                    rng.choice(["aurora-postgresql", "aurora-mysql"]),
                    "available",
                    instance_class=cls,
                    instances=instances,
                    instance_classes=(cls,) * len(instances),
                    acu=(0.0, 16.0) if serverless else None,
                )
            )
    return clusters


def per_metric(cloudwatch: Any, clusters: list[Any], days: float, now: float) -> dict[tuple[str, str], list[float]]:
    """The seed's way: one GetMetricStatistics call per metric per cluster."""
    from dbscale.core.advisor.usage import _keys, window

    span = window(now, days)
    found = {}
    for c in clusters:
        for name, key in _keys(c, span).items():
            answer = cloudwatch.get_metric_statistics(
                Namespace=key.namespace,
                MetricName=key.metric,
                Dimensions=[{"Name": n, "Value": v} for n, v in key.dimensions],
                StartTime=datetime.fromtimestamp(span.start, tz=timezone.utc),
                EndTime=datetime.fromtimestamp(span.end, tz=timezone.utc),
                Period=span.period,
                Statistics=["Average"],
            )
            points = sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])
            found[(c.name, name)] = [p["Average"] for p in points]
    return found


def one_run(clusters: list[Any], days: float, latency: float) -> dict[str, Any]:
    import boto3

    from dbscale.core.advisor.usage import _keys, measure, window
    from dbscale.core.aws import client
    from dbscale.core.clock import SYSTEM_CLOCK

    session = boto3.Session(region_name="us-east-1")
    cloudwatch = client("cloudwatch", session)
    fake = FakeCloudWatch(latency)
    fake.attach(cloudwatch)
    from dbscale.core.scaling import ProvisionScaling

    span = window(SYSTEM_CLOCK.now(), days)
    keys = [k for c in clusters for k in _keys(c, span).values()]
    start = time.perf_counter()
    ProvisionScaling(session=session)._fetch_metrics(keys)  # the reads alone, as the baseline does
    batched_s = time.perf_counter() - start
    batched_calls = fake.calls["GetMetricData"]
    start = time.perf_counter()
    usages = measure(clusters, days=days, session=session, clock=SYSTEM_CLOCK)  # reads + usage figures
    measure_s = time.perf_counter() - start
    start = time.perf_counter()
    baseline = per_metric(cloudwatch, clusters, days, SYSTEM_CLOCK.now())
    baseline_s = time.perf_counter() - start
    # Same numbers both ways: the CPU series of every cluster.
    for c, u in zip(clusters, usages, strict=True):
        if "cpu" in _keys(c, span):
            expected = baseline[(c.name, "cpu")]
            got = [u.hourly[h][0] for h in sorted(u.hourly)]
            if got != expected:
                raise SystemExit(f"batched and per-metric reads differ for {c.name}")
    return {
        "metrics": len(baseline),
        "batched_calls": batched_calls,
        "baseline_calls": fake.calls["GetMetricStatistics"],
        "batched_s": batched_s,
        "baseline_s": baseline_s,
        "measure_s": measure_s,
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=25.0)
    args = parser.parse_args()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    rng = random.Random(15)
    print(f"{args.clusters} clusters x {args.days:g} days of hourly data, {args.runs} random fleets (seed 15)")
    runs = [one_run(fleet(args.clusters, rng), args.days, 0.0) for _ in range(args.runs)]
    call_ratio = [r["baseline_calls"] / r["batched_calls"] for r in runs]
    wall_ratio = [r["baseline_s"] / r["batched_s"] for r in runs]
    metrics = [r["metrics"] for r in runs]
    print(f"metrics per fleet: mean {statistics.mean(metrics):.0f}, min {min(metrics)}, max {max(metrics)}")
    print(
        f"GetMetricData calls (batched): {sorted({r['batched_calls'] for r in runs})}; "
        f"one call per metric per cluster: mean {statistics.mean(r['baseline_calls'] for r in runs):.0f}"
    )
    print(
        f"calls ratio (baseline / batched): mean {statistics.mean(call_ratio):.0f}x, p95 {p95(call_ratio):.0f}x, max {max(call_ratio):.0f}x"
    )
    print(
        f"client wall time, fake answers at once: batched mean {statistics.mean(r['batched_s'] for r in runs):.2f} s, "
        f"baseline mean {statistics.mean(r['baseline_s'] for r in runs):.2f} s; ratio mean "
        f"{statistics.mean(wall_ratio):.1f}x, p95 {p95(wall_ratio):.1f}x, max {max(wall_ratio):.1f}x "
        f"(the full usage step, reads + figures: mean {statistics.mean(r['measure_s'] for r in runs):.2f} s)"
    )
    modeled = one_run(fleet(args.clusters, rng), args.days, args.latency_ms / 1000)
    print(
        f"with {args.latency_ms:g} ms per call (assumed latency, not measured): batched {modeled['batched_s']:.2f} s "
        f"({modeled['batched_calls']} calls), baseline {modeled['baseline_s']:.2f} s ({modeled['baseline_calls']} calls): "
        f"{modeled['baseline_s'] / modeled['batched_s']:.0f}x"
    )
    return 0 if min(call_ratio) >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
