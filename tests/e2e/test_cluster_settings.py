"""Settings changed in place (Port, security groups, backups ...) on a paused, stopped or busy cluster:
the settings become steps of the operation (resume, wait until settled, apply, wait, pause again)."""

from __future__ import annotations

from typing import Any

import boto3

from tests.e2e.harness import CloudFormation
from tests.fakes import SlowAws

REDSHIFT = "Custom::RedshiftCluster"
AURORA = "Custom::AuroraCluster"
WAREHOUSE = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
ORDERS = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 1}


def security_group(name: str = "dbscale-e2e") -> str:
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    return str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"])


def redshift_cluster(name: str = "warehouse") -> dict:
    return boto3.client("redshift").describe_clusters(ClusterIdentifier=name)["Clusters"][0]


def aurora_cluster(name: str = "orders") -> dict:
    return boto3.client("rds").describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]


def test_settings_of_a_paused_redshift_cluster_are_applied_and_it_is_paused_again(
    redshift_cfn: CloudFormation, allow_guardrails: Any
) -> None:
    allow_guardrails(allow_public_access=True)
    paused = {**WAREHOUSE, "Paused": True}
    assert redshift_cfn.send(redshift_cfn.event("Create", REDSHIFT, paused)).status == "SUCCESS"
    group = security_group()
    changed = {**paused, "Port": 5440, "VpcSecurityGroupIds": [group], "PubliclyAccessible": True}
    result = redshift_cfn.send(
        redshift_cfn.event("Update", REDSHIFT, changed, physical_id="warehouse", old_properties=paused)
    )
    assert result.status == "SUCCESS", result.reason
    c = redshift_cluster()
    assert c["ClusterStatus"] == "paused"
    assert c["Endpoint"]["Port"] == 5440
    assert [g["VpcSecurityGroupId"] for g in c["VpcSecurityGroups"]] == [group]
    assert c["PubliclyAccessible"] is True
    assert result.data["Paused"] == "true" and result.data["Endpoint.Port"] == "5440"


def test_settings_and_a_resize_of_a_paused_redshift_cluster_resume_it_once(
    redshift_cfn: CloudFormation, provider_env: SlowAws
) -> None:
    paused = {**WAREHOUSE, "Paused": True}
    assert redshift_cfn.send(redshift_cfn.event("Create", REDSHIFT, paused)).status == "SUCCESS"
    changed = {**paused, "Port": 5440, "NumberOfNodes": 4}
    result = redshift_cfn.send(
        redshift_cfn.event("Update", REDSHIFT, changed, physical_id="warehouse", old_properties=paused)
    )
    assert result.status == "SUCCESS", result.reason
    c = redshift_cluster()
    assert (c["ClusterStatus"], c["NumberOfNodes"], c["Endpoint"]["Port"]) == ("paused", 4, 5440)
    statuses = [status for _, status in provider_env.history("warehouse")]
    # Resumed once for both changes (settings, then resize) and paused once after them.
    assert (statuses.count("resuming"), statuses.count("pausing")) == (1, 2)


def test_rollback_that_reverts_a_setting_while_a_resize_runs_succeeds(
    redshift_cfn: CloudFormation, provider_env: SlowAws
) -> None:
    provider_env.set_duration("redshift", "elastic_resize", 1800)  # outlives the 1200 s ServiceTimeout
    assert redshift_cfn.send(redshift_cfn.event("Create", REDSHIFT, WAREHOUSE)).status == "SUCCESS"
    retyped = {**WAREHOUSE, "NumberOfNodes": 4, "Port": 5440}
    failed = redshift_cfn.send(
        redshift_cfn.event(
            "Update", REDSHIFT, retyped, physical_id="warehouse", old_properties=WAREHOUSE, service_timeout=1200
        )
    )
    assert failed.status == "FAILED"
    assert redshift_cluster()["ClusterStatus"] in ("resizing", "modifying")
    # CloudFormation rolls back: an Update carrying the old properties, over the running resize.
    rollback = redshift_cfn.send(
        redshift_cfn.event("Update", REDSHIFT, WAREHOUSE, physical_id="warehouse", old_properties=retyped)
    )
    assert rollback.status == "SUCCESS", rollback.reason
    c = redshift_cluster()
    assert (c["ClusterStatus"], c["NodeType"], c["NumberOfNodes"], c["Endpoint"]["Port"]) == (
        "available",
        "ra3.xlplus",
        2,
        5439,
    )


def test_settings_of_a_stopped_aurora_cluster_are_applied_and_it_is_stopped_again(
    aurora_cfn: CloudFormation,
) -> None:
    stopped = {**ORDERS, "Paused": True}
    assert aurora_cfn.send(aurora_cfn.event("Create", AURORA, stopped)).status == "SUCCESS"
    assert aurora_cluster()["Status"] == "stopped"
    group = security_group()
    changed = {
        **stopped,
        "BackupRetentionPeriod": 14,
        "EnableIAMDatabaseAuthentication": True,
        "VpcSecurityGroupIds": [group],
    }
    result = aurora_cfn.send(aurora_cfn.event("Update", AURORA, changed, physical_id="orders", old_properties=stopped))
    assert result.status == "SUCCESS", result.reason
    c = aurora_cluster()
    assert c["Status"] == "stopped"
    assert c["BackupRetentionPeriod"] == 14
    assert c["IAMDatabaseAuthenticationEnabled"] is True
    assert [g["VpcSecurityGroupId"] for g in c["VpcSecurityGroups"]] == [group]
    assert result.data["Paused"] == "true"


def test_aurora_rollback_that_reverts_a_setting_while_the_cluster_stops_succeeds(
    aurora_cfn: CloudFormation, provider_env: SlowAws
) -> None:
    provider_env.set_duration("aurora", "stop", 900)  # outlives the 600 s ServiceTimeout
    assert aurora_cfn.send(aurora_cfn.event("Create", AURORA, ORDERS)).status == "SUCCESS"
    stopped = {**ORDERS, "Paused": True, "BackupRetentionPeriod": 14}
    failed = aurora_cfn.send(
        aurora_cfn.event("Update", AURORA, stopped, physical_id="orders", old_properties=ORDERS, service_timeout=600)
    )
    assert failed.status == "FAILED"
    assert aurora_cluster()["Status"] in ("modifying", "stopping")
    rollback = aurora_cfn.send(aurora_cfn.event("Update", AURORA, ORDERS, physical_id="orders", old_properties=stopped))
    assert rollback.status == "SUCCESS", rollback.reason
    c = aurora_cluster()
    assert (c["Status"], c["BackupRetentionPeriod"]) == ("available", 7)


def test_aurora_delete_whose_final_snapshot_name_is_taken_fails_before_deleting_instances(
    aurora_cfn: CloudFormation,
) -> None:
    from dbscale.core.clock import utc_stamp

    assert aurora_cfn.send(aurora_cfn.event("Create", AURORA, ORDERS)).status == "SUCCESS"
    rds = boto3.client("rds")
    # The name the Delete will choose, taken by a snapshot someone made in the same second.
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=f"orders-final-{utc_stamp(aurora_cfn.clock)}"
    )
    deleted = aurora_cfn.send(aurora_cfn.event("Delete", AURORA, ORDERS, physical_id="orders"))
    assert deleted.status == "FAILED"
    found = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["orders"]}])["DBInstances"]
    assert sorted(i["DBInstanceStatus"] for i in found) == ["available", "available"]
    assert "nothing was deleted" in deleted.reason
    assert aurora_cfn.running() == []
