"""Aurora cluster and instance settings with AWS's own names and rules: backup and maintenance
windows, CloudWatch Logs exports, Performance Insights, Enhanced Monitoring, the auto-pause version
floor, and the cluster parameter group that makes clients use TLS.

Instance settings are ``CreateDBInstance`` / ``ModifyDBInstance`` parameters
(``EnablePerformanceInsights``, ``PerformanceInsightsKMSKeyId``, ``PerformanceInsightsRetentionPeriod``,
``MonitoringInterval``, ``MonitoringRoleArn``, ``DBParameterGroupName``, ``AutoMinorVersionUpgrade``):
dbscale gives them to every instance it makes in a cluster (writer, readers, rolling replacements).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from ..aws import aws_errors, tag_list
from ..engine_versions import major_version, parameter_group_family, version_key
from ..errors import AwsError, InvalidRequest
from ..limits import (
    AURORA_AUDIT_PARAMETERS,
    AURORA_AUTO_PAUSE_MINIMUM_VERSIONS,
    AURORA_LOG_TYPES,
    AURORA_MONITORING_INTERVALS,
    AURORA_PERFORMANCE_INSIGHTS_RETENTION_DAYS,
    AURORA_PERFORMANCE_INSIGHTS_UNSUPPORTED_CLASSES,
    AURORA_TLS_PARAMETER,
    CREATED_BY_TAG_KEY,
    CREATED_BY_TAG_VALUE,
)

LOG = logging.getLogger(__name__)

INSTANCE_SETTINGS: tuple[str, ...] = (
    "EnablePerformanceInsights",
    "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsRetentionPeriod",
    "MonitoringInterval",
    "MonitoringRoleArn",
    "DBParameterGroupName",
    "AutoMinorVersionUpgrade",
)
"""The CreateDBInstance/ModifyDBInstance parameters dbscale applies to every instance of a cluster."""

_PERFORMANCE_INSIGHTS_KEYS = frozenset(
    {"EnablePerformanceInsights", "PerformanceInsightsKMSKeyId", "PerformanceInsightsRetentionPeriod"}
)


def _parameter_group(instance: dict[str, Any]) -> str | None:
    groups = instance.get("DBParameterGroups") or []
    return groups[0].get("DBParameterGroupName") if groups else None


# How DescribeDBInstances shows each instance setting.
INSTANCE_SETTING_READERS: Mapping[str, Any] = {
    "EnablePerformanceInsights": lambda i: bool(i.get("PerformanceInsightsEnabled")),
    "PerformanceInsightsKMSKeyId": "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
    "MonitoringInterval": lambda i: i.get("MonitoringInterval", 0),
    "MonitoringRoleArn": "MonitoringRoleArn",
    "DBParameterGroupName": _parameter_group,
    "AutoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
}


def supports_performance_insights(engine: str, instance_class: str) -> bool:
    """False for the instance classes AWS documents without Performance Insights (Aurora MySQL on
    db.t2, db.t3, db.t4g.micro and db.t4g.small)."""
    return not instance_class.startswith(AURORA_PERFORMANCE_INSIGHTS_UNSUPPORTED_CLASSES.get(engine, ()))


def for_instance_class(settings: Mapping[str, Any], engine: str, instance_class: str) -> dict[str, Any]:
    """``settings`` as sent for an instance of ``instance_class``: the Performance Insights ones are
    left out (and logged) where the class does not support it, instead of failing the call."""
    if not settings.get("EnablePerformanceInsights") or supports_performance_insights(engine, instance_class):
        return dict(settings)
    LOG.warning(
        "%s %s does not support Performance Insights; the instance is created without it", engine, instance_class
    )
    return {k: v for k, v in settings.items() if k not in _PERFORMANCE_INSIGHTS_KEYS}


def instance_settings_of(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The instance settings of a described instance (to give a new instance the writer's)."""
    settings: dict[str, Any] = {}
    for key, reader in INSTANCE_SETTING_READERS.items():
        value = reader(instance) if callable(reader) else instance.get(reader)
        if value is not None and not (key == "DBParameterGroupName" and str(value).startswith("default.")):
            settings[key] = value
    if not settings.get("EnablePerformanceInsights"):
        settings = {
            k: v for k, v in settings.items() if k not in _PERFORMANCE_INSIGHTS_KEYS - {"EnablePerformanceInsights"}
        }
    if not settings.get("MonitoringInterval"):
        settings.pop("MonitoringRoleArn", None)
    return settings


def instance_settings_differ(instance: Mapping[str, Any], settings: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """The settings (as sent for this instance's class) that ``instance`` does not have yet, nor pending."""
    wanted = for_instance_class(settings, engine, str(instance.get("DBInstanceClass", "")))
    pending = instance.get("PendingModifiedValues") or {}
    differ: dict[str, Any] = {}
    for key, value in wanted.items():
        reader = INSTANCE_SETTING_READERS[key]
        current = reader(instance) if callable(reader) else instance.get(reader)
        if key == "PerformanceInsightsKMSKeyId" and current:
            continue  # AWS shows the key's ARN; the key cannot change once set anyway
        if current != value and pending.get(key) != value:
            differ[key] = value
    if "EnablePerformanceInsights" in differ and not differ["EnablePerformanceInsights"]:
        differ = {
            k: v for k, v in differ.items() if k not in _PERFORMANCE_INSIGHTS_KEYS - {"EnablePerformanceInsights"}
        }
    return differ


# --- validation (the windows: dbscale.core.windows) -------------------------------------------


def validate_log_exports(engine: str, value: list[str], *, field: str = "EnableCloudwatchLogsExports") -> list[str]:
    """Log types ``engine`` can export, each at most once."""
    allowed = AURORA_LOG_TYPES[engine]
    for item in value:
        if item not in allowed:
            raise InvalidRequest(
                f"{field} '{item}' is not a log type of {engine}; allowed: {', '.join(allowed)}", field=field
            )
    if len(set(value)) != len(value):
        raise InvalidRequest(f"{field} names a log type twice: {value}", field=field)
    return value


def validate_performance_insights_retention(value: int, *, field: str = "PerformanceInsightsRetentionPeriod") -> int:
    """7, a multiple of 31 up to 713 (months), or 731 days."""
    if value not in AURORA_PERFORMANCE_INSIGHTS_RETENTION_DAYS:
        raise InvalidRequest(
            f"{field} must be 7, a multiple of 31 from 31 to 713 (1-23 months), or 731 days, got {value}", field=field
        )
    return value


def validate_monitoring(
    interval: int, role_arn: str | None, *, fields: tuple[str, str] = ("MonitoringInterval", "MonitoringRoleArn")
) -> None:
    """An Enhanced Monitoring interval AWS offers; a role exactly when the interval is above 0."""
    if interval not in AURORA_MONITORING_INTERVALS:
        allowed = ", ".join(str(i) for i in AURORA_MONITORING_INTERVALS)
        raise InvalidRequest(f"{fields[0]} must be one of {allowed} seconds, got {interval}", field=fields[0])
    if interval and not role_arn:
        raise InvalidRequest(
            f"{fields[0]} {interval} needs {fields[1]}: a role RDS can assume (AmazonRDSEnhancedMonitoringRole)",
            field=fields[1],
        )
    if role_arn and not interval:
        raise InvalidRequest(
            f"{fields[1]} needs {fields[0]} above 0 (0 turns Enhanced Monitoring off)", field=fields[1]
        )
    if role_arn and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", role_arn):
        raise InvalidRequest(f"{fields[1]} must be an IAM role ARN, got {role_arn!r}", field=fields[1])


def supports_auto_pause(engine: str, version: str) -> bool:
    """True when ``engine`` at ``version`` (full: ``16.4``, ``8.0.mysql_aurora.3.08.0``) accepts a
    Serverless v2 minimum of 0 ACU (auto-pause). False for another engine or a version it cannot read.
    The one table: :data:`~dbscale.core.limits.AURORA_AUTO_PAUSE_MINIMUM_VERSIONS`."""
    floors = AURORA_AUTO_PAUSE_MINIMUM_VERSIONS.get(engine)
    if floors is None or not version_key(version):
        return False
    major = major_version(engine, version)
    if major in floors:
        return version_key(version) >= version_key(floors[major])
    return version_key(major) > max(version_key(m) for m in floors)


def check_auto_pause_version(engine: str, version: str | None, min_acu: float | None, *, field: str) -> None:
    """Refuse a 0-ACU minimum on an engine version that cannot auto-pause (AWS's floor per major)."""
    if min_acu != 0 or version is None:
        return
    if not supports_auto_pause(engine, version):
        floors = ", ".join(AURORA_AUTO_PAUSE_MINIMUM_VERSIONS[engine].values())
        raise InvalidRequest(
            f"{field} 0 (auto-pause) needs {engine} {floors} or later in its major; {version} starts at 0.5 ACU",
            field=field,
        )


# --- TLS: the cluster parameter group ---------------------------------------------------------


PARAMETER_GROUP_NOT_FOUND = frozenset({"DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"})
PARAMETER_GROUP_IN_USE = frozenset({"InvalidDBParameterGroupState", "InvalidDBParameterGroupStateFault"})


def delete_parameter_group(rds: Any, name: str) -> bool:
    """Delete cluster parameter group ``name``; False when it does not exist, or when another
    cluster still uses it (a clone inherits its source's group): then it is kept and logged, so the
    source's Delete never fails over a group it cannot remove."""
    try:
        with aws_errors(f"delete cluster parameter group '{name}'"):
            rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName=name)
    except AwsError as err:
        if err.code in PARAMETER_GROUP_IN_USE:
            LOG.warning("cluster parameter group %s is still used by another cluster; it is kept", name)
            return False
        if err.code not in PARAMETER_GROUP_NOT_FOUND:
            raise
        return False
    return True


def owned_parameter_group_name(cluster_id: str) -> str:
    """The cluster parameter group dbscale makes (and deletes with the cluster) when none is given."""
    return f"{cluster_id}-dbscale-tls"


def tls_required(rds: Any, group_name: str, engine: str) -> bool:
    """True when cluster parameter group ``group_name`` makes clients use TLS (every page of
    DescribeDBClusterParameters is read; a parameter it does not list has the engine's default: off).
    AWS's ``default.*`` groups leave TLS optional and cannot be changed: False without a call."""
    if group_name.startswith("default."):
        return False
    parameter, required = AURORA_TLS_PARAMETER[engine]
    with aws_errors(f"read cluster parameter group '{group_name}'"):
        pages = rds.get_paginator("describe_db_cluster_parameters").paginate(DBClusterParameterGroupName=group_name)
        for page in pages:
            for item in page["Parameters"]:
                if item.get("ParameterName") == parameter:
                    return str(item.get("ParameterValue", "")).upper() == required.upper()
    return False


def ensure_tls_parameter_group(rds: Any, name: str, engine: str, version: str | None, tags: Mapping[str, str]) -> str:
    """Create (or find, on a retry) the cluster parameter group ``name`` requiring TLS (and, for
    Aurora MySQL, audit logging so the exported audit log has content). ``version`` None: the engine's
    default version decides the family. Returns the name."""
    if version is None:
        with aws_errors(f"find the default {engine} version"):
            found = rds.describe_db_engine_versions(Engine=engine, DefaultOnly=True)["DBEngineVersions"]
        if not found:
            raise InvalidRequest(f"AWS lists no default {engine} version; set EngineVersion", field="EngineVersion")
        family = str(found[0]["DBParameterGroupFamily"])
    else:
        family = parameter_group_family(engine, version)
    try:
        with aws_errors(f"look up cluster parameter group '{name}'"):
            rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)
        exists = True
    except AwsError as err:
        if err.code not in PARAMETER_GROUP_NOT_FOUND:
            raise
        exists = False
    if not exists:
        with aws_errors(f"create cluster parameter group '{name}'"):
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=name,
                DBParameterGroupFamily=family,
                Description="dbscale: requires TLS; deleted with its cluster",
                Tags=tag_list({**tags, CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}),
            )
    parameter, value = AURORA_TLS_PARAMETER[engine]
    parameters = [(parameter, value), *AURORA_AUDIT_PARAMETERS[engine]]
    with aws_errors(f"set the parameters of cluster parameter group '{name}'"):
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            Parameters=[
                {"ParameterName": p, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for p, v in parameters
            ],
        )
    return name
