"""The fleet form: many clusters x many checks with batched GetMetricData, same answers as one by one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from dbscale.core import ProvisionScaling
from dbscale.core.limits import GIB
from dbscale.core.scaling import METRICS_PER_CALL, NO_DATA_NOT_FOUND, NO_DATA_PAUSED, Check
from tests.fakes import redshift_data as fake_data
from tests.fakes.clock import FakeClock
from tests.fakes.cloudwatch import enforce_limits, minutes_before, put_constant

REGION = "us-east-1"
END = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
STAMPS = minutes_before(END, 2)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def fleet(session, redshift: int, aurora: int) -> tuple[list[str], list[str]]:
    """Clusters with CPU, disk, memory and latency series whose values identify the cluster."""
    cw = session.client("cloudwatch")
    rs_client, rds = session.client("redshift"), session.client("rds")
    rs_names = [f"rs-{i}" for i in range(redshift)]
    for i, name in enumerate(rs_names):
        rs_client.create_cluster(
            ClusterIdentifier=name,
            NodeType="ra3.xlplus",
            NumberOfNodes=2,
            MasterUsername="admin",
            MasterUserPassword="Passw0rd1",
            ClusterType="multi-node",
        )
        put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": name}, STAMPS, i)
        put_constant(cw, "AWS/Redshift", "PercentageDiskSpaceUsed", {"ClusterIdentifier": name}, STAMPS, 50 + i / 10)
    au_names = [f"au-{i}" for i in range(aurora)]
    for i, name in enumerate(au_names):
        rds.create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="Passw0rd1"
        )
        for n, role_cpu in enumerate((i, i / 2)):
            instance = f"{name}-{n}"
            rds.create_db_instance(
                DBInstanceIdentifier=instance,
                DBClusterIdentifier=name,
                Engine="aurora-mysql",
                DBInstanceClass="db.r6g.large",
            )
            dims = {"DBInstanceIdentifier": instance}
            put_constant(cw, "AWS/RDS", "CPUUtilization", dims, STAMPS, role_cpu)
            put_constant(cw, "AWS/RDS", "FreeableMemory", dims, STAMPS, (1 + i % 8) * GIB)
            put_constant(cw, "AWS/RDS", "SelectLatency", dims, STAMPS, 1 + i)
            put_constant(cw, "AWS/RDS", "SelectThroughput", dims, STAMPS, 10)
            put_constant(cw, "AWS/RDS", "DMLLatency", dims, STAMPS, 3 + i)
            put_constant(cw, "AWS/RDS", "DMLThroughput", dims, STAMPS, 30)
        put_constant(cw, "AWS/RDS", "VolumeBytesUsed", {"DBClusterIdentifier": name}, STAMPS, i * GIB)
        put_constant(cw, "AWS/RDS", "AuroraVolumeBytesLeftTotal", {"DBClusterIdentifier": name}, STAMPS, 100 * GIB)
    return rs_names, au_names


def checks_for(rs_names: list[str], au_names: list[str], window: float = 5) -> list[Check]:
    checks: list[Check] = []
    for name in rs_names:
        checks += [
            Check.redshift_utilization(name, True, "cpu", 20, window),
            Check.redshift_utilization(name, False, "disk", 51, window),
        ]
    for name in au_names:
        checks += [
            Check.aurora_utilization(name, True, "cpu", 20, window),
            Check.aurora_utilization(name, False, "memory", 50, window, node_type="db.r6g.large"),
            Check.aurora_utilization(name, True, "disk", 10, window),
            Check.aurora_slow(name, 20, window),
        ]
    return checks


def test_the_fleet_form_batches_500_metrics_per_call_and_matches_single_checks(session):
    rs_names, au_names = fleet(session, redshift=25, aurora=40)
    checks = checks_for(rs_names, au_names)
    series = 25 * 2 + 40 * (2 + 2 + 2 + 2 * 4)  # 610 metrics
    ps = ProvisionScaling(session=session, clock=FakeClock(END.timestamp()))
    with enforce_limits() as calls:
        results = ps.evaluate(checks)
    assert calls == [METRICS_PER_CALL, series - METRICS_PER_CALL]
    assert len(results) == len(checks)

    by_key = {(r.check, r.cluster, r.details.get("utilization_type")): r for r in results}
    assert by_key[("redshift_utilization", "rs-24", "cpu")].value == 24
    assert by_key[("redshift_utilization", "rs-24", "cpu")].verdict is True
    assert by_key[("redshift_utilization", "rs-3", "disk")].value == pytest.approx(50.3)
    assert by_key[("aurora_utilization", "au-7", "memory")].value == pytest.approx(100 * (1 - 8 / 16))
    assert by_key[("aurora_utilization", "au-12", "disk")].value == pytest.approx(100 * 12 / 112)
    # (lat_select x 10 + lat_dml x 30) / 40 on both instances: (1+i) x 0.25 + (3+i) x 0.75 = 2.5 + i
    assert by_key[("aurora_slow", "au-30", None)].value == pytest.approx(32.5)

    for name in ("rs-0", "rs-24"):
        single = ProvisionScaling(redshift_cluster_name=name, session=session, clock=FakeClock(END.timestamp()))
        expected = by_key[("redshift_utilization", name, "cpu")]
        assert single.check_redshift_utilization_result(True, "cpu", 20, 5) == expected
    single = ProvisionScaling(aurora_cluster_name="au-39", session=session, clock=FakeClock(END.timestamp()))
    assert single.is_aurora_slow_result(20, 5) == by_key[("aurora_slow", "au-39", None)]


def test_the_fleet_form_reports_paused_and_missing_clusters_without_failing(session):
    rs_names, au_names = fleet(session, redshift=4, aurora=4)
    session.client("redshift").pause_cluster(ClusterIdentifier="rs-1")
    session.client("rds").stop_db_cluster(DBClusterIdentifier="au-2")
    checks = [*checks_for(rs_names, au_names), Check.aurora_slow("au-gone", 20, 5)]
    results = ProvisionScaling(session=session, clock=FakeClock(END.timestamp())).evaluate(checks)
    paused = {(r.check, r.cluster) for r in results if r.note == NO_DATA_PAUSED}
    assert {c for _, c in paused} == {"rs-1", "au-2"}
    assert all(r.verdict is None for r in results if r.cluster in ("rs-1", "au-2"))
    assert results[-1].note == NO_DATA_NOT_FOUND and results[-1].verdict is None
    assert all(r.verdict is not None for r in results if r.cluster not in ("rs-1", "au-2", "au-gone"))


def test_data_api_checks_are_submitted_together_then_polled_together(session):
    rs_names, _ = fleet(session, redshift=5, aurora=0)
    clock = FakeClock(END.timestamp())
    with fake_data.install() as history:
        for i, name in enumerate(rs_names):
            for n in range(4):
                history.add_query(name, elapsed_secs=5 * n + i, end_time=END - timedelta(minutes=1))
        checks = [Check.redshift_slow_percentage(name, 10, 10) for name in rs_names]
        checks += [Check.redshift_utilization(name, True, "memory", 10, 10) for name in rs_names]
        results = ProvisionScaling(session=session, clock=clock).evaluate(checks)
    assert len(history.statements) == 10
    # elapsed 0+i, 5+i, 10+i, 15+i: longer than 10 s are 1 of 4 for i = 0 and 2 of 4 for i >= 1.
    assert [r.value for r in results[:5]] == [25.0, 50.0, 50.0, 50.0, 50.0]
    assert [r.value for r in results[5:]] == [0.0] * 5
    # Submitted -> started -> finished takes two polls, each over all ten statements: one sleep, not ten.
    assert clock.sleeps == [0.25]


def test_a_failed_statement_is_reported_in_the_fleet_form_and_raised_in_the_single_form(session):
    rs_names, _ = fleet(session, redshift=2, aurora=0)
    clock = FakeClock(END.timestamp())
    with fake_data.install() as history:
        history.fail_with = "permission denied for relation sys_query_history"
        checks = [Check.redshift_slow_percentage(name, 10, 10) for name in rs_names]
        checks.append(Check.redshift_utilization("rs-0", True, "cpu", 20, 5))
        results = ProvisionScaling(session=session, clock=clock).evaluate(checks)
    assert [r.note for r in results[:2]] == ["no data (query failed)"] * 2
    assert "permission denied" in results[0].reason
    assert results[2].verdict is False and results[2].value == 0  # the metric check still answers
