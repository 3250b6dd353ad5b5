"""RedshiftCluster and AuroraCluster options: removal policies, inputs, warnings and synth-time errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Synthesized, cfn_lint, synthesize
from .templates import assert_template_unchanged, stack_templates
from .test_example_app import resources

pytestmark = pytest.mark.slow


def build_variants(app: Any) -> None:
    from aws_cdk import CfnParameter, Duration, RemovalPolicy, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms

    from dbscale.constructs import AuroraCluster, RedshiftCluster

    stack = Stack(app, "Variants")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    RedshiftCluster(stack, "Snapshot", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    RedshiftCluster(
        stack, "Destroy", vpc=vpc, node_type="dc2.large", number_of_nodes=1, removal_policy=RemovalPolicy.DESTROY
    )
    group = ec2.SecurityGroup(stack, "Shared", vpc=vpc)
    key = kms.Key(stack, "SharedKey", enable_key_rotation=True)
    RedshiftCluster(
        stack,
        "Retain",
        vpc=vpc,
        node_type="ra3.4xlplus".replace("4xlplus", "4xlarge"),
        number_of_nodes=4,
        cluster_identifier="sales-warehouse",
        paused=True,
        security_groups=[group],
        encryption_key=key,
        port=5440,
        resize_type="classic",
        removal_policy=RemovalPolicy.RETAIN,
        adopt_existing=True,
        wait_for_completion=False,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
    )
    nodes = CfnParameter(stack, "Nodes", type="Number", default=2)
    RedshiftCluster(stack, "FromParameter", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=nodes.value_as_number)
    AuroraCluster(
        stack,
        "Mysql",
        vpc=vpc,
        engine="aurora-mysql",
        instance_class="db.r6g.large",
        reader_count=2,
        iam_authentication=True,
        backup_retention=Duration.days(14),
        copy_tags_to_snapshot=False,
        master_username="dbadmin",
        removal_policy=RemovalPolicy.RETAIN,
    )
    AuroraCluster(stack, "NoTls", vpc=vpc, instance_class="db.t4g.medium", require_tls=False, engine_version="15.8")
    AuroraCluster(
        stack,
        "Tuned",
        vpc=vpc,
        instance_class="db.r6g.large",
        deletion_protection=True,
        cloudwatch_logs_exports=[],
        performance_insights_retention=Duration.days(31),
        monitoring_interval=Duration.seconds(0),
        preferred_backup_window="03:00-03:30",
        preferred_maintenance_window="sun:05:00-sun:05:30",
        auto_minor_version_upgrade=False,
        instance_parameter_group_name="tuned",
        reboot_for_parameter_changes=True,
        snapshot_identifier="orders-snap",
    )


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("variants"), build_variants)


def cluster(synth: Synthesized, construct_id: str) -> dict[str, Any]:
    t = synth.template("Variants")
    found = [v for k, v in t["Resources"].items() if v["Type"].startswith("Custom::") and k.startswith(construct_id)]
    assert len(found) == 1
    return found[0]


def test_removal_policy_snapshot_takes_a_final_snapshot(variants: Synthesized) -> None:
    resource = cluster(variants, "Snapshot")
    assert resource["Properties"]["SkipFinalSnapshot"] is False
    assert resource["DeletionPolicy"] == "Delete"


def test_removal_policy_destroy_skips_the_final_snapshot(variants: Synthesized) -> None:
    resource = cluster(variants, "Destroy")
    assert resource["Properties"]["SkipFinalSnapshot"] is True
    assert resource["DeletionPolicy"] == "Delete"


def test_removal_policy_retain_keeps_the_cluster_and_what_it_uses(variants: Synthesized) -> None:
    t = variants.template("Variants")
    resource = cluster(variants, "Retain")
    assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    assert resource["Properties"]["SkipFinalSnapshot"] is False
    subnet_group = resource["Properties"]["ClusterSubnetGroupName"]["Ref"]
    assert t["Resources"][subnet_group]["DeletionPolicy"] == "Retain"
    mysql = cluster(variants, "Mysql")
    for ref in (mysql["Properties"]["DBSubnetGroupName"], mysql["Properties"]["DBClusterParameterGroupName"]):
        assert t["Resources"][ref["Ref"]]["DeletionPolicy"] == "Retain"
    sg = mysql["Properties"]["VpcSecurityGroupIds"][0]["Fn::GetAtt"][0]
    assert t["Resources"][sg]["DeletionPolicy"] == "Retain"
    # A group the app passed in is the app's to manage.
    shared = [
        k for k in t["Resources"] if k.startswith("Shared") and t["Resources"][k]["Type"] == "AWS::EC2::SecurityGroup"
    ]
    assert "DeletionPolicy" not in t["Resources"][shared[0]]


def test_given_inputs_are_passed_through(variants: Synthesized) -> None:
    t = variants.template("Variants")
    props = cluster(variants, "Retain")["Properties"]
    assert props["ClusterIdentifier"] == "sales-warehouse"
    assert props["Paused"] is True and props["Port"] == 5440 and props["ResizeType"] == "classic"
    assert props["AdoptExisting"] is True and props["WaitForCompletion"] is False
    assert props["NodeType"] == "ra3.4xlarge" and props["NumberOfNodes"] == 4
    key = next(k for k in t["Resources"] if k.startswith("SharedKey"))
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    # No key or group is created when the app gives its own.
    assert not [k for k in t["Resources"] if k.startswith("RetainKey") or k.startswith("RetainSecurityGroup")]


def test_tokens_are_passed_without_synth_time_checks(variants: Synthesized) -> None:
    props = cluster(variants, "FromParameter")["Properties"]
    assert props["NumberOfNodes"] == {"Ref": "Nodes"}


def test_aurora_mysql_options(variants: Synthesized) -> None:
    t = variants.template("Variants")
    props = cluster(variants, "Mysql")["Properties"]
    assert props["Engine"] == "aurora-mysql" and props["EngineVersion"] == "8.0"
    assert props["ReaderCount"] == 2 and props["EnableIAMDatabaseAuthentication"] is True
    assert props["BackupRetentionPeriod"] == 14 and props["CopyTagsToSnapshot"] is False
    assert props["MasterUsername"] == "dbadmin"
    assert "ServerlessV2MinCapacity" not in props
    group = t["Resources"][props["DBClusterParameterGroupName"]["Ref"]]["Properties"]
    assert group["Family"] == "aurora-mysql8.0" and group["Parameters"] == {
        "require_secure_transport": "ON",
        "server_audit_logging": "1",
        "server_audit_events": "CONNECT,QUERY_DCL,QUERY_DDL",
    }


def test_aurora_secure_defaults_and_cdk_deletion_protection_rule(variants: Synthesized) -> None:
    t = variants.template("Variants")
    mysql, no_tls = cluster(variants, "Mysql")["Properties"], cluster(variants, "NoTls")["Properties"]
    assert mysql["DeletionProtection"] is True  # RemovalPolicy.RETAIN
    assert no_tls["DeletionProtection"] is False  # SNAPSHOT (the default)
    for props in (mysql, no_tls):
        assert props["PerformanceInsightsEnabled"] is True and props["PerformanceInsightsRetentionPeriod"] == 7
        assert props["PerformanceInsightsKmsKeyId"] == props["KmsKeyId"] == props["MasterUserSecretKmsKeyId"]
        assert props["MonitoringInterval"] == 60
        role = t["Resources"][props["MonitoringRoleArn"]["Fn::GetAtt"][0]]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "monitoring.rds.amazonaws.com"
        }
        assert "EnableCloudwatchLogsExports" not in props  # the handler's engine default (audit/error logs)
    # TLS off is explicit: the engine's default group, never the handler's TLS default.
    assert no_tls["DBClusterParameterGroupName"] == "default.aurora-postgresql15"


def test_aurora_settings_are_passed_through(variants: Synthesized) -> None:
    props = cluster(variants, "Tuned")["Properties"]
    assert props["DeletionProtection"] is True and props["EnableCloudwatchLogsExports"] == []
    assert props["PerformanceInsightsRetentionPeriod"] == 31 and props["MonitoringInterval"] == 0
    assert "MonitoringRoleArn" not in props
    assert (props["PreferredBackupWindow"], props["PreferredMaintenanceWindow"]) == (
        "03:00-03:30",
        "sun:05:00-sun:05:30",
    )
    assert props["AutoMinorVersionUpgrade"] is False and props["DBInstanceParameterGroupName"] == "tuned"
    assert props["RebootForParameterChanges"] is True and props["SnapshotIdentifier"] == "orders-snap"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"performance_insights_retention": "days:8"}, "performance_insights_retention"),
        ({"monitoring_interval": "seconds:2"}, "monitoring_interval"),
        ({"cloudwatch_logs_exports": ["audit"]}, "cloudwatch_logs_exports"),
        ({"preferred_backup_window": "03:00-03:10"}, "preferred_backup_window"),
    ],
)
def test_aurora_settings_are_checked_at_synth(scratch: Any, kwargs: dict[str, Any], field: str) -> None:
    from aws_cdk import Duration

    from dbscale.constructs import AuroraCluster
    from dbscale.constructs._support import InvalidConstructProps

    for name, value in list(kwargs.items()):
        if isinstance(value, str) and value.split(":")[0] in ("days", "seconds"):
            unit, amount = value.split(":")
            kwargs[name] = getattr(Duration, unit)(int(amount))
    stack, vpc = scratch
    with pytest.raises(InvalidConstructProps) as raised:
        AuroraCluster(stack, "Db", vpc=vpc, instance_class="db.r6g.large", **kwargs)
    assert raised.value.field == field


def test_require_tls_false_uses_the_default_parameter_group(variants: Synthesized) -> None:
    props = cluster(variants, "NoTls")["Properties"]
    # Named explicitly: without a group the handler would make one that requires TLS.
    assert props["DBClusterParameterGroupName"] == "default.aurora-postgresql15" and props["EngineVersion"] == "15.8"


def test_one_provider_serves_every_cluster_of_a_type(variants: Synthesized) -> None:
    t = variants.template("Variants")
    handlers = sorted(f["Properties"]["Handler"] for f in resources(t, "AWS::Lambda::Function").values())
    assert handlers == ["dbscale.handlers.aurora_cluster.handler", "dbscale.handlers.redshift_cluster.handler"]
    policy = [
        p
        for k, p in resources(t, "AWS::IAM::Policy").items()
        if k.startswith("DbscaleRedshiftClusterProviderRoleDefault")
    ]
    (clusters,) = [s for s in policy[0]["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "Clusters"]
    assert len(clusters["Resource"]) == 4  # one ARN per Redshift cluster, in one statement


def test_warnings_for_legal_but_risky_input(variants: Synthesized) -> None:
    from aws_cdk.assertions import Annotations, Match

    annotations = Annotations.from_stack(variants.stacks["Variants"])
    for path, text in (
        ("/Variants/Destroy", "DESTROY"),
        ("/Variants/Destroy", "single-node"),
        ("/Variants/NoTls", "require_tls is False"),
    ):
        annotations.has_warning(path, Match.string_like_regexp(f".*{text}.*"))


def test_cfn_lint_reports_no_errors(variants: Synthesized) -> None:
    assert cfn_lint(variants.template_paths()) == []


def test_attributes(variants: Synthesized) -> None:
    from aws_cdk import Stack, Token

    from dbscale.constructs import AuroraCluster, RedshiftCluster

    stack = variants.stacks["Variants"]
    redshift = stack.node.find_child("Retain")
    aurora = stack.node.find_child("Mysql")
    assert isinstance(redshift, RedshiftCluster) and isinstance(aurora, AuroraCluster)
    assert redshift.cluster_identifier == "sales-warehouse"
    assert Token.is_unresolved(redshift.cluster_endpoint.hostname)
    assert stack.resolve(redshift.cluster_endpoint.hostname)["Fn::GetAtt"][1] == "Endpoint.Address"
    assert stack.resolve(aurora.cluster_read_endpoint.hostname)["Fn::GetAtt"][1] == "ReadEndpoint.Address"
    assert stack.resolve(redshift.secret.secret_arn)["Fn::GetAtt"][1] == "SecretArn"
    assert redshift.connections.default_port is not None
    assert Stack.of(redshift).resolve(redshift.metric_cpu_utilization().dimensions) == {
        "ClusterIdentifier": "sales-warehouse"
    }
    assert redshift.metric_percentage_disk_space_used().metric_name == "PercentageDiskSpaceUsed"
    assert redshift.metric("QueriesCompletedPerSecond", statistic="Sum").statistic == "Sum"
    assert aurora.metric_freeable_memory().namespace == "AWS/RDS"
    names = [
        m().metric_name
        for m in (aurora.metric_select_latency, aurora.metric_dml_latency, aurora.metric_serverless_database_capacity)
    ]
    assert names == ["SelectLatency", "DMLLatency", "ServerlessDatabaseCapacity"]


# --- synth-time errors --------------------------------------------------------------------


def redshift_error(scratch: Any, **kwargs: Any) -> str:
    from dbscale.constructs import InvalidConstructProps, RedshiftCluster

    stack, vpc = scratch
    args = {"vpc": vpc, "node_type": "ra3.xlplus", "number_of_nodes": 2, **kwargs}
    with pytest.raises(InvalidConstructProps) as err:
        RedshiftCluster(stack, "Bad", **args)
    assert str(err.value).startswith("Scratch/Bad: ")
    assert isinstance(err.value, ValueError)
    return str(err.value)


def aurora_error(scratch: Any, **kwargs: Any) -> str:
    from dbscale.constructs import AuroraCluster, InvalidConstructProps

    stack, vpc = scratch
    args = {"vpc": vpc, "instance_class": "db.r6g.large", **kwargs}
    with pytest.raises(InvalidConstructProps) as err:
        AuroraCluster(stack, "Bad", **args)
    assert str(err.value).startswith("Scratch/Bad: ")
    return str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"node_type": "ra3.huge"}, "node_type 'ra3.huge' is not a Redshift node type"),
        ({"node_type": "ra3.4xlarge", "number_of_nodes": 1}, "number_of_nodes 1 is out of range for ra3.4xlarge"),
        ({"number_of_nodes": 17}, "number_of_nodes 17 is out of range"),
        ({"port": 80}, "port must be a whole number from"),
        ({"resize_type": "fast"}, "resize_type 'fast'"),
        ({"cluster_identifier": "Sales_DB"}, "cluster_identifier 'Sales_DB' is not a valid cluster identifier"),
    ],
)
def test_redshift_invalid_input_fails_at_synth(scratch: Any, kwargs: dict[str, Any], expected: str) -> None:
    assert expected in redshift_error(scratch, **kwargs)


def test_public_subnets_fail_at_synth(scratch: Any) -> None:
    from aws_cdk import aws_ec2 as ec2

    public = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    assert "public subnets" in redshift_error(scratch, vpc_subnets=public)


def test_vpc_with_only_public_subnets_fails_at_synth() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2

    stack = Stack(App(), "Scratch")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
    )
    assert "public subnets" in aurora_error((stack, vpc))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"engine": "postgres"}, "engine 'postgres' is not supported"),
        ({"instance_class": "db.m5.large"}, "instance_class 'db.m5.large' is not an Aurora instance class"),
        ({"reader_count": 16}, "reader_count must be a whole number from 0 to 15"),
        (
            {"instance_class": "db.serverless", "serverless_v2_min_capacity": 8, "serverless_v2_max_capacity": 2},
            "serverless_v2_min_capacity 8 is greater than serverless_v2_max_capacity 2",
        ),
        ({"instance_class": "db.serverless"}, "serverless_v2_min_capacity is required"),
        ({"serverless_v2_max_capacity": 4}, "serverless_v2_max_capacity applies only to instance class db.serverless"),
        ({"backup_retention": None}, "backup_retention"),
    ],
)
def test_aurora_invalid_input_fails_at_synth(scratch: Any, kwargs: dict[str, Any], expected: str) -> None:
    from aws_cdk import Duration

    if "backup_retention" in kwargs:
        kwargs = {"backup_retention": Duration.days(40)}
    assert expected in aurora_error(scratch, **kwargs)


def test_errors_come_from_the_core_validators(scratch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructs call dbscale.core.validation; they keep no copy of its rules."""
    from dbscale.core import validation
    from dbscale.core.errors import InvalidRequest

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise InvalidRequest("refused by the core", field="node_type")

    import dbscale.constructs.redshift_checks as module  # RedshiftCluster's synth-time checks

    monkeypatch.setattr(module, "validate_redshift_nodes", refuse)
    assert validation.validate_redshift_nodes is not refuse
    assert "refused by the core" in redshift_error(scratch)


def test_default_identifier_is_stable_lowercase_and_valid(tmp_path: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2

    from dbscale.constructs import AuroraCluster
    from dbscale.core.validation import validate_cluster_identifier

    identifiers = []
    for _ in range(2):
        stack = Stack(App(), "A-Very-Long-Stack-Name-That-Goes-On-And-On-For-Quite-A-While")
        vpc = ec2.Vpc(
            stack,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
        )
        cluster = AuroraCluster(stack, "OrdersDatabaseForTheCheckoutService", vpc=vpc, instance_class="db.r6g.large")
        identifiers.append(cluster.cluster_identifier)
    assert identifiers[0] == identifiers[1]
    assert validate_cluster_identifier(identifiers[0]) == identifiers[0]
    assert identifiers[0] == identifiers[0].lower() and len(identifiers[0]) <= 63


@pytest.mark.parametrize(
    ("kind", "tagged", "key"),
    [
        ("redshift", "cluster", "aws:owner"),
        ("aurora", "cluster", "dbscale:created-by"),
        ("aurora", "stack", "AWS:Team"),  # a stack-level tag reaches the cluster too
    ],
)
def test_reserved_tag_keys_fail_at_synth(scratch: Any, kind: str, tagged: str, key: str) -> None:
    """Tag keys the handler would refuse at deploy time fail the synth, naming the construct."""
    from aws_cdk import Stage, Tags

    from dbscale.constructs import AuroraCluster, RedshiftCluster

    stack, vpc = scratch
    if kind == "redshift":
        cluster: Any = RedshiftCluster(stack, "Tagged", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    else:
        cluster = AuroraCluster(stack, "Tagged", vpc=vpc, instance_class="db.r6g.large")
    Tags.of(stack).add("team", "data")
    Tags.of(cluster if tagged == "cluster" else stack).add(key, "x")
    with pytest.raises(RuntimeError) as err:
        Stage.of(stack).synth()  # type: ignore[union-attr]
    assert f"Scratch/Tagged: Tags key {key!r} is not allowed" in str(err.value)
    assert "not starting with aws: or dbscale:" in str(err.value)  # the handler's own words


def test_tags_reach_the_cluster_and_tokens_are_not_checked(scratch: Any) -> None:
    from aws_cdk import Stage, Tags

    from dbscale.constructs import RedshiftCluster

    stack, vpc = scratch
    RedshiftCluster(stack, "Tagged", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    RedshiftCluster(stack, "Untagged", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    Tags.of(stack.node.find_child("Tagged")).add("owner", stack.account)
    Tags.of(stack.node.find_child("Tagged")).add("team", "data")
    assembly = Stage.of(stack).synth()  # type: ignore[union-attr]
    resources = assembly.get_stack_by_name("Scratch").template["Resources"]
    props = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "Custom::RedshiftCluster"}
    tagged = next(p for k, p in props.items() if k.startswith("Tagged"))
    untagged = next(p for k, p in props.items() if k.startswith("Untagged"))
    assert tagged["Tags"] == [{"Key": "owner", "Value": {"Ref": "AWS::AccountId"}}, {"Key": "team", "Value": "data"}]
    assert list(tagged)[-1] == "Tags"  # after every other property, as before
    assert "Tags" not in untagged


def test_each_provider_gets_only_the_guardrails_its_clusters_were_explicitly_given(variants: Synthesized) -> None:
    t = variants.template("Variants")
    policies = {
        f["Properties"]["Handler"].split(".")[2]: json.loads(
            f["Properties"]["Environment"]["Variables"]["DBSCALE_GUARDRAILS"]
        )
        for f in resources(t, "AWS::Lambda::Function").values()
    }
    # adopt_existing=True on "Retain" (identifier sales-warehouse) allows adopting that identifier only.
    assert policies["redshift_cluster"] == {
        "adopt_prefixes": ["sales-warehouse"],
        "allow_public_access": False,
        "allow_tls_off": False,
        "allow_unencrypted": False,
    }
    # require_tls=False on "NoTls" allows TLS off; nothing else was asked for.
    assert policies["aurora_cluster"] == {
        "adopt_prefixes": [],
        "allow_public_access": False,
        "allow_tls_off": True,
        "allow_unencrypted": False,
    }


def test_template_unchanged(variants: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("clusters", stack_templates(variants))
