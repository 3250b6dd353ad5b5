"""ScalingAlarms: one alarm per row of the alarm table, per cluster; thresholds, metric math, missing data."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.core.autoscale import CHECKS_NAMESPACE, SLOW_QUERY_METRIC, SPILL_METRIC, Thresholds
from dbscale.core.limits import AURORA_INSTANCE_CLASSES, GIB, SERVERLESS_V2_GIB_PER_ACU

from .conftest import Synthesized, cfn_lint, synthesize
from .templates import assert_template_unchanged, stack_templates

pytestmark = pytest.mark.slow

THRESHOLDS = Thresholds(cpu_high=80, cpu_low=20, latency_high_ms=250)


def build(app: Any) -> None:
    from aws_cdk import Duration, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_sns as sns

    from dbscale.constructs import AuroraCluster, RedshiftCluster
    from dbscale.constructs.scaling_alarms import ScalingAlarms

    stack = Stack(app, "Alarms")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    warehouse = RedshiftCluster(stack, "Warehouse", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    orders = AuroraCluster(stack, "Orders", vpc=vpc, engine="aurora-mysql", instance_class="db.r6g.large")
    app_db = AuroraCluster(
        stack,
        "AppDb",
        vpc=vpc,
        instance_class="db.serverless",
        serverless_v2_min_capacity=0.5,
        serverless_v2_max_capacity=8,
    )
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    alarms = ScalingAlarms(
        stack,
        "Scaling",
        redshift=warehouse,
        aurora=[orders, app_db],
        thresholds=THRESHOLDS,
        window=Duration.minutes(15),
        alarm_topic=topic,
    )
    stack.node.add_metadata("alarm-keys", sorted(alarms.alarms_for(orders)))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("alarms"), build)


def alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    t = synth.template("Alarms")
    return {k: v["Properties"] for k, v in t["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def alarm(synth: Synthesized, prefix: str) -> dict[str, Any]:
    found = [v for k, v in alarms(synth).items() if k.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def identifier(synth: Synthesized, construct_id: str) -> str:
    t = synth.template("Alarms")
    return next(
        v["Properties"]["ClusterIdentifier"]
        for k, v in t["Resources"].items()
        if v["Type"].startswith("Custom::") and k.startswith(construct_id)
    )


def test_one_alarm_per_table_row_and_cluster(synth: Synthesized) -> None:
    from dbscale.constructs.scaling_alarms import ALARM_SPECS

    names = sorted(alarms(synth))
    expected = sorted(
        f"Scaling{cluster}{spec.key}"
        for cluster, service in (("Warehouse", "redshift"), ("Orders", "aurora"), ("AppDb", "aurora"))
        for spec in ALARM_SPECS
        if spec.service == service
    )
    assert [n[: len(e)] for n, e in zip(names, expected, strict=True)] == expected
    assert len(names) == 7 + 7 + 7


def test_every_alarm_treats_missing_data_as_not_breaching_over_one_window(synth: Synthesized) -> None:
    for props in alarms(synth).values():
        assert props["TreatMissingData"] == "notBreaching"  # paused clusters publish nothing: never alarm
        assert props["EvaluationPeriods"] == 1 and props["DatapointsToAlarm"] == 1
        periods = (
            [props["Period"]]
            if "Period" in props
            else [m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m]
        )
        assert set(periods) == {15 * 60}


def test_redshift_alarms_mirror_the_checks(synth: Synthesized) -> None:
    rs = identifier(synth, "Warehouse")
    high = alarm(synth, "ScalingWarehouseCpuHigh")
    assert (high["MetricName"], high["Namespace"], high["Statistic"]) == ("CPUUtilization", "AWS/Redshift", "Average")
    assert high["Dimensions"] == [{"Name": "ClusterIdentifier", "Value": rs}]
    assert high["ComparisonOperator"] == "GreaterThanThreshold" and high["Threshold"] == THRESHOLDS.cpu_high
    low = alarm(synth, "ScalingWarehouseCpuLow")
    assert low["ComparisonOperator"] == "LessThanThreshold" and low["Threshold"] == THRESHOLDS.cpu_low
    disk = alarm(synth, "ScalingWarehouseDiskHigh")
    assert disk["MetricName"] == "PercentageDiskSpaceUsed" and disk["Threshold"] == THRESHOLDS.disk_high
    # Redshift has no such metrics: the autoscaler publishes them.
    slow = alarm(synth, "ScalingWarehouseSlowQueriesHigh")
    assert (slow["Namespace"], slow["MetricName"]) == (CHECKS_NAMESPACE, SLOW_QUERY_METRIC)
    assert slow["Threshold"] == THRESHOLDS.slow_query_percent_high
    spill = alarm(synth, "ScalingWarehouseMemoryHigh")
    assert (spill["Namespace"], spill["MetricName"], spill["Threshold"]) == (
        CHECKS_NAMESPACE,
        SPILL_METRIC,
        THRESHOLDS.spill_high,
    )
    assert "redshift_utilization cpu" in high["AlarmDescription"]


def test_aurora_memory_is_metric_math_over_the_declared_capacity(synth: Synthesized) -> None:
    provisioned = alarm(synth, "ScalingOrdersMemoryHigh")
    expression = next(m["Expression"] for m in provisioned["Metrics"] if "Expression" in m)
    capacity = AURORA_INSTANCE_CLASSES["db.r6g.large"].memory_gib * GIB
    assert expression == f"100 * (1 - free / {capacity})"
    free = next(m for m in provisioned["Metrics"] if m["Id"] == "free")
    assert free["MetricStat"]["Stat"] == "Minimum" and free["MetricStat"]["Metric"]["MetricName"] == "FreeableMemory"
    serverless = alarm(synth, "ScalingAppDbMemoryLow")
    expression = next(m["Expression"] for m in serverless["Metrics"] if "Expression" in m)
    assert expression == f"100 * (1 - free / {8 * SERVERLESS_V2_GIB_PER_ACU * GIB})"
    assert serverless["ComparisonOperator"] == "LessThanThreshold" and serverless["Threshold"] == THRESHOLDS.memory_low


def test_aurora_latency_follows_what_the_engine_publishes(synth: Synthesized) -> None:
    mysql = alarm(synth, "ScalingOrdersLatencyHigh")
    assert next(m["Expression"] for m in mysql["Metrics"] if "Expression" in m) == "(sl * st + dl * dt) / (st + dt)"
    used = {m["MetricStat"]["Metric"]["MetricName"] for m in mysql["Metrics"] if "MetricStat" in m}
    assert used == {"SelectLatency", "SelectThroughput", "DMLLatency", "DMLThroughput"}
    assert mysql["Threshold"] == THRESHOLDS.latency_high_ms
    postgres = alarm(synth, "ScalingAppDbLatencyHigh")
    assert postgres["MetricName"] == "CommitLatency"
    disk = alarm(synth, "ScalingOrdersDiskHigh")
    assert next(m["Expression"] for m in disk["Metrics"] if "Expression" in m) == "100 * used / (used + left)"
    cpu = alarm(synth, "ScalingOrdersCpuHigh")
    assert cpu["Statistic"] == "Maximum" and cpu["Dimensions"][0]["Name"] == "DBClusterIdentifier"


def test_the_topic_is_notified_and_keys_are_exposed(synth: Synthesized) -> None:
    for props in alarms(synth).values():
        assert props["AlarmActions"] == [
            {"Ref": next(k for k in synth.template("Alarms")["Resources"] if k.startswith("Topic"))}
        ]
    stack = synth.stacks["Alarms"]
    keys = next(e.data for e in stack.node.metadata if e.type == "alarm-keys")
    assert keys == sorted(["CpuHigh", "CpuLow", "MemoryHigh", "MemoryLow", "DiskHigh", "DiskLow", "LatencyHigh"])


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    assert cfn_lint(synth.template_paths()) == []


def test_bad_input_fails_at_synth_with_the_path(scratch: Any) -> None:
    from aws_cdk import Duration

    from dbscale.constructs import InvalidConstructProps, RedshiftCluster
    from dbscale.constructs.scaling_alarms import ScalingAlarms

    stack, vpc = scratch
    with pytest.raises(InvalidConstructProps, match="Scratch/None: give at least one cluster"):
        ScalingAlarms(stack, "None")
    cluster = RedshiftCluster(stack, "Rs", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    with pytest.raises(InvalidConstructProps) as err:
        ScalingAlarms(stack, "Odd", redshift=cluster, window=Duration.seconds(90))
    assert err.value.field == "window"
    with pytest.raises(InvalidConstructProps) as err:
        ScalingAlarms(stack, "Wrong", aurora=cluster)
    assert err.value.field == "aurora"


def test_template_unchanged(synth: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("scaling_alarms", stack_templates(synth))
