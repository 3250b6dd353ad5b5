"""Custom::AuroraCluster parity with AWS::RDS::DBCluster + AWS::RDS::DBInstance (issue 12): every
property through the real handler on moto, secure defaults, in-place updates, restores, deletion
protection and the TLS guardrail."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from tests.e2e.harness import CloudFormation
from tests.fakes.preflight import create_key, create_role

TYPE = "Custom::AuroraCluster"
PROPS: dict[str, Any] = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 1}
ROLE = "arn:aws:iam::123456789012:role/rds-monitoring"


def rds() -> Any:
    return boto3.client("rds")


def cluster(name: str = "orders") -> dict[str, Any]:
    return dict(rds().describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def instances(name: str = "orders") -> list[dict[str, Any]]:
    found = rds().describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [name]}])["DBInstances"]
    return sorted(found, key=lambda i: i["DBInstanceIdentifier"])


def tags(arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rds().list_tags_for_resource(ResourceName=arn)["TagList"]}


def parameters(group: str) -> dict[str, str]:
    """Every parameter of a cluster parameter group (all pages, as AWS lists them)."""
    pages = rds().get_paginator("describe_db_cluster_parameters").paginate(DBClusterParameterGroupName=group)
    return {p["ParameterName"]: p["ParameterValue"] for page in pages for p in page["Parameters"]}


def cluster_parameter_group(name: str, **parameters: str) -> str:
    rds().create_db_cluster_parameter_group(
        DBClusterParameterGroupName=name, DBParameterGroupFamily="aurora-postgresql16", Description=name
    )
    if parameters:
        rds().modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            Parameters=[
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"}
                for k, v in parameters.items()
            ],
        )
    return name


def update(cfn: CloudFormation, old: dict[str, Any], new: dict[str, Any], name: str = "orders") -> Any:
    return cfn.send(cfn.event("Update", TYPE, new, physical_id=name, old_properties=old))


def test_secure_defaults_tls_group_logs_backups_and_performance_insights(aurora_cfn: CloudFormation) -> None:
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, PROPS))
    assert created.status == "SUCCESS", created.reason
    c = cluster()
    # TLS: a cluster parameter group of dbscale's own, requiring it.
    assert c["DBClusterParameterGroup"] == "orders-dbscale-tls" == created.data["DBClusterParameterGroupName"]
    assert parameters("orders-dbscale-tls")["rds.force_ssl"] == "1"
    assert c["EnabledCloudwatchLogsExports"] == ["postgresql"] and c["BackupRetentionPeriod"] == 7
    assert c["DeletionProtection"] is False  # the native default; the construct follows CDK's rule
    assert len(instances()) == 2
    for instance in instances():
        assert instance["PerformanceInsightsEnabled"] is True and instance["PerformanceInsightsRetentionPeriod"] == 7
        assert instance["MonitoringInterval"] == 0 and instance["AutoMinorVersionUpgrade"] is True
        # Instances carry their cluster's kind tag, which the providers' IAM conditions read.
        assert tags(instance["DBInstanceArn"])["dbscale:created-by"] == "dbscale"
    assert created.data["PerformanceInsightsEnabled"] == "true" and created.data["PendingReboot"] == "false"

    deleted = aurora_cfn.send(aurora_cfn.event("Delete", TYPE, PROPS, physical_id="orders"))
    assert deleted.status == "SUCCESS", deleted.reason
    groups = rds().describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    assert "orders-dbscale-tls" not in [g["DBClusterParameterGroupName"] for g in groups]  # never leaked


def test_declared_settings_round_trip_and_change_in_place_on_a_stopped_cluster(aurora_cfn: CloudFormation) -> None:
    for name in ("tuned-a", "tuned-b"):
        rds().create_db_parameter_group(
            DBParameterGroupName=name, DBParameterGroupFamily="aurora-postgresql16", Description=name
        )
    for alias in ("alias/pi", "alias/secrets"):
        create_key(alias)  # the preflight reads them (and the role)
    create_role(ROLE, "monitoring.rds.amazonaws.com")
    declared = {
        **PROPS,
        "Paused": "true",
        "MonitoringInterval": "60",
        "MonitoringRoleArn": ROLE,
        "PerformanceInsightsRetentionPeriod": "31",
        "PerformanceInsightsKmsKeyId": "alias/pi",
        "PreferredBackupWindow": "03:00-03:30",
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30",
        "DBInstanceParameterGroupName": "tuned-a",
        "AutoMinorVersionUpgrade": "false",
        "EnableCloudwatchLogsExports": [],
        "MasterUserSecretKmsKeyId": "alias/secrets",
    }
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, declared))
    assert created.status == "SUCCESS", created.reason
    c = cluster()
    assert c["Status"] == "stopped"
    assert (c["PreferredBackupWindow"], c["PreferredMaintenanceWindow"]) == ("03:00-03:30", "sun:05:00-sun:05:30")
    assert c["EnabledCloudwatchLogsExports"] == []
    for instance in instances():
        assert (instance["MonitoringInterval"], instance["MonitoringRoleArn"]) == (60, ROLE)
        assert instance["PerformanceInsightsRetentionPeriod"] == 31
        assert instance["PerformanceInsightsKMSKeyId"].endswith("alias/pi")
        assert instance["DBParameterGroups"][0]["DBParameterGroupName"] == "tuned-a"
        assert instance["AutoMinorVersionUpgrade"] is False

    changed = {
        **declared,
        "PerformanceInsightsEnabled": "false",
        "MonitoringInterval": "0",
        "MonitoringRoleArn": None,
        "PreferredBackupWindow": "04:00-04:30",
        "DBInstanceParameterGroupName": "tuned-b",
        "EnableCloudwatchLogsExports": ["postgresql", "instance"],
        "DeletionProtection": "true",
        "RebootForParameterChanges": "true",
    }
    changed = {k: v for k, v in changed.items() if v is not None}
    result = update(aurora_cfn, declared, changed)
    assert result.status == "SUCCESS", result.reason
    c = cluster()
    assert c["Status"] == "stopped"  # started, changed, stopped again
    assert c["PreferredBackupWindow"] == "04:00-04:30" and c["DeletionProtection"] is True
    assert sorted(c["EnabledCloudwatchLogsExports"]) == ["instance", "postgresql"]
    for instance in instances():
        assert instance["PerformanceInsightsEnabled"] is False and instance["MonitoringInterval"] == 0
        assert instance["DBParameterGroups"][0] == {
            "DBParameterGroupName": "tuned-b",
            "ParameterApplyStatus": "in-sync",
        }
    # Asked to reboot for the static parameter group change: each instance once, readers first.
    reboots = rds_backends["123456789012"]["us-east-1"].dbscale_reboots
    assert sorted(reboots) == sorted(i["DBInstanceIdentifier"] for i in instances())
    assert reboots[-1] == next(m for m in c["DBClusterMembers"] if m["IsClusterWriter"])["DBInstanceIdentifier"]

    # A reader added later gets the declared instance settings, not AWS's defaults.
    more = {**changed, "ReaderCount": 2, "Paused": "false"}
    result = update(aurora_cfn, changed, more)
    assert result.status == "SUCCESS", result.reason
    newest = instances()[-1]
    assert len(instances()) == 3
    assert newest["PerformanceInsightsEnabled"] is False and newest["AutoMinorVersionUpgrade"] is False
    assert newest["DBParameterGroups"][0]["DBParameterGroupName"] == "tuned-b"


def test_parameter_change_without_reboot_is_left_pending_and_said(aurora_cfn: CloudFormation) -> None:
    rds().create_db_parameter_group(
        DBParameterGroupName="tuned", DBParameterGroupFamily="aurora-postgresql16", Description="t"
    )
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    result = update(aurora_cfn, PROPS, {**PROPS, "DBInstanceParameterGroupName": "tuned"})
    assert result.status == "SUCCESS", result.reason
    assert result.data["PendingReboot"] == "true"  # never rebooted silently
    assert not getattr(rds_backends["123456789012"]["us-east-1"], "dbscale_reboots", [])


def test_deletion_protection_fails_delete_with_a_way_out(aurora_cfn: CloudFormation) -> None:
    protected = {**PROPS, "DeletionProtection": "true"}
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, protected))
    assert created.status == "SUCCESS", created.reason
    assert cluster()["DeletionProtection"] is True and created.data["DeletionProtection"] == "true"
    refused = aurora_cfn.send(aurora_cfn.event("Delete", TYPE, protected, physical_id="orders"))
    assert refused.status == "FAILED"
    assert "set DeletionProtection to false and update the stack first" in refused.reason
    assert len(instances()) == 2  # nothing was deleted
    unprotected = {**PROPS, "DeletionProtection": "false"}
    assert update(aurora_cfn, protected, unprotected).status == "SUCCESS"
    deleted = aurora_cfn.send(aurora_cfn.event("Delete", TYPE, unprotected, physical_id="orders"))
    assert deleted.status == "SUCCESS", deleted.reason


def test_restores_from_a_snapshot_and_to_a_point_in_time(aurora_cfn: CloudFormation) -> None:
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, {**PROPS, "ReaderCount": 0})).status == "SUCCESS"
    rds().create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-snap")

    from_snapshot = {**PROPS, "ClusterIdentifier": "restored", "SnapshotIdentifier": "orders-snap",
                     "BackupRetentionPeriod": "14", "PreferredBackupWindow": "02:00-02:30"}  # fmt: skip
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, from_snapshot, logical_id="Restored"))
    assert created.status == "SUCCESS", created.reason
    c = cluster("restored")
    assert c["BackupRetentionPeriod"] == 14 and c["PreferredBackupWindow"] == "02:00-02:30"
    assert c["MasterUserSecret"]["SecretArn"] and c["DBClusterParameterGroup"] == "restored-dbscale-tls"
    assert len(instances("restored")) == 2 and all(i["PerformanceInsightsEnabled"] for i in instances("restored"))
    # A restore property cannot change in place.
    other = {**from_snapshot, "SnapshotIdentifier": "another-snap"}
    refused = aurora_cfn.send(
        aurora_cfn.event(
            "Update", TYPE, other, physical_id="restored", old_properties=from_snapshot, logical_id="Restored"
        )
    )
    assert refused.status == "FAILED" and "SnapshotIdentifier cannot change in place" in refused.reason

    point = {**PROPS, "ClusterIdentifier": "as-of-now", "SourceDBClusterIdentifier": "orders",
             "UseLatestRestorableTime": "true"}  # fmt: skip
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, point, logical_id="AsOfNow"))
    assert created.status == "SUCCESS", created.reason
    assert len(instances("as-of-now")) == 2


def test_tls_off_parameter_group_is_refused_unless_the_provider_allows_it(
    aurora_cfn: CloudFormation, allow_guardrails: Any
) -> None:
    plain = {**PROPS, "DBClusterParameterGroupName": cluster_parameter_group("plain")}
    refused = aurora_cfn.send(aurora_cfn.event("Create", TYPE, plain))
    assert refused.status == "FAILED"
    assert "DBClusterParameterGroupName plain" in refused.reason and "allow_tls_off" in refused.reason
    assert rds().describe_db_clusters()["DBClusters"] == []  # nothing was made

    # The TLS parameter is on the second page (AWS lists every parameter, 100 a page): all pages are read.
    first = rds().describe_db_cluster_parameters(DBClusterParameterGroupName="plain")
    assert "rds.force_ssl" not in [p["ParameterName"] for p in first["Parameters"]] and first["Marker"]
    strict = {**PROPS, "DBClusterParameterGroupName": cluster_parameter_group("strict", **{"rds.force_ssl": "1"})}
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, strict))
    assert created.status == "SUCCESS", created.reason
    assert cluster()["DBClusterParameterGroup"] == "strict"
    assert "orders-dbscale-tls" not in [
        g["DBClusterParameterGroupName"]
        for g in rds().describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    ]
    # Switching to the TLS-off group in place is refused too.
    refused = update(aurora_cfn, strict, plain)
    assert refused.status == "FAILED" and "allow_tls_off" in refused.reason

    allow_guardrails(allow_tls_off=True)
    result = update(aurora_cfn, strict, plain)
    assert result.status == "SUCCESS", result.reason
    assert cluster()["DBClusterParameterGroup"] == "plain"


def test_mysql_instance_class_without_performance_insights_is_created_without_it(aurora_cfn: CloudFormation) -> None:
    small = {"ClusterIdentifier": "shop", "Engine": "aurora-mysql", "InstanceClass": "db.t3.medium"}
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, small))
    assert created.status == "SUCCESS", created.reason
    assert created.data["PerformanceInsightsEnabled"] == "unsupported"
    assert not instances("shop")[0].get("PerformanceInsightsEnabled")
    c = cluster("shop")
    assert sorted(c["EnabledCloudwatchLogsExports"]) == ["audit", "error", "slowquery"]
    params = parameters("shop-dbscale-tls")
    assert (params["require_secure_transport"], params["server_audit_logging"]) == ("ON", "1")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"PerformanceInsightsRetentionPeriod": "8"}, "PerformanceInsightsRetentionPeriod"),
        ({"PerformanceInsightsRetentionPeriod": "seven"}, "PerformanceInsightsRetentionPeriod"),
        ({"MonitoringInterval": "2", "MonitoringRoleArn": ROLE}, "MonitoringInterval"),
        ({"MonitoringInterval": "60"}, "MonitoringRoleArn"),
        ({"PerformanceInsightsEnabled": "maybe"}, "PerformanceInsightsEnabled"),
        ({"PreferredBackupWindow": "3:00-03:30"}, "PreferredBackupWindow"),
        ({"PreferredBackupWindow": "03:00-03:20"}, "PreferredBackupWindow"),
        ({"PreferredMaintenanceWindow": "sun:05:00-sun:05:10"}, "PreferredMaintenanceWindow"),
        (
            {"PreferredMaintenanceWindow": "sun:03:00-sun:04:00", "PreferredBackupWindow": "03:30-04:30"},
            "PreferredBackupWindow",
        ),
        ({"EnableCloudwatchLogsExports": ["audit"]}, "EnableCloudwatchLogsExports"),
        ({"SnapshotIdentifier": "s", "SourceDBClusterIdentifier": "src"}, "SourceDBClusterIdentifier"),
        ({"RestoreToTime": "2025-01-15T10:00:00Z"}, "RestoreToTime"),
        ({"SourceDBClusterIdentifier": "src"}, "RestoreToTime"),
        (
            {
                "SourceDBClusterIdentifier": "src",
                "UseLatestRestorableTime": "true",
                "RestoreToTime": "2025-01-15T10:00:00Z",
            },
            "RestoreToTime",
        ),
        (
            {
                "InstanceClass": "db.serverless",
                "ServerlessV2MinCapacity": "0",
                "ServerlessV2MaxCapacity": "4",
                "EngineVersion": "16.2",
            },
            "ServerlessV2MinCapacity",
        ),  # fmt: skip
        (
            {
                "InstanceClass": "db.serverless",
                "ServerlessV2MinCapacity": "0.5",
                "ServerlessV2MaxCapacity": "4",
                "ServerlessV2SecondsUntilAutoPause": "600",
            },
            "ServerlessV2SecondsUntilAutoPause",
        ),  # fmt: skip
    ],
)
def test_bad_values_are_refused_naming_the_property_with_nothing_made(
    aurora_cfn: CloudFormation, extra: dict[str, Any], named: str
) -> None:
    refused = aurora_cfn.send(aurora_cfn.event("Create", TYPE, {**PROPS, **extra}))
    assert refused.status == "FAILED"
    assert named in refused.reason
    assert rds().describe_db_clusters()["DBClusters"] == []
    assert rds().describe_db_cluster_parameter_groups()["DBClusterParameterGroups"] == []


def test_auto_pause_at_zero_acu_on_a_version_that_supports_it(aurora_cfn: CloudFormation) -> None:
    serverless = {**PROPS, "InstanceClass": "db.serverless", "ServerlessV2MinCapacity": "0",
                  "ServerlessV2MaxCapacity": "4", "ServerlessV2SecondsUntilAutoPause": "600", "EngineVersion": "16"}  # fmt: skip
    created = aurora_cfn.send(aurora_cfn.event("Create", TYPE, serverless))
    assert created.status == "SUCCESS", created.reason
    assert cluster()["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 600


def test_unencrypted_restore_source_needs_a_key(aurora_cfn: CloudFormation, allow_guardrails: Any) -> None:
    allow_guardrails(allow_unencrypted=True)
    plain = {**PROPS, "ReaderCount": 0, "StorageEncrypted": "false"}
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, plain)).status == "SUCCESS"
    rds().create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="plain-snap")
    copy = {**PROPS, "ClusterIdentifier": "copy", "SnapshotIdentifier": "plain-snap"}
    refused = aurora_cfn.send(aurora_cfn.event("Create", TYPE, copy, logical_id="Copy"))
    assert refused.status == "FAILED" and "SnapshotIdentifier 'plain-snap' is not encrypted" in refused.reason
    groups = [
        g["DBClusterParameterGroupName"]
        for g in rds().describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    ]
    assert "copy-dbscale-tls" not in groups  # nothing made, nothing left behind


def test_tls_off_as_the_default_group_needs_the_guardrail(aurora_cfn: CloudFormation, allow_guardrails: Any) -> None:
    default = {**PROPS, "DBClusterParameterGroupName": "default.aurora-postgresql16"}
    refused = aurora_cfn.send(aurora_cfn.event("Create", TYPE, default))
    assert refused.status == "FAILED" and "allow_tls_off" in refused.reason


def test_a_key_set_once_cannot_change(aurora_cfn: CloudFormation) -> None:
    create_key("alias/pi")
    keyed = {**PROPS, "PerformanceInsightsKmsKeyId": "alias/pi"}
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, keyed)).status == "SUCCESS"
    refused = update(aurora_cfn, keyed, {**keyed, "PerformanceInsightsKmsKeyId": "alias/other"})
    assert refused.status == "FAILED" and "PerformanceInsightsKmsKeyId cannot change in place" in refused.reason


def test_the_new_writer_of_a_rolling_class_change_gets_the_instance_settings(aurora_cfn: CloudFormation) -> None:
    tuned = {**PROPS, "ReaderCount": 0, "AutoMinorVersionUpgrade": "false", "PerformanceInsightsRetentionPeriod": "31"}
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, tuned)).status == "SUCCESS"
    (first,) = instances()
    bigger = {**tuned, "InstanceClass": "db.r6g.xlarge"}
    result = update(aurora_cfn, tuned, bigger)
    assert result.status == "SUCCESS", result.reason
    (writer,) = instances()
    assert writer["DBInstanceIdentifier"] != first["DBInstanceIdentifier"]  # replaced, not rebooted
    assert writer["DBInstanceClass"] == "db.r6g.xlarge" and writer["AutoMinorVersionUpgrade"] is False
    assert writer["PerformanceInsightsRetentionPeriod"] == 31
    assert tags(writer["DBInstanceArn"])["dbscale:created-by"] == "dbscale"


def test_removing_a_named_group_returns_to_dbscales_tls_group_deleted_with_the_cluster(
    aurora_cfn: CloudFormation,
) -> None:
    strict = {
        **PROPS,
        "ReaderCount": 0,
        "DBClusterParameterGroupName": cluster_parameter_group("strict", **{"rds.force_ssl": "1"}),
    }
    assert aurora_cfn.send(aurora_cfn.event("Create", TYPE, strict)).status == "SUCCESS"
    default = {k: v for k, v in strict.items() if k != "DBClusterParameterGroupName"}
    result = update(aurora_cfn, strict, default)
    assert result.status == "SUCCESS", result.reason
    assert cluster()["DBClusterParameterGroup"] == "orders-dbscale-tls"
    assert aurora_cfn.send(aurora_cfn.event("Delete", TYPE, default, physical_id="orders")).status == "SUCCESS"
    names = [
        g["DBClusterParameterGroupName"]
        for g in rds().describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    ]
    assert names == ["strict"]  # dbscale's own group went with the cluster; the template's stays
