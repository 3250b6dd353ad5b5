"""Issue 11, item 7 through the handlers: input that must be refused never reaches AWS, numbers are
read exactly, every Reason names the CloudFormation property, and Adopted says who created the cluster."""

# ruff: noqa: RUF001, F811  (non-ASCII digits on purpose; the clone fixtures are imported)
from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.harness import CloudFormation
from tests.e2e.test_aurora_clone import PROPS as CLONE_PROPS
from tests.e2e.test_aurora_clone import cfn, clusters, create, fake, rds, source  # noqa: F401 (fixtures)

REDSHIFT = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": "2"}
AURORA = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"}

# (id, properties, the property the Reason must name)
REDSHIFT_CASES = [
    ("count-with-underscore", {**REDSHIFT, "NumberOfNodes": "1_6"}, "NumberOfNodes"),
    ("count-arabic-indic-digits", {**REDSHIFT, "NumberOfNodes": "٢"}, "NumberOfNodes"),
    ("count-fullwidth-digits", {**REDSHIFT, "NumberOfNodes": "２"}, "NumberOfNodes"),
    ("port-with-underscore", {**REDSHIFT, "Port": "5_439"}, "Port"),
    ("paused-yes", {**REDSHIFT, "Paused": "yes"}, "Paused"),
    ("paused-one", {**REDSHIFT, "Paused": "1"}, "Paused"),
    ("identifier-nul", {**REDSHIFT, "ClusterIdentifier": "ware\x00house"}, "ClusterIdentifier"),
    ("identifier-trailing-newline", {**REDSHIFT, "ClusterIdentifier": "warehouse\n"}, "ClusterIdentifier"),
    ("db-name-nul", {**REDSHIFT, "DBName": "dev\x00"}, "DBName"),
    ("db-name-uppercase", {**REDSHIFT, "DBName": "Dev"}, "DBName"),
    ("username-escape", {**REDSHIFT, "MasterUsername": "ad\x1bmin"}, "MasterUsername"),
    ("username-public", {**REDSHIFT, "MasterUsername": "public"}, "MasterUsername"),
    ("subnet-group-nul", {**REDSHIFT, "ClusterSubnetGroupName": "subnets\x00"}, "ClusterSubnetGroupName"),
    ("security-group-c1", {**REDSHIFT, "VpcSecurityGroupIds": ["sg-0123abcd\x85"]}, "VpcSecurityGroupIds"),
    ("security-group-not-an-id", {**REDSHIFT, "VpcSecurityGroupIds": ["default"]}, "VpcSecurityGroupIds"),
    ("kms-key-del", {**REDSHIFT, "KmsKeyId": "alias/key\x7f"}, "KmsKeyId"),
    ("tag-key-escape", {**REDSHIFT, "Tags": [{"Key": "team\x1b[31m", "Value": "x"}]}, "Tags"),
    ("tag-value-nul", {**REDSHIFT, "Tags": [{"Key": "team", "Value": "data\x00"}]}, "Tags"),
    ("tag-value-outside-charset", {**REDSHIFT, "Tags": [{"Key": "team", "Value": "a;b"}]}, "Tags"),
    ("service-timeout-underscore", {**REDSHIFT, "ServiceTimeout": "3_600"}, "ServiceTimeout"),
]
AURORA_CASES = [
    ("readers-arabic-indic", {**AURORA, "ReaderCount": "١"}, "ReaderCount"),
    (
        "acu-exponent",
        {**AURORA, "InstanceClass": "db.serverless", "ServerlessV2MinCapacity": "5e-1", "ServerlessV2MaxCapacity": "4"},
        "ServerlessV2MinCapacity",
    ),
    (
        "acu-nan",
        {
            **AURORA,
            "InstanceClass": "db.serverless",
            "ServerlessV2MinCapacity": "0.5",
            "ServerlessV2MaxCapacity": "nan",
        },
        "ServerlessV2MaxCapacity",
    ),
    ("retention-underscore", {**AURORA, "BackupRetentionPeriod": "1_0"}, "BackupRetentionPeriod"),
    ("parameter-group-nul", {**AURORA, "DBClusterParameterGroupName": "pg\x00"}, "DBClusterParameterGroupName"),
    (
        "parameter-group-double-hyphen",
        {**AURORA, "DBClusterParameterGroupName": "my--pg"},
        "DBClusterParameterGroupName",
    ),
    ("subnet-group-escape", {**AURORA, "DBSubnetGroupName": "\x1bsubnets"}, "DBSubnetGroupName"),
    ("database-name-hyphen", {**AURORA, "DatabaseName": "my-db"}, "DatabaseName"),
    ("username-too-long-mysql", {**AURORA, "Engine": "aurora-mysql", "MasterUsername": "a" * 17}, "MasterUsername"),
    ("engine-version-nul", {**AURORA, "EngineVersion": "16.4\x00"}, "EngineVersion"),
    ("storage-encrypted-yes", {**AURORA, "StorageEncrypted": "yes"}, "StorageEncrypted"),
]


def _assert_refused(cfn: CloudFormation, resource_type: str, props: dict[str, Any], prop: str) -> None:
    result = cfn.send(cfn.event("Create", resource_type, props))
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {prop}:"), result.reason
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    deleted = cfn.send(cfn.event("Delete", resource_type, props, physical_id=result.physical_id))
    assert deleted.status == "SUCCESS", deleted.reason


@pytest.mark.parametrize(("props", "prop"), [c[1:] for c in REDSHIFT_CASES], ids=[c[0] for c in REDSHIFT_CASES])
def test_redshift_refuses(redshift_cfn: CloudFormation, props: dict[str, Any], prop: str) -> None:
    _assert_refused(redshift_cfn, "Custom::RedshiftCluster", props, prop)
    assert boto3.client("redshift").describe_clusters()["Clusters"] == []


@pytest.mark.parametrize(("props", "prop"), [c[1:] for c in AURORA_CASES], ids=[c[0] for c in AURORA_CASES])
def test_aurora_refuses(aurora_cfn: CloudFormation, props: dict[str, Any], prop: str) -> None:
    _assert_refused(aurora_cfn, "Custom::AuroraCluster", props, prop)
    assert boto3.client("rds").describe_db_clusters()["DBClusters"] == []


def test_plain_digits_and_spaces_are_still_read(redshift_cfn: CloudFormation) -> None:
    result = redshift_cfn.send(
        redshift_cfn.event("Create", "Custom::RedshiftCluster", {**REDSHIFT, "NumberOfNodes": " 3 ", "Paused": "TRUE"})
    )
    assert result.status == "SUCCESS", result.reason
    assert (result.data["NumberOfNodes"], result.data["Paused"]) == ("3", "true")


# --- clones: overflow and Python names ----------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "prop"),
    [
        ({"CopyCreatedSince": "0001-01-01T00:00:00+01:00"}, "CopyCreatedSince"),
        ({"CopyCreatedSince": "9999-12-31T23:00:00-05:00"}, "CopyCreatedSince"),
        ({"MaxCopyAgeHours": "1e300"}, "MaxCopyAgeHours"),
        ({"MaxCopyAgeHours": "100000000000000000000"}, "MaxCopyAgeHours"),
        ({"MaxClonesPerSource": "1_5"}, "MaxClonesPerSource"),
        ({"Tags": [{"Key": "team", "Value": "\x00"}]}, "Tags"),
        ({"InstanceClass": "db.serverless"}, "ServerlessV2MaxCapacity"),  # the source has no range to copy
    ],
    ids=["since-year-1", "since-year-9999", "age-1e300", "age-huge", "limit-underscore", "tag-nul", "acu-from-source"],
)
def test_clone_input_is_refused_naming_the_property(
    cfn: CloudFormation,
    source: str,
    rds: Any,
    extra: dict[str, Any],
    prop: str,
) -> None:
    before = sorted(clusters(rds))
    result = create(cfn, {**CLONE_PROPS, **extra})
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {prop}:"), result.reason
    assert "Internal error" not in result.reason
    assert "serverless_v2" not in result.reason and "copy_created_since" not in result.reason, result.reason
    assert sorted(clusters(rds)) == before


# --- Adopted: true exactly when this resource did not create the cluster -------------------------


def test_adopting_a_cluster_another_resource_created_reports_adopted(
    redshift_cfn: CloudFormation, allow_guardrails: Any
) -> None:
    allow_guardrails(adopt_prefixes=[""])
    made = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", REDSHIFT, logical_id="Original"))
    assert made.status == "SUCCESS" and made.data["Adopted"] == "false"
    adopting = {**REDSHIFT, "AdoptExisting": True}
    adopted = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", adopting, logical_id="Adopter"))
    assert adopted.status == "SUCCESS", adopted.reason
    assert adopted.data["Adopted"] == "true"
    updated = redshift_cfn.send(
        redshift_cfn.event(
            "Update",
            "Custom::RedshiftCluster",
            {**adopting, "NumberOfNodes": "3"},
            logical_id="Adopter",
            physical_id="warehouse",
            old_properties=adopting,
        )
    )
    assert updated.status == "SUCCESS", updated.reason
    assert updated.data["Adopted"] == "true"
    # The adopter's Delete leaves the cluster; the creator's Delete removes it.
    gone = redshift_cfn.send(
        redshift_cfn.event("Delete", "Custom::RedshiftCluster", adopting, logical_id="Adopter", physical_id="warehouse")
    )
    assert gone.status == "SUCCESS"
    assert [c["ClusterIdentifier"] for c in boto3.client("redshift").describe_clusters()["Clusters"]] == ["warehouse"]


def test_aurora_adopted_attribute_follows_ownership(aurora_cfn: CloudFormation, allow_guardrails: Any) -> None:
    allow_guardrails(adopt_prefixes=[""])
    made = aurora_cfn.send(aurora_cfn.event("Create", "Custom::AuroraCluster", AURORA, logical_id="Original"))
    assert made.status == "SUCCESS" and made.data["Adopted"] == "false"
    adopted = aurora_cfn.send(
        aurora_cfn.event("Create", "Custom::AuroraCluster", {**AURORA, "AdoptExisting": True}, logical_id="Adopter")
    )
    assert adopted.status == "SUCCESS", adopted.reason
    assert adopted.data["Adopted"] == "true"
