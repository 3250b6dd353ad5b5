"""RedshiftCluster's settings (issue 12, items 1 and 2): secure defaults in the synthesized
properties, typed props for every AWS::Redshift::Cluster setting, the provider granted and widened
for exactly what a cluster is given, and synth-time errors for what AWS would refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbscale.handlers.redshift_cluster import SCHEMA

from .conftest import Synthesized, synthesize
from .templates import assert_template_unchanged, stack_templates

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/warehouse-copy"


def build(app: Any) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    from dbscale.constructs import RedshiftCluster

    stack = Stack(app, "Settings")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    RedshiftCluster(stack, "Plain", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    role = iam.Role.from_role_arn(stack, "CopyRole", ROLE)
    bucket = s3.Bucket(stack, "Logs", enforce_ssl=True)
    RedshiftCluster(
        stack,
        "Everything",
        vpc=vpc,
        node_type="ra3.4xlarge",
        number_of_nodes=2,
        cluster_identifier="warehouse",
        parameter_group_name="team-plain",
        require_tls=False,
        reboot_for_parameter_changes=True,
        log_bucket=bucket,
        log_key_prefix="audit/",
        log_exports=["connectionlog"],
        automated_snapshot_retention_days=14,
        manual_snapshot_retention_days=30,
        preferred_maintenance_window="sun:05:00-sun:05:30",
        maintenance_track_name="trailing",
        allow_version_upgrade=False,
        enhanced_vpc_routing=False,
        iam_roles=[role],
        default_iam_role=role,
        multi_az=True,
        snapshot_identifier="nightly",
        snapshot_cluster_identifier="old-warehouse",
    )


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("redshift-settings"), build)


def _resources(synth: Synthesized, type_: str) -> dict[str, Any]:
    return {k: v for k, v in synth.template("Settings")["Resources"].items() if v["Type"] == type_}


def _cluster(synth: Synthesized, construct_id: str) -> dict[str, Any]:
    (props,) = [
        v["Properties"] for k, v in _resources(synth, "Custom::RedshiftCluster").items() if k.startswith(construct_id)
    ]
    return props


def _statements(synth: Synthesized) -> list[dict[str, Any]]:
    return [
        s
        for p in _resources(synth, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_cluster_without_settings_gets_the_secure_defaults(synth: Synthesized) -> None:
    props = _cluster(synth, "Plain")
    assert set(props) <= {p.name for p in SCHEMA} | {"ServiceToken", "ServiceTimeout"}
    assert "ClusterParameterGroupName" not in props  # the handler makes dbscale's TLS group
    assert props["LoggingProperties"] == {
        "LogDestinationType": "cloudwatch",
        "LogExports": ["connectionlog", "userlog", "useractivitylog"],
    }
    assert props["AutomatedSnapshotRetentionPeriod"] == 7
    assert props["EnhancedVpcRouting"] is True
    # The admin secret is encrypted with the cluster's own key, not aws/secretsmanager.
    assert props["MasterPasswordSecretKmsKeyId"] == props["KmsKeyId"]
    assert "MultiAZ" not in props and "RebootForParameterChanges" not in props


def test_every_setting_is_a_typed_prop(synth: Synthesized) -> None:
    props = _cluster(synth, "Everything")
    assert set(props) <= {p.name for p in SCHEMA} | {"ServiceToken", "ServiceTimeout"}
    expected = {
        "ClusterParameterGroupName": "team-plain",
        "RebootForParameterChanges": True,
        "AutomatedSnapshotRetentionPeriod": 14,
        "ManualSnapshotRetentionPeriod": 30,
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30",
        "MaintenanceTrackName": "trailing",
        "AllowVersionUpgrade": False,
        "EnhancedVpcRouting": False,
        "IamRoles": [ROLE],
        "DefaultIamRoleArn": ROLE,
        "MultiAZ": True,
        "SnapshotIdentifier": "nightly",
        "SnapshotClusterIdentifier": "old-warehouse",
    }
    assert {k: props[k] for k in expected} == expected
    logging = props["LoggingProperties"]
    assert (logging["LogDestinationType"], logging["LogExports"], logging["S3KeyPrefix"]) == (
        "s3",
        ["connectionlog"],
        "audit/",
    )
    assert "Ref" in logging["BucketName"]
    (policy,) = _resources(synth, "AWS::S3::BucketPolicy").values()
    assert any(
        s.get("Principal") == {"Service": "redshift.amazonaws.com"}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_tls_off_widens_the_provider_with_a_warning(synth: Synthesized) -> None:
    (function,) = [
        f
        for f in _resources(synth, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "dbscale.handlers.redshift_cluster.handler"
    ]
    policy = json.loads(function["Properties"]["Environment"]["Variables"]["DBSCALE_GUARDRAILS"])
    assert policy["allow_tls_off"] is True and policy["allow_public_access"] is False
    warnings = [m for m in synth.app.node.find_all() if m.node.metadata]
    texts = [str(e.data) for c in warnings for e in c.node.metadata if "tlsOff" in str(e.data)]
    assert texts and "without TLS" in texts[0]


def test_the_provider_may_pass_exactly_the_given_roles_and_restore_exactly_the_snapshot(synth: Synthesized) -> None:
    statements = {s.get("Sid"): s for s in _statements(synth)}
    pass_role = statements["PassRolesToRedshift"]
    assert pass_role["Action"] == "iam:PassRole" and pass_role["Resource"] == ROLE
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "redshift.amazonaws.com"}}
    snapshots = json.dumps(statements["Restore"]["Resource"])
    assert ":snapshot:old-warehouse/nightly" in snapshots and ":cluster:warehouse" in snapshots
    assert "*" not in snapshots
    groups = json.dumps([statements[s]["Resource"] for s in ("CreateParameterGroups", "ChangeParameterGroups")])
    assert "-dbscale-tls" in groups and "team-plain" not in groups  # a named group is only read
    assert "parametergroup:team-plain" in json.dumps(statements["ReadParameterGroups"]["Resource"])
    assert statements["ChangeParameterGroups"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/dbscale:created-by": "dbscale"}
    }


@pytest.fixture(scope="module")
def scratch() -> tuple[Any, Any]:
    """A stack (never synthesized) with a VPC, for constructs that must fail: one VPC for all."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2

    stack = Stack(App(), "Bad")
    return stack, ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"require_tls": False}, "require_tls"),
        ({"automated_snapshot_retention_days": 0}, "automated_snapshot_retention_days"),
        ({"manual_snapshot_retention_days": 0}, "manual_snapshot_retention_days"),
        ({"preferred_maintenance_window": "sun:05:00-sun:05:10"}, "preferred_maintenance_window"),
        ({"maintenance_track_name": "Current"}, "maintenance_track_name"),
        ({"log_exports": ["querylog"]}, "LoggingProperties"),
        ({"log_key_prefix": "audit/"}, "log_key_prefix"),
        ({"multi_az": True, "number_of_nodes": 1}, "multi_az"),
        ({"parameter_group_name": "team--tls"}, "parameter_group_name"),
        ({"owner_account": "123456789012"}, None),
    ],
)
def test_settings_aws_would_refuse_fail_the_synth(
    scratch: tuple[Any, Any], options: dict[str, Any], field: str | None
) -> None:
    from dbscale.constructs import RedshiftCluster
    from dbscale.constructs._support import InvalidConstructProps

    stack, vpc = scratch
    kwargs: dict[str, Any] = {"node_type": "ra3.xlplus", "number_of_nodes": 2, **options}
    with pytest.raises(InvalidConstructProps) as raised:
        RedshiftCluster(stack, f"Cluster{len(stack.node.children)}", vpc=vpc, **kwargs)
    if field is not None:
        assert field in str(raised.value)


def test_template_unchanged(synth: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("redshift_settings", stack_templates(synth))
