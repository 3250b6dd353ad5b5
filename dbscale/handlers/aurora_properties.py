"""Custom::AuroraCluster's properties: the schema, the checks of the optional ones, what every instance gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dbscale.cfn import Prop
from dbscale.core.aurora.settings import (
    check_auto_pause_version,
    validate_log_exports,
    validate_monitoring,
    validate_performance_insights_retention,
)
from dbscale.core.clones import parse_timestamp
from dbscale.core.engine_versions import is_major_version
from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import (
    AURORA_BACKUP_RETENTION_DAYS,
    AURORA_ENGINES,
)
from dbscale.core.validation import (
    validate_aurora_cluster,
    validate_aurora_db_name,
    validate_aurora_master_username,
    validate_auto_pause,
    validate_cluster_identifier,
    validate_db_subnet_group_name,
    validate_engine_version,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_security_group_ids,
)
from dbscale.core.windows import check_windows_apart, validate_backup_window, validate_maintenance_window

SCHEMA: tuple[Prop, ...] = (
    Prop("ClusterIdentifier", required=True),
    Prop("Engine", default="aurora-postgresql", choices=AURORA_ENGINES, immutable=True),
    Prop("EngineVersion"),
    Prop("InstanceClass", required=True),
    Prop("ServerlessV2MinCapacity", "float"),
    Prop("ServerlessV2MaxCapacity", "float"),
    Prop("ServerlessV2SecondsUntilAutoPause", "int"),
    Prop("ReaderCount", "int", default=0),
    Prop("Paused", "bool", default=False),
    Prop("DatabaseName", immutable=True),
    Prop("MasterUsername", immutable=True),
    Prop("DBSubnetGroupName", immutable=True),
    Prop("VpcSecurityGroupIds", "list"),
    Prop("DBClusterParameterGroupName"),
    Prop("StorageEncrypted", "bool", default=True, immutable=True),
    Prop("KmsKeyId", immutable=True),
    Prop("EnableIAMDatabaseAuthentication", "bool", default=False),
    Prop("EnableHttpEndpoint", "bool", default=False),
    Prop("CopyTagsToSnapshot", "bool", default=True),
    Prop(
        "BackupRetentionPeriod",
        "int",
        default=7,
        minimum=AURORA_BACKUP_RETENTION_DAYS[0],
        maximum=AURORA_BACKUP_RETENTION_DAYS[1],
    ),
    Prop("ApplyImmediately", "bool", default=True),
    Prop("SkipFinalSnapshot", "bool", default=False),
    Prop("AdoptExisting", "bool", default=False),
    Prop("WaitForCompletion", "bool", default=True),
    Prop("Autoscaled", "bool", default=False),
    Prop("Tags", "tags", default={}),
    # Parity with AWS::RDS::DBCluster (docs/aurora-properties.md).
    Prop("DeletionProtection", "bool", default=False),
    Prop("EnableCloudwatchLogsExports", "list"),
    Prop("PreferredBackupWindow"),
    Prop("PreferredMaintenanceWindow"),
    Prop("MasterUserSecretKmsKeyId"),
    # Parity with AWS::RDS::DBInstance, for every instance dbscale makes in the cluster.
    Prop("PerformanceInsightsEnabled", "bool", default=True),
    Prop("PerformanceInsightsKmsKeyId"),
    Prop("PerformanceInsightsRetentionPeriod", "int", default=7),
    Prop("MonitoringInterval", "int", default=0),
    Prop("MonitoringRoleArn"),
    Prop("DBInstanceParameterGroupName"),
    Prop("AutoMinorVersionUpgrade", "bool", default=True),
    Prop("RebootForParameterChanges", "bool", default=False),
    # Restore on Create (RestoreDBClusterFromSnapshot / RestoreDBClusterToPointInTime).
    Prop("SnapshotIdentifier", immutable=True),
    Prop("SourceDBClusterIdentifier", immutable=True),
    Prop("RestoreToTime", immutable=True),
    Prop("UseLatestRestorableTime", "bool", default=False, immutable=True),
)
# Properties -> the CreateDBInstance/ModifyDBInstance parameters every instance gets.
INSTANCE_PROPERTIES: dict[str, str] = {
    "PerformanceInsightsEnabled": "EnablePerformanceInsights",
    "PerformanceInsightsKmsKeyId": "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
    "MonitoringInterval": "MonitoringInterval",
    "MonitoringRoleArn": "MonitoringRoleArn",
    "DBInstanceParameterGroupName": "DBParameterGroupName",
    "AutoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
}
# Keys AWS takes once: a new one cannot re-encrypt what the old one protects.
KEYS_SET_ONCE = ("MasterUserSecretKmsKeyId", "PerformanceInsightsKmsKeyId")
FIELDS = {
    "engine": "Engine",
    "instance_class": "InstanceClass",
    "reader_count": "ReaderCount",
    "serverless_v2_min_acu": "ServerlessV2MinCapacity",
    "serverless_v2_max_acu": "ServerlessV2MaxCapacity",
}


def validate_snapshot_source(value: str, *, field: str) -> str:
    """A DB cluster snapshot identifier or ARN (a shared snapshot is named by its ARN)."""
    if not re.fullmatch(
        r"(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster-snapshot:)?[A-Za-z][A-Za-z0-9:-]{0,254}", value
    ):
        raise InvalidRequest(f"{field} must be a DB cluster snapshot identifier or ARN, got {value!r}", field=field)
    return value


def validate_cluster_parameter_group_name(value: str, *, field: str) -> str:
    """A cluster parameter group name, or one of AWS's default groups (``default.aurora-postgresql16``)."""
    if re.fullmatch(r"default\.aurora-(postgresql|mysql)\d+(\.\d+)?", value):
        return value
    return validate_parameter_group_name(value, field=field)


# Optional properties AWS constrains, and their checks (each names the property it reads).
OPTIONAL_CHECKS: dict[str, Callable[..., object]] = {
    "EngineVersion": validate_engine_version,
    "DBSubnetGroupName": validate_db_subnet_group_name,
    "VpcSecurityGroupIds": validate_security_group_ids,
    "DBClusterParameterGroupName": validate_cluster_parameter_group_name,
    "KmsKeyId": validate_kms_key_id,
    "MasterUserSecretKmsKeyId": validate_kms_key_id,
    "PerformanceInsightsKmsKeyId": validate_kms_key_id,
    "DBInstanceParameterGroupName": validate_parameter_group_name,
    "PreferredBackupWindow": validate_backup_window,
    "PreferredMaintenanceWindow": validate_maintenance_window,
    "SnapshotIdentifier": validate_snapshot_source,
    "SourceDBClusterIdentifier": validate_cluster_identifier,
}


def instance_settings(props: dict[str, Any]) -> dict[str, Any]:
    """The CreateDBInstance/ModifyDBInstance parameters the properties give every instance."""
    settings = {api: props[name] for name, api in INSTANCE_PROPERTIES.items() if props[name] is not None}
    if not props["PerformanceInsightsEnabled"]:
        settings.pop("PerformanceInsightsKMSKeyId", None)
        settings.pop("PerformanceInsightsRetentionPeriod", None)
    return settings


SIGNAL_ATTRIBUTES = (
    "Endpoint.Address",
    "Endpoint.Port",
    "ReadEndpoint.Address",
    "ClusterArn",
    "InstanceClass",
    "ReaderCount",
    "Paused",
    "SecretArn",
)
"""Attributes a completion signal carries, in this order (the construct reads them back by position)."""


def validate_properties(props: dict[str, Any]) -> None:
    """Check the parsed and normalized properties of a Custom::AuroraCluster without any AWS call;
    InvalidRequest names the property."""
    validate_cluster_identifier(props["ClusterIdentifier"], field="ClusterIdentifier")
    validate_aurora_cluster(
        engine=props["Engine"],
        instance_class=props["InstanceClass"],
        reader_count=props["ReaderCount"],
        serverless_v2_min_acu=props["ServerlessV2MinCapacity"],
        serverless_v2_max_acu=props["ServerlessV2MaxCapacity"],
        fields=FIELDS,
    )
    validate_auto_pause(
        props["ServerlessV2SecondsUntilAutoPause"],
        props["ServerlessV2MinCapacity"],
        field="ServerlessV2SecondsUntilAutoPause",
        min_field="ServerlessV2MinCapacity",
    )
    engine = props["Engine"]
    if props["DatabaseName"] is not None:
        validate_aurora_db_name(props["DatabaseName"], engine=engine, field="DatabaseName")
    if props["MasterUsername"] is not None:
        validate_aurora_master_username(props["MasterUsername"], engine=engine, field="MasterUsername")
    for name, check in OPTIONAL_CHECKS.items():
        if props[name] is not None:
            check(props[name], field=name)
    validate_log_exports(engine, props["EnableCloudwatchLogsExports"])
    validate_performance_insights_retention(props["PerformanceInsightsRetentionPeriod"])
    validate_monitoring(props["MonitoringInterval"], props["MonitoringRoleArn"])
    if props["PreferredBackupWindow"] and props["PreferredMaintenanceWindow"]:
        check_windows_apart(props["PreferredBackupWindow"], props["PreferredMaintenanceWindow"])
    version = props["EngineVersion"]
    if version is not None and not is_major_version(engine, version):
        check_auto_pause_version(engine, version, props["ServerlessV2MinCapacity"], field="ServerlessV2MinCapacity")
    validate_restore(props)


def validate_restore(props: dict[str, Any]) -> None:
    """The restore properties: a snapshot or a point in time of a cluster, never both."""
    snapshot, source = props["SnapshotIdentifier"], props["SourceDBClusterIdentifier"]
    if snapshot and source:
        raise InvalidRequest(
            "SnapshotIdentifier and SourceDBClusterIdentifier cannot both be set: restore from a snapshot "
            "or from a point in time of a cluster",
            field="SourceDBClusterIdentifier",
        )
    point = props["RestoreToTime"] is not None or props["UseLatestRestorableTime"]
    if point and not source:
        name = "RestoreToTime" if props["RestoreToTime"] is not None else "UseLatestRestorableTime"
        raise InvalidRequest(f"{name} needs SourceDBClusterIdentifier (the cluster to restore)", field=name)
    if source and (props["RestoreToTime"] is not None) == bool(props["UseLatestRestorableTime"]):
        raise InvalidRequest(
            "SourceDBClusterIdentifier needs exactly one of RestoreToTime (ISO-8601 UTC) and "
            "UseLatestRestorableTime true",
            field="RestoreToTime",
        )
    if props["RestoreToTime"] is not None:
        parse_timestamp(props["RestoreToTime"], field="RestoreToTime")
