"""dbscale.core.aurora.settings: AWS's rules for windows, Performance Insights, Enhanced Monitoring,
log exports and the auto-pause version floor (pure functions, no AWS)."""

from __future__ import annotations

import pytest

from dbscale.core.aurora import INSTANCE_KIND_TAG_KEYS
from dbscale.core.aurora.settings import (
    check_auto_pause_version,
    for_instance_class,
    instance_settings_differ,
    instance_settings_of,
    supports_auto_pause,
    validate_monitoring,
    validate_performance_insights_retention,
)
from dbscale.core.clones import CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY
from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import CREATED_BY_TAG_KEY
from dbscale.core.windows import check_windows_apart, validate_backup_window, validate_maintenance_window


def test_instance_kind_tags_are_the_clone_modules_own() -> None:
    assert INSTANCE_KIND_TAG_KEYS == (CREATED_BY_TAG_KEY, CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY)


@pytest.mark.parametrize(
    ("backup", "maintenance", "overlap"),
    [
        ("03:00-03:30", "sun:05:00-sun:05:30", False),
        ("03:00-03:30", "sun:03:29-sun:04:00", True),
        ("04:00-04:30", "mon:03:30-mon:04:00", False),  # touching is not overlapping
        ("23:45-00:15", "tue:00:00-tue:00:30", True),  # across midnight, every day
        ("12:00-13:00", "sat:23:50-sun:12:30", True),  # a window across days
    ],
)
def test_backup_and_maintenance_windows_must_not_overlap(backup: str, maintenance: str, overlap: bool) -> None:
    if overlap:
        with pytest.raises(InvalidRequest) as raised:
            check_windows_apart(backup, maintenance)
        assert raised.value.field == "PreferredBackupWindow"
    else:
        check_windows_apart(backup, maintenance)


@pytest.mark.parametrize("value", ["03:00-03:29", "3:00-03:30", "24:00-00:30", "03:00 - 03:30"])
def test_backup_window_format_and_length(value: str) -> None:
    with pytest.raises(InvalidRequest):
        validate_backup_window(value)


def test_maintenance_window_format_and_length() -> None:
    assert validate_maintenance_window("Sun:23:45-Mon:00:15") == (6 * 1440 + 23 * 60 + 45, 15)
    for bad in ("sun:05:00-sun:05:29", "sunday:05:00-sun:06:00", "05:00-06:00"):
        with pytest.raises(InvalidRequest):
            validate_maintenance_window(bad)


def test_performance_insights_retention_is_7_months_of_31_days_or_731() -> None:
    for good in (7, 31, 62, 713, 731):
        assert validate_performance_insights_retention(good) == good
    for bad in (0, 8, 30, 32, 744, 732):
        with pytest.raises(InvalidRequest):
            validate_performance_insights_retention(bad)


def test_monitoring_role_goes_with_an_interval_above_zero() -> None:
    role = "arn:aws:iam::123456789012:role/monitoring"
    validate_monitoring(0, None)
    validate_monitoring(60, role)
    for interval, arn, field in ((60, None, "MonitoringRoleArn"), (0, role, "MonitoringRoleArn"),
                                 (2, role, "MonitoringInterval"), (60, "role", "MonitoringRoleArn")):  # fmt: skip
        with pytest.raises(InvalidRequest) as raised:
            validate_monitoring(interval, arn)
        assert raised.value.field == field


@pytest.mark.parametrize(
    ("engine", "version", "supported"),
    [
        ("aurora-postgresql", "16.3", True),
        ("aurora-postgresql", "16.2", False),
        ("aurora-postgresql", "15.7", True),
        ("aurora-postgresql", "13.14", False),
        ("aurora-postgresql", "17.4", True),
        ("aurora-postgresql", "12.22", False),
        ("aurora-mysql", "8.0.mysql_aurora.3.08.0", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.07.1", False),
    ],
)
def test_zero_acu_needs_the_versions_aws_documents(engine: str, version: str, supported: bool) -> None:
    assert supports_auto_pause(engine, version) is supported
    if not supported:
        with pytest.raises(InvalidRequest):
            check_auto_pause_version(engine, version, 0.0, field="ServerlessV2MinCapacity")
    check_auto_pause_version(engine, version, 0.5, field="ServerlessV2MinCapacity")  # no floor above 0


def test_performance_insights_is_left_out_where_the_class_has_none() -> None:
    settings = {
        "EnablePerformanceInsights": True,
        "PerformanceInsightsRetentionPeriod": 7,
        "AutoMinorVersionUpgrade": False,
    }
    assert for_instance_class(settings, "aurora-mysql", "db.t3.medium") == {"AutoMinorVersionUpgrade": False}
    assert for_instance_class(settings, "aurora-mysql", "db.t4g.medium") == settings
    assert for_instance_class(settings, "aurora-postgresql", "db.t3.medium") == settings


def test_a_new_instance_gets_the_writers_settings_and_only_differences_are_sent() -> None:
    writer = {
        "DBInstanceClass": "db.r6g.large",
        "PerformanceInsightsEnabled": True,
        "PerformanceInsightsKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
        "PerformanceInsightsRetentionPeriod": 31,
        "MonitoringInterval": 0,
        "MonitoringRoleArn": None,
        "DBParameterGroups": [{"DBParameterGroupName": "default.aurora-postgresql16"}],
        "AutoMinorVersionUpgrade": True,
    }
    settings = instance_settings_of(writer)
    assert settings == {
        "EnablePerformanceInsights": True,
        "PerformanceInsightsKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
        "PerformanceInsightsRetentionPeriod": 31,
        "MonitoringInterval": 0,
        "AutoMinorVersionUpgrade": True,
    }
    assert instance_settings_differ(writer, settings, "aurora-postgresql") == {}
    wanted = {
        **settings,
        "PerformanceInsightsKMSKeyId": "alias/other",
        "MonitoringInterval": 60,
        "MonitoringRoleArn": "r",
    }
    # The key cannot change once set (AWS keeps it), so it is not sent again.
    assert instance_settings_differ(writer, wanted, "aurora-postgresql") == {
        "MonitoringInterval": 60,
        "MonitoringRoleArn": "r",
    }
    off = {"EnablePerformanceInsights": False, "PerformanceInsightsRetentionPeriod": 7}
    assert instance_settings_differ(writer, off, "aurora-postgresql") == {"EnablePerformanceInsights": False}


def test_a_parameter_group_another_cluster_still_uses_is_kept_not_an_error() -> None:
    """A clone runs with its source's group: the source's Delete must not fail on deleting it."""
    import boto3
    from botocore.stub import Stubber

    from dbscale.core.aurora.settings import delete_parameter_group
    from dbscale.core.errors import AwsError

    rds = boto3.client("rds", region_name="us-east-1")
    with Stubber(rds) as stub:
        stub.add_client_error("delete_db_cluster_parameter_group", "InvalidDBParameterGroupState", "in use")
        stub.add_client_error("delete_db_cluster_parameter_group", "DBParameterGroupNotFound", "gone")
        stub.add_client_error("delete_db_cluster_parameter_group", "AccessDenied", "no")
        assert delete_parameter_group(rds, "prod-dbscale-tls") is False
        assert delete_parameter_group(rds, "prod-dbscale-tls") is False
        with pytest.raises(AwsError):
            delete_parameter_group(rds, "prod-dbscale-tls")
