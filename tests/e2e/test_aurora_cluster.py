"""Custom::AuroraCluster end to end: CloudFormation event JSON -> handler -> response over HTTPS."""

from __future__ import annotations

from typing import Any

import boto3

from tests.e2e.harness import CloudFormation

TYPE = "Custom::AuroraCluster"
PROPS = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 1, "DatabaseName": "orders"}


def rds() -> object:
    return boto3.client("rds")


def instances(cluster: str = "orders") -> dict[str, str]:
    found = boto3.client("rds").describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [cluster]}])
    return {i["DBInstanceIdentifier"]: i["DBInstanceClass"] for i in found["DBInstances"]}


def writer(cluster: str = "orders") -> str:
    members = boto3.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterMembers"]
    return next(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"])


def status(cluster: str = "orders") -> str:
    return str(boto3.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["Status"])


def test_full_lifecycle_with_rolling_class_change(aurora_cfn: CloudFormation) -> None:
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, PROPS))
    assert created.status == "SUCCESS", created.reason
    assert created.physical_id == "orders"
    data = created.data
    assert (data["InstanceClass"], data["ReaderCount"], data["Paused"], data["Adopted"]) == ("db.r6g.large", "1", "false", "false")
    assert data["Endpoint.Port"] == "5432"
    assert data["ReadEndpoint.Address"] and data["Endpoint.Address"] != data["ReadEndpoint.Address"]
    assert data["ClusterArn"].endswith(":cluster:orders")
    assert data["SecretArn"].startswith("arn:aws:secretsmanager:")
    first_writer = writer()

    bigger = {**PROPS, "InstanceClass": "db.r6g.xlarge", "ReaderCount": 2}
    result = aurora_cfn.send(aurora_cfn.event("Update", TYPE, bigger, physical_id="orders", old_properties=PROPS))
    assert result.status == "SUCCESS", result.reason
    assert (result.data["InstanceClass"], result.data["ReaderCount"]) == ("db.r6g.xlarge", "2")
    # One writer of the new class, the old writer retired rather than rebooted in place.
    assert set(instances().values()) == {"db.r6g.xlarge"}
    assert len(instances()) == 3
    assert writer() != first_writer and first_writer not in instances()

    stopped = {**bigger, "Paused": True}
    result = aurora_cfn.send(aurora_cfn.event("Update", TYPE, stopped, physical_id="orders", old_properties=bigger))
    assert result.status == "SUCCESS", result.reason
    assert result.data["Paused"] == "true" and status() == "stopped"

    deleted = aurora_cfn.send(aurora_cfn.event("Delete", TYPE, stopped, physical_id="orders"))
    assert deleted.status == "SUCCESS", deleted.reason
    assert boto3.client("rds").describe_db_clusters()["DBClusters"] == []
    snapshots = boto3.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert any(s["DBClusterSnapshotIdentifier"].startswith("orders-final-") for s in snapshots)
    assert aurora_cfn.running() == []


def test_serverless_v2_range_change(aurora_cfn: CloudFormation) -> None:
    serverless = {"ClusterIdentifier": "orders", "InstanceClass": "db.serverless",
                  "ServerlessV2MinCapacity": 0.5, "ServerlessV2MaxCapacity": 4}
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, serverless))
    assert created.status == "SUCCESS", created.reason
    assert created.data["InstanceClass"] == "db.serverless"
    wider = {**serverless, "ServerlessV2MinCapacity": 0, "ServerlessV2MaxCapacity": 16}
    result = aurora_cfn.send(aurora_cfn.event("Update", TYPE, wider, physical_id="orders", old_properties=serverless))
    assert result.status == "SUCCESS", result.reason
    config = boto3.client("rds").describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]
    assert config["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.0, "MaxCapacity": 16.0}


def test_engine_change_in_place_is_rejected(aurora_cfn: CloudFormation) -> None:
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    mysql = {**PROPS, "Engine": "aurora-mysql"}
    result = aurora_cfn.send(aurora_cfn.event("Update", TYPE, mysql, physical_id="orders", old_properties=PROPS))
    assert result.status == "FAILED"
    assert result.reason.startswith("Invalid property Engine:") and "new ClusterIdentifier" in result.reason


def test_readers_down_and_settings_in_place(aurora_cfn: CloudFormation) -> None:
    three = {**PROPS, "ReaderCount": 3}
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, three)).status == "SUCCESS"
    fewer = {**three, "ReaderCount": 1, "BackupRetentionPeriod": 14}
    result = aurora_cfn.send(aurora_cfn.event("Update", TYPE, fewer, physical_id="orders", old_properties=three))
    assert result.status == "SUCCESS", result.reason
    assert len(instances()) == 2
    cluster = boto3.client("rds").describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]
    assert cluster["BackupRetentionPeriod"] == 14


def test_adopted_cluster_is_never_deleted(aurora_cfn: CloudFormation, allow_guardrails: Any) -> None:
    allow_guardrails(adopt_prefixes=["ord"], allow_unencrypted=True, allow_tls_off=True)  # a legacy cluster
    client = boto3.client("rds")
    client.create_db_cluster(DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="postgres",
                             ManageMasterUserPassword=True)
    client.create_db_instance(DBInstanceIdentifier="orders-a", DBClusterIdentifier="orders",
                              DBInstanceClass="db.r6g.large", Engine="aurora-postgresql")
    adopted = {**PROPS, "AdoptExisting": True, "ReaderCount": 0}
    result = aurora_cfn.send(aurora_cfn.event("Create", TYPE, adopted))
    assert result.status == "SUCCESS", result.reason
    assert result.data["Adopted"] == "true"
    deleted = aurora_cfn.send(aurora_cfn.event("Delete", TYPE, adopted, physical_id="orders"))
    assert deleted.status == "SUCCESS"
    assert [c["DBClusterIdentifier"] for c in client.describe_db_clusters()["DBClusters"]] == ["orders"]
