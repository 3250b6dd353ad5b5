"""A small fleet with hourly metric series, written through boto3 (in-process moto or moto_server).

Shared by the advisor tests, the CLI end-to-end test and ``bench/advise_fleet.py``. Every series
is one datapoint per hour (what the advisor reads: hourly averages).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes.cloudwatch import put_series

# Office hours: 08:00-20:00 UTC, Monday to Friday.
Load = Callable[[datetime], tuple[float, float]]
"""Hour -> (CPU percent, connections)."""


def office_hours(busy_cpu: float, busy_connections: float = 5.0) -> Load:
    def load(moment: datetime) -> tuple[float, float]:
        if moment.weekday() < 5 and 8 <= moment.hour < 20:
            return busy_cpu, busy_connections
        return 2.0, 0.0

    return load


def steady(cpu: float, connections: float = 10.0) -> Load:
    return lambda moment: (cpu, connections)


def hours_before(end: datetime, count: int) -> list[datetime]:
    """``count`` whole hours ending at the hour before ``end`` (oldest first)."""
    top = end.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=count - i) for i in range(count)]


def create_redshift(redshift: Any, name: str, node_type: str, nodes: int, *, managed: bool = True) -> None:
    tags = [{"Key": "dbscale:created-by", "Value": "dbscale"}] if managed else []
    redshift.create_cluster(
        ClusterIdentifier=name,
        NodeType=node_type,
        NumberOfNodes=nodes,
        ClusterType="multi-node" if nodes > 1 else "single-node",
        MasterUsername="admin",
        MasterUserPassword="Password1",
        Tags=tags + [{"Key": "aws:cloudformation:stack-name", "Value": "demo-stack"}] if managed else tags,
    )


def create_aurora(
    rds: Any, name: str, instance_class: str, *, readers: int = 0, engine: str = "aurora-postgresql", acu: Any = None
) -> list[str]:
    kwargs: dict[str, Any] = {}
    if acu is not None:
        kwargs["ServerlessV2ScalingConfiguration"] = {"MinCapacity": acu[0], "MaxCapacity": acu[1]}
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=engine,
        MasterUsername="postgres",
        MasterUserPassword="Password1",
        Tags=[{"Key": "dbscale:created-by", "Value": "dbscale"}],
        **kwargs,
    )
    ids = [f"{name}-{i + 1}" for i in range(1 + readers)]
    for i, instance in enumerate(ids):
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=name,
            DBInstanceClass=instance_class,
            Engine=engine,
            PromotionTier=0 if i == 0 else 1,
        )
    return ids


def put_redshift_load(cloudwatch: Any, name: str, stamps: list[datetime], load: Load, disk: float = 30.0) -> None:
    dims = {"ClusterIdentifier": name}
    points = [(s, load(s)) for s in stamps]
    put_series(cloudwatch, "AWS/Redshift", "CPUUtilization", dims, [(s, v[0]) for s, v in points], unit="Percent")
    put_series(cloudwatch, "AWS/Redshift", "DatabaseConnections", dims, [(s, v[1]) for s, v in points], unit="Count")
    put_series(cloudwatch, "AWS/Redshift", "PercentageDiskSpaceUsed", dims, [(s, disk) for s in stamps], unit="Percent")


def put_aurora_load(
    cloudwatch: Any, name: str, writer: str, stamps: list[datetime], load: Load, freeable_bytes: float
) -> None:
    points = [(s, load(s)) for s in stamps]
    put_series(
        cloudwatch, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": writer}, [(s, v[0]) for s, v in points]
    )
    put_series(
        cloudwatch, "AWS/RDS", "FreeableMemory", {"DBInstanceIdentifier": writer}, [(s, freeable_bytes) for s in stamps]
    )
    put_series(
        cloudwatch, "AWS/RDS", "DatabaseConnections", {"DBClusterIdentifier": name}, [(s, v[1]) for s, v in points]
    )


def now_utc() -> datetime:
    return datetime.now(tz=timezone.utc)
