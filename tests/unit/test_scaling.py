"""The scaling checks against moto, with realistic metric series and exact figures.

Each test writes what AWS would publish (one datapoint per minute per metric) and asserts the
number a person can recompute by hand. Prices and memory sizes come from dbscale.core.limits, so
the expected figures follow the table; the comments give today's numbers.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from dbscale.core import ProvisionScaling
from dbscale.core.errors import AwsError, ClusterNotFound, InvalidRequest
from dbscale.core.limits import (
    ATHENA_MIN_BYTES_PER_QUERY,
    ATHENA_USD_PER_TB,
    AURORA_INSTANCE_CLASSES,
    GIB,
    REDSHIFT_NODE_TYPES,
    SERVERLESS_V2_GIB_PER_ACU,
    TB,
)
from dbscale.core.scaling import (
    MAX_POINTS_PER_METRIC,
    NO_DATA,
    NO_DATA_PAUSED,
    REDSHIFT_SLOW_SQL,
    Check,
    CheckResult,
    aurora_slow_query_setup,
    metric_window,
)
from tests.fakes import athena as fake_athena
from tests.fakes import redshift_data as fake_data
from tests.fakes.clock import FakeClock
from tests.fakes.cloudwatch import enforce_limits, minutes_before, put_constant, put_series

REGION = "us-east-1"
END = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(), enforce_limits():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(END.timestamp())


@pytest.fixture
def cw(session):
    return session.client("cloudwatch")


def make_redshift(session, name: str = "rs", *, paused: bool = False) -> None:
    redshift = session.client("redshift")
    redshift.create_cluster(
        ClusterIdentifier=name,
        NodeType="ra3.xlplus",
        NumberOfNodes=2,
        MasterUsername="admin",
        MasterUserPassword="Passw0rd1",
        ClusterType="multi-node",
    )
    if paused:
        redshift.pause_cluster(ClusterIdentifier=name)


def make_aurora(
    session, name: str = "au", *, engine: str = "aurora-mysql", readers: int = 1, max_acu: float | None = None
) -> list[str]:
    rds = session.client("rds")
    extra = {"ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": max_acu}} if max_acu else {}
    rds.create_db_cluster(
        DBClusterIdentifier=name, Engine=engine, MasterUsername="admin", MasterUserPassword="Passw0rd1", **extra
    )
    instances = [f"{name}-{i}" for i in range(readers + 1)]
    for instance in instances:
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=name,
            Engine=engine,
            DBInstanceClass="db.serverless" if max_acu else "db.r6g.large",
        )
    return instances  # the writer first


def last(n: int) -> list[datetime]:
    """The n whole minutes that end the window ending at END."""
    return minutes_before(END, n)


# --- can_boot_redshift ----------------------------------------------------------------------


@pytest.fixture
def athena(session):
    with fake_athena.install():
        yield session.client("athena")


def test_can_boot_redshift_multiplies_bytes_by_price_per_tb_and_node_price_by_count(athena, session, clock):
    for scanned in (TB, 6 * 10**11, 4 * 10**11):  # 2 TB in 3 queries
        fake_athena.add_query_execution(
            athena, catalog="sales", data_scanned_bytes=scanned, submitted=END - 5 * MINUTE, completed=END - 4 * MINUTE
        )
    ps = ProvisionScaling(athena_catalog_name="sales", session=session, clock=clock)
    result = ps.can_boot_redshift_result(node_type="ra3.xlplus", node_count=2, window_minutes=10)

    price = REDSHIFT_NODE_TYPES["ra3.xlplus"].usd_per_node_hour
    assert result.value == pytest.approx(2 * ATHENA_USD_PER_TB)  # $10.00: bytes x $/TB, TB = 10**12
    assert result.threshold == pytest.approx(2 * price * 10 / 60)  # 2 x $1.086 x 10/60 = $0.362
    assert result.verdict is True
    assert result.datapoints == 3
    assert result.details["bytes_billed"] == 2 * TB
    assert result.comparison == ">=" and result.unit == "USD"
    assert "$10.00" in result.reason and "2 x ra3.xlplus" in result.reason
    assert ps.can_boot_redshift(node_type="ra3.xlplus", node_count=2, window_minutes=10) is True


def test_can_boot_redshift_counts_only_billed_queries_of_the_catalog_in_the_window(athena, session, clock):
    inside = {"submitted": END - 9 * MINUTE, "completed": END - 8 * MINUTE}
    add = fake_athena.add_query_execution
    add(athena, catalog="sales", data_scanned_bytes=10**11, **inside)  # counted
    add(athena, catalog="sales", data_scanned_bytes=10**11, state="CANCELLED", **inside)  # billed for its scan
    add(athena, catalog="other", data_scanned_bytes=TB, **inside)  # another catalog
    add(athena, catalog="sales", data_scanned_bytes=TB, state="FAILED", **inside)  # failed queries are free
    add(athena, catalog="sales", data_scanned_bytes=TB, statement_type="DDL", query="CREATE TABLE t (a int)", **inside)
    add(athena, catalog="sales", data_scanned_bytes=TB, submitted=END - 30 * MINUTE, completed=END - 11 * MINUTE)
    add(athena, catalog="sales", data_scanned_bytes=TB, submitted=END - MINUTE, completed=None, state="RUNNING")
    add(athena, catalog="sales", data_scanned_bytes=TB, workgroup="primary", submitted=END, completed=END)  # at end
    athena.create_work_group(Name="etl")
    add(athena, catalog="sales", data_scanned_bytes=TB, workgroup="etl", **inside)  # another workgroup

    ps = ProvisionScaling(athena_catalog_name="sales", session=session, clock=clock)
    result = ps.can_boot_redshift_result("ra3.xlplus", 2, 10)
    assert result.datapoints == 2
    assert result.details["bytes_billed"] == 2 * 10**11
    assert result.value == pytest.approx(2 * 10**11 / TB * ATHENA_USD_PER_TB)  # $1.00
    assert result.details["queries_free"] == 2  # the failed and the DDL query of the catalog


def test_can_boot_redshift_bills_at_least_10_mb_rounded_up_to_the_megabyte(athena, session, clock):
    for scanned in (1, 15_000_001, 0):
        fake_athena.add_query_execution(
            athena, catalog="sales", data_scanned_bytes=scanned, submitted=END - 3 * MINUTE, completed=END - 2 * MINUTE
        )
    result = ProvisionScaling("sales", session=session, clock=clock).can_boot_redshift_result("ra3.xlplus", 2, 10)
    billed = 2 * ATHENA_MIN_BYTES_PER_QUERY + 16_000_000
    assert result.details["bytes_billed"] == billed == 36_000_000
    assert result.value == pytest.approx(billed / TB * ATHENA_USD_PER_TB)
    assert result.verdict is False


def test_can_boot_redshift_reads_executions_in_batches_of_50(athena, session, clock):
    for _ in range(120):
        fake_athena.add_query_execution(
            athena, catalog="sales", data_scanned_bytes=10**10, submitted=END - 3 * MINUTE, completed=END - 2 * MINUTE
        )
    calls: list[str] = []
    session.events.register("before-call.athena.*", lambda model, **_: calls.append(model.name))
    result = ProvisionScaling("sales", session=session, clock=clock).can_boot_redshift_result("ra3.xlplus", 1, 60)
    assert result.datapoints == 120
    assert result.details["bytes_billed"] == 120 * 10**10
    assert calls.count("BatchGetQueryExecution") == 3


def test_can_boot_redshift_validates_its_arguments(session, clock):
    ps = ProvisionScaling("sales", session=session, clock=clock)
    with pytest.raises(InvalidRequest) as err:
        ps.can_boot_redshift("ra3.huge", 2, 10)
    assert err.value.field == "node_type"
    with pytest.raises(InvalidRequest):
        ps.can_boot_redshift("ra3.xlplus", 2, 0)
    with pytest.raises(InvalidRequest) as err:
        ProvisionScaling(session=session, clock=clock).can_boot_redshift("ra3.xlplus", 2, 10)
    assert err.value.field == "athena_catalog_name"


# --- Redshift utilization -------------------------------------------------------------------


def test_redshift_cpu_is_the_mean_of_the_windows_datapoints(session, cw, clock):
    make_redshift(session)
    values = [80, 82, 84, 86, 88, 90, 92, 94, 96, 98]
    put_series(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": "rs"}, zip(last(10), values, strict=True))
    # Outside the window, or another dimension set (a node, not the cluster): not counted.
    put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": "rs"}, [END - 11 * MINUTE, END], 0)
    put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": "rs", "NodeID": "Compute-0"}, last(10), 5)
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)

    result = ps.check_redshift_utilization_result(True, "cpu", 85, 10)
    assert result.value == pytest.approx(89.0)
    assert result.datapoints == 10
    assert result.verdict is True
    assert result.window_minutes == 10
    assert result.source.startswith("AWS/Redshift CPUUtilization (ClusterIdentifier=rs)")
    assert "89%" in result.reason and "overused" in result.reason
    assert ps.check_redshift_utilization(True, "cpu", 89, 10) is False  # not above: 89 is not > 89
    assert ps.check_redshift_utilization(False, "cpu", 90, 10) is True
    assert ps.check_redshift_utilization(False, "CPU", 89, 10) is False


def test_redshift_disk_reads_percentage_disk_space_used(session, cw, clock):
    make_redshift(session)
    put_series(
        cw,
        "AWS/Redshift",
        "PercentageDiskSpaceUsed",
        {"ClusterIdentifier": "rs"},
        zip(last(5), [40, 41, 42, 43, 44], strict=True),
    )
    result = ProvisionScaling(
        redshift_cluster_name="rs", session=session, clock=clock
    ).check_redshift_utilization_result(False, "disk", 50, 5)
    assert (result.value, result.datapoints, result.verdict) == (42.0, 5, True)


def test_a_paused_redshift_cluster_is_no_data_never_underused(session, cw, clock):
    make_redshift(session, paused=True)
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)
    for utilization_type in ("cpu", "memory", "disk"):
        result = ps.check_redshift_utilization_result(False, utilization_type, 40, 10)
        assert result.verdict is None and result.note == NO_DATA_PAUSED and result.paused
        assert "paused" in result.reason
    assert ps.check_redshift_utilization(False, "cpu", 40, 10) is None
    assert ps.get_redshift_slow_percentage(10, 10) is None


def test_a_running_redshift_cluster_without_datapoints_is_no_data(session, clock):
    make_redshift(session)
    result = ProvisionScaling(
        redshift_cluster_name="rs", session=session, clock=clock
    ).check_redshift_utilization_result(True, "cpu", 90, 10)
    assert (result.verdict, result.value, result.note, result.datapoints) == (None, None, NO_DATA, 0)


def test_a_missing_redshift_cluster_raises(session, clock):
    with pytest.raises(ClusterNotFound):
        ProvisionScaling(redshift_cluster_name="nope", session=session, clock=clock).check_redshift_utilization(
            True, "cpu", 90, 10
        )


def test_utilization_type_must_be_cpu_memory_or_disk(session, clock):
    ps = ProvisionScaling(redshift_cluster_name="rs", aurora_cluster_name="au", session=session, clock=clock)
    with pytest.raises(InvalidRequest) as err:
        ps.check_redshift_utilization(True, "network", 90, 10)
    assert err.value.field == "utilization_type"
    with pytest.raises(InvalidRequest) as err:
        ps.check_aurora_utilization(True, "memory", 90, 10, node_type="db.r9z.huge")
    assert err.value.field == "node_type"


# --- Redshift through the Data API ----------------------------------------------------------


@pytest.fixture
def history(session):
    with fake_data.install() as h:
        yield h


def test_redshift_slow_percentage_counts_queries_one_by_one(session, history, clock):
    make_redshift(session)
    ended = END - 2 * MINUTE
    for secs in (1, 2, 3, 9.999, 10, 10.5, 60):  # 10 s is not "longer than" 10 s
        history.add_query("rs", elapsed_secs=secs, end_time=ended)
    history.add_query("rs", elapsed_secs=30, end_time=ended, status="canceled")  # finished, slow
    history.add_query("rs", elapsed_secs=99, end_time=END - 11 * MINUTE)  # before the window
    history.add_query("rs", elapsed_secs=99, end_time=ended, status="running")  # not finished
    history.add_query("rs", elapsed_secs=99, end_time=ended, query_text="/* dbscale-check */ SELECT 1")  # ours
    history.add_query("other", elapsed_secs=99, end_time=ended)  # another cluster
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)

    result = ps.get_redshift_slow_percentage_result(10, 10)
    assert result.datapoints == 8
    assert result.details["slow_queries"] == 3
    assert result.value == pytest.approx(37.5)  # 3 of 8
    assert result.verdict is True  # any slow query (percent_threshold 0)
    assert "3 of the 8 queries" in result.reason
    assert ps.get_redshift_slow_percentage(running_time_threshold_secs=10, window_minutes=10) == pytest.approx(37.5)
    assert ps.get_redshift_slow_percentage_result(10, 10, percent_threshold=40).verdict is False

    statement = history.statements[0]
    assert statement["sql"] == REDSHIFT_SLOW_SQL
    assert {p["name"]: p["value"] for p in statement["parameters"]} == {
        "window_start": "2024-05-01 11:50:00",
        "window_end": "2024-05-01 12:00:00",
        "threshold_us": "10000000",
    }
    assert statement["database"] == "dev" and statement["db_user"] == "admin"
    assert clock.sleeps  # it waited for the statement to finish


def test_redshift_slow_percentage_without_queries_is_no_data(session, history, clock):
    make_redshift(session)
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)
    result = ps.get_redshift_slow_percentage_result(10, 10)
    assert (result.value, result.verdict, result.note) == (None, None, NO_DATA)
    assert ps.get_redshift_slow_percentage(10, 10) is None


def test_a_failed_statement_raises_with_the_aws_message(session, history, clock):
    make_redshift(session)
    history.fail_with = "permission denied for relation sys_query_history"
    with pytest.raises(AwsError, match="permission denied"):
        ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock).get_redshift_slow_percentage(10, 10)


def test_the_data_api_uses_the_given_credentials(session, history, clock):
    make_redshift(session)
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-abc"
    ps = ProvisionScaling(
        redshift_cluster_name="rs",
        session=session,
        clock=clock,
        redshift_database="analytics",
        redshift_secret_arn=secret,
    )
    ps.get_redshift_slow_percentage(10, 10)
    assert history.statements[0]["database"] == "analytics"
    assert history.statements[0]["secret_arn"] == secret


def test_redshift_memory_is_the_share_of_queries_that_spilled_to_disk(session, history, clock):
    make_redshift(session)
    ended = END - MINUTE
    history.add_query("rs", elapsed_secs=5, end_time=ended, spilled_local_blocks=120)
    history.add_query("rs", elapsed_secs=5, end_time=ended, spilled_remote_blocks=3)
    for _ in range(6):
        history.add_query("rs", elapsed_secs=1, end_time=ended)
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)
    result = ps.check_redshift_utilization_result(True, "memory", 20, 10)
    assert result.value == pytest.approx(25.0)  # 2 of 8 queries spilled
    assert (result.datapoints, result.verdict) == (8, True)
    assert "spilled" in result.source and "no memory metric" in result.source
    assert ps.check_redshift_utilization(False, "memory", 20, 10) is False


# --- Aurora utilization ---------------------------------------------------------------------


def test_aurora_cpu_is_the_busiest_instance(session, cw, clock):
    writer, reader = make_aurora(session)
    put_series(
        cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": writer}, zip(last(4), [85, 90, 95, 90], strict=True)
    )
    put_series(
        cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": reader}, zip(last(4), [20, 30, 40, 30], strict=True)
    )
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)
    result = ps.check_aurora_utilization_result(True, "cpu", 80, 10)
    assert result.value == pytest.approx(90.0)
    assert result.details["per_instance"] == {writer: pytest.approx(90.0), reader: pytest.approx(30.0)}
    assert (result.datapoints, result.verdict) == (8, True)
    assert ps.check_aurora_utilization(False, "cpu", 50, 10) is False  # the writer is not underused


def test_aurora_memory_is_used_share_of_the_instance_class_memory(session, cw, clock):
    writer, reader = make_aurora(session)
    put_constant(cw, "AWS/RDS", "FreeableMemory", {"DBInstanceIdentifier": writer}, last(10), 4 * GIB, unit="Bytes")
    put_constant(cw, "AWS/RDS", "FreeableMemory", {"DBInstanceIdentifier": reader}, last(10), 12 * GIB, unit="Bytes")
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)
    result = ps.check_aurora_utilization_result(False, "memory", 40, 10, node_type="db.r6g.large")
    memory = AURORA_INSTANCE_CLASSES["db.r6g.large"].memory_gib  # 16 GiB
    assert result.value == pytest.approx(100 * (1 - 4 / memory))  # 4 GiB free of 16 GiB: 75% used
    assert result.details["per_instance"][reader] == pytest.approx(100 * (1 - 12 / memory))  # 25%
    assert result.verdict is False  # the writer is 75% used: not underused
    assert ps.check_aurora_utilization(True, "memory", 70, 10, "db.r6g.large") is True


def test_aurora_serverless_v2_memory_is_measured_against_the_maximum_acus(session, cw, clock):
    writer, _reader = make_aurora(session, max_acu=8)
    put_constant(cw, "AWS/RDS", "FreeableMemory", {"DBInstanceIdentifier": writer}, last(5), 12 * GIB)
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)
    result = ps.check_aurora_utilization_result(False, "memory", 40, 5, node_type="db.serverless")
    capacity = 8 * SERVERLESS_V2_GIB_PER_ACU  # 16 GiB
    assert result.value == pytest.approx(100 * (1 - 12 / capacity))  # 25%
    assert result.details["capacity_bytes"] == capacity * GIB
    assert (result.datapoints, result.verdict) == (5, True)


def test_aurora_disk_is_the_used_share_of_the_cluster_volume(session, cw, clock):
    make_aurora(session)
    put_constant(cw, "AWS/RDS", "VolumeBytesUsed", {"DBClusterIdentifier": "au"}, last(3), 30 * GIB)
    put_constant(cw, "AWS/RDS", "AuroraVolumeBytesLeftTotal", {"DBClusterIdentifier": "au"}, last(3), 90 * GIB)
    result = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock).check_aurora_utilization_result(
        True, "disk", 20, 10
    )
    assert (result.value, result.datapoints, result.verdict) == (pytest.approx(25.0), 3, True)


def test_a_stopped_aurora_cluster_is_no_data_never_underused(session, clock):
    make_aurora(session)
    session.client("rds").stop_db_cluster(DBClusterIdentifier="au")
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)
    for utilization_type in ("cpu", "memory", "disk"):
        result = ps.check_aurora_utilization_result(False, utilization_type, 40, 10, "db.r6g.large")
        assert (result.verdict, result.note) == (None, NO_DATA_PAUSED)
    assert ps.is_aurora_slow(100, 10) is None
    assert ps.get_aurora_slow_percentage(1, 10) is None


# --- Aurora latency -------------------------------------------------------------------------


def put_latency(cw, instance: str, metric: str, latency_ms: float, per_second: float, minutes: int = 5) -> None:
    throughput = metric.replace("Latency", "Throughput")
    put_constant(cw, "AWS/RDS", metric, {"DBInstanceIdentifier": instance}, last(minutes), latency_ms)
    put_constant(cw, "AWS/RDS", throughput, {"DBInstanceIdentifier": instance}, last(minutes), per_second)


def test_aurora_mysql_latency_is_weighted_by_throughput_over_writer_and_readers(session, cw, clock):
    writer, reader = make_aurora(session)
    put_latency(cw, writer, "SelectLatency", 10, 100)
    put_latency(cw, writer, "DMLLatency", 50, 20)
    put_latency(cw, reader, "SelectLatency", 4, 300)
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)

    result = ps.is_aurora_slow_result(latency_threshold_ms=10, window_minutes=10)
    # (10 x 100 + 50 x 20 + 4 x 300) / (100 + 20 + 300) = 3200 / 420 ms; an unweighted mean would be 21.3 ms.
    assert result.value == pytest.approx(3200 / 420)
    assert result.verdict is False
    assert result.datapoints == 15  # 5 minutes x 3 latency series
    assert result.details["statements"] == pytest.approx(420 * 60 * 5)
    assert result.details["per_instance"][reader] == {"role": "reader", "latency_ms": 4.0, "statements": 300 * 60 * 5}
    assert ps.is_aurora_slow(latency_threshold_ms=7, window_minutes=10) is True


def test_aurora_postgresql_latency_uses_commit_latency(session, cw, clock):
    writer, reader = make_aurora(session, name="pg", engine="aurora-postgresql")
    put_latency(cw, writer, "CommitLatency", 3, 50)
    put_latency(cw, reader, "CommitLatency", 1, 0)  # a reader commits nothing: weight 0
    put_latency(cw, writer, "SelectLatency", 999, 999)  # not published by PostgreSQL; ignored if it were
    result = ProvisionScaling(aurora_cluster_name="pg", session=session, clock=clock).is_aurora_slow_result(2, 10)
    assert result.value == pytest.approx(3.0)
    assert result.verdict is True
    assert "CommitLatency weighted by CommitThroughput" in result.source


def test_aurora_latency_without_statements_is_no_data(session, cw, clock):
    writer, _ = make_aurora(session)
    put_latency(cw, writer, "SelectLatency", 0, 0)
    result = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock).is_aurora_slow_result(5, 10)
    assert (result.verdict, result.note) == (None, NO_DATA)
    assert "ran no statements" in result.reason


# --- Aurora slow percentage from the statement log ------------------------------------------


def recent_end() -> datetime:
    """CloudWatch Logs (and moto) refuse events older than 14 days: log tests end at the current minute."""
    return datetime.fromtimestamp(time.time() // 60 * 60, tz=timezone.utc)


def put_log(session, group: str, stream: str, messages: list[tuple[datetime, str]]) -> None:
    logs = session.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(t.timestamp() * 1000), "message": m} for t, m in sorted(messages)],
    )


def mysql_entry(query_time: float) -> str:
    return (
        "# Time: 2024-05-01T11:58:00.000000Z\n# User@Host: admin[admin] @  [10.0.0.1]  Id:    42\n"
        f"# Query_time: {query_time:.6f}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 100\n"
        "SET timestamp=1714564680;\nselect * from orders;"
    )


def test_aurora_mysql_slow_percentage_counts_slow_log_entries(session):
    writer, _ = make_aurora(session)
    end = recent_end()
    clock = FakeClock(end.timestamp())
    at = end - 2 * MINUTE
    times = [0.001, 0.5, 1.9, 2.0, 2.1, 3.0, 30.0, 0.2]
    entries = [(at, mysql_entry(t)) for t in times] + [(end - 20 * MINUTE, mysql_entry(99)), (end, mysql_entry(99))]
    put_log(session, "/aws/rds/cluster/au/slowquery", writer, entries)
    ps = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock)
    result = ps.get_aurora_slow_percentage_result(running_time_threshold_secs=2, window_minutes=10)
    assert result.datapoints == 8
    assert result.details["slow_statements"] == 3  # 2.1, 3.0, 30.0
    assert result.value == pytest.approx(37.5)
    assert ps.get_aurora_slow_percentage(2, 10) == pytest.approx(37.5)


def test_aurora_postgresql_slow_percentage_counts_statement_durations(session):
    writer, _ = make_aurora(session, name="pg", engine="aurora-postgresql")
    end = recent_end()
    clock = FakeClock(end.timestamp())
    at = end - 3 * MINUTE
    prefix = "2024-05-01 11:57:00 UTC:10.0.0.1(5432):app@db:[77]:LOG:  "
    lines = [
        "duration: 1500.250 ms  statement: select 1",
        "duration: 12.000 ms  statement: select 2",
        "duration: 2500.000 ms  execute <unnamed>: select 3",
        "duration: 9000.000 ms  parse <unnamed>: select 4",  # parse and bind are steps, not statements
        "duration: 9000.000 ms  bind <unnamed>: select 4",
        "duration: 800.000 ms  statement: select 5",
    ]
    put_log(session, "/aws/rds/cluster/pg/postgresql", writer, [(at, prefix + line) for line in lines])
    result = ProvisionScaling(aurora_cluster_name="pg", session=session, clock=clock).get_aurora_slow_percentage_result(
        1, 10
    )
    assert result.datapoints == 4
    assert result.details["slow_statements"] == 2
    assert result.value == pytest.approx(50.0)


def test_aurora_slow_percentage_says_what_setup_is_missing(session, clock):
    make_aurora(session)
    result = ProvisionScaling(aurora_cluster_name="au", session=session, clock=clock).get_aurora_slow_percentage_result(
        1, 10
    )
    assert result.verdict is None
    assert result.note == "no data (slow query log not exported)"
    assert "long_query_time=0" in result.reason and "slowquery" in result.reason


def test_aurora_slow_query_setup_per_engine():
    mysql = aurora_slow_query_setup("aurora-mysql")
    assert dict(mysql.cluster_parameters) == {"slow_query_log": "1", "long_query_time": "0", "log_output": "FILE"}
    assert mysql.cloudwatch_logs_exports == ("slowquery",)
    assert mysql.log_group("au") == "/aws/rds/cluster/au/slowquery"
    postgres = aurora_slow_query_setup("aurora-postgresql")
    assert dict(postgres.cluster_parameters) == {"log_min_duration_statement": "0"}
    assert postgres.log_group("pg") == "/aws/rds/cluster/pg/postgresql"
    with pytest.raises(InvalidRequest):
        aurora_slow_query_setup("postgres")


# --- results and windows --------------------------------------------------------------------


def test_a_result_is_json_safe(session, cw, clock):
    make_redshift(session)
    put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": "rs"}, last(2), 50)
    result = ProvisionScaling(
        redshift_cluster_name="rs", session=session, clock=clock
    ).check_redshift_utilization_result(True, "cpu", 90, 10)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["value"] == 50.0 and data["verdict"] is False and data["window_end"] == END.timestamp()
    assert set(data) == {f for f in CheckResult.__dataclass_fields__}


def test_windows_end_on_the_minute_and_long_windows_keep_under_the_datapoint_limit():
    w = metric_window(END.timestamp() + 42.5, 10)
    assert (w.start, w.end, w.period) == (END.timestamp() - 600, END.timestamp(), 60)
    day = metric_window(END.timestamp(), 24 * 60)
    assert day.period % 60 == 0 and day.points <= MAX_POINTS_PER_METRIC and day.minutes >= 24 * 60
    month = metric_window(END.timestamp(), 30 * 24 * 60)  # starts more than 15 days back: 5-minute multiples
    assert month.period % 300 == 0 and month.points <= MAX_POINTS_PER_METRIC
    year = metric_window(END.timestamp(), 365 * 24 * 60)
    assert year.period % 3600 == 0 and year.points <= MAX_POINTS_PER_METRIC


def test_checks_are_validated_when_built():
    with pytest.raises(InvalidRequest):
        Check("nonsense", "rs", 10, 1)
    with pytest.raises(InvalidRequest) as err:
        Check.redshift_utilization("Bad_Name", True, "cpu", 90, 10)
    assert err.value.field == "redshift_cluster_name"
    with pytest.raises(InvalidRequest):
        Check.aurora_slow("au", float("nan"), 10)


def test_redshift_queue_wait_is_the_longest_wait_of_the_window(session, history, clock):
    make_redshift(session)
    ended = END - 2 * MINUTE
    history.add_query("rs", elapsed_secs=100, end_time=ended, queue_secs=40)
    history.add_query("rs", elapsed_secs=200, end_time=ended, queue_secs=150)  # the longest
    history.add_query("rs", elapsed_secs=5, end_time=ended)  # never queued
    history.add_query("rs", elapsed_secs=900, end_time=END - 30 * MINUTE, queue_secs=800)  # before the window
    history.add_query("rs", elapsed_secs=90, end_time=ended, queue_secs=60, status="queued")  # still waiting
    history.add_query("rs", elapsed_secs=999, end_time=ended, queue_secs=999, query_text="/* dbscale-check */ x")
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)
    (result,) = ps.evaluate([Check.redshift_queue_wait("rs", 60, 10)])
    assert result.value == pytest.approx(150) and result.verdict is True and result.unit == "s"
    assert result.details["queued_queries"] == 3 and "the longest 150 s" in result.reason
    (calm,) = ps.evaluate([Check.redshift_queue_wait("rs", 200, 10)])
    assert calm.verdict is False


def test_redshift_queue_wait_is_zero_when_nothing_queued(session, history, clock):
    make_redshift(session)
    history.add_query("rs", elapsed_secs=3, end_time=END - 2 * MINUTE)
    ps = ProvisionScaling(redshift_cluster_name="rs", session=session, clock=clock)
    (result,) = ps.evaluate([Check.redshift_queue_wait("rs", 60, 10)])
    assert (result.value, result.verdict, result.datapoints) == (0, False, 0)
