"""The Autoscaler construct: function, triggers, configuration, IAM scope, cdk-nag and cfn-lint."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.core.autoscale import CONFIG_ENV, AutoscalePolicy, AutoscalerConfig, ClusterRef

from .conftest import Synthesized, cdk_nag_errors, cfn_lint, synthesize
from .templates import assert_template_unchanged, stack_templates

pytestmark = pytest.mark.slow

POLICY = AutoscalePolicy(
    redshift_min_nodes=2,
    redshift_max_nodes=8,
    aurora_instance_classes=("db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge"),
    aurora_acu_range=(2, 32),
    aurora_min_readers=1,
    aurora_max_readers=3,
    resume_catalog="sales",
    evaluation_interval_minutes=5,
)


def build(app: Any) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2

    from dbscale.constructs import AuroraCluster, RedshiftCluster, RedshiftClusterProvider
    from dbscale.constructs.autoscaler import Autoscaler

    stack = Stack(app, "Scaled")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    warehouse = RedshiftCluster(stack, "Warehouse", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    orders = AuroraCluster(stack, "Orders", vpc=vpc, instance_class="db.r6g.large", reader_count=1)
    app_db = AuroraCluster(
        stack,
        "AppDb",
        vpc=vpc,
        instance_class="db.serverless",
        serverless_v2_min_capacity=0.5,
        serverless_v2_max_capacity=4,
        paused=True,
    )
    Autoscaler(stack, "Autoscaler", redshift=warehouse, aurora=[orders, app_db], policy=POLICY)
    assert RedshiftClusterProvider.of(stack) is not None

    dry = Stack(app, "DryRun")
    dry_vpc = ec2.Vpc(
        dry,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    rs = RedshiftCluster(dry, "Warehouse", vpc=dry_vpc, node_type="ra3.xlplus", number_of_nodes=4)
    Autoscaler(dry, "Autoscaler", redshift=rs, dry_run=True, policy=AutoscalePolicy(redshift_query_checks=True))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("autoscaler"), build)


def of_type(t: dict[str, Any], type_: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == type_ and k.startswith(prefix)}


def only(t: dict[str, Any], type_: str, prefix: str = "") -> dict[str, Any]:
    found = of_type(t, type_, prefix)
    assert len(found) == 1, (type_, prefix, list(found))
    return next(iter(found.values()))


def statements(t: dict[str, Any], prefix: str = "Autoscaler") -> dict[str, dict[str, Any]]:
    found = {}
    for policy in of_type(t, "AWS::IAM::Policy", prefix).values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found[statement.get("Sid", "")] = statement
    return found


def text(value: Any) -> str:
    """An ARN from the template with its pseudo parameters written as ${...}."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(text(v) for v in value["Fn::Join"][1])
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(value)


def resources_of(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return [text(v) for v in (value if isinstance(value, list) else [value])]


def arn(service: str, resource: str) -> str:
    return f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"


def ids(t: dict[str, Any]) -> dict[str, str]:
    """Construct id -> cluster identifier (the custom resource's logical id is the id plus a hash)."""
    return {
        k[:-8]: v["Properties"]["ClusterIdentifier"]
        for k, v in t["Resources"].items()
        if v["Type"].startswith("Custom::")
    }


def test_the_function_runs_the_handler_from_the_shared_asset_one_at_a_time(synth: Synthesized) -> None:
    t = synth.template("Scaled")
    fn = only(t, "AWS::Lambda::Function", "AutoscalerFunction")["Properties"]
    assert fn["Handler"] == "dbscale.handlers.autoscaler.handler"
    assert fn["ReservedConcurrentExecutions"] == 1
    assert fn["Runtime"].startswith("python3.") and fn["Architectures"] == ["arm64"]
    keys = {f["Properties"]["Code"]["S3Key"] for f in of_type(t, "AWS::Lambda::Function").values()}
    assert len(keys) == 1, "the autoscaler shares the providers' asset"
    asset = synth.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    assert (asset / "dbscale" / "handlers" / "autoscaler.py").is_file()
    assert (asset / "dbscale" / "core" / "autoscale" / "runner.py").is_file()


def test_the_configuration_is_the_policy_and_the_clusters(synth: Synthesized) -> None:
    t = synth.template("Scaled")
    env = only(t, "AWS::Lambda::Function", "AutoscalerFunction")["Properties"]["Environment"]["Variables"]
    config = AutoscalerConfig.from_json(env[CONFIG_ENV])
    names = ids(t)
    assert config.policy == POLICY and config.dry_run is False
    assert config.clusters == (
        ClusterRef.redshift(names["Warehouse"]),
        ClusterRef.aurora(names["Orders"]),
        ClusterRef.aurora(names["AppDb"], declared_paused=True),
    )


def test_a_schedule_and_the_alarms_state_changes_trigger_it(synth: Synthesized) -> None:
    t = synth.template("Scaled")
    rules = of_type(t, "AWS::Events::Rule", "Autoscaler")
    schedule = next(r["Properties"] for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    pattern = next(r["Properties"]["EventPattern"] for r in rules.values() if "EventPattern" in r["Properties"])
    assert pattern["source"] == ["aws.cloudwatch"] and pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    alarm_ids = set(of_type(t, "AWS::CloudWatch::Alarm"))
    assert {r["Fn::GetAtt"][0] for r in pattern["resources"]} == alarm_ids
    assert len(alarm_ids) == 7 * 3
    for rule in rules.values():
        target = rule["Properties"]["Targets"][0]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 2}
    assert len(of_type(t, "AWS::Lambda::Permission", "Autoscaler")) == 2


def test_iam_is_scoped_to_the_declared_clusters(synth: Synthesized) -> None:
    t = synth.template("Scaled")
    names = ids(t)
    s = statements(t)
    assert resources_of(s["RedshiftClusters"]) == [arn("redshift", f"cluster:{names['Warehouse']}")]
    assert "redshift:ResizeCluster" in s["RedshiftClusters"]["Action"]
    assert sorted(resources_of(s["AuroraClusters"])) == sorted(
        arn("rds", f"cluster:{names[c]}") for c in ("Orders", "AppDb")
    )
    assert sorted(resources_of(s["AuroraInstances"])) == sorted(
        arn("rds", f"db:{names[c]}-*") for c in ("Orders", "AppDb")
    )
    assert sorted(resources_of(s["State"])) == sorted(
        arn("ssm", f"parameter/dbscale/autoscaler/{prefix}{service}/{names[c]}")
        for service, c in (("redshift", "Warehouse"), ("aurora", "Orders"), ("aurora", "AppDb"))
        for prefix in ("", "dry-run/")
    )
    assert s["PublishDecisions"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["dbscale/Autoscaler", "dbscale/Checks"]}
    }
    assert resources_of(s["AthenaSpend"]) == [arn("athena", "workgroup/primary")]
    for statement in s.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions)
        if statement["Resource"] == "*":
            assert set(actions) <= {"cloudwatch:GetMetricData", "cloudwatch:PutMetricData"}
    role = only(t, "AWS::IAM::Role", "AutoscalerRole")
    assert "ManagedPolicyArns" not in role["Properties"]


def test_a_dry_run_autoscaler_may_not_change_anything(synth: Synthesized) -> None:
    t = synth.template("DryRun")
    s = statements(t)
    mutating = {
        a
        for statement in s.values()
        for a in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if not a.startswith("logs:")
        and a.split(":")[1].startswith(("Resize", "Pause", "Resume", "Modify", "Start", "Stop", "Create", "Delete"))
    }
    assert mutating == set()
    # Query-history checks read the cluster's own secret and only the caller's statements.
    assert s["QueryHistoryResults"]["Condition"] == {
        "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}
    }
    assert len(resources_of(s["QueryHistorySecrets"])) == 1
    env = only(t, "AWS::Lambda::Function", "AutoscalerFunction")["Properties"]["Environment"]["Variables"]
    assert AutoscalerConfig.from_json(env[CONFIG_ENV]).dry_run is True


def test_a_cluster_not_declared_autoscaled_is_warned_about(synth: Synthesized) -> None:
    from aws_cdk.assertions import Annotations, Match

    warnings = Annotations.from_stack(synth.stacks["Scaled"]).find_warning(
        "/Scaled/Autoscaler", Match.string_like_regexp("is not declared with autoscaled=True")
    )
    assert len(warnings) == 3  # none of the three clusters in this app says autoscaled=True


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    assert cfn_lint(synth.template_paths()) == []


def test_cdk_nag_aws_solutions_has_no_unacknowledged_errors(synth: Synthesized) -> None:
    assert cdk_nag_errors(synth.app, only_under="Autoscaler") == []


def test_a_policy_that_does_not_fit_the_cluster_fails_at_synth(scratch: Any) -> None:
    from dbscale.constructs import AuroraCluster, InvalidConstructProps, RedshiftCluster
    from dbscale.constructs.autoscaler import Autoscaler

    stack, vpc = scratch
    with pytest.raises(InvalidConstructProps, match="give at least one cluster"):
        Autoscaler(stack, "Nothing")
    small = RedshiftCluster(stack, "Small", vpc=vpc, node_type="dc2.large", number_of_nodes=2)
    with pytest.raises(InvalidConstructProps) as err:
        Autoscaler(stack, "TooBig", redshift=small, policy=AutoscalePolicy(redshift_max_nodes=64))
    assert err.value.field == "redshift_max_nodes" and "dc2.large" in str(err.value)
    provisioned = AuroraCluster(stack, "Prov", vpc=vpc, instance_class="db.r5.large")
    with pytest.raises(InvalidConstructProps, match="nothing the autoscaler could change"):
        Autoscaler(
            stack, "NoLadder", aurora=provisioned, policy=AutoscalePolicy(aurora_instance_classes=("db.r6g.large",))
        )
    serverless = AuroraCluster(
        stack,
        "Sv2",
        vpc=vpc,
        instance_class="db.serverless",
        serverless_v2_min_capacity=0,
        serverless_v2_max_capacity=4,
    )
    with pytest.raises(InvalidConstructProps, match="aurora_acu_range"):
        Autoscaler(stack, "NoRange", aurora=serverless)


def test_schedules_are_typed_props_checked_at_synth_and_handed_to_the_handler(scratch: Any) -> None:
    from dbscale.constructs import InvalidConstructProps, RedshiftCluster
    from dbscale.constructs.autoscaler import Autoscaler
    from dbscale.core.autoscale import Period

    stack, vpc = scratch
    rs = RedshiftCluster(stack, "Scheduled", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    office = Period("Mon-Fri 07:30-19:00", tz="Europe/Berlin", min_nodes=4)
    made = Autoscaler(
        stack, "Office", redshift=rs, schedule=[office], holidays=["2025-12-25"], paused_outside_schedule=True,
        forecasts=True,
    )
    policy = AutoscalerConfig.from_dict({"policy": made.policy.to_dict(), "clusters": []}).policy
    assert policy.schedule == (office,) and policy.paused_outside_schedule and policy.forecasts
    assert [d.isoformat() for d in policy.holidays] == ["2025-12-25"]
    with pytest.raises(InvalidConstructProps) as err:
        Autoscaler(stack, "NoRun", redshift=rs, schedule=[Period("Sat 00:00-24:00", paused=True)],
                   paused_outside_schedule=True)
    assert err.value.field == "paused_outside_schedule"
    with pytest.raises(InvalidConstructProps, match="list of dbscale.core.autoscale.Period"):
        Autoscaler(stack, "Text", redshift=rs, schedule="Mon-Fri 07:30-19:00")  # type: ignore[arg-type]
    with pytest.raises(InvalidConstructProps, match="holidays"):
        Autoscaler(stack, "BadDay", redshift=rs, schedule=[office], holidays=["25.12.2025"])


def test_template_unchanged(synth: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("autoscaler", stack_templates(synth))
