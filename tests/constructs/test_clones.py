"""AuroraClone, AuroraCloneProvider and ClonePoolMaintenance: what they synthesize and refuse."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Synthesized, cdk_nag_errors, cfn_lint, synthesize
from .templates import assert_template_unchanged, stack_templates
from .test_example_app import arn_text, only, resources

pytestmark = pytest.mark.slow

PREFIX = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:"


def build_variants(app: Any) -> None:
    from aws_cdk import Duration, RemovalPolicy, Stack
    from aws_cdk import aws_ec2 as ec2

    from dbscale.constructs import AuroraClone, AuroraCluster, ClonePoolMaintenance

    data = Stack(app, "Data")
    vpc = ec2.Vpc(
        data,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    source = AuroraCluster(data, "Source", vpc=vpc, instance_class="db.r6g.large", cluster_identifier="orders")
    AuroraClone(
        data,
        "Dev",
        source=source,
        instance_class="db.t4g.medium",
        copy_ok=True,
        max_copy_age=Duration.hours(36),
        copy_created_since=datetime(2025, 1, 15, 12, tzinfo=timezone.utc),
    )
    AuroraClone(
        data,
        "Analyst",
        source="legacy-prod",
        instance_class="db.serverless",
        cluster_identifier="analyst-1",
        removal_policy=RemovalPolicy.SNAPSHOT,
        purge_obsolete_copies=True,
        max_clones_per_source=10,
        wait_for_completion=False,
    )
    AuroraClone(
        data,
        "Kept",
        source=source,
        instance_class="db.r6g.large",
        removal_policy=RemovalPolicy.RETAIN,
        max_copy_age=timedelta(minutes=90),  # a timedelta works as well as a Duration
    )
    ClonePoolMaintenance(data, "Pool", source=source, min_spare_slots=5, max_copy_age=Duration.days(2))
    ClonePoolMaintenance(
        data,
        "LegacyPool",
        source="legacy-prod",
        min_spare_slots=0,
        max_copy_age=None,
        dry_run=True,
        follow_up=None,
        copy_instance_class="db.r6g.large",
    )
    # A clone in another stack than its source.
    other = Stack(app, "Dev")
    AuroraClone(other, "Alice", source=source, instance_class="db.t4g.medium")


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("clones"), build_variants)


def clones(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k[:-8]: v for k, v in resources(template, "Custom::AuroraClone").items()}


def policy_statements(template: dict[str, Any], prefix: str) -> dict[str, list[str]]:
    """Statement id -> resources (as text) of every policy under the logical id prefix."""
    found: dict[str, list[str]] = {}
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        if not logical_id.startswith(prefix):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            value = statement["Resource"]
            found.setdefault(statement.get("Sid", ""), []).extend(
                arn_text(v) for v in (value if isinstance(value, list) else [value])
            )
    return found


def test_clone_properties_and_defaults(variants: Synthesized) -> None:
    from dbscale.handlers.aurora_clone import SCHEMA

    t = variants.template("Data")
    dev = clones(t)["Dev"]
    props = dev["Properties"]
    assert props["SourceClusterId"] == "orders" and props["InstanceClass"] == "db.t4g.medium"
    assert props["CopyOk"] is True and props["MaxCopyAgeHours"] == 36
    assert props["CopyCreatedSince"] == "2025-01-15T12:00:00Z"
    assert props["FinalSnapshot"] is False  # clones are disposable by default
    assert props["PurgeObsoleteCopies"] is False and props["WaitForCompletion"] is True
    assert props["ServiceTimeout"] == "3600"
    assert dev["DeletionPolicy"] == "Delete"
    # The clone waits for its source.
    source_id = next(iter(resources(t, "Custom::AuroraCluster")))
    assert source_id in dev["DependsOn"]
    allowed = {p.name for p in SCHEMA} | {"ServiceToken", "ServiceTimeout"}
    for clone in clones(t).values():
        assert set(clone["Properties"]) <= allowed

    analyst = clones(t)["Analyst"]["Properties"]
    assert analyst["SourceClusterId"] == "legacy-prod" and analyst["CloneClusterIdentifier"] == "analyst-1"
    assert analyst["FinalSnapshot"] is True and analyst["PurgeObsoleteCopies"] is True
    assert analyst["MaxClonesPerSource"] == 10 and analyst["WaitForCompletion"] is False
    assert "ServerlessV2MinCapacity" not in analyst  # db.serverless takes the source's range

    kept = clones(t)["Kept"]
    assert kept["Properties"]["MaxCopyAgeHours"] == 1.5
    assert kept["DeletionPolicy"] == "Retain" and kept["UpdateReplacePolicy"] == "Retain"


def test_derived_identifier_is_stable_and_changes_with_the_source(tmp_path: Path) -> None:
    from aws_cdk import Stack

    from dbscale.constructs import AuroraClone
    from dbscale.core.validation import validate_cluster_identifier

    def name(source: str, path: str = "Dev") -> str:
        from aws_cdk import App

        return AuroraClone(Stack(App(), "Team"), path, source=source, instance_class="db.r6g.large").cluster_identifier

    first = name("orders")
    assert first == name("orders")
    assert first != name("orders-v2"), "a new source must give a new name, so CloudFormation replaces the clone"
    assert first.startswith("team-dev-")
    long = name("orders", "A" * 120)
    assert validate_cluster_identifier(long) == long and len(long) <= 63


def test_one_clone_provider_per_stack_scoped_to_its_clones(variants: Synthesized) -> None:
    t = variants.template("Data")
    functions = [
        f
        for f in resources(t, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "dbscale.handlers.aurora_clone.handler"
    ]
    assert len(functions) == 1
    assert functions[0]["Properties"]["Timeout"] == 900 and "VpcConfig" not in functions[0]["Properties"]
    grants = policy_statements(t, "DbscaleAuroraCloneProvider")
    dev_id = clones(t)["Dev"]["Properties"]["CloneClusterIdentifier"]
    kept_id = clones(t)["Kept"]["Properties"]["CloneClusterIdentifier"]
    assert set(grants["ManageClones"]) == set(grants["CreateClones"]) == {
        f"{PREFIX}cluster:{dev_id}",
        f"{PREFIX}cluster:analyst-1",
        f"{PREFIX}cluster:{kept_id}",
    }
    assert set(grants["CreateCloneInstances"]) == set(grants["ChangeCloneInstances"]) == {
        f"{PREFIX}db:{dev_id}-*",
        f"{PREFIX}db:analyst-1-*",
        f"{PREFIX}db:{kept_id}-*",
    }
    assert set(grants["CloneOrigins"]) == {
        f"{PREFIX}cluster:orders",
        f"{PREFIX}cluster:orders-copy-*",
        f"{PREFIX}cluster:legacy-prod",
        f"{PREFIX}cluster:legacy-prod-copy-*",
    }
    assert set(grants["ManageCopies"]) == set(grants["CreateCopies"]) == {
        f"{PREFIX}cluster:orders-copy-*",
        f"{PREFIX}cluster:legacy-prod-copy-*",
    }
    assert set(grants["ReadCopySeeds"]) == set(grants["DeleteCopySeeds"]) == {
        f"{PREFIX}cluster-snapshot:orders-copy-*",
        f"{PREFIX}cluster-snapshot:legacy-prod-copy-*",
    }
    # The AuroraCluster source's own subnet group and parameter group; any group for the named source.
    groups = set(grants["CloneGroups"])
    assert any(g.startswith(f"{PREFIX}subgrp:${{Source") for g in groups)
    assert any(g.startswith(f"{PREFIX}cluster-pg:${{Source") for g in groups)
    assert {f"{PREFIX}subgrp:*", f"{PREFIX}cluster-pg:*"} <= groups
    # The source's key for the AuroraCluster source; any key only through RDS for the named one.
    keys = set(grants["KmsGrantForCluster"])
    assert any(k.startswith("${SourceKey") for k in keys) and f"{PREFIX.replace(':rds:', ':kms:')}key/*" in keys
    for clone in clones(t).values():
        assert any(d.startswith("DbscaleAuroraCloneProviderPolicy") for d in clone["DependsOn"])


def test_a_clone_in_another_stack_gets_its_own_provider(variants: Synthesized) -> None:
    t = variants.template("Dev")
    alice = only(t, "Custom::AuroraClone")["Properties"]
    assert alice["SourceClusterId"] == "orders"
    assert len(resources(t, "AWS::Lambda::Function")) == 1
    assert "DbscaleAuroraCloneProvider" in json.dumps(alice["ServiceToken"])


def test_pool_function_rules_and_settings(variants: Synthesized) -> None:
    t = variants.template("Data")
    pools = {
        k: f
        for k, f in resources(t, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "dbscale.handlers.clone_pool.handler"
    }
    assert len(pools) == 2
    pool = next(f for k, f in pools.items() if k.startswith("Pool"))["Properties"]
    env = pool["Environment"]["Variables"]
    assert env == {
        "SOURCE_CLUSTER_ID": "orders",
        "MIN_SPARE_SLOTS": "5",
        "MAX_COPY_AGE_HOURS": "48",
        "COPY_CREATED_SINCE": "",
        "MAX_CLONES_PER_SOURCE": "",
        "COPY_INSTANCE_CLASS": "",
        "DRY_RUN": "false",
    }
    assert pool["ReservedConcurrentExecutions"] == 1 and pool["Architectures"] == ["arm64"]
    legacy = next(f for k, f in pools.items() if k.startswith("LegacyPool"))["Properties"]["Environment"]["Variables"]
    assert legacy["DRY_RUN"] == "true" and legacy["MAX_COPY_AGE_HOURS"] == ""
    assert legacy["COPY_INSTANCE_CLASS"] == "db.r6g.large"

    rules = {k: r["Properties"] for k, r in resources(t, "AWS::Events::Rule").items()}
    schedule = next(r for k, r in rules.items() if k.startswith("PoolSchedule"))
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"  # nightly by default
    assert "Input" not in schedule["Targets"][0]
    follow_up = next(r for k, r in rules.items() if k.startswith("PoolFollowUp"))
    assert follow_up["ScheduleExpression"] == "rate(10 minutes)"
    assert json.loads(follow_up["Targets"][0]["Input"]) == {"detail": {"StartCopies": False}}
    documented = json.loads((ROOT / "examples" / "events" / "aurora-clone-pool-follow-up.json").read_text())
    assert json.loads(follow_up["Targets"][0]["Input"]) == documented
    assert not [k for k in rules if k.startswith("LegacyPoolFollowUp")]


def test_the_follow_up_input_is_what_the_handler_reads() -> None:
    from dbscale.handlers.clone_pool import configuration

    config = configuration({"detail": {"StartCopies": False}}, {"SOURCE_CLUSTER_ID": "orders", "MIN_SPARE_SLOTS": "5"})
    assert config["StartCopies"] is False
    assert configuration({"detail": {}}, {"SOURCE_CLUSTER_ID": "orders", "MIN_SPARE_SLOTS": "5"})["StartCopies"]


def test_pool_iam_is_scoped_to_the_source_and_its_copies(variants: Synthesized) -> None:
    t = variants.template("Data")
    grants = policy_statements(t, "PoolPolicy")
    assert grants["CopySources"] == [f"{PREFIX}cluster:orders"]
    assert grants["ManageCopies"] == grants["CreateCopies"] == [f"{PREFIX}cluster:orders-copy-*"]
    assert grants["CreateCopyInstances"] == grants["DeleteCopyInstances"] == [f"{PREFIX}db:orders-copy-*"]
    assert grants["ReadCopySeeds"] == grants["DeleteCopySeeds"] == [f"{PREFIX}cluster-snapshot:orders-copy-*"]
    assert len(grants["KmsGrantForCopies"]) == 1 and grants["KmsGrantForCopies"][0].startswith("${SourceKey")
    assert grants["KmsDescribeKey"] == grants["KmsGrantForCopies"]
    logs = grants["WriteOwnLogs"]
    assert len(logs) == 1 and logs[0].startswith("${PoolLogGroup")
    everything = [r for rs in grants.values() for r in rs]
    assert "*" not in everything
    # The source itself: only a snapshot of it (the seed of a copy) and reading its snapshots.
    for policy in (p for k, p in resources(t, "AWS::IAM::Policy").items() if k.startswith("PoolPolicy")):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            value = statement["Resource"]
            if f"{PREFIX}cluster:orders" in [arn_text(v) for v in (value if isinstance(value, list) else [value])]:
                assert set(statement["Action"]) == {"rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"}


def test_cfn_lint_reports_no_errors(variants: Synthesized) -> None:
    assert cfn_lint(variants.template_paths()) == []


def test_cdk_nag_has_no_unacknowledged_errors(variants: Synthesized) -> None:
    # The test's bare VPC (no flow logs) is scaffolding, not dbscale's.
    assert cdk_nag_errors(variants.app, except_under="Data/Vpc/") == []


def test_attributes(variants: Synthesized) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2

    data = variants.stacks["Data"]
    dev = data.node.find_child("Dev")
    stack = Stack.of(dev)
    logical_id = stack.resolve(dev.resource.node.default_child.logical_id)
    assert stack.resolve(dev.cloned_from) == {"Fn::GetAtt": [logical_id, "ClonedFrom"]}
    assert stack.resolve(dev.cluster_endpoint.hostname)["Fn::GetAtt"][1] == "Endpoint.Address"
    assert stack.resolve(dev.cluster_read_endpoint.hostname)["Fn::GetAtt"][1] == "ReadEndpoint.Address"
    assert stack.resolve(dev.secret.secret_arn)["Fn::GetAtt"][1] == "SecretArn"
    assert stack.resolve(dev.metric_cpu_utilization().dimensions)["DBClusterIdentifier"] == dev.cluster_identifier
    source = data.node.find_child("Source")
    assert dev.connections is source.connections  # the clone has the source's security groups
    assert isinstance(dev.connections, ec2.Connections)
    analyst = data.node.find_child("Analyst")
    with pytest.raises(ValueError, match="security groups, which are unknown"):
        analyst.connections  # noqa: B018


# --- synth-time validation ----------------------------------------------------------------------


def clone_error(**kwargs: Any) -> str:
    from aws_cdk import App, Stack

    from dbscale.constructs import AuroraClone, InvalidConstructProps

    args: dict[str, Any] = {"source": "orders", "instance_class": "db.r6g.large", **kwargs}
    with pytest.raises(InvalidConstructProps) as caught:
        AuroraClone(Stack(App(), "S"), "Clone", **args)
    assert str(caught.value).startswith("S/Clone: ")
    return str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"instance_class": "db.m1.tiny"}, "instance_class 'db.m1.tiny' is not an Aurora instance class"),
        ({"source": "Prod_DB"}, "source"),
        ({"source": 42}, "source must be an AuroraCluster or a cluster identifier"),
        ({"cluster_identifier": "orders"}, "cluster_identifier must differ from source"),
        ({"copy_created_since": "yesterday"}, "copy_created_since must be an ISO-8601"),
        ({"max_clones_per_source": 0}, "max_clones_per_source must be a whole number of at least 1"),
        ({"copy_instance_class": "db.x"}, "copy_instance_class 'db.x'"),
        ({"serverless_v2_max_capacity": 4}, "serverless_v2"),
        (
            {"instance_class": "db.serverless", "serverless_v2_min_capacity": 8, "serverless_v2_max_capacity": 4},
            "serverless_v2",
        ),
    ],
)
def test_clone_invalid_input_fails_at_synth(kwargs: dict[str, Any], expected: str) -> None:
    assert expected in clone_error(**kwargs)


def test_clone_max_copy_age_must_be_positive() -> None:
    from aws_cdk import Duration

    assert "max_copy_age must be greater than 0" in clone_error(max_copy_age=Duration.seconds(0))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"min_spare_slots": -1}, "min_spare_slots must be a whole number of at least 0"),
        ({"source": "Bad Name"}, "source"),
        ({"copy_instance_class": "db.nope"}, "copy_instance_class 'db.nope'"),
        ({"max_clones_per_source": 0}, "max_clones_per_source"),
        ({"follow_up_minutes": 120}, "follow_up must be 1-60 minutes"),
    ],
)
def test_pool_invalid_input_fails_at_synth(kwargs: dict[str, Any], expected: str) -> None:
    from aws_cdk import App, Duration, Stack

    from dbscale.constructs import ClonePoolMaintenance, InvalidConstructProps

    minutes = kwargs.pop("follow_up_minutes", None)
    if minutes is not None:
        kwargs["follow_up"] = Duration.minutes(minutes)
    args: dict[str, Any] = {"source": "orders", "min_spare_slots": 5, "max_copy_age": Duration.days(1), **kwargs}
    with pytest.raises(InvalidConstructProps) as caught:
        ClonePoolMaintenance(Stack(App(), "S"), "Pool", **args)
    assert str(caught.value).startswith("S/Pool: ") and expected in str(caught.value)


def test_standalone_clone_provider_is_limited_to_its_prefixes(tmp_path: Path) -> None:
    def build(app: Any) -> None:
        from aws_cdk import Stack

        from dbscale.constructs import AuroraCloneProvider

        AuroraCloneProvider(
            Stack(app, "P"), "Clones", cluster_identifier_prefix="dev-", source_identifier_prefix="prod-"
        )

    t = synthesize(tmp_path, build).template("P")
    grants = policy_statements(t, "Clones")
    assert grants["ManageClones"] == grants["CreateClones"] == [f"{PREFIX}cluster:dev-*"]
    assert grants["CloneOrigins"] == [f"{PREFIX}cluster:prod-*"]
    assert grants["ManageCopies"] == [f"{PREFIX}cluster:prod-*"]
    assert grants["CreateCloneInstances"] == grants["ChangeCloneInstances"] == [f"{PREFIX}db:dev-*"]


def test_template_unchanged(variants: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("clones", stack_templates(variants))
