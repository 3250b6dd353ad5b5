"""Bad input: each case is FAILED with a Reason naming the property, and nothing is left in AWS."""

from __future__ import annotations

import boto3
import pytest

from tests.e2e.harness import CloudFormation

REDSHIFT = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": "2"}
AURORA = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"}
SERVERLESS = {"ClusterIdentifier": "orders", "InstanceClass": "db.serverless",
              "ServerlessV2MinCapacity": "0.5", "ServerlessV2MaxCapacity": "4"}


def without(props: dict[str, object], name: str) -> dict[str, object]:
    return {k: v for k, v in props.items() if k != name}


# (id, properties, the property the Reason must name, a phrase the Reason must contain)
REDSHIFT_CASES = [
    ("missing-identifier", without(REDSHIFT, "ClusterIdentifier"), "ClusterIdentifier", "required"),
    ("missing-node-type", without(REDSHIFT, "NodeType"), "NodeType", "required"),
    ("missing-node-count", without(REDSHIFT, "NumberOfNodes"), "NumberOfNodes", "required"),
    ("count-not-a-number", {**REDSHIFT, "NumberOfNodes": "two"}, "NumberOfNodes", "whole number"),
    ("count-fraction", {**REDSHIFT, "NumberOfNodes": "2.5"}, "NumberOfNodes", "whole number"),
    ("count-zero", {**REDSHIFT, "NumberOfNodes": "0"}, "NumberOfNodes", "1 to 16"),
    ("count-too-large", {**REDSHIFT, "NumberOfNodes": "200"}, "NumberOfNodes", "1 to 16"),
    ("count-below-type-minimum", {**REDSHIFT, "NodeType": "ra3.4xlarge", "NumberOfNodes": "1"}, "NumberOfNodes", "2 to 32"),
    ("unknown-node-type", {**REDSHIFT, "NodeType": "ra3.huge"}, "NodeType", "allowed: dc2.large"),
    ("paused-not-boolean", {**REDSHIFT, "Paused": "maybe"}, "Paused", "true or false"),
    ("port-not-number", {**REDSHIFT, "Port": "abc"}, "Port", "whole number"),
    ("port-out-of-range", {**REDSHIFT, "Port": "80"}, "Port", "1150 to 65535"),
    ("port-not-for-ra3", {**REDSHIFT, "Port": "5500"}, "Port", "5431-5455"),
    ("unknown-resize-type", {**REDSHIFT, "ResizeType": "fast"}, "ResizeType", "auto, elastic, classic"),
    ("tags-not-a-list", {**REDSHIFT, "Tags": "team=data"}, "Tags", "Key, Value"),
    ("tags-reserved-prefix", {**REDSHIFT, "Tags": [{"Key": "aws:owner", "Value": "x"}]}, "Tags", "not allowed"),
    ("unknown-property", {**REDSHIFT, "NodeCount": "2"}, "NodeCount", "unknown property"),
    ("identifier-uppercase", {**REDSHIFT, "ClusterIdentifier": "Ware_House"}, "ClusterIdentifier", "lowercase"),
    ("identifier-leading-hyphen", {**REDSHIFT, "ClusterIdentifier": "-warehouse"}, "ClusterIdentifier", "starting with a letter"),
    ("identifier-too-long", {**REDSHIFT, "ClusterIdentifier": "w" * 64}, "ClusterIdentifier", "limit is 63"),
    ("service-timeout-too-long", {**REDSHIFT, "ServiceTimeout": "7200"}, "ServiceTimeout", "1 to 3600"),
]
AURORA_CASES = [
    ("missing-instance-class", without(AURORA, "InstanceClass"), "InstanceClass", "required"),
    ("unknown-engine", {**AURORA, "Engine": "postgres"}, "Engine", "aurora-postgresql, aurora-mysql"),
    ("unknown-instance-class", {**AURORA, "InstanceClass": "db.x9.nano"}, "InstanceClass", "db.serverless"),
    ("too-many-readers", {**AURORA, "ReaderCount": "16"}, "ReaderCount", "0 to 15"),
    ("negative-readers", {**AURORA, "ReaderCount": "-1"}, "ReaderCount", "0 to 15"),
    ("negative-min-acu", {**SERVERLESS, "ServerlessV2MinCapacity": "-1"}, "ServerlessV2MinCapacity", "0 to 256"),
    ("inverted-acu-range", {**SERVERLESS, "ServerlessV2MinCapacity": "8", "ServerlessV2MaxCapacity": "2"}, "ServerlessV2MinCapacity", "greater than"),
    ("acu-not-half-step", {**SERVERLESS, "ServerlessV2MaxCapacity": "4.2"}, "ServerlessV2MaxCapacity", "steps of 0.5"),
    ("max-acu-too-large", {**SERVERLESS, "ServerlessV2MaxCapacity": "512"}, "ServerlessV2MaxCapacity", "1 to 256"),
    ("acu-missing-for-serverless", without(SERVERLESS, "ServerlessV2MaxCapacity"), "ServerlessV2MaxCapacity", "required"),
    ("acu-on-provisioned-class", {**AURORA, "ServerlessV2MaxCapacity": "4"}, "ServerlessV2MaxCapacity", "applies only"),
    ("backup-retention-zero", {**AURORA, "BackupRetentionPeriod": "0"}, "BackupRetentionPeriod", "at least 1"),
    ("encryption-not-boolean", {**AURORA, "StorageEncrypted": "yes please"}, "StorageEncrypted", "true or false"),
    ("unknown-aurora-property", {**AURORA, "MasterUserPassword": "hunter2hunter2"}, "MasterUserPassword", "unknown property"),
]


def _assert_rejected(cfn: CloudFormation, resource_type: str, props: dict[str, object], prop: str, phrase: str) -> None:
    result = cfn.send(cfn.event("Create", resource_type, props))
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {prop}:"), result.reason
    assert phrase in result.reason, result.reason
    assert len(result.reason.encode()) < 4096
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    assert "hunter2" not in str(result.response)
    # The rollback Delete that follows touches nothing and succeeds.
    deleted = cfn.send(cfn.event("Delete", resource_type, props, physical_id=result.physical_id))
    assert deleted.status == "SUCCESS", deleted.reason


@pytest.mark.parametrize(("props", "prop", "phrase"), [c[1:] for c in REDSHIFT_CASES], ids=[c[0] for c in REDSHIFT_CASES])
def test_redshift_bad_input(redshift_cfn: CloudFormation, props: dict[str, object], prop: str, phrase: str) -> None:
    _assert_rejected(redshift_cfn, "Custom::RedshiftCluster", props, prop, phrase)
    assert boto3.client("redshift").describe_clusters()["Clusters"] == []


@pytest.mark.parametrize(("props", "prop", "phrase"), [c[1:] for c in AURORA_CASES], ids=[c[0] for c in AURORA_CASES])
def test_aurora_bad_input(aurora_cfn: CloudFormation, props: dict[str, object], prop: str, phrase: str) -> None:
    _assert_rejected(aurora_cfn, "Custom::AuroraCluster", props, prop, phrase)
    assert boto3.client("rds").describe_db_clusters()["DBClusters"] == []
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []
