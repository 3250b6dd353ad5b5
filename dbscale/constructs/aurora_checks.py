"""The synth-time checks of ``AuroraCluster``'s settings: each one where its values are known (a token
waits for the handler's check at deploy time), through the same ``dbscale.core`` rules the handler
applies, so both refuse the same input with the same words."""

from __future__ import annotations

from constructs import Construct

from dbscale.core.aurora.settings import validate_log_exports
from dbscale.core.validation import (
    validate_aurora_cluster,
    validate_aurora_db_name,
    validate_aurora_engine,
    validate_aurora_master_username,
    validate_auto_pause,
    validate_engine_version,
)
from dbscale.core.windows import check_windows_apart, validate_backup_window, validate_maintenance_window

from ._support import checked, unresolved


def check_shape(
    owner: Construct,
    engine: str,
    instance_class: str,
    reader_count: int,
    min_capacity: float | None,
    max_capacity: float | None,
    seconds_until_auto_pause: int | None,
) -> None:
    """Engine, instance class, readers and Serverless v2 capacity together, then the auto-pause delay."""
    if unresolved(engine, instance_class, reader_count, min_capacity, max_capacity):
        if not unresolved(engine):
            checked(owner, validate_aurora_engine, engine)
    else:
        checked(
            owner,
            validate_aurora_cluster,
            engine=engine,
            instance_class=instance_class,
            reader_count=reader_count,
            serverless_v2_min_acu=min_capacity,
            serverless_v2_max_acu=max_capacity,
            fields={
                "serverless_v2_min_acu": "serverless_v2_min_capacity",
                "serverless_v2_max_acu": "serverless_v2_max_capacity",
            },
        )
    if not unresolved(seconds_until_auto_pause, min_capacity):
        checked(
            owner,
            validate_auto_pause,
            seconds_until_auto_pause,
            min_capacity,
            min_field="serverless_v2_min_capacity",
        )


def check_names(
    owner: Construct, engine: str, engine_version: str | None, database_name: str | None, master_username: str | None
) -> None:
    """The database name and admin user (by engine) and the engine version, where given."""
    for check, value, name, kwargs in (
        (validate_aurora_db_name, database_name, "database_name", {"engine": engine}),
        (validate_aurora_master_username, master_username, "master_username", {"engine": engine}),
        (validate_engine_version, engine_version, "engine_version", {}),
    ):
        if value is not None and not unresolved(value, engine):
            checked(owner, check, value, field=name, **kwargs)


def check_log_exports(owner: Construct, engine: str, exports: list[str] | None) -> None:
    """The log types exported to CloudWatch Logs (by engine)."""
    if exports is not None and not unresolved(engine, *exports):
        checked(owner, validate_log_exports, engine, list(exports), field="cloudwatch_logs_exports")


def check_windows(owner: Construct, backup: str | None, maintenance: str | None) -> None:
    """The backup and maintenance windows, and that they do not overlap."""
    if backup is not None and not unresolved(backup):
        checked(owner, validate_backup_window, backup, field="preferred_backup_window")
    if maintenance is not None and not unresolved(maintenance):
        checked(owner, validate_maintenance_window, maintenance, field="preferred_maintenance_window")
    if backup is not None and maintenance is not None and not unresolved(backup, maintenance):
        checked(owner, check_windows_apart, backup, maintenance, field="preferred_backup_window")
