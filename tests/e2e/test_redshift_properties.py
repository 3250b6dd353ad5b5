"""Custom::RedshiftCluster's parity with AWS::Redshift::Cluster and its secure defaults (issue 12,
items 1 and 2), through the real handler on moto: create, in-place update (a paused cluster too),
FAILED naming the property, restore from a snapshot, dbscale's own TLS parameter group made and
cleaned up, TLS off refused by the guardrail, bad values refused with nothing made."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from dbscale.core.redshift.settings import owned_parameter_group_name
from tests.e2e.harness import CloudFormation
from tests.fakes import FailingCalls, redshift_settings
from tests.fakes.preflight import create_role

KIND = "Custom::RedshiftCluster"
WAREHOUSE = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2, "SkipFinalSnapshot": True}
OWNED = owned_parameter_group_name("warehouse")
ROLE_A = "arn:aws:iam::123456789012:role/warehouse-copy"
ROLE_B = "arn:aws:iam::123456789012:role/warehouse-spectrum"
ALL_LOGS = ["connectionlog", "useractivitylog", "userlog"]


def redshift() -> Any:
    return boto3.client("redshift")


def cluster(name: str = "warehouse") -> dict[str, Any]:
    return dict(redshift().describe_clusters(ClusterIdentifier=name)["Clusters"][0])


def group_names() -> list[str]:
    return sorted(g["ParameterGroupName"] for g in redshift().describe_cluster_parameter_groups()["ParameterGroups"])


def parameters(group: str) -> dict[str, str]:
    pages = redshift().get_paginator("describe_cluster_parameters").paginate(ParameterGroupName=group)
    return {p["ParameterName"]: p["ParameterValue"] for page in pages for p in page["Parameters"]}


def logging_status(name: str = "warehouse") -> tuple[bool, str, list[str]]:
    s = redshift().describe_logging_status(ClusterIdentifier=name)
    return bool(s["LoggingEnabled"]), s.get("LogDestinationType", ""), sorted(s.get("LogExports") or [])


def named_group(name: str, *, require_ssl: str) -> str:
    redshift().create_cluster_parameter_group(
        ParameterGroupName=name, ParameterGroupFamily="redshift-1.0", Description="team group"
    )
    redshift().modify_cluster_parameter_group(
        ParameterGroupName=name, Parameters=[{"ParameterName": "require_ssl", "ParameterValue": require_ssl}]
    )
    return name


def send(cfn: CloudFormation, request: str, props: dict[str, Any], **kw: Any) -> Any:
    return cfn.send(cfn.event(request, KIND, props, **kw))


def test_a_new_cluster_is_secure_by_default_and_its_parameter_group_goes_with_it(redshift_cfn: CloudFormation) -> None:
    made = send(redshift_cfn, "Create", WAREHOUSE)
    assert made.status == "SUCCESS", made.reason
    c = cluster()
    assert c["ClusterParameterGroups"][0]["ParameterGroupName"] == OWNED
    assert made.data["ParameterGroupName"] == OWNED and made.data["ParameterApplyStatus"] == "in-sync"
    values = parameters(OWNED)
    assert (values["require_ssl"], values["enable_user_activity_logging"]) == ("true", "true")
    tags = {t["Key"]: t["Value"] for t in redshift().describe_cluster_parameter_groups(ParameterGroupName=OWNED)[
        "ParameterGroups"][0]["Tags"]}  # fmt: skip
    assert tags["dbscale:created-by"] == "dbscale" and tags["dbscale:cfn-logical-id"] == "Cluster"
    assert c["AutomatedSnapshotRetentionPeriod"] == 7
    assert (c["ManualSnapshotRetentionPeriod"], c["MaintenanceTrackName"], c["AllowVersionUpgrade"]) == (
        -1,
        "current",
        True,
    )
    assert logging_status() == (True, "cloudwatch", ALL_LOGS)
    deleted = send(redshift_cfn, "Delete", WAREHOUSE, physical_id="warehouse")
    assert deleted.status == "SUCCESS", deleted.reason
    assert redshift().describe_clusters()["Clusters"] == []
    assert group_names() == ["default.redshift-1.0"]


def test_every_property_is_sent_on_create(redshift_cfn: CloudFormation) -> None:
    for role in (ROLE_A, ROLE_B):
        create_role(role, "redshift.amazonaws.com")  # the preflight reads them
    named_group("team-tls", require_ssl="true")
    boto3.client("s3").create_bucket(Bucket="warehouse-audit-logs")
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    props = {
        **WAREHOUSE,
        "ClusterParameterGroupName": "team-tls",
        "LoggingProperties": {
            "LogDestinationType": "s3",
            "BucketName": "warehouse-audit-logs",
            "S3KeyPrefix": "audit/warehouse/",
        },
        "AutomatedSnapshotRetentionPeriod": 14,
        "ManualSnapshotRetentionPeriod": 90,
        "PreferredMaintenanceWindow": "Sun:05:00-Sun:05:30",
        "MaintenanceTrackName": "trailing",
        "AllowVersionUpgrade": False,
        "EnhancedVpcRouting": True,
        "IamRoles": [ROLE_A, ROLE_B],
        "DefaultIamRoleArn": ROLE_B,
        "MultiAZ": True,
        "MasterPasswordSecretKmsKeyId": key,
    }
    made = send(redshift_cfn, "Create", props)
    assert made.status == "SUCCESS", made.reason
    c = cluster()
    assert c["ClusterParameterGroups"][0]["ParameterGroupName"] == "team-tls"
    assert (c["AutomatedSnapshotRetentionPeriod"], c["ManualSnapshotRetentionPeriod"]) == (14, 90)
    assert c["PreferredMaintenanceWindow"].lower() == "sun:05:00-sun:05:30"
    assert (c["MaintenanceTrackName"], c["AllowVersionUpgrade"], c["EnhancedVpcRouting"]) == ("trailing", False, True)
    assert sorted(r["IamRoleArn"] for r in c["IamRoles"]) == [ROLE_A, ROLE_B] and c["DefaultIamRoleArn"] == ROLE_B
    assert (c["MultiAZ"], c["MasterPasswordSecretKmsKeyId"]) == ("Enabled", key)
    status = redshift().describe_logging_status(ClusterIdentifier="warehouse")
    assert (status["LogDestinationType"], status["BucketName"], status["S3KeyPrefix"]) == (
        "s3",
        "warehouse-audit-logs",
        "audit/warehouse/",
    )
    assert OWNED not in group_names()  # a named group: dbscale makes none


def test_settings_of_a_paused_cluster_change_in_place_and_it_is_paused_again(redshift_cfn: CloudFormation) -> None:
    for role in (ROLE_A, ROLE_B):
        create_role(role, "redshift.amazonaws.com")  # the preflight reads them
    paused = {**WAREHOUSE, "Paused": True, "IamRoles": [ROLE_A]}
    assert send(redshift_cfn, "Create", paused).status == "SUCCESS"
    named_group("team-tls", require_ssl="true")
    changed = {
        **paused,
        "ClusterParameterGroupName": "team-tls",
        "LoggingProperties": {"LogExports": []},  # logging off, explicitly
        "AutomatedSnapshotRetentionPeriod": 1,
        "ManualSnapshotRetentionPeriod": 30,
        "PreferredMaintenanceWindow": "mon:01:00-mon:02:00",
        "EnhancedVpcRouting": True,
        "IamRoles": [ROLE_B],
        "DefaultIamRoleArn": ROLE_B,
    }
    result = send(redshift_cfn, "Update", changed, physical_id="warehouse", old_properties=paused)
    assert result.status == "SUCCESS", result.reason
    c = cluster()
    assert c["ClusterStatus"] == "paused"
    assert (c["AutomatedSnapshotRetentionPeriod"], c["ManualSnapshotRetentionPeriod"]) == (1, 30)
    assert c["PreferredMaintenanceWindow"] == "mon:01:00-mon:02:00" and c["EnhancedVpcRouting"] is True
    assert [r["IamRoleArn"] for r in c["IamRoles"]] == [ROLE_B] and c["DefaultIamRoleArn"] == ROLE_B
    assert logging_status()[0] is False
    # A new parameter group applies at the next reboot: reported, not done unasked.
    assert c["ClusterParameterGroups"] == [{"ParameterGroupName": "team-tls", "ParameterApplyStatus": "pending-reboot"}]
    assert result.data["ParameterApplyStatus"] == "pending-reboot"
    assert OWNED not in group_names()  # dbscale's former group is deleted once unused
    # Back to dbscale's own group, with the reboot asked for: the group is made again and applied.
    back = {**paused, "RebootForParameterChanges": True}
    result = send(redshift_cfn, "Update", back, physical_id="warehouse", old_properties=changed)
    assert result.status == "SUCCESS", result.reason
    c = cluster()
    assert c["ClusterStatus"] == "paused"
    assert c["ClusterParameterGroups"] == [{"ParameterGroupName": OWNED, "ParameterApplyStatus": "in-sync"}]
    assert logging_status() == (True, "cloudwatch", ALL_LOGS)
    assert redshift_cfn.send(redshift_cfn.event("Delete", KIND, back, physical_id="warehouse")).status == "SUCCESS"
    assert group_names() == ["default.redshift-1.0", "team-tls"]  # the team's group is not dbscale's to delete


@pytest.mark.parametrize(
    ("name", "value"),
    [("SnapshotIdentifier", "nightly"), ("SnapshotClusterIdentifier", "other"), ("OwnerAccount", "210987654321")],
)
def test_restore_properties_cannot_change_in_place(redshift_cfn: CloudFormation, name: str, value: str) -> None:
    old = {**WAREHOUSE, "SnapshotIdentifier": "nightly-1"}
    new = {**old, name: value}
    result = send(redshift_cfn, "Update", new, physical_id="warehouse", old_properties=old)
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {name}:") and "cannot change in place" in result.reason


def test_restore_from_a_snapshot_gets_dbscale_tags_secret_defaults_and_the_declared_size(
    redshift_cfn: CloudFormation,
) -> None:
    source = {**WAREHOUSE, "ClusterIdentifier": "source"}
    assert send(redshift_cfn, "Create", source, logical_id="Source").status == "SUCCESS"
    redshift().create_cluster_snapshot(SnapshotIdentifier="nightly", ClusterIdentifier="source")
    props = {**WAREHOUSE, "NumberOfNodes": 4, "SnapshotIdentifier": "nightly", "SnapshotClusterIdentifier": "source"}
    made = send(redshift_cfn, "Create", props)
    assert made.status == "SUCCESS", made.reason
    c = cluster()
    tags = {t["Key"]: t["Value"] for t in c["Tags"]}
    assert (tags["dbscale:created-by"], tags["dbscale:cfn-logical-id"]) == ("dbscale", "Cluster")
    assert c["NumberOfNodes"] == 4 and c["ClusterStatus"] == "available"
    assert c["MasterPasswordSecretArn"] and made.data["SecretArn"] == c["MasterPasswordSecretArn"]
    assert c["ClusterParameterGroups"][0]["ParameterGroupName"] == OWNED
    assert c["AutomatedSnapshotRetentionPeriod"] == 7 and logging_status() == (True, "cloudwatch", ALL_LOGS)
    deleted = send(redshift_cfn, "Delete", props, physical_id="warehouse")
    assert deleted.status == "SUCCESS", deleted.reason
    assert OWNED not in group_names()


def test_tls_off_in_a_named_group_is_refused_unless_the_provider_allows_it(
    redshift_cfn: CloudFormation, allow_guardrails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redshift_settings, "DESCRIBE_PARAMETERS_PAGE", 2)  # require_ssl is on the 4th page
    named_group("plain-text", require_ssl="false")
    props = {**WAREHOUSE, "ClusterParameterGroupName": "plain-text"}
    refused = send(redshift_cfn, "Create", props)
    assert refused.status == "FAILED"
    assert refused.reason.startswith("Invalid property ClusterParameterGroupName:"), refused.reason
    assert "guardrail 'allow_tls_off'" in refused.reason and refused.physical_id.startswith("DBSCALE-NOT-CREATED-")
    assert redshift().describe_clusters()["Clusters"] == [] and group_names() == ["default.redshift-1.0", "plain-text"]
    allow_guardrails(allow_tls_off=True)
    allowed = send(redshift_cfn, "Create", props)
    assert allowed.status == "SUCCESS", allowed.reason
    assert cluster()["ClusterParameterGroups"][0]["ParameterGroupName"] == "plain-text"
    # Redeployed strict: an unrelated update of the cluster running with that group still goes through.
    monkeypatch.delenv("DBSCALE_GUARDRAILS")
    tagged = {**props, "Tags": [{"Key": "team", "Value": "bi"}]}
    result = send(redshift_cfn, "Update", tagged, physical_id="warehouse", old_properties=props)
    assert result.status == "SUCCESS", result.reason


def test_switching_to_a_tls_off_group_in_place_is_refused(redshift_cfn: CloudFormation) -> None:
    assert send(redshift_cfn, "Create", WAREHOUSE).status == "SUCCESS"
    named_group("plain-text", require_ssl="false")
    props = {**WAREHOUSE, "ClusterParameterGroupName": "plain-text"}
    result = send(redshift_cfn, "Update", props, physical_id="warehouse", old_properties=WAREHOUSE)
    assert result.status == "FAILED" and "allow_tls_off" in result.reason, result.reason
    assert cluster()["ClusterParameterGroups"][0]["ParameterGroupName"] == OWNED


BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"AutomatedSnapshotRetentionPeriod": 36}, "AutomatedSnapshotRetentionPeriod"),
    ({"AutomatedSnapshotRetentionPeriod": 0}, "AutomatedSnapshotRetentionPeriod"),  # RA3 keeps at least 1
    ({"AutomatedSnapshotRetentionPeriod": "seven"}, "AutomatedSnapshotRetentionPeriod"),
    ({"ManualSnapshotRetentionPeriod": 0}, "ManualSnapshotRetentionPeriod"),
    ({"ManualSnapshotRetentionPeriod": 3654}, "ManualSnapshotRetentionPeriod"),
    ({"PreferredMaintenanceWindow": "sun:05:00-sun:05:29"}, "PreferredMaintenanceWindow"),
    ({"PreferredMaintenanceWindow": "sunday 5am"}, "PreferredMaintenanceWindow"),
    ({"PreferredMaintenanceWindow": "sun:24:00-mon:01:00"}, "PreferredMaintenanceWindow"),
    ({"MaintenanceTrackName": "Current!"}, "MaintenanceTrackName"),
    ({"LoggingProperties": {"LogExports": ["querylog"]}}, "LoggingProperties"),
    ({"LoggingProperties": {"Bucket": "x"}}, "LoggingProperties"),
    ({"LoggingProperties": {"LogDestinationType": "s3"}}, "LoggingProperties"),
    ({"LoggingProperties": {"LogDestinationType": "cloudwatch", "BucketName": "logs"}}, "LoggingProperties"),
    (
        {"LoggingProperties": {"LogDestinationType": "s3", "BucketName": "logs", "S3KeyPrefix": "a*b"}},
        "LoggingProperties",
    ),
    ({"LoggingProperties": "cloudwatch"}, "LoggingProperties"),
    ({"IamRoles": ["not-an-arn"]}, "IamRoles"),
    ({"IamRoles": [ROLE_A], "DefaultIamRoleArn": ROLE_B}, "DefaultIamRoleArn"),
    ({"MultiAZ": True, "NumberOfNodes": 1}, "MultiAZ"),
    ({"MultiAZ": "maybe"}, "MultiAZ"),
    ({"EnhancedVpcRouting": "yes please"}, "EnhancedVpcRouting"),
    ({"ClusterParameterGroupName": "team--tls"}, "ClusterParameterGroupName"),
    ({"ClusterParameterGroupName": "missing-group"}, "ClusterParameterGroupName"),
    ({"OwnerAccount": "123456789012"}, "OwnerAccount"),
    ({"SnapshotIdentifier": "s", "OwnerAccount": "12345"}, "OwnerAccount"),
    ({"SnapshotIdentifier": "no-such-snapshot"}, "SnapshotIdentifier"),
    ({"MasterPasswordSecretKmsKeyId": "has space"}, "MasterPasswordSecretKmsKeyId"),
    ({"RebootForParameterChanges": "later"}, "RebootForParameterChanges"),
]


def test_bad_values_are_refused_naming_the_property_with_nothing_made(redshift_cfn: CloudFormation) -> None:
    # One moto for all cases (each refusal leaves nothing behind, which is what is checked).
    for extra, field in BAD_VALUES:
        result = send(redshift_cfn, "Create", {**WAREHOUSE, **extra})
        assert result.status == "FAILED", extra
        assert result.reason.startswith(f"Invalid property {field}"), (extra, result.reason)
        assert result.physical_id.startswith("DBSCALE-NOT-CREATED-"), extra
        assert redshift().describe_clusters()["Clusters"] == [] and group_names() == ["default.redshift-1.0"], extra


def test_a_create_aws_refuses_leaves_no_parameter_group(redshift_cfn: CloudFormation) -> None:
    source = {**WAREHOUSE, "ClusterIdentifier": "source"}
    assert send(redshift_cfn, "Create", source, logical_id="Source").status == "SUCCESS"
    redshift().create_cluster_snapshot(SnapshotIdentifier="nightly", ClusterIdentifier="source")
    # Another account's snapshot of that name: not shared with this one, so AWS refuses the restore.
    props = {**WAREHOUSE, "SnapshotIdentifier": "nightly", "OwnerAccount": "210987654321"}
    result = send(redshift_cfn, "Create", props)
    assert result.status == "FAILED", result.reason
    assert [c["ClusterIdentifier"] for c in redshift().describe_clusters()["Clusters"]] == ["source"]
    assert OWNED not in group_names()


def test_a_create_that_fails_after_aws_made_the_cluster_keeps_the_group_until_the_cluster_is_deleted(
    redshift_cfn: CloudFormation, failing_calls: FailingCalls, boto_session: Any
) -> None:
    # AWS made the cluster, then the provider failed (it may no longer read it): the group stays
    # while the cluster uses it, and CloudFormation's Delete of the physical id removes both.
    def lose_access(**_: Any) -> None:
        failing_calls.fail("DescribeClusters", "AccessDeniedException")

    boto_session.events.register("after-call.redshift.CreateCluster", lose_access)
    result = send(redshift_cfn, "Create", WAREHOUSE)
    assert result.status == "FAILED" and result.physical_id == "warehouse", result.reason
    failing_calls.fail("DescribeClusters", "AccessDeniedException", times=0)
    assert OWNED in group_names()
    deleted = send(redshift_cfn, "Delete", WAREHOUSE, physical_id=result.physical_id)
    assert deleted.status == "SUCCESS", deleted.reason
    assert redshift().describe_clusters()["Clusters"] == [] and group_names() == ["default.redshift-1.0"]


def test_a_replacement_gets_its_own_group_and_the_old_one_goes_with_the_old_cluster(
    redshift_cfn: CloudFormation,
) -> None:
    assert send(redshift_cfn, "Create", WAREHOUSE).status == "SUCCESS"
    renamed = {**WAREHOUSE, "ClusterIdentifier": "warehouse2"}
    result = send(redshift_cfn, "Update", renamed, physical_id="warehouse", old_properties=WAREHOUSE)
    assert result.status == "SUCCESS" and result.physical_id == "warehouse2", result.reason
    assert group_names() == sorted(["default.redshift-1.0", owned_parameter_group_name("warehouse2"), OWNED])
    assert send(redshift_cfn, "Delete", WAREHOUSE, physical_id="warehouse").status == "SUCCESS"
    assert group_names() == ["default.redshift-1.0", owned_parameter_group_name("warehouse2")]
