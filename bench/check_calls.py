"""CloudWatch API calls for 100 clusters x every scaling check: batched GetMetricData vs one call per metric.

Runs against moto (no AWS account): 50 Redshift clusters and 50 Aurora MySQL clusters (a writer
and a reader each), every check on every cluster through ``ProvisionScaling.evaluate``. Counts the
API calls each service receives and compares the CloudWatch calls with the seed's way, one
``GetMetricStatistics`` call per metric per cluster. Exits non-zero when the ratio is under 50x.

    .venv/bin/python bench/check_calls.py
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REDSHIFT_CLUSTERS = 50
AURORA_CLUSTERS = 50
TARGET_RATIO = 50.0
END = datetime.fromtimestamp(time.time() // 60 * 60, tz=timezone.utc)  # logs must be recent


def main() -> int:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)

    import boto3
    from moto import mock_aws

    from dbscale.core import ProvisionScaling
    from dbscale.core.limits import GIB
    from dbscale.core.scaling import Check
    from tests.fakes import athena as fake_athena
    from tests.fakes import redshift_data as fake_data
    from tests.fakes.clock import FakeClock
    from tests.fakes.cloudwatch import enforce_limits, minutes_before, put_constant

    with mock_aws(), fake_athena.install(), fake_data.install() as history:
        session = boto3.Session(region_name="us-east-1")
        cw, rs, rds, logs = (session.client(s) for s in ("cloudwatch", "redshift", "rds", "logs"))
        stamps = minutes_before(END, 2)
        athena = session.client("athena")
        fake_athena.add_query_execution(
            athena,
            catalog="sales",
            data_scanned_bytes=10**12,
            submitted=END - timedelta(minutes=5),
            completed=END - timedelta(minutes=4),
        )

        checks: list[Check] = []
        for i in range(REDSHIFT_CLUSTERS):
            name = f"rs-{i}"
            rs.create_cluster(
                ClusterIdentifier=name,
                NodeType="ra3.xlplus",
                NumberOfNodes=2,
                MasterUsername="admin",
                MasterUserPassword="Passw0rd1",
                ClusterType="multi-node",
            )
            put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": name}, stamps, 40 + i % 50)
            put_constant(cw, "AWS/Redshift", "PercentageDiskSpaceUsed", {"ClusterIdentifier": name}, stamps, 60)
            history.add_query(name, elapsed_secs=12, end_time=END - timedelta(minutes=1))
            history.add_query(name, elapsed_secs=2, end_time=END - timedelta(minutes=1), spilled_local_blocks=4)
            checks += [
                Check.redshift_utilization(name, True, "cpu", 80, 10),
                Check.redshift_utilization(name, True, "memory", 10, 10),
                Check.redshift_utilization(name, False, "disk", 30, 10),
                Check.redshift_slow_percentage(name, 10, 10),
                Check.can_boot_redshift("sales", "ra3.xlplus", 2, 10),
            ]
        for i in range(AURORA_CLUSTERS):
            name = f"au-{i}"
            rds.create_db_cluster(
                DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="Passw0rd1"
            )
            for n in range(2):
                instance = f"{name}-{n}"
                rds.create_db_instance(
                    DBInstanceIdentifier=instance,
                    DBClusterIdentifier=name,
                    Engine="aurora-mysql",
                    DBInstanceClass="db.r6g.large",
                )
                dims = {"DBInstanceIdentifier": instance}
                for metric, value in (
                    ("CPUUtilization", 50),
                    ("FreeableMemory", 6 * GIB),
                    ("SelectLatency", 3),
                    ("SelectThroughput", 100),
                    ("DMLLatency", 9),
                    ("DMLThroughput", 10),
                ):
                    put_constant(cw, "AWS/RDS", metric, dims, stamps, value)
            put_constant(cw, "AWS/RDS", "VolumeBytesUsed", {"DBClusterIdentifier": name}, stamps, 10 * GIB)
            put_constant(cw, "AWS/RDS", "AuroraVolumeBytesLeftTotal", {"DBClusterIdentifier": name}, stamps, 90 * GIB)
            group = f"/aws/rds/cluster/{name}/slowquery"
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=f"{name}-0")
            logs.put_log_events(
                logGroupName=group,
                logStreamName=f"{name}-0",
                logEvents=[
                    {
                        "timestamp": int((END - timedelta(minutes=2)).timestamp() * 1000),
                        "message": f"# Query_time: {t}  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1",
                    }
                    for t in (0.1, 3.5)
                ],
            )
            checks += [
                Check.aurora_utilization(name, True, "cpu", 80, 10),
                Check.aurora_utilization(name, False, "memory", 40, 10, node_type="db.r6g.large"),
                Check.aurora_utilization(name, True, "disk", 80, 10),
                Check.aurora_slow(name, 20, 10),
                Check.aurora_slow_percentage(name, 1, 10),
            ]

        calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            calls[f"{model.service_model.service_name}:{model.name}"] += 1

        session.events.register("before-call.*.*", count)
        ps = ProvisionScaling(session=session, clock=FakeClock(END.timestamp()))
        started = time.perf_counter()
        with enforce_limits() as metrics_per_call:
            results = ps.evaluate(checks)
        elapsed = time.perf_counter() - started
        metrics_requested = sum(metrics_per_call)

    answered = sum(r.verdict is not None for r in results)
    cloudwatch_calls = sum(n for key, n in calls.items() if key.startswith("cloudwatch:"))
    # The seed's way: one GetMetricStatistics call per metric per cluster, i.e. one per metric series.
    naive_calls = metrics_requested
    ratio = naive_calls / cloudwatch_calls if cloudwatch_calls else float("inf")

    print(f"clusters: {REDSHIFT_CLUSTERS} Redshift + {AURORA_CLUSTERS} Aurora (writer + reader)")
    print(f"checks: {len(checks)} ({answered} answered), evaluated in {elapsed:.2f} s against moto")
    print(f"metric series read: {metrics_requested}")
    print(f"CloudWatch calls, one per metric per cluster: {naive_calls}")
    print(f"CloudWatch calls, batched GetMetricData:      {cloudwatch_calls}")
    print(f"ratio: {ratio:.0f}x fewer (target: at least {TARGET_RATIO:.0f}x)")
    print("all API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    if ratio < TARGET_RATIO:
        print("FAIL: below target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
