"""dbscale.handlers.autoscaler: EventBridge schedule and alarm events against moto.

The handler runs on the real clock (as in Lambda), so metrics are written for the real last minutes;
SlowAws's transitions run on a FakeClock that starts now.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.autoscale import CONFIG_ENV, AutoscalePolicy, AutoscalerConfig, ClusterRef
from dbscale.core.errors import InvalidRequest
from dbscale.core.redshift import RedshiftProvisioning
from dbscale.handlers import autoscaler
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws
from tests.fakes.cloudwatch import minutes_before, put_constant

RS = "warehouse"
AU = "orders"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(time.time() // 60 * 60)


def schedule_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-01-15T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/dbscale-autoscaler-schedule"],
        "detail": {},
    }


def alarm_event(alarm: str, metrics: list[dict[str, Any]], state: str = "ALARM") -> dict[str, Any]:
    """The event CloudWatch sends EventBridge when an alarm changes state."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2025-01-15T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2025-01-15T12:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "2025-01-15T11:00:00.000+0000"},
            "configuration": {"description": "dbscale", "metrics": metrics},
        },
    }


def metric_stat(namespace: str, name: str, dimensions: dict[str, str], stat: str = "Average") -> dict[str, Any]:
    return {
        "id": name.lower(),
        "metricStat": {
            "metric": {"namespace": namespace, "name": name, "dimensions": dimensions},
            "period": 600,
            "stat": stat,
        },
        "returnData": False,
    }


@pytest.fixture
def clusters(slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session) -> boto3.Session:
    RedshiftProvisioning(
        RS, initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session, clock=fake_clock
    )
    rds = boto_session.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=AU, Engine="aurora-postgresql", MasterUsername="postgres", MasterUserPassword="Passw0rd1"
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{AU}-1",
        DBClusterIdentifier=AU,
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    slow_aws.finish_all()
    cw = boto_session.client("cloudwatch")
    stamps = minutes_before(datetime.fromtimestamp(time.time() // 60 * 60, tz=timezone.utc), 10)
    put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": RS}, stamps, 92)
    put_constant(cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": f"{AU}-1"}, stamps, 40)
    return boto_session


def configure(monkeypatch: pytest.MonkeyPatch, *, dry_run: bool = False) -> AutoscalerConfig:
    config = AutoscalerConfig(
        policy=AutoscalePolicy(aurora_instance_classes=("db.r6g.large", "db.r6g.xlarge")),
        clusters=(ClusterRef.redshift(RS), ClusterRef.aurora(AU)),
        dry_run=dry_run,
    )
    monkeypatch.setenv(CONFIG_ENV, json.dumps(config.to_dict()))
    return config


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_a_scheduled_event_evaluates_every_cluster_and_logs_one_json_line_each(
    clusters: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch)
    result = autoscaler.handler(schedule_event(), None)
    assert result["trigger"] == "schedule"
    assert [(d["cluster"], d["action"], d["change"]) for d in result["decisions"]] == [
        (RS, "scale_up", "2 -> 4 nodes"),
        (AU, "none", ""),
    ]
    logged = lines(capsys)
    assert [(line["cluster"], line["action"], line["trigger"]) for line in logged] == [
        (RS, "scale_up", "schedule"),
        (AU, "none", "schedule"),
    ]
    assert logged[0]["checks"][0]["value"] == 92 and logged[0]["outcome"].startswith("started: resize to 4")
    state = clusters.client("ssm").get_parameter(Name=f"/dbscale/autoscaler/redshift/{RS}")["Parameter"]["Value"]
    assert json.loads(state)["last_action"] == "scale_up"


def test_an_alarm_evaluates_only_the_cluster_it_watches(
    clusters: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch)
    event = alarm_event(
        "Stack-AlarmsWarehouseCpuHigh", [metric_stat("AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": RS})]
    )
    result = autoscaler.handler(event, None)
    assert result["trigger"] == "alarm Stack-AlarmsWarehouseCpuHigh ALARM"
    assert [d["cluster"] for d in result["decisions"]] == [RS]
    # A metric-math alarm on an Aurora instance ('<cluster>-<n>') routes to its cluster.
    math_alarm = alarm_event(
        "Stack-AlarmsOrdersMemoryHigh",
        [
            {"id": "used", "expression": "100 * (1 - free / 17179869184)", "returnData": True},
            metric_stat("AWS/RDS", "FreeableMemory", {"DBInstanceIdentifier": f"{AU}-1"}, "Minimum"),
        ],
    )
    assert [d["cluster"] for d in autoscaler.handler(math_alarm, None)["decisions"]] == [AU]
    # An alarm on something else evaluates every configured cluster.
    other = alarm_event("Elsewhere", [metric_stat("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"})])
    assert len(autoscaler.handler(other, None)["decisions"]) == 2


def test_a_dry_run_configuration_changes_nothing(
    clusters: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aws_calls: AwsCallRecorder,
) -> None:
    configure(monkeypatch, dry_run=True)
    result = autoscaler.handler(schedule_event(), None)
    assert result["dry_run"] is True and result["decisions"][0]["outcome"] == "dry run: not applied"
    assert aws_calls.count("ResizeCluster") == 0
    assert lines(capsys)[0]["dry_run"] is True


def test_missing_or_bad_configuration_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(InvalidRequest, match=CONFIG_ENV):
        autoscaler.handler(schedule_event(), None)
    monkeypatch.setenv(CONFIG_ENV, json.dumps({"policy": {}, "clusters": []}))
    with pytest.raises(InvalidRequest, match="names no clusters"):
        autoscaler.handler(schedule_event(), None)
    monkeypatch.setenv(CONFIG_ENV, json.dumps({"policy": {"redshift_min_nodes": 1}, "clusters": []}))
    with pytest.raises(InvalidRequest) as err:
        autoscaler.handler(schedule_event(), None)
    assert err.value.field == "redshift_min_nodes"


def test_route_ignores_a_cluster_whose_name_only_prefixes_another() -> None:
    refs = [ClusterRef.aurora("db"), ClusterRef.aurora("db-archive")]
    event = alarm_event("a", [metric_stat("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db-archive-2"})])
    assert autoscaler.route(event, refs)[1] == [ClusterRef.aurora("db-archive")]
    assert autoscaler.route({"anything": 1}, refs) == ("manual", refs)


def test_the_handler_imports_neither_cdk_nor_crhelper() -> None:
    probe = (
        "import sys; import dbscale.handlers.autoscaler; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'crhelper', 'constructs')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_window_of_the_real_clock_is_what_the_handler_reads(clusters: boto3.Session) -> None:
    # A guard for the fixtures above: the metrics sit in the handler's last 10 minutes.
    end = datetime.fromtimestamp(time.time() // 60 * 60, tz=timezone.utc)
    data = clusters.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Redshift",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterIdentifier", "Value": RS}],
        StartTime=end - timedelta(minutes=10),
        EndTime=end,
        Period=600,
        Statistics=["SampleCount"],
    )
    assert sum(p["SampleCount"] for p in data["Datapoints"]) == 10
